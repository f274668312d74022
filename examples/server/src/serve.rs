//! `serve`: ACME over HTTPS (rustls, ring) on top of lantrust-acme's sans-IO server core, with
//! SQLite storage, the §3.4.4 approval step, CSR policy from lantrust-csr, issuance and CRLs from
//! lantrust-ca, and http-01 and tls-alpn-01 validation toward devices.

// Problem documents are the natural error value of the hooks and validators (as in
// lantrust-acme's server core); they are the cold path.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{any, get};
use lantrust_acme::server::{
    AccountRecord, Approval, ApprovalPolicy, ApprovalRequest, Issued, Issuer, OrderRecord,
    RequestKind, Server, ServerConfig, Validation,
};
use lantrust_acme::{
    ChallengeType, IdentifierType, Method, Order, Problem, ProblemType, Request, Response,
    Subproblem,
};
use lantrust_ca::{DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, Root};
use rand::rngs::OsRng;
use rusqlite::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::admin_http::AdminToken;
use crate::limits::{AccountBuckets, Connections, LimitArgs, PendingCap};
use crate::state::{self, Config, SqliteStore, StateDir};

/// Largest request body accepted (a CSR for RSA-4096 with many SANs is a few KiB).
const MAX_BODY: usize = 64 * 1024;

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Address to listen on for HTTPS, e.g. 0.0.0.0:443 or 127.0.0.1:8443.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The origin clients use to reach this server (default: `https://LISTEN-ADDR`, or
    /// `https://NAME.local:PORT` when listening on a wildcard address).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Reach device NAME at IP:PORT for http-01 instead of resolving NAME (repeatable; tests, or
    /// hosts without mDNS). NAME `*` matches every name without an entry of its own (load tests).
    #[arg(long = "resolve", value_name = "NAME=IP:PORT", value_parser = crate::parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
    /// Port of the devices' http-01 responders.
    #[arg(long, default_value_t = 80)]
    http01_port: u16,
    /// Port of the devices' tls-alpn-01 responders (a `--resolve` entry's IP is used with this
    /// port).
    #[arg(long, default_value_t = 443)]
    tls_alpn_port: u16,
    /// Approve every device at once (load tests, open labs). Off: first issuance waits for
    /// `lantrust-server approve ID` (§3.4.4).
    #[arg(long)]
    auto_approve: bool,
    /// Accept CSRs from generic ACME clients (certbot, lego, uacme): empty CN or CN equal to a
    /// requested name; key strength and name rules stay enforced. Also accepts high-S ECDSA
    /// signatures, which Go and OpenSSL signers produce.
    #[arg(long)]
    generic_clients: bool,
    /// Device certificate lifetime in days (1 to 90).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=90))]
    cert_days: u64,
    /// Most outstanding Replay-Nonce values; the oldest are forgotten beyond it (memory stays
    /// bounded however many nonces clients ask for).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    nonce_capacity: u64,
    /// Turn off the HTTP admin endpoints (/admin/...); the approval commands then need local
    /// access to the state directory.
    #[arg(long)]
    no_http_admin: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// The TCP peer of a connection, put into every request's extensions by the accept loop.
#[derive(Clone, Copy, Debug)]
struct Peer(SocketAddr);

// -------------------------------------------------------------------------------------------
// Hooks for the server core

/// Approval decisions from the database (so `approve` in another process takes effect at the
/// client's next poll).
struct DbApproval {
    conn: Connection,
    auto_approve: bool,
    /// The network's names (§4.2), for refusing foreign identifiers at newOrder.
    config: Config,
}

impl ApprovalPolicy for DbApproval {
    fn check_order(&mut self, identifiers: &[lantrust_acme::Identifier]) -> Result<(), Problem> {
        match out_of_scope(&self.config, identifiers) {
            Some(p) => {
                tracing::info!(detail = ?p.detail, "order refused");
                Err(p)
            }
            None => Ok(()),
        }
    }

    fn check(&mut self, req: &ApprovalRequest<'_>, _now: Duration) -> Approval {
        let r = state::request_approval(
            &self.conn,
            req.device_id,
            &req.identifier.value,
            &req.account.thumbprint,
            self.auto_approve,
        );
        match r.as_deref() {
            Ok("approved") => Approval::Approved,
            Ok("pending") => {
                tracing::info!(
                    device = req.device_id,
                    name = %req.identifier.value,
                    "waiting for approval: run `lantrust-server approve {}`",
                    req.device_id
                );
                Approval::Pending
            }
            Ok("denied") => Approval::Denied("denied by the network administrator".into()),
            Ok("revoked") => Approval::Denied("its approval was revoked".into()),
            Ok(other) => Approval::Denied(format!("unknown approval state {other:?}")),
            Err(e) => {
                tracing::error!(error = %e, "approval lookup failed; keeping the device waiting");
                Approval::Pending
            }
        }
    }
}

/// CSR policy (lantrust-csr) and issuance (lantrust-ca).
struct CaIssuer {
    root: Root,
    root_pem: String,
    policy: lantrust_csr::Policy,
    options: IssuanceOptions,
    /// A finalize request's CSR validated (signature and policy) outside the core's lock, for the
    /// device ID it names: reused by `issue` when the CSR bytes and the order's device ID match.
    prevalidated: Option<(Vec<u8>, lantrust_csr::AcceptedCsr)>,
}

impl CaIssuer {
    /// Validate a CSR the way `issue` would, before the order is known: with the device ID read
    /// from the CSR itself. If the order turns out to be for that same device, `issue` with the
    /// order's device ID would reach the same verdict (the ID is only compared), so the result
    /// can stand in for it. `None` when it does not pass (then `issue` reports why, under lock).
    fn prevalidate(
        policy: &lantrust_csr::Policy,
        csr_der: &[u8],
    ) -> Option<lantrust_csr::AcceptedCsr> {
        lantrust_csr::validate(csr_der, policy).ok()
    }
}

fn bad_csr(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadCsr, 400, detail)
}

impl Issuer for CaIssuer {
    fn issue(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        account: &AccountRecord,
        now: Duration,
    ) -> Result<Issued, Problem> {
        let device_id = order
            .identifiers
            .iter()
            .find(|i| i.kind == IdentifierType::Dns)
            .map(lantrust_acme::server::device_id);
        let pre = self.prevalidated.take().and_then(|(der, accepted)| {
            (der == csr_der && device_id.as_deref() == Some(accepted.device_id()))
                .then_some(accepted)
        });
        let mut policy = self.policy.clone();
        if let Some(id) = &device_id {
            policy = policy.with_device_id(id.clone());
        }
        let validated = match pre {
            Some(accepted) => Ok(accepted),
            None => lantrust_csr::validate(csr_der, &policy),
        };
        let accepted = validated.map_err(|e| {
            let mut p = bad_csr(format!("the CSR does not meet the device policy: {e}"));
            p.subproblems = e
                .violations()
                .iter()
                .map(|v| Subproblem {
                    kind: ProblemType::BadCsr,
                    detail: Some(v.to_string()),
                    identifier: None,
                })
                .collect();
            tracing::info!(account = %account.id, "CSR refused: {e}");
            p
        })?;
        let request = DeviceRequest {
            device_id: accepted.device_id().to_string(),
            dns_names: accepted.dns_names().to_vec(),
            ip_addrs: accepted.ip_addrs().to_vec(),
            public_key: accepted.public_key().clone(),
        };
        let cert = self
            .root
            .issue(&request, &self.options, now, &mut OsRng)
            .map_err(|e| bad_csr(format!("cannot issue: {e}")))?;
        let leaf_pem = lantrust_ca::certificate_to_pem(&cert)
            .map_err(|e| Problem::new(ProblemType::ServerInternal, 500, e.to_string()))?;
        let leaf_der = lantrust_ca::certificate_to_der(&cert)
            .map_err(|e| Problem::new(ProblemType::ServerInternal, 500, e.to_string()))?;
        tracing::info!(
            device = accepted.device_id(),
            names = ?accepted.dns_names(),
            "issued a certificate"
        );
        Ok(Issued {
            pem_chain: format!("{leaf_pem}{}", self.root_pem),
            leaf_der,
            alternates: Vec::new(),
        })
    }
}

/// A signed CRL: the revocations it lists, when it was signed, its DER.
type CachedCrl = (Vec<state::Revoked>, Duration, Vec<u8>);

type Core = Server<SqliteStore, DbApproval, CaIssuer>;

struct App {
    core: Mutex<Core>,
    /// The CSR policy, for validating finalize requests outside the core's lock.
    csr_policy: lantrust_csr::Policy,
    /// Makes the core's commits durable before a response leaves (group commit).
    durability: crate::durable::Durability,
    config: Config,
    origin: String,
    root_pem: String,
    root: Root,
    state: StateDir,
    resolve: HashMap<String, SocketAddr>,
    http01_port: u16,
    tls_alpn_port: u16,
    /// The last CRL: the revocations it lists, when it was signed, its DER.
    crl_cache: Mutex<Option<CachedCrl>>,
    /// Abuse limits (`serve` flags).
    limits: LimitArgs,
    /// Every device is approved at once: no order waits for a human, the pending caps are moot.
    auto_approve: bool,
    /// New-account token buckets per source.
    accounts: AccountBuckets,
    /// A connection of its own for the pending-order caps (outside the core's lock).
    limits_db: Mutex<Connection>,
    /// Lifetime of orders (how long an order's source is remembered).
    order_lifetime: Duration,
    /// Serialises newOrder requests while the pending caps are in force, so that counting,
    /// creating and recording an order is one step and concurrent requests cannot overshoot.
    new_order_gate: Mutex<()>,
    /// The core's configuration, for telling requests apart before the core is asked.
    acme_cfg: ServerConfig,
    /// The token of the /admin endpoints (`None`: `--no-http-admin`).
    admin_token: Option<AdminToken>,
}

// -------------------------------------------------------------------------------------------
// Serving

pub(crate) fn serve(a: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(a))
}

async fn run(a: ServeArgs) -> Result<()> {
    let st = StateDir::new(&a.state);
    st.check_private()?;
    // Temp files of a killed writer (e.g. the admin token's) are removed before anything is read.
    let recovery = lantrust_cli::fs::recover(&a.state)
        .with_context(|| format!("recovering {} after a crash", a.state.display()))?;
    if !recovery.is_clean() {
        tracing::warn!(
            completed = ?recovery.completed,
            removed = ?recovery.removed,
            "cleaned up after an earlier crash"
        );
    }
    if st.ensure_admin_token()? {
        tracing::info!(
            path = %st.admin_token().display(),
            "created the admin token for the /admin endpoints"
        );
    }
    let admin_token = if a.no_http_admin {
        None
    } else {
        Some(AdminToken::new(state::read_token(&st.admin_token())?))
    };
    let conn = group_commit_connection(&st)?;
    let config = st.config(&conn)?;
    let root_pem = std::fs::read_to_string(st.root_cert())
        .with_context(|| format!("reading {}", st.root_cert().display()))?;
    let key_pem = zeroize_string(
        std::fs::read_to_string(st.root_key())
            .with_context(|| format!("reading {}", st.root_key().display()))?,
    );
    let root = Root::from_pem(&root_pem, &key_pem).context("loading the network root")?;
    let root2 = Root::from_pem(&root_pem, &key_pem).context("loading the network root")?;
    drop(key_pem);

    let origin = match &a.url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None if a.listen.ip().is_unspecified() => {
            format!("https://{}.local:{}", config.name, a.listen.port())
        }
        None => match a.listen {
            SocketAddr::V4(v4) => format!("https://{}:{}", v4.ip(), v4.port()),
            SocketAddr::V6(v6) => format!("https://[{}]:{}", v6.ip(), v6.port()),
        },
    };

    let mut scfg = ServerConfig::new(&format!("{origin}/acme"));
    scfg.allow_high_s = a.generic_clients;
    scfg.retry_after = Duration::from_secs(3);
    scfg.nonce_capacity = usize::try_from(a.nonce_capacity).unwrap_or(usize::MAX);
    let order_lifetime = scfg.order_lifetime;
    let acme_cfg = scfg.clone();
    let policy = lantrust_csr::Policy::new(config.name.clone(), config.domains.clone())
        .with_generic_client_compat(a.generic_clients);
    let issuer = CaIssuer {
        root: root2,
        root_pem: root_pem.clone(),
        policy: policy.clone(),
        options: IssuanceOptions {
            validity: Duration::from_secs(a.cert_days * 86_400),
            client_auth: false,
        },
        prevalidated: None,
    };
    let approval = DbApproval {
        conn: group_commit_connection(&st)?,
        auto_approve: a.auto_approve,
        config: config.clone(),
    };
    let core = Server::new(scfg, SqliteStore::new(conn), approval, issuer);

    let cert = Arc::new(ServerCert(std::sync::RwLock::new(server_cert(
        &root, &config,
    )?)));
    let tls = tls_config(cert.clone())?;
    let app_state = st.clone();
    let app = Arc::new(App {
        core: Mutex::new(core),
        csr_policy: policy,
        durability: crate::durable::Durability::new(st.db()),
        config: config.clone(),
        origin: origin.clone(),
        root_pem,
        root,
        state: st.clone(),
        resolve: a.resolve.into_iter().collect(),
        http01_port: a.http01_port,
        tls_alpn_port: a.tls_alpn_port,
        crl_cache: Mutex::new(None),
        accounts: AccountBuckets::new(a.limits.effective().new_accounts_per_minute),
        limits_db: Mutex::new(app_state.open()?),
        limits: a.limits.effective(),
        auto_approve: a.auto_approve,
        order_lifetime,
        new_order_gate: Mutex::new(()),
        acme_cfg,
        admin_token,
    });

    let router = Router::new()
        .route("/roots.pem", get(roots))
        .route("/crl", get(crl))
        .route("/acme/{*rest}", any(acme))
        .route("/admin", any(admin))
        .route("/admin/{*rest}", any(admin))
        .fallback(not_found)
        .with_state(app.clone());

    let listener = TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("listening on {}", a.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        directory = %format!("{origin}/acme/directory"),
        auto_approve = a.auto_approve,
        generic_clients = a.generic_clients,
        "lantrust-server is serving"
    );
    let renew = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SERVER_CERT_RENEWAL).await;
            match server_cert(&renew.root, &renew.config) {
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
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let conns = Connections::new(
        app.limits.max_connections,
        app.limits.max_connections_per_source,
    );
    let handshake_timeout = Duration::from_secs(app.limits.handshake_timeout);
    let header_timeout = Duration::from_secs(app.limits.header_timeout);
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
                tracing::debug!(%peer, ?why, "connection refused: over the connection cap");
                drop(tcp);
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
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

fn zeroize_string(s: String) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(s)
}

/// How often the HTTPS certificate (valid 90 days) is replaced while serving.
const SERVER_CERT_RENEWAL: Duration = Duration::from_secs(30 * 86_400);

/// The HTTPS certificate, replaced by a background task every [`SERVER_CERT_RENEWAL`].
#[derive(Debug)]
struct ServerCert(std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>);

impl rustls::server::ResolvesServerCert for ServerCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.read().ok().map(|c| c.clone())
    }
}

/// A fresh P-384 key and a certificate from the root for `<name>.local`, `<name>.<domain>` and
/// the configured IPs (90 days), with the root as chain.
fn server_cert(root: &Root, config: &Config) -> Result<Arc<rustls::sign::CertifiedKey>> {
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
        client_auth: false,
    };
    let cert = root.issue(&req, &opts, state::now(), &mut OsRng)?;
    let leaf = lantrust_ca::certificate_to_der(&cert)?;
    let key_der = key.to_pkcs8_der()?;
    let chain = vec![
        rustls_pki_types::CertificateDer::from(leaf),
        rustls_pki_types::CertificateDer::from(root.certificate_der().to_vec()),
    ];
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
        key_der.to_vec(),
    ));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| anyhow!("the HTTPS key is unusable: {e}"))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(chain, signer)))
}

fn tls_config(cert: Arc<ServerCert>) -> Result<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

// -------------------------------------------------------------------------------------------
// Handlers

async fn not_found() -> HttpResponse {
    (
        StatusCode::NOT_FOUND,
        "not found: the ACME directory is /acme/directory, the root /roots.pem, the CRL /crl\n",
    )
        .into_response()
}

async fn roots(State(app): State<Arc<App>>) -> HttpResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/pem-certificate-chain",
        )],
        app.root_pem.clone(),
    )
        .into_response()
}

async fn crl(State(app): State<Arc<App>>) -> HttpResponse {
    let app2 = app.clone();
    let r = tokio::task::spawn_blocking(move || make_crl(&app2)).await;
    match r {
        Ok(Ok(der)) => (
            [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
            der,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "CRL generation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response(),
    }
}

/// A DER CRL of every revocation; re-signed when the list changes or after 12 hours (nextUpdate
/// is 24 hours), with a cRLNumber that grows in the database.
fn make_crl(app: &App) -> Result<Vec<u8>> {
    use lantrust_ca::{CrlReason, RevokedCertificate, SerialNumber};
    let mut conn = app.state.open()?;
    let list = state::revocations(&conn)?;
    let now = state::now();
    let mut cache = app
        .crl_cache
        .lock()
        .map_err(|_| anyhow!("CRL cache poisoned"))?;
    if let Some((l, at, der)) = cache.as_ref()
        && *l == list
        && now.saturating_sub(*at) < Duration::from_secs(12 * 3600)
    {
        return Ok(der.clone());
    }
    let revoked = list
        .iter()
        .map(|(serial, reason, at)| {
            Ok(RevokedCertificate {
                serial: SerialNumber::new(serial).map_err(|e| anyhow!("stored serial: {e}"))?,
                revoked_at: Duration::from_secs(*at),
                reason: match reason {
                    Some(1) => CrlReason::KeyCompromise,
                    Some(3) => CrlReason::AffiliationChanged,
                    Some(4) => CrlReason::Superseded,
                    Some(5) => CrlReason::CessationOfOperation,
                    Some(9) => CrlReason::PrivilegeWithdrawn,
                    _ => CrlReason::Unspecified,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let number = state::next_crl_number(&mut conn)?;
    let crl = app
        .root
        .crl(&revoked, number, now, Duration::from_secs(24 * 3600))?;
    let der = der::Encode::to_der(&crl).map_err(|e| anyhow!("encoding the CRL: {e}"))?;
    *cache = Some((list, now, der.clone()));
    Ok(der)
}

fn problem_response(p: &Problem, nonce_source: Option<&App>) -> HttpResponse {
    let mut r = Response {
        status: p.status.unwrap_or(400),
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: lantrust_acme::to_json(p),
    };
    if let Some(app) = nonce_source
        && let Some(n) = fresh_nonce(app)
    {
        r.headers.push(("Replay-Nonce".into(), n));
    }
    to_http(r, false)
}

/// A nonce for a response the core did not produce (so the client can retry at once).
fn fresh_nonce(app: &App) -> Option<String> {
    let req = Request {
        method: Method::Head,
        url: format!("{}/acme/new-nonce", app.origin),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let mut core = app.core.lock().ok()?;
    let r = core.handle(&req, state::now(), &mut OsRng);
    r.header("replay-nonce").map(str::to_string)
}

fn to_http(r: Response, head: bool) -> HttpResponse {
    let mut b = axum::http::Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (n, v) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            b = b.header(n.as_str(), v);
        }
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(r.body)
    };
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn acme(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
    body: Body,
) -> HttpResponse {
    let m = match method {
        HttpMethod::GET => Method::Get,
        HttpMethod::HEAD => Method::Head,
        HttpMethod::POST => Method::Post,
        _ => {
            let p = Problem::new(
                ProblemType::Malformed,
                405,
                "method not allowed: ACME uses GET, HEAD and POST",
            );
            return problem_response(&p, Some(&app));
        }
    };
    let url = format!("{}{}", app.origin, uri.path());
    let kind = app.acme_cfg.request_kind(m, &url);
    if kind == RequestKind::NewAccount {
        if let Err(wait) = app.accounts.take(peer.ip(), std::time::Instant::now()) {
            let detail = format!(
                "too many new accounts from {} (the limit is {} per minute per source address, --new-accounts-per-minute); retry later",
                crate::limits::source(peer.ip()),
                app.limits.new_accounts_per_minute
            );
            tracing::info!(%peer, "new account refused: rate limit");
            return rate_limited(&app, detail, wait);
        }
    }
    let body_timeout = Duration::from_secs(app.limits.body_timeout);
    let body = match tokio::time::timeout(body_timeout, read_body(body)).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            let p = Problem::new(
                ProblemType::Malformed,
                408,
                format!(
                    "the request body did not arrive within {} s; send the whole request at once",
                    body_timeout.as_secs()
                ),
            );
            tracing::info!(%peer, "request body timed out");
            let mut r = problem_response(&p, Some(&app));
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            return r;
        }
        Ok(Err(size)) => {
            let p = Problem::new(
                ProblemType::Malformed,
                413,
                format!("the request body ({size}) is larger than {MAX_BODY} bytes"),
            );
            return problem_response(&p, Some(&app));
        }
    };
    let req = Request {
        method: m,
        url,
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
    };
    let app2 = app.clone();
    let r = tokio::task::spawn_blocking(move || handle_blocking(&app2, &req, kind, peer)).await;
    let (resp, validations) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(refused)) => return refused,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            let p = Problem::new(ProblemType::ServerInternal, 500, "internal error");
            return problem_response(&p, None);
        }
    };
    for v in validations {
        tokio::spawn(validate(app.clone(), v));
    }
    to_http(resp, m == Method::Head)
}

/// The HTTP admin endpoints (token-protected; see `admin_http`).
async fn admin(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> HttpResponse {
    let Some(token) = &app.admin_token else {
        return not_found().await;
    };
    crate::admin_http::handle(app.state.clone(), token, method, uri.path(), &headers).await
}

/// RFC 8555 §6.6: `rateLimited` (429) with Retry-After.
fn rate_limited(app: &App, detail: String, retry_after: Duration) -> HttpResponse {
    let p = Problem::new(ProblemType::RateLimited, 429, detail);
    let mut r = problem_response(&p, Some(app));
    let secs = retry_after.as_secs().max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    r
}

/// Whether a newOrder from `peer` would exceed a pending-order cap. With `--auto-approve` no
/// order waits for a human, so the caps do not apply. A database failure lets the order through
/// (the caps protect capacity, they are not an access control) and is logged. An order for a
/// device that is already approved (a renewal) never waits for a human and passes: its device ID
/// comes from the core's unverified reading of the JWS payload, which is enough here because
/// such an order would not count as pending either.
fn over_pending_cap(app: &App, peer: SocketAddr, device: Option<&str>) -> Option<PendingCap> {
    let (per_source, total) = (
        app.limits.max_pending_per_source,
        app.limits.max_pending_total,
    );
    if !pending_caps_apply(app) {
        return None;
    }
    let ip = crate::limits::source(peer.ip());
    let counts = (|| {
        let conn = app.limits_db.lock().ok()?;
        if let Some(d) = device
            && state::approval_state(&conn, d).ok().flatten().as_deref() == Some("approved")
        {
            return Some((0, 0));
        }
        state::pending_orders(&conn, ip, state::now().as_secs())
            .inspect_err(
                |e| tracing::error!(error = %format!("{e:#}"), "counting pending orders failed"),
            )
            .ok()
    })()?;
    if per_source != 0 && counts.0 >= per_source {
        Some(PendingCap::Source(per_source))
    } else if total != 0 && counts.1 >= total {
        Some(PendingCap::Total(total))
    } else {
        None
    }
}

/// Whether the pending-order caps are in force: some cap is set, and orders can wait for a
/// human (not `--auto-approve`).
fn pending_caps_apply(app: &App) -> bool {
    !app.auto_approve
        && (app.limits.max_pending_per_source != 0 || app.limits.max_pending_total != 0)
}

/// Remember the source address of a new order (see [`over_pending_cap`]).
fn record_order_source(app: &App, peer: SocketAddr, resp: &Response) {
    if !pending_caps_apply(app) {
        return;
    }
    let Some(order_id) = resp
        .header("location")
        .and_then(|l| l.rsplit('/').next())
        .map(str::to_string)
    else {
        return;
    };
    let device_id = lantrust_acme::from_json::<Order>(&resp.body)
        .ok()
        .and_then(|o| o.identifiers.first().map(lantrust_acme::server::device_id))
        .unwrap_or_default();
    let expires = state::now().saturating_add(app.order_lifetime).as_secs();
    let ip = crate::limits::source(peer.ip());
    if let Ok(conn) = app.limits_db.lock()
        && let Err(e) = state::record_order_source(&conn, &order_id, ip, &device_id, expires)
    {
        tracing::error!(error = %format!("{e:#}"), "recording an order's source failed");
    }
}

/// Read at most [`MAX_BODY`] bytes. A larger body is drained (up to 1 MiB, so that the client
/// finishes sending and reads the 413 problem instead of a reset) and refused.
async fn read_body(body: Body) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    const DRAIN_LIMIT: usize = 1024 * 1024;
    let mut body = body;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err("unreadable".into());
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= MAX_BODY {
                out.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                return Err("more than 1 MiB".into());
            }
        }
    }
    if total > MAX_BODY {
        return Err(format!("{total} bytes"));
    }
    Ok(out)
}

/// Open a database connection for `serve`: `synchronous=NORMAL`, with [`App::durability`]
/// flushing the WAL before each answer (see `durable.rs`).
fn group_commit_connection(st: &StateDir) -> Result<Connection> {
    let conn = st.open()?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .context("setting synchronous=NORMAL")?;
    Ok(conn)
}

/// One ACME request, on a blocking thread. The expensive, stateless work runs without the core's
/// lock, so requests use every core: the JWS signature check and, for finalize, the CSR's
/// signature and policy. The lock is held for the state change (and the certificate signature);
/// the answer waits until the WAL is on disk. A newOrder over a pending-order cap is refused
/// with the ready HTTP response.
fn handle_blocking(
    app: &App,
    req: &Request,
    kind: RequestKind,
    peer: SocketAddr,
) -> Result<(Response, Vec<Validation>), HttpResponse> {
    let poisoned = || {
        let p = Problem::new(ProblemType::ServerInternal, 500, "server state is poisoned");
        Ok((problem_plain(&p), Vec::new()))
    };
    let Some(job) = app.core.lock().map(|core| core.signature_job(req)).ok() else {
        return poisoned();
    };
    let new_order = kind == RequestKind::NewOrder;
    // Counting, creating and recording an order is one step while the caps are in force, so
    // concurrent newOrders cannot overshoot.
    let _gate = if new_order && pending_caps_apply(app) {
        Some(
            app.new_order_gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    } else {
        None
    };
    if new_order
        && let Some(cap) = over_pending_cap(app, peer, job.as_ref().and_then(|j| j.device_id()))
    {
        tracing::info!(%peer, ?cap, "order refused: too many orders waiting for approval");
        let detail = cap.detail(crate::limits::source(peer.ip()));
        return Err(rate_limited(app, detail, Duration::from_secs(60)));
    }
    let checked = job.as_ref().and_then(|j| j.run(req));
    let csr = checked.as_ref().and(job.as_ref()).and_then(|j| j.csr_der());
    let pre =
        csr.and_then(|der| Some((CaIssuer::prevalidate(&app.csr_policy, der)?, der.to_vec())));
    let (resp, validations) = {
        let Ok(mut core) = app.core.lock() else {
            return poisoned();
        };
        if let Some((accepted, der)) = pre {
            core.issuer_mut().prevalidated = Some((der, accepted));
        }
        let r = handle_locked(&mut core, req, checked.as_ref());
        core.issuer_mut().prevalidated = None;
        r
    };
    if new_order && resp.status == 201 {
        record_order_source(app, peer, &resp);
    }
    if req.method == Method::Post
        && let Err(e) = app.durability.wait()
    {
        tracing::error!(error = %e, "flushing the database to disk failed");
        let p = Problem::new(
            ProblemType::ServerInternal,
            500,
            "the server could not store this request durably; retry later",
        );
        return Ok((replace_body(resp, &p), validations));
    }
    Ok((resp, validations))
}

fn handle_locked(
    core: &mut Core,
    req: &Request,
    checked: Option<&lantrust_acme::server::CheckedSignature>,
) -> (Response, Vec<Validation>) {
    let now = state::now();
    let resp = core.handle_checked(req, now, &mut OsRng, checked);
    let mut validations = Vec::new();
    while let Some(v) = core.poll_validation() {
        validations.push(v);
    }
    if resp.status >= 400 {
        tracing::info!(
            method = req.method.as_str(),
            url = %req.url,
            status = resp.status,
            problem = %String::from_utf8_lossy(&resp.body),
            "request refused"
        );
    } else {
        tracing::debug!(method = req.method.as_str(), url = %req.url, status = resp.status);
    }
    (resp, validations)
}

fn problem_plain(p: &Problem) -> Response {
    Response {
        status: p.status.unwrap_or(400),
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: lantrust_acme::to_json(p),
    }
}

/// Keep the core's Replay-Nonce and Link headers, replace the rest with a problem document.
fn replace_body(resp: Response, p: &Problem) -> Response {
    let mut out = problem_plain(p);
    for (n, v) in resp.headers {
        if n.eq_ignore_ascii_case("replay-nonce")
            || n.eq_ignore_ascii_case("link")
            || n.eq_ignore_ascii_case("cache-control")
        {
            out.headers.push((n, v));
        }
    }
    out
}

/// Identifiers outside the network's scope: DNS names not under `.local` or a configured domain,
/// the server's own name, `localhost`, public IPs, or several device IDs in one order.
fn out_of_scope(config: &Config, identifiers: &[lantrust_acme::Identifier]) -> Option<Problem> {
    let mut subs = Vec::new();
    let mut ids = Vec::new();
    for ident in identifiers {
        let bad = match ident.kind {
            IdentifierType::Dns => {
                let v = ident.value.to_ascii_lowercase();
                let (label, rest) = v.split_once('.').unwrap_or((&v, ""));
                let in_scope = rest == "local" || config.domains.iter().any(|d| d == rest);
                if !ids.iter().any(|i: &String| i == label) {
                    ids.push(label.to_string());
                }
                if !in_scope {
                    let mut allowed = vec!["<id>.local".to_string()];
                    allowed.extend(config.domains.iter().map(|d| format!("<id>.{d}")));
                    Some(format!(
                        "{v} is not a name on this network; this server issues only {}",
                        allowed.join(", ")
                    ))
                } else if label == config.name || label == "localhost" {
                    Some(format!("{v}: the name {label:?} is reserved"))
                } else {
                    None
                }
            }
            IdentifierType::Ip => match ident.value.parse::<std::net::IpAddr>() {
                Ok(ip) if lantrust_ca::is_private_ip(ip) => None,
                _ => Some(format!(
                    "{} is not a private, link-local or loopback address",
                    ident.value
                )),
            },
            _ => Some(format!("unsupported identifier {}", ident.value)),
        };
        if let Some(detail) = bad {
            subs.push(Subproblem {
                kind: ProblemType::RejectedIdentifier,
                detail: Some(detail),
                identifier: Some(ident.clone()),
            });
        }
    }
    if subs.is_empty() && ids.len() > 1 {
        return Some(Problem::new(
            ProblemType::RejectedIdentifier,
            400,
            format!(
                "one order is for one device; these names belong to {} devices ({})",
                ids.len(),
                ids.join(", ")
            ),
        ));
    }
    if subs.is_empty() {
        return None;
    }
    let detail = subs
        .iter()
        .filter_map(|s| s.detail.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let mut p = Problem::new(ProblemType::RejectedIdentifier, 400, detail);
    p.subproblems = subs;
    Some(p)
}

// -------------------------------------------------------------------------------------------
// Challenge validation toward devices

async fn validate(app: Arc<App>, v: Validation) {
    let result = match v.kind {
        ChallengeType::Http01 => http01(&app, &v).await,
        ChallengeType::TlsAlpn01 => tls_alpn01(&app, &v).await,
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
    let _ = tokio::task::spawn_blocking(move || {
        if let Ok(mut core) = app.core.lock() {
            if let Err(e) =
                core.validation_result(&v.authz_id, &v.challenge_id, result, state::now())
            {
                tracing::error!(error = %e, "could not store a validation result");
            }
        }
    })
    .await;
}

async fn target_addrs(app: &App, host: &str, port: u16) -> Result<Vec<SocketAddr>, Problem> {
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
async fn http01(app: &App, v: &Validation) -> Result<(), Problem> {
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
async fn tls_alpn01(app: &App, v: &Validation) -> Result<(), Problem> {
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

async fn http_get(addr: SocketAddr, host: &str, token: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).await?;
    let host_hdr = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let req = format!(
        "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {host_hdr}\r\nUser-Agent: lantrust-server\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("response larger than 64 KiB"));
        }
    }
    parse_http_response(&buf)
}

fn parse_http_response(buf: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of HTTP headers"))?;
    let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).to_string();
    let body = buf.get(end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad HTTP status line"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            let (n, v) = (n.trim(), v.trim());
            if n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    if chunked {
        let mut out = Vec::new();
        let mut rest = body;
        loop {
            let p = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size_txt = String::from_utf8_lossy(rest.get(..p).unwrap_or_default()).to_string();
            let size = usize::from_str_radix(size_txt.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                break;
            }
            let data = rest
                .get(p + 2..p + 2 + size)
                .ok_or_else(|| bad("truncated chunk"))?;
            out.extend_from_slice(data);
            rest = rest.get(p + 4 + size..).unwrap_or_default();
        }
        return Ok((status, out));
    }
    let body = match length {
        Some(n) => body.get(..n).ok_or_else(|| bad("truncated body"))?,
        None => body,
    };
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let (s, b) =
            parse_http_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello+extra")
                .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"hello"[..]));
        let (s, b) = parse_http_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"abcde"[..]));
        let (s, _) = parse_http_response(b"HTTP/1.0 404 Not Found\r\n\r\n").unwrap();
        assert_eq!(s, 404);
        assert!(parse_http_response(b"garbage").is_err());
        assert!(
            parse_http_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .is_err()
        );
    }

    #[test]
    fn scope_refuses_public_and_reserved_names() {
        let cfg = Config {
            name: "router".into(),
            domains: vec!["home.arpa".into()],
            ips: vec![],
        };
        let order = |names: &[&str]| -> Order {
            let ids: Vec<_> = names
                .iter()
                .map(|n| serde_json::json!({"type": "dns", "value": n}))
                .collect();
            let v = serde_json::json!({"status": "pending", "identifiers": ids,
                "authorizations": [], "finalize": "https://x/f"});
            lantrust_acme::from_json(v.to_string().as_bytes()).unwrap()
        };
        assert!(
            out_of_scope(&cfg, &order(&["dev1.local", "dev1.home.arpa"]).identifiers).is_none()
        );
        let p = out_of_scope(
            &cfg,
            &order(&["dev1.local", "dev1.example.com"]).identifiers,
        )
        .unwrap();
        assert_eq!(p.kind, ProblemType::RejectedIdentifier);
        assert_eq!(p.subproblems.len(), 1);
        assert!(
            p.detail
                .unwrap()
                .contains("dev1.example.com is not a name on this network")
        );
        assert!(out_of_scope(&cfg, &order(&["router.local"]).identifiers).is_some());
        assert!(out_of_scope(&cfg, &order(&["a.b.local"]).identifiers).is_some());
        assert!(out_of_scope(&cfg, &order(&["dev1.local", "dev2.local"]).identifiers).is_some());
    }
}
