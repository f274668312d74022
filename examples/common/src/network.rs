//! The network identity (§4.8): interface name, default-router MAC, Wi-Fi SSID, from flags or
//! from the kernel's default route.

use anyhow::{Context, bail};
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

/// (interface, router MAC) of the IPv4 default route, from /proc.
fn default_router() -> Option<(String, String)> {
    let route = std::fs::read_to_string("/proc/net/route").ok()?;
    let (iface, gw) = route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"00000000")).then(|| (f.first().copied(), f.get(2).copied()))
    })?;
    let gw = u32::from_str_radix(gw?, 16).ok()?;
    let gw = std::net::Ipv4Addr::from(gw.swap_bytes()).to_string();
    let arp = std::fs::read_to_string("/proc/net/arp")
        .context("arp")
        .ok()?;
    let mac = arp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&gw.as_str())).then(|| f.get(3).map(|m| m.to_string()))
    })??;
    Some((iface?.to_string(), mac))
}

#[cfg(test)]
mod tests {
    use super::*;

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
