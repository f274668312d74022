//! Interop: a real `unbound` on 127.0.0.1 serves the ACME DNS-SD records; our queries go to it
//! over UDP and TCP and its real answers are parsed and resolved to directory URLs.
//!
//! Set `LANTRUST_WRITE_VECTORS=1` to (re)write the captured answers under `tests/vectors/`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::time::Duration;
use std::io::{Read, Write};
use std::net::TcpStream;

use lantrust_dnssd::{Error, Frame, Query, RecordType, Response, read_tcp_frame, resolve};
use lantrust_test_support::dns::{DnsServer, start_unbound};
use lantrust_test_support::save_vector;

/// Where `LANTRUST_WRITE_VECTORS=1` writes the captured answers.
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");

fn udp(server: &DnsServer, query: &Query<'_>) -> Vec<u8> {
    server.udp_with(|buf| query.emit(buf).unwrap())
}

fn rng() -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(7)
}

#[test]
fn unbound_interop() {
    let Some(server) = start_unbound(
        &[
            r#"local-zone: "example.test." static"#,
            r#"local-data: "_acme-server._tcp.example.test. 300 IN SRV 10 60 8443 ca1.example.test.""#,
            r#"local-data: "_acme-server._tcp.example.test. 300 IN SRV 10 40 8443 ca2.example.test.""#,
            r#"local-data: "_acme-server._tcp.example.test. 300 IN SRV 20 0 443 backup.example.test.""#,
            r#"local-data: '_acme-server._tcp.example.test. 300 IN TXT "txtvers=1" "PATH=/acme/v2/directory" "path=/ignored"'"#,
            r#"local-data: "_acme-server._tcp.example.test. 300 IN PTR Office\032CA._acme-server._tcp.example.test.""#,
            r#"local-data: "Office\032CA._acme-server._tcp.example.test. 300 IN SRV 0 0 9443 ca1.example.test.""#,
            r#"local-data: 'Office\032CA._acme-server._tcp.example.test. 300 IN TXT "path=/office/directory" "secure"'"#,
            r#"local-data: "ca1.example.test. 300 IN A 192.0.2.10""#,
            r#"local-data: "ca2.example.test. 300 IN A 192.0.2.11""#,
            r#"local-data: "backup.example.test. 300 IN AAAA 2001:db8::5""#,
            r#"local-zone: "none.test." static"#,
            r#"local-data: "_acme-server._tcp.none.test. 300 IN SRV 0 0 0 .""#,
            r#"local-zone: "missing.test." static"#,
        ],
        "ca1.example.test",
    ) else {
        return;
    };
    let from = server.addr;

    // The draft's form: SRV for _acme-server._tcp.example.test.
    let query = Query::acme_srv(0x1234, "example.test").unwrap();
    let srv_bytes = udp(&server, &query);
    save_vector(VECTORS, "unbound_srv.bin", &srv_bytes);
    let srv = query.check_response(&srv_bytes, from).unwrap();
    assert_eq!(srv.message().answers().count(), 3);
    let urls = resolve(&[srv], &mut rng()).unwrap().urls;
    let hosts: Vec<_> = urls.iter().map(|u| u.url.as_str()).collect();
    assert_eq!(hosts.len(), 3);
    // Priority 10 targets first (in weighted-random order), the priority-20 backup last.
    assert!(
        hosts[..2].contains(&"https://ca1.example.test:8443/acme/directory"),
        "{hosts:?}"
    );
    assert!(
        hosts[..2].contains(&"https://ca2.example.test:8443/acme/directory"),
        "{hosts:?}"
    );
    assert_eq!(hosts[2], "https://backup.example.test:443/acme/directory");

    // Add the TXT answer: `path=` is taken case-insensitively, first occurrence wins.
    let txt_query = Query::new(0x1235, "_acme-server._tcp.example.test", RecordType::TXT).unwrap();
    let txt_bytes = udp(&server, &txt_query);
    save_vector(VECTORS, "unbound_txt.bin", &txt_bytes);
    let txt = txt_query.check_response(&txt_bytes, from).unwrap();
    let urls = resolve(&[srv, txt], &mut rng()).unwrap().urls;
    assert_eq!(
        urls[2].url,
        "https://backup.example.test:443/acme/v2/directory"
    );
    assert!(urls.iter().all(|u| u.path == "/acme/v2/directory"));

    // Addresses come with the A/AAAA answers when the caller passes them.
    let a_query = Query::new(0x1236, "ca1.example.test", RecordType::A).unwrap();
    let a_bytes = udp(&server, &a_query);
    save_vector(VECTORS, "unbound_a.bin", &a_bytes);
    let a = a_query.check_response(&a_bytes, from).unwrap();
    let urls = resolve(&[srv, txt, a], &mut rng()).unwrap().urls;
    let ca1 = urls.iter().find(|u| u.host == "ca1.example.test").unwrap();
    assert_eq!(
        ca1.addresses,
        ["192.0.2.10".parse::<core::net::IpAddr>().unwrap()]
    );

    // The browse form: PTR, then the instance's SRV and TXT.
    let browse = Query::acme_browse(0x2345, "example.test").unwrap();
    let ptr_bytes = udp(&server, &browse);
    save_vector(VECTORS, "unbound_ptr.bin", &ptr_bytes);
    let ptr = browse.check_response(&ptr_bytes, from).unwrap();
    let first = resolve(&[ptr], &mut rng()).unwrap();
    assert!(first.urls.is_empty());
    assert_eq!(first.pending.len(), 1);
    let instance = first.pending[0];
    assert_eq!(
        instance.to_string(),
        "Office\\032CA._acme-server._tcp.example.test"
    );
    let inst_srv_q = Query::for_name(0x2346, instance, RecordType::SRV).unwrap();
    let inst_srv_bytes = udp(&server, &inst_srv_q);
    save_vector(VECTORS, "unbound_instance_srv.bin", &inst_srv_bytes);
    let inst_srv = inst_srv_q.check_response(&inst_srv_bytes, from).unwrap();
    let inst_txt_q = Query::for_name(0x2347, instance, RecordType::TXT).unwrap();
    let inst_txt_bytes = udp(&server, &inst_txt_q);
    save_vector(VECTORS, "unbound_instance_txt.bin", &inst_txt_bytes);
    let inst_txt = inst_txt_q.check_response(&inst_txt_bytes, from).unwrap();
    let done = resolve(&[ptr, inst_srv, inst_txt], &mut rng()).unwrap();
    assert!(done.pending.is_empty());
    assert_eq!(done.urls.len(), 1);
    assert_eq!(
        done.urls[0].url,
        "https://ca1.example.test:9443/office/directory"
    );

    // "." target: the service is decidedly not available.
    let none = Query::acme_srv(0x3456, "none.test").unwrap();
    let none_bytes = udp(&server, &none);
    save_vector(VECTORS, "unbound_not_available.bin", &none_bytes);
    let none_resp = none.check_response(&none_bytes, from).unwrap();
    assert_eq!(
        resolve(&[none_resp], &mut rng()).unwrap_err(),
        Error::ServiceNotAvailable
    );

    // NXDOMAIN is surfaced as such.
    let missing = Query::acme_srv(0x4567, "missing.test").unwrap();
    let missing_bytes = udp(&server, &missing);
    save_vector(VECTORS, "unbound_nxdomain.bin", &missing_bytes);
    let missing_resp = missing.check_response(&missing_bytes, from).unwrap();
    assert_eq!(
        resolve(&[missing_resp], &mut rng()).unwrap_err(),
        Error::NxDomain
    );

    // A mismatched ID (an answer to another query) is refused.
    let other = Query::acme_srv(0x9999, "example.test").unwrap();
    assert!(matches!(
        other.check_response(&srv_bytes, from),
        Err(Error::IdMismatch { .. })
    ));

    // The same query over TCP, fed to the framing helper one byte at a time.
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 514];
    let n = query.emit_tcp(&mut buf).unwrap();
    tcp.write_all(&buf[..n]).unwrap();
    let mut stream = Vec::new();
    let message = loop {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).unwrap();
        stream.push(byte[0]);
        match read_tcp_frame(&stream).unwrap() {
            Frame::Incomplete { needed } => assert!(needed > 0),
            Frame::Complete { message, rest } => {
                assert!(rest.is_empty());
                break message.to_vec();
            }
        }
    };
    save_vector(VECTORS, "unbound_srv_tcp.bin", &stream);
    let tcp_resp: Response<'_> = query.check_response(&message, from).unwrap();
    assert_eq!(resolve(&[tcp_resp], &mut rng()).unwrap().urls.len(), 3);
}
