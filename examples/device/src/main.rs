//! A lantrust IoT device (draft-sweet-iot-acme-07 §3.6, §4.5, §4.7, §4.9): discover the local
//! ACME server, enroll with a fresh key, serve an HTTPS status page, renew, reset, rename.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a binary: std is the point

mod acme_run;
mod ari;
mod config;
mod serve;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier};
use lantrust_cli::fs::{Mode, write_atomic};
use lantrust_cli::{Discovered, DiscoveryArgs, ResolveOverride};
use lantrust_csr::{CsrBuilder, KeyAlgorithm};

use crate::acme_run::{Http01, drive};
use crate::state::{
    DeviceConfig, HeldCert, NetworkMeta, SavedDiscovery, State, cert_facts, chain_ders, label,
    root_names_server,
};

/// A lantrust IoT device: finds the network's local ACME server (DHCP or unicast DNS-SD), gets
/// a certificate for `<id>.local` and `<id>.<domain>` after an administrator approves it, and
/// serves HTTPS with it, renewing before it expires.
#[derive(Parser, Debug)]
#[command(name = "lantrust-device", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Find the local ACME server (DHCP hint, else DNS-SD SRV) and print it.
    Discover {
        #[command(flatten)]
        discovery: DiscoveryArgs,
        /// The DNS-SD domain (with --dns).
        #[arg(long, value_name = "D")]
        domain: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Get a certificate from the network's ACME server: fresh key, CSR, order, http-01,
    /// wait for approval, save key (0600) and chain under `DIR/networks/<server>/`.
    Enroll(EnrollArgs),
    /// Serve an HTTPS status page with the issued certificate, renewing it at 2/3 of its lifetime
    /// (after running discovery again, as `renew` does).
    Serve {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Address to serve HTTPS on.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:443")]
        listen: SocketAddr,
        /// Where to answer http-01 challenges during renewals.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:80")]
        http01_listen: SocketAddr,
        /// Renew every SECS seconds instead of at 2/3 of the lifetime (to watch renewal happen).
        #[arg(long, value_name = "SECS")]
        renew_every: Option<u64>,
        /// RFC 9773 (ARI): ask the server's renewalInfo at most this often, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
        ari_min_poll: u64,
        /// RFC 9773 (ARI): ask the server's renewalInfo at least this often, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
        ari_max_poll: u64,
        /// Trust this anchor (PEM; e.g. the company root in a managed network, §3.6 "unless
        /// otherwise configured") for the ACME server's HTTPS on the current network from now
        /// on, instead of the root trusted at enrollment.
        #[arg(long, value_name = "PEM")]
        root: Option<PathBuf>,
    },
    /// Renew the current network's certificate now (fresh key, §4.11). Discovery runs again
    /// first (§3.6), by itself or with the method `enroll` was given, and the renewal follows
    /// the server to a new URL or address; a device enrolled with `--directory` (or
    /// `--dhcp-packet`) keeps that server.
    Renew {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Where to answer http-01 challenges.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:80")]
        http01_listen: SocketAddr,
    },
    /// Factory reset (§4.5): revoke every certificate on its server, then wipe keys and certs.
    Reset {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Wipe without contacting the servers (certificates stay valid until they expire).
        #[arg(long)]
        offline: bool,
    },
    /// Change the device's name on the current network (§4.7): revoke the old name's
    /// certificate there, enroll under the new one.
    Rename {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The new device ID (e.g. `device-12cd57`).
        #[arg(long, value_name = "ID")]
        new_id: String,
        /// Where to answer http-01 challenges.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:80")]
        http01_listen: SocketAddr,
    },
    /// Configuration files for `serve --config FILE` (`config check FILE`).
    #[command(subcommand)]
    Config(lantrust_cli::config::ConfigCmd),
    /// Show the networks and certificates in DIR.
    Status {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
struct EnrollArgs {
    /// State directory (created if missing).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Device ID: the leftmost label of its names and the CSR's commonName; unique per device
    /// (e.g. `device-12cd56`, §4.7). Default: the ID already in DIR, else `device-` and the
    /// last three bytes of the default interface's MAC (else of /etc/machine-id).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Local domain(s) to get `<id>.<domain>` for; the first is also the DNS-SD domain.
    /// Default: the domain the network gives (DHCP option 15 or the DNS-SD domain).
    #[arg(long = "domain", value_name = "D")]
    domains: Vec<String>,
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// Trust this root (PEM) for the server's HTTPS instead of trust on first use.
    #[arg(long, value_name = "PEM")]
    root: Option<PathBuf>,
    /// Accept a root that differs from the one trusted before on this network (§4.8).
    #[arg(long)]
    accept_change: bool,
    /// Connect to IP:PORT whenever NAME is asked for (repeatable).
    #[arg(long, value_name = "NAME=IP:PORT")]
    resolve: Vec<ResolveOverride>,
    /// Where to answer http-01 challenges (the server connects to port 80 of `<id>.local`).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:80")]
    http01_listen: SocketAddr,
    /// Key algorithm for the certificate key.
    #[arg(long, value_name = "ALG", default_value = "p384", value_parser = ["p384", "p521", "rsa3072", "rsa4096"])]
    key: String,
    /// Give up waiting (for approval) after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    timeout: u64,
}

/// A unix time as an RFC 3339 UTC date, for people reading the output.
fn date(unix: u64) -> String {
    lantrust_acme::time::rfc3339(Duration::from_secs(unix))
}

fn main() {
    // `RUST_LOG` takes `level` or `target=level,…` directives. The device uses `Targets`, not
    // `EnvFilter`: the latter's span/field filters pull in a regex engine (~280 KiB of the ~4 MiB
    // footprint budget, issue 9) that a device has no use for.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::WARN)
        });
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
    // `serve --config FILE`: the file's keys become defaults under the flags (config.rs).
    let cli: Cli = lantrust_cli::config::parse(&config::SPEC);
    if let Err(e) = run(cli) {
        eprintln!("lantrust-device: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Discover {
            discovery,
            domain,
            json,
        } => {
            let d = discovery.discover(domain.as_deref())?;
            print_discovered(&d, json)
        }
        Cmd::Enroll(args) => enroll(args),
        Cmd::Serve {
            state,
            listen,
            http01_listen,
            renew_every,
            ari_min_poll,
            ari_max_poll,
            root,
        } => {
            let st = State::open(&state)?;
            if let Some(p) = root {
                configure_anchor(&st, &p)?;
            }
            serve::serve(
                &st,
                listen,
                http01_listen,
                renew_every,
                ari::PollBounds {
                    min: Duration::from_secs(ari_min_poll),
                    max: Duration::from_secs(ari_max_poll.max(ari_min_poll)),
                },
            )
        }
        Cmd::Renew {
            state,
            http01_listen,
        } => {
            let st = State::open(&state)?;
            let label = st.current()?;
            rediscover(&st, &label)?;
            let m = reissue(&st, &label, None, http01_listen, Duration::from_secs(3600))?;
            lantrust_cli::outln!(
                "renewed: serial {} valid until {}",
                m.serial,
                date(m.not_after)
            );
            Ok(())
        }
        Cmd::Reset { state, offline } => reset(&State::open(&state)?, offline),
        Cmd::Rename {
            state,
            new_id,
            http01_listen,
        } => rename(&State::open(&state)?, &new_id, http01_listen),
        Cmd::Status { state, json } => status(&State::open(&state)?, json),
        Cmd::Config(c) => {
            if !config::run(c)? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

fn print_discovered(d: &Discovered, json: bool) -> anyhow::Result<()> {
    if json {
        lantrust_cli::outln!("{}", serde_json::to_string_pretty(d)?);
    } else {
        lantrust_cli::outln!("server:    {}", d.server_name);
        lantrust_cli::outln!("directory: {}", d.directory_url);
        lantrust_cli::outln!("source:    {}", d.source);
        if !d.addresses.is_empty() {
            let a: Vec<String> = d.addresses.iter().map(|a| a.to_string()).collect();
            lantrust_cli::outln!("addresses: {}", a.join(", "));
        }
    }
    Ok(())
}

pub(crate) fn key_algorithm(s: &str) -> KeyAlgorithm {
    match s {
        "p521" => KeyAlgorithm::P521,
        "rsa3072" => KeyAlgorithm::Rsa3072,
        "rsa4096" => KeyAlgorithm::Rsa4096,
        _ => KeyAlgorithm::P384,
    }
}

/// The device ID when none is given (§3.1, §4.7): `device-` and the last three bytes of the MAC
/// of the default route's interface in hex (`device-12cd56`), unique on a LAN as the MAC is;
/// without such an interface, the first six hex digits of `/etc/machine-id`.
fn default_id() -> anyhow::Result<String> {
    if let Some(mac) = lantrust_cli::network::default_interface()
        .and_then(|i| lantrust_cli::network::interface_mac(&i))
        .filter(|m| m.iter().any(|b| *b != 0))
    {
        return Ok(format!(
            "device-{}",
            hex::encode(mac.get(3..).unwrap_or_default())
        ));
    }
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let hex6: String = machine.trim().chars().take(6).collect();
    anyhow::ensure!(
        hex6.len() == 6 && hex6.chars().all(|c| c.is_ascii_hexdigit()),
        "no device ID: no network interface with a MAC and no /etc/machine-id; pass --id ID (e.g. --id device-12cd56)"
    );
    Ok(format!("device-{}", hex6.to_ascii_lowercase()))
}

/// Answers mDNS for `<id>.local` on the default route's interface (once per name per process):
/// the server's http-01 request and clients find the device by that name (§3.4.3, RFC 6762).
/// Not when the device `listens` on loopback only: nothing on the LAN could reach it there (and
/// tests on loopback stay off the host's network).
pub(crate) fn mdns_announce(id: &str, listens: SocketAddr) {
    if listens.ip().is_loopback() {
        return;
    }
    static SERVED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let name = format!("{}.local", id.to_ascii_lowercase());
    let Ok(mut served) = SERVED.lock() else {
        return;
    };
    if served.contains(&name) {
        return;
    }
    let Some(iface) = lantrust_cli::network::default_interface() else {
        eprintln!("mDNS: no network interface is up; {name} is not announced");
        return;
    };
    match lantrust_cli::mdns::spawn_responder(&name, &iface) {
        Ok(()) => {
            eprintln!("mDNS: answering for {name} on {iface}");
            served.push(name);
        }
        Err(e) => eprintln!("mDNS: cannot answer for {name} on {iface}: {e:#}"),
    }
}

fn enroll(args: EnrollArgs) -> anyhow::Result<()> {
    let st = State::open(&args.state)?;
    let old = st.config()?;
    let id = match (&args.id, &old) {
        (Some(id), _) => id.clone(),
        (None, Some(c)) => c.id.clone(),
        (None, None) => {
            let id = default_id()?;
            eprintln!("device ID {id} (no --id given)");
            id
        }
    };
    let factory_domains = if args.domains.is_empty() {
        old.map(|c| c.domains).unwrap_or_default()
    } else {
        args.domains.clone()
    };
    st.save_config(&DeviceConfig {
        id: id.clone(),
        domains: factory_domains.clone(),
    })?;
    // RFC 2782 failover also in the middle of an enrollment: when the server stops answering
    // (a `serve` replica crashed), discover again, which passes over targets that do not
    // answer, and enroll with another. Replicas share their database: the account key in this
    // state finds its account there, and the approval it binds (§3.4.4), so the device picks
    // up where it was. Only when discovery gave several servers; one per target at most.
    let mut failovers = 0;
    let mut failover = Failover::default();
    loop {
        match enroll_with(&args, &st, &id, &factory_domains, &mut failover) {
            Err(e)
                if lantrust_cli::acme_http::is_unreachable(&e)
                    && failovers + 1 < failover.places =>
            {
                failovers += 1;
                failover.failed.extend(failover.used.take());
                eprintln!(
                    "{e:#}: the server stopped answering; discovering again to continue with another SRV target (RFC 2782)"
                );
            }
            r => return r,
        }
    }
}

/// What one enrollment attempt leaves for the next when its server stops answering (RFC 2782
/// failover in the middle of an enrollment).
#[derive(Default)]
struct Failover {
    /// Directory URLs that stopped answering earlier: tried last.
    failed: Vec<String>,
    /// How many places discovery found the server at (SRV targets and their addresses): what
    /// there is to fail over to.
    places: usize,
    /// The directory URL this attempt enrolled with.
    used: Option<String>,
}

/// One enrollment: discovery, trust, issuance; `failover` carries what earlier attempts learnt.
fn enroll_with(
    args: &EnrollArgs,
    st: &State,
    id: &str,
    factory_domains: &[String],
    failover: &mut Failover,
) -> anyhow::Result<()> {
    // §3.6: discover, unless told where the server is; with no method given, by itself.
    let mut discovered = args
        .discovery
        .discover_or_auto(args.domains.first().map(String::as_str))?;
    discovered.demote(&failover.failed);
    // What there is to fail over to: each SRV target, and each address of a target (replicas
    // on several hosts under one name).
    failover.places = discovered
        .candidates
        .iter()
        .map(|c| c.addresses.len().max(1))
        .sum();
    // RFC 2782: try every SRV target in order, moving on when one does not answer.
    let found = discovered.first_answering(&args.resolve, Duration::from_secs(5), &mut |line| {
        eprintln!("{line}")
    })?;
    eprintln!(
        "ACME server {} ({}) via {}",
        found.server_name, found.directory_url, found.source
    );
    failover.used = Some(found.directory_url.clone());
    // The names to request: `--domain`, else the domain the network gave with the answer (DHCP
    // option 15 or the DNS-SD domain), else the factory configuration.
    let domains = if !args.domains.is_empty() {
        args.domains.clone()
    } else if let Some(d) = &found.domain {
        vec![d.clone()]
    } else {
        factory_domains.to_vec()
    };
    let mut overrides = args.resolve.clone();
    // Addresses from the DNS answer pin the connection to what discovery returned.
    if let Some(addr) = found.addresses.first() {
        let (host, port) = lantrust_cli::discover::url_host_port(&found.directory_url)?;
        if !overrides
            .iter()
            .any(|o| o.name == host.to_ascii_lowercase())
        {
            overrides.push(ResolveOverride {
                name: host.to_ascii_lowercase(),
                addr: SocketAddr::new(*addr, port),
            });
        }
    }
    let label = label(&found.server_name);
    let net = st.net_dir(&label);

    // Trust: --root, else TOFU (§3.6), with the root's SANs checked against the discovered name.
    let (root_pem, tofu) = match &args.root {
        Some(p) => {
            let pem =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let ders = chain_ders(&pem)
                .with_context(|| format!("{} holds no certificate", p.display()))?;
            // Managed (§3.6 "unless otherwise configured"): no TOFU; the HTTPS connections
            // below verify the server's chain (leaf, subordinate CA, …) up to this anchor.
            for der in &ders {
                let facts = cert_facts(der)?;
                eprintln!(
                    "configured anchor (no trust on first use): {} (serial {})",
                    facts.subject, facts.serial
                );
            }
            (pem, false)
        }
        None => {
            let t = lantrust_cli::tls::tofu_fetch_roots(&found.directory_url, &overrides)?;
            root_names_server(&t.root, &found.server_name)?;
            let facts = cert_facts(&t.root)?;
            eprintln!(
                "trust on first use: root {} (serial {})",
                facts.subject, facts.serial
            );
            (
                lantrust_cli::certs_to_pem(std::slice::from_ref(&t.root)),
                true,
            )
        }
    };
    let pinned = net.join("root.pem");
    if let Ok(prev) = std::fs::read_to_string(&pinned) {
        if chain_ders(&prev).ok() != chain_ders(&root_pem).ok() {
            if !args.accept_change {
                bail!(
                    "WARNING: the root certificate of ACME server {} CHANGED since this device enrolled (§4.8). \
                     This may be a man-in-the-middle. Re-run with --accept-change if the network's server was replaced.",
                    found.server_name
                );
            }
            eprintln!(
                "WARNING: root certificate for {} changed; accepted (--accept-change)",
                found.server_name
            );
        }
    }
    write_atomic(&pinned, root_pem.as_bytes(), Mode::Public)?;

    let mut meta = st.meta(&label).unwrap_or_default();
    meta.server_name = found.server_name.clone();
    meta.directory_url = found.directory_url;
    meta.id = id.to_string();
    meta.domains = domains;
    meta.resolve = overrides
        .iter()
        .map(|o| format!("{}={}", o.name, o.addr))
        .collect();
    meta.tofu = tofu;
    meta.auto_discovery = !args.discovery.is_set();
    meta.discovery = SavedDiscovery::of(&args.discovery);
    st.save_meta(&label, &meta)?;
    let meta = reissue(
        st,
        &label,
        Some(key_algorithm(&args.key)),
        args.http01_listen,
        Duration::from_secs(args.timeout),
    )?;
    st.set_current(&label)?;
    lantrust_cli::outln!(
        "enrolled {} on {}: serial {}, valid until {}, chain in {}",
        meta.names.join(", "),
        meta.server_name,
        meta.serial,
        date(meta.not_after),
        net.join("chain.pem").display()
    );
    Ok(())
}

/// §3.6: a device that discovered its server runs discovery again before it renews (by
/// itself, or with the method it enrolled with), and follows the server to a new directory URL
/// or address. A device given its server (`--directory`, `--dhcp-packet`) keeps it. A different
/// server name is a different network's server: the device does not move its certificate there
/// (that is an `enroll`, with its own trust on first use), and renews with the server it has.
pub(crate) fn rediscover(st: &State, label: &str) -> anyhow::Result<()> {
    let mut m = st.meta(label)?;
    let method = match &m.discovery {
        _ if m.auto_discovery => DiscoveryArgs::default(),
        Some(saved) => saved.args(),
        None => return Ok(()),
    };
    let found = match method
        .discover_or_auto(m.domains.first().map(String::as_str))
        // RFC 2782 failover, as at enrollment.
        .and_then(|f| {
            f.first_answering(&[], Duration::from_secs(5), &mut |line| eprintln!("{line}"))
        }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "rediscovery before renewal failed, renewing with {}: {e:#}",
                m.directory_url
            );
            return Ok(());
        }
    };
    if !found.server_name.eq_ignore_ascii_case(&m.server_name) {
        eprintln!(
            "rediscovery found {} ({}), not {}: renewing with {}",
            found.server_name, found.source, m.server_name, m.server_name
        );
        return Ok(());
    }
    let (host, port) = lantrust_cli::discover::url_host_port(&found.directory_url)?;
    let resolve: Vec<String> = found
        .addresses
        .first()
        .map(|a| {
            format!(
                "{}={}",
                host.to_ascii_lowercase(),
                SocketAddr::new(*a, port)
            )
        })
        .into_iter()
        .collect();
    if found.directory_url != m.directory_url || resolve != m.resolve {
        eprintln!(
            "rediscovery (§3.6): {} moved: {} → {} via {}",
            m.server_name, m.directory_url, found.directory_url, found.source
        );
        m.directory_url = found.directory_url;
        m.resolve = resolve;
        st.save_meta(label, &m)?;
    } else {
        eprintln!(
            "rediscovery (§3.6): {} still at {}",
            m.server_name, m.directory_url
        );
    }
    Ok(())
}

fn load_account(path: &Path) -> anyhow::Result<AccountKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let bytes =
            hex::decode(text.trim()).with_context(|| format!("{} is corrupt", path.display()))?;
        return AccountKey::from_ec_bytes(Algorithm::Es384, &bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng)
        .map_err(|e| anyhow::anyhow!("generating the account key: {e}"))?;
    let secret = key
        .ec_secret_bytes()
        .context("the account key has no EC secret")?;
    write_atomic(path, hex::encode(&*secret).as_bytes(), Mode::Secret)?;
    Ok(key)
}

/// `serve --root PEM`: the current network's ACME server is trusted through this anchor from
/// now on (a managed network's configuration; §3.6), replacing the root trusted at enrollment.
fn configure_anchor(st: &State, path: &Path) -> anyhow::Result<()> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let ders =
        chain_ders(&pem).with_context(|| format!("{} holds no certificate", path.display()))?;
    let label = st.current()?;
    let file = st.net_dir(&label).join("root.pem");
    if std::fs::read_to_string(&file)
        .ok()
        .and_then(|p| chain_ders(&p).ok())
        != Some(ders.clone())
    {
        write_atomic(&file, pem.as_bytes(), Mode::Public)?;
        let mut meta = st.meta(&label).unwrap_or_default();
        meta.tofu = false;
        st.save_meta(&label, &meta)?;
    }
    for der in &ders {
        let facts = cert_facts(der)?;
        eprintln!(
            "configured anchor for the ACME server of {label} (no trust on first use): {}",
            facts.subject
        );
    }
    Ok(())
}

fn agent_for(st: &State, label: &str, m: &NetworkMeta) -> anyhow::Result<ureq::Agent> {
    let pem = std::fs::read_to_string(st.net_dir(label).join("root.pem"))?;
    let roots = chain_ders(&pem)?;
    let overrides: Vec<ResolveOverride> = m.resolve.iter().filter_map(|s| s.parse().ok()).collect();
    lantrust_cli::tls::agent(&roots, &overrides)
}

fn acme_config(m: &NetworkMeta, names: &[String]) -> ClientConfig {
    let mut cfg = ClientConfig::new(&m.directory_url);
    // §3.4.2: https: contacts, one per name.
    cfg.contact = lantrust_acme::https_contacts(names.iter().map(String::as_str));
    cfg.default_poll_interval = Duration::from_secs(1);
    cfg.max_poll_interval = Duration::from_secs(10);
    cfg.max_polls = 100_000;
    cfg
}

/// Gets a (new) certificate for the network `label` with a fresh key (§4.11), saving key, chain
/// and metadata. `alg` None keeps the current key's algorithm family (P-384).
pub(crate) fn reissue(
    st: &State,
    label: &str,
    alg: Option<KeyAlgorithm>,
    http01_listen: SocketAddr,
    limit: Duration,
) -> anyhow::Result<NetworkMeta> {
    let mut m = st.meta(label)?;
    let net = st.net_dir(label);
    mdns_announce(&m.id, http01_listen);
    let builder =
        CsrBuilder::new(m.id.clone(), m.domains.clone()).algorithm(alg.unwrap_or_default());
    let names = builder.dns_names();
    let built = builder
        .build(&mut rand::rngs::OsRng)
        .map_err(|e| anyhow::anyhow!("building the CSR: {e}"))?;
    let (key, csr_der) = built.into_parts();
    eprintln!(
        "fresh {} key and CSR for {}",
        describe(alg.unwrap_or_default()),
        names.join(", ")
    );
    let agent = agent_for(st, label, &m)?;

    // RFC 9773: say which certificate this replaces, when the server supports ARI — only one
    // sharing a name with this order (§5): after a `rename`, the old ID's certificate is revoked,
    // not replaced.
    let mut replaces = None;
    if let Ok(old) = std::fs::read_to_string(net.join("chain.pem")) {
        if let Some(leaf) = chain_ders(&old)
            .ok()
            .and_then(|c| c.into_iter().next())
            .filter(|leaf| {
                cert_facts(leaf).is_ok_and(|f| f.dns_names.iter().any(|n| names.contains(n)))
            })
        {
            let ari = agent
                .get(&m.directory_url)
                .call()
                .ok()
                .and_then(|r| r.into_json::<serde_json::Value>().ok())
                .is_some_and(|d| d.get("renewalInfo").is_some());
            if ari {
                replaces = lantrust_acme::cert_id(&leaf).ok();
            }
        }
    }
    let http01 = Http01::start(http01_listen)?;
    let op = || Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der: csr_der.clone(),
        replaces: replaces.clone(),
    };
    let events = run_acme(&m, &names, &net, &agent, Some(&http01), limit, op)?;
    let chain = events
        .into_iter()
        .find_map(|e| {
            if let Event::Certificate(c) = e {
                Some(c)
            } else {
                None
            }
        })
        .context("the server finished without a certificate")?;
    let ders = chain_ders(&chain.pem).context("the server's certificate chain")?;
    let leaf = ders.first().context("empty chain")?;
    let facts = cert_facts(leaf)?;
    let key_pem = key
        .to_pkcs8_pem()
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    m.hold(
        HeldCert {
            serial: facts.serial.clone(),
            names: names.clone(),
            not_after: facts.not_after,
            pem: lantrust_cli::certs_to_pem(std::slice::from_ref(leaf)),
        },
        lantrust_cli::unix_now(),
    );
    m.names = names;
    m.serial = facts.serial;
    m.not_before = facts.not_before;
    m.not_after = facts.not_after;
    // Key, chain and metadata in one commit: a crash never pairs a key with another key's chain.
    st.save_issued(label, key_pem.as_bytes(), chain.pem.as_bytes(), &m)?;
    Ok(m)
}

/// Runs one ACME operation with the network's account key. The account carries `https:`
/// contacts (§3.4.2); a server that refuses them (`unsupportedContact`, e.g. Pebble, which
/// only knows `mailto:`) gets the account without contacts, as RFC 8555 §7.3 allows.
fn run_acme(
    m: &NetworkMeta,
    names: &[String],
    net: &Path,
    agent: &ureq::Agent,
    http01: Option<&Http01>,
    limit: Duration,
    op: impl Fn() -> Operation,
) -> anyhow::Result<Vec<Event>> {
    let account = load_account(&net.join("account.key"))?;
    let secret = account.ec_secret_bytes().context("account key")?;
    let mut client = Client::new(acme_config(m, names), account, op());
    match drive(&mut client, agent, http01, limit) {
        Err(e) if format!("{e:#}").contains("unsupportedContact") => {
            eprintln!(
                "the server refuses https: contacts (§3.4.2); using an account without contacts"
            );
            let account = AccountKey::from_ec_bytes(Algorithm::Es384, &secret)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut cfg = acme_config(m, names);
            cfg.contact.clear();
            let mut client = Client::new(cfg, account, op());
            drive(&mut client, agent, http01, limit)
        }
        other => other,
    }
}

fn describe(a: KeyAlgorithm) -> &'static str {
    match a {
        KeyAlgorithm::P521 => "P-521",
        KeyAlgorithm::Rsa3072 => "RSA-3072",
        KeyAlgorithm::Rsa4096 => "RSA-4096",
        _ => "P-384",
    }
}

/// The certificates to revoke on network `label` (§4.5, §4.7): every unexpired one the device
/// holds there — those whose names start with `only_id` when given — plus the current
/// `chain.pem` if older state did not record it.
fn to_revoke(st: &State, label: &str, m: &NetworkMeta, only_id: Option<&str>) -> Vec<HeldCert> {
    let now = lantrust_cli::unix_now();
    let mut all = m.held.clone();
    if let Ok(pem) = std::fs::read_to_string(st.net_dir(label).join("chain.pem"))
        && let Some(leaf) = chain_ders(&pem).ok().and_then(|c| c.into_iter().next())
        && let Ok(f) = cert_facts(&leaf)
        && !all.iter().any(|h| h.serial == f.serial)
    {
        all.push(HeldCert {
            serial: f.serial,
            names: f.dns_names,
            not_after: f.not_after,
            pem: lantrust_cli::certs_to_pem(&[leaf]),
        });
    }
    all.retain(|h| {
        h.not_after > now
            && only_id.is_none_or(|id| {
                h.names.iter().any(|n| {
                    n.split('.')
                        .next()
                        .is_some_and(|l| l.eq_ignore_ascii_case(id))
                })
            })
    });
    all
}

/// Revokes every certificate [`to_revoke`] lists on network `label` with the network's account
/// key (RFC 8555 §7.6), forgetting each one the server confirms (or had revoked already).
/// Returns how many were revoked; fails if any could not be.
fn revoke_all(st: &State, label: &str, only_id: Option<&str>, reason: u8) -> anyhow::Result<usize> {
    let mut m = st.meta(label)?;
    let net = st.net_dir(label);
    let agent = agent_for(st, label, &m)?;
    let mut done = 0;
    let mut failures = Vec::new();
    for h in to_revoke(st, label, &m, only_id) {
        let leaf = chain_ders(&h.pem)?
            .into_iter()
            .next()
            .context("empty certificate")?;
        let op = || Operation::Revoke {
            cert_der: leaf.clone(),
            reason: Some(reason),
        };
        let r = run_acme(
            &m,
            &m.names,
            &net,
            &agent,
            None,
            Duration::from_secs(120),
            op,
        );
        let ok = match r {
            // A revocation killed after the server acted on it: done already (RFC 8555 §7.6).
            Err(e) if format!("{e:#}").contains("alreadyRevoked") => {
                eprintln!(
                    "serial {} ({}) was already revoked on {}",
                    h.serial,
                    h.names.join(", "),
                    m.server_name
                );
                true
            }
            Err(e) => {
                failures.push(format!("serial {}: {e:#}", h.serial));
                false
            }
            Ok(events) if events.iter().any(|e| matches!(e, Event::Revoked)) => {
                eprintln!(
                    "revoked serial {} ({}) on {}",
                    h.serial,
                    h.names.join(", "),
                    m.server_name
                );
                done += 1;
                true
            }
            Ok(_) => {
                failures.push(format!(
                    "serial {}: the server did not confirm the revocation",
                    h.serial
                ));
                false
            }
        };
        if ok {
            m.held.retain(|x| x.serial != h.serial);
            st.save_meta(label, &m)?;
        }
    }
    if !failures.is_empty() {
        bail!("revocation failed for {}", failures.join("; "));
    }
    Ok(done)
}

fn reset(st: &State, offline: bool) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for label in st.networks() {
        if offline {
            continue;
        }
        // §4.5: every certificate the device still holds on the network, not only the latest.
        // CRL reason 1 (keyCompromise) is wrong for a reset; 5 = cessationOfOperation.
        if let Err(e) = revoke_all(st, &label, None, 5) {
            failures.push(format!("{label}: {e:#}"));
        }
    }
    // Wipe regardless (§4.5: the user asked for a factory reset), but report what stayed valid.
    // `current` first, then every network at once (renamed away, then deleted): a crash leaves
    // all keys or none, never a network with half its files.
    st.clear_current()?;
    lantrust_cli::fs::remove_dir_atomic(&st.dir.join("networks"))?;
    lantrust_cli::outln!(
        "factory reset: keys and certificates wiped from {}",
        st.dir.display()
    );
    if !failures.is_empty() {
        bail!("wiped, but revocation failed for: {}", failures.join("; "));
    }
    Ok(())
}

fn rename(st: &State, new_id: &str, http01_listen: SocketAddr) -> anyhow::Result<()> {
    let label = st.current()?;
    let m = st.meta(&label)?;
    // A rename killed after the revocation has the new ID saved but the old name's certificate:
    // finish it (the certificate is revoked already) instead of refusing.
    let old_cert_id = m
        .names
        .first()
        .and_then(|n| n.split('.').next())
        .unwrap_or(&m.id)
        .to_string();
    let interrupted = m.id == new_id && old_cert_id != new_id;
    anyhow::ensure!(
        m.id != new_id || interrupted,
        "the device is already called {new_id} on {}",
        m.server_name
    );
    let old = if interrupted {
        eprintln!("finishing the interrupted rename {old_cert_id} → {new_id}");
        old_cert_id
    } else {
        m.id.clone()
    };
    // §4.7: revoke EVERY unexpired certificate for the old name, on the current network only
    // (renewals leave earlier ones valid). An interrupted rename revokes what is left.
    let n = revoke_all(st, &label, Some(&old), 4)?; // 4 = superseded
    eprintln!("revoked {n} certificate(s) for {old} on {}", m.server_name);
    let mut m = st.meta(&label)?;
    if !interrupted {
        m.id = new_id.to_string();
        st.save_meta(&label, &m)?;
    }
    let m = reissue(st, &label, None, http01_listen, Duration::from_secs(3600))?;
    lantrust_cli::outln!(
        "renamed {old} → {new_id} on {}: {} (serial {})",
        m.server_name,
        m.names.join(", "),
        m.serial
    );
    Ok(())
}

fn status(st: &State, json: bool) -> anyhow::Result<()> {
    let current = st.current().ok();
    let mut all = Vec::new();
    for label in st.networks() {
        let m = st.meta(&label)?;
        all.push(serde_json::json!({
            "network": label,
            "current": current.as_deref() == Some(label.as_str()),
            "server": m.server_name,
            "directory": m.directory_url,
            "id": m.id,
            "names": m.names,
            "serial": m.serial,
            "not_after": m.not_after,
        }));
        if !json {
            lantrust_cli::outln!(
                "{}{} id={} names={} serial={} not_after={}",
                if current.as_deref() == Some(label.as_str()) {
                    "* "
                } else {
                    "  "
                },
                label,
                m.id,
                m.names.join(","),
                m.serial,
                m.not_after
            );
        }
    }
    if json {
        lantrust_cli::outln!("{}", serde_json::Value::Array(all));
    }
    Ok(())
}
