//! lantrust-dnssd: parse → emit (uncompressed) → reparse must give the same message, and
//! emitting the reparsed message must give the same bytes again. Any panic, hang or mismatch
//! is a bug.
#![no_main]
use lantrust_dnssd::{Error, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else { return };
    let _ = m.rcode();
    let _ = m.opt().map(|o| o.options().count());
    let mut out = vec![0u8; 1 << 20];
    let n = match m.emit(&mut out) {
        Ok(n) => n,
        Err(Error::BufferTooSmall { .. }) => return,
        Err(e) => panic!("emitting an accepted message failed: {e}"),
    };
    let again = Message::parse(&out[..n]).expect("re-emitted message must parse");
    assert_eq!(m.header(), again.header());
    for (q1, q2) in m.questions().zip(again.questions()) {
        assert!(q1.name.labels().eq(q2.name.labels()));
        assert_eq!((q1.qtype, q1.qclass), (q2.qtype, q2.qclass));
    }
    assert_eq!(m.questions().count(), again.questions().count());
    for ((s1, r1), (s2, r2)) in m.records().zip(again.records()) {
        assert_eq!(s1, s2);
        assert!(r1.name.labels().eq(r2.name.labels()));
        assert_eq!((r1.rtype, r1.class, r1.ttl), (r2.rtype, r2.class, r2.ttl));
        assert_eq!(r1.rdata, r2.rdata);
    }
    assert_eq!(m.records().count(), again.records().count());
    let mut out2 = vec![0u8; n];
    let n2 = again.emit(&mut out2).expect("second emit");
    assert_eq!(&out[..n], &out2[..n2], "emit is not idempotent");
});
