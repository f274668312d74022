//! Drive lantrust-acme's sans-IO client over real HTTPS (ureq + rustls with the ring provider),
//! serving its challenges through an [`http01`](crate::http01) responder. Feature `acme`.
//!
//! Every call comes in two forms: the plain one panics on a transport error (refused connection,
//! TLS failure), the `try_` one returns it, for tests that kill the server on purpose and retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lantrust_acme::client::{ChallengeToServe, Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier, Request, Response};
use rustls::pki_types::pem::PemObject;

use crate::http01::Tokens;
use crate::now;

/// The DER of the first certificate in `pem` (a root as `lantrust-server init` writes it).
pub fn certificate_der_from_pem(pem: &str) -> Vec<u8> {
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap_or_else(|| panic!("no CERTIFICATE block in the PEM given as a trust anchor"))
        .unwrap_or_else(|e| panic!("the trust anchor PEM is damaged: {e}"))
        .to_vec()
}

/// A rustls client configuration (ring provider, TLS 1.2 and 1.3) that trusts only the
/// certificate `root_der`, for tests that speak TLS over their own sockets.
pub fn tls_config(root_der: Vec<u8>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(root_der))
        .unwrap_or_else(|e| panic!("the trust anchor is not a usable certificate: {e}"));
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("rustls ring provider without TLS 1.2/1.3: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// The timeouts of an [`agent_with`] agent.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// How long connecting may take; `None` leaves it to the overall timeout.
    pub connect: Option<Duration>,
    /// How long a whole request may take.
    pub overall: Duration,
}

impl Default for Timeouts {
    /// No separate connect timeout, 30 s per request (what [`agent`] uses).
    fn default() -> Self {
        Self {
            connect: None,
            overall: Duration::from_secs(30),
        }
    }
}

/// A ureq agent (30 s timeout) whose TLS trusts only the certificate `root_der`.
pub fn agent(root_der: Vec<u8>) -> ureq::Agent {
    agent_with(root_der, Timeouts::default())
}

/// A ureq agent with `timeouts` whose TLS trusts only the certificate `root_der` (a test that
/// kills its server wants a short connect timeout, so that a retry comes soon).
pub fn agent_with(root_der: Vec<u8>, timeouts: Timeouts) -> ureq::Agent {
    let mut b = ureq::AgentBuilder::new()
        .tls_config(tls_config(root_der))
        .timeout(timeouts.overall);
    if let Some(connect) = timeouts.connect {
        b = b.timeout_connect(connect);
    }
    b.build()
}

pub use lantrust_cli::acme_http::Answer;

/// Status, headers (names lower-cased) and body of a ureq call, 4xx/5xx included; a transport
/// error (refused connection, TLS failure) is a panic.
pub fn call(result: Result<ureq::Response, ureq::Error>) -> Answer {
    try_call(result).unwrap_or_else(|e| panic!("{e}"))
}

/// [`call`], with a transport error (or a body cut short) returned as its message.
pub fn try_call(result: Result<ureq::Response, ureq::Error>) -> Result<Answer, String> {
    lantrust_cli::acme_http::read_answer(result, u64::MAX, "HTTP call")
        .map_err(|e| format!("{e:#}"))
}

/// The first value of header `name` (give it lower-case, as [`call`] returns them).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Sends one of the client's requests and converts the answer (4xx/5xx included) into its
/// [`Response`]; a transport error is a panic.
pub fn exchange(agent: &ureq::Agent, req: &Request) -> Response {
    try_exchange(agent, req).unwrap_or_else(|e| panic!("{e}"))
}

/// [`exchange`], with a transport error (the server died, say) returned as its message.
pub fn try_exchange(agent: &ureq::Agent, req: &Request) -> Result<Response, String> {
    lantrust_cli::acme_http::exchange(agent, req).map_err(|e| format!("{e:#}"))
}

/// What [`drive`] saw.
#[derive(Debug)]
pub struct Driven {
    /// Every event the client emitted, in order.
    pub events: Vec<Event>,
    /// How many `badNonce` problems the server answered (and the client absorbed).
    pub bad_nonces: u32,
}

impl Driven {
    /// The failure the client reported, if any.
    pub fn failure(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Failed(err) => Some(err.to_string()),
            _ => None,
        })
    }
}

/// Runs `client` to completion (or failure) against the server over `agent`, putting the
/// challenges it asks for into `tokens` (see [`crate::http01`]) before telling it they are
/// ready. Sleeps until the client's timeouts, at most 500 ms at a time. Not finishing within
/// `limit` is a panic, and so is a transport error.
pub fn drive(client: &mut Client, agent: &ureq::Agent, tokens: &Tokens, limit: Duration) -> Driven {
    try_drive(client, agent, tokens, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// [`drive`], stopping at the first transport error (the server was killed, say) and returning
/// it; the caller may start a new client and retry.
pub fn try_drive(
    client: &mut Client,
    agent: &ureq::Agent,
    tokens: &Tokens,
    limit: Duration,
) -> Result<Driven, String> {
    let mut events = Vec::new();
    let mut bad_nonces = 0;
    let deadline = Instant::now() + limit;
    while !client.is_done() {
        assert!(
            Instant::now() < deadline,
            "client did not finish within {limit:?}: {client:?}"
        );
        if let Some(req) = client.poll_request() {
            let resp = try_exchange(agent, &req)?;
            if resp.status == 400 && String::from_utf8_lossy(&resp.body).contains("badNonce") {
                bad_nonces += 1;
            }
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            if let Event::ServeChallenges(list) = &ev {
                let mut t = tokens
                    .lock()
                    .unwrap_or_else(|e| panic!("http-01 token table poisoned: {e}"));
                for ChallengeToServe { token, value, .. } in list {
                    t.insert(token.clone(), value.clone());
                }
                drop(t);
                client.challenges_ready();
            }
            events.push(ev);
        }
        if let Some(at) = client.poll_timeout() {
            let n = now();
            if at > n {
                std::thread::sleep((at - n).min(Duration::from_millis(500)));
            }
            client.handle_timeout(now());
        }
    }
    events.extend(core::iter::from_fn(|| client.poll_event()));
    Ok(Driven { events, bad_nonces })
}

/// What a lantrust device orders: a certificate for `<device>.local` and `<device>.home.arpa`
/// (the names `lantrust-csr` gives a device in `home.arpa`), with the CSR of a fresh key.
#[derive(Debug, Clone)]
pub struct DeviceOrder {
    /// The identifiers of the order, one per name of the CSR.
    pub identifiers: Vec<Identifier>,
    /// The CSR (DER).
    pub csr_der: Vec<u8>,
}

impl DeviceOrder {
    /// A fresh key and its CSR for device `device` in `home.arpa`.
    pub fn new(device: &str) -> Self {
        let builder = lantrust_csr::CsrBuilder::new(device, ["home.arpa"]);
        let identifiers = builder
            .dns_names()
            .iter()
            .map(|n| Identifier::dns(n))
            .collect();
        let csr_der = builder
            .build(&mut rand::rngs::OsRng)
            .unwrap_or_else(|e| panic!("cannot build a CSR for device {device:?}: {e}"))
            .der()
            .to_vec();
        Self {
            identifiers,
            csr_der,
        }
    }

    /// The client operation that issues this order's certificate (a first issuance).
    pub fn issue(&self) -> Operation {
        Operation::Issue {
            identifiers: self.identifiers.clone(),
            csr_der: self.csr_der.clone(),
            replaces: None,
        }
    }
}

/// A client for device `device` against the ACME directory `directory`: a fresh ES384 account,
/// polling every 200 ms, issuing a [`DeviceOrder`].
pub fn device_client(directory: &str, device: &str) -> Client {
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng)
        .unwrap_or_else(|e| panic!("cannot generate an ES384 account key: {e}"));
    let mut cfg = ClientConfig::new(directory);
    cfg.default_poll_interval = Duration::from_millis(200);
    Client::new(cfg, key, DeviceOrder::new(device).issue())
}
