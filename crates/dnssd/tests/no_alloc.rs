//! Proof that parsing allocates nothing: a counting global allocator around the parse path
//! (message validation, every record, names, TXT attributes, query emission and response
//! checking). Runs without the test harness so no other thread allocates meanwhile.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::SocketAddr;

use lantrust_dnssd::{Message, Query, RData, TxtValue, read_tcp_frame, select_targets};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn parse_everything(bytes: &[u8]) -> u64 {
    let m = Message::parse(bytes).unwrap();
    let mut sum = u64::from(m.rcode().to_u16());
    for q in m.questions() {
        sum += q.name.labels().count() as u64;
    }
    for (_, r) in m.records() {
        sum += u64::from(r.ttl) + r.name.wire_len() as u64;
        match r.rdata {
            RData::Srv(s) => sum += u64::from(s.port) + s.target.wire_len() as u64,
            RData::Txt(t) => {
                if let Some(TxtValue::Value(v)) = t.get("path") {
                    sum += v.len() as u64;
                }
            }
            RData::A(a) => sum += u64::from(u32::from(a)),
            RData::Ptr(p) | RData::Cname(p) => sum += u64::from(p.eq_str("x.example.test")),
            _ => {}
        }
    }
    sum
}

fn main() {
    let vectors: [&[u8]; 4] = [
        include_bytes!("vectors/dnsmasq_srv.bin"),
        include_bytes!("vectors/unbound_srv.bin"),
        include_bytes!("vectors/unbound_txt.bin"),
        include_bytes!("vectors/unbound_ptr.bin"),
    ];
    let tcp: &[u8] = include_bytes!("vectors/unbound_srv_tcp.bin");
    let from = SocketAddr::from(([127, 0, 0, 1], 53));
    let region = Region::new(GLOBAL);
    let mut total = 0u64;
    for v in vectors {
        total += parse_everything(v);
    }
    let q = Query::acme_srv(0x1234, "example.test").unwrap();
    let mut buf = [0u8; 512];
    total += q.emit(&mut buf).unwrap() as u64;
    let resp = q.check_response(vectors[0], from).unwrap();
    total += resp.message().answers().count() as u64;
    if let lantrust_dnssd::Frame::Complete { message, .. } = read_tcp_frame(tcp).unwrap() {
        total += message.len() as u64;
    }
    let mut targets = [(10u16, 60u16), (10, 40), (20, 0)];
    let mut rng = rand::rngs::mock::StepRng::new(1, 3);
    select_targets(&mut targets, &mut rng, |t| *t);
    let stats = region.change();
    assert!(total > 0);
    assert_eq!(stats.allocations, 0, "the parse path allocated: {stats:?}");
    assert_eq!(
        stats.reallocations, 0,
        "the parse path reallocated: {stats:?}"
    );
    // Control: the counter does see allocations.
    let control = Region::new(GLOBAL);
    let v = core::hint::black_box(vec![1u8; 10]);
    assert_eq!(control.change().allocations, 1);
    drop(v);
    println!(
        "no_alloc: 0 allocations while parsing {} vectors",
        vectors.len()
    );
}
