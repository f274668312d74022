//! Hand-built hostile packets: every one must give the precise error (with its offset), never a
//! panic, a hang or a wrong answer. Plus the query encoder checked byte by byte and against
//! hickory-proto's decoder, and a property test over arbitrary and mutated inputs.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_dnssd::{
    EDNS_UDP_PAYLOAD_SIZE, Error, Frame, Message, Query, RData, RecordType, read_tcp_frame,
};
use proptest::prelude::*;

/// A response header with the given counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut v = vec![0xAB, 0xCD, 0x81, 0x80];
    for c in [qd, an, ns, ar] {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

fn name(labels: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in labels {
        v.push(l.len() as u8);
        v.extend_from_slice(l);
    }
    v.push(0);
    v
}

/// A record header: TYPE, CLASS IN, TTL 60, RDLENGTH.
fn rr(rtype: u16, rdlen: u16) -> Vec<u8> {
    let mut v = rtype.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
    v.extend_from_slice(&rdlen.to_be_bytes());
    v
}

fn question_srv() -> Vec<u8> {
    let mut v = name(&[b"_acme-server", b"_tcp", b"example", b"test"]);
    v.extend_from_slice(&[0, 33, 0, 1]);
    v
}

#[test]
fn compression_pointer_to_itself() {
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::PointerNotBackward {
            offset: 12,
            target: 12
        }
    );
}

#[test]
fn compression_loop_through_a_label() {
    // "a" then a pointer back to the "a": a loop a naive decoder follows forever.
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&[1, b'a', 0xC0, 12, 0, 1, 0, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::PointerNotBackward {
            offset: 14,
            target: 12
        }
    );
}

#[test]
fn two_pointers_pointing_at_each_other() {
    // The answer's owner points at the second pointer, which points back at the first.
    let mut m = header(0, 1, 0, 0);
    m.extend_from_slice(&[0xC0, 14, 0xC0, 12]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::PointerNotBackward {
            offset: 12,
            target: 14
        }
    );
}

#[test]
fn forward_pointer_is_refused() {
    // The owner name points forward to a perfectly good name later in the message.
    let mut m = header(0, 1, 0, 0);
    m.extend_from_slice(&[0xC0, 28]);
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[192, 0, 2, 1]);
    m.extend_from_slice(&name(&[b"x"]));
    assert_eq!(m.len(), 31);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::PointerNotBackward { offset: 12, .. }
    ));
}

#[test]
fn pointer_past_the_end() {
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&[0xC0, 0xFF, 0, 1, 0, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::PointerOutOfBounds {
            offset: 12,
            target: 255
        }
    );
    // A pointer cut in half.
    let mut m = header(1, 0, 0, 0);
    m.push(0xC0);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::UnexpectedEnd { offset: 13, .. }
    ));
}

#[test]
fn names_over_255_bytes() {
    let l63 = [b'a'; 63];
    let l61 = [b'b'; 61];
    // Exactly 255 bytes in wire form: accepted.
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&name(&[&l63, &l63, &l63, &l61]));
    m.extend_from_slice(&[0, 1, 0, 1]);
    let q = Message::parse(&m).unwrap().questions().next().unwrap();
    assert_eq!(q.name.wire_len(), 255);
    // 256 bytes: refused.
    let l62 = [b'b'; 62];
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&name(&[&l63, &l63, &l63, &l62]));
    m.extend_from_slice(&[0, 1, 0, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::NameTooLong { offset: 12 }
    );
    // Over 255 only once decompressed: 200 bytes in the question, then an answer owner
    // that prepends 63+63 bytes of labels before pointing at it.
    let l49 = [b'c'; 49];
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&name(&[&l49, &l49, &l49, &l49]));
    m.extend_from_slice(&[0, 1, 0, 1]);
    let owner_at = m.len();
    for _ in 0..2 {
        m.push(63);
        m.extend_from_slice(&l63);
    }
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[192, 0, 2, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::NameTooLong { offset: owner_at }
    );
}

#[test]
fn reserved_label_types() {
    for byte in [0x40u8, 0x80, 0xBF] {
        let mut m = header(1, 0, 0, 0);
        m.extend_from_slice(&[byte, 0, 0, 1, 0, 1]);
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            Error::ReservedLabelType { offset: 12, byte }
        );
    }
}

#[test]
fn lying_rdlength() {
    let q = question_srv();
    let an_at = 12 + q.len();
    // A record claiming 5 bytes.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(1, 5));
    m.extend_from_slice(&[192, 0, 2, 1, 9]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength {
            offset: an_at + 12,
            rtype: 1,
            len: 5
        }
    );
    // AAAA with 4 bytes.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(28, 4));
    m.extend_from_slice(&[192, 0, 2, 1]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength { rtype: 28, .. }
    ));
    // rdlength past the end of the message.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(16, 200));
    m.extend_from_slice(&[3, b'a', b'=', b'b']);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::UnexpectedEnd { .. }
    ));
    // SRV whose rdlength is longer than its target: the spare bytes are refused.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(33, 6 + 2 + 2));
    m.extend_from_slice(&[0, 1, 0, 1, 0x20, 0xFB, 0xC0, 12, 0xDE, 0xAD]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength { rtype: 33, .. }
    ));
    // SRV whose rdlength is shorter than its target: the name may not run past it.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(33, 8));
    m.extend_from_slice(&[0, 1, 0, 1, 0x20, 0xFB, 3, b'c', b'a', b'1', 0]);
    assert!(Message::parse(&m).is_err());
    // SRV with no room for a target at all.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(33, 6));
    m.extend_from_slice(&[0, 1, 0, 1, 0x20, 0xFB]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength {
            rtype: 33,
            len: 6,
            ..
        }
    ));
    // TXT whose string length runs past the rdata, and an empty TXT.
    for (rdata, rdlen) in [(&[9u8, b'p', b'a'][..], 3u16), (&[][..], 0)] {
        let mut m = header(1, 1, 0, 0);
        m.extend_from_slice(&q);
        m.extend_from_slice(&[0xC0, 12]);
        m.extend_from_slice(&rr(16, rdlen));
        m.extend_from_slice(rdata);
        assert!(matches!(
            Message::parse(&m).unwrap_err(),
            Error::RdataLength { rtype: 16, .. }
        ));
    }
    // PTR whose name ends before the rdata does.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(12, 3));
    m.extend_from_slice(&[0xC0, 12, 0]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength { rtype: 12, .. }
    ));
}

#[test]
fn zero_length_label_in_the_middle() {
    // "foo" <0> "com" <0>: the name ends after "foo"; what follows is garbage fields.
    let mut m = header(1, 0, 0, 0);
    m.extend_from_slice(&[3, b'f', b'o', b'o', 0, 3, b'c', b'o', b'm', 0, 0, 1, 0, 1]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::TrailingBytes {
            offset: 21,
            count: 5
        }
    ));
    // Inside an SRV target it leaves bytes over, which the rdlength check catches.
    let mut m = header(1, 1, 0, 0);
    m.extend_from_slice(&question_srv());
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(33, 6 + 10));
    m.extend_from_slice(&[0, 1, 0, 1, 0x20, 0xFB]);
    m.extend_from_slice(&[3, b'c', b'a', b'1', 0, 4, b't', b'e', b's', b't']);
    assert!(matches!(
        Message::parse(&m),
        Err(Error::RdataLength { rtype: 33, .. } | Error::UnexpectedEnd { .. })
    ));
    // And in a text name the builder refuses it.
    assert_eq!(
        Query::new(1, "foo..com", RecordType::A).unwrap_err(),
        Error::InvalidName {
            reason: "empty label (two dots in a row, or a leading dot)"
        }
    );
}

#[test]
fn counts_that_lie() {
    let mut m = header(1, 3, 0, 0);
    m.extend_from_slice(&question_srv());
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::UnexpectedEnd { .. }
    ));
    assert!(matches!(
        Message::parse(&[0u8; 11]).unwrap_err(),
        Error::UnexpectedEnd { offset: 11, .. }
    ));
    // 65535 questions announced, none present: fails fast.
    let m = header(u16::MAX, u16::MAX, u16::MAX, u16::MAX);
    assert!(Message::parse(&m).is_err());
}

#[test]
fn opt_rules() {
    let opt = |name: &[u8]| {
        let mut v = name.to_vec();
        v.extend_from_slice(&[0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
        v
    };
    // In the answer section.
    let mut m = header(0, 1, 0, 0);
    m.extend_from_slice(&opt(&[0]));
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::BadOpt { offset: 12 }
    );
    // Twice.
    let mut m = header(0, 0, 0, 2);
    m.extend_from_slice(&opt(&[0]));
    m.extend_from_slice(&opt(&[0]));
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::BadOpt { offset: 23 }
    );
    // With a non-root owner.
    let mut m = header(0, 0, 0, 1);
    m.extend_from_slice(&opt(&[1, b'x', 0]));
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::BadOpt { offset: 12 }
    );
    // An option whose length overruns the rdata.
    let mut m = header(0, 0, 0, 1);
    m.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 6]);
    m.extend_from_slice(&[0, 10, 0, 8, 1, 2]);
    assert!(matches!(
        Message::parse(&m).unwrap_err(),
        Error::RdataLength { rtype: 41, .. }
    ));
    // A good one with an option and an extended RCODE (BADVERS = 16).
    let mut m = header(0, 0, 0, 1);
    m.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 1, 0, 0x80, 0, 0, 6]);
    m.extend_from_slice(&[0, 10, 0, 2, 0xAA, 0xBB]);
    let msg = Message::parse(&m).unwrap();
    let o = msg.opt().unwrap();
    assert_eq!(o.udp_payload_size, 1232);
    assert_eq!(o.flags, 0x8000);
    assert_eq!(o.options().collect::<Vec<_>>(), [(10, &[0xAA, 0xBB][..])]);
    assert_eq!(msg.rcode().to_u16(), 16);
}

#[test]
fn too_many_pointers() {
    // An unknown-type record whose rdata is a root label then a chain of 70 pointers, each to
    // the one before (all backwards, so only the hop limit stops it); then an A record whose
    // owner is the last pointer.
    let mut m = header(0, 2, 0, 0);
    m.push(0); // owner: root
    m.extend_from_slice(&rr(65280, 0));
    let base = m.len();
    m.push(0);
    let mut prev = base as u16;
    for _ in 0..70 {
        let here = m.len() as u16;
        m.extend_from_slice(&(0xC000 | prev).to_be_bytes());
        prev = here;
    }
    let rdlen = (m.len() - base) as u16;
    m[base - 2..base].copy_from_slice(&rdlen.to_be_bytes());
    let owner_at = m.len();
    m.extend_from_slice(&(0xC000 | prev).to_be_bytes());
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[192, 0, 2, 1]);
    assert_eq!(
        Message::parse(&m).unwrap_err(),
        Error::TooManyPointers { offset: owner_at }
    );
    // The same with a chain of 60 is fine and names the root.
    let mut m = header(0, 2, 0, 0);
    m.push(0);
    m.extend_from_slice(&rr(65280, 0));
    let base = m.len();
    m.push(0);
    let mut prev = base as u16;
    for _ in 0..60 {
        let here = m.len() as u16;
        m.extend_from_slice(&(0xC000 | prev).to_be_bytes());
        prev = here;
    }
    let rdlen = (m.len() - base) as u16;
    m[base - 2..base].copy_from_slice(&rdlen.to_be_bytes());
    m.extend_from_slice(&(0xC000 | prev).to_be_bytes());
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[192, 0, 2, 1]);
    let msg = Message::parse(&m).unwrap();
    assert!(msg.answers().nth(1).unwrap().name.is_root());
}

#[test]
fn mdns_queries_are_refused() {
    for name in [
        "printer.local",
        "printer.LOCAL.",
        "local",
        "_acme-server._tcp.local",
        "1.1.254.169.in-addr.arpa",
        "0.8.e.f.ip6.arpa",
    ] {
        let err = Query::new(1, name, RecordType::SRV).unwrap_err();
        assert_eq!(err, Error::MdnsName, "{name}");
        assert!(err.to_string().contains("mDNS"));
    }
    assert_eq!(Query::acme_srv(1, "local").unwrap_err(), Error::MdnsName);
    assert_eq!(
        Query::acme_browse(1, "home.local.").unwrap_err(),
        Error::MdnsName
    );
    // Only whole labels count.
    assert!(Query::acme_srv(1, "notlocal").is_ok());
    assert!(Query::acme_srv(1, "local.example").is_ok());
}

#[test]
fn query_bytes_rfc1035_and_rfc6891() {
    let q = Query::acme_srv(0xBEEF, "example.test").unwrap();
    let mut buf = [0u8; 128];
    let n = q.emit(&mut buf).unwrap();
    let mut want = vec![0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    want.extend_from_slice(&name(&[b"_acme-server", b"_tcp", b"example", b"test"]));
    want.extend_from_slice(&[0, 33, 0, 1]);
    want.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&buf[..n], &want[..]);
    assert_eq!(n, q.buffer_len());
    // Too small: an error that says how much is needed.
    assert_eq!(
        q.emit(&mut buf[..n - 1]).unwrap_err(),
        Error::BufferTooSmall { needed: n }
    );
    // TCP form: length prefix then the same bytes.
    let mut tcp = [0u8; 130];
    let t = q.emit_tcp(&mut tcp).unwrap();
    assert_eq!(t, n + 2);
    assert_eq!(&tcp[..2], &(n as u16).to_be_bytes());
    assert_eq!(&tcp[2..t], &want[..]);
    // Our own parser reads it back as a query.
    let m = Message::parse(&buf[..n]).unwrap();
    assert!(!m.header().is_response());
    assert_eq!(m.opt().unwrap().udp_payload_size, EDNS_UDP_PAYLOAD_SIZE);
}

#[test]
fn query_decoded_by_hickory() {
    let q = Query::acme_browse(4242, "Example.Test.").unwrap();
    let mut buf = [0u8; 128];
    let n = q.emit(&mut buf).unwrap();
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.metadata.id, 4242);
    assert!(m.metadata.recursion_desired);
    let query = &m.queries[0];
    assert_eq!(query.name().to_ascii(), "_acme-server._tcp.Example.Test.");
    assert_eq!(query.query_type(), hickory_proto::rr::RecordType::PTR);
    let edns = m.edns.as_ref().unwrap();
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
}

#[test]
fn name_too_long_for_query() {
    let long = ["a"; 130].join(".");
    assert!(matches!(
        Query::new(1, &long, RecordType::A).unwrap_err(),
        Error::InvalidName { .. }
    ));
    let label64 = "x".repeat(64);
    assert!(matches!(
        Query::new(1, &label64, RecordType::A).unwrap_err(),
        Error::InvalidName { .. }
    ));
    // 255 bytes with the service prefix added is checked too.
    let d63 = "d".repeat(63);
    let domain = [&d63[..], &d63, &d63, &"d".repeat(50)].join(".");
    assert!(Query::new(1, &domain, RecordType::A).is_ok());
    assert!(matches!(
        Query::acme_srv(1, &domain).unwrap_err(),
        Error::InvalidName { .. }
    ));
}

#[test]
fn tcp_framing() {
    assert_eq!(
        read_tcp_frame(&[]).unwrap(),
        Frame::Incomplete { needed: 2 }
    );
    assert_eq!(
        read_tcp_frame(&[0]).unwrap(),
        Frame::Incomplete { needed: 1 }
    );
    assert_eq!(
        read_tcp_frame(&[0, 20, 1, 2, 3]).unwrap(),
        Frame::Incomplete { needed: 17 }
    );
    assert_eq!(
        read_tcp_frame(&[0, 0]).unwrap_err(),
        Error::FrameTooShort(0)
    );
    assert_eq!(
        read_tcp_frame(&[0, 11]).unwrap_err(),
        Error::FrameTooShort(11)
    );
}

#[test]
fn cname_followed_within_the_answer() {
    // _acme-server._tcp.example.test CNAME svc.example.test; svc SRV -> ca.example.test;
    // ca.example.test A in the additional section. Hand-built with compression.
    let mut m = header(1, 2, 0, 1);
    m[0] = 0x11;
    m[1] = 0x22;
    m.extend_from_slice(&question_srv()); // name at 12; "example" at 12+1+12+1+4 = 30
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(5, 6));
    let svc_at = m.len();
    m.extend_from_slice(&[3, b's', b'v', b'c', 0xC0, 30]);
    m.extend_from_slice(&(0xC000u16 | svc_at as u16).to_be_bytes());
    m.extend_from_slice(&rr(33, 6 + 5));
    m.extend_from_slice(&[0, 5, 0, 0, 0x01, 0xBB]);
    let ca_at = m.len();
    m.extend_from_slice(&[2, b'c', b'a', 0xC0, 30]);
    m.extend_from_slice(&(0xC000u16 | ca_at as u16).to_be_bytes());
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[10, 1, 2, 3]);
    let q = Query::acme_srv(0x1122, "example.test").unwrap();
    let resp = q
        .check_response(&m, "10.0.0.1:53".parse().unwrap())
        .unwrap();
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    let urls = lantrust_dnssd::resolve(&[resp], &mut rng).unwrap().urls;
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0].url, "https://ca.example.test:443/acme/directory");
    assert_eq!(
        urls[0].addresses,
        ["10.1.2.3".parse::<core::net::IpAddr>().unwrap()]
    );
}

#[test]
fn hostile_targets_and_paths_are_skipped() {
    // Two SRV: one to a .local target (would need mDNS), one to a target with a space; and
    // a TXT path with a space. Nothing usable: the first skip reason is returned.
    let mut m = header(1, 2, 0, 0);
    m.extend_from_slice(&question_srv());
    m.extend_from_slice(&[0xC0, 12]);
    let t1 = name(&[b"ca", b"local"]);
    m.extend_from_slice(&rr(33, 6 + t1.len() as u16));
    m.extend_from_slice(&[0, 0, 0, 0, 1, 0xBB]);
    let t1_at = m.len();
    m.extend_from_slice(&t1);
    m.extend_from_slice(&[0xC0, 12]);
    let t2 = name(&[b"c a", b"test"]);
    m.extend_from_slice(&rr(33, 6 + t2.len() as u16));
    m.extend_from_slice(&[0, 0, 0, 0, 1, 0xBB]);
    m.extend_from_slice(&t2);
    let q = Query::acme_srv(0xABCD, "example.test").unwrap();
    let resp = q
        .check_response(&m, "10.0.0.1:53".parse().unwrap())
        .unwrap();
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    assert_eq!(
        lantrust_dnssd::resolve(&[resp], &mut rng).unwrap_err(),
        Error::InvalidTarget { offset: t1_at }
    );
    let RData::Srv(s) = resp.message().answers().nth(1).unwrap().rdata else {
        panic!()
    };
    assert_eq!(s.target.to_string(), "c\\032a.test");
}

fn check_no_panic(bytes: &[u8]) {
    if let Ok(m) = Message::parse(bytes) {
        // Every accessor works on whatever was accepted, and the round trip holds.
        let _ = m.rcode();
        for q in m.questions() {
            let _ = q.name.to_string();
        }
        let mut out = vec![0u8; 70_000];
        if let Ok(n) = m.emit(&mut out) {
            let again = Message::parse(&out[..n]).expect("re-emitted message must parse");
            assert_eq!(m.header(), again.header());
            assert!(m.questions().eq(again.questions()));
            assert!(
                m.records()
                    .map(|(s, r)| (s, r.name, r.rtype, r.class, r.ttl, r.rdata))
                    .eq(again
                        .records()
                        .map(|(s, r)| (s, r.name, r.rtype, r.class, r.ttl, r.rdata)))
            );
        }
        let q = Query::acme_srv(m.header().id, "example.test").unwrap();
        if let Ok(resp) = q.check_response(bytes, "10.0.0.1:53".parse().unwrap()) {
            let mut rng = rand::rngs::mock::StepRng::new(3, 7);
            let _ = lantrust_dnssd::resolve(&[resp], &mut rng);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_no_panic(&bytes);
    }

    #[test]
    fn select_targets_is_a_priority_ordered_permutation(
        mut items in proptest::collection::vec((0u16..4, any::<u16>()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut before = items.clone();
        let mut rng = rand::rngs::mock::StepRng::new(seed, 0x9E37_79B9);
        lantrust_dnssd::select_targets(&mut items, &mut rng, |t| *t);
        prop_assert!(items.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut after = items.clone();
        before.sort();
        after.sort();
        prop_assert_eq!(before, after);
    }

    #[test]
    fn mutated_vectors_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let base: &[u8] = [
            &include_bytes!("vectors/dnsmasq_srv.bin")[..],
            &include_bytes!("vectors/unbound_srv.bin")[..],
            &include_bytes!("vectors/unbound_ptr.bin")[..],
        ][which];
        let mut v = base.to_vec();
        for (at, b) in flips {
            let i = at % v.len();
            v[i] = b;
        }
        v.truncate(cut % (v.len() + 1));
        check_no_panic(&v);
    }
}

#[test]
fn browse_ptr_outside_the_service_is_ignored() {
    // PTR _acme-server._tcp.example.test -> evil.example.org (not `<Instance>.<Service>`).
    let mut m = header(1, 1, 0, 0);
    m[0] = 0x77;
    m[1] = 0x77;
    let mut q = name(&[b"_acme-server", b"_tcp", b"example", b"test"]);
    q.extend_from_slice(&[0, 12, 0, 1]);
    m.extend_from_slice(&q);
    m.extend_from_slice(&[0xC0, 12]);
    let target = name(&[b"evil", b"example", b"org"]);
    m.extend_from_slice(&rr(12, target.len() as u16));
    m.extend_from_slice(&target);
    let browse = Query::acme_browse(0x7777, "example.test").unwrap();
    let resp = browse
        .check_response(&m, "10.0.0.1:53".parse().unwrap())
        .unwrap();
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    assert_eq!(
        lantrust_dnssd::resolve(&[resp], &mut rng).unwrap_err(),
        Error::NoService
    );
}

#[test]
fn browse_with_srv_txt_a_in_additional_section() {
    // RFC 6763 §12.1: a PTR answer whose additional section already holds the instance's SRV
    // and TXT and the target's A, all name-compressed.
    let mut m = header(1, 1, 0, 3);
    m[0] = 0x42;
    m[1] = 0x42;
    let mut q = name(&[b"_acme-server", b"_tcp", b"example", b"test"]);
    q.extend_from_slice(&[0, 12, 0, 1]);
    m.extend_from_slice(&q); // service at 12, "example.test" at 30
    // PTR -> "Lab CA" + pointer to the service.
    m.extend_from_slice(&[0xC0, 12]);
    m.extend_from_slice(&rr(12, 9));
    let instance_at = m.len() as u16;
    m.extend_from_slice(&[6, b'L', b'a', b'b', b' ', b'C', b'A', 0xC0, 12]);
    // SRV 1 1 8443 acme.example.test
    m.extend_from_slice(&(0xC000 | instance_at).to_be_bytes());
    m.extend_from_slice(&rr(33, 6 + 7));
    m.extend_from_slice(&[0, 1, 0, 1, 0x20, 0xFB]);
    let target_at = m.len() as u16;
    m.extend_from_slice(&[4, b'a', b'c', b'm', b'e', 0xC0, 30]);
    // TXT "path=acme/dir" (no leading slash: one is added).
    m.extend_from_slice(&(0xC000 | instance_at).to_be_bytes());
    m.extend_from_slice(&rr(16, 14));
    m.extend_from_slice(b"\x0dpath=acme/dir");
    // A 10.9.8.7
    m.extend_from_slice(&(0xC000 | target_at).to_be_bytes());
    m.extend_from_slice(&rr(1, 4));
    m.extend_from_slice(&[10, 9, 8, 7]);
    let browse = Query::acme_browse(0x4242, "example.test").unwrap();
    let resp = browse
        .check_response(&m, "10.0.0.1:53".parse().unwrap())
        .unwrap();
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    let res = lantrust_dnssd::resolve(&[resp], &mut rng).unwrap();
    assert!(res.pending.is_empty());
    assert_eq!(res.urls.len(), 1);
    assert_eq!(res.urls[0].url, "https://acme.example.test:8443/acme/dir");
    assert_eq!(
        res.urls[0].addresses,
        ["10.9.8.7".parse::<core::net::IpAddr>().unwrap()]
    );
}

#[test]
fn answers_packed_with_records_are_bounded() {
    // 2000 SRV records to distinct targets in one (TCP-sized) answer: only MAX_TARGETS are
    // considered, so a hostile resolver cannot make resolution quadratic in the packet.
    let count = 2000u16;
    let mut m = header(1, count, 0, 0);
    m[0] = 0x55;
    m[1] = 0x55;
    m.extend_from_slice(&question_srv()); // "example.test" at 30
    for i in 0..count {
        m.extend_from_slice(&[0xC0, 12]);
        m.extend_from_slice(&rr(33, 6 + 6 + 2));
        m.extend_from_slice(&[0, 0, 0, 1, 0x20, 0xFB]);
        m.push(5);
        m.extend_from_slice(format!("h{i:04}").as_bytes());
        m.extend_from_slice(&[0xC0, 30]);
    }
    let q = Query::acme_srv(0x5555, "example.test").unwrap();
    let resp = q
        .check_response(&m, "10.0.0.1:53".parse().unwrap())
        .unwrap();
    assert_eq!(resp.message().answers().count(), 2000);
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    let urls = lantrust_dnssd::resolve(&[resp], &mut rng).unwrap().urls;
    assert_eq!(urls.len(), lantrust_dnssd::MAX_TARGETS);
}
