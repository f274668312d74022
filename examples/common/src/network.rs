//! The network identity (§4.8): interface name, default-router MAC, Wi-Fi SSID, from flags or
//! from the kernel's default route.

use std::net::Ipv4Addr;

use anyhow::bail;
use lantrust_pin::{MacAddress, NetworkId, NetworkKind, PublicKind};

/// Network-identity flags shared by the binaries.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NetworkArgs {
    /// Interface the network is on (default: the default route's interface).
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// MAC address of the default router (default: from /proc/net/route and the ARP table).
    #[arg(long, value_name = "MAC")]
    pub router_mac: Option<String>,
    /// Wi-Fi SSID of the network, if it is a Wi-Fi network.
    #[arg(long, value_name = "SSID")]
    pub ssid: Option<String>,
    /// The network is public (cellular): nothing is pinned or trusted there (§4.9).
    #[arg(long)]
    pub cellular: bool,
}

impl NetworkArgs {
    /// The network identity.
    ///
    /// # Errors
    /// When neither a router MAC nor an SSID is given or can be found.
    pub fn network_id(&self) -> anyhow::Result<NetworkId> {
        let (mut iface, mut mac) = (self.interface.clone(), self.router_mac.clone());
        if mac.is_none() && self.ssid.is_none() {
            if let Some((i, m)) = default_router() {
                iface = iface.or(Some(i));
                mac = Some(m);
            }
        }
        let mut b = NetworkId::builder();
        if let Some(i) = &iface {
            b = b.interface(i);
        }
        if let Some(m) = &mac {
            let m: MacAddress = m
                .parse()
                .map_err(|e| anyhow::anyhow!("--router-mac {m:?}: {e}"))?;
            b = b.router_mac(m);
        }
        if let Some(s) = &self.ssid {
            b = b.ssid(s.as_bytes());
        }
        if mac.is_none() && self.ssid.is_none() {
            bail!(
                "cannot identify the network: no default router found; pass --router-mac MAC or --ssid SSID"
            );
        }
        b.build()
            .map_err(|e| anyhow::anyhow!("network identity: {e}"))
    }

    /// The network's kind.
    pub fn kind(&self) -> NetworkKind {
        if self.cellular {
            NetworkKind::Public(PublicKind::Cellular)
        } else {
            NetworkKind::Private
        }
    }
}

/// The IPv4 default route: (interface, gateway), from `/proc/net/route` (the first default
/// route in the kernel's table, so the one of this network namespace).
pub fn default_route() -> Option<(String, Ipv4Addr)> {
    let route = std::fs::read_to_string("/proc/net/route").ok()?;
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(1) != Some(&"00000000") {
            return None;
        }
        let gw = u32::from_str_radix(f.get(2)?, 16).ok()?;
        // /proc/net/route prints the address in host byte order (little-endian here).
        Some((f.first()?.to_string(), Ipv4Addr::from(gw.swap_bytes())))
    })
}

/// The interface the device or client is on: the default route's, else the first interface
/// that is up, multicast-capable and not loopback.
pub fn default_interface() -> Option<String> {
    default_route()
        .map(|(i, _)| i)
        .or_else(|| multicast_interfaces().into_iter().next())
}

/// The interfaces that are up, multicast-capable and not loopback (from `/sys/class/net`),
/// sorted by name: where an mDNS query is sent (RFC 6762 §5).
pub fn multicast_interfaces() -> Vec<String> {
    const IFF_UP: u32 = 0x1;
    const IFF_LOOPBACK: u32 = 0x8;
    const IFF_MULTICAST: u32 = 0x1000;
    let mut out: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let flags = std::fs::read_to_string(e.path().join("flags")).ok()?;
                    let flags =
                        u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).ok()?;
                    (flags & IFF_UP != 0 && flags & IFF_MULTICAST != 0 && flags & IFF_LOOPBACK == 0)
                        .then_some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The interface's MAC address (from `/sys/class/net/IFACE/address`).
pub fn interface_mac(iface: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    let mut mac = [0u8; 6];
    let mut n = 0;
    for (slot, part) in mac.iter_mut().zip(text.trim().split(':')) {
        *slot = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(mac)
}

/// The interface's first IPv4 address (from `ip -4 -o addr show dev IFACE`).
pub fn interface_v4(iface: &str) -> Option<Ipv4Addr> {
    interface_v4_net(iface).map(|(a, _)| a)
}

/// The interface's first IPv4 address and its prefix length (`ip -4 -o addr show dev IFACE`).
pub fn interface_v4_net(iface: &str) -> Option<(Ipv4Addr, u8)> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", iface])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let cidr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    let (addr, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    Some((addr.parse().ok()?, len.parse().ok().filter(|l| *l <= 32)?))
}

/// Whether `ip` is on the link `(addr, prefix)` (the same subnet).
pub fn on_link(ip: Ipv4Addr, (addr, prefix): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(addr) & mask
}

/// The MAC of `ip` in the kernel's neighbour table (`/proc/net/arp`), if complete.
fn arp_lookup(ip: Ipv4Addr) -> Option<String> {
    let arp = std::fs::read_to_string("/proc/net/arp").ok()?;
    let ip = ip.to_string();
    arp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Flags 0x0 is an incomplete entry (no answer yet), whose MAC reads as all zeroes.
        let complete = f.get(2).is_some_and(|fl| *fl != "0x0");
        let mac = f.get(3)?;
        (f.first() == Some(&ip.as_str()) && complete && *mac != "00:00:00:00:00:00")
            .then(|| mac.to_string())
    })
}

/// (interface, router MAC) of the IPv4 default route. When the router is not in the neighbour
/// table yet (nothing was sent to it since the link came up), one UDP datagram to its discard
/// port makes the kernel resolve it (ARP), and the table is read again for up to two seconds.
fn default_router() -> Option<(String, String)> {
    let (iface, gw) = default_route()?;
    if let Some(mac) = arp_lookup(gw) {
        return Some((iface, mac));
    }
    if let Ok(sock) = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
        let _ = sock.send_to(&[0], (gw, 9));
    }
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Some(mac) = arp_lookup(gw) {
            return Some((iface, mac));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_link_compares_the_subnet() {
        let net = (Ipv4Addr::new(10, 77, 1, 1), 24);
        assert!(on_link(Ipv4Addr::new(10, 77, 1, 200), net));
        assert!(!on_link(Ipv4Addr::new(10, 77, 2, 1), net));
        assert!(on_link(
            Ipv4Addr::new(1, 2, 3, 4),
            (Ipv4Addr::new(9, 9, 9, 9), 0)
        ));
        assert!(!on_link(
            Ipv4Addr::new(10, 0, 0, 2),
            (Ipv4Addr::new(10, 0, 0, 1), 32)
        ));
    }

    #[test]
    fn explicit_identity() {
        let a = NetworkArgs {
            interface: Some("eth0".into()),
            router_mac: Some("02:00:00:00:00:01".into()),
            ..Default::default()
        };
        let b = NetworkArgs {
            router_mac: Some("02:00:00:00:00:02".into()),
            ..a.clone()
        };
        assert_ne!(
            a.network_id().unwrap().fingerprint(),
            b.network_id().unwrap().fingerprint()
        );
        assert_eq!(a.network_id().unwrap(), a.network_id().unwrap());
        let bad = NetworkArgs {
            router_mac: Some("zz".into()),
            ..Default::default()
        };
        assert!(bad.network_id().is_err());
    }
}
