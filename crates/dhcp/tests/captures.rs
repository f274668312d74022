//! Real captures replayed through the parser: tcpdump's DHCP and DHCPv6 test pcaps (copied from
//! `shared/vectors/dhcp-captures/` to `tests/vectors/captures/`, BSD-3-Clause, see
//! `LICENSE.tcpdump` there), including the malformed ones that once crashed tcpdump.
//!
//! Every UDP payload goes through the strict and lenient parsers, the no-alloc option checks and
//! the hint readers, as DHCPv4 and as DHCPv6 whatever its ports: nothing may panic. For the
//! well-formed captures the strict parse must succeed with no warning and give the message types
//! tcpdump prints for them (`tcpdump -vvnr FILE`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use lantrust_dhcp::{AcmeServerHint, HintConfig, v4, v6};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/captures")
}

/// The link-layer frames of a pcap or pcapng file (every link type here is Ethernet).
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let u32_at = |b: &[u8], at: usize, le: bool| -> Option<u32> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let mut out = Vec::new();
    match bytes.get(..4) {
        // pcapng (section header block): blocks of type, total length, body.
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => {
            let le = bytes.get(8..12) == Some(&[0x4d, 0x3c, 0x2b, 0x1a][..]);
            let mut pos = 0;
            while let (Some(kind), Some(len)) = (u32_at(bytes, pos, le), u32_at(bytes, pos + 4, le))
            {
                let len = len as usize;
                if len < 12 || pos + len > bytes.len() {
                    break;
                }
                if kind == 6 {
                    // Enhanced packet block: interface, ts (2), captured length, original length.
                    let cap = u32_at(bytes, pos + 20, le).unwrap() as usize;
                    out.push(bytes[pos + 28..(pos + 28 + cap).min(pos + len)].to_vec());
                }
                pos += len;
            }
        }
        Some(magic) => {
            let le = matches!(magic, [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]);
            let mut pos = 24;
            while let Some(cap) = u32_at(bytes, pos + 8, le) {
                let start = pos + 16;
                let end = (start + cap as usize).min(bytes.len());
                out.push(bytes[start..end].to_vec());
                pos = end;
            }
        }
        None => {}
    }
    out
}

/// `(source port, destination port, payload)` of a UDP datagram in an Ethernet frame.
fn udp(frame: &[u8]) -> Option<(u16, u16, &[u8])> {
    let mut pos = 12;
    let mut ethertype = u16::from_be_bytes(frame.get(pos..pos + 2)?.try_into().ok()?);
    while ethertype == 0x8100 {
        pos += 4;
        ethertype = u16::from_be_bytes(frame.get(pos..pos + 2)?.try_into().ok()?);
    }
    let ip = frame.get(pos + 2..)?;
    let l4 = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            (*ip.get(9)? == 17).then_some(())?;
            ip.get(ihl..)?
        }
        0x86dd => {
            (*ip.get(6)? == 17).then_some(())?;
            ip.get(40..)?
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes(l4.get(0..2)?.try_into().ok()?);
    let dport = u16::from_be_bytes(l4.get(2..4)?.try_into().ok()?);
    Some((sport, dport, l4.get(8..)?))
}

/// What one payload gave.
#[derive(Debug, Default)]
struct Seen {
    v4_types: Vec<u8>,
    v6_types: Vec<u8>,
    strict_failures: Vec<String>,
    warnings: usize,
}

fn exercise_v4(payload: &[u8], seen: &mut Seen, dhcp_port: bool) {
    let cfg = HintConfig {
        v4_acme_option: Some(224),
        v6_acme_option: Some(224),
    };
    let view = v4::Packet::new_unchecked(payload);
    let warnings = view.option_warnings();
    let lenient = v4::Repr::parse_bytes_lenient(payload);
    let _ = AcmeServerHint::from_v4(&view, &cfg);
    let _ = AcmeServerHint::from_v4_bytes(payload, &HintConfig::default());
    if let Ok((repr, w)) = &lenient {
        // What the lenient parse kept always emits and parses strictly to the same message.
        let again = v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
        assert_eq!(&again, repr);
        assert_eq!(
            warnings.map(|w| w.total()).ok(),
            Some(w.total()),
            "the view and the lenient parse report the same number of bad options"
        );
    }
    if !dhcp_port {
        return;
    }
    match v4::Packet::new_checked(payload).and_then(|p| v4::Repr::parse(&p)) {
        Ok(repr) => seen.v4_types.push(repr.message_type().map_or(0, u8::from)),
        Err(e) => seen.strict_failures.push(format!("v4: {e}")),
    }
    if let Ok((_, w)) = lenient {
        seen.warnings += w.total();
    }
}

fn exercise_v6(payload: &[u8], seen: &mut Seen, dhcp_port: bool) {
    let cfg = HintConfig {
        v4_acme_option: None,
        v6_acme_option: Some(224),
    };
    let view = v6::Packet::new_unchecked(payload);
    let warnings = view.option_warnings();
    let lenient = v6::Repr::parse_bytes_lenient(payload);
    let _ = AcmeServerHint::from_v6_bytes(payload, &cfg);
    let _ = AcmeServerHint::from_v6_bytes(payload, &HintConfig::default());
    if let Ok((repr, w)) = &lenient {
        let again = v6::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
        assert_eq!(&again, repr);
        assert_eq!(warnings.map(|w| w.total()).ok(), Some(w.total()));
    }
    // Relayed messages carry the client's message in option 9 (RFC 8415 §21.10).
    for o in view.options().flatten() {
        if o.code == v6::code::RELAY_MSG {
            exercise_v6(o.data, seen, dhcp_port);
        }
    }
    if !dhcp_port {
        return;
    }
    match v6::Packet::new_checked(payload).and_then(|p| v6::Repr::parse(&p)) {
        Ok(repr) => seen.v6_types.push(u8::from(repr.msg_type)),
        Err(e) => seen.strict_failures.push(format!("v6: {e}")),
    }
    if let Ok((_, w)) = lenient {
        seen.warnings += w.total();
    }
}

fn replay(name: &str) -> Seen {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    let frames = frames(&bytes);
    assert!(!frames.is_empty(), "{name}: no frames read");
    let mut seen = Seen::default();
    for frame in &frames {
        // The frame itself, as garbage, must not panic either.
        exercise_v4(frame, &mut Seen::default(), false);
        exercise_v6(frame, &mut Seen::default(), false);
        let Some((sport, dport, payload)) = udp(frame) else {
            continue;
        };
        let ports = [sport, dport];
        let is_v4 = ports.iter().any(|p| matches!(p, 67 | 68));
        let is_v6 = ports.iter().any(|p| matches!(p, 546 | 547));
        exercise_v4(payload, &mut seen, is_v4);
        exercise_v6(payload, &mut seen, is_v6);
    }
    seen
}

#[test]
fn well_formed_dhcpv4_captures_parse_strictly_with_their_message_types() {
    // 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK; 10-13 are RFC 4388 leasequery messages.
    let cases: &[(&str, &[u8])] = &[
        ("dhcp-mud.pcap", &[3, 5]),
        ("dhcp-option-108.pcapng", &[1, 2]),
        ("dhcp-option-33.pcap", &[2, 2, 2, 2, 2]),
        ("dhcp-rfc3004.pcap", &[1, 2, 3, 5]),
        ("dhcp-rfc5859.pcap", &[1, 2, 3, 5]),
        (
            "dhcp-rfc4388.pcap",
            &[
                1, 2, 3, 5, 10, 13, 1, 2, 3, 5, 10, 13, 10, 13, 1, 2, 3, 5, 10, 13, 1, 2, 3, 5, 10,
                13, 10, 12, 10, 13, 10, 13, 10, 13,
            ],
        ),
    ];
    for (name, types) in cases {
        let seen = replay(name);
        // Two of the RFC 4388 capture's requests are plain BOOTP (tcpdump prints no DHCP
        // message type for them): refused with a typed error, as they should be.
        let bootp = if *name == "dhcp-rfc4388.pcap" { 2 } else { 0 };
        assert_eq!(seen.strict_failures.len(), bootp, "{name}: {seen:?}");
        assert!(
            seen.strict_failures
                .iter()
                .all(|f| f.contains("no DHCP magic cookie")),
            "{name}: {seen:?}"
        );
        assert_eq!(seen.warnings, 0, "{name}: {seen:?}");
        assert_eq!(&seen.v4_types, types, "{name}");
    }
}

#[test]
fn well_formed_dhcpv6_captures_parse_strictly_with_their_message_types() {
    // 1 SOLICIT, 2 ADVERTISE, 3 REQUEST, 5 RENEW, 7 REPLY, 11 INFORMATION-REQUEST, 12 RELAY-FORW
    // (relayed messages count their inner message too).
    let cases: &[(&str, &[u8], &[u8])] = &[
        (
            "dhcpv4v6-rfc5970-rfc8572.pcap",
            &[1, 1, 2, 3, 7, 1, 2, 3, 7, 11],
            &[1, 2, 3, 5],
        ),
        ("dhcpv6-AFTR-Name-RFC6334.pcap", &[1, 2, 3, 7], &[]),
        ("dhcpv6-domain-list.pcap", &[7], &[]),
        ("dhcpv6-ia-na.pcap", &[1, 2, 3, 7], &[]),
        ("dhcpv6-ia-pd.pcap", &[1, 2, 3, 7], &[]),
        ("dhcpv6-ia-ta.pcap", &[1, 2, 3, 7], &[]),
        ("dhcpv6-ntp-server.pcap", &[7], &[]),
        ("dhcpv6-rfc6355-duid-uuid.pcap", &[5, 7], &[]),
        ("dhcpv6-rfc8415-duid-type2.pcap", &[3], &[]),
        ("dhcpv6-sip-server-d.pcap", &[7], &[]),
    ];
    for (name, v6_types, v4_types) in cases {
        let seen = replay(name);
        assert!(seen.strict_failures.is_empty(), "{name}: {seen:?}");
        assert_eq!(seen.warnings, 0, "{name}: {seen:?}");
        assert_eq!(&seen.v6_types, v6_types, "{name}");
        assert_eq!(&seen.v4_types, v4_types, "{name}");
    }
    // Relayed: each RELAY-FORW (12) is followed by the message it carries.
    let seen = replay("dhcpv6-mud.pcap");
    assert!(seen.strict_failures.is_empty(), "{seen:?}");
    assert_eq!(seen.v6_types.len(), 10, "{seen:?}");
    assert!(seen.v6_types.chunks(2).all(|p| p[1] == 12), "{seen:?}");
}

/// The RELAY-FORW of `dhcpv6-vendor-specific-information.pcap`: enterprise 4491 (CableLabs)
/// options 16 and 17 outside and inside the relayed REQUEST and in its IA_NA. None is ours, so
/// the hint reader skips them all, and the codec reads them.
#[test]
fn cablelabs_vendor_options_are_read_and_skipped_by_the_hint() {
    let bytes = std::fs::read(dir().join("dhcpv6-vendor-specific-information.pcap")).unwrap();
    let frame = &frames(&bytes)[0];
    let (_, _, payload) = udp(frame).unwrap();
    let relay = v6::Packet::new_checked(payload).unwrap();
    assert_eq!(relay.msg_type(), v6::MessageType::RelayForw);
    let inner = relay.option(v6::code::RELAY_MSG).unwrap().data;
    let inner = v6::Packet::new_checked(inner).unwrap();
    assert_eq!(inner.msg_type(), v6::MessageType::Request);
    let Ok(v6::Dhcpv6Option::VendorClass { enterprise, data }) =
        inner.option(v6::code::VENDOR_CLASS).unwrap().parse()
    else {
        panic!()
    };
    assert_eq!(enterprise, 4491);
    assert_eq!(v6::vendor_class_items(data).next(), Some(&b"docsis3.0"[..]));
    let o17 = inner.option(v6::code::VENDOR_OPTS).unwrap();
    assert_eq!(o17.data.len(), 273);
    for p in [&relay, &inner] {
        assert_eq!(
            AcmeServerHint::from_v6(p, &HintConfig::default()).unwrap(),
            None
        );
        assert!(p.option_warnings().unwrap().is_empty());
    }
}

#[test]
fn malformed_captures_never_panic() {
    for name in [
        "bootp_asan.pcap",
        "bootp_asan-2.pcap",
        "dhcp6_reconf_asan.pcap",
        "hncp_dhcpv4data-oobr.pcap",
        "hncp_dhcpv6data-oobr.pcap",
    ] {
        let seen = replay(name);
        match name {
            // Cut by the capture's 53-byte snapshot length inside the BOOTP header.
            "bootp_asan.pcap" | "bootp_asan-2.pcap" => assert!(
                seen.strict_failures.len() == 1
                    && seen.strict_failures[0].starts_with("v4: truncated input"),
                "{name}: {seen:?}"
            ),
            // A RELAY-REPL whose two Reconfigure Message options (19) are empty: tcpdump read
            // past them; this crate keeps them raw and parses the relay header.
            "dhcp6_reconf_asan.pcap" => assert_eq!(seen.v6_types, [13], "{seen:?}"),
            // HNCP (UDP 8231) with DHCP data inside: not on a DHCP port.
            _ => assert!(
                seen.v4_types.is_empty() && seen.strict_failures.is_empty(),
                "{name}: {seen:?}"
            ),
        }
        // Every suffix and prefix of every payload, too.
        let bytes = std::fs::read(dir().join(name)).unwrap();
        for frame in frames(&bytes) {
            for cut in 0..frame.len() {
                exercise_v4(&frame[cut..], &mut Seen::default(), false);
                exercise_v6(&frame[cut..], &mut Seen::default(), false);
                exercise_v4(&frame[..cut], &mut Seen::default(), false);
                exercise_v6(&frame[..cut], &mut Seen::default(), false);
            }
        }
    }
}
