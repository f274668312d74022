//! Shared test helpers for lantrust-device and lantrust-client tests: peer processes, ports, openssl.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Kills the child when dropped.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A throwaway P-256 CA and a localhost/127.0.0.1 leaf for Pebble's HTTPS (Debian ships none).
pub fn pebble_tls(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=lantrust test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
}

pub struct Pebble {
    pub directory: String,
    pub http01_port: u16,
    pub mgmt_port: u16,
    _procs: Vec<Proc>,
}

/// Pebble + pebble-challtestsrv on 127.0.0.1 (every name resolves to 127.0.0.1), nonce
/// rejection left at its default. None (with a loud SKIPPED) when the peers are missing.
pub fn start_pebble(dir: &Path) -> Option<Pebble> {
    use std::process::Stdio;
    for bin in ["pebble", "pebble-challtestsrv", "openssl"] {
        if !have(bin) {
            eprintln!("SKIPPED: `{bin}` is not installed (scripts/install-peers installs it)");
            return None;
        }
    }
    pebble_tls(dir);
    let (acme_port, mgmt_port, tls_port, dns_port, chall_mgmt, http01_port) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let cfg = format!(
        r#"{{"pebble":{{"listenAddress":"127.0.0.1:{acme_port}","managementListenAddress":"127.0.0.1:{mgmt_port}",
        "certificate":"cert.pem","privateKey":"key.pem","httpPort":{http01_port},"tlsPort":{tls_port},
        "ocspResponderURL":"","externalAccountBindingRequired":false}}}}"#
    );
    std::fs::write(dir.join("pebble.json"), cfg).unwrap();
    let chall = Proc(
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
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pebble = Proc(
        Command::new("pebble")
            .current_dir(dir)
            .args([
                "-config",
                "pebble.json",
                "-dnsserver",
                &format!("127.0.0.1:{dns_port}"),
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env_remove("PEBBLE_WFE_NONCEREJECT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(acme_port);
    wait_for_port(chall_mgmt);
    Some(Pebble {
        directory: format!("https://127.0.0.1:{acme_port}/dir"),
        http01_port,
        mgmt_port,
        _procs: vec![pebble, chall],
    })
}
