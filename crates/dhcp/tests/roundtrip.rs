//! Property tests: every option kind survives emit → parse, for DHCPv4 (with RFC 3396 splitting
//! of long options and RFC 3397 compression) and DHCPv6 (with nested options).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::{Ipv4Addr, Ipv6Addr};

use lantrust_dhcp::{Name, v4, v6};
use proptest::prelude::*;

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), min..max)
}

fn name() -> impl Strategy<Value = Name> {
    // Few distinct labels so that suffixes repeat and compression kicks in.
    let label = prop::sample::select(vec![
        "lan",
        "home",
        "arpa",
        "eng",
        "apple",
        "com",
        "x-1",
        "\u{7f}odd.dot",
    ]);
    prop::collection::vec(label, 0..5).prop_map(|labels| {
        let mut wire = Vec::new();
        for l in labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l.as_bytes());
        }
        wire.push(0);
        Name::from_wire(&wire).unwrap()
    })
}

fn v4_option() -> impl Strategy<Value = v4::OptionRepr> {
    use v4::OptionRepr as O;
    let known = [
        1u8, 3, 6, 12, 15, 50, 51, 52, 53, 54, 55, 57, 58, 59, 60, 61, 119, 124, 125, 0, 255,
    ];
    let vendor_class = (any::<u32>(), prop::collection::vec(bytes(0, 30), 0..4))
        .prop_map(|(enterprise, data)| v4::VendorClass { enterprise, data });
    let vendor_specific = (
        any::<u32>(),
        prop::collection::vec((any::<u8>(), bytes(0, 30)), 0..4),
    )
        .prop_map(|(enterprise, subs)| v4::VendorSpecific {
            enterprise,
            suboptions: subs
                .into_iter()
                .map(|(code, data)| v4::VendorSubOption { code, data })
                .collect(),
        });
    prop_oneof![
        ipv4().prop_map(O::SubnetMask),
        prop::collection::vec(ipv4(), 1..80).prop_map(O::Router),
        prop::collection::vec(ipv4(), 1..5).prop_map(O::DomainNameServer),
        bytes(1, 40).prop_map(O::HostName),
        bytes(1, 40).prop_map(O::DomainName),
        ipv4().prop_map(O::RequestedIpAddress),
        any::<u32>().prop_map(O::LeaseTime),
        any::<u8>().prop_map(|t| O::MessageType(t.into())),
        ipv4().prop_map(O::ServerIdentifier),
        bytes(1, 30).prop_map(O::ParameterRequestList),
        any::<u16>().prop_map(O::MaxMessageSize),
        any::<u32>().prop_map(O::RenewalTime),
        any::<u32>().prop_map(O::RebindingTime),
        bytes(1, 600).prop_map(O::VendorClassIdentifier),
        bytes(2, 30).prop_map(O::ClientIdentifier),
        prop::collection::vec(name(), 0..8).prop_map(O::DomainSearch),
        prop::collection::vec(vendor_class, 1..4).prop_map(O::ViVendorClass),
        prop::collection::vec(vendor_specific, 1..4).prop_map(O::ViVendorSpecific),
        (
            any::<u8>().prop_filter("known code", move |c| !known.contains(c)),
            bytes(0, 700)
        )
            .prop_map(|(code, data)| O::Unknown { code, data }),
    ]
}

fn v4_repr() -> impl Strategy<Value = v4::Repr> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (ipv4(), ipv4(), ipv4(), ipv4(), any::<[u8; 16]>()),
        (bytes(64, 65), bytes(128, 129)),
        prop::collection::vec(v4_option(), 0..14),
    )
        .prop_map(
            |(
                (op, htype, hlen, hops, xid, secs, flags),
                (ci, yi, si, gi, chaddr),
                (sname, file),
                mut options,
            )| {
                let mut seen = std::collections::HashSet::new();
                options.retain(|o| seen.insert(o.code()));
                v4::Repr {
                    op: op.into(),
                    htype,
                    hlen,
                    hops,
                    xid,
                    secs,
                    flags,
                    ciaddr: ci,
                    yiaddr: yi,
                    siaddr: si,
                    giaddr: gi,
                    chaddr,
                    sname: sname.try_into().unwrap(),
                    file: file.try_into().unwrap(),
                    options,
                }
            },
        )
}

fn v6_leaf() -> impl Strategy<Value = v6::OptionRepr> {
    use v6::OptionRepr as O;
    let known = [1u16, 2, 3, 4, 5, 6, 7, 8, 13, 14, 16, 17, 23, 24, 25, 26];
    prop_oneof![
        bytes(1, 20).prop_map(O::ClientId),
        bytes(1, 20).prop_map(O::ServerId),
        prop::collection::vec(any::<u16>(), 0..10).prop_map(O::Oro),
        any::<u8>().prop_map(O::Preference),
        any::<u16>().prop_map(O::ElapsedTime),
        (any::<u16>(), bytes(0, 20))
            .prop_map(|(status, message)| O::StatusCode { status, message }),
        Just(O::RapidCommit),
        (any::<u32>(), prop::collection::vec(bytes(0, 20), 0..4))
            .prop_map(|(enterprise, data)| O::VendorClass { enterprise, data }),
        (
            any::<u32>(),
            prop::collection::vec((any::<u16>(), bytes(0, 40)), 0..4)
        )
            .prop_map(|(enterprise, options)| O::VendorOpts {
                enterprise,
                options
            }),
        prop::collection::vec(ipv6(), 0..4).prop_map(O::DnsServers),
        prop::collection::vec(name(), 0..4).prop_map(O::DomainList),
        (
            any::<u16>().prop_filter("known code", move |c| !known.contains(c)),
            bytes(0, 300)
        )
            .prop_map(|(code, data)| O::Unknown { code, data }),
    ]
}

fn v6_option() -> impl Strategy<Value = v6::OptionRepr> {
    use v6::OptionRepr as O;
    let iaaddr = || {
        (
            ipv6(),
            any::<u32>(),
            any::<u32>(),
            prop::collection::vec(v6_leaf(), 0..3),
        )
            .prop_map(|(address, preferred, valid, options)| O::IaAddr {
                address,
                preferred,
                valid,
                options,
            })
    };
    prop_oneof![
        4 => v6_leaf(),
        1 => iaaddr(),
        1 => (any::<u32>(), any::<u32>(), any::<u32>(), prop::collection::vec(prop_oneof![v6_leaf(), iaaddr()], 0..3))
            .prop_map(|(iaid, t1, t2, options)| O::IaNa { iaid, t1, t2, options }),
    ]
}

fn v6_repr() -> impl Strategy<Value = v6::Repr> {
    let header = prop_oneof![
        (1u8..12, 0u32..0x0100_0000)
            .prop_map(|(t, transaction_id)| (t, v6::Header::Client { transaction_id })),
        (12u8..14, any::<u8>(), ipv6(), ipv6()).prop_map(
            |(t, hop_count, link_address, peer_address)| {
                (
                    t,
                    v6::Header::Relay {
                        hop_count,
                        link_address,
                        peer_address,
                    },
                )
            }
        ),
    ];
    (header, prop::collection::vec(v6_option(), 0..10)).prop_map(|((t, header), options)| {
        v6::Repr {
            msg_type: t.into(),
            header,
            options,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn v4_repr_round_trips(repr in v4_repr()) {
        let bytes = repr.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let packet = v4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(packet.xid(), repr.xid);
        // Every option is seen once by the zero-copy iterator, concatenated to its full length.
        let views: Vec<(u8, usize)> = packet.options().map(|o| o.map(|o| (o.code(), o.len()))).collect::<Result<_, _>>().unwrap();
        let expected: Vec<(u8, usize)> = repr.options.iter().map(|o| (o.code(), o.payload_len())).collect();
        prop_assert_eq!(views, expected);
        prop_assert_eq!(v4::Repr::parse(&packet).unwrap(), repr);
    }

    #[test]
    fn v6_repr_round_trips(repr in v6_repr()) {
        let bytes = repr.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let parsed = v6::Repr::parse_bytes(&bytes).unwrap();
        prop_assert_eq!(&parsed, &repr);
        prop_assert_eq!(parsed.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn v4_garbage_never_panics(tail in bytes(0, 400), sname in bytes(64, 65), overload in 0u8..5) {
        let mut b = vec![0u8; 240];
        b[44..108].copy_from_slice(&sname);
        b[236..240].copy_from_slice(&v4::MAGIC_COOKIE);
        b.extend_from_slice(&[52, 1, overload]);
        b.extend_from_slice(&tail);
        if let Ok(p) = v4::Packet::new_checked(&b[..]) {
            let _ = lantrust_dhcp::AcmeServerHint::from_v4(&p, &lantrust_dhcp::HintConfig { v4_acme_option: Some(224), v6_acme_option: None });
            if let Ok(r) = v4::Repr::parse(&p) {
                prop_assert_eq!(v4::Repr::parse_bytes(&r.to_bytes().unwrap()).unwrap(), r);
            }
        }
    }

    #[test]
    fn v6_garbage_never_panics(b in bytes(0, 300)) {
        if let Ok(p) = v6::Packet::new_checked(&b[..]) {
            let _ = lantrust_dhcp::AcmeServerHint::from_v6(&p, &lantrust_dhcp::HintConfig::default());
            if let Ok(r) = v6::Repr::parse(&p) {
                prop_assert_eq!(v6::Repr::parse_bytes(&r.to_bytes().unwrap()).unwrap(), r);
            }
        }
    }
}
