//! HTTPS with rustls (ring): agents trusting a given root, `--resolve` overrides, and the TOFU
//! fetch of `/roots.pem` (§3.5, §3.6) that captures the chain the server presented.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::discover::url_host_port;

/// `--resolve NAME=IP:PORT`: connect to `addr` whenever `name` is asked for (any port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveOverride {
    /// Host name.
    pub name: String,
    /// Where to connect instead.
    pub addr: SocketAddr,
}

impl core::str::FromStr for ResolveOverride {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected NAME=IP:PORT"))?;
        let addr = addr
            .parse()
            .map_err(|e| format!("{s:?}: {addr:?} is not IP:PORT ({e})"))?;
        Ok(ResolveOverride {
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            addr,
        })
    }
}

/// Resolves `host:port` through the overrides, else mDNS for `.local` names, else the system
/// resolver.
///
/// # Errors
/// When the system resolver fails.
pub fn resolve(
    host: &str,
    port: u16,
    overrides: &[ResolveOverride],
) -> std::io::Result<Vec<SocketAddr>> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(o) = overrides.iter().find(|o| o.name == h) {
        return Ok(vec![o.addr]);
    }
    if let Ok(ip) = h.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // RFC 6762 §3: `.local` names are resolved by multicast DNS; the system resolver (which
    // may have nss-mdns) only when no responder answered.
    if crate::mdns::is_local(&h) {
        if let Ok(addrs) = crate::mdns::resolve_v4(&h, Duration::from_secs(3)) {
            return Ok(addrs
                .into_iter()
                .map(|a| SocketAddr::new(a.into(), port))
                .collect());
        }
    }
    Ok((h.as_str(), port).to_socket_addrs()?.collect())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client config trusting exactly `roots` (DER).
///
/// # Errors
/// When a root cannot be parsed.
pub fn client_config(roots: &[Vec<u8>]) -> anyhow::Result<rustls::ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store
            .add(CertificateDer::from(r.clone()))
            .context("adding a trust anchor")?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// A ureq agent trusting exactly `roots`, resolving through `overrides`.
///
/// # Errors
/// When a root cannot be parsed.
pub fn agent(roots: &[Vec<u8>], overrides: &[ResolveOverride]) -> anyhow::Result<ureq::Agent> {
    Ok(agent_with(Arc::new(client_config(roots)?), overrides))
}

fn agent_with(cfg: Arc<rustls::ClientConfig>, overrides: &[ResolveOverride]) -> ureq::Agent {
    let overrides = overrides.to_vec();
    ureq::AgentBuilder::new()
        .tls_config(cfg)
        .timeout(Duration::from_secs(30))
        .resolver(move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
            let (host, port) = match netloc.rsplit_once(':') {
                Some((h, p)) => (h.trim_matches(['[', ']']), p.parse().unwrap_or(443)),
                None => (netloc, 443),
            };
            resolve(host, port, &overrides)
        })
        .build()
}

/// Accepts any chain but records it; the handshake signature is still checked against the
/// presented leaf, so the peer proved it holds that leaf's key. Trust is decided afterwards.
#[derive(Debug)]
struct Capture {
    chain: Mutex<Vec<Vec<u8>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = chain;
        }
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn capture_config() -> anyhow::Result<(Arc<rustls::ClientConfig>, Arc<Capture>)> {
    let capture = Arc::new(Capture {
        chain: Mutex::new(Vec::new()),
        provider: provider(),
    });
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    Ok((Arc::new(cfg), capture))
}

/// What a TOFU fetch of `/roots.pem` returned.
#[derive(Clone, Debug)]
pub struct TofuRoots {
    /// Every certificate in `/roots.pem`, DER.
    pub roots: Vec<Vec<u8>>,
    /// The root (from `roots`) that the presented chain verifies to.
    pub root: Vec<u8>,
    /// The chain the server presented (leaf first), DER.
    pub presented: Vec<Vec<u8>>,
}

/// `https://host:port/roots.pem` for a directory URL.
///
/// # Errors
/// When the URL is not `https://host[:port]/…`.
pub fn roots_url(directory_url: &str) -> anyhow::Result<String> {
    let rest = directory_url
        .strip_prefix("https://")
        .with_context(|| format!("{directory_url:?} is not an https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or("");
    Ok(format!("https://{authority}/roots.pem"))
}

/// Trust on first use (§3.5, §3.6): fetch `/roots.pem` from the server at `directory_url`
/// without trusting anything yet, capturing the chain the server presented; then require that
/// chain to verify, for the URL's host name, to one of the fetched roots. (The root's own SANs
/// against the discovered name are checked by `lantrust-pin` when the root is pinned.)
///
/// # Errors
/// Transport errors, a non-200 answer, a `roots.pem` without certificates, or a presented chain
/// that none of the fetched roots validates for the host.
pub fn tofu_fetch_roots(
    directory_url: &str,
    overrides: &[ResolveOverride],
) -> anyhow::Result<TofuRoots> {
    let url = roots_url(directory_url)?;
    let (host, _) = url_host_port(directory_url)?;
    let (cfg, capture) = capture_config()?;
    let agent = agent_with(cfg, overrides);
    let resp = agent
        .get(&url)
        .call()
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
    let mut body = Vec::new();
    resp.into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {url}"))?;
    let roots =
        crate::pem_certs(&body).with_context(|| format!("{url} returned no certificates"))?;
    let presented = capture.chain.lock().map(|c| c.clone()).unwrap_or_default();
    ensure!(
        !presented.is_empty(),
        "{url}: the server presented no certificate"
    );
    let root = chain_root(&presented, &roots, &host).with_context(|| {
        format!("{url}: the server's certificate does not chain to the root it serves")
    })?;
    Ok(TofuRoots {
        roots,
        root,
        presented,
    })
}

/// The first of `roots` under which `chain` verifies as a TLS server certificate for `host`.
///
/// # Errors
/// When none does; the message has the last verifier error.
pub fn chain_root(chain: &[Vec<u8>], roots: &[Vec<u8>], host: &str) -> anyhow::Result<Vec<u8>> {
    let (leaf, inter) = chain.split_first().context("empty chain")?;
    let leaf = CertificateDer::from(leaf.clone());
    let inter: Vec<CertificateDer<'_>> = inter
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| anyhow::anyhow!("{host:?}: {e}"))?;
    let mut last = None;
    for root in roots {
        let mut store = RootCertStore::empty();
        if store.add(CertificateDer::from(root.clone())).is_err() {
            continue;
        }
        let v = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider()).build()?;
        match v.verify_server_cert(&leaf, &inter, &name, &[], UnixTime::now()) {
            Ok(_) => return Ok(root.clone()),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => bail!("{e}"),
        None => bail!("no usable root"),
    }
}

/// Opens a TLS connection to `host:port` (through `overrides`) and returns the chain the peer
/// presented, after the peer proved possession of the leaf's key in the handshake. Trust is the
/// caller's decision (the client's scoped verifier).
///
/// # Errors
/// Connection or handshake failure.
pub fn handshake_capture(
    host: &str,
    port: u16,
    overrides: &[ResolveOverride],
) -> anyhow::Result<Vec<Vec<u8>>> {
    let (cfg, capture) = capture_config()?;
    let addrs = resolve(host, port, overrides).with_context(|| format!("resolving {host}"))?;
    let addr = addrs
        .first()
        .with_context(|| format!("{host} has no address"))?;
    let mut sock = TcpStream::connect_timeout(addr, Duration::from_secs(10))
        .with_context(|| format!("connecting to {addr}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| anyhow::anyhow!("{host:?}: {e}"))?;
    let mut conn = rustls::ClientConnection::new(cfg, name)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .with_context(|| format!("TLS handshake with {host} ({addr})"))?;
    }
    let chain = capture.chain.lock().map(|c| c.clone()).unwrap_or_default();
    ensure!(!chain.is_empty(), "{host} presented no certificate");
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_override_parsing() {
        let o: ResolveOverride = "Dev.Local.=127.0.0.1:8443".parse().unwrap();
        assert_eq!(o.name, "dev.local");
        assert_eq!(
            resolve("DEV.local", 1, core::slice::from_ref(&o)).unwrap(),
            vec![o.addr]
        );
        assert_eq!(
            resolve("10.0.0.1", 7, &[o]).unwrap(),
            vec!["10.0.0.1:7".parse().unwrap()]
        );
        assert!("x".parse::<ResolveOverride>().is_err());
        assert!("x=1.2.3.4".parse::<ResolveOverride>().is_err());
    }

    #[test]
    fn roots_url_from_directory() {
        assert_eq!(
            roots_url("https://acme.local:8443/acme/directory").unwrap(),
            "https://acme.local:8443/roots.pem"
        );
        assert!(roots_url("http://x/").is_err());
    }
}
