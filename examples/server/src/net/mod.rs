//! The network layer of `serve`: the only code that awaits. It owns the sockets, the clock (read
//! once per request, here) and the tasks, and drives the synchronous [`AcmeService`]:
//!
//! - `http`: the router, body limits, axum ↔ core `Request` (RFC 8555 §6: HTTPS requests);
//! - `tls`: the HTTPS certificate and its renewal, the accept loop, connection caps;
//! - `challenge`: http-01 and tls-alpn-01 toward devices (RFC 8555 §8.3, RFC 8737);
//! - `admin`: the token-protected /admin endpoints (draft §3.4.4 approvals over HTTPS).

mod admin;
mod challenge;
mod http;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use lantrust_acme::server::{Server, ServerConfig};
use lantrust_ca::{IssuanceOptions, Root};
use tokio::net::TcpListener;

pub(crate) use self::admin::AdminToken;
use crate::service::AcmeService;
use crate::service::admission::{Admission, LimitArgs};
use crate::service::durable::Durability;
use crate::service::hooks::{CaIssuer, DbApproval};
use crate::service::neighbours::{NeighbourArgs, Neighbours};
use crate::store::{self, SqliteStore, StateDir};

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
    #[command(flatten)]
    neighbours: NeighbourArgs,
}

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
        Some(AdminToken::new(store::read_token(&st.admin_token())?))
    };
    let conn = st.open_for_serve()?;
    let config = st.config(&conn)?;
    let root_pem = std::fs::read_to_string(st.root_cert())
        .with_context(|| format!("reading {}", st.root_cert().display()))?;
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(st.root_key())
            .with_context(|| format!("reading {}", st.root_key().display()))?,
    );
    // One root, shared by the issuer, the CRL and the HTTPS certificate.
    let root = Arc::new(Root::from_pem(&root_pem, &key_pem).context("loading the network root")?);
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
    let policy = lantrust_csr::Policy::new(config.name.clone(), config.domains.clone())
        .with_generic_client_compat(a.generic_clients);
    let issuer = CaIssuer::new(
        root.clone(),
        root_pem.clone(),
        policy.clone(),
        IssuanceOptions {
            validity: Duration::from_secs(a.cert_days * 86_400),
            client_auth: false,
        },
    );
    let approval = DbApproval::new(st.open_for_serve()?, a.auto_approve, config.clone())
        .with_neighbours(Neighbours::new(a.neighbours.dhcp_leases.clone()));
    let admission = Admission::new(&a.limits, a.auto_approve, scfg.order_lifetime, st.open()?);
    let core = Server::new(scfg.clone(), SqliteStore::new(conn), approval, issuer);
    let service = Arc::new(AcmeService::new(
        core,
        scfg,
        policy,
        admission,
        Some(Durability::new(st.db())),
        root.clone(),
        Some(st.clone()),
    ));

    let cert = Arc::new(tls::ServerCert(std::sync::RwLock::new(tls::server_cert(
        &root, &config,
    )?)));
    let tls_cfg = tls::tls_config(cert.clone())?;
    let limits = service.admission().limits().clone();
    let router = http::router(Arc::new(http::App {
        service,
        targets: Arc::new(challenge::Targets {
            resolve: a.resolve.into_iter().collect(),
            http01_port: a.http01_port,
            tls_alpn_port: a.tls_alpn_port,
        }),
        origin: origin.clone(),
        root_pem,
        state: st,
        admin_token,
    }));

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
    tls::spawn_renewal(cert, root, config);
    tls::accept_loop(listener, tls_cfg, router, &limits).await
}
