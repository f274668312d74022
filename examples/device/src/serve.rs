//! The device's HTTPS status page (rustls, std threads), with renewal at 2/3 of the lifetime.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::state::{NetworkMeta, State};

/// The certificates the device serves (§4.9: one per network it enrolled on). The current
/// network's is the default and follows renewals; another network's is chosen when the client
/// asks (SNI) for a name only that network's certificate carries, `<id>.<that network's domain>`:
/// a device that moved back to a network it enrolled on earlier shows that network's
/// certificate to its clients. `.local` names are shared by every network and get the current one.
#[derive(Debug)]
struct Current {
    current: RwLock<Arc<CertifiedKey>>,
    others: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for Current {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(k) = pick(hello.server_name(), &self.others) {
            return Some(k.clone());
        }
        self.current.read().ok().map(|k| k.clone())
    }
}

/// The certificate among `others` (names, certificate) whose names hold `sni`, ignoring
/// `.local` names (every network's certificate has the same ones).
fn pick<'a, T>(sni: Option<&str>, others: &'a [(Vec<String>, T)]) -> Option<&'a T> {
    let sni = sni?.trim_end_matches('.');
    if sni.to_ascii_lowercase().ends_with(".local") {
        return None;
    }
    others
        .iter()
        .find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(sni)))
        .map(|(_, k)| k)
}

/// Every other network's unexpired certificate, for [`Current`] (a network whose files do not
/// load is left out with a message: the current one is what must work).
fn other_networks(st: &State, current: &str) -> Vec<(Vec<String>, Arc<CertifiedKey>)> {
    let now = lantrust_cli::unix_now();
    let mut out = Vec::new();
    for label in st.networks() {
        if label == current {
            continue;
        }
        let Ok(m) = st.meta(&label) else { continue };
        if m.not_after <= now {
            continue;
        }
        match load(st, &label) {
            Ok(k) => out.push((m.names, k)),
            Err(e) => eprintln!("not serving the certificate for network {label}: {e:#}"),
        }
    }
    out
}

fn load(st: &State, label: &str) -> anyhow::Result<Arc<CertifiedKey>> {
    let net = st.net_dir(label);
    let chain_pem = std::fs::read(net.join("chain.pem")).context("reading chain.pem")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("chain.pem: {e:?}"))?;
    let key_pem = std::fs::read(net.join("key.pem")).context("reading key.pem")?;
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| anyhow::anyhow!("key.pem: {e:?}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let ck = CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
        anyhow::anyhow!("key.pem and chain.pem do not match or the key is unsupported: {e}")
    })?;
    Ok(Arc::new(ck))
}

/// Connections served at once; the accept loop waits for a free slot (the kernel's listen
/// backlog holds the rest). Each connection is a thread plus rustls buffers, so without a cap a
/// burst of connections grows memory without bound; with it the peak RSS stays under the 8 MiB
/// budget of issue 9 (measured by `scripts/footprint`).
const MAX_CONNECTIONS: usize = 16;

/// Stack of a connection thread. A TLS handshake and the status page need a small fraction of
/// std's 2 MiB default (also in debug builds); a smaller reservation matters on small devices
/// without overcommit.
const CONNECTION_STACK: usize = 256 * 1024;

/// A counting semaphore over `MAX_CONNECTIONS` slots.
#[derive(Debug, Default)]
struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

/// One taken slot, given back on drop (also if the connection thread ends early).
struct Slot(Arc<Slots>);

impl Slots {
    fn take(self: &Arc<Self>) -> Slot {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= MAX_CONNECTIONS {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += 1;
        Slot(self.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

fn renew_at(m: &NetworkMeta) -> u64 {
    m.not_before + (m.not_after.saturating_sub(m.not_before)) * 2 / 3
}

pub(crate) fn serve(
    st: &State,
    listen: SocketAddr,
    http01_listen: SocketAddr,
    renew_every: Option<u64>,
    ari_bounds: crate::ari::PollBounds,
) -> anyhow::Result<()> {
    let label = st.current()?;
    crate::mdns_announce(&st.meta(&label)?.id, listen);
    let current = Arc::new(Current {
        current: RwLock::new(load(st, &label)?),
        others: other_networks(st, &label),
    });
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_cert_resolver(current.clone());
    let cfg = Arc::new(cfg);
    let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let m = st.meta(&label)?;
    lantrust_cli::outln!(
        "serving https://{}:{}/ ({}) with serial {}; renewal at unix {}",
        m.names.first().map(String::as_str).unwrap_or("device"),
        addr.port(),
        addr,
        m.serial,
        renew_at(&m)
    );

    // Renewal (§3.6: "obtain, renew"), with a fresh key: when the server's renewal information
    // says (RFC 9773, `ari.rs`), or at two thirds of the lifetime if it offers none.
    {
        let dir = st.dir.clone();
        let label = label.clone();
        std::thread::spawn(move || {
            let st = State::new(&dir);
            let mut last = lantrust_cli::unix_now();
            // ARI: when to renew (unix seconds) as last suggested, and when to ask again.
            let mut ari_at: Option<u64> = None;
            let mut ari_next: u64 = 0;
            let seed = rand::RngCore::next_u64(&mut rand::rngs::OsRng);
            loop {
                let Ok(m) = st.meta(&label) else { return };
                let now = lantrust_cli::unix_now();
                if renew_every.is_none() && now >= ari_next {
                    match crate::ari::ask(&st, &label, ari_bounds, seed) {
                        Ok(crate::ari::Answer::Renew { renew_at, poll }) => {
                            ari_at = Some(renew_at);
                            ari_next = now + poll.as_secs();
                        }
                        Ok(crate::ari::Answer::NotOffered { poll }) => {
                            ari_at = None;
                            ari_next = now + poll.as_secs();
                        }
                        Err(e) => {
                            // §4.3: on failure keep the last answer and retry after the lower bound.
                            eprintln!(
                                "ARI: asking renewalInfo failed ({e:#}); keeping the current plan"
                            );
                            ari_next = now + ari_bounds.min.as_secs();
                        }
                    }
                }
                let at = match (renew_every, ari_at) {
                    (Some(every), _) => last + every,
                    (None, Some(at)) => at,
                    (None, None) => renew_at(&m),
                };
                if now < at {
                    let wake = at.min(ari_next.max(now + 1));
                    std::thread::sleep(Duration::from_secs((wake - now).clamp(1, 60)));
                    continue;
                }
                eprintln!(
                    "renewing {} ({})",
                    m.names.join(", "),
                    if ari_at.is_some() {
                        "the server's renewal window (RFC 9773)"
                    } else {
                        "renewal time reached"
                    }
                );
                // §3.6: "MUST" run discovery again before renewing.
                if let Err(e) = crate::rediscover(&st, &label) {
                    eprintln!("rediscovery failed: {e:#}");
                }
                match crate::reissue(&st, &label, None, http01_listen, Duration::from_secs(600))
                    .and_then(|_| load(&st, &label))
                {
                    Ok(k) => {
                        last = lantrust_cli::unix_now();
                        // Ask about the new certificate at once.
                        ari_at = None;
                        ari_next = 0;
                        if let Ok(mut slot) = current.current.write() {
                            *slot = k;
                        }
                        let serial = st.meta(&label).map(|m| m.serial).unwrap_or_default();
                        lantrust_cli::outln!("renewed: now serving serial {serial}");
                    }
                    Err(e) => {
                        eprintln!("renewal failed, retrying in 30s: {e:#}");
                        std::thread::sleep(Duration::from_secs(30));
                    }
                }
            }
        });
    }

    let slots = Arc::new(Slots::default());
    for stream in listener.incoming() {
        let Ok(tcp) = stream else { continue };
        let slot = slots.take();
        let cfg = cfg.clone();
        let dir = st.dir.clone();
        let label = label.clone();
        let spawned = std::thread::Builder::new()
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
            let _slot = slot;
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = tcp.set_write_timeout(Some(Duration::from_secs(10)));
            let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            if lantrust_cli::acme_http::read_request_head(&mut BufReader::new(&mut tls)).is_none() {
                return;
            }
            let m = State::new(&dir).meta(&label).unwrap_or_default();
            let body = format!(
                "<!doctype html><html><head><title>{id}</title></head><body><h1>{id}</h1>\
                 <p>lantrust device, certificate from {server}</p><ul><li>names: {names}</li>\
                 <li>serial: {serial}</li><li>valid until: {na}</li><li>renews at: {ra}</li></ul></body></html>\n",
                id = m.id,
                server = m.server_name,
                names = m.names.join(", "),
                serial = m.serial,
                na = lantrust_acme::time::rfc3339(Duration::from_secs(m.not_after)),
                ra = lantrust_acme::time::rfc3339(Duration::from_secs(renew_at(&m))),
            );
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(resp.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        if let Err(e) = spawned {
            // Out of threads or memory: drop this connection, keep serving the next ones.
            eprintln!("cannot start a connection thread: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn sni_picks_the_network_whose_domain_name_it_asks_for() {
        let others = vec![
            (
                vec!["cam-1.local".to_string(), "cam-1.home.arpa".to_string()],
                "home",
            ),
            (
                vec![
                    "cam-1.local".to_string(),
                    "cam-1.office.example".to_string(),
                ],
                "office",
            ),
        ];
        assert_eq!(pick(Some("cam-1.office.example"), &others), Some(&"office"));
        assert_eq!(pick(Some("CAM-1.Home.Arpa."), &others), Some(&"home"));
        // `.local` is every network's name: the current network's certificate answers it.
        assert_eq!(pick(Some("cam-1.local"), &others), None);
        assert_eq!(pick(Some("cam-1.LOCAL."), &others), None);
        // Unknown names and no SNI at all (an IP address): the current certificate too.
        assert_eq!(pick(Some("cam-2.home.arpa"), &others), None);
        assert_eq!(pick(None, &others), None);
    }
}
