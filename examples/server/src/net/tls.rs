//! HTTPS for the ACME server (RFC 8555 §6.1: ACME runs over HTTPS): the server certificate from
//! the network root for the names of draft §4.2 and its renewal, the TLS configuration, and the
//! accept loop with its connection caps and handshake and header timeouts (abuse limits).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, anyhow};
use axum::Router;
use lantrust_ca::{DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, Root};
use rand::rngs::OsRng;
use tokio::net::TcpListener;

use super::lan::{self, Sources};
use crate::service::admission::{LimitArgs, source};
use crate::service::metrics::{METRICS, Refusal};
use crate::store::{self, Config};

/// How often the HTTPS certificate (valid 90 days) is replaced while serving.
const SERVER_CERT_RENEWAL: Duration = Duration::from_secs(30 * 86_400);

/// The HTTPS certificate, replaced by a background task every [`SERVER_CERT_RENEWAL`].
#[derive(Debug)]
pub(crate) struct ServerCert(pub(crate) std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>);

impl rustls::server::ResolvesServerCert for ServerCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

/// A fresh P-384 key and a certificate from the root for `<name>.local`, `<name>.<domain>` and
/// the configured IPs (90 days), followed by `chain` (DER: the root, or the subordinate CA and
/// its intermediates).
pub(crate) fn server_cert(
    root: &Root,
    chain: &[Vec<u8>],
    config: &Config,
) -> Result<Arc<rustls::sign::CertifiedKey>> {
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut OsRng)?;
    let mut dns_names = vec![format!("{}.local", config.name)];
    dns_names.extend(
        config
            .domains
            .iter()
            .map(|d| format!("{}.{d}", config.name)),
    );
    let req = DeviceRequest {
        device_id: config.name.clone(),
        dns_names,
        ip_addrs: config.ips.clone(),
        public_key: key.public_key_info(),
    };
    let opts = IssuanceOptions {
        validity: lantrust_ca::MAX_DEVICE_VALIDITY,
        ..Default::default()
    };
    let cert = root.issue(&req, &opts, store::now(), &mut OsRng)?;
    let leaf = lantrust_ca::certificate_to_der(&cert)?;
    let key_der = key.to_pkcs8_der()?;
    let chain = std::iter::once(leaf)
        .chain(chain.iter().cloned())
        .map(rustls_pki_types::CertificateDer::from)
        .collect();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
        key_der.to_vec(),
    ));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| anyhow!("the HTTPS key is unusable: {e}"))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(chain, signer)))
}

pub(crate) fn tls_config(cert: Arc<ServerCert>) -> Result<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Replace the HTTPS certificate every [`SERVER_CERT_RENEWAL`], in the background.
pub(crate) fn spawn_renewal(
    cert: Arc<ServerCert>,
    root: Arc<Root>,
    chain: Vec<Vec<u8>>,
    config: Config,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SERVER_CERT_RENEWAL).await;
            match server_cert(&root, &chain, &config) {
                Ok(c) => {
                    if let Ok(mut w) = cert.0.write() {
                        *w = c;
                        tracing::info!("renewed the HTTPS certificate");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "renewing the HTTPS certificate failed")
                }
            }
        }
    });
}

/// The TCP peer of a connection, put into every request's extensions by the accept loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// Accept connections until SIGINT/SIGTERM: connection caps before TLS, the handshake under a
/// timeout, then HTTP/1.1 with a header timeout, each request tagged with its [`Peer`]. A
/// connection from a source `sources` does not allow is served by [`lan::refused_router`]
/// instead of `router` (draft §4.1: the server answers its local network only).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    limits: &LimitArgs,
    sources: Sources,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let refused = lan::refused_router();
    let conns = Connections::new(limits.max_connections, limits.max_connections_per_source);
    let handshake_timeout = Duration::from_secs(limits.handshake_timeout);
    let header_timeout = Duration::from_secs(limits.header_timeout);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                return Ok(());
            }
        };
        // Over a connection cap: close at once (before TLS), so a flood costs one accept each.
        let guard = match conns.try_open(peer.ip()) {
            Ok(g) => g,
            Err(why) => {
                METRICS.refused(Refusal::ConnectionCap);
                tracing::debug!(%peer, ?why, "connection refused: over the connection cap");
                drop(tcp);
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = if sources.allows(peer.ip()) {
            router.clone()
        } else {
            METRICS.refused(Refusal::NonLocalSource);
            tracing::debug!(%peer, "not a local source: every request is refused (§4.1)");
            refused.clone()
        };
        tokio::spawn(async move {
            let _guard = guard;
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let svc = hyper_util::service::TowerToHyperService::new(router);
            // The handlers learn the source address from this extension (abuse limits).
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(Peer(peer));
                    hyper::service::Service::call(&svc, req)
                },
            );
            // hyper 1.x arms the header timer whenever it waits for a request head, so it also
            // closes idle keep-alive connections (tests/abuse.rs checks both).
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = ctrl_c.await;
        return;
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

// -------------------------------------------------------------------------------------------
// Connections

/// Open connections in total and per source.
#[derive(Debug)]
pub(crate) struct Connections {
    max_total: usize,
    max_per_source: usize,
    total: AtomicUsize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnRefused {
    /// The total cap is reached.
    Total(usize),
    /// The source's cap is reached.
    Source(usize),
}

impl Connections {
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Connections {
            max_total,
            max_per_source,
            total: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
        })
    }

    /// Count a new connection from `ip`, or refuse it. The slot is freed when the guard drops.
    pub(crate) fn try_open(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, ConnRefused> {
        let ip = source(ip);
        let mut per = self
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total = self.total.load(Ordering::Relaxed);
        if self.max_total != 0 && total >= self.max_total {
            return Err(ConnRefused::Total(self.max_total));
        }
        let n = per.entry(ip).or_insert(0);
        if self.max_per_source != 0 && *n >= self.max_per_source {
            return Err(ConnRefused::Source(self.max_per_source));
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnGuard {
            conns: self.clone(),
            ip,
        })
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// One counted connection.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    conns: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut per = self
            .conns
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = per.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        self.conns.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connection_caps_per_source_and_total() {
        let c = Connections::new(3, 2);
        let a1 = c.try_open(ip("127.0.0.2")).unwrap();
        let _a2 = c.try_open(ip("127.0.0.2")).unwrap();
        assert_eq!(
            c.try_open(ip("127.0.0.2")).unwrap_err(),
            ConnRefused::Source(2)
        );
        // The mapped form is the same source.
        assert_eq!(
            c.try_open(ip("::ffff:127.0.0.2")).unwrap_err(),
            ConnRefused::Source(2)
        );
        let _b = c.try_open(ip("127.0.0.3")).unwrap();
        assert_eq!(
            c.try_open(ip("127.0.0.4")).unwrap_err(),
            ConnRefused::Total(3)
        );
        drop(a1);
        assert_eq!(c.open(), 2);
        let _a3 = c.try_open(ip("127.0.0.2")).unwrap();
        assert_eq!(c.open(), 3);
    }

    #[test]
    fn unlimited_connections_with_zero() {
        let c = Connections::new(0, 0);
        let guards: Vec<_> = (0..100).map(|_| c.try_open(ip("::1")).unwrap()).collect();
        assert_eq!(c.open(), 100);
        drop(guards);
        assert_eq!(c.open(), 0);
        assert!(c.per_source.lock().unwrap().is_empty());
    }
}
