//! Host names and addresses: normalisation and the draft's local scope (§3.5, §4.2).

use alloc::string::{String, ToString};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A name or address a server or device was reached at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    /// A DNS name, lower-case, without a trailing dot.
    Dns(String),
    /// An IP address (an IPv4-mapped IPv6 address is stored as IPv4).
    Ip(IpAddr),
}

impl Host {
    /// Parses `dev1.local`, `Dev1.Example.Test.`, `192.168.1.5`, `fe80::1`, `[fe80::1%eth0]`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        // A zone index (`%eth0`) only qualifies a link-local address; it is not part of it.
        let no_zone = bare.split_once('%').map_or(bare, |(a, _)| a);
        if let Ok(ip) = no_zone.parse::<IpAddr>() {
            return Some(Self::Ip(canonical_ip(ip)));
        }
        if bare != s || no_zone != bare {
            return None;
        }
        normalize_dns(s).map(Self::Dns)
    }

    /// The normalised text: the DNS name, or the address as `IpAddr` displays it.
    pub(crate) fn into_string(self) -> String {
        match self {
            Self::Dns(name) => name,
            Self::Ip(ip) => ip.to_string(),
        }
    }
}

/// Maps `::ffff:a.b.c.d` to `a.b.c.d` so scope rules see one form.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Lower-cases `s`, drops one trailing dot and checks it is a valid LDH host name
/// (labels of 1–63 letters, digits or inner hyphens; at most 253 characters).
pub(crate) fn normalize_dns(s: &str) -> Option<String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

/// Link-local, loopback and private-use addresses (§4.2): IPv4 10/8, 172.16/12, 192.168/16,
/// 169.254/16, 127/8; IPv6 ::1, fe80::/10, fc00::/7.
pub(crate) fn is_local_ip(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_link_local() || ip.is_loopback()
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback() || (first & 0xffc0) == 0xfe80 || (first & 0xfe00) == 0xfc00
}

/// Whether `name` (normalised) lies strictly under `.local` or under one of `domains`.
pub(crate) fn dns_in_scope<'a>(name: &str, domains: impl IntoIterator<Item = &'a String>) -> bool {
    if under(name, "local") {
        return true;
    }
    domains.into_iter().any(|d| under(name, d))
}

/// `name` is a strict subdomain of `parent` (`a.b` is under `b`; `b` is not).
fn under(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 1
        && name.ends_with(parent)
        && name.as_bytes().get(name.len() - parent.len() - 1) == Some(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn hosts_parse_and_normalise() {
        assert_eq!(
            Host::parse("Dev1.Local."),
            Some(Host::Dns("dev1.local".into()))
        );
        assert_eq!(
            Host::parse("[fe80::1%eth0]"),
            Some(Host::Ip("fe80::1".parse().unwrap()))
        );
        assert_eq!(
            Host::parse("::ffff:192.168.1.2"),
            Some(Host::Ip("192.168.1.2".parse().unwrap()))
        );
        assert_eq!(Host::parse("bad_name.local"), None);
        assert_eq!(Host::parse("-x.local"), None);
        assert_eq!(Host::parse(""), None);
        assert_eq!(Host::parse("a..local"), None);
        assert_eq!(Host::parse("[dev1.local]"), None);
    }

    #[test]
    fn local_ip_ranges() {
        for ok in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.0.9",
            "169.254.1.1",
            "127.0.0.1",
            "::1",
        ] {
            assert!(is_local_ip(ok.parse().unwrap()), "{ok}");
        }
        for ok in [
            "fe80::1",
            "febf::1",
            "fd12:3456::1",
            "fc00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_local_ip(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "8.8.8.8",
            "172.32.0.1",
            "100.64.0.1",
            "2001:db8::1",
            "fec0::1",
            "::",
        ] {
            assert!(!is_local_ip(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn dns_scope() {
        let domains = vec!["example.test".to_string()];
        assert!(dns_in_scope("dev1.local", &domains));
        assert!(dns_in_scope("dev1.example.test", &domains));
        assert!(!dns_in_scope("local", &domains));
        assert!(!dns_in_scope("example.test", &domains));
        assert!(!dns_in_scope("badexample.test", &domains));
        assert!(!dns_in_scope("www.example.com", &domains));
        assert!(!dns_in_scope("dev1.localx", &domains));
    }
}
