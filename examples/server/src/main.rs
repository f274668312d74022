//! The lantrust local ACME server: network root, HTTPS ACME, approvals, discovery helpers.
//!
//! A thin binary over the lantrust crates (draft-sweet-iot-acme-07): `init` makes the network
//! root and the state directory, `serve` runs ACME over HTTPS with SQLite storage and the §3.4.4
//! approval step, the admin commands decide approvals while `serve` runs, `check-csr` judges a
//! CSR against the device policy, and `dhcp-option`/`dns-records` print discovery configuration.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a binary: std is the point

mod admin;
mod config;
mod discovery;
mod net;
mod rotate;
mod service;
mod store;
mod subca;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lantrust_ca::{KeyAlgorithm, Root, RootConfig};

use crate::store::{Config, StateDir};

/// The lantrust local ACME server (draft-sweet-iot-acme-07).
///
/// Typical use: `init` once, then `serve`; approve each new device with `approve ID` (see
/// `pending`). Run `lantrust-server COMMAND --help` for each command's options.
#[derive(Parser, Debug)]
#[command(name = "lantrust-server", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a state directory (mode 0700): a fresh network root (key file 0600), the SQLite
    /// database (0600) and the admin token for the /admin HTTP endpoints (`admin-token`, 0600).
    ///
    /// Refuses to touch a directory that already holds lantrust state.
    Init(InitArgs),
    /// Install the certificate the company CA signed for `init --subordinate`'s request
    /// (STATE/ca-request.pem) with its chain, after checking it keeps the key, CA:TRUE pathlen:0,
    /// the name constraints and the EKU asked for, and chains to a self-signed company root.
    ImportCa(subca::ImportArgs),
    /// Run the ACME server over HTTPS (directory at /acme/directory, root at /roots.pem, CRL at /crl).
    Serve(net::ServeArgs),
    /// Check a CSR (PEM or DER) against the device policy (§3.4.3, §4.2): exit 0 if it passes,
    /// 1 with every violation listed.
    CheckCsr(CheckCsrArgs),
    /// List devices waiting for approval (§3.4.4).
    Pending(admin::ListArgs),
    /// List every device with its approval state and certificates.
    List(admin::ListArgs),
    /// Approve a device ID: binds the account key that asked (before it asked: the first
    /// account that asks, or `--account THUMBPRINT`); approves a waiting key change.
    Approve(admin::ApproveArgs),
    /// Deny a device ID, or refuse a waiting key change (the approved key keeps the ID).
    Deny(admin::DenyArgs),
    /// Revoke a device's approval and all its certificates (they appear in /crl).
    Revoke(admin::DecideArgs),
    /// Print the DHCP option that points devices at this server (option 125, enterprise 55357).
    DhcpOption(discovery::DhcpArgs),
    /// Print DNS-SD records (SRV/TXT/PTR for `_acme-server._tcp.DOMAIN`) for a DNS server.
    DnsRecords(discovery::DnsArgs),
    /// Back up a state directory (also while `serve` runs) into one archive, mode 0600: a
    /// consistent copy of the database (SQLite online backup), the root and its key, the admin
    /// token; encrypted with age when a passphrase is given.
    Backup(store::backup::BackupArgs),
    /// Restore a `backup` archive into a new state directory; a damaged archive or a wrong
    /// passphrase is refused and leaves nothing behind.
    Restore(store::backup::RestoreArgs),
    /// Set the web console's password (read from stdin or --password-file, at least 10
    /// characters; stored as an argon2id hash in STATE/console-password, mode 0600).
    Passwd(net::console::PasswdArgs),
    /// Planned root rotation: make a new network root (a new key, draft §4.11; the same names
    /// and name-constraint choice) and a link certificate — the new root certified by the old
    /// one — that lets devices and clients which trusted the old root follow the change
    /// (lantrust-client re-pins it as a planned rotation instead of raising the §4.8 alert).
    ///
    /// Safe while `serve` runs: the files are replaced all at once, and a running `serve` keeps
    /// using the old root (and logs that the root on disk changed) until it is RESTARTED; only
    /// then does it issue and present its HTTPS certificate under the new root, serve the link
    /// at /roots/link.pem (and in its certificate chains), and the old root's CRL at
    /// `/crl/<old key id>`. The old root and its key are kept (`previous-root-<KEYID>.pem`) to sign
    /// that CRL until its certificates have expired; `backup` includes them.
    RotateRoot(rotate::RotateArgs),
    /// Configuration files for `serve --config FILE` (`config check FILE`).
    #[command(subcommand)]
    Config(lantrust_cli::config::ConfigCmd),
}

/// Root key algorithms.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum KeyArg {
    /// ECDSA P-384 (default).
    P384,
    /// ECDSA P-521.
    P521,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

#[derive(clap::Args, Debug)]
struct InitArgs {
    /// State directory to create (must not hold lantrust state yet).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The server's host name, one DNS label (the root's SANs get NAME.local and NAME.DOMAIN).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// A local domain devices get names under (repeatable), e.g. home.arpa.
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Root key algorithm.
    #[arg(long, value_enum, default_value = "p384")]
    key: KeyArg,
    /// Root validity in years (1 to 10).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10))]
    years: u32,
    /// The server's IP address for the root and HTTPS certificate SANs (repeatable; private,
    /// link-local or loopback only).
    #[arg(long = "ip", value_name = "IP")]
    ips: Vec<IpAddr>,
    /// How the root's name constraints are marked: non-critical (default), critical or off.
    ///
    /// The constraints let the root vouch only for `.local` names, the --domain names and
    /// private, link-local and loopback addresses, so a stolen root key cannot impersonate
    /// Internet sites. RFC 5280 asks for them to be marked critical, but a
    /// TLS stack that does not implement them must then refuse the root: Mbed TLS (ESP-IDF,
    /// Zephyr, many RTOS SDKs) cannot load it at all. The default, non-critical (allowed by the
    /// CA/Browser Forum Baseline Requirements for this reason), loads in every stack tested —
    /// Mbed TLS, wolfSSL, GnuTLS, OpenSSL, NSS, Go, rustls — and every one of them that
    /// implements constraints (all but Mbed TLS) still enforces it. Note: wolfSSL 5.5 refuses
    /// any certificate with an IP address under a constrained root, such as the server's when
    /// --ip is given. See the README's "Which TLS stacks trust the root".
    #[arg(
        long,
        value_name = "HOW",
        default_value = "non-critical",
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::PossibleValuesParser::new([
                clap::builder::PossibleValue::new("non-critical").help(
                    "default: loadable by every TLS stack, enforced by all that implement them",
                ),
                clap::builder::PossibleValue::new("critical")
                    .help("RFC 5280's marking: Mbed TLS devices cannot load the root"),
                clap::builder::PossibleValue::new("off")
                    .help("no constraints: the root can vouch for any name, Internet ones too"),
            ]),
            |s| {
                lantrust_ca::NameConstraints::ALL
                    .into_iter()
                    .find(|c| c.name() == s)
                    .unwrap_or_default()
            },
        )
    )]
    name_constraints: lantrust_ca::NameConstraints,
    /// Set the web console's password from this file's first line (`-`: stdin); without it,
    /// set one later with `lantrust-server passwd`.
    #[arg(long, value_name = "FILE")]
    console_password_file: Option<PathBuf>,
    /// Be a subordinate CA under the company's PKI instead of a self-signed root: make the CA
    /// key and a CA request (STATE/ca-request.pem) for a technically constrained CA
    /// (CA:TRUE pathlen:0, keyCertSign+cRLSign, EKU serverAuth+clientAuth, the name
    /// constraints above) for the company CA to sign; then `import-ca`. `serve` refuses to run
    /// until the certificate is imported.
    #[arg(long)]
    subordinate: bool,
    /// Keep the records (accounts, orders, approvals, certificates) in this PostgreSQL
    /// database instead of the SQLite file in the state directory, so that several `serve`
    /// replicas share them: `postgres://USER[:PASSWORD]@HOST:PORT/DB`. For a database on another
    /// host add `?sslmode=verify-full&sslrootcert=/ABSOLUTE/PATH/ca.pem` (TLS, the server's
    /// certificate checked against that CA and the host name; also verify-ca, require, prefer,
    /// disable); without sslmode only a loopback host or Unix socket is accepted (plain TCP). The
    /// database must exist and hold no lantrust tables; the URL is kept in STATE/store-url (mode
    /// 0600) and every later command on the state directory uses it.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(clap::Args, Debug)]
struct CheckCsrArgs {
    /// The server's host name (devices may not take it).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// A configured local domain (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Accept generic ACME clients' subjects (empty CN, or CN equal to a requested name).
    #[arg(long)]
    generic_clients: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// The CSR file (PEM or DER).
    file: PathBuf,
}

fn main() -> ExitCode {
    // `serve --config FILE`: the file's keys become defaults under the flags (config.rs).
    let cli: Cli = lantrust_cli::config::parse(&config::SPEC);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lantrust-server: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init(a) => init(a).map(|()| ExitCode::SUCCESS),
        Command::ImportCa(a) => subca::import(a).map(|()| ExitCode::SUCCESS),
        Command::Serve(a) => net::serve(a).map(|()| ExitCode::SUCCESS),
        Command::CheckCsr(a) => check_csr(a),
        Command::Pending(a) => admin::list(a, true),
        Command::List(a) => admin::list(a, false),
        Command::Approve(a) => admin::approve(a),
        Command::Deny(a) => admin::deny(a),
        Command::Revoke(a) => admin::revoke(a),
        Command::DhcpOption(a) => discovery::dhcp_option(a),
        Command::DnsRecords(a) => discovery::dns_records(a),
        Command::Config(c) => config::run(c),
        Command::Passwd(a) => net::console::passwd(a).map(|()| ExitCode::SUCCESS),
        Command::RotateRoot(a) => rotate::rotate_root(a).map(|()| ExitCode::SUCCESS),
        Command::Backup(a) => store::backup::backup(a).map(|()| ExitCode::SUCCESS),
        Command::Restore(a) => store::backup::restore(a).map(|()| ExitCode::SUCCESS),
    }
}

/// One DNS label: LDH, 1–63 characters, no leading/trailing hyphen.
pub(crate) fn check_label(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        bail!(
            "{what} {s:?} is not a DNS label (letters, digits and '-', 1 to 63 characters, no leading or trailing '-')"
        );
    }
    Ok(())
}

fn normalize_domains(domains: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for d in domains {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        if d == "local" {
            bail!("`local` is always served; give only the other local domains with --domain");
        }
        for l in d.split('.') {
            check_label("domain label", l).with_context(|| format!("--domain {d}"))?;
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

fn init(a: InitArgs) -> Result<()> {
    let name = a.name.to_ascii_lowercase();
    check_label("--name", &name)?;
    let domains = normalize_domains(&a.domains)?;
    for ip in &a.ips {
        if !lantrust_ca::is_private_ip(*ip) {
            bail!(
                "--ip {ip} is not a private, link-local or loopback address; the root's name constraints only allow those"
            );
        }
    }
    let st = StateDir::new(&a.state);
    for p in [st.db(), st.root_cert(), st.root_key()] {
        if p.exists() {
            bail!(
                "{} already exists: {} holds lantrust state; refusing to overwrite it (choose another --state, or remove the directory to start a new network)",
                p.display(),
                a.state.display()
            );
        }
    }
    if a.state.exists() && std::fs::read_dir(&a.state).map(|mut d| d.next().is_some())? {
        bail!(
            "{} is not empty; init needs a new or empty directory (the state directory is private: 0700)",
            a.state.display()
        );
    }
    let console_password = match &a.console_password_file {
        Some(f) => Some(net::console::read_password(Some(f))?),
        None => None,
    };
    // All or nothing: the state is built in a private staging directory beside the target and
    // renamed into place once complete, so a crash leaves no half-made network that `init`
    // refuses and `serve` cannot open.
    if a.subordinate {
        lantrust_cli::fs::create_dir_atomic(&a.state, |staging| {
            let st = StateDir::new(staging);
            init_subordinate(&a, &name, &domains, &st)?;
            if let Some(pw) = &console_password {
                net::console::set_password(&st, pw)?;
            }
            Ok(())
        })?;
        lantrust_cli::outln!("created {} (subordinate CA mode)", a.state.display());
        lantrust_cli::outln!(
            "  CA request: {} (have the company CA sign it keeping its extensions)",
            subca::request_path(&st).display()
        );
        lantrust_cli::outln!("  CA key:     {} (mode 0600)", st.root_key().display());
        lantrust_cli::outln!("  database:   {}", database(&st, a.store.as_deref()));
        lantrust_cli::outln!(
            "next: lantrust-server import-ca --state {} CERT [CHAIN]",
            a.state.display()
        );
        return Ok(());
    }
    let root = lantrust_cli::fs::create_dir_atomic(&a.state, |staging| {
        let st = StateDir::new(staging);
        let root = init_into(&a, &name, &domains, &st)?;
        if let Some(pw) = &console_password {
            net::console::set_password(&st, pw)?;
        }
        Ok(root)
    })?;
    lantrust_cli::outln!("created {}", a.state.display());
    lantrust_cli::outln!(
        "  root:     {} ({})",
        st.root_cert().display(),
        root.subject()
    );
    let scope = match a.name_constraints {
        lantrust_ca::NameConstraints::Off => "none: the root can vouch for any name",
        _ => ".local, the domains and private addresses only",
    };
    lantrust_cli::outln!("  name constraints: {} ({scope})", a.name_constraints);
    lantrust_cli::outln!("  root key: {} (mode 0600)", st.root_key().display());
    lantrust_cli::outln!("  database: {}", database(&st, a.store.as_deref()));
    lantrust_cli::outln!(
        "  admin token: {} (mode 0600; for the /admin HTTP endpoints)",
        st.admin_token().display()
    );
    if console_password.is_some() {
        lantrust_cli::outln!("  console password: set (sign in at /admin/)");
    }
    let mut names = vec![format!("{name}.local")];
    names.extend(domains.iter().map(|d| format!("{name}.{d}")));
    lantrust_cli::outln!("  names:    {}", names.join(", "));
    lantrust_cli::outln!(
        "next: lantrust-server serve --state {} --listen 0.0.0.0:443",
        a.state.display()
    );
    Ok(())
}

/// Where `init` put the records, for its summary (a URL's password left out).
fn database(st: &StateDir, store: Option<&str>) -> String {
    match store {
        Some(url) => format!(
            "{} (PostgreSQL; URL in {}, mode 0600)",
            store::db::redact(url),
            st.store_url_file().display()
        ),
        None => format!("{} (mode 0600)", st.db().display()),
    }
}

/// `init --subordinate`: the CA key, its request, the database and the admin token in `st`.
fn init_subordinate(a: &InitArgs, name: &str, domains: &[String], st: &StateDir) -> Result<()> {
    let mut cfg = RootConfig::new(name.to_string(), domains.to_vec());
    cfg.name_constraints = a.name_constraints;
    cfg.algorithm = key_algorithm(a.key);
    subca::init_into(&cfg, st)?;
    let config = Config {
        name: name.to_string(),
        domains: domains.to_vec(),
        ips: a.ips.clone(),
    };
    store::create_store(st, a.store.as_deref(), &config, store::now())?;
    st.ensure_admin_token()?;
    Ok(())
}

fn key_algorithm(k: KeyArg) -> KeyAlgorithm {
    match k {
        KeyArg::P384 => KeyAlgorithm::P384,
        KeyArg::P521 => KeyAlgorithm::P521,
        KeyArg::Rsa3072 => KeyAlgorithm::Rsa3072,
        KeyArg::Rsa4096 => KeyAlgorithm::Rsa4096,
    }
}

/// Make the root, its key, the database and the admin token in `st` (the staging directory).
fn init_into(a: &InitArgs, name: &str, domains: &[String], st: &StateDir) -> Result<Root> {
    let mut cfg = RootConfig::new(name.to_string(), domains.to_vec());
    cfg.ip_addrs = a.ips.clone();
    cfg.validity_years = a.years;
    cfg.name_constraints = a.name_constraints;
    cfg.algorithm = key_algorithm(a.key);
    if matches!(a.key, KeyArg::Rsa3072 | KeyArg::Rsa4096) {
        eprintln!("generating an RSA root key (this can take a while)...");
    }
    let root = Root::generate(&cfg, store::now(), &mut rand::rngs::OsRng)
        .context("generating the network root")?;
    let key_pem = root.private_key_pem().context("encoding the root key")?;
    let cert_pem = root.certificate_pem().context("encoding the root")?;
    store::write_atomic(&st.root_key(), key_pem.as_bytes(), 0o600)?;
    store::write_atomic(&st.root_cert(), cert_pem.as_bytes(), 0o644)?;
    let config = Config {
        name: name.to_string(),
        domains: domains.to_vec(),
        ips: a.ips.clone(),
    };
    store::create_store(st, a.store.as_deref(), &config, store::now())?;
    st.ensure_admin_token()?;
    Ok(root)
}

fn check_csr(a: CheckCsrArgs) -> Result<ExitCode> {
    let name = a.name.to_ascii_lowercase();
    check_label("--name", &name)?;
    let domains = normalize_domains(&a.domains)?;
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let policy =
        lantrust_csr::Policy::new(name, domains).with_generic_client_compat(a.generic_clients);
    match lantrust_csr::validate(&bytes, &policy) {
        Ok(acc) => {
            if a.json {
                let v = serde_json::json!({
                    "ok": true,
                    "device_id": acc.device_id(),
                    "dns_names": acc.dns_names(),
                    "ip_addrs": acc.ip_addrs().iter().map(|i| i.to_string()).collect::<Vec<_>>(),
                    "key": format!("{:?}", acc.key_kind()),
                });
                lantrust_cli::outln!("{v}");
            } else {
                lantrust_cli::outln!("OK: the CSR passes the device policy");
                lantrust_cli::outln!("  device ID: {}", acc.device_id());
                lantrust_cli::outln!("  DNS names: {}", acc.dns_names().join(", "));
                if !acc.ip_addrs().is_empty() {
                    let ips: Vec<String> = acc.ip_addrs().iter().map(|i| i.to_string()).collect();
                    lantrust_cli::outln!("  IPs:       {}", ips.join(", "));
                }
                lantrust_cli::outln!("  key:       {:?}", acc.key_kind());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let violations: Vec<String> = if e.violations().is_empty() {
                vec![e.to_string()]
            } else {
                e.violations().iter().map(|v| v.to_string()).collect()
            };
            if a.json {
                lantrust_cli::outln!(
                    "{}",
                    serde_json::json!({"ok": false, "violations": violations})
                );
            } else {
                lantrust_cli::outln!("REJECTED: {} problem(s)", violations.len());
                for v in &violations {
                    lantrust_cli::outln!("  - {v}");
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Parse `NAME=IP:PORT` (for `--resolve`).
pub(crate) fn parse_resolve(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=IP:PORT, got {s:?}"))?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not IP:PORT ({e})"))?;
    Ok((name.trim_end_matches('.').to_ascii_lowercase(), addr))
}

#[cfg(test)]
mod cli_tests {
    use super::{Cli, Command};
    use clap::Parser;

    /// An RFC 7638 thumbprint is base64url: one in 64 starts with `-`, which clap would take
    /// for a flag unless the argument allows it (found by CI: `approval_binding` drew one).
    #[test]
    fn a_thumbprint_that_starts_with_a_hyphen_is_a_value() {
        let tp = "-e7wB0fnZ2sT0TStQ-3vwUMIpIZTMzRfLesxCOnu-Qs";
        for cmd in ["approve", "deny"] {
            let cli = Cli::try_parse_from([
                "lantrust-server",
                cmd,
                "--state",
                "/nonexistent",
                "cam2",
                "--account",
                tp,
            ])
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
            let account = match cli.command {
                Command::Approve(a) => a.account,
                Command::Deny(a) => a.account,
                _ => unreachable!(),
            };
            assert_eq!(account.as_deref(), Some(tp), "{cmd}");
        }
    }
}
