//! The answers captured from unbound and dnsmasq (tests/unbound.rs, tests/dnsmasq.rs), parsed
//! without the servers: exact record contents, validation against the queries that produced
//! them, resolution, and parse → emit → reparse round trips.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lantrust_dnssd::{
    Error, Frame, Message, Query, RData, Rcode, RecordType, Section, TxtValue, read_tcp_frame,
    resolve,
};
use rand::SeedableRng;

const UNBOUND_SRV: &[u8] = include_bytes!("vectors/unbound_srv.bin");
const UNBOUND_TXT: &[u8] = include_bytes!("vectors/unbound_txt.bin");
const UNBOUND_A: &[u8] = include_bytes!("vectors/unbound_a.bin");
const UNBOUND_PTR: &[u8] = include_bytes!("vectors/unbound_ptr.bin");
const UNBOUND_INSTANCE_SRV: &[u8] = include_bytes!("vectors/unbound_instance_srv.bin");
const UNBOUND_INSTANCE_TXT: &[u8] = include_bytes!("vectors/unbound_instance_txt.bin");
const UNBOUND_NOT_AVAILABLE: &[u8] = include_bytes!("vectors/unbound_not_available.bin");
const UNBOUND_NXDOMAIN: &[u8] = include_bytes!("vectors/unbound_nxdomain.bin");
const UNBOUND_SRV_TCP: &[u8] = include_bytes!("vectors/unbound_srv_tcp.bin");
const DNSMASQ_SRV: &[u8] = include_bytes!("vectors/dnsmasq_srv.bin");
const DNSMASQ_TXT: &[u8] = include_bytes!("vectors/dnsmasq_txt.bin");
const DNSMASQ_PTR: &[u8] = include_bytes!("vectors/dnsmasq_ptr.bin");
const DNSMASQ_INSTANCE_SRV: &[u8] = include_bytes!("vectors/dnsmasq_instance_srv.bin");
const DNSMASQ_INSTANCE_TXT: &[u8] = include_bytes!("vectors/dnsmasq_instance_txt.bin");

const ALL: [&[u8]; 13] = [
    UNBOUND_SRV,
    UNBOUND_TXT,
    UNBOUND_A,
    UNBOUND_PTR,
    UNBOUND_INSTANCE_SRV,
    UNBOUND_INSTANCE_TXT,
    UNBOUND_NOT_AVAILABLE,
    UNBOUND_NXDOMAIN,
    DNSMASQ_SRV,
    DNSMASQ_TXT,
    DNSMASQ_PTR,
    DNSMASQ_INSTANCE_SRV,
    DNSMASQ_INSTANCE_TXT,
];

fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 53))
}

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(11)
}

#[test]
fn unbound_srv_answer_contents() {
    let m = Message::parse(UNBOUND_SRV).unwrap();
    let h = m.header();
    assert_eq!(h.id, 0x1234);
    assert!(h.is_response() && h.recursion_desired() && h.authoritative());
    assert_eq!(m.rcode(), Rcode::NoError);
    let q = m.questions().next().unwrap();
    assert!(q.name.eq_str("_acme-server._tcp.example.test"));
    assert_eq!(q.qtype, RecordType::SRV);
    let mut srvs: Vec<(u16, u16, u16, String)> = m
        .answers()
        .map(|r| {
            assert!(r.name.eq_str("_acme-server._tcp.example.test"));
            assert_eq!(r.ttl, 300);
            match r.rdata {
                RData::Srv(s) => (s.priority, s.weight, s.port, s.target.to_string()),
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect();
    srvs.sort();
    assert_eq!(
        srvs,
        [
            (10, 40, 8443, "ca2.example.test".to_string()),
            (10, 60, 8443, "ca1.example.test".to_string()),
            (20, 0, 443, "backup.example.test".to_string()),
        ]
    );
    // unbound echoes EDNS with its own payload size.
    let opt = m.opt().unwrap();
    assert_eq!(opt.version, 0);
    assert!(opt.udp_payload_size >= 512);
}

#[test]
fn txt_attributes_follow_rfc6763() {
    let m = Message::parse(UNBOUND_TXT).unwrap();
    let r = m.answers().next().unwrap();
    let RData::Txt(txt) = r.rdata else {
        panic!("not TXT")
    };
    let strings: Vec<&[u8]> = txt.strings().collect();
    assert_eq!(
        strings,
        [
            &b"txtvers=1"[..],
            b"PATH=/acme/v2/directory",
            b"path=/ignored"
        ]
    );
    // Case-insensitive keys, first occurrence wins.
    assert_eq!(
        txt.get("path"),
        Some(TxtValue::Value(b"/acme/v2/directory"))
    );
    assert_eq!(txt.get("TXTVERS"), Some(TxtValue::Value(b"1")));
    assert_eq!(txt.get("missing"), None);

    let m = Message::parse(UNBOUND_INSTANCE_TXT).unwrap();
    let RData::Txt(txt) = m.answers().next().unwrap().rdata else {
        panic!("not TXT")
    };
    // A boolean attribute.
    assert_eq!(txt.get("secure"), Some(TxtValue::Present));
    assert_eq!(txt.get("path"), Some(TxtValue::Value(b"/office/directory")));
}

#[test]
fn ptr_and_nxdomain_and_not_available() {
    let m = Message::parse(UNBOUND_PTR).unwrap();
    let RData::Ptr(instance) = m.answers().next().unwrap().rdata else {
        panic!("not PTR")
    };
    assert_eq!(
        instance.labels().next().unwrap(),
        b"Office CA",
        "instance labels keep spaces"
    );
    assert_eq!(
        instance.to_string(),
        "Office\\032CA._acme-server._tcp.example.test"
    );

    let m = Message::parse(UNBOUND_NXDOMAIN).unwrap();
    assert_eq!(m.rcode(), Rcode::NxDomain);
    // unbound's static local-zone without an SOA answers NXDOMAIN with empty sections.
    assert_eq!(m.answers().count() + m.authorities().count(), 0);
    let q = Query::acme_srv(0x4567, "missing.test").unwrap();
    let resp = q.check_response(UNBOUND_NXDOMAIN, server()).unwrap();
    assert_eq!(resolve(&[resp], &mut rng()).unwrap_err(), Error::NxDomain);

    let q = Query::acme_srv(0x3456, "none.test").unwrap();
    let resp = q.check_response(UNBOUND_NOT_AVAILABLE, server()).unwrap();
    let RData::Srv(srv) = resp.message().answers().next().unwrap().rdata else {
        panic!("not SRV")
    };
    assert!(srv.target.is_root());
    assert_eq!(
        resolve(&[resp], &mut rng()).unwrap_err(),
        Error::ServiceNotAvailable
    );
}

#[test]
fn dnsmasq_additional_addresses() {
    let m = Message::parse(DNSMASQ_SRV).unwrap();
    let addrs: Vec<(String, IpAddr)> = m
        .records()
        .filter(|(s, _)| *s == Section::Additional)
        .filter_map(|(_, r)| match r.rdata {
            RData::A(a) => Some((r.name.to_string(), IpAddr::V4(a))),
            RData::Aaaa(a) => Some((r.name.to_string(), IpAddr::V6(a))),
            _ => None,
        })
        .collect();
    assert!(addrs.contains(&(
        "ca1.example.test".into(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
    )));
    assert!(addrs.contains(&(
        "ca1.example.test".into(),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10))
    )));
    assert!(addrs.contains(&(
        "ca2.example.test".into(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11))
    )));

    let q = Query::acme_srv(0x1234, "example.test").unwrap();
    let srv = q.check_response(DNSMASQ_SRV, server()).unwrap();
    let tq = Query::new(0x1235, "_acme-server._tcp.example.test", RecordType::TXT).unwrap();
    let txt = tq.check_response(DNSMASQ_TXT, server()).unwrap();
    let urls = resolve(&[srv, txt], &mut rng()).unwrap().urls;
    let mut got: Vec<&str> = urls.iter().map(|u| u.url.as_str()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "https://ca1.example.test:8443/acme/v2/directory",
            "https://ca2.example.test:8443/acme/v2/directory"
        ]
    );
}

#[test]
fn browse_form_offline() {
    for (ptr_b, srv_b, txt_b) in [
        (UNBOUND_PTR, UNBOUND_INSTANCE_SRV, UNBOUND_INSTANCE_TXT),
        (DNSMASQ_PTR, DNSMASQ_INSTANCE_SRV, DNSMASQ_INSTANCE_TXT),
    ] {
        let browse = Query::acme_browse(0x2345, "example.test").unwrap();
        let ptr = browse.check_response(ptr_b, server()).unwrap();
        let pending = resolve(&[ptr], &mut rng()).unwrap().pending;
        assert_eq!(pending.len(), 1);
        let srv_q = Query::for_name(0x2346, pending[0], RecordType::SRV).unwrap();
        let srv = srv_q.check_response(srv_b, server()).unwrap();
        let txt_q = Query::for_name(0x2347, pending[0], RecordType::TXT).unwrap();
        let txt = txt_q.check_response(txt_b, server()).unwrap();
        let done = resolve(&[ptr, srv, txt], &mut rng()).unwrap();
        assert!(done.pending.is_empty());
        assert_eq!(
            done.urls[0].url,
            "https://ca1.example.test:9443/office/directory"
        );
        // Without the TXT answer the default path applies.
        let no_txt = resolve(&[ptr, srv], &mut rng()).unwrap();
        assert_eq!(
            no_txt.urls[0].url,
            "https://ca1.example.test:9443/acme/directory"
        );
        // An instance whose SRV was asked for but not found is dropped, not pending forever.
        let err = resolve(&[ptr, txt], &mut rng());
        assert!(matches!(err, Ok(r) if r.pending.len() == 1));
    }
}

#[test]
fn tcp_vector_framing() {
    for cut in 0..UNBOUND_SRV_TCP.len() {
        match read_tcp_frame(&UNBOUND_SRV_TCP[..cut]).unwrap() {
            Frame::Incomplete { needed } => {
                assert!(needed > 0 && cut + needed <= UNBOUND_SRV_TCP.len());
            }
            Frame::Complete { .. } => panic!("complete at {cut} bytes"),
        }
    }
    let mut two = UNBOUND_SRV_TCP.to_vec();
    two.extend_from_slice(UNBOUND_SRV_TCP);
    let Frame::Complete { message, rest } = read_tcp_frame(&two).unwrap() else {
        panic!("incomplete")
    };
    assert_eq!(rest, UNBOUND_SRV_TCP);
    let q = Query::acme_srv(0x1234, "example.test").unwrap();
    let resp = q.check_response(message, server()).unwrap();
    assert_eq!(resp.message().answers().count(), 3);
}

#[test]
fn response_validation_errors() {
    let q = Query::acme_srv(0x1234, "example.test").unwrap();
    let mdns4 = SocketAddr::from(([224, 0, 0, 251], 53));
    let mdns6 = SocketAddr::from((Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb), 53));
    let port = SocketAddr::from(([127, 0, 0, 1], 5353));
    for from in [mdns4, mdns6, port] {
        let err = q.check_response(UNBOUND_SRV, from).unwrap_err();
        assert_eq!(err, Error::MdnsSource);
        assert!(err.to_string().contains("§3.3"));
    }
    let wrong_id = Query::acme_srv(0x1235, "example.test").unwrap();
    assert_eq!(
        wrong_id.check_response(UNBOUND_SRV, server()).unwrap_err(),
        Error::IdMismatch {
            expected: 0x1235,
            got: 0x1234
        }
    );
    let wrong_name = Query::acme_srv(0x1234, "example.org").unwrap();
    assert_eq!(
        wrong_name
            .check_response(UNBOUND_SRV, server())
            .unwrap_err(),
        Error::QuestionMismatch
    );
    let wrong_type = Query::acme_browse(0x1234, "example.test").unwrap();
    assert_eq!(
        wrong_type
            .check_response(UNBOUND_SRV, server())
            .unwrap_err(),
        Error::QuestionMismatch
    );
    // Case differences in the echo are fine (RFC 4343).
    let upper = Query::acme_srv(0x1234, "EXAMPLE.Test.").unwrap();
    assert!(upper.check_response(UNBOUND_SRV, server()).is_ok());

    let mut tc = UNBOUND_SRV.to_vec();
    tc[2] |= 0x02;
    tc.truncate(40); // servers may cut mid-record; TC is still reported
    assert_eq!(
        q.check_response(&tc, server()).unwrap_err(),
        Error::Truncated
    );
    let mut query_bit = UNBOUND_SRV.to_vec();
    query_bit[2] &= 0x7F;
    assert_eq!(
        q.check_response(&query_bit, server()).unwrap_err(),
        Error::NotAResponse
    );
    let mut servfail = UNBOUND_SRV.to_vec();
    servfail[3] = (servfail[3] & 0xF0) | 2;
    let resp = q.check_response(&servfail, server()).unwrap();
    assert_eq!(resp.message().rcode(), Rcode::ServFail);
    assert_eq!(
        resolve(&[resp], &mut rng()).unwrap_err(),
        Error::ServerFailure
    );
    let mut refused = UNBOUND_SRV.to_vec();
    refused[3] = (refused[3] & 0xF0) | 5;
    let resp = q.check_response(&refused, server()).unwrap();
    assert_eq!(resolve(&[resp], &mut rng()).unwrap_err(), Error::Rcode(5));
}

#[test]
fn roundtrip_all_vectors() {
    for bytes in ALL {
        let m = Message::parse(bytes).unwrap();
        let mut out = vec![0u8; 4096];
        let n = m.emit(&mut out).unwrap();
        // Uncompressed output is at least as long.
        assert!(n >= bytes.len());
        let again = Message::parse(&out[..n]).unwrap();
        assert_eq!(m.header(), again.header());
        assert!(m.questions().eq(again.questions()));
        for ((s1, r1), (s2, r2)) in m.records().zip(again.records()) {
            assert_eq!(s1, s2);
            assert_eq!(r1.name, r2.name);
            assert_eq!((r1.rtype, r1.class, r1.ttl), (r2.rtype, r2.class, r2.ttl));
            assert_eq!(r1.rdata, r2.rdata);
        }
        assert_eq!(m.records().count(), again.records().count());
        // Too small a buffer is an error, not a panic.
        assert!(matches!(
            m.emit(&mut out[..n - 1]),
            Err(Error::BufferTooSmall { .. })
        ));
    }
}
