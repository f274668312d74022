//! A lantrust client device (draft-sweet-iot-acme-07 §3.5, §4.8, §4.9): discover the network's
//! ACME server, fetch its root over HTTPS and pin it to the network (TOFU), verify devices with
//! scoped trust, export the root to PEM or an NSS database, and keep browsers' NSS databases
//! trusting only the current network's root (`sync-nss`, §3.5).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a binary: std is the point

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lantrust_cli::fs::{Mode, write_atomic};
use lantrust_cli::{DiscoveryArgs, NetworkArgs, ResolveOverride};
use lantrust_pin::{
    Decision, NetworkFingerprint, NetworkId, NetworkKind, Observation, PinStore, Revocation,
    ScopeRefusal,
};

mod nss;
mod rotation;

/// A lantrust client: pins each network's local root (trust on first use) and trusts devices
/// only for local names, only on the network whose root signed them.
#[derive(Parser, Debug)]
#[command(name = "lantrust-client", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Discover the ACME server, fetch /roots.pem over HTTPS, check the root's SANs against the
    /// discovered name (§3.5) and pin it for this network. A changed root is an alert (exit 3),
    /// unless the server's link certificate (/roots/link.pem), signed by the pinned root,
    /// certifies the new one: a planned rotation, re-pinned with a notice.
    Join {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        discovery: DiscoveryArgs,
        /// The network's local domain (DNS-SD domain with --dns; devices' `<id>.<domain>` names).
        #[arg(long = "domain", value_name = "D")]
        domains: Vec<String>,
        /// Replace a pinned root that changed (only after checking why it changed!).
        #[arg(long)]
        accept_change: bool,
    },
    /// Connect to a device over TLS and decide, with the pinned root and scoped trust (§3.5),
    /// whether it is trusted here. Exit 0 when trusted, 1 when not.
    Verify {
        #[command(flatten)]
        common: Common,
        /// `https://<device>.local[:port]/` (or a private IP).
        url: String,
    },
    /// Export this network's pinned root as PEM, or install it into an NSS database (Chromium,
    /// Firefox) with `certutil -A`. Beware: a root in an NSS database is trusted on EVERY
    /// network, which §3.5 forbids; use `sync-nss` on each network change instead.
    Export {
        #[command(flatten)]
        common: Common,
        /// Write the root here (PEM).
        #[arg(long, value_name = "FILE", required_unless_present = "nss")]
        pem: Option<PathBuf>,
        /// Add the root to this NSS database directory (created if missing), trusted for TLS
        /// servers on every network until removed (see `sync-nss`).
        #[arg(long, value_name = "DIR")]
        nss: Option<PathBuf>,
    },
    /// Make NSS databases (Chromium, Firefox) trust the root pinned for the current network and
    /// no other lantrust root (§3.5: not on other networks). Idempotent; run it on every network
    /// change (examples/client/contrib/ has NetworkManager and networkd-dispatcher hooks).
    /// On an unpinned, public or unidentifiable network every lantrust root is removed.
    SyncNss {
        /// State directory (the pin store lives in DIR/pins.json).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        #[command(flatten)]
        network: NetworkArgs,
        /// NSS database directory (repeatable; default `$HOME/.pki/nssdb`, Chromium's on Linux;
        /// a Firefox profile directory holds its own cert9.db). Created if missing.
        #[arg(long = "nss-db", value_name = "DIR")]
        nss_db: Vec<PathBuf>,
    },
    /// Configure this network as managed (§3.5 "unless otherwise configured, for example in a
    /// managed enterprise network"): its ACME server and devices are trusted through the
    /// configured anchor(s) — e.g. the company root above a `lantrust-server` subordinate CA —
    /// with no trust-on-first-use prompt, and no other root is trusted on it. `join` and
    /// `verify` then check chains against the anchors; one that does not lead to them is the
    /// §4.8 alert.
    Manage {
        #[command(flatten)]
        common: Common,
        /// The trust anchor (PEM, a self-signed CA certificate; repeatable, a bundle is fine).
        #[arg(long = "anchor", value_name = "PEM", required = true)]
        anchors: Vec<PathBuf>,
        /// The network's local domain(s) in scope besides `.local` and private addresses.
        #[arg(long = "domain", value_name = "D")]
        domains: Vec<String>,
    },
    /// List the pinned networks.
    List {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget this network's pin (or the one with --fingerprint).
    Forget {
        #[command(flatten)]
        common: Common,
        /// Network fingerprint (from `list`) instead of the current network.
        #[arg(long, value_name = "HEX")]
        fingerprint: Option<String>,
    },
}

#[derive(clap::Args, Debug)]
struct Common {
    /// State directory (the pin store lives in DIR/pins.json, mode 0600).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    #[command(flatten)]
    network: NetworkArgs,
    /// Connect to IP:PORT whenever NAME is asked for (repeatable).
    #[arg(long, value_name = "NAME=IP:PORT")]
    resolve: Vec<ResolveOverride>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lantrust-client: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn store_path(state: &Path) -> PathBuf {
    state.join("pins.json")
}

fn load(state: &Path) -> anyhow::Result<PinStore> {
    let p = store_path(state);
    match std::fs::read(&p) {
        Ok(b) => {
            PinStore::from_bytes(&b).map_err(|e| anyhow::anyhow!("{} is damaged: {e}", p.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PinStore::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

/// §4.8: a pin made before this client could read the network's Wi-Fi SSID carries over to the
/// identity with it ([`PinStore::adopt_pre_ssid_pin`]), so another root there raises the alert
/// instead of a silent second trust on first use. Saved with the store by the caller.
fn adopt_pre_ssid(store: &mut PinStore, net: &NetworkId, now: u64) {
    if let Some(old) = store.adopt_pre_ssid_pin(net, now) {
        lantrust_cli::outln!(
            "network {}: carried over the pin of network {old} (the same router, now identified with its Wi-Fi SSID)",
            net.fingerprint()
        );
    }
}

fn save(state: &Path, store: &PinStore) -> anyhow::Result<()> {
    // Temp files of a writer killed mid-save (the store itself is always whole: atomic rename).
    lantrust_cli::fs::recover(state)?;
    write_atomic(&store_path(state), &store.to_bytes(), Mode::Secret)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = lantrust_cli::unix_now();
    match cli.cmd {
        Cmd::Join {
            common,
            discovery,
            domains,
            accept_change,
        } => join(&common, &discovery, &domains, accept_change, now),
        Cmd::Verify { common, url } => verify(&common, &url, now),
        Cmd::Manage {
            common,
            anchors,
            domains,
        } => manage(&common, &anchors, &domains, now),
        Cmd::SyncNss {
            state,
            network,
            nss_db,
        } => sync_nss(&state, &network, nss_db),
        Cmd::Export { common, pem, nss } => {
            let mut store = load(&common.state)?;
            let net = common.network.network_id()?;
            adopt_pre_ssid(&mut store, &net, now);
            let fp = net.fingerprint();
            let pin = store.pin(&fp).with_context(|| {
                format!("no root pinned for this network ({fp}): run `join` first")
            })?;
            let der = store
                .root_der(pin.root_spki_sha256())
                .context("pin store inconsistent: root missing")?;
            let pem_text = lantrust_cli::certs_to_pem(&[der.to_vec()]);
            if let Some(p) = pem {
                write_atomic(&p, pem_text.as_bytes(), Mode::Public)?;
                lantrust_cli::outln!("wrote the root of {} to {}", pin.server_name(), p.display());
            }
            if let Some(dir) = nss {
                nss::add(
                    &dir,
                    &format!("{}{}", nss::PREFIX, pin.server_name()),
                    &pem_text,
                )?;
                lantrust_cli::outln!(
                    "added the root of {} to NSS db {}",
                    pin.server_name(),
                    dir.display()
                );
                eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
                eprintln!(
                    "!! WARNING: the root of {} is now trusted by every program",
                    pin.server_name()
                );
                eprintln!(
                    "!! using {} ON EVERY NETWORK, not only on network",
                    dir.display()
                );
                eprintln!("!! {fp}. draft-sweet-iot-acme-07 §3.5: a client MUST NOT use the root");
                eprintln!(
                    "!! on other networks; only the root's name constraints limit the damage."
                );
                eprintln!(
                    "!! Use `lantrust-client sync-nss` on every network change instead (it also"
                );
                eprintln!(
                    "!! removes this root when you are elsewhere); see examples/client/contrib/."
                );
                eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::List { state, json } => {
            let store = load(&state)?;
            let mut rows = Vec::new();
            for (fp, pin) in store.pins() {
                rows.push(serde_json::json!({
                    "network": fp.to_string(),
                    "server": pin.server_name(),
                    "domains": pin.domains(),
                    "root_spki_sha256": hex::encode(pin.root_spki_sha256()),
                    "first_seen": pin.first_seen(),
                    "last_seen": pin.last_seen(),
                }));
                if !json {
                    lantrust_cli::outln!(
                        "{fp}  server={} domains={} root-spki-sha256={}",
                        pin.server_name(),
                        pin.domains().join(","),
                        hex::encode(pin.root_spki_sha256())
                    );
                }
            }
            if json {
                lantrust_cli::outln!("{}", serde_json::Value::Array(rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Forget {
            common,
            fingerprint,
        } => {
            let mut store = load(&common.state)?;
            let fp: NetworkFingerprint = match fingerprint {
                Some(h) => h
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--fingerprint {h}: {e}"))?,
                None => common.network.network_id()?.fingerprint(),
            };
            if !store.forget(&fp) {
                bail!("no pin for network {fp}");
            }
            save(&common.state, &store)?;
            lantrust_cli::outln!("forgot network {fp}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn join(
    common: &Common,
    discovery: &DiscoveryArgs,
    domains: &[String],
    accept_change: bool,
    now: u64,
) -> anyhow::Result<ExitCode> {
    let net = common.network.network_id()?;
    lantrust_cli::outln!("network: {}", lantrust_cli::network::describe(&net));
    // With no discovery flag, discovery runs by itself (§3.3: DHCP, then DNS-SD).
    let found = discovery
        .discover_or_auto(domains.first().map(String::as_str))?
        // RFC 2782: try every SRV target in order, moving on when one does not answer.
        .first_answering(
            &common.resolve,
            std::time::Duration::from_secs(5),
            &mut |line| lantrust_cli::outln!("{line}"),
        )?;
    lantrust_cli::outln!(
        "ACME server {} ({}) via {}",
        found.server_name,
        found.directory_url,
        found.source
    );
    // The network's domain: `--domain`, else the one the network gave with the answer.
    let learned: Vec<String>;
    let domains = if domains.is_empty() {
        learned = found.domain.iter().cloned().collect();
        &learned
    } else {
        domains
    };
    let mut overrides = common.resolve.clone();
    if let Some(addr) = found.addresses.first() {
        let (host, port) = lantrust_cli::discover::url_host_port(&found.directory_url)?;
        overrides.push(ResolveOverride {
            name: host.to_ascii_lowercase(),
            addr: std::net::SocketAddr::new(*addr, port),
        });
    }
    let mut store = load(&common.state)?;
    adopt_pre_ssid(&mut store, &net, now);
    if store.managed(&net.fingerprint()).is_some() {
        return join_managed(common, &mut store, &found, &overrides, now);
    }
    let fetched = lantrust_cli::tls::tofu_fetch_roots(&found.directory_url, &overrides)?;
    let domain_refs: Vec<&str> = domains.iter().map(String::as_str).collect();
    let obs = Observation {
        network: &net,
        kind: common.network.kind(),
        server_name: &found.server_name,
        root_der: &fetched.root,
        domains: &domain_refs,
    };
    let fp = net.fingerprint();
    let mut decision = store.decide(&obs, now);
    // A changed root: is it a planned rotation, signed by the pinned root (issue 15)?
    let mut links = Vec::new();
    if matches!(decision, Decision::RootChanged { .. }) {
        links = rotation::fetch_links(&found.directory_url, &fetched.root, &overrides);
        let refs: Vec<&[u8]> = links.iter().map(Vec::as_slice).collect();
        decision = store.decide_with_links(&obs, &refs, now);
    }
    match decision {
        Decision::PlannedRotation { old, new, links } => {
            let (was, now_fp) = (
                rotation::spki_hex(old.spki_sha256()),
                rotation::spki_hex(new.root().spki_sha256()),
            );
            store.accept_rotation(new, now)?;
            lantrust_cli::outln!(
                "planned rotation, signed by the root you trusted: network {fp} re-pinned"
            );
            lantrust_cli::outln!("  old root SPKI SHA-256 {was}");
            lantrust_cli::outln!("  new root SPKI SHA-256 {now_fp} ({links} link certificate(s))");
            lantrust_cli::outln!(
                "  browsers: run `lantrust-client sync-nss` (the network hooks do) to trust the new root there"
            );
            join_crl(&mut store, &fp, &found.directory_url, &overrides, now);
            save(&common.state, &store)?;
            Ok(ExitCode::SUCCESS)
        }
        Decision::FirstUse(c) => {
            let subject = c.root().subject().to_string();
            let spki = hex::encode(c.root().spki_sha256());
            store.accept(c, now)?;
            lantrust_cli::outln!(
                "pinned (trust on first use): {subject}, SPKI SHA-256 {spki}, for network {fp}"
            );
            join_crl(&mut store, &fp, &found.directory_url, &overrides, now);
            save(&common.state, &store)?;
            Ok(ExitCode::SUCCESS)
        }
        Decision::Trusted(fp) => {
            store.mark_seen(&fp, now);
            lantrust_cli::outln!("root unchanged: network {fp} is trusted");
            join_crl(&mut store, &fp, &found.directory_url, &overrides, now);
            save(&common.state, &store)?;
            Ok(ExitCode::SUCCESS)
        }
        Decision::RootChanged { old, new } => {
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            eprintln!("!! ALERT: THE ROOT CERTIFICATE OF THIS NETWORK HAS CHANGED (§4.8)");
            eprintln!("!!   network:  {fp}");
            eprintln!(
                "!!   pinned:   {} (SPKI SHA-256 {})",
                old.subject(),
                hex::encode(old.spki_sha256())
            );
            eprintln!(
                "!!   offered:  {} (SPKI SHA-256 {})",
                new.root().subject(),
                hex::encode(new.root().spki_sha256())
            );
            let refs: Vec<&[u8]> = links.iter().map(Vec::as_slice).collect();
            if let Err(why) =
                lantrust_pin::check_rotation_links(old.der(), new.root().der(), &refs, now)
            {
                eprintln!("!!   not a planned rotation: {why}");
            }
            eprintln!("!! Someone may be impersonating the network's server. If the server was");
            eprintln!("!! really replaced, re-run with --accept-change.");
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            if !accept_change {
                return Ok(ExitCode::from(3));
            }
            store.accept(new, now)?;
            lantrust_cli::outln!("new root pinned for network {fp} (--accept-change)");
            join_crl(&mut store, &fp, &found.directory_url, &overrides, now);
            save(&common.state, &store)?;
            Ok(ExitCode::SUCCESS)
        }
        Decision::Refused(r) => bail!("root refused: {r}"),
    }
}

fn verify(common: &Common, url: &str, now: u64) -> anyhow::Result<ExitCode> {
    let (host, port) = lantrust_cli::discover::url_host_port(url)?;
    let mut store = load(&common.state)?;
    let net = common.network.network_id()?;
    adopt_pre_ssid(&mut store, &net, now);
    let chain = lantrust_cli::tls::handshake_capture(&host, port, &common.resolve)?;
    let refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    let kind = common.network.kind();
    let mut result = store.verify_device_status(&net, kind, &refs, &host, now);
    // Everything but revocation held (the chain verified under the pinned root): refresh a
    // missing or stale CRL (draft §4.5, §4.7) before deciding, then decide again.
    let chain_ok = matches!(
        result,
        Ok(_)
            | Err(ScopeRefusal::CrlMissing
                | ScopeRefusal::CrlTooOld { .. }
                | ScopeRefusal::Revoked { .. })
    );
    let fp = net.fingerprint();
    if chain_ok && store.crl_needs_refresh(&fp, now, CRL_MAX_AGE) {
        let mut urls: Vec<String> = store
            .crl(&fp)
            .and_then(|c| c.url())
            .map(String::from)
            .into_iter()
            .collect();
        for u in refs
            .first()
            .map(|leaf| lantrust_pin::crl_distribution_points(leaf))
            .unwrap_or_default()
        {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        let issuers = refs.get(1..).unwrap_or_default();
        if refresh_crl(&mut store, &fp, &urls, issuers, &common.resolve, now) {
            save(&common.state, &store)?;
            result = store.verify_device_status(&net, kind, &refs, &host, now);
        }
    }
    match result {
        Ok(revocation) => {
            if let Some(root) = store
                .pin(&fp)
                .and_then(|p| store.root_der(p.root_spki_sha256()))
            {
                rotation::note_rotated_chain(root, &refs, now);
            }
            lantrust_cli::outln!(
                "TRUSTED: {host} presented a certificate from this network's pinned root (scoped: local name, network {})",
                net.fingerprint()
            );
            lantrust_cli::outln!("revocation: {revocation}");
            if matches!(revocation, Revocation::Stale { .. }) {
                eprintln!("WARNING: {host}: {revocation}");
            }
            // Show the page over a connection that trusts only the pinned root.
            let roots = trusted_roots(&store, &net.fingerprint());
            if !roots.is_empty() {
                let agent = lantrust_cli::tls::agent(&roots, &common.resolve)?;
                match agent.get(url).call() {
                    Ok(resp) => {
                        let status = resp.status();
                        let mut body = String::new();
                        let _ = resp.into_reader().take(64 * 1024).read_to_string(&mut body);
                        let title = body
                            .split("<title>")
                            .nth(1)
                            .and_then(|t| t.split("</title>").next())
                            .unwrap_or("");
                        lantrust_cli::outln!(
                            "GET {url}: HTTP {status} over verified TLS, page title {title:?}"
                        );
                    }
                    Err(e) => eprintln!("note: GET {url} failed after the trust decision: {e}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            if store.managed(&fp).is_some()
                && matches!(
                    refusal,
                    ScopeRefusal::NotIssuedByNetworkRoot | ScopeRefusal::BadSignature
                )
            {
                managed_alert(&fp, &host, &refusal.to_string());
            }
            lantrust_cli::outln!("NOT TRUSTED: {host}: {refusal}");
            Ok(ExitCode::from(1))
        }
    }
}

/// A cached CRL older than this (or past its nextUpdate) is fetched again by `verify`: a
/// revocation reaches this client within the hour while the server is reachable.
const CRL_MAX_AGE: u64 = 3600;

/// `join`: fetch the network's CRL from its server (`ORIGIN/crl`, RFC 5280 §5) and cache it in
/// the pin store. A failure is a warning: `verify` fetches again, and the pin store's policy
/// decides what an old or missing CRL means (lantrust-pin's `Revocation`).
fn join_crl(
    store: &mut PinStore,
    fp: &NetworkFingerprint,
    directory_url: &str,
    overrides: &[ResolveOverride],
    now: u64,
) {
    let url = match crl_url(directory_url) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("warning: no CRL URL for {directory_url}: {e:#}");
            return;
        }
    };
    refresh_crl(store, fp, &[url], &[], overrides, now);
}

/// The server's CRL: `/crl` at the origin of its ACME directory URL.
fn crl_url(directory_url: &str) -> anyhow::Result<String> {
    let (host, port) = lantrust_cli::discover::url_host_port(directory_url)?;
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("https://{host}:{port}/crl"))
}

/// Fetches the CRL from the first of `urls` that answers with one the pin store accepts
/// (signed by the network's pinned root, not older than the cached one). Returns whether the
/// store changed; every failure is printed.
fn refresh_crl(
    store: &mut PinStore,
    fp: &NetworkFingerprint,
    urls: &[String],
    issuers: &[&[u8]],
    overrides: &[ResolveOverride],
    now: u64,
) -> bool {
    let roots = trusted_roots(store, fp);
    if roots.is_empty() {
        return false;
    }
    if urls.is_empty() {
        eprintln!("warning: no CRL distribution point known for network {fp}");
    }
    for url in urls {
        // The CRL is signed, so plain HTTP is fine; HTTPS trusts only the pinned root.
        let fetched = lantrust_cli::tls::agent(&roots, overrides).and_then(|agent| {
            let resp = agent
                .get(url)
                .timeout(std::time::Duration::from_secs(10))
                .call()?;
            let mut der = Vec::new();
            resp.into_reader()
                .take(4 * 1024 * 1024)
                .read_to_end(&mut der)?;
            Ok(der)
        });
        match fetched.map(|der| store.update_crl_via(fp, &der, issuers, Some(url), now)) {
            Ok(Ok(crl)) => {
                lantrust_cli::outln!(
                    "CRL of network {fp} from {url}: {} revoked, next update {}",
                    crl.revoked().len(),
                    date(crl.next_update())
                );
                return true;
            }
            Ok(Err(refusal)) => eprintln!("warning: CRL from {url} refused: {refusal}"),
            Err(e) => eprintln!("warning: could not fetch the CRL from {url}: {e:#}"),
        }
    }
    if let Some(c) = store.crl(fp).and_then(|c| c.crl()) {
        eprintln!(
            "warning: using the cached CRL of network {fp} (next update {}; devices are refused \
             {} days after that until a newer CRL is fetched)",
            date(c.next_update()),
            lantrust_pin::CRL_GRACE / 86_400
        );
    }
    false
}

/// A Unix time as RFC 3339 UTC.
fn date(unix: u64) -> String {
    lantrust_pin::utc_date(unix)
}

/// `sync-nss`: the roots the NSS databases should hold on the current network (§3.5), then
/// [`nss::sync`] each database.
fn sync_nss(state: &Path, network: &NetworkArgs, dbs: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let dbs = if dbs.is_empty() {
        let home = std::env::var_os("HOME")
            .context("HOME is not set: pass --nss-db DIR (Chromium's is $HOME/.pki/nssdb)")?;
        vec![Path::new(&home).join(".pki/nssdb")]
    } else {
        dbs
    };
    let store = load(state)?;
    let explicit = network.router_mac.is_some() || network.ssid.is_some();
    let wanted = match network.network_id() {
        _ if matches!(network.kind(), NetworkKind::Public(_)) => {
            lantrust_cli::outln!("public network: no lantrust root is trusted here (§4.9)");
            Vec::new()
        }
        Ok(net) => {
            let fp = net.fingerprint();
            match store.pin(&fp) {
                Some(pin) => {
                    let der = store
                        .root_der(pin.root_spki_sha256())
                        .context("pin store inconsistent: root missing")?;
                    lantrust_cli::outln!("network {fp}: pinned root of {}", pin.server_name());
                    vec![nss::Root {
                        nickname: nss::nickname(&fp.0, pin.root_spki_sha256(), pin.server_name()),
                        der: der.to_vec(),
                    }]
                }
                None => {
                    lantrust_cli::outln!(
                        "network {fp}: nothing pinned; no lantrust root is trusted here"
                    );
                    Vec::new()
                }
            }
        }
        // Flags that do not parse are a mistake to report; a network that cannot be found
        // (link down, no default router) is simply not a pinned one.
        Err(e) if explicit => return Err(e),
        Err(e) => {
            lantrust_cli::outln!("{e:#}: no lantrust root is trusted here");
            Vec::new()
        }
    };
    for db in &dbs {
        let c = nss::sync(db, &wanted)?;
        let d = db.display();
        for n in &c.removed {
            lantrust_cli::outln!("NSS db {d}: removed {n}");
        }
        for n in &c.added {
            lantrust_cli::outln!("NSS db {d}: added {n} (trusted for TLS servers: C,,)");
        }
        for n in &c.foreign {
            lantrust_cli::outln!(
                "NSS db {d}: NOT added {n}: the database already holds this certificate under a nickname that is not lantrust's; its trust there is its own (remove it with certutil -D to let sync-nss manage it)"
            );
        }
        for n in &c.kept {
            lantrust_cli::outln!("NSS db {d}: kept {n}");
        }
        if c.removed.is_empty() && c.added.is_empty() {
            lantrust_cli::outln!("NSS db {d}: unchanged");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The roots that vouch for devices on network `fp`: its pinned root, or its managed anchors.
fn trusted_roots(store: &PinStore, fp: &NetworkFingerprint) -> Vec<Vec<u8>> {
    if let Some(m) = store.managed(fp) {
        return m
            .anchors()
            .filter_map(|a| store.root_der(a))
            .map(<[u8]>::to_vec)
            .collect();
    }
    store
        .pin(fp)
        .and_then(|p| store.root_der(p.root_spki_sha256()))
        .map(|d| vec![d.to_vec()])
        .unwrap_or_default()
}

/// The §4.8 alert for a managed network: what was presented does not lead to the configured
/// anchor, so the peer is not the one the network's administrator configured.
fn managed_alert(fp: &NetworkFingerprint, peer: &str, why: &str) {
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!! ALERT: {peer} PRESENTED A CHAIN THAT DOES NOT LEAD TO THIS MANAGED");
    eprintln!("!! NETWORK'S CONFIGURED ANCHOR (§4.8)");
    eprintln!("!!   network:  {fp}");
    eprintln!("!!   refusal:  {why}");
    eprintln!("!! Someone may be impersonating the network's server. Nothing was trusted;");
    eprintln!("!! if the company CA changed, reconfigure with `lantrust-client manage`.");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
}

/// `manage`: configure the network's anchors (lantrust-pin's `set_managed`; a reconfiguration
/// drops anchors no longer listed).
fn manage(
    common: &Common,
    anchors: &[PathBuf],
    domains: &[String],
    now: u64,
) -> anyhow::Result<ExitCode> {
    let net = common.network.network_id()?;
    let mut ders = Vec::new();
    for p in anchors {
        let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let certs = lantrust_cli::pem_certs(&text)
            .with_context(|| format!("{} holds no certificate", p.display()))?;
        ders.extend(certs);
    }
    let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    let domain_refs: Vec<&str> = domains.iter().map(String::as_str).collect();
    let mut store = load(&common.state)?;
    store
        .set_managed(&net, &refs, &domain_refs, now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    save(&common.state, &store)?;
    let fp = net.fingerprint();
    let m = store
        .managed(&fp)
        .context("pin store inconsistent: managed network missing")?;
    let hashes: Vec<String> = m.anchors().map(hex::encode).collect();
    lantrust_cli::outln!(
        "network {fp} is managed: trusted through anchor(s) SPKI SHA-256 {} (no trust on first use), domains: {}",
        hashes.join(", "),
        m.domains().join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `join` on a managed network: the server's TLS chain must lead to a configured anchor for
/// the discovered name (no TOFU, §3.5); anything else is the §4.8 alert (exit 3).
fn join_managed(
    common: &Common,
    store: &mut PinStore,
    found: &lantrust_cli::discover::Discovered,
    overrides: &[ResolveOverride],
    now: u64,
) -> anyhow::Result<ExitCode> {
    let net = common.network.network_id()?;
    let fp = net.fingerprint();
    let (host, port) = lantrust_cli::discover::url_host_port(&found.directory_url)?;
    let chain = lantrust_cli::tls::handshake_capture(&host, port, overrides)?;
    let refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    match store.decide_managed(&net, common.network.kind(), &found.server_name, &refs, now) {
        Decision::Trusted(_) => {
            lantrust_cli::outln!(
                "managed network {fp}: the server's certificate chain leads to the configured anchor (no trust on first use)"
            );
            let url = crl_url(&found.directory_url)?;
            refresh_crl(
                store,
                &fp,
                &[url],
                refs.get(1..).unwrap_or_default(),
                overrides,
                now,
            );
            save(&common.state, store)?;
            Ok(ExitCode::SUCCESS)
        }
        Decision::Refused(r) => {
            managed_alert(&fp, &found.server_name, &r.to_string());
            Ok(ExitCode::from(3))
        }
        other => bail!("unexpected decision on a managed network: {other:?}"),
    }
}
