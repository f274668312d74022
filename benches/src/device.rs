//! One simulated device: a real enrollment over HTTPS with the sans-IO ACME client, exactly as
//! `lantrust-device enroll` does it (fresh P-384 account key, fresh P-384 device key and CSR from
//! `lantrust-csr`'s builder, http-01), then a check of what came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use der::oid::AssociatedOid;
use der::{Decode, Encode};
use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, ChallengeType, Identifier, Method};
use lantrust_cli::ResolveOverride;
use lantrust_csr::{CsrBuilder, KeyAlgorithm};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::http01::Responder;

/// Where the devices enroll.
#[derive(Clone, Debug)]
pub struct Target {
    /// `https://…/acme/directory`.
    pub directory_url: String,
    /// The server's root certificate(s), DER: trusted for HTTPS and required at the top of
    /// every issued chain.
    pub roots: Vec<Vec<u8>>,
    /// `--resolve` overrides for the server's host name.
    pub overrides: Vec<ResolveOverride>,
    /// The local domain configured on the server (devices get `<id>.local` and `<id>.<domain>`).
    pub domain: String,
}

/// Per-device client behaviour.
#[derive(Clone, Copy, Debug)]
pub struct DeviceOptions {
    /// Longest wait honoured between polls (the server's `Retry-After` is capped at this).
    pub max_poll_interval: Duration,
    /// Give up on one enrollment after this long.
    pub timeout: Duration,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            max_poll_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
        }
    }
}

/// A successful, checked enrollment.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// The device ID (`<prefix><index>`).
    pub device_id: String,
    /// From the first key generation to the verified chain.
    pub latency: Duration,
    /// HTTP requests sent (GET, HEAD and POST).
    pub requests: u32,
    /// JWS-signed requests (POST), each one client sign and one server verify.
    pub signed_requests: u32,
    /// Times the client slept before polling again (`Retry-After`).
    pub waits: u32,
    /// The leaf's serial number, lowercase hex of its DER content octets.
    pub serial_hex: String,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A ureq agent with its own TLS configuration (no session cache shared between simulated
/// devices) trusting exactly `target.roots`; its connection pool gives each device HTTP
/// keep-alive across its requests.
///
/// # Errors
/// When a root cannot be parsed.
pub fn agent(target: &Target) -> anyhow::Result<ureq::Agent> {
    let cfg = lantrust_cli::tls::client_config(&target.roots)?;
    let overrides = target.overrides.clone();
    Ok(ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .timeout(Duration::from_secs(60))
        .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
            let (host, port) = match netloc.rsplit_once(':') {
                Some((h, p)) => (h.trim_matches(['[', ']']), p.parse().unwrap_or(443)),
                None => (netloc, 443),
            };
            lantrust_cli::tls::resolve(host, port, &overrides)
        })
        .build())
}

pub use lantrust_cli::acme_http::exchange;

/// Withdraws a device's tokens from the shared responder however the enrollment ends.
struct Published<'a> {
    responder: &'a Responder,
    tokens: Vec<String>,
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.responder.withdraw(t);
        }
    }
}

/// Enrolls device `device_id` against `target` and checks the result: the chain must validate
/// (rustls-webpki, with the root's name constraints) to one of `target.roots` for
/// `<id>.local`; the leaf must carry exactly the requested names, `CN=<id>` and the device's
/// own public key.
///
/// # Errors
/// Any transport error, ACME problem, timeout or failed check, with context.
pub fn enroll(
    device_id: &str,
    target: &Target,
    responder: &Responder,
    opts: &DeviceOptions,
) -> anyhow::Result<Enrollment> {
    let start = Instant::now();
    let mut rng = rand::rngs::OsRng;
    let account = AccountKey::generate(Algorithm::Es384, &mut rng)
        .map_err(|e| anyhow::anyhow!("generating the account key: {e}"))?;
    let builder = CsrBuilder::new(device_id, [target.domain.clone()]).algorithm(KeyAlgorithm::P384);
    let names = builder.dns_names();
    let built = builder
        .build(&mut rng)
        .map_err(|e| anyhow::anyhow!("building the CSR: {e}"))?;
    let device_spki = built
        .key()
        .public_key_info()
        .to_der()
        .context("encoding the device key")?;
    let (_key, csr_der) = built.into_parts();

    let mut cfg = ClientConfig::new(&target.directory_url);
    // §3.4.2: https: contacts, one per name (as lantrust-device does).
    cfg.contact = lantrust_acme::https_contacts(names.iter().map(String::as_str));
    cfg.default_poll_interval = opts.max_poll_interval.min(Duration::from_secs(1));
    cfg.max_poll_interval = opts.max_poll_interval;
    cfg.max_polls = 100_000;
    let op = Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der,
        replaces: None,
    };
    let mut client = Client::new(cfg, account, op);
    let agent = agent(target)?;
    let mut published = Published {
        responder,
        tokens: Vec::new(),
    };
    let (mut requests, mut signed, mut waits) = (0u32, 0u32, 0u32);
    let mut chain = None;
    loop {
        if start.elapsed() > opts.timeout {
            bail!(
                "{device_id}: no certificate after {:?} ({requests} requests)",
                opts.timeout
            );
        }
        if let Some(req) = client.poll_request() {
            requests += 1;
            if req.method == Method::Post {
                signed += 1;
            }
            let resp = exchange(&agent, &req).with_context(|| device_id.to_string())?;
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::ServeChallenges(list) => {
                    for c in &list {
                        ensure!(
                            c.kind == ChallengeType::Http01,
                            "{device_id}: the server offered {:?}, this generator serves http-01 only",
                            c.kind
                        );
                        responder.publish(&c.token, &c.value);
                        published.tokens.push(c.token.clone());
                    }
                    client.challenges_ready();
                }
                Event::Certificate(c) => chain = Some(c.pem),
                Event::Failed(e) => bail!("{device_id}: ACME failed: {e}"),
                _ => {}
            }
        }
        if client.is_done() {
            break;
        }
        if let Some(at) = client.poll_timeout() {
            waits += 1;
            std::thread::sleep(at.saturating_sub(now()));
            client.handle_timeout(now());
        }
    }
    drop(published);
    let pem = chain.with_context(|| format!("{device_id}: finished without a certificate"))?;
    let serial_hex = check_chain(device_id, &names, &device_spki, &pem, &target.roots)?;
    Ok(Enrollment {
        device_id: device_id.to_string(),
        latency: start.elapsed(),
        requests,
        signed_requests: signed,
        waits,
        serial_hex,
    })
}

/// Checks an issued chain (PEM, leaf first) for device `device_id`; returns the leaf's serial
/// in hex.
///
/// # Errors
/// When the chain does not validate to `roots` for `<id>.local`, or the leaf's subject, names
/// or key differ from what the device asked for.
pub fn check_chain(
    device_id: &str,
    names: &[String],
    device_spki_der: &[u8],
    pem: &str,
    roots: &[Vec<u8>],
) -> anyhow::Result<String> {
    let ders = lantrust_cli::pem_certs(pem.as_bytes())
        .with_context(|| format!("{device_id}: the issued chain"))?;
    let host = format!("{device_id}.local");
    lantrust_cli::tls::chain_root(&ders, roots, &host).with_context(|| {
        format!("{device_id}: the issued chain does not validate to the server's root for {host}")
    })?;
    let leaf_der = ders.first().context("empty chain")?;
    let leaf = Certificate::from_der(leaf_der)
        .with_context(|| format!("{device_id}: the leaf is not a certificate"))?;
    let tbs = &leaf.tbs_certificate;
    let subject = tbs.subject.to_string();
    ensure!(
        subject == format!("CN={device_id}"),
        "{device_id}: the leaf's subject is {subject:?}, expected CN={device_id}"
    );
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .context("encoding the leaf's key")?;
    ensure!(
        spki == device_spki_der,
        "{device_id}: the leaf certifies another key than the device's"
    );
    let mut sans = Vec::new();
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == SubjectAltName::OID {
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                .with_context(|| format!("{device_id}: unreadable subjectAltName"))?;
            for n in san.0 {
                match n {
                    GeneralName::DnsName(d) => sans.push(d.as_str().to_string()),
                    other => bail!("{device_id}: unexpected subjectAltName {other:?}"),
                }
            }
        }
    }
    ensure!(
        sans == names,
        "{device_id}: the leaf names {sans:?}, the device asked for {names:?}"
    );
    Ok(hex::encode(tbs.serial_number.as_bytes()))
}
