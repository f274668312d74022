//! Debian's Pebble (a test ACME server) and pebble-challtestsrv (its DNS) on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::net::{free_port, wait_for_port};
use crate::openssl::localhost_tls;
use crate::process::{Proc, require_programs};

/// How to run Pebble.
#[derive(Debug, Clone, Default)]
pub struct PebbleOptions {
    /// The port Pebble sends http-01 validations to on 127.0.0.1; a free one when `None` (bind
    /// your responder first and pass its port, so nothing else can take it).
    pub http01_port: Option<u16>,
    /// `PEBBLE_ALTERNATE_ROOTS=1`: issue under an alternate chain too (`Link: rel="alternate"`).
    pub alternate_roots: bool,
}

/// A running Pebble and pebble-challtestsrv, killed when dropped.
#[derive(Debug)]
pub struct Pebble {
    /// The ACME directory URL (`https://127.0.0.1:PORT/dir`).
    pub directory: String,
    /// Where Pebble sends http-01 validations (127.0.0.1).
    pub http01_port: u16,
    /// Pebble's management interface port.
    pub mgmt_port: u16,
    /// The CA certificate (PEM) that Pebble's HTTPS certificate chains to.
    pub ca_pem: PathBuf,
    /// The same CA certificate, DER.
    pub ca_der: Vec<u8>,
    _procs: Vec<Proc>,
}

/// Starts pebble-challtestsrv (answering every name with 127.0.0.1) and Pebble using it as DNS,
/// with its HTTPS certificate, config and CA written into `dir`. Nonce rejection stays at
/// Pebble's default (5% badNonce) and validation sleeps are off. `None`, after a loud
/// `SKIPPED`, when pebble, pebble-challtestsrv or openssl is not installed.
pub fn start_pebble(dir: &Path, options: &PebbleOptions) -> Option<Pebble> {
    if !require_programs(
        &["pebble", "pebble-challtestsrv", "openssl"],
        "Pebble interop",
    ) {
        return None;
    }
    localhost_tls(dir);
    let (acme_port, mgmt_port, tls_port, dns_port, chall_mgmt) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let http01_port = options.http01_port.unwrap_or_else(free_port);
    let cfg = format!(
        r#"{{"pebble":{{"listenAddress":"127.0.0.1:{acme_port}","managementListenAddress":"127.0.0.1:{mgmt_port}",
        "certificate":"cert.pem","privateKey":"key.pem","httpPort":{http01_port},"tlsPort":{tls_port},
        "ocspResponderURL":"","externalAccountBindingRequired":false}}}}"#
    );
    let cfg_path = dir.join("pebble.json");
    std::fs::write(&cfg_path, cfg)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", cfg_path.display()));
    let chall = Proc::spawn(
        Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{chall_mgmt}"),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut pebble = Command::new("pebble");
    pebble
        .current_dir(dir)
        .args([
            "-config",
            "pebble.json",
            "-dnsserver",
            &format!("127.0.0.1:{dns_port}"),
        ])
        // Skip Pebble's random validation sleeps; keep PEBBLE_WFE_NONCEREJECT at its default (5%).
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env_remove("PEBBLE_WFE_NONCEREJECT")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if options.alternate_roots {
        pebble.env("PEBBLE_ALTERNATE_ROOTS", "1");
    }
    let pebble = Proc::spawn(&mut pebble);
    wait_for_port(acme_port);
    wait_for_port(chall_mgmt);
    let ca_der_path = dir.join("ca.der");
    let ca_der = std::fs::read(&ca_der_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", ca_der_path.display()));
    Some(Pebble {
        directory: format!("https://127.0.0.1:{acme_port}/dir"),
        http01_port,
        mgmt_port,
        ca_pem: dir.join("ca.pem"),
        ca_der,
        _procs: vec![pebble, chall],
    })
}
