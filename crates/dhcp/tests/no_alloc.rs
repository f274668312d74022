//! Proof that parsing allocates nothing: a counting global allocator around a full decode of a
//! typical ACK (every option value read) and a hint extraction.

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
    let region = Region::new(GLOBAL);
    let sum = common::decode_all(&ack).unwrap();
    let hint = common::hint(&ack);
    let hint6 = lantrust_dhcp::AcmeServerHint::from_v6_bytes(&v6, &Default::default()).unwrap();
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert!(sum > 0);
    assert_eq!(hint.unwrap().fqdn.as_str(), "acme.home.arpa");
    assert_eq!(hint6.unwrap().fqdn.as_str(), "acme.lan");
    // The ACK is the bench's "typical" one: ~300+ bytes and 12+ options.
    let p = lantrust_dhcp::v4::Packet::new_checked(&ack[..]).unwrap();
    assert!(
        p.options().count() >= 12 && (300..=360).contains(&ack.len()),
        "{} bytes",
        ack.len()
    );
}
