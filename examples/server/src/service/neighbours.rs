//! Where a requester is on the LAN: the MAC address of its source address, for the owner's
//! approval decision (draft §3.4.4: the owner approves *a device*). Read from the kernel's
//! neighbour table (`/proc/net/arp` for IPv4, `ip -j neigh` for IPv6) or a dnsmasq leases file
//! (`serve --dhcp-leases FILE`). Best effort: a peer on another subnet, or loopback, has none.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `serve` flag for the leases file.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct NeighbourArgs {
    /// A dnsmasq DHCP leases file (e.g. /var/lib/misc/dnsmasq.leases) to read requesters' MAC
    /// addresses from, for `pending` and `list`. Without it (and for addresses it lacks) the
    /// kernel's neighbour table is used: /proc/net/arp, and `ip -j neigh` for IPv6.
    #[arg(long, value_name = "FILE")]
    pub(crate) dhcp_leases: Option<PathBuf>,
}

/// How long a looked-up address is remembered (the neighbour table changes slowly; a device
/// polling its authorization every few seconds must not cost a file read each time).
const CACHE_FOR: Duration = Duration::from_secs(60);

/// MAC lookups with a short cache.
#[derive(Debug, Default)]
pub(crate) struct Neighbours {
    leases: Option<PathBuf>,
    cache: HashMap<IpAddr, (Option<String>, Instant)>,
}

impl Neighbours {
    /// Lookups that try `leases` (a dnsmasq leases file) first.
    pub(crate) fn new(leases: Option<PathBuf>) -> Self {
        Neighbours {
            leases,
            cache: HashMap::new(),
        }
    }

    /// The MAC address of `ip`, lower-case `aa:bb:cc:dd:ee:ff`, where known.
    pub(crate) fn mac(&mut self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        let now = Instant::now();
        if let Some((mac, at)) = self.cache.get(&ip)
            && now.saturating_duration_since(*at) < CACHE_FOR
        {
            return mac.clone();
        }
        let mac = self.lookup(ip);
        if self.cache.len() >= 4096 {
            self.cache.clear();
        }
        self.cache.insert(ip, (mac.clone(), now));
        mac
    }

    fn lookup(&self, ip: IpAddr) -> Option<String> {
        if let Some(path) = &self.leases
            && let Some(mac) = read(path).and_then(|t| mac_from_dnsmasq_leases(&t, ip))
        {
            return Some(mac);
        }
        match ip {
            IpAddr::V4(_) => {
                read(Path::new("/proc/net/arp")).and_then(|t| mac_from_proc_arp(&t, ip))
            }
            IpAddr::V6(_) => {
                let out = std::process::Command::new("ip")
                    .args(["-j", "neigh", "show", "to", &ip.to_string()])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .ok()?;
                mac_from_ip_neigh_json(&String::from_utf8_lossy(&out.stdout), ip)
            }
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .inspect_err(|e| tracing::debug!(path = %path.display(), error = %e, "cannot read"))
        .ok()
}

/// A MAC address as six hex octets separated by `:`, not all zero (an incomplete entry).
fn normal_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    (ok && parts.iter().any(|p| *p != "00")).then(|| s.to_ascii_lowercase())
}

/// `/proc/net/arp`: `IP address  HW type  Flags  HW address  Mask  Device`; flags 0x0 is an
/// incomplete entry.
pub(crate) fn mac_from_proc_arp(text: &str, ip: IpAddr) -> Option<String> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (addr, flags, mac) = (f.first()?, f.get(2)?, f.get(3)?);
        (addr.parse::<IpAddr>().ok()? == ip && *flags != "0x0")
            .then(|| normal_mac(mac))
            .flatten()
    })
}

/// dnsmasq's leases file: `EXPIRY MAC IP HOSTNAME CLIENT-ID` per IPv4 lease (IPv6 leases,
/// after the `duid` line, carry an IAID instead of a MAC and are skipped).
pub(crate) fn mac_from_dnsmasq_leases(text: &str, ip: IpAddr) -> Option<String> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (mac, addr) = (f.get(1)?, f.get(2)?);
        (addr.parse::<IpAddr>().ok()?.to_canonical() == ip)
            .then(|| normal_mac(mac))
            .flatten()
    })
}

/// `ip -j neigh`: `[{"dst": "fe80::1", "dev": "eth0", "lladdr": "aa:bb:…", "state": [...]}]`.
pub(crate) fn mac_from_ip_neigh_json(text: &str, ip: IpAddr) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.as_array()?.iter().find_map(|e| {
        let dst = e.get("dst")?.as_str()?.parse::<IpAddr>().ok()?;
        let failed = e
            .get("state")
            .and_then(|s| s.as_array())
            .is_some_and(|s| s.iter().any(|x| x == "FAILED" || x == "INCOMPLETE"));
        (dst == ip && !failed)
            .then(|| normal_mac(e.get("lladdr")?.as_str()?))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn proc_net_arp() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 192.168.1.1      0x1         0x2         AA:bb:cc:dd:ee:01     *        eth0\n\
                 192.168.1.7      0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        assert_eq!(
            mac_from_proc_arp(t, ip("192.168.1.1")).as_deref(),
            Some("aa:bb:cc:dd:ee:01")
        );
        assert_eq!(mac_from_proc_arp(t, ip("192.168.1.7")), None);
        assert_eq!(mac_from_proc_arp(t, ip("192.168.1.9")), None);
    }

    #[test]
    fn dnsmasq_leases() {
        let t = "1733100000 02:11:22:33:44:55 192.168.1.50 cam-1 01:02:11:22:33:44:55\n\
                 duid 00:01:00:01:2c:aa:bb:cc:02:11:22:33:44:55\n\
                 1733100000 1122 fd00::50 cam-1 00:01:00:01:2c\n";
        assert_eq!(
            mac_from_dnsmasq_leases(t, ip("192.168.1.50")).as_deref(),
            Some("02:11:22:33:44:55")
        );
        assert_eq!(mac_from_dnsmasq_leases(t, ip("fd00::50")), None);
        assert_eq!(mac_from_dnsmasq_leases(t, ip("192.168.1.51")), None);
    }

    #[test]
    fn ip_neigh_json() {
        let t = r#"[{"dst":"fe80::1","dev":"eth0","lladdr":"02:aa:bb:cc:dd:ee","router":null,"state":["REACHABLE"]},
                    {"dst":"fe80::2","dev":"eth0","state":["FAILED"]}]"#;
        assert_eq!(
            mac_from_ip_neigh_json(t, ip("fe80::1")).as_deref(),
            Some("02:aa:bb:cc:dd:ee")
        );
        assert_eq!(mac_from_ip_neigh_json(t, ip("fe80::2")), None);
        assert_eq!(mac_from_ip_neigh_json("", ip("fe80::2")), None);
    }
}
