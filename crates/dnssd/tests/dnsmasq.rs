//! Interop: a real `dnsmasq` on 127.0.0.1 serves the ACME DNS-SD records. Unlike unbound it
//! puts the SRV targets' A/AAAA in the additional section, which [`resolve`] must pick up.
//!
//! Set `LANTRUST_WRITE_VECTORS=1` to (re)write the captured answers under `tests/vectors/`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::IpAddr;

use lantrust_dnssd::{Query, RecordType, Section, resolve};
use lantrust_test_support::dns::{DnsServer, start_dnsmasq};
use lantrust_test_support::save_vector;

/// Where `LANTRUST_WRITE_VECTORS=1` writes the captured answers.
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");

fn udp(server: &DnsServer, query: &Query<'_>) -> Vec<u8> {
    server.udp_with(|buf| query.emit(buf).unwrap())
}

#[test]
fn dnsmasq_interop() {
    let Some(server) = start_dnsmasq(
        &[
            "--srv-host=_acme-server._tcp.example.test,ca1.example.test,8443,10,60",
            "--srv-host=_acme-server._tcp.example.test,ca2.example.test,8443,10,40",
            "--txt-record=_acme-server._tcp.example.test,path=/acme/v2/directory",
            "--ptr-record=_acme-server._tcp.example.test,Office CA._acme-server._tcp.example.test",
            "--srv-host=Office CA._acme-server._tcp.example.test,ca1.example.test,9443,0,0",
            "--txt-record=Office CA._acme-server._tcp.example.test,path=/office/directory",
            "--host-record=ca1.example.test,192.0.2.10,2001:db8::10",
            "--host-record=ca2.example.test,192.0.2.11",
        ],
        "ca1.example.test",
    ) else {
        return;
    };
    let from = server.addr;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);

    let query = Query::acme_srv(0x1234, "example.test").unwrap();
    let srv_bytes = udp(&server, &query);
    save_vector(VECTORS, "dnsmasq_srv.bin", &srv_bytes);
    let srv = query.check_response(&srv_bytes, from).unwrap();
    // dnsmasq adds the targets' addresses to the additional section.
    let additional_addrs = srv
        .message()
        .records()
        .filter(|(s, r)| {
            *s == Section::Additional && matches!(r.rtype, RecordType::A | RecordType::AAAA)
        })
        .count();
    assert_eq!(additional_addrs, 3);
    let urls = resolve(&[srv], &mut rng).unwrap().urls;
    assert_eq!(urls.len(), 2);
    let ca1 = urls.iter().find(|u| u.host == "ca1.example.test").unwrap();
    assert_eq!(ca1.url, "https://ca1.example.test:8443/acme/directory");
    let want: [IpAddr; 2] = [
        "192.0.2.10".parse().unwrap(),
        "2001:db8::10".parse().unwrap(),
    ];
    assert_eq!(ca1.addresses.len(), 2);
    assert!(want.iter().all(|a| ca1.addresses.contains(a)));
    let ca2 = urls.iter().find(|u| u.host == "ca2.example.test").unwrap();
    assert_eq!(ca2.addresses, ["192.0.2.11".parse::<IpAddr>().unwrap()]);

    let txt_query = Query::new(0x1235, "_acme-server._tcp.example.test", RecordType::TXT).unwrap();
    let txt_bytes = udp(&server, &txt_query);
    save_vector(VECTORS, "dnsmasq_txt.bin", &txt_bytes);
    let txt = txt_query.check_response(&txt_bytes, from).unwrap();
    let urls = resolve(&[srv, txt], &mut rng).unwrap().urls;
    assert!(
        urls.iter()
            .all(|u| u.url.ends_with(":8443/acme/v2/directory")),
        "{urls:?}"
    );

    // Browse form.
    let browse = Query::acme_browse(0x2345, "example.test").unwrap();
    let ptr_bytes = udp(&server, &browse);
    save_vector(VECTORS, "dnsmasq_ptr.bin", &ptr_bytes);
    let ptr = browse.check_response(&ptr_bytes, from).unwrap();
    let first = resolve(&[ptr], &mut rng).unwrap();
    let instance = *first.pending.first().expect("one pending instance");
    // dnsmasq lowercases names; DNS names compare case-insensitively.
    assert!(
        instance.eq_str("Office CA._acme-server._tcp.example.test"),
        "{instance}"
    );
    let q_srv = Query::for_name(0x2346, instance, RecordType::SRV).unwrap();
    let b_srv = udp(&server, &q_srv);
    save_vector(VECTORS, "dnsmasq_instance_srv.bin", &b_srv);
    let r_srv = q_srv.check_response(&b_srv, from).unwrap();
    let q_txt = Query::for_name(0x2347, instance, RecordType::TXT).unwrap();
    let b_txt = udp(&server, &q_txt);
    save_vector(VECTORS, "dnsmasq_instance_txt.bin", &b_txt);
    let r_txt = q_txt.check_response(&b_txt, from).unwrap();
    let done = resolve(&[ptr, r_srv, r_txt], &mut rng).unwrap();
    assert!(done.pending.is_empty());
    assert_eq!(done.urls.len(), 1);
    assert_eq!(
        done.urls[0].url,
        "https://ca1.example.test:9443/office/directory"
    );
    assert_eq!(done.urls[0].addresses.len(), 2);
}
