//! Decode and encode a typical DHCPACK (13 options, 355 bytes): lantrust-dhcp against dhcproto,
//! the leading Rust DHCP crate, in the same run.
//!
//! "decode" for lantrust-dhcp is the zero-copy view reading every header field and every option
//! value (no allocation, see `tests/no_alloc.rs`); `Repr::parse` (owned, allocating) is measured
//! too. dhcproto's decode builds its owned `Message`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use core::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use lantrust_dhcp::v4;

fn codec(c: &mut Criterion) {
    let ack = common::typical_ack();
    // Both crates must agree on what they decode before we time them.
    let theirs =
        dhcproto::v4::Message::decode(&mut Decoder::new(&ack)).expect("dhcproto decodes our ACK");
    assert_eq!(
        theirs.xid(),
        v4::Packet::new_checked(&ack[..]).unwrap().xid()
    );
    assert_eq!(
        theirs.opts().len(),
        v4::Packet::new_checked(&ack[..]).unwrap().options().count()
    );
    let ours = v4::Repr::parse_bytes(&ack).unwrap();

    let mut g = c.benchmark_group("dhcpv4_ack_decode");
    g.bench_function("lantrust-dhcp view (zero-copy)", |b| {
        b.iter(|| common::decode_all(black_box(&ack)).unwrap())
    });
    g.bench_function("lantrust-dhcp Repr::parse (owned)", |b| {
        b.iter(|| v4::Repr::parse_bytes(black_box(&ack)).unwrap())
    });
    g.bench_function("dhcproto Message::decode", |b| {
        b.iter(|| dhcproto::v4::Message::decode(&mut Decoder::new(black_box(&ack))).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("dhcpv4_ack_encode");
    let mut buf = [0u8; 1500];
    g.bench_function("lantrust-dhcp Repr::emit", |b| {
        b.iter(|| black_box(&ours).emit(&mut buf).unwrap())
    });
    let mut out = Vec::with_capacity(1500);
    g.bench_function("dhcproto Message::encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&theirs)
                .encode(&mut Encoder::new(&mut out))
                .unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("dhcpv4_hint");
    g.bench_function("lantrust-dhcp AcmeServerHint::from_v4", |b| {
        b.iter(|| common::hint(black_box(&ack)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
