//! RFC examples and hostile inputs for the DHCPv4/DHCPv6 codec and hint extraction.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::{Ipv4Addr, Ipv6Addr};

use lantrust_dhcp::v4::{self, DhcpOption, OptionRepr};
use lantrust_dhcp::{AcmeServerHint, Error, FqdnError, HintConfig, HintSource, Name, v6};

/// A minimal BOOTREPLY header with the magic cookie; options appended by the caller.
fn header() -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[0] = 2;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    b[236..240].copy_from_slice(&v4::MAGIC_COOKIE);
    b
}

fn with_options(opts: &[u8]) -> Vec<u8> {
    let mut b = header();
    b.extend_from_slice(opts);
    b
}

/// RFC 3397 §3's example: "eng.apple.com" and "marketing.apple.com", compressed, split over three
/// option 119 instances of 9 bytes (RFC 3396).
const RFC3397_SPLIT: [u8; 33] = [
    119, 9, 3, b'e', b'n', b'g', 5, b'a', b'p', b'p', b'l', //
    119, 9, b'e', 3, b'c', b'o', b'm', 0, 9, b'm', b'a', //
    119, 9, b'r', b'k', b'e', b't', b'i', b'n', b'g', 0xC0, 0x04,
];

#[test]
fn rfc3397_example_parses_across_rfc3396_fragments() {
    let mut opts = RFC3397_SPLIT.to_vec();
    opts.push(255);
    let bytes = with_options(&opts);
    let packet = v4::Packet::new_checked(&bytes[..]).unwrap();
    let opt = packet.option(119).unwrap();
    assert_eq!(opt.parts(), 3);
    assert_eq!(opt.len(), 27);
    assert!(opt.contiguous().is_none());
    let repr = v4::Repr::parse(&packet).unwrap();
    let OptionRepr::DomainSearch(names) = &repr.options[0] else {
        panic!("{:?}", repr.options)
    };
    let shown: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["eng.apple.com", "marketing.apple.com"]);
}

#[test]
fn rfc3397_example_is_what_we_emit() {
    let names = vec![
        Name::from_dotted("eng.apple.com").unwrap(),
        Name::from_dotted("marketing.apple.com").unwrap(),
    ];
    let mut repr = v4::Repr::parse_bytes(&with_options(&[255])).unwrap();
    repr.options = vec![OptionRepr::DomainSearch(names)];
    let bytes = repr.to_bytes().unwrap();
    // The RFC's three fragments concatenated: 27 bytes of data in one option.
    let expected: Vec<u8> = RFC3397_SPLIT
        .chunks(11)
        .flat_map(|c| c[2..].to_vec())
        .collect();
    assert_eq!(bytes[240], 119);
    assert_eq!(usize::from(bytes[241]), expected.len());
    assert_eq!(&bytes[242..242 + expected.len()], &expected[..]);
}

#[test]
fn long_option_is_split_on_emit_and_joined_on_parse() {
    // RFC 3396 §5: a 600-byte option becomes 255 + 255 + 90.
    let data: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8).collect();
    let mut repr = v4::Repr::parse_bytes(&with_options(&[255])).unwrap();
    repr.options = vec![
        OptionRepr::Unknown {
            code: 200,
            data: data.clone(),
        },
        OptionRepr::LeaseTime(60),
    ];
    let bytes = repr.to_bytes().unwrap();
    assert_eq!(&bytes[240..242], &[200, 255]);
    assert_eq!(&bytes[240 + 257..240 + 259], &[200, 255]);
    assert_eq!(&bytes[240 + 514..240 + 516], &[200, 90]);
    let packet = v4::Packet::new_checked(&bytes[..]).unwrap();
    let opt = packet.option(200).unwrap();
    assert_eq!((opt.parts(), opt.len()), (3, 600));
    assert_eq!(opt.to_vec(), data);
    assert_eq!(packet.lease_time(), Some(60));
    assert_eq!(v4::Repr::parse(&packet).unwrap(), repr);
}

#[test]
fn overload_reads_file_then_sname() {
    // Options field: overload=3, first half of option 125 ; file: second half ; sname: message type.
    let hint_block: Vec<u8> = {
        let fqdn = b"acme.lan";
        let mut v = 55357u32.to_be_bytes().to_vec();
        v.push((2 + fqdn.len()) as u8);
        v.push(1);
        v.push(fqdn.len() as u8);
        v.extend_from_slice(fqdn);
        v
    };
    let (a, b) = hint_block.split_at(6);
    let mut opts = vec![52, 1, 3, 125, a.len() as u8];
    opts.extend_from_slice(a);
    opts.push(255);
    let mut bytes = with_options(&opts);
    // file field at 108
    bytes[108] = 125;
    bytes[109] = b.len() as u8;
    bytes[110..110 + b.len()].copy_from_slice(b);
    bytes[110 + b.len()] = 255;
    // sname at 44
    bytes[44..48].copy_from_slice(&[53, 1, 5, 255]);
    let packet = v4::Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.overload(), 3);
    assert_eq!(packet.message_type(), Some(v4::MessageType::Ack));
    let hint = AcmeServerHint::from_v4(&packet, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(hint.fqdn.as_str(), "acme.lan");
    assert_eq!(hint.source, HintSource::VendorSpecificInfo);
    let areas: Vec<v4::Area> = packet.fragments().map(|f| f.unwrap().area).collect();
    assert_eq!(areas, [v4::Area::Options, v4::Area::File, v4::Area::Sname]);
    // The Repr merges everything and reemits without overload.
    let repr = v4::Repr::parse(&packet).unwrap();
    assert_eq!(repr.sname, [0; 64]);
    let again = v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
    assert_eq!(again, repr);
}

#[test]
fn hostile_inputs_get_typed_errors_with_offsets() {
    // Truncated header.
    assert_eq!(
        v4::Packet::new_checked(&[0u8; 100][..]).unwrap_err(),
        Error::Truncated {
            offset: 100,
            needed: 140
        }
    );
    // No cookie.
    let mut b = header();
    b[236] = 0;
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::BadMagicCookie { offset: 236 }
    );
    // Option length past the end.
    let b = with_options(&[53, 1, 5, 6, 8, 1, 2, 3, 4]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::OptionOverrun {
            offset: 243,
            code: 6,
            len: 8
        }
    );
    // Length byte missing.
    let b = with_options(&[53]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::OptionOverrun {
            offset: 240,
            code: 53,
            len: 0
        }
    );
    // Overload inside sname: a loop.
    let mut b = with_options(&[52, 1, 2, 255]);
    b[44..48].copy_from_slice(&[52, 1, 2, 255]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::OverloadLoop { offset: 44 }
    );
    // Overload twice.
    let b = with_options(&[52, 1, 1, 52, 1, 2, 255]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::DuplicateOverload { offset: 243 }
    );
    // Overload value 4.
    let b = with_options(&[52, 1, 4, 255]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::BadOverload { offset: 240 }
    );
    // Overrun inside the overloaded file field (its area ends at 236, not at the buffer's end).
    let mut b = with_options(&[52, 1, 1, 255]);
    b[230..232].copy_from_slice(&[77, 10]);
    assert_eq!(
        v4::Packet::new_checked(&b[..]).unwrap_err(),
        Error::OptionOverrun {
            offset: 230,
            code: 77,
            len: 10
        }
    );
    // Malformed 125 sub-option (sub-option length past its block).
    let b = with_options(&[125, 8, 0, 0, 0xd8, 0x3d, 3, 1, 9, b'a', 255]);
    let p = v4::Packet::new_checked(&b[..]).unwrap();
    assert_eq!(
        v4::Repr::parse(&p).unwrap_err(),
        Error::MalformedSubOption {
            offset: 247,
            code: 125
        }
    );
    assert!(matches!(
        AcmeServerHint::from_v4(&p, &HintConfig::default()),
        Err(Error::MalformedSubOption { .. })
    ));
    // Bad label types and pointer loops in 119.
    let b = with_options(&[119, 3, 0x41, b'a', 0, 255]);
    assert_eq!(
        v4::Repr::parse_bytes(&b).unwrap_err(),
        Error::BadLabel { offset: 242 }
    );
    let b = with_options(&[119, 4, 1, b'a', 0xC0, 0x00, 255]);
    assert_eq!(
        v4::Repr::parse_bytes(&b).unwrap_err(),
        Error::BadPointer { offset: 244 }
    );
    // Wrong fixed lengths.
    let b = with_options(&[51, 3, 0, 0, 1, 255]);
    assert_eq!(
        v4::Repr::parse_bytes(&b).unwrap_err(),
        Error::BadOptionLength {
            offset: 242,
            code: 51,
            len: 3
        }
    );
    let b = with_options(&[3, 5, 1, 2, 3, 4, 5, 255]);
    assert_eq!(
        v4::Repr::parse_bytes(&b).unwrap_err(),
        Error::BadOptionLength {
            offset: 242,
            code: 3,
            len: 5
        }
    );
    // Emit into a short buffer.
    let r = v4::Repr::discover(1, [2, 0, 0, 0, 0, 1], None);
    assert!(matches!(
        r.emit(&mut [0u8; 100]),
        Err(Error::BufferTooSmall { available: 100, .. })
    ));
}

#[test]
fn missing_end_option_and_padding_are_tolerated() {
    let b = with_options(&[0, 0, 53, 1, 2, 0, 51, 4, 0, 0, 0, 60]);
    let p = v4::Packet::new_checked(&b[..]).unwrap();
    assert_eq!(p.message_type(), Some(v4::MessageType::Offer));
    assert_eq!(p.lease_time(), Some(60));
}

fn vsi(enterprise: u32, subs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (c, d) in subs {
        body.push(*c);
        body.push(d.len() as u8);
        body.extend_from_slice(d);
    }
    let mut v = enterprise.to_be_bytes().to_vec();
    v.push(body.len() as u8);
    v.extend(body);
    v
}

fn opt(code: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![code, data.len() as u8];
    v.extend_from_slice(data);
    v
}

#[test]
fn hint_precedence_follows_design() {
    let cfg = HintConfig {
        v4_acme_option: Some(224),
        v6_acme_option: None,
    };
    let o1 = opt(224, b"form1.lan");
    let mut both = vsi(9, &[(1, b"other-vendor.lan")]);
    both.extend(vsi(
        55357,
        &[(1, b"form2.lan"), (2, b"https://form2.lan:8443/dir")],
    ));
    let o2 = opt(125, &both);
    let mut vc = 55357u32.to_be_bytes().to_vec();
    vc.extend_from_slice(&[10, 9]);
    vc.extend_from_slice(b"form3.lan");
    let o3 = opt(124, &vc);
    let o4 = opt(60, b"55357:form4.lan");
    let all = [o4.clone(), o3.clone(), o2, o1, vec![255]].concat();
    let get = |opts: &[u8], cfg: &HintConfig| {
        AcmeServerHint::from_v4_bytes(&with_options(opts), cfg)
            .unwrap()
            .unwrap()
    };
    let h = get(&all, &cfg);
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("form1.lan", HintSource::AcmeServerOption)
    );
    let h = get(&all, &HintConfig::default());
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("form2.lan", HintSource::VendorSpecificInfo)
    );
    assert_eq!(
        h.directory_url.unwrap().as_str(),
        "https://form2.lan:8443/dir"
    );
    let h = get(&[o4.clone(), o3, vec![255]].concat(), &cfg);
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("form3.lan", HintSource::VendorClass)
    );
    assert_eq!(
        h.directory_url_or_default(),
        "https://form3.lan/acme/directory"
    );
    let h = get(&[o4, vec![255]].concat(), &cfg);
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("form4.lan", HintSource::VendorClassIdentifier)
    );
    // Form (1) in wire form.
    let h = get(&opt(224, b"\x05form1\x03lan\x00"), &cfg);
    assert_eq!(h.fqdn.as_str(), "form1.lan");
    // Only another enterprise: no hint.
    let none =
        AcmeServerHint::from_v4_bytes(&with_options(&opt(125, &vsi(9, &[(1, b"x.lan")]))), &cfg)
            .unwrap();
    assert_eq!(none, None);
    // Option 60 without the 55357 prefix is somebody else's vendor class.
    let none = AcmeServerHint::from_v4_bytes(&with_options(&opt(60, b"MSFT 5.0")), &cfg).unwrap();
    assert_eq!(none, None);
}

#[test]
fn hint_rejects_bad_names_and_urls() {
    let cfg = HintConfig::default();
    let bad = with_options(&opt(125, &vsi(55357, &[(1, b"bad_name.lan")])));
    assert_eq!(
        AcmeServerHint::from_v4_bytes(&bad, &cfg).unwrap_err(),
        Error::InvalidFqdn {
            offset: 249,
            reason: FqdnError::BadCharacter
        }
    );
    let bad = with_options(&opt(
        125,
        &vsi(55357, &[(1, b"ok.lan"), (2, b"http://ok.lan/")]),
    ));
    assert!(matches!(
        AcmeServerHint::from_v4_bytes(&bad, &cfg),
        Err(Error::InvalidUrl { .. })
    ));
    let bad = with_options(&opt(60, b"55357:-bad.lan"));
    assert!(matches!(
        AcmeServerHint::from_v4_bytes(&bad, &cfg),
        Err(Error::InvalidFqdn {
            reason: FqdnError::HyphenAtEdge,
            offset: 248
        })
    ));
}

#[test]
fn client_builders_ask_for_the_hint() {
    let mac = [2, 0, 0, 0, 0, 9];
    for r in [
        v4::Repr::discover(7, mac, Some(224)),
        v4::Repr::request(
            7,
            mac,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::new(10, 0, 0, 1),
            Some(224),
        ),
        v4::Repr::inform(7, mac, Ipv4Addr::new(10, 0, 0, 5), Some(224)),
    ] {
        let bytes = r.to_bytes().unwrap();
        assert!(bytes.len() >= 300);
        let p = v4::Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.client_hardware_address(), &mac);
        let prl = p.option(55).unwrap();
        let Some(Ok(DhcpOption::ParameterRequestList(codes))) = prl.parse() else {
            panic!()
        };
        for c in [124, 125, 60, 224] {
            assert!(codes.contains(&c), "PRL lacks {c}");
        }
        assert_eq!(v4::Repr::parse(&p).unwrap(), r);
    }
}

#[test]
fn v6_reply_carries_hint_and_round_trips() {
    let duid = [0, 3, 0, 1, 2, 0, 0, 0, 0, 9];
    let sol = v6::Repr::solicit(0xabcdef, &duid, 1, Some(200));
    let sol_bytes = sol.to_bytes().unwrap();
    assert_eq!(&sol_bytes[..4], &[1, 0xab, 0xcd, 0xef]);
    let parsed = v6::Repr::parse_bytes(&sol_bytes).unwrap();
    assert_eq!(parsed, sol);
    let dns = [Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)];
    let domains = [Name::from_dotted("home.arpa").unwrap()];
    let mut adv = v6::Repr::reply(
        &parsed,
        v6::MessageType::Advertise,
        &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1],
        &dns,
        &domains,
    );
    adv.set_acme_hint(
        &lantrust_dhcp::Fqdn::new("acme.home.arpa").unwrap(),
        Some("https://acme.home.arpa/acme/directory"),
    )
    .unwrap();
    let bytes = adv.to_bytes().unwrap();
    let p = v6::Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.transaction_id(), 0xabcdef);
    let h = AcmeServerHint::from_v6(&p, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(h.fqdn.as_str(), "acme.home.arpa");
    assert_eq!(
        h.directory_url.unwrap().as_str(),
        "https://acme.home.arpa/acme/directory"
    );
    assert_eq!(v6::Repr::parse(&p).unwrap(), adv);
    // ORO of the information request asks for 17 and the configured code.
    let ir = v6::Repr::information_request(5, &duid, Some(200));
    let Some(v6::OptionRepr::Oro(codes)) = ir.option(6) else {
        panic!()
    };
    assert!(
        codes.contains(&17) && codes.contains(&200) && codes.contains(&23) && codes.contains(&24)
    );
}

#[test]
fn v6_nested_and_hostile() {
    // REPLY with IA_NA > IAADDR > STATUS_CODE.
    let mut b = vec![7, 0, 0, 1];
    let status = [0u8, 13, 0, 4, 0, 0, b'o', b'k'];
    let mut iaaddr = vec![0u8, 5, 0, (24 + status.len()) as u8];
    iaaddr.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5).octets());
    iaaddr.extend_from_slice(&[0, 0, 0, 100, 0, 0, 0, 200]);
    iaaddr.extend_from_slice(&status);
    let mut iana = vec![
        0u8,
        3,
        0,
        (12 + iaaddr.len()) as u8,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        50,
        0,
        0,
        0,
        80,
    ];
    iana.extend(iaaddr);
    b.extend(&iana);
    let r = v6::Repr::parse_bytes(&b).unwrap();
    let v6::OptionRepr::IaNa {
        iaid: 1,
        t1: 50,
        t2: 80,
        options,
    } = &r.options[0]
    else {
        panic!("{r:?}")
    };
    let v6::OptionRepr::IaAddr {
        valid: 200,
        options: inner,
        ..
    } = &options[0]
    else {
        panic!()
    };
    assert_eq!(
        inner[0],
        v6::OptionRepr::StatusCode {
            status: 0,
            message: b"ok".to_vec()
        }
    );
    assert_eq!(r.to_bytes().unwrap(), b);
    // Nested overrun: the IAADDR claims more than its IA_NA holds.
    let mut bad = b.clone();
    bad[4 + 16 + 3] = 200;
    assert_eq!(
        v6::Packet::new_checked(&bad[..]).unwrap_err(),
        Error::OptionOverrun {
            offset: 20,
            code: 5,
            len: 200
        }
    );
    // Truncated option header.
    assert_eq!(
        v6::Packet::new_checked(&[1u8, 0, 0, 1, 0][..]).unwrap_err(),
        Error::Truncated {
            offset: 4,
            needed: 3
        }
    );
    // Relay header too short.
    assert!(matches!(
        v6::Packet::new_checked(&[12u8; 20][..]),
        Err(Error::Truncated { .. })
    ));
    // Deep nesting is refused, not recursed into.
    let mut deep = vec![0u8; 0];
    for _ in 0..20 {
        let mut o = vec![0u8, 4, 0, 0, 0, 0, 0, 1];
        let len = (4 + deep.len()) as u16;
        o[2..4].copy_from_slice(&len.to_be_bytes());
        o.extend(deep);
        deep = o;
    }
    let mut msg = vec![7, 0, 0, 1];
    msg.extend(deep);
    assert!(matches!(
        v6::Packet::new_checked(&msg[..]),
        Err(Error::NestingTooDeep { .. })
    ));
    // Domain list with a compression pointer is refused (RFC 8415 §10: uncompressed).
    let msg = [7u8, 0, 0, 1, 0, 24, 0, 4, 1, b'a', 0xC0, 0];
    assert_eq!(
        v6::Repr::parse_bytes(&msg).unwrap_err(),
        Error::BadLabel { offset: 10 }
    );
}
