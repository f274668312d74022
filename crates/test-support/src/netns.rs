//! Network namespaces for tests that need a real link (DHCP, source addresses): two namespaces
//! joined by a veth pair, deleted with everything in them when the [`Pair`] is dropped. Tests
//! use only the addresses they give the pair, never the host's network.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether this process runs as root (`id -u` is 0), which `ip netns add` needs.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Whether namespaces can be made here (root and iproute2's `ip`); if not, a loud
/// [`skip`](crate::skip) naming `what` (the test) and the reason, and `false`.
pub fn permitted(what: &str) -> bool {
    if !is_root() {
        crate::skip(format_args!(
            "{what}: not running as root (network namespaces need CAP_NET_ADMIN)"
        ));
        return false;
    }
    if !crate::have("ip") {
        crate::skip(format_args!(
            "{what}: `ip` (iproute2) is not installed (scripts/install-peers installs it)"
        ));
        return false;
    }
    true
}

/// Runs `ip ARGS`; panics with its error output when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip netns exec NS PROGRAM`: a command to which the caller adds arguments.
pub fn exec(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

/// Two network namespaces, `server` and `client`, joined by a veth pair (`server_if` in the
/// first, `client_if` in the second), loopback and both ends up. Dropping it deletes both
/// namespaces, which ends the veth pair with them.
#[derive(Debug)]
pub struct Pair {
    /// The server namespace's name.
    pub server: String,
    /// The client namespace's name.
    pub client: String,
    /// The veth end in the server namespace.
    pub server_if: String,
    /// The veth end in the client namespace.
    pub client_if: String,
}

impl Pair {
    /// A new pair; `tag` (at most 3 characters) and the process ID and a counter name it, so
    /// tests running at the same time, and other processes' namespaces, are left alone.
    pub fn new(tag: &str) -> Pair {
        Self::build(tag, true)
    }

    /// As [`Pair::new`], with IPv6 duplicate address detection off in both namespaces before
    /// the links come up, so that link-local addresses are usable at once; waits until each end
    /// has one (a DHCPv6 server binds it).
    pub fn without_dad(tag: &str) -> Pair {
        let pair = Self::build(tag, false);
        pair.wait_link_local(Duration::from_secs(10));
        pair
    }

    fn build(tag: &str, dad: bool) -> Pair {
        static N: AtomicU32 = AtomicU32::new(0);
        // An interface name is at most 15 bytes: "lt" + tag + side + pid (5) + counter.
        assert!(tag.len() <= 3, "netns tag {tag:?} is longer than 3");
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst) % 100
        );
        let pair = Pair {
            server: format!("lt{tag}-s-{id}"),
            client: format!("lt{tag}-c-{id}"),
            server_if: format!("lt{tag}s{id}"),
            client_if: format!("lt{tag}c{id}"),
        };
        ip(&["netns", "add", &pair.server]);
        ip(&["netns", "add", &pair.client]);
        ip(&[
            "link",
            "add",
            &pair.server_if,
            "type",
            "veth",
            "peer",
            "name",
            &pair.client_if,
        ]);
        ip(&["link", "set", &pair.server_if, "netns", &pair.server]);
        ip(&["link", "set", &pair.client_if, "netns", &pair.client]);
        for (ns, dev) in pair.sides() {
            if !dad {
                for key in ["all", "default", dev] {
                    let _ = exec(ns, "sysctl")
                        .arg("-qw")
                        .arg(format!("net.ipv6.conf.{key}.accept_dad=0"))
                        .output();
                }
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }

    /// (namespace, veth end) of the server, then of the client.
    pub fn sides(&self) -> [(&str, &str); 2] {
        [
            (&self.server, &self.server_if),
            (&self.client, &self.client_if),
        ]
    }

    /// Adds `cidr` to the server's end (IPv6 without duplicate address detection).
    pub fn add_server_addr(&self, cidr: &str) {
        add_addr(&self.server, &self.server_if, cidr);
    }

    /// Adds `cidr` to the client's end (IPv6 without duplicate address detection).
    pub fn add_client_addr(&self, cidr: &str) {
        add_addr(&self.client, &self.client_if, cidr);
    }

    /// Waits until both ends have a link-local IPv6 address that is no longer tentative.
    fn wait_link_local(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for (ns, dev) in self.sides() {
            loop {
                let out = Command::new("ip")
                    .args(["-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link"])
                    .output()
                    .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("fe80") && !text.contains("tentative") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no link-local address on {dev}: {text}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `ip -n NS addr add CIDR dev DEV` (`nodad` for IPv6).
fn add_addr(ns: &str, dev: &str, cidr: &str) {
    if cidr.contains(':') {
        ip(&["-n", ns, "addr", "add", cidr, "dev", dev, "nodad"]);
    } else {
        ip(&["-n", ns, "addr", "add", cidr, "dev", dev]);
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and so its peer.
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
