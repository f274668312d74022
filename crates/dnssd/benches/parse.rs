//! Parse a compressed SRV + TXT + A answer with lantrust-dnssd, hickory-proto and simple-dns
//! in the same run. Each parser must visit every record and read the SRV fields, the TXT
//! strings and the addresses (the three checksums are asserted equal before timing).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::hint::black_box;
use core::net::Ipv4Addr;

use criterion::{Criterion, criterion_main};

/// The answer a client gets for `SRV _acme-server._tcp.example.test`: two SRV and one TXT in
/// the answer section, the targets' A records in the additional section, names compressed by
/// hickory-proto's encoder (a third-party compressor, so the input is not tailored to us).
fn srv_txt_a_answer() -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, SRV, TXT};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    let service = Name::from_ascii("_acme-server._tcp.example.test.").unwrap();
    let ca1 = Name::from_ascii("ca1.example.test.").unwrap();
    let ca2 = Name::from_ascii("ca2.example.test.").unwrap();
    let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(service.clone(), RecordType::SRV));
    m.add_answer(Record::from_rdata(
        service.clone(),
        300,
        RData::SRV(SRV::new(10, 60, 8443, ca1.clone())),
    ));
    m.add_answer(Record::from_rdata(
        service.clone(),
        300,
        RData::SRV(SRV::new(10, 40, 8443, ca2.clone())),
    ));
    m.add_answer(Record::from_rdata(
        service,
        300,
        RData::TXT(TXT::new(vec![
            "txtvers=1".into(),
            "path=/acme/v2/directory".into(),
        ])),
    ));
    m.add_additional(Record::from_rdata(
        ca1,
        300,
        RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
    ));
    m.add_additional(Record::from_rdata(
        ca2,
        300,
        RData::A(A(Ipv4Addr::new(192, 0, 2, 11))),
    ));
    m.to_vec().unwrap()
}

fn ours(bytes: &[u8]) -> u64 {
    use lantrust_dnssd::{Message, RData};
    let m = Message::parse(bytes).unwrap();
    let mut sum = 0u64;
    for (_, r) in m.records() {
        match r.rdata {
            RData::Srv(s) => {
                sum += u64::from(s.priority) + u64::from(s.weight) + u64::from(s.port);
                sum += s.target.labels().map(|l| l.len() as u64).sum::<u64>();
            }
            RData::Txt(t) => sum += t.strings().map(|s| s.len() as u64).sum::<u64>(),
            RData::A(a) => sum += u64::from(u32::from(a)),
            _ => {}
        }
    }
    sum
}

fn hickory(bytes: &[u8]) -> u64 {
    use hickory_proto::op::Message;
    use hickory_proto::rr::RData;
    let m = Message::from_vec(bytes).unwrap();
    let mut sum = 0u64;
    for r in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
        match &r.data {
            RData::SRV(s) => {
                sum += u64::from(s.priority) + u64::from(s.weight) + u64::from(s.port);
                sum += s.target.iter().map(|l| l.len() as u64).sum::<u64>();
            }
            RData::TXT(t) => sum += t.txt_data.iter().map(|s| s.len() as u64).sum::<u64>(),
            RData::A(a) => sum += u64::from(u32::from(a.0)),
            _ => {}
        }
    }
    sum
}

fn simple(bytes: &[u8]) -> u64 {
    use simple_dns::Packet;
    use simple_dns::rdata::RData;
    let p = Packet::parse(bytes).unwrap();
    let mut sum = 0u64;
    for r in p
        .answers
        .iter()
        .chain(&p.name_servers)
        .chain(&p.additional_records)
    {
        match &r.rdata {
            RData::SRV(s) => {
                sum += u64::from(s.priority) + u64::from(s.weight) + u64::from(s.port);
                sum += s.target.iter().map(|l| l.len() as u64).sum::<u64>();
            }
            RData::TXT(t) => {
                sum += t
                    .iter_raw()
                    .map(|(k, v)| (k.len() + v.map_or(0, |v| v.len() + 1)) as u64)
                    .sum::<u64>();
            }
            RData::A(a) => sum += u64::from(a.address),
            _ => {}
        }
    }
    sum
}

fn bench(c: &mut Criterion) {
    let generated = srv_txt_a_answer();
    let captured: &[u8] = include_bytes!("../tests/vectors/dnsmasq_srv.bin");
    for (name, bytes) in [
        ("srv_txt_a", generated.as_slice()),
        ("dnsmasq_srv", captured),
    ] {
        let expected = ours(bytes);
        assert_eq!(
            hickory(bytes),
            expected,
            "hickory-proto sees a different message"
        );
        if name == "srv_txt_a" {
            assert_eq!(
                simple(bytes),
                expected,
                "simple-dns sees a different message"
            );
        }
        let mut g = c.benchmark_group(name);
        g.bench_function("lantrust-dnssd", |b| b.iter(|| ours(black_box(bytes))));
        g.bench_function("hickory-proto", |b| b.iter(|| hickory(black_box(bytes))));
        g.bench_function("simple-dns", |b| b.iter(|| simple(black_box(bytes))));
        g.finish();
    }
}

// criterion's macro generates an undocumented `pub fn`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
