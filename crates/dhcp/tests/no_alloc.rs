//! Proof that parsing allocates nothing: a counting global allocator around a full decode of a
//! typical ACK (every option value read) and a hint extraction, and around the lenient checks
//! of messages whose unrelated options are malformed (warnings are a fixed-size list).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn decoding_and_hint_extraction_allocate_nothing() {
    let ack = common::typical_ack();
    let v6 = {
        let sol = lantrust_dhcp::v6::Repr::solicit(1, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1], 1, None);
        let mut rep = lantrust_dhcp::v6::Repr::reply(
            &sol,
            lantrust_dhcp::v6::MessageType::Reply,
            &[0, 1],
            &[],
            &[],
        );
        rep.set_acme_hint(&lantrust_dhcp::Fqdn::new("acme.lan").unwrap(), None)
            .unwrap();
        rep.to_bytes().unwrap()
    };
    // The same ACK with malformed options in front of the hint: a 3-byte lease time, a search
    // list with a pointer loop, another vendor's broken 124, a truncated option at the end.
    let mut wild = ack[..240].to_vec();
    wild.extend_from_slice(&[51, 3, 0, 0, 1, 119, 4, 1, b'a', 0xC0, 0x00]);
    wild.extend_from_slice(&[124, 7, 0, 0, 0x11, 0x8b, 5, 9, b'a']);
    let end = ack.iter().rposition(|b| *b == 255).unwrap();
    wild.extend_from_slice(&ack[240..end]);
    wild.extend_from_slice(&[6, 200, 1, 2]);
    // DHCPv6: another vendor's malformed option 17 before ours, and a bad domain list.
    let mut wild6 = vec![7u8, 0, 0, 1, 0, 17, 0, 6, 0, 0, 0x11, 0x8b, 0, 1];
    wild6.extend_from_slice(&[0, 24, 0, 4, 1, b'a', 0xC0, 0]);
    wild6.extend_from_slice(&v6[4..]);
    let region = Region::new(GLOBAL);
    let sum = common::decode_all(&ack).unwrap();
    let hint = common::hint(&ack);
    let hint6 = lantrust_dhcp::AcmeServerHint::from_v6_bytes(&v6, &Default::default()).unwrap();
    let warnings = lantrust_dhcp::v4::Packet::new_unchecked(&wild[..])
        .option_warnings()
        .unwrap();
    let wild_hint = lantrust_dhcp::AcmeServerHint::from_v4(
        &lantrust_dhcp::v4::Packet::new_unchecked(&wild[..]),
        &Default::default(),
    )
    .unwrap();
    let warnings6 = lantrust_dhcp::v6::Packet::new_unchecked(&wild6[..])
        .option_warnings()
        .unwrap();
    let wild_hint6 =
        lantrust_dhcp::AcmeServerHint::from_v6_bytes(&wild6, &Default::default()).unwrap();
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert!(sum > 0);
    assert_eq!(hint.unwrap().fqdn.as_str(), "acme.home.arpa");
    assert_eq!(hint6.unwrap().fqdn.as_str(), "acme.lan");
    let codes: Vec<u16> = warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [51, 119, 124, 6]);
    assert_eq!(wild_hint.unwrap().fqdn.as_str(), "acme.home.arpa");
    let codes6: Vec<u16> = warnings6.iter().map(|w| w.code).collect();
    assert_eq!(codes6, [17, 24]);
    assert_eq!(wild_hint6.unwrap().fqdn.as_str(), "acme.lan");
    // The ACK is the bench's "typical" one: ~300+ bytes and 12+ options.
    let p = lantrust_dhcp::v4::Packet::new_checked(&ack[..]).unwrap();
    assert!(
        p.options().count() >= 12 && (300..=360).contains(&ack.len()),
        "{} bytes",
        ack.len()
    );
}
