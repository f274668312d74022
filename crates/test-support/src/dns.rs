//! Real DNS servers on 127.0.0.1 for unicast DNS-SD tests: dnsmasq and unbound, started on a
//! free port, probed until they answer, killed when dropped.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::free_udp_tcp_port;
use crate::process::{Proc, find_program};

/// How long a started server has to answer its first query.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A DNS server on 127.0.0.1 (UDP and TCP on [`DnsServer::addr`]), killed when dropped.
#[derive(Debug)]
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    name: &'static str,
    child: Proc,
    _dir: Option<tempfile::TempDir>,
}

impl DnsServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT`, as a `--dns` argument.
    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Sends one UDP datagram and waits 300 ms for the answer; `None` on timeout. An answer from
    /// anywhere but the server is a panic.
    pub fn exchange_udp(&self, query: &[u8]) -> Option<Vec<u8>> {
        let sock = UdpSocket::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind a UDP socket on 127.0.0.1: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap_or_else(|e| panic!("cannot set a UDP read timeout: {e}"));
        sock.send_to(query, self.addr)
            .unwrap_or_else(|e| panic!("cannot send to {} at {}: {e}", self.name, self.addr));
        let mut answer = vec![0u8; 1232];
        let (len, from) = sock.recv_from(&mut answer).ok()?;
        assert_eq!(from, self.addr, "answer from a stranger");
        answer.truncate(len);
        Some(answer)
    }

    /// [`DnsServer::exchange_udp`], up to five tries; no answer at all is a panic.
    pub fn udp(&self, query: &[u8]) -> Vec<u8> {
        (0..5)
            .find_map(|_| self.exchange_udp(query))
            .unwrap_or_else(|| panic!("no answer from {} at {} in 5 tries", self.name, self.addr))
    }

    /// [`DnsServer::udp`] for the query that `emit` writes into a 512-byte buffer (returning its
    /// length), as a codec's `emit` does.
    pub fn udp_with(&self, emit: impl FnOnce(&mut [u8]) -> usize) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let n = emit(&mut buf);
        let query = buf
            .get(..n)
            .unwrap_or_else(|| panic!("the query emitter claims {n} bytes of a 512-byte buffer"));
        self.udp(query)
    }

    /// Waits until the server answers a query for `probe` (type A): `false` if it exited first
    /// (its port was taken), a panic if it runs but stays silent.
    fn wait_ready(&mut self, probe: &str) -> bool {
        let query = probe_query(probe);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.exchange_udp(&query).is_some() {
                return true;
            }
            if self.child.has_exited() {
                return false;
            }
        }
        panic!(
            "{} on {} did not answer within {START_TIMEOUT:?}",
            self.name, self.addr
        );
    }
}

/// A standard query (RD set, ID 1) for `name` type A, class IN: the readiness probe. Built by hand
/// so that the scaffolding does not depend on the codec under test.
pub fn probe_query(name: &str) -> Vec<u8> {
    let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .unwrap_or_else(|| panic!("bad probe name {name:?}: label {label:?}"));
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Starts `program` (Debian package `package`) on a free port of 127.0.0.1 with the command that
/// `command` makes for the binary and the port (plus a directory to keep while it runs), and waits
/// until it answers a query for `probe`; a start that loses its port is retried.
fn start(
    program: &'static str,
    package: &str,
    probe: &str,
    mut command: impl FnMut(&Path, u16) -> (Command, Option<tempfile::TempDir>),
) -> Option<DnsServer> {
    let Some(bin) = find_program(program) else {
        crate::skip(format_args!(
            "{program} interop: {program} not found (scripts/install-peers installs Debian {package})"
        ));
        return None;
    };
    // The port can be taken between probing and binding: try a few.
    for _ in 0..3 {
        let port = free_udp_tcp_port();
        let (mut cmd, dir) = command(&bin, port);
        let mut server = DnsServer {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            name: program,
            child: Proc::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::null())),
            _dir: dir,
        };
        if server.wait_ready(probe) {
            return Some(server);
        }
    }
    panic!("{program} exited at start three times (check its configuration)");
}

/// Starts dnsmasq as a DNS server only (no DHCP, no upstream, no hosts file) on a free port of
/// 127.0.0.1 with `records` (dnsmasq options such as `--srv-host=…`, `--host-record=…`), and waits
/// until it answers a query for `probe`. `None`, after a loud `SKIPPED`, when dnsmasq is not
/// installed.
pub fn start_dnsmasq(records: &[&str], probe: &str) -> Option<DnsServer> {
    start("dnsmasq", "dnsmasq-base", probe, |bin, port| {
        let mut cmd = Command::new(bin);
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
        ])
        .args(records)
        .stderr(Stdio::null());
        (cmd, None)
    })
}

/// Starts unbound on a free port of 127.0.0.1, serving only the local data in `zones` (lines of
/// its `server:` clause such as `local-zone: "example.test." static` and `local-data: "…"`, no
/// recursion elsewhere), and waits until it answers a query for `probe` (which must be in those
/// zones, or unbound would try the Internet). The config is checked with `unbound-checkconf`
/// when that is installed. `None`, after a loud `SKIPPED`, when unbound is not installed.
pub fn start_unbound(zones: &[&str], probe: &str) -> Option<DnsServer> {
    start("unbound", "unbound", probe, |bin, port| {
        let dir = crate::temp_dir("unbound");
        let conf_path = dir.path().join("unbound.conf");
        std::fs::write(&conf_path, unbound_conf(dir.path(), port, zones))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf_path.display()));
        if let Some(check) = find_program("unbound-checkconf") {
            let out = crate::process::run(&check, &[conf_path.to_str().unwrap_or_default()]);
            assert!(
                out.status.success(),
                "unbound-checkconf refused the test config: {}",
                crate::process::output_text(&out)
            );
        }
        let mut cmd = Command::new(bin);
        cmd.arg("-d")
            .arg("-c")
            .arg(&conf_path)
            // Errors only (verbosity 0): shown if it fails to start.
            .stderr(Stdio::inherit());
        (cmd, Some(dir))
    })
}

fn unbound_conf(dir: &Path, port: u16, zones: &[&str]) -> String {
    let mut conf = format!(
        r#"server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
"#,
        dir = dir.display()
    );
    for line in zones {
        conf.push_str("    ");
        conf.push_str(line);
        conf.push('\n');
    }
    conf
}
