//! The network layer of `serve`: the only code that awaits. It owns the sockets, the clock (read
//! once per request, here) and the tasks, and drives the synchronous [`AcmeService`]:
//!
//! - `http`: the router, body limits, axum ↔ core `Request` (RFC 8555 §6: HTTPS requests);
//! - `tls`: the HTTPS certificate and its renewal, the accept loop, connection caps;
//! - `challenge`: http-01 and tls-alpn-01 toward devices (RFC 8555 §8.3, RFC 8737);
//! - `admin`: the token-protected /admin endpoints (draft §3.4.4 approvals over HTTPS);
//! - `console`: the owner's web console under /admin/ (sign-in, approvals, the root);
//! - `lan`: which source addresses are served (draft §4.1: the local network only);
//! - `wake`: wakes polls held while a device awaits approval when the owner decides (§3.4.4).

mod admin;
mod challenge;
pub(crate) mod console;
mod http;
mod lan;
mod rotation;
mod tls;
mod wake;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use lantrust_acme::server::{Server, ServerConfig};
use lantrust_ca::IssuanceOptions;
use tokio::net::TcpListener;

pub(crate) use self::admin::AdminToken;
use crate::service::AcmeService;
use crate::service::admission::{Admission, LimitArgs};
use crate::service::durable::Durability;
use crate::service::hooks::{CaIssuer, DbApproval};
use crate::service::neighbours::{NeighbourArgs, Neighbours};
use crate::store::{self, DbStore, StateDir};

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
    /// RFC 9773 renewalInfo: how long clients wait before asking again (`Retry-After`), in
    /// seconds; capped at a twelfth of each certificate's lifetime.
    #[arg(long, value_name = "SECS", default_value_t = 6 * 3600, value_parser = clap::value_parser!(u64).range(1..=7 * 86_400))]
    ari_retry_after: u64,
    /// RFC 9773 renewalInfo: an `explanationURL` page for operators of clients.
    #[arg(long, value_name = "URL")]
    ari_explanation_url: Option<String>,
    /// Most outstanding Replay-Nonce values; the oldest are forgotten beyond it (memory stays
    /// bounded however many nonces clients ask for).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    nonce_capacity: u64,
    /// Turn off the HTTP admin endpoints (/admin/... and /metrics); the approval commands then
    /// need local access to the state directory. By default /metrics (Prometheus text format:
    /// issuances, pending approvals, refusals by kind, request latencies, certificate expiries,
    /// CRL age) is served with /admin and needs the same `Authorization: Bearer` admin token.
    #[arg(long)]
    no_http_admin: bool,
    /// Serve the /admin endpoints and /metrics on this address only (e.g. 127.0.0.1:9443, or an
    /// address on a management VLAN), instead of on --listen, which then answers them with 404.
    #[arg(long, value_name = "ADDR", conflicts_with = "no_http_admin")]
    admin_listen: Option<SocketAddr>,
    /// Serve clients from any source address. By default the server answers its local network
    /// only (draft §4.1): requests from addresses that are not loopback, private (RFC 1918),
    /// link-local or unique-local (fc00::/7) get a 403 `unauthorized` problem, ACME and /admin
    /// alike, so a server reachable from the Internet by mistake (port forwarding, a public
    /// interface) issues nothing and approves nothing there. Use this flag when the devices
    /// really use other addresses: a routed enterprise network with public addressing, CGNAT
    /// (100.64.0.0/10) or an overlay VPN using it, or clients behind a proxy with a public address.
    #[arg(long)]
    allow_public_clients: bool,
    /// The CRL distribution point written into device certificates, where relying parties
    /// fetch revocations (draft §4.5, §4.7; default: ORIGIN/crl, this server's /crl). A plain
    /// http:// URL is fine, the CRL is signed: e.g. a web server publishing STATE/crl.der, which
    /// `serve` keeps current.
    #[arg(long, value_name = "URL")]
    crl_url: Option<String>,
    /// Log lines on stderr: `text` for people, `json` (one object per line: timestamp, level,
    /// target, fields, and the request's span with its request_id, kind, peer and device) for a
    /// log collector. RUST_LOG filters either (default: info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Call this URL (POST, a small JSON object: device ID, names, IP, MAC, vendor, key-change
    /// flag) once for each request that starts waiting for approval; fire-and-forget with a 5 s
    /// timeout, failures are logged.
    #[arg(long, value_name = "URL")]
    notify_url: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    neighbours: NeighbourArgs,
}

/// The format of `serve`'s log lines.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

pub(crate) fn serve(a: ServeArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match a.log_format {
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
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
        Some(AdminToken::new(store::read_token(&st.admin_token())?))
    };
    // The core's, the approval hooks' and the admission's connections, opened on a blocking
    // thread: the PostgreSQL client runs a runtime of its own, which may not start on an async
    // worker (store/db.rs).
    // On PostgreSQL, a fourth for the replay nonces the replicas share (RFC 8555 §6.5).
    let (conn, hooks_db, admission_db, nonce_db) = {
        let st = st.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let nonces = if st.store_url_file().exists() {
                Some(st.open()?)
            } else {
                None
            };
            Ok((
                st.open_for_serve()?,
                st.open_for_serve()?,
                st.open()?,
                nonces,
            ))
        })
        .await
        .context("opening the database")??
    };
    let config = {
        let (st, db) = (st.clone(), conn);
        let (config, db) = tokio::task::spawn_blocking(move || -> Result<_> {
            let config = st.config(&db)?;
            Ok((config, db))
        })
        .await
        .context("reading the network configuration")??;
        (config, db)
    };
    let (config, conn) = config;
    if let Some(url) = st.store_url()? {
        tracing::info!(store = %store::db::redact(&url), "the records are in PostgreSQL (shared with any other replica of this store)");
        if let Some(w) = store::pgtls::Target::parse(&url)?.weakness() {
            tracing::warn!(store = %store::db::redact(&url), "{w}");
        }
    }
    // One current root, shared by the issuer, the CRL and the HTTPS certificate; after a
    // `rotate-root`, the earlier roots (their CRLs) and the link certificates too.
    let roots = crate::rotate::Roots::load(&st)?;
    let root: Arc<lantrust_ca::Root> = roots.current.clone();
    let root_pem = roots.current_pem.clone();

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

    // RFC 5280 §4.2.1.13: where device certificates say their CRL is.
    // The default names the issuing root's key (/crl/<key id>), so it stays right after a root
    // rotation, when /crl is the new root's CRL and this root's is still served there.
    let crl_url = a
        .crl_url
        .clone()
        .unwrap_or_else(|| format!("{origin}/crl/{}", crate::rotate::hex(root.key_identifier())));
    anyhow::ensure!(
        crl_url.starts_with("http://") || crl_url.starts_with("https://"),
        "--crl-url {crl_url:?}: must be an http:// or https:// URL"
    );
    let mut scfg = ServerConfig::new(&format!("{origin}/acme"));
    scfg.allow_high_s = a.generic_clients;
    scfg.retry_after = Duration::from_secs(3);
    scfg.nonce_capacity = usize::try_from(a.nonce_capacity).unwrap_or(usize::MAX);
    scfg.renewal_retry_after = Duration::from_secs(a.ari_retry_after);
    scfg.renewal_explanation_url = a.ari_explanation_url.clone();
    let policy = lantrust_csr::Policy::new(config.name.clone(), config.domains.clone())
        .with_generic_client_compat(a.generic_clients);
    let issuer = CaIssuer::new(
        root.clone(),
        roots.chain_tail_pem(),
        policy.clone(),
        IssuanceOptions {
            validity: Duration::from_secs(a.cert_days * 86_400),
            client_auth: false,
            crl_distribution_point: Some(crl_url.clone()),
        },
    )
    .with_alternate_tail(if roots.links.is_empty() {
        None
    } else {
        // RFC 8555 §7.4.2: the short chain (leaf + new root) as an alternate.
        Some(root_pem.clone())
    });
    let approval = DbApproval::new(hooks_db, a.auto_approve, config.clone())
        .with_neighbours(Neighbours::new(a.neighbours.dhcp_leases.clone()));
    let admission = Admission::new(&a.limits, a.auto_approve, scfg.order_lifetime, admission_db);
    let mut core = Server::new(scfg.clone(), DbStore::new(conn), approval, issuer);
    if let Some(db) = nonce_db {
        core = core.with_nonce_book(Box::new(store::SharedNonces::new(db)));
    }
    let service = Arc::new(AcmeService::new(
        core,
        scfg,
        policy,
        admission,
        // SQLite's group flush of the WAL; PostgreSQL commits durably on its own.
        (!st.store_url_file().exists()).then(|| Durability::new(st.db())),
        root.clone(),
        Some(st.clone()),
    ));

    // The web console (served with /admin) and its webhook.
    let wake = wake::ApprovalWake::spawn(st.clone());
    let console = Arc::new(
        console::Console::new(st.clone(), &root, root_pem.clone()).with_wake(wake.clone()),
    );
    if let Some(url) = &a.notify_url {
        console::check_notify_url(url)?;
        console::spawn_watcher(console.clone(), url.clone());
    }
    let service_for_crl = service.clone();
    let tail = roots.chain_tail();
    let cert = Arc::new(tls::ServerCert(std::sync::RwLock::new(tls::server_cert(
        &root, &config, &tail,
    )?)));
    let tls_cfg = Arc::new(tls::tls_config(cert.clone())?);
    let limits = service.admission().limits().clone();
    let app = Arc::new(http::App {
        service,
        targets: Arc::new(challenge::Targets {
            resolve: a.resolve.into_iter().collect(),
            http01_port: a.http01_port,
            tls_alpn_port: a.tls_alpn_port,
        }),
        origin: origin.clone(),
        root_pem,
        state: st.clone(),
        console: admin_token.is_some().then_some(console),
        admin_token,
        wake,
        rotation: Arc::new(rotation::Published::new(&roots, st.clone())),
    });
    let sources = if a.allow_public_clients {
        lan::Sources::Any
    } else {
        lan::Sources::LocalOnly
    };
    let main_routes = if a.admin_listen.is_some() {
        http::Routes::WithoutAdmin
    } else {
        http::Routes::All
    };
    crate::rotate::spawn_watch(st.clone(), root.certificate_der().to_vec(), CRL_TIMER);
    spawn_crl_timer(service_for_crl, st);

    let listener = TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("listening on {}", a.listen))?;
    let admin_listener = match a.admin_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (--admin-listen)"))?,
        ),
        None => None,
    };
    tracing::info!(
        listen = %listener.local_addr()?,
        admin_listen = ?admin_listener.as_ref().and_then(|l| l.local_addr().ok()),
        directory = %format!("{origin}/acme/directory"),
        auto_approve = a.auto_approve,
        generic_clients = a.generic_clients,
        allow_public_clients = a.allow_public_clients,
        "lantrust-server is serving"
    );
    tracing::info!(crl = %crl_url, "device certificates name this CRL distribution point");
    if a.auto_approve {
        // Every flag also comes from the environment or the config file: say where this one
        // came from, so an approval policy changed behind the owner's back is seen in the log.
        let source = if std::env::var_os("LANTRUST_SERVER_AUTO_APPROVE").is_some() {
            "the environment (LANTRUST_SERVER_AUTO_APPROVE)"
        } else {
            "--auto-approve or the config file"
        };
        tracing::warn!(
            source,
            "auto-approve is ON: every device that asks is approved without the network owner (§3.4.4); use it for labs and load tests only"
        );
    }
    tls::spawn_renewal(cert, root, config, tail);
    let main = tls::accept_loop(
        listener,
        tls_cfg.clone(),
        http::router(app.clone(), main_routes),
        &limits,
        sources,
    );
    match admin_listener {
        None => main.await,
        Some(l) => {
            let admin = tls::accept_loop(
                l,
                tls_cfg,
                http::router(app, http::Routes::AdminOnly),
                &limits,
                sources,
            );
            // Both loops end on SIGINT/SIGTERM; an error in either ends the server.
            tokio::try_join!(main, admin).map(|_| ())
        }
    }
}

/// How often `serve` looks at the revocations to keep the CRL signed (draft §4.5, §4.7): a
/// revocation made by another process (`lantrust-server revoke`) is in STATE/crl.der within this
/// time; /crl itself re-signs at once when the list changed (`AcmeService::crl`).
const CRL_TIMER: Duration = Duration::from_secs(5 * 60);

/// Re-signs the CRL on time, well before its nextUpdate (`AcmeService::crl`: valid 7 days,
/// re-signed after 1 day or on any change), and keeps a copy in STATE/crl.der for a plain-HTTP
/// distribution point; then forgets stale requests for approval ([`store::STALE_REQUEST`]).
/// Runs once at start, then every [`CRL_TIMER`].
fn spawn_crl_timer(service: Arc<AcmeService>, st: StateDir) {
    tokio::spawn(async move {
        let path = st.crl_copy();
        let mut last: Option<Vec<u8>> = None;
        loop {
            let svc = service.clone();
            let now = store::now();
            match tokio::task::spawn_blocking(move || svc.crl(now)).await {
                Ok(Ok(der)) if last.as_ref() != Some(&der) => {
                    // Replicas sharing the state directory each keep this copy: the temp file
                    // is the process's own (`.crl.der.tmp.PID`), so one replica never renames
                    // another's half-written file into place.
                    match lantrust_cli::fs::write_atomic(
                        &path,
                        &der,
                        lantrust_cli::fs::Mode::Public,
                    ) {
                        Ok(()) => tracing::info!(path = %path.display(), "CRL signed"),
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "writing the CRL copy failed")
                        }
                    }
                    last = Some(der);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "signing the CRL failed"),
                Err(e) => tracing::error!(error = %e, "the CRL task failed"),
            }
            // Housekeeping on the same timer: requests nobody decided and nobody repeated for
            // a month are forgotten (`store::STALE_REQUEST`).
            let state = st.clone();
            let cutoff = now.saturating_sub(store::STALE_REQUEST);
            match tokio::task::spawn_blocking(move || {
                store::forget_stale_requests(&state.open()?, cutoff)
            })
            .await
            {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(
                    requests = n,
                    "forgot requests for approval nobody decided and no key repeated for 30 days"
                ),
                Ok(Err(e)) => {
                    tracing::error!(error = %format!("{e:#}"), "forgetting stale requests failed")
                }
                Err(e) => tracing::error!(error = %e, "the housekeeping task failed"),
            }
            tokio::time::sleep(CRL_TIMER).await;
        }
    });
}
