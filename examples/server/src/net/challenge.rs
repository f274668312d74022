//! Challenge validation toward devices (RFC 8555 §8.3 http-01, RFC 8737 tls-alpn-01, with RFC 8738
//! §6 for IP identifiers): the I/O half of the core's [`Validation`]s. http-01 runs on hyper's
//! HTTP/1.1 client, tls-alpn-01 on tokio-rustls; the result goes back to the service.

// Problem documents are the natural error value of the validators (as in lantrust-acme's core).
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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

/// How long one address may take to answer a challenge (for http-01, the whole redirect chain).
const PER_ADDRESS: Duration = Duration::from_secs(10);

/// Most redirects an http-01 fetch follows (RFC 8555 §8.3: the server SHOULD follow them; the
/// public CAs stop at 10).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Perform `v` and report its outcome to the service (at the time the outcome is known).
pub(crate) async fn validate(service: Arc<AcmeService>, targets: Arc<Targets>, v: Validation) {
    let app = &*targets;
    let result = match v.kind {
        ChallengeType::Http01 => http01(app, &v).await,
        ChallengeType::TlsAlpn01 => tls_alpn01(app, &v).await,
        // The core offers these two only (lantrust-acme server/order.rs): another kind here is
        // this server's fault, not the client's.
        _ => Err(Problem::new(
            ProblemType::ServerInternal,
            500,
            "this server validates http-01 and tls-alpn-01 only",
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

/// Whether `host` has a `--resolve` entry (its own, or `*`).
fn resolve_entry(app: &Targets, host: &str) -> Option<SocketAddr> {
    app.resolve
        .get(&host.to_ascii_lowercase())
        .or_else(|| app.resolve.get("*"))
        .copied()
}

async fn target_addrs(app: &Targets, host: &str, port: u16) -> Result<Vec<SocketAddr>, Problem> {
    if let Some(a) = resolve_entry(app, host) {
        return Ok(vec![a]);
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

/// Try `attempt` on each of `addrs` in turn, each within [`PER_ADDRESS`]: the first success
/// decides; otherwise the last failure, as `problem` words it (`None`: that address timed out).
/// The one loop of both validations (RFC 8555 §8.3, RFC 8737 §3: any of the name's addresses
/// may answer).
async fn each_address<T, E, Fut>(
    addrs: Vec<SocketAddr>,
    mut attempt: impl FnMut(SocketAddr) -> Fut,
    problem: impl Fn(SocketAddr, Option<E>) -> Problem,
) -> Result<T, Problem>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(PER_ADDRESS, attempt(addr)).await {
            Ok(Ok(found)) => return Ok(found),
            Ok(Err(e)) => last = Some(problem(addr, Some(e))),
            Err(_) => last = Some(problem(addr, None)),
        }
    }
    Err(last.unwrap_or_else(|| Problem::new(ProblemType::Dns, 400, "the name has no address")))
}

fn incorrect(detail: String) -> Problem {
    Problem::new(ProblemType::IncorrectResponse, 403, detail)
}

/// RFC 8555 §8.3: `GET http://<name>[:port]/.well-known/acme-challenge/<token>`, following
/// redirects ([`follow`]).
async fn http01(app: &Targets, v: &Validation) -> Result<(), Problem> {
    let host = v.identifier.value.as_str();
    let addrs = target_addrs(app, host, app.http01_port).await?;
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let start = url::Url::parse(&format!(
        "http://{url_host}/.well-known/acme-challenge/{}",
        v.token
    ))
    .map_err(|e| incorrect(format!("http-01: {host} makes no URL: {e}")))?;
    let body = each_address(
        addrs,
        |addr| follow(app, start.clone(), addr),
        |addr, p| {
            p.unwrap_or_else(|| {
                Problem::new(
                    ProblemType::Connection,
                    400,
                    format!("http-01: {host} ({addr}) did not answer within {PER_ADDRESS:?}"),
                )
            })
        },
    )
    .await?;
    v.check_http01_body(&body)
}

/// Fetch `url` from `addr`, following up to [`MAX_REDIRECTS`] redirects as the public CAs do
/// (RFC 8555 §8.3 SHOULD): to http or https only, on the standard ports or the configured ones
/// (`--http01-port`, `--tls-alpn-port`), at a local address only ([`redirect_target`]); https
/// targets are fetched without certificate verification, since the key authorization is what
/// proves control. The body of the final 200 answer.
async fn follow(
    app: &Targets,
    mut url: url::Url,
    mut addr: SocketAddr,
) -> Result<Vec<u8>, Problem> {
    let mut hops = 0;
    loop {
        let got = http_get(addr, &url)
            .await
            .map_err(|e| e.problem(&url, addr))?;
        match got.status {
            200 => return Ok(got.body),
            301 | 302 | 303 | 307 | 308 if hops < MAX_REDIRECTS => {
                let location = got.location.ok_or_else(|| {
                    incorrect(format!(
                        "http-01: {url} ({addr}) answered HTTP {} without a Location",
                        got.status
                    ))
                })?;
                let next = url.join(&location).map_err(|e| {
                    incorrect(format!(
                        "http-01: {url} redirects to {location:?}, which is not a URL: {e}"
                    ))
                })?;
                addr = redirect_target(app, &next).await?;
                tracing::debug!(from = %url, to = %next, %addr, "http-01 redirect followed");
                url = next;
                hops += 1;
            }
            301 | 302 | 303 | 307 | 308 => {
                return Err(incorrect(format!(
                    "http-01: more than {MAX_REDIRECTS} redirects; the last one came from {url}"
                )));
            }
            status => {
                return Err(incorrect(format!(
                    "http-01: {url} ({addr}) answered HTTP {status} for the challenge"
                )));
            }
        }
    }
}

/// Where a redirect to `url` is fetched: http or https, on port 80, 443, `--http01-port` or
/// `--tls-alpn-port`, at an address found by the same rules as the device's own (`--resolve`,
/// mDNS, the system resolver) that is a local one (draft §4.1, the rule of `lan.rs`): a device
/// cannot make the server fetch from the Internet. The standard ports stand for the configured
/// ones, as port 80 of the first fetch stands for `--http01-port`.
async fn redirect_target(app: &Targets, url: &url::Url) -> Result<SocketAddr, Problem> {
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(incorrect(format!(
                "http-01: a redirect to {url}: only http and https are followed, not {other}"
            )));
        }
    };
    let port = url.port_or_known_default().unwrap_or(80);
    if ![80, 443, app.http01_port, app.tls_alpn_port].contains(&port) {
        return Err(incorrect(format!(
            "http-01: a redirect to {url}: only ports 80, 443, {} and {} are followed",
            app.http01_port, app.tls_alpn_port
        )));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(incorrect(format!("http-01: a redirect to {url}: no host"))),
    };
    let connect_port = match (https, port) {
        (false, 80) => app.http01_port,
        (true, 443) => app.tls_alpn_port,
        (_, p) => p,
    };
    let plain_default = !https && port == 80;
    let addrs = target_addrs(app, &host, connect_port).await?;
    addrs
        .into_iter()
        // A `--resolve` entry's port is the device's http-01 port; elsewhere its IP is used
        // with the port asked for (as tls-alpn-01 does).
        .map(|a| if plain_default { a } else { SocketAddr::new(a.ip(), connect_port) })
        .find(|a| super::lan::is_local_source(a.ip()))
        .ok_or_else(|| {
            Problem::new(
                ProblemType::Connection,
                400,
                format!(
                    "http-01: a redirect to {url}: {host} has no local address; redirects are followed on this network only"
                ),
            )
        })
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
    let der = each_address(
        addrs,
        |addr| alpn_cert(addr, &v.identifier),
        |addr, e: Option<(ProblemType, String)>| match e {
            Some((kind, why)) => {
                Problem::new(kind, 400, format!("tls-alpn-01: {host} ({addr}): {why}"))
            }
            None => Problem::new(
                ProblemType::Connection,
                400,
                format!("tls-alpn-01: {host} ({addr}) did not answer within {PER_ADDRESS:?}"),
            ),
        },
    )
    .await?;
    check_alpn_cert(&der, v)
}

/// Accept any certificate: the tls-alpn-01 certificate is self-signed by design and checked
/// afterwards, and an https redirect target of http-01 is not judged by its certificate, as the
/// public CAs do (the key authorization proves control). Only the handshake signature is
/// verified, against the presented key.
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
    /// parser refuses the critical acmeIdentifier extension, and a full X.509 parser refuses
    /// what RFC 8737 leaves free (validity dates before 1970, say), so only the key is read
    /// ([`read_alpn_cert`]).
    fn verify_with_spki(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let bad = |m: &str| rustls::Error::General(m.to_string());
        let parsed = read_alpn_cert(cert.as_ref())
            .map_err(|e| bad(&format!("the certificate does not parse: {e}")))?;
        let algs = self
            .0
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or_else(|| bad("unsupported signature scheme"))?;
        if algs.iter().any(|alg| {
            alg.verify_signature(&parsed.key, message, dss.signature())
                .is_ok()
        }) {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        } else {
            Err(bad("the handshake signature does not verify"))
        }
    }
}

/// What tls-alpn-01 needs of the validation certificate (RFC 8737 §3): the subject public key
/// (for the handshake signature) and the extensions. Nothing else is parsed, so a certificate
/// with odd serial, names or dates (RFC 8737 sets no rule on them) is judged on what matters.
struct AlpnCert {
    /// The subjectPublicKey bits of the SPKI.
    key: Vec<u8>,
    /// The extensions, in order.
    extensions: Vec<x509_cert::ext::Extension>,
}

/// Read a DER certificate (RFC 5280 §4.1) field by field, skipping all but the key and the
/// extensions.
fn read_alpn_cert(der_cert: &[u8]) -> der::Result<AlpnCert> {
    use der::asn1::AnyRef;
    use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
    let explicit = |n: TagNumber| Tag::ContextSpecific {
        constructed: true,
        number: n,
    };
    let mut reader = SliceReader::new(der_cert)?;
    let cert = reader.sequence(|c| {
        let tbs = c.sequence(|t| {
            // version [0] EXPLICIT (optional), serialNumber, signature, issuer, validity, subject.
            let first = AnyRef::decode(t)?;
            if first.tag() == explicit(TagNumber::N0) {
                AnyRef::decode(t)?;
            }
            for _ in 0..4 {
                AnyRef::decode(t)?;
            }
            let spki = x509_cert::spki::SubjectPublicKeyInfoRef::decode(t)?;
            let key = spki.subject_public_key.raw_bytes().to_vec();
            // issuerUniqueID [1], subjectUniqueID [2], extensions [3] EXPLICIT.
            let mut extensions = Vec::new();
            while !t.is_finished() {
                let field = AnyRef::decode(t)?;
                if field.tag() == explicit(TagNumber::N3) {
                    extensions = Vec::<x509_cert::ext::Extension>::from_der(field.value())?;
                }
            }
            Ok(AlpnCert { key, extensions })
        })?;
        // signatureAlgorithm, signatureValue: a self-signature proves nothing here.
        AnyRef::decode(c)?;
        AnyRef::decode(c)?;
        Ok(tbs)
    })?;
    reader.finish(cert)
}

/// Handshake with `acme-tls/1`; return the peer's end-entity certificate, or the problem type
/// (RFC 8555 §6.7: `connection` when nothing answers, `tls` when the handshake fails) and why.
async fn alpn_cert(
    addr: SocketAddr,
    ident: &lantrust_acme::Identifier,
) -> Result<Vec<u8>, (ProblemType, String)> {
    let tls = |e: &dyn std::fmt::Display| (ProblemType::Tls, e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| (ProblemType::ServerInternal, e.to_string()))?
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
    let name = rustls_pki_types::ServerName::try_from(sni).map_err(|e| tls(&e))?;
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| (ProblemType::Connection, format!("cannot connect: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| tls(&format_args!("the TLS handshake failed: {e}")))?;
    let (_, conn) = stream.get_ref();
    if conn.alpn_protocol() != Some(b"acme-tls/1") {
        return Err(tls(&"the device did not negotiate the acme-tls/1 protocol"));
    }
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| tls(&"the device sent no certificate"))?;
    Ok(cert.to_vec())
}

/// RFC 8737 §3: exactly one SAN, equal to the identifier; a critical acmeIdentifier extension
/// holding SHA-256 of the key authorization. A certificate that does not meet them is an
/// `incorrectResponse` (RFC 8555 §6.7: the response did not match the challenge's requirements).
fn check_alpn_cert(der_cert: &[u8], v: &Validation) -> Result<(), Problem> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = read_alpn_cert(der_cert).map_err(|e| {
        Problem::new(
            ProblemType::Tls,
            400,
            format!("tls-alpn-01: the certificate does not parse: {e}"),
        )
    })?;
    let wrong = |d: &str| incorrect(format!("tls-alpn-01: {d}"));
    let acme_oid = der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");
    let san_oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");
    let acme = cert
        .extensions
        .iter()
        .find(|e| e.extn_id == acme_oid)
        .ok_or_else(|| wrong("the certificate has no acmeIdentifier extension"))?;
    if !acme.critical {
        return Err(wrong("the acmeIdentifier extension must be critical"));
    }
    let san = cert
        .extensions
        .iter()
        .find(|e| e.extn_id == san_oid)
        .ok_or_else(|| wrong("the certificate has no subjectAltName"))?;
    let san: SubjectAltName = der::Decode::from_der(san.extn_value.as_bytes())
        .map_err(|e| wrong(&format!("bad subjectAltName: {e}")))?;
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
        return Err(wrong(&format!(
            "the certificate must name exactly {want} in its subjectAltName"
        )));
    }
    v.check_tls_alpn01_extension(acme.extn_value.as_bytes())
}

/// Largest http-01 response body read (a key authorization is under 100 bytes).
const MAX_HTTP01_BODY: usize = 64 * 1024;

/// One answer to an http-01 GET.
#[derive(Debug)]
struct Fetched {
    status: u16,
    /// The `Location` header, for a redirect.
    location: Option<String>,
    body: Vec<u8>,
}

/// Why an http-01 GET got no answer.
#[derive(Debug)]
enum FetchError {
    /// The TCP connection failed.
    Connect(std::io::Error),
    /// The TLS handshake of an https redirect target failed.
    Tls(String),
    /// The HTTP exchange failed (reset, not HTTP).
    Http(String),
    /// The body is larger than [`MAX_HTTP01_BODY`].
    TooLarge,
}

impl FetchError {
    /// The RFC 8555 §6.7 problem for fetching `url` from `addr`.
    fn problem(self, url: &url::Url, addr: SocketAddr) -> Problem {
        let (kind, why) = match self {
            FetchError::Connect(e) => (ProblemType::Connection, format!("cannot connect: {e}")),
            FetchError::Tls(e) => (ProblemType::Tls, format!("the TLS handshake failed: {e}")),
            FetchError::Http(e) => (ProblemType::Connection, e),
            FetchError::TooLarge => {
                return incorrect(format!(
                    "http-01: {url} ({addr}) answered more than {MAX_HTTP01_BODY} bytes"
                ));
            }
        };
        Problem::new(
            kind,
            400,
            format!("http-01: fetching {url} from {addr}: {why}"),
        )
    }
}

/// `GET url` over one HTTP/1.1 connection to `addr` (TLS for https, without certificate
/// verification), with `Host` from the URL; the status, `Location` and at most
/// [`MAX_HTTP01_BODY`] bytes of body.
async fn http_get(addr: SocketAddr, url: &url::Url) -> Result<Fetched, FetchError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(FetchError::Connect)?;
    let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    if url.scheme() != "https" {
        return exchange(hyper_util::rt::TokioIo::new(tcp), host, path).await;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let sni = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into())
        }
        Some(url::Host::Ipv6(ip)) => {
            rustls_pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into())
        }
        _ => rustls_pki_types::ServerName::try_from(url.host_str().unwrap_or_default().to_string())
            .map_err(|e| FetchError::Tls(e.to_string()))?,
    };
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(sni, tcp)
        .await
        .map_err(|e| FetchError::Tls(e.to_string()))?;
    exchange(hyper_util::rt::TokioIo::new(tls), host, path).await
}

/// One `GET path` with `Host: host` on the connection `io`.
async fn exchange<IO>(io: IO, host: &str, path: &str) -> Result<Fetched, FetchError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    use http_body_util::BodyExt;
    let http = |e: &dyn std::fmt::Display| FetchError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| http(&e))?;
    // The connection task ends when the response is read and `sender` is dropped.
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "lantrust-server")
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| http(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| http(&e))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = http_body_util::Limited::new(resp.into_body(), MAX_HTTP01_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                FetchError::TooLarge
            } else {
                FetchError::Http(format!("reading the response: {e}"))
            }
        })?
        .to_bytes()
        .to_vec();
    drop(sender);
    driver.abort();
    Ok(Fetched {
        status,
        location,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An HTTP server on 127.0.0.1 answering its first `n` connections with `response`; returns
    /// its address and the request heads it received.
    async fn serve_n(
        response: Vec<u8>,
        n: usize,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for _ in 0..n {
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
                heads.push(String::from_utf8_lossy(&head).to_string());
            }
            heads
        });
        (addr, task)
    }

    async fn serve_once(response: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        serve_n(response, 1).await
    }

    fn challenge_url(host: &str, token: &str) -> url::Url {
        url::Url::parse(&format!("http://{host}/.well-known/acme-challenge/{token}")).unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn http01_fetch_reads_plain_and_chunked_bodies_and_refuses_huge_ones() {
        rt().block_on(async {
            let (addr, head) =
                serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()).await;
            let f = http_get(addr, &challenge_url("dev-1.local", "tok")).await.unwrap();
            assert_eq!((f.status, f.body.as_slice()), (200, &b"hello"[..]));
            let head = head.await.unwrap().remove(0);
            assert!(head.starts_with("GET /.well-known/acme-challenge/tok HTTP/1.1\r\n"), "{head}");
            assert!(head.to_ascii_lowercase().contains("host: dev-1.local\r\n"), "{head}");

            let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
            let (addr, _) = serve_once(chunked.to_vec()).await;
            let f = http_get(addr, &challenge_url("192.168.1.5", "t")).await.unwrap();
            assert_eq!((f.status, f.body.as_slice()), (200, &b"abcde"[..]));

            let (addr, _) = serve_once(b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec()).await;
            assert_eq!(http_get(addr, &challenge_url("dev-1.local", "t")).await.unwrap().status, 404);

            let mut huge = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                MAX_HTTP01_BODY + 1
            )
            .into_bytes();
            huge.resize(huge.len() + MAX_HTTP01_BODY + 1, b'a');
            let (addr, _) = serve_once(huge).await;
            let e = http_get(addr, &challenge_url("dev-1.local", "t")).await.unwrap_err();
            let p = e.problem(&challenge_url("dev-1.local", "t"), addr);
            assert_eq!(p.kind, ProblemType::IncorrectResponse, "{p:?}");

            let (addr, _) = serve_once(b"garbage\r\n\r\n".to_vec()).await;
            let e = http_get(addr, &challenge_url("dev-1.local", "t")).await.unwrap_err();
            assert_eq!(e.problem(&challenge_url("dev-1.local", "t"), addr).kind, ProblemType::Connection);
        });
    }

    fn validation(name: &str, kind: ChallengeType) -> Validation {
        Validation {
            authz_id: "a".into(),
            challenge_id: "0".into(),
            kind,
            identifier: lantrust_acme::Identifier::dns(name),
            token: "tok".into(),
            key_authorization: "tok.thumbprint".into(),
        }
    }

    fn targets(name: &str, at: SocketAddr, http01_port: u16, tls_alpn_port: u16) -> Targets {
        Targets {
            resolve: [(name.to_string(), at)].into_iter().collect(),
            http01_port,
            tls_alpn_port,
        }
    }

    /// A free TCP port of 127.0.0.1.
    fn free_port() -> u16 {
        lantrust_test_support::free_port()
    }

    /// An HTTP server on 127.0.0.1 answering one connection after another with `responses`, in
    /// order; returns its address and the request heads it received.
    async fn serve_seq(
        responses: Vec<String>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for response in responses {
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
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
                heads.push(String::from_utf8_lossy(&head).to_string());
            }
            heads
        });
        (addr, task)
    }

    fn redirect(status: &str, to: &str) -> String {
        format!("HTTP/1.1 {status}\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
    }

    const KEY_AUTHZ: &str = "tok.thumbprint";

    fn answer() -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{KEY_AUTHZ}",
            KEY_AUTHZ.len()
        )
    }

    #[test]
    fn http01_follows_redirects_on_this_network_and_refuses_the_rest() {
        rt().block_on(async {
            let v = validation("dev-1.local", ChallengeType::Http01);
            // dev-1.local (its --resolve entry, `first`) redirects to the configured
            // tls-alpn-01 port at 127.0.0.1 (`second`, plain http there), which redirects
            // relatively to a path of its own, which answers.
            let (second, second_heads) =
                serve_seq(vec![redirect("302 Found", "/final?x=1"), answer()]).await;
            let (first, first_heads) = serve_seq(vec![redirect(
                "301 Moved Permanently",
                &format!("http://127.0.0.1:{}/step", second.port()),
            )])
            .await;
            let app = targets("dev-1.local", first, first.port(), second.port());
            http01(&app, &v).await.unwrap();
            let first_heads = first_heads.await.unwrap();
            assert!(
                first_heads[0].starts_with("GET /.well-known/acme-challenge/tok "),
                "{first_heads:?}"
            );
            let heads = second_heads.await.unwrap();
            assert!(heads[0].starts_with("GET /step HTTP/1.1\r\n"), "{heads:?}");
            assert!(
                heads[0]
                    .to_ascii_lowercase()
                    .contains(&format!("host: 127.0.0.1:{}\r\n", second.port())),
                "{heads:?}"
            );
            assert!(
                heads[1].starts_with("GET /final?x=1 HTTP/1.1\r\n"),
                "{heads:?}"
            );

            // Refused: another scheme, a port that is not the standard or a configured one, an
            // address off this network (never connected to), an endless chain.
            let unlisted = free_port();
            for (to, kind, says) in [
                (
                    "ftp://127.0.0.1/x".to_string(),
                    ProblemType::IncorrectResponse,
                    "only http and https",
                ),
                (
                    format!("http://127.0.0.1:{unlisted}/x"),
                    ProblemType::IncorrectResponse,
                    "only ports 80, 443",
                ),
                (
                    "http://192.0.2.1/x".to_string(),
                    ProblemType::Connection,
                    "no local address",
                ),
                (
                    "https://8.8.8.8/x".to_string(),
                    ProblemType::Connection,
                    "no local address",
                ),
            ] {
                let (first, _) = serve_seq(vec![redirect("302 Found", &to)]).await;
                let app = targets("dev-1.local", first, first.port(), 5001);
                let p = http01(&app, &v).await.unwrap_err();
                assert_eq!(p.kind, kind, "{to}: {p:?}");
                assert!(
                    p.detail.as_deref().unwrap_or("").contains(says),
                    "{to}: {p:?}"
                );
            }
            let (lp, _) = serve_seq(vec![
                redirect("307 Temporary Redirect", "/again");
                MAX_REDIRECTS + 1
            ])
            .await;
            let app = targets("dev-1.local", lp, lp.port(), 5001);
            let p = http01(&app, &v).await.unwrap_err();
            assert_eq!(p.kind, ProblemType::IncorrectResponse, "{p:?}");
            assert!(p.detail.unwrap().contains("more than 10 redirects"));
            // A plain wrong answer and a refused connection keep their own types.
            let (wrong, _) = serve_seq(vec![
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into(),
            ])
            .await;
            let app = targets("dev-1.local", wrong, wrong.port(), 5001);
            assert_eq!(
                http01(&app, &v).await.unwrap_err().kind,
                ProblemType::IncorrectResponse
            );
            let closed = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let app = targets("dev-1.local", closed, closed.port(), 5001);
            assert_eq!(
                http01(&app, &v).await.unwrap_err().kind,
                ProblemType::Connection
            );
        });
    }

    /// `openssl` in `dir`, which must succeed.
    fn openssl(dir: &std::path::Path, args: &[&str]) {
        lantrust_test_support::openssl(dir, args);
    }

    /// A self-signed certificate made by `openssl ca` (which, unlike `req -x509` in OpenSSL
    /// 3.0, sets any dates) for `cn`, valid from `start`, with the extensions of `ext` (an
    /// OpenSSL config section body); returns (cert, key) paths in `dir`.
    fn openssl_cert(dir: &std::path::Path, cn: &str, start: &str, ext: &str) -> (String, String) {
        std::fs::write(
            dir.join("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
                 default_md = sha256\npolicy = pol\nx509_extensions = ext\nunique_subject = no\n\
                 [pol]\ncommonName = supplied\n[ext]\n{ext}\n[req]\ndistinguished_name = dn\n\
                 prompt = no\n[dn]\nCN = {cn}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        openssl(
            dir,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "k.pem",
            ],
        );
        openssl(
            dir,
            &[
                "req", "-new", "-key", "k.pem", "-config", "ca.cnf", "-out", "r.csr",
            ],
        );
        openssl(
            dir,
            &[
                "ca",
                "-selfsign",
                "-keyfile",
                "k.pem",
                "-in",
                "r.csr",
                "-startdate",
                start,
                "-enddate",
                "20500101000000Z",
                "-config",
                "ca.cnf",
                "-batch",
                "-notext",
                "-out",
                "c.pem",
            ],
        );
        ("c.pem".into(), "k.pem".into())
    }

    fn hex(b: &[u8]) -> String {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `openssl s_server` on 127.0.0.1 in `dir` with `cert`/`key` and `extra` arguments.
    fn s_server(
        dir: &std::path::Path,
        cert: &str,
        key: &str,
        extra: &[&str],
    ) -> (lantrust_test_support::Proc, u16) {
        let port = free_port();
        let p = lantrust_test_support::Proc::spawn(
            Command::new("openssl")
                .current_dir(dir)
                .args([
                    "s_server",
                    "-quiet",
                    "-accept",
                    &format!("127.0.0.1:{port}"),
                ])
                .args(["-cert", cert, "-key", key])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        lantrust_test_support::wait_for_port(port);
        (p, port)
    }

    #[test]
    fn tls_alpn01_accepts_a_validation_certificate_from_1950() {
        if !lantrust_test_support::have("openssl") {
            lantrust_test_support::skip(
                "`openssl` is not installed (scripts/install-peers installs it)",
            );
            return;
        }
        let dir = lantrust_test_support::temp_dir("alpn1950");
        let d = dir.path();
        let ext = jose_ext(KEY_AUTHZ);
        let (cert, key) = openssl_cert(
            d,
            "alpn1.local",
            "19500101000000Z",
            &format!("subjectAltName = DNS:alpn1.local\n1.3.6.1.5.5.7.1.31 = critical,DER:{ext}"),
        );
        let text = lantrust_test_support::openssl_stdout(
            d,
            &["x509", "-in", &cert, "-noout", "-startdate"],
        );
        assert!(
            String::from_utf8_lossy(&text).contains("1950"),
            "{}",
            String::from_utf8_lossy(&text)
        );
        let (_srv, port) = s_server(d, &cert, &key, &["-alpn", "acme-tls/1"]);
        let at = SocketAddr::from(([127, 0, 0, 1], port));
        let app = targets("alpn1.local", at, 9, port);
        rt().block_on(async {
            tls_alpn01(&app, &validation("alpn1.local", ChallengeType::TlsAlpn01))
                .await
                .unwrap();
            // The same certificate for another name, or another key authorization: the
            // response does not meet the challenge (incorrectResponse), not a TLS failure.
            let app = targets("other.local", at, 9, port);
            let p = tls_alpn01(&app, &validation("other.local", ChallengeType::TlsAlpn01))
                .await
                .unwrap_err();
            assert_eq!(p.kind, ProblemType::IncorrectResponse, "{p:?}");
            let app = targets("alpn1.local", at, 9, port);
            let mut v = validation("alpn1.local", ChallengeType::TlsAlpn01);
            v.key_authorization = "tok.other".into();
            assert_eq!(
                tls_alpn01(&app, &v).await.unwrap_err().kind,
                ProblemType::IncorrectResponse
            );
        });
        // A TLS server that does not speak acme-tls/1: a `tls` problem; nothing listening: `connection`.
        let (_plain, plain_port) = s_server(d, &cert, &key, &[]);
        rt().block_on(async {
            let at = SocketAddr::from(([127, 0, 0, 1], plain_port));
            let app = targets("alpn1.local", at, 9, plain_port);
            let p = tls_alpn01(&app, &validation("alpn1.local", ChallengeType::TlsAlpn01))
                .await
                .unwrap_err();
            assert_eq!(p.kind, ProblemType::Tls, "{p:?}");
            let closed = free_port();
            let app = targets(
                "alpn1.local",
                SocketAddr::from(([127, 0, 0, 1], closed)),
                9,
                closed,
            );
            let p = tls_alpn01(&app, &validation("alpn1.local", ChallengeType::TlsAlpn01))
                .await
                .unwrap_err();
            assert_eq!(p.kind, ProblemType::Connection, "{p:?}");
        });
    }

    /// The acmeIdentifier extension value (RFC 8737 §3) as OpenSSL's `DER:` hex.
    fn jose_ext(key_authz: &str) -> String {
        hex(&lantrust_acme::jose::tls_alpn01_extension_value(key_authz))
    }

    #[test]
    fn http01_follows_a_redirect_to_https_without_verifying_the_certificate() {
        if !lantrust_test_support::have("openssl") {
            lantrust_test_support::skip(
                "`openssl` is not installed (scripts/install-peers installs it)",
            );
            return;
        }
        let dir = lantrust_test_support::temp_dir("redirect-https");
        let d = dir.path();
        let (cert, key) = openssl_cert(
            d,
            "somewhere-else",
            "20200101000000Z",
            "basicConstraints = CA:FALSE",
        );
        // s_server -WWW serves the files under its directory.
        std::fs::create_dir_all(d.join(".well-known/acme-challenge")).unwrap();
        std::fs::write(d.join(".well-known/acme-challenge/tok"), KEY_AUTHZ).unwrap();
        let (_srv, port) = s_server(d, &cert, &key, &["-WWW"]);
        rt().block_on(async {
            let (first, _) = serve_seq(vec![redirect(
                "302 Found",
                &format!("https://dev-1.local:{port}/.well-known/acme-challenge/tok"),
            )])
            .await;
            // The redirect names the configured tls-alpn port; dev-1.local's --resolve IP is used.
            let app = targets("dev-1.local", first, first.port(), port);
            http01(&app, &validation("dev-1.local", ChallengeType::Http01))
                .await
                .unwrap();
        });
    }
}
