//! DHCP from the wild: option 124 as Kea 2.2 and dhcpcd 9.x write it (no data-len byte), a lone
//! enterprise number, other vendors' malformed blocks (one rule for v4 and v6), and lenient
//! parsing that keeps a message whose unrelated options are malformed and reports them.
//!
//! The byte layouts below were captured from the real programs (Debian bookworm `kea-dhcp4-server`
//! 2.2.0 and `dhcpcd-base` 9.4.1; see `tests/kea.rs` and `tests/vectors/dhcpcd-discover.bin`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::Ipv4Addr;

use lantrust_dhcp::v4::{self, DhcpOption, OptionRepr, VendorClassLayout};
use lantrust_dhcp::{AcmeServerHint, Error, HintConfig, HintSource, v6};

fn with_options(opts: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[0] = 2;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    b[236..240].copy_from_slice(&v4::MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, 5]);
    b.extend_from_slice(opts);
    b.push(255);
    b
}

fn opt(code: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![code, data.len() as u8];
    v.extend_from_slice(data);
    v
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Kea 2.2 `vivco-suboptions` with data `55357, 0e<acme.home.arpa>`: what kea-dhcp4 put in its
/// OFFER (enterprise, then the item with its length byte; no data-len).
const KEA_124_ONE: &str = "0000d83d0e61636d652e686f6d652e61727061";
/// Kea 2.2 with two items: the enterprise number again before the second (its
/// `OptionVendorClass::pack` writes it before every tuple after the first).
const KEA_124_TWO: &str = "0000d83d0e61636d652e686f6d652e617270610000d83d086c616e7472757374";
/// dhcpcd 9.4.1 with `vendclass 55357 lantrust` and `vendclass 55357 acme.home.arpa`: enterprise
/// once, then both items.
const DHCPCD_124: &str = "0000d83d086c616e74727573740e61636d652e686f6d652e61727061";

/// Enterprise blocks with their items.
type Blocks = Vec<(u32, Vec<Vec<u8>>)>;

fn class_items(data: &[u8]) -> (VendorClassLayout, Blocks) {
    let DhcpOption::ViVendorClass(v) = DhcpOption::parse(124, data, 0).unwrap() else {
        panic!()
    };
    let blocks = v
        .iter()
        .map(|b| (b.enterprise, b.data.iter().map(<[u8]>::to_vec).collect()))
        .collect();
    (v.layout(), blocks)
}

#[test]
fn option_124_layouts_of_kea_dhcpcd_and_phones() {
    let name = b"acme.home.arpa".to_vec();
    let lantrust = b"lantrust".to_vec();
    assert_eq!(
        class_items(&hex(KEA_124_ONE)),
        (
            VendorClassLayout::NoDataLen,
            vec![(55357, vec![name.clone()])]
        )
    );
    assert_eq!(
        class_items(&hex(KEA_124_TWO)),
        (
            VendorClassLayout::EnterprisePerItem,
            vec![(55357, vec![name.clone()]), (55357, vec![lantrust.clone()])]
        )
    );
    assert_eq!(
        class_items(&hex(DHCPCD_124)),
        (
            VendorClassLayout::NoDataLen,
            vec![(55357, vec![lantrust, name.clone()])]
        )
    );
    // A lone enterprise number (some phones): one block, no items.
    assert_eq!(
        class_items(&hex("0000d83d")),
        (VendorClassLayout::NoDataLen, vec![(55357, vec![])])
    );
    // The RFC 3925 layout still wins whenever it frames the option exactly.
    assert_eq!(
        class_items(&hex("0000d83d0f0e61636d652e686f6d652e61727061")),
        (VendorClassLayout::Rfc3925, vec![(55357, vec![name])])
    );
    // Nothing frames these: typed errors, not panics.
    for bad in ["0000d8", "0000d83d0f0e61", "0000d83d05"] {
        assert!(
            matches!(
                DhcpOption::parse(124, &hex(bad), 0),
                Err(Error::MalformedSubOption { code: 124, .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn hint_reads_option_124_in_every_layout() {
    let cfg = HintConfig::default();
    for layout in [KEA_124_ONE, KEA_124_TWO] {
        let msg = with_options(&opt(124, &hex(layout)));
        let hint = AcmeServerHint::from_v4_bytes(&msg, &cfg)
            .unwrap()
            .expect("hint in Kea's 124");
        assert_eq!(
            (hint.fqdn.as_str(), hint.source),
            ("acme.home.arpa", HintSource::VendorClass)
        );
    }
    // Split across two 124 fragments (RFC 3396): read as one option.
    let data = hex(KEA_124_TWO);
    let msg = with_options(&[opt(124, &data[..10]), opt(124, &data[10..])].concat());
    let hint = AcmeServerHint::from_v4_bytes(&msg, &cfg).unwrap().unwrap();
    assert_eq!(hint.fqdn.as_str(), "acme.home.arpa");
    // A lone enterprise number gives no hint from form (3), and no error: option 60 still counts.
    let msg = with_options(&[opt(124, &hex("0000d83d")), opt(60, b"55357:f4.lan")].concat());
    let hint = AcmeServerHint::from_v4_bytes(&msg, &cfg).unwrap().unwrap();
    assert_eq!(
        (hint.fqdn.as_str(), hint.source),
        ("f4.lan", HintSource::VendorClassIdentifier)
    );
    let msg = with_options(&opt(124, &hex("0000d83d")));
    assert_eq!(AcmeServerHint::from_v4_bytes(&msg, &cfg).unwrap(), None);
}

/// The DISCOVER dhcpcd 9.4.1 broadcast in a network namespace (see `tests/kea.rs`), with its
/// 124 in the no-data-len layout.
#[test]
fn dhcpcd_discover_parses_with_its_vendor_class() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/dhcpcd-discover.bin"),
    )
    .unwrap();
    let p = v4::Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.message_type(), Some(v4::MessageType::Discover));
    assert!(p.option_warnings().unwrap().is_empty());
    let repr = v4::Repr::parse(&p).unwrap();
    let Some(OptionRepr::ViVendorClass(blocks)) = repr.option(124) else {
        panic!("{repr:?}")
    };
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].enterprise, 55357);
    assert_eq!(blocks[0].data[0], b"lantrust");
    // Re-emitted in the RFC 3925 layout, it parses to the same blocks.
    let again = v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
    assert_eq!(again, repr);
}

/// One outcome of hint extraction, comparable across v4 and v6.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Hint(String),
    NoHint,
    Malformed,
}

fn outcome(r: lantrust_dhcp::Result<Option<AcmeServerHint>>) -> Outcome {
    match r {
        Ok(Some(h)) => Outcome::Hint(h.fqdn.as_str().to_owned()),
        Ok(None) => Outcome::NoHint,
        Err(Error::MalformedSubOption { .. }) => Outcome::Malformed,
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// v4 option 125 holding `blocks`, each `(enterprise, body)` with an RFC 3925 data-len.
fn v4_125(blocks: &[(u32, &[u8])]) -> Vec<u8> {
    let mut d = Vec::new();
    for (e, body) in blocks {
        d.extend_from_slice(&e.to_be_bytes());
        d.push(body.len() as u8);
        d.extend_from_slice(body);
    }
    with_options(&opt(125, &d))
}

/// A DHCPv6 REPLY with one option 17 per `(enterprise, sub-option bytes)`.
fn v6_17(blocks: &[(u32, &[u8])]) -> Vec<u8> {
    let mut m = vec![7u8, 0, 0, 1];
    for (e, body) in blocks {
        m.extend_from_slice(&17u16.to_be_bytes());
        m.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&e.to_be_bytes());
        m.extend_from_slice(body);
    }
    m
}

#[test]
fn other_enterprises_are_skipped_alike_in_v4_and_v6() {
    let cfg = HintConfig::default();
    // Sub-options: v4 code(1) len(1), v6 code(2) len(2).
    let ok4: &[u8] = b"\x01\x08ours.lan";
    let ok6: &[u8] = b"\x00\x01\x00\x08ours.lan";
    let bad4: &[u8] = b"\x01\x09ab"; // claims 9 bytes, holds 2
    let bad6: &[u8] = b"\x00\x01\x00\x09ab";
    type Case<'a> = (&'a str, Vec<(u32, &'a [u8])>, Vec<(u32, &'a [u8])>, Outcome);
    let cases: [Case<'_>; 5] = [
        (
            "another vendor's malformed block, then ours",
            vec![(4491, bad4), (55357, ok4)],
            vec![(4491, bad6), (55357, ok6)],
            Outcome::Hint("ours.lan".into()),
        ),
        (
            "ours, then another vendor's malformed block",
            vec![(55357, ok4), (4491, bad4)],
            vec![(55357, ok6), (4491, bad6)],
            Outcome::Hint("ours.lan".into()),
        ),
        (
            "only another vendor's malformed block",
            vec![(4491, bad4)],
            vec![(4491, bad6)],
            Outcome::NoHint,
        ),
        (
            "our block malformed",
            vec![(55357, bad4)],
            vec![(55357, bad6)],
            Outcome::Malformed,
        ),
        (
            "our block malformed after another vendor's good one",
            vec![(9, ok4), (55357, bad4)],
            vec![(9, ok6), (55357, bad6)],
            Outcome::Malformed,
        ),
    ];
    for (what, b4, b6, expected) in cases {
        let v4 = outcome(AcmeServerHint::from_v4_bytes(&v4_125(&b4), &cfg));
        let v6 = outcome(AcmeServerHint::from_v6_bytes(&v6_17(&b6), &cfg));
        assert_eq!(v4, expected, "v4: {what}");
        assert_eq!(v6, expected, "v6: {what}");
    }
    // Another vendor's v4 block whose data-len runs past the option: nothing after it can be
    // framed, so the walk stops quietly; a v6 option too short to hold an enterprise number is
    // nobody's and skipped too.
    let mut d = 4491u32.to_be_bytes().to_vec();
    d.extend_from_slice(&[200, 1, 2]);
    let msg = with_options(&opt(125, &d));
    assert_eq!(
        outcome(AcmeServerHint::from_v4_bytes(&msg, &cfg)),
        Outcome::NoHint
    );
    let mut m = vec![7u8, 0, 0, 1, 0, 17, 0, 2, 0, 0];
    m.extend_from_slice(&v6_17(&[(55357, ok6)])[4..]);
    assert_eq!(
        outcome(AcmeServerHint::from_v6_bytes(&m, &cfg)),
        Outcome::Hint("ours.lan".into())
    );
    // v6 option 16 follows the same rule: another vendor's malformed 16 before ours.
    let mut m = vec![7u8, 0, 0, 1];
    for (e, items) in [(4491u32, &b"\x00\x09ab"[..]), (55357, b"\x00\x08ours.lan")] {
        m.extend_from_slice(&16u16.to_be_bytes());
        m.extend_from_slice(&((4 + items.len()) as u16).to_be_bytes());
        m.extend_from_slice(&e.to_be_bytes());
        m.extend_from_slice(items);
    }
    let h = AcmeServerHint::from_v6_bytes(&m, &cfg).unwrap().unwrap();
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("ours.lan", HintSource::VendorClass)
    );
    // ... and v4 124 too (RFC layout, another vendor's items malformed).
    let d = hex("000011ab03096162" /* 4491: item claims 9, holds 2 */);
    let mut d2 = d;
    d2.extend_from_slice(&hex("0000d83d0908"));
    d2.extend_from_slice(b"ours.lan");
    let h = AcmeServerHint::from_v4_bytes(&with_options(&opt(124, &d2)), &cfg)
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("ours.lan", HintSource::VendorClass)
    );
}

#[test]
fn v4_lenient_parse_keeps_the_rest_and_reports_the_bad_options() {
    let bad = [
        opt(51, &[0, 0, 1]),              // lease time of 3 bytes (RFC 2132 §9.2: 4)
        opt(3, &[10, 0, 0, 1, 9]),        // router list not a multiple of 4
        opt(119, &[1, b'a', 0xC0, 0x00]), // search list pointer loop
        opt(124, &hex("0000d83d0f0e61")), // 124 framed by no layout
    ];
    let good = [
        opt(1, &[255, 255, 255, 0]),
        opt(54, &[10, 0, 0, 1]),
        opt(28, &[10, 0, 0, 255]),
    ];
    let mut opts = Vec::new();
    for (b, g) in bad
        .iter()
        .zip(good.iter().chain(core::iter::repeat(&vec![])))
    {
        opts.extend_from_slice(b);
        opts.extend_from_slice(g);
    }
    // Fix the 125 hint to be a valid block: sub-option 1 "ac.lan".
    let hint = opt(125, &[&hex("0000d83d08")[..], b"\x01\x06ac.lan"].concat());
    let opts = [opts, hint].concat();
    let msg = with_options(&opts);
    // Strict parsing refuses the message; the view and the hint are unaffected.
    assert!(v4::Repr::parse_bytes(&msg).is_err());
    let p = v4::Packet::new_checked(&msg[..]).unwrap();
    let h = AcmeServerHint::from_v4(&p, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(h.fqdn.as_str(), "ac.lan");

    let (repr, warnings) = v4::Repr::parse_bytes_lenient(&msg).unwrap();
    let codes: Vec<u16> = warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [51, 3, 119, 124]);
    assert_eq!(warnings.overflow(), 0);
    let w51 = warnings.get(51).unwrap();
    assert_eq!(w51.offset, 243);
    assert_eq!(
        w51.error,
        Error::BadOptionLength {
            offset: 245,
            code: 51,
            len: 3
        }
    );
    assert!(matches!(
        warnings.get(119).unwrap().error,
        Error::BadPointer { .. }
    ));
    assert_eq!(repr.message_type(), Some(v4::MessageType::Ack));
    assert_eq!(
        repr.option(1),
        Some(&OptionRepr::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        repr.option(54),
        Some(&OptionRepr::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)))
    );
    for code in [51, 3, 119, 124] {
        assert_eq!(repr.option(code), None, "option {code} was malformed");
    }
    // The no-alloc view reports the same options.
    let view: Vec<(u16, usize)> = p
        .option_warnings()
        .unwrap()
        .iter()
        .map(|w| (w.code, w.offset))
        .collect();
    let lenient: Vec<(u16, usize)> = warnings.iter().map(|w| (w.code, w.offset)).collect();
    assert_eq!(view, lenient);
    // What was kept emits and parses strictly.
    let again = v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
    assert_eq!(again, repr);
}

#[test]
fn v4_lenient_parse_survives_framing_errors() {
    // The last option claims 200 bytes: the options before it are kept.
    let msg = with_options(&[opt(54, &[10, 0, 0, 1]), vec![6, 200, 1, 2, 3, 4]].concat());
    let msg = &msg[..msg.len() - 1]; // no end option either
    assert!(v4::Packet::new_checked(msg).is_err());
    let (repr, warnings) = v4::Repr::parse_bytes_lenient(msg).unwrap();
    assert_eq!(repr.message_type(), Some(v4::MessageType::Ack));
    assert!(repr.option(54).is_some());
    assert_eq!(warnings.len(), 1);
    let w = warnings.iter().next().unwrap();
    assert_eq!((w.code, w.offset), (6, 249));
    assert!(matches!(w.error, Error::OptionOverrun { len: 200, .. }));
    // A bad overload value ends the walk there, reported against option 52.
    let msg = with_options(&[opt(54, &[10, 0, 0, 1]), opt(52, &[7])].concat());
    let (repr, warnings) = v4::Repr::parse_bytes_lenient(&msg).unwrap();
    assert!(repr.option(54).is_some());
    assert_eq!(warnings.iter().next().unwrap().code, 52);
    // Only a missing header is fatal.
    assert!(v4::Repr::parse_bytes_lenient(&[0u8; 100]).is_err());
    // The hint reader reads the options before a framing error too.
    let hint = opt(125, &[&hex("0000d83d08")[..], b"\x01\x06ac.lan"].concat());
    let msg = with_options(&[hint.clone(), vec![6, 200, 1, 2]].concat());
    let msg = &msg[..msg.len() - 1];
    let h = AcmeServerHint::from_v4_bytes(msg, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(h.fqdn.as_str(), "ac.lan");
    // ... but not those after it; and a wrong cookie is still an error.
    let msg = with_options(&[vec![6, 200, 1, 2], hint].concat());
    assert_eq!(
        AcmeServerHint::from_v4_bytes(&msg, &HintConfig::default()).unwrap(),
        None
    );
    let mut bad_cookie = msg;
    bad_cookie[236] = 0;
    assert!(matches!(
        AcmeServerHint::from_v4_bytes(&bad_cookie, &HintConfig::default()),
        Err(Error::BadMagicCookie { .. })
    ));
    // Many bad options: the first eight are kept, the rest counted.
    let many: Vec<u8> = [1u8, 3, 6, 50, 51, 54, 57, 58, 59, 61]
        .iter()
        .flat_map(|c| opt(*c, &[1]))
        .chain([12u8, 15].iter().flat_map(|c| opt(*c, &[])))
        .collect();
    let (_, warnings) = v4::Repr::parse_bytes_lenient(&with_options(&many)).unwrap();
    assert_eq!((warnings.len(), warnings.overflow()), (8, 4));
}

#[test]
fn v6_lenient_parse_keeps_the_rest_and_reports_the_bad_options() {
    let mut m = vec![7u8, 0, 0, 1];
    m.extend_from_slice(&[0, 1, 0, 4, 0, 3, 0, 1]); // client id
    m.extend_from_slice(&[0, 24, 0, 4, 1, b'a', 0xC0, 0]); // domain list with a pointer
    m.extend_from_slice(&[0, 7, 0, 2, 1, 2]); // preference of 2 bytes
    m.extend_from_slice(&[0, 17, 0, 6, 0, 0, 0x11, 0x8b, 0, 1]); // 4491: truncated sub-option
    // IA_NA holding a good IAADDR and a bad status code (1 byte).
    let mut iaaddr = vec![0u8, 5, 0, 24];
    iaaddr.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    iaaddr.extend_from_slice(&[0, 0, 0, 100, 0, 0, 0, 200]);
    let status = [0u8, 13, 0, 1, 0];
    let mut iana = vec![0u8, 3, 0, (12 + iaaddr.len() + status.len()) as u8];
    iana.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 50, 0, 0, 0, 80]);
    iana.extend_from_slice(&iaaddr);
    iana.extend_from_slice(&status);
    m.extend_from_slice(&iana);
    m.extend_from_slice(&v6_17(&[(55357, b"\x00\x01\x00\x08ours.lan")])[4..]);

    assert!(v6::Repr::parse_bytes(&m).is_err());
    let (repr, warnings) = v6::Repr::parse_bytes_lenient(&m).unwrap();
    let got: Vec<(u16, usize)> = warnings.iter().map(|w| (w.code, w.offset)).collect();
    assert_eq!(got, [(24, 12), (7, 20), (17, 26), (13, 80)]);
    assert_eq!(repr.msg_type, v6::MessageType::Reply);
    assert!(repr.option(v6::code::CLIENTID).is_some());
    let Some(v6::OptionRepr::IaNa { options, .. }) = repr.option(v6::code::IA_NA) else {
        panic!("{repr:?}")
    };
    assert_eq!(
        options.len(),
        1,
        "the IAADDR is kept, the bad status code left out"
    );
    let view: Vec<(u16, usize)> = v6::Packet::new_unchecked(&m[..])
        .option_warnings()
        .unwrap()
        .iter()
        .map(|w| (w.code, w.offset))
        .collect();
    assert_eq!(view, got);
    // The hint is found despite the other vendor's malformed 17 before it.
    let h = AcmeServerHint::from_v6_bytes(&m, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(h.fqdn.as_str(), "ours.lan");
    // An IA_NA whose IAADDR runs past it: strict checking refuses the message, but the hint
    // (a top-level option) is still read; a broken top-level framing stays an error.
    let mut nested = m.clone();
    let iaaddr_len_at = m.len() - (4 + 4 + 4 + 8) - iana.len() + 4 + 12 + 2;
    nested[iaaddr_len_at + 1] = 200;
    assert!(v6::Packet::new_checked(&nested[..]).is_err());
    let h = AcmeServerHint::from_v6_bytes(&nested, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(h.fqdn.as_str(), "ours.lan");
    let mut top = m.clone();
    top.extend_from_slice(&[0, 23, 0, 32, 1]);
    assert!(matches!(
        AcmeServerHint::from_v6_bytes(&top, &HintConfig::default()),
        Err(Error::OptionOverrun { code: 23, .. })
    ));
    // Framing: a top-level option running past the end keeps what came before.
    let mut t = m[..20].to_vec();
    t.extend_from_slice(&[0, 23, 0, 32, 1, 2]);
    let (repr, warnings) = v6::Repr::parse_bytes_lenient(&t).unwrap();
    assert!(repr.option(v6::code::CLIENTID).is_some());
    assert_eq!(warnings.iter().last().map(|w| w.code), Some(23));
    assert!(v6::Repr::parse_bytes_lenient(&[1u8, 0]).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(600))]

    /// On any options area (and any DHCPv6 body), the lenient parse never panics, keeps only
    /// what emits and parses strictly, agrees with the strict parse when that succeeds, and
    /// reports what the no-alloc view reports.
    #[test]
    fn lenient_parse_invariants(opts in proptest::collection::vec(
        proptest::prop_oneof![
            proptest::num::u8::ANY,
            proptest::sample::select(vec![0u8, 3, 4, 5, 9, 17, 51, 52, 53, 119, 124, 125, 255]),
        ],
        0..300,
    )) {
        let mut msg = with_options(&[]);
        msg.pop();
        msg.extend_from_slice(&opts);
        let (repr, warnings) = v4::Repr::parse_bytes_lenient(&msg).unwrap();
        let again = v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
        proptest::prop_assert_eq!(&again, &repr);
        let view = v4::Packet::new_unchecked(&msg[..]).option_warnings().unwrap();
        proptest::prop_assert_eq!(view.total(), warnings.total());
        if let Ok(strict) = v4::Repr::parse_bytes(&msg) {
            proptest::prop_assert!(warnings.is_empty());
            proptest::prop_assert_eq!(strict, repr);
        }
        let _ = AcmeServerHint::from_v4(&v4::Packet::new_unchecked(&msg[..]), &HintConfig::default());

        let mut m6 = vec![7u8, 0, 0, 1];
        m6.extend_from_slice(&opts);
        let (repr, warnings) = v6::Repr::parse_bytes_lenient(&m6).unwrap();
        let again = v6::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap();
        proptest::prop_assert_eq!(&again, &repr);
        let view = v6::Packet::new_unchecked(&m6[..]).option_warnings().unwrap();
        proptest::prop_assert_eq!(view.total(), warnings.total());
        if let Ok(strict) = v6::Repr::parse_bytes(&m6) {
            proptest::prop_assert!(warnings.is_empty());
            proptest::prop_assert_eq!(strict, repr);
        }
        let _ = AcmeServerHint::from_v6_bytes(&m6, &HintConfig::default());
    }
}
