//! The network identity (§4.8): interface name, default-router MAC, Wi-Fi SSID, from flags or
//! from the host (the default route, the neighbour table, and [`crate::ssid`] for Wi-Fi).

use std::net::Ipv4Addr;

use anyhow::bail;
use lantrust_pin::{MacAddress, NetworkId, NetworkKind, PublicKind};

/// Network-identity flags shared by the binaries. With neither `--router-mac` nor `--ssid`, the
/// identity is found on the host: the interface (`--interface`, else the default route's), the
/// MAC of the default router on that interface (neighbour table), and the Wi-Fi SSID that
/// interface is associated with, if it is wireless ([`crate::ssid::detect`]). A wired interface
/// has no SSID.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NetworkArgs {
    /// Interface the network is on (default: the default route's interface).
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// MAC address of the default router (default: the default route's gateway on the interface,
    /// from /proc/net/route and the neighbour table). Given, nothing is detected.
    #[arg(long, value_name = "MAC")]
    pub router_mac: Option<String>,
    /// Wi-Fi SSID of the network (default: read from the interface with `iw`, `iwgetid`, `nmcli`
    /// or `wpa_cli`; none on a wired interface). Given, nothing is detected.
    #[arg(long, value_name = "SSID")]
    pub ssid: Option<String>,
    /// The network is public (cellular): nothing is pinned or trusted there (§4.9).
    #[arg(long)]
    pub cellular: bool,
}

impl NetworkArgs {
    /// The network identity (§4.8): the flags, or, when neither `--router-mac` nor `--ssid` is
    /// given, what the host says (see [`NetworkArgs`]).
    ///
    /// # Errors
    /// When neither a router MAC nor an SSID is given or can be found.
    pub fn network_id(&self) -> anyhow::Result<NetworkId> {
        let (mut iface, mut mac) = (self.interface.clone(), self.router_mac.clone());
        let mut ssid = self.ssid.clone().map(String::into_bytes);
        if mac.is_none() && ssid.is_none() {
            // The router of the interface in use: a default route on another interface is
            // another network's router.
            iface = iface.or_else(|| default_route().map(|(i, _)| i));
            if let Some(i) = &iface {
                mac = default_router(i);
                ssid = crate::ssid::detect(i).map(|(s, _)| s);
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
        if let Some(s) = &ssid {
            b = b.ssid(s);
        }
        if mac.is_none() && ssid.is_none() {
            let on = iface.map(|i| format!(" on {i}")).unwrap_or_default();
            bail!(
                "cannot identify the network: no default router found{on} and no Wi-Fi SSID; pass --router-mac MAC or --ssid SSID"
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

/// The MAC of the IPv4 default route's gateway on `iface`. When the router is not in the
/// neighbour table yet (nothing was sent to it since the link came up), one UDP datagram to its
/// discard port makes the kernel resolve it (ARP), and the table is read again for up to two
/// seconds.
fn default_router(iface: &str) -> Option<String> {
    let gw = default_gateway_on(
        &std::fs::read_to_string("/proc/net/route").unwrap_or_default(),
        iface,
    )?;
    if let Some(mac) = arp_lookup(gw) {
        return Some(mac);
    }
    if let Ok(sock) = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
        let _ = sock.send_to(&[0], (gw, 9));
    }
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Some(mac) = arp_lookup(gw) {
            return Some(mac);
        }
    }
    None
}

/// The gateway of the first IPv4 default route through `iface` in `/proc/net/route` text.
fn default_gateway_on(route: &str, iface: &str) -> Option<Ipv4Addr> {
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first() != Some(&iface) || f.get(1) != Some(&"00000000") {
            return None;
        }
        let gw = u32::from_str_radix(f.get(2)?, 16).ok()?;
        // /proc/net/route prints the address in host byte order (little-endian here).
        Some(Ipv4Addr::from(gw.swap_bytes()))
    })
}

/// The network identity in words: `interface eth0, router 02:…, no Wi-Fi SSID`.
pub fn describe(net: &NetworkId) -> String {
    let mut parts = Vec::new();
    if let Some(i) = net.interface() {
        parts.push(format!("interface {i}"));
    }
    if let Some(m) = net.router_mac() {
        parts.push(format!("router {m}"));
    }
    parts.push(match net.ssid() {
        Some(s) => format!("Wi-Fi SSID {:?}", String::from_utf8_lossy(s)),
        None => "no Wi-Fi SSID".to_string(),
    });
    parts.join(", ")
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
    fn the_router_is_the_default_gateway_of_the_interface_in_use() {
        // /proc/net/route with default routes on eth0 (metric 100) and wlan0 (metric 600).
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
wlan0\t00000000\t01020A0A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n";
        assert_eq!(
            default_gateway_on(route, "eth0"),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(
            default_gateway_on(route, "wlan0"),
            Some(Ipv4Addr::new(10, 10, 2, 1))
        );
        assert_eq!(default_gateway_on(route, "eth1"), None);
    }

    #[test]
    fn the_identity_in_words() {
        let wired = NetworkId::builder()
            .interface("eth0")
            .router_mac("02:00:00:00:00:01".parse().unwrap())
            .build()
            .unwrap();
        assert_eq!(
            describe(&wired),
            "interface eth0, router 02:00:00:00:00:01, no Wi-Fi SSID"
        );
        let wifi = NetworkId::builder()
            .ssid("Café".as_bytes())
            .build()
            .unwrap();
        assert_eq!(describe(&wifi), "Wi-Fi SSID \"Café\"");
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
        // --ssid alone: the SSID is the identity, nothing is detected.
        let s = NetworkArgs {
            ssid: Some("Home".into()),
            ..Default::default()
        };
        let net = s.network_id().unwrap();
        assert_eq!(net.ssid(), Some(&b"Home"[..]));
        assert_eq!((net.interface(), net.router_mac()), (None, None));
        let bad = NetworkArgs {
            router_mac: Some("zz".into()),
            ..Default::default()
        };
        assert!(bad.network_id().is_err());
    }
}
