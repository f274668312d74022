//! Challenge validation toward devices (RFC 8555 §8.3 http-01, RFC 8737 tls-alpn-01, with RFC 8738
//! §6 for IP identifiers): the I/O half of the core's [`Validation`]s. http-01 runs on hyper's
//! HTTP/1.1 client, tls-alpn-01 on tokio-rustls; the result goes back to the service.

// Problem documents are the natural error value of the validators (as in lantrust-acme's core).
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use lantrust_acme::server::Validation;
use lantrust_acme::{ChallengeType, Problem, ProblemType};
use tokio::net::TcpStream;

use crate::service::AcmeService;
use crate::store;

/// How long a challenge POST waits for the validation it started before answering
/// `processing` (issue 18, time to certificate): long enough for a device on the LAN (a few
/// milliseconds to a few hundred), short enough that no client's HTTP timeout comes near.
pub(crate) const INLINE_VALIDATION: Duration = Duration::from_secs(2);

/// Where devices are reached for validation.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    /// `--resolve NAME=IP:PORT` entries (`*` for every other name).
    pub(crate) resolve: HashMap<String, SocketAddr>,
    /// Port of the devices' http-01 responders.
    pub(crate) http01_port: u16,
    /// Port of the devices' tls-alpn-01 responders.
    pub(crate) tls_alpn_port: u16,
}

/// Perform `v` and report its outcome to the service (at the time the outcome is known).
pub(crate) async fn validate(service: Arc<AcmeService>, targets: Arc<Targets>, v: Validation) {
    let app = &*targets;
    let result = match v.kind {
        ChallengeType::Http01 => http01(app, &v).await,
        ChallengeType::TlsAlpn01 => tls_alpn01(app, &v).await,
        _ => Err(Problem::new(
            ProblemType::Malformed,
            400,
            "this server validates http-01 only",
        )),
    };
    match &result {
        Ok(()) => tracing::info!(name = %v.identifier.value, kind = ?v.kind, "challenge valid"),
        Err(p) => {
            tracing::info!(name = %v.identifier.value, kind = ?v.kind, detail = ?p.detail, "challenge failed")
        }
    }
    let now = store::now();
    // In the request's span: the approval check it triggers names the device there.
    let span = tracing::Span::current();
    let _ = tokio::task::spawn_blocking(move || {
        span.in_scope(|| service.validation_result(&v, result, now))
    })
    .await;
}

async fn target_addrs(app: &Targets, host: &str, port: u16) -> Result<Vec<SocketAddr>, Problem> {
    if let Some(a) = app
        .resolve
        .get(&host.to_ascii_lowercase())
        .or_else(|| app.resolve.get("*"))
    {
        return Ok(vec![*a]);
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // `<id>.local` (§3.4.3): multicast DNS on the server's links (RFC 6762 §3, a one-shot
    // query that the device's responder answers by unicast), then the system resolver, which
    // may have nss-mdns. `<id>.<domain>` goes to the system resolver: the LAN's DNS.
    if lantrust_cli::mdns::is_local(host) {
        let name = host.to_string();
        let found = tokio::task::spawn_blocking(move || {
            lantrust_cli::mdns::resolve_v4(&name, Duration::from_secs(3))
        })
        .await;
        match found {
            Ok(Ok(addrs)) => {
                return Ok(addrs
                    .into_iter()
                    .map(|a| SocketAddr::new(a.into(), port))
                    .collect());
            }
            Ok(Err(e)) => tracing::debug!("mDNS for {host}: {e:#}"),
            Err(e) => tracing::debug!("mDNS for {host}: {e}"),
        }
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            Problem::new(
                ProblemType::Dns,
                400,
                format!(
                    "cannot resolve {host}: {e} (use --resolve NAME=IP:PORT on hosts without mDNS)"
                ),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Problem::new(
            ProblemType::Dns,
            400,
            format!("{host} has no address"),
        ));
    }
    Ok(addrs)
}

/// RFC 8555 §8.3: `GET http://<name>[:port]/.well-known/acme-challenge/<token>`.
async fn http01(app: &Targets, v: &Validation) -> Result<(), Problem> {
    let host = v.identifier.value.as_str();
    let addrs = target_addrs(app, host, app.http01_port).await?;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(Duration::from_secs(10), http_get(addr, host, &v.token)).await {
            Ok(Ok((200, body))) => return v.check_http01_body(&body),
            Ok(Ok((status, _))) => {
                last = Some(Problem::new(
                    ProblemType::IncorrectResponse,
                    403,
                    format!("http-01: {host} ({addr}) answered HTTP {status} for the challenge"),
                ))
            }
            Ok(Err(e)) => {
                last = Some(Problem::new(
                    ProblemType::Connection,
                    400,
                    format!("http-01: cannot fetch the challenge from {host} ({addr}): {e}"),
                ))
            }
            Err(_) => {
                last = Some(Problem::new(
                    ProblemType::Connection,
                    400,
                    format!("http-01: {host} ({addr}) timed out"),
                ))
            }
        }
    }
    Err(last.unwrap_or_else(|| Problem::new(ProblemType::Connection, 400, "no address")))
}

/// RFC 8737: a TLS handshake with ALPN `acme-tls/1` and SNI = the name; the self-signed
/// certificate must carry exactly that name and the critical acmeIdentifier extension.
async fn tls_alpn01(app: &Targets, v: &Validation) -> Result<(), Problem> {
    let host = v.identifier.value.as_str();
    let addrs: Vec<SocketAddr> = target_addrs(app, host, app.tls_alpn_port)
        .await?
        .into_iter()
        .map(|a| SocketAddr::new(a.ip(), app.tls_alpn_port))
        .collect();
    let tls_problem = |detail: String| Problem::new(ProblemType::Tls, 400, detail);
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(Duration::from_secs(10), alpn_cert(addr, &v.identifier)).await {
            Ok(Ok(der)) => return check_alpn_cert(&der, v),
            Ok(Err(e)) => {
                last = Some(Problem::new(
                    ProblemType::Connection,
                    400,
                    format!("tls-alpn-01: handshake with {host} ({addr}) failed: {e}"),
                ))
            }
            Err(_) => {
                last = Some(tls_problem(format!(
                    "tls-alpn-01: {host} ({addr}) timed out"
                )))
            }
        }
    }
    Err(last.unwrap_or_else(|| Problem::new(ProblemType::Connection, 400, "no address")))
}

/// Accept any certificate: the tls-alpn-01 certificate is self-signed by design and checked
/// afterwards; only the handshake signature is verified.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verify_with_spki(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verify_with_spki(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl AnyCert {
    /// Check the handshake signature with the certificate's public key. webpki's certificate
    /// parser refuses the critical acmeIdentifier extension, so the key is taken out with x509-cert.
    fn verify_with_spki(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let bad = |m: &str| rustls::Error::General(m.to_string());
        let parsed = lantrust_ca::certificate_from_der(cert.as_ref())
            .map_err(|_| bad("unparsable certificate"))?;
        let key = parsed
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("bad public key"))?;
        let algs = self
            .0
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or_else(|| bad("unsupported signature scheme"))?;
        if algs
            .iter()
            .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok())
        {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        } else {
            Err(bad("the handshake signature does not verify"))
        }
    }
}

/// Handshake with `acme-tls/1`; return the peer's end-entity certificate.
async fn alpn_cert(addr: SocketAddr, ident: &lantrust_acme::Identifier) -> Result<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    // RFC 8738 §6: for an IP identifier the SNI is its reverse-DNS name.
    let sni = match ident.value.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
        Err(_) => ident.value.clone(),
    };
    let name = rustls_pki_types::ServerName::try_from(sni)?;
    let tcp = TcpStream::connect(addr).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await?;
    let (_, conn) = tls.get_ref();
    if conn.alpn_protocol() != Some(b"acme-tls/1") {
        anyhow::bail!("the device did not negotiate the acme-tls/1 protocol");
    }
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| anyhow!("no certificate"))?;
    Ok(cert.to_vec())
}

/// RFC 8737 §3: exactly one SAN, equal to the identifier; a critical acmeIdentifier extension
/// holding SHA-256 of the key authorization.
fn check_alpn_cert(der: &[u8], v: &Validation) -> Result<(), Problem> {
    let tls = |d: String| Problem::new(ProblemType::Tls, 400, d);
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = lantrust_ca::certificate_from_der(der)
        .map_err(|e| tls(format!("tls-alpn-01: unparsable certificate: {e}")))?;
    let exts = cert.tbs_certificate.extensions.unwrap_or_default();
    let acme_oid = der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");
    let san_oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");
    let acme = exts.iter().find(|e| e.extn_id == acme_oid).ok_or_else(|| {
        tls("tls-alpn-01: the certificate has no acmeIdentifier extension".into())
    })?;
    if !acme.critical {
        return Err(tls(
            "tls-alpn-01: the acmeIdentifier extension must be critical".into(),
        ));
    }
    let san = exts
        .iter()
        .find(|e| e.extn_id == san_oid)
        .ok_or_else(|| tls("tls-alpn-01: the certificate has no subjectAltName".into()))?;
    let san: SubjectAltName = der::Decode::from_der(san.extn_value.as_bytes())
        .map_err(|e| tls(format!("tls-alpn-01: bad subjectAltName: {e}")))?;
    let want = v.identifier.value.to_ascii_lowercase();
    let ok = match san.0.as_slice() {
        [GeneralName::DnsName(n)] => n.as_str().eq_ignore_ascii_case(&want),
        [GeneralName::IpAddress(o)] => {
            let b = o.as_bytes();
            let ip = match b.len() {
                4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
                16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
                _ => None,
            };
            ip.is_some_and(|ip| ip.to_string() == want)
        }
        _ => false,
    };
    if !ok {
        return Err(tls(format!(
            "tls-alpn-01: the certificate must name exactly {want} in its subjectAltName"
        )));
    }
    v.check_tls_alpn01_extension(acme.extn_value.as_bytes())
}

/// Largest http-01 response body read (a key authorization is under 100 bytes).
const MAX_HTTP01_BODY: usize = 64 * 1024;

/// `GET /.well-known/acme-challenge/<token>` over one HTTP/1.1 connection to `addr`, with
/// `Host: <host>`; the status and at most [`MAX_HTTP01_BODY`] bytes of body.
async fn http_get(addr: SocketAddr, host: &str, token: &str) -> Result<(u16, Vec<u8>)> {
    use http_body_util::BodyExt;
    let tcp = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    // The connection task ends when the response is read and `sender` is dropped.
    let driver = tokio::spawn(conn);
    let host_hdr = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let req = hyper::Request::get(format!("/.well-known/acme-challenge/{token}"))
        .header(hyper::header::HOST, host_hdr)
        .header(hyper::header::USER_AGENT, "lantrust-server")
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_HTTP01_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("reading the response: {e}"))?
        .to_bytes()
        .to_vec();
    drop(sender);
    driver.abort();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on 127.0.0.1 answering every connection with `response`; returns
    /// its address and the request heads it received.
    async fn serve_once(response: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let _ = s.write_all(&response).await;
            let _ = s.shutdown().await;
            String::from_utf8_lossy(&head).to_string()
        });
        (addr, task)
    }

    #[test]
    fn http01_fetch_reads_plain_and_chunked_bodies_and_refuses_huge_ones() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (addr, head) =
                serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()).await;
            let (status, body) = http_get(addr, "dev-1.local", "tok").await.unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
            let head = head.await.unwrap();
            assert!(head.starts_with("GET /.well-known/acme-challenge/tok HTTP/1.1\r\n"), "{head}");
            assert!(head.to_ascii_lowercase().contains("host: dev-1.local\r\n"), "{head}");

            let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
            let (addr, _) = serve_once(chunked.to_vec()).await;
            let (status, body) = http_get(addr, "192.168.1.5", "t").await.unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"abcde"[..]));

            let (addr, _) = serve_once(b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec()).await;
            assert_eq!(http_get(addr, "dev-1.local", "t").await.unwrap().0, 404);

            let mut huge = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                MAX_HTTP01_BODY + 1
            )
            .into_bytes();
            huge.resize(huge.len() + MAX_HTTP01_BODY + 1, b'a');
            let (addr, _) = serve_once(huge).await;
            assert!(http_get(addr, "dev-1.local", "t").await.is_err());

            let (addr, _) = serve_once(b"garbage\r\n\r\n".to_vec()).await;
            assert!(http_get(addr, "dev-1.local", "t").await.is_err());
        });
    }
}
