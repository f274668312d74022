//! DNS name syntax (RFC 1035 §2.3.1, RFC 5890 §2.3.2) and IP address ranges (draft §4.2).

#[cfg(feature = "idna")]
use alloc::string::String;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[cfg(feature = "idna")]
use idna::uts46::{AsciiDenyList, Hyphens, Uts46};
#[cfg(feature = "idna")]
use unicode_script::{Script, UnicodeScript};

use crate::policy::Violation;

/// Longest DNS name in presentation form without the root dot (RFC 1035 §2.3.4: 255 octets on
/// the wire).
pub(crate) const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Checks the syntax of one dNSName; pushes one violation per kind of problem found and returns
/// whether the name is clean.
pub(crate) fn check_dns_syntax(raw: &[u8], name: &str, out: &mut Vec<Violation>) -> bool {
    let before = out.len();
    if raw.is_empty() {
        out.push(Violation::EmptyLabel {
            name: name.to_string(),
        });
        return false;
    }
    let (mut wildcard, mut empty, mut long, mut non_ldh) = (false, false, None, false);
    #[cfg(feature = "idna")]
    let mut bad_alabel = None;
    #[cfg(feature = "idna")]
    let mut mixed = None;
    #[cfg(not(feature = "idna"))]
    let mut unchecked_alabel = false;
    for label in raw.split(|&b| b == b'.') {
        if label.is_empty() {
            empty = true;
            continue;
        }
        if label.len() > MAX_LABEL_LEN && long.is_none() {
            long = Some(label.len());
        }
        if label.contains(&b'*') {
            wildcard = true;
            continue;
        }
        if !is_ldh(label) {
            non_ldh = true;
            continue;
        }
        if label.len() >= 4
            && label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
        {
            #[cfg(feature = "idna")]
            {
                let label_str = String::from_utf8_lossy(label).to_ascii_lowercase();
                match a_label_to_unicode(&label_str) {
                    None => {
                        if bad_alabel.is_none() {
                            bad_alabel = Some(label_str);
                        }
                    }
                    Some(u) => {
                        if mixed.is_none() && is_mixed_script(&u) {
                            mixed = Some((label_str, u));
                        }
                    }
                }
            }
            // RFC 5891 §5.4 asks the registrant to check an A-label; without the IDNA tables this
            // build cannot, so it refuses rather than certify an unchecked (maybe homograph) name.
            #[cfg(not(feature = "idna"))]
            {
                unchecked_alabel = true;
            }
        }
    }
    let name = || name.to_string();
    if wildcard {
        out.push(Violation::Wildcard { name: name() });
    }
    if empty {
        out.push(Violation::EmptyLabel { name: name() });
    }
    if let Some(len) = long {
        out.push(Violation::LabelTooLong { name: name(), len });
    }
    if raw.len() > MAX_NAME_LEN {
        out.push(Violation::NameTooLong {
            name: name(),
            len: raw.len(),
        });
    }
    if non_ldh {
        out.push(Violation::NotLdh { name: name() });
    }
    #[cfg(feature = "idna")]
    if let Some(label) = bad_alabel {
        out.push(Violation::InvalidALabel {
            name: name(),
            label,
        });
    }
    #[cfg(feature = "idna")]
    if let Some((label, unicode)) = mixed {
        out.push(Violation::MixedScriptLabel {
            name: name(),
            label,
            unicode,
        });
    }
    #[cfg(not(feature = "idna"))]
    if unchecked_alabel {
        out.push(Violation::NotBuilt {
            what: "IDNA A-labels (xn--)",
            feature: "idna",
        });
    }
    out.len() == before
}

/// Letters, digits, hyphen; no hyphen first or last (RFC 1123 §2.1, RFC 5890 §2.3.1).
fn is_ldh(label: &[u8]) -> bool {
    label
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && label.first() != Some(&b'-')
        && label.last() != Some(&b'-')
}

/// One LDH label of 1 to 63 characters: what a device ID must be.
pub(crate) fn is_ldh_label(label: &[u8]) -> bool {
    !label.is_empty() && label.len() <= MAX_LABEL_LEN && is_ldh(label)
}

/// Decodes an A-label with UTS #46 (STD3 rules, hyphen checks) and checks it round-trips, i.e.
/// that it is the canonical A-label of a valid U-label (RFC 5891 §5.4).
#[cfg(feature = "idna")]
fn a_label_to_unicode(label: &str) -> Option<String> {
    let uts46 = Uts46::new();
    let (unicode, result) = uts46.to_unicode(label.as_bytes(), AsciiDenyList::STD3, Hyphens::Check);
    result.ok()?;
    if unicode.is_ascii() {
        // "xn--" followed by punycode of pure ASCII is not an A-label.
        return None;
    }
    let back = uts46
        .to_ascii(
            unicode.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            idna::uts46::DnsLength::Ignore,
        )
        .ok()?;
    (back == label).then(|| unicode.into_owned())
}

/// UTS #39 §5.2 "highly restrictive": one script, or Latin with Han and Japanese kana, or with
/// Han and Bopomofo, or with Han and Hangul. Common and Inherited characters go with anything.
/// Catches the classic homograph, Cyrillic "а" inside a Latin name.
#[cfg(feature = "idna")]
fn is_mixed_script(s: &str) -> bool {
    let mut scripts: Vec<Script> = Vec::new();
    for c in s.chars() {
        let sc = c.script();
        if matches!(sc, Script::Common | Script::Inherited | Script::Unknown) {
            continue;
        }
        if !scripts.contains(&sc) {
            scripts.push(sc);
        }
    }
    if scripts.len() <= 1 {
        return false;
    }
    const ALLOWED: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    !ALLOWED
        .iter()
        .any(|set| scripts.iter().all(|s| set.contains(s)))
}

/// An iPAddress SAN: 4 or 16 octets (RFC 5280 §4.2.1.6).
pub(crate) fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(octets) {
        Some(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        None
    }
}

/// Link-local, loopback or private use (draft §4.2): RFC 1918, 169.254/16, 127/8; ::1, fe80::/10,
/// ULA fc00::/7. IPv4-mapped IPv6 is judged by its IPv4 address. Shared address space (100.64/10,
/// RFC 6598) is carrier-grade NAT, not a private network, and is refused.
pub(crate) fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xffc0) == 0xfe80 || (first & 0xfe00) == 0xfc00
        }
    }
}

/// Whether `ip` is (or maps to) shared address space 100.64.0.0/10 (RFC 6598).
pub(crate) fn is_shared_address_space(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return false,
        },
    };
    let [a, b, ..] = v4.octets();
    a == 100 && (b & 0xc0) == 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(name: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        check_dns_syntax(name.as_bytes(), name, &mut out);
        out
    }

    #[cfg(feature = "idna")]
    #[test]
    fn single_script_and_cjk_combinations_pass() {
        // 日本語 (Han), ドメイン (Katakana), bücher (Latin), пример (Cyrillic).
        for label in [
            "xn--wgv71a119e",
            "xn--eckwd4c7c",
            "xn--bcher-kva",
            "xn--e1afmkfd",
        ] {
            assert_eq!(syntax(&format!("{label}.local")), [], "{label}");
        }
        // Han + Hiragana (Japanese) is one of UTS #39's allowed combinations: 日本ご.
        let jp = idna::domain_to_ascii("日本ご").unwrap();
        assert_eq!(syntax(&format!("{jp}.local")), []);
    }

    #[cfg(feature = "idna")]
    #[test]
    fn mixed_scripts_are_flagged() {
        // Latin "p" + Greek "ο" + Cyrillic "р": one of each.
        let mixed = idna::domain_to_ascii("pοр").unwrap();
        let got = syntax(&format!("{mixed}.local"));
        assert!(
            matches!(got.as_slice(), [Violation::MixedScriptLabel { .. }]),
            "{got:?}"
        );
        // Hangul + Katakana is not an allowed combination.
        let ko_ja = idna::domain_to_ascii("한ド").unwrap();
        let got = syntax(&format!("{ko_ja}.local"));
        assert!(
            matches!(got.as_slice(), [Violation::MixedScriptLabel { .. }]),
            "{got:?}"
        );
    }

    #[cfg(feature = "idna")]
    #[test]
    fn every_syntax_problem_of_one_name_is_listed_once() {
        let name = format!("*.{}..b_c.xn--zz.local", "a".repeat(70));
        let got = syntax(&name);
        assert_eq!(
            got,
            [
                Violation::Wildcard { name: name.clone() },
                Violation::EmptyLabel { name: name.clone() },
                Violation::LabelTooLong {
                    name: name.clone(),
                    len: 70
                },
                Violation::NotLdh { name: name.clone() },
                Violation::InvalidALabel {
                    name,
                    label: "xn--zz".into()
                },
            ]
        );
        assert_eq!(
            syntax(""),
            [Violation::EmptyLabel {
                name: String::new()
            }]
        );
    }

    /// Without the IDNA tables an `xn--` label cannot be checked, so it is refused (never passed
    /// unchecked); ASCII names are judged as with them.
    #[cfg(not(feature = "idna"))]
    #[test]
    fn a_labels_are_refused_without_idna() {
        assert_eq!(
            syntax("xn--bcher-kva.local"),
            [Violation::NotBuilt {
                what: "IDNA A-labels (xn--)",
                feature: "idna"
            }]
        );
        assert_eq!(syntax("device-1.example.com"), []);
    }

    #[test]
    fn ip_ranges_at_their_edges() {
        let local = |s: &str| is_local_ip(s.parse().unwrap());
        for ip in [
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.0",
            "192.168.255.255",
            "169.254.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "::1",
            "fe80::",
            "febf:ffff::1",
            "fc00::",
            "fdff:ffff::1",
            "::ffff:192.168.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(local(ip), "{ip} should be allowed");
        }
        for ip in [
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "100.64.0.0",
            "100.127.255.255",
            "8.8.8.8",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fec0::1",
            "fe00::1",
            "2001:db8::1",
            "::",
            "::192.168.0.1",
            "::ffff:8.8.8.8",
            "::ffff:100.64.0.1",
            "ff02::1",
        ] {
            assert!(!local(ip), "{ip} should be refused");
        }
        let shared = |s: &str| is_shared_address_space(s.parse().unwrap());
        assert!(shared("100.64.0.0") && shared("100.127.255.255") && shared("::ffff:100.100.0.1"));
        assert!(!shared("100.63.255.255") && !shared("100.128.0.0") && !shared("fc00::1"));
    }

    #[test]
    fn ip_octets() {
        assert_eq!(
            ip_from_octets(&[10, 0, 0, 1]),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(ip_from_octets(&[0; 16]), Some("::".parse().unwrap()));
        assert_eq!(ip_from_octets(&[1, 2, 3]), None);
        assert_eq!(ip_from_octets(&[0; 8]), None);
    }
}
