//! Names: distinguished names, DNS name checks, and the name-constraint subtrees.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use const_oid::db::rfc4519;
use der::asn1::{Ia5String, OctetString, SetOfVec, Utf8StringRef};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::{Error, Result};

/// RFC 5280 Appendix A upper bound for commonName (and organizationName).
const UB_NAME: usize = 64;

/// Builds a DN from (attribute OID, UTF8String value) pairs, one attribute per RDN.
pub(crate) fn distinguished_name(attrs: &[(const_oid::ObjectIdentifier, &str)]) -> Result<Name> {
    let mut rdns = Vec::with_capacity(attrs.len());
    for (oid, value) in attrs {
        if value.is_empty() || value.chars().count() > UB_NAME {
            return Err(Error::InvalidName {
                what: "subject attribute",
                value: (*value).into(),
                reason: "must have 1 to 64 characters (RFC 5280 Appendix A)",
            });
        }
        let value = der::Any::encode_from(&Utf8StringRef::new(value).map_err(Error::encoding)?)
            .map_err(Error::encoding)?;
        let atv = AttributeTypeAndValue { oid: *oid, value };
        let set = SetOfVec::try_from(alloc::vec![atv]).map_err(Error::encoding)?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

/// `CN=<value>` only.
pub(crate) fn common_name(value: &str) -> Result<Name> {
    distinguished_name(&[(rfc4519::CN, value)])
}

/// Checks a DNS name: ASCII letters, digits and hyphens (LDH, IDNA A-labels pass), labels of
/// 1–63 characters not starting or ending with a hyphen, at most 253 characters in all.
/// Returns the lower-cased name.
pub(crate) fn dns_name(what: &'static str, value: &str) -> Result<String> {
    let bad = |reason| Error::InvalidName {
        what,
        value: value.into(),
        reason,
    };
    if value.is_empty() || value.len() > 253 {
        return Err(bad("must have 1 to 253 characters"));
    }
    for label in value.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("every label must have 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad(
                "only letters, digits and hyphens are allowed (use IDNA A-labels, no wildcards)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label must not start or end with a hyphen"));
        }
    }
    Ok(value.to_ascii_lowercase())
}

/// A dNSName GeneralName.
pub(crate) fn dns_general_name(name: &str) -> Result<GeneralName> {
    Ok(GeneralName::DnsName(
        Ia5String::new(name).map_err(Error::encoding)?,
    ))
}

/// An iPAddress GeneralName (4 or 16 octets, RFC 5280 §4.2.1.6).
pub(crate) fn ip_general_name(ip: IpAddr) -> Result<GeneralName> {
    let octets = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    Ok(GeneralName::IpAddress(
        OctetString::new(octets).map_err(Error::encoding)?,
    ))
}

/// The private, link-local and loopback ranges a root may vouch for, as name-constraint
/// iPAddress subtrees (address followed by mask, RFC 5280 §4.2.1.10).
pub(crate) const PERMITTED_IP_RANGES: [(&[u8], &[u8]); 8] = [
    // RFC 1918 private.
    (&[10, 0, 0, 0], &[255, 0, 0, 0]),
    (&[172, 16, 0, 0], &[255, 240, 0, 0]),
    (&[192, 168, 0, 0], &[255, 255, 0, 0]),
    // RFC 3927 link-local.
    (&[169, 254, 0, 0], &[255, 255, 0, 0]),
    // RFC 1122 loopback.
    (&[127, 0, 0, 0], &[255, 0, 0, 0]),
    // RFC 4193 unique local fc00::/7.
    (
        &[0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ),
    // RFC 4291 link-local fe80::/10.
    (
        &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xff, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ),
    // RFC 4291 loopback ::1/128.
    (
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        &[0xff; 16],
    ),
];

/// Whether `ip` is private, link-local or loopback (v4 10/8, 172.16/12, 192.168/16,
/// 169.254/16, 127/8; v6 fc00::/7, fe80::/10, ::1): exactly the addresses a root's name
/// constraints permit, so the only ones its device certificates can validly carry.
pub fn is_private_ip(ip: IpAddr) -> bool {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    PERMITTED_IP_RANGES.iter().any(|(addr, mask)| {
        addr.len() == octets.len()
            && octets
                .iter()
                .zip(addr.iter().zip(mask.iter()))
                .all(|(o, (a, m))| o & m == *a)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(
            dns_name("x", "Router-1.Home.ARPA").unwrap(),
            "router-1.home.arpa"
        );
        assert_eq!(
            dns_name("x", "xn--bcher-kva.local").unwrap(),
            "xn--bcher-kva.local"
        );
        for bad in [
            "",
            "a..b",
            "-a.local",
            "a-.local",
            "*.local",
            "a_b.local",
            "ü.local",
        ] {
            assert!(dns_name("x", bad).is_err(), "{bad}");
        }
        assert!(dns_name("x", &"a".repeat(64)).is_err());
    }

    #[test]
    fn permitted_ips() {
        for ok in [
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.9.9",
            "127.0.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
        ] {
            assert!(is_private_ip(ok.parse().unwrap()), "{ok}");
        }
        for no in [
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2001:db8::1",
            "fec0::1",
            "::2",
        ] {
            assert!(!is_private_ip(no.parse().unwrap()), "{no}");
        }
    }
}
