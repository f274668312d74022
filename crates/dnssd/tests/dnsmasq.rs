//! Interop: a real `dnsmasq` on 127.0.0.1 serves the ACME DNS-SD records. Unlike unbound it
//! puts the SRV targets' A/AAAA in the additional section, which [`resolve`] must pick up.
//!
//! Set `LANTRUST_WRITE_VECTORS=1` to (re)write the captured answers under `tests/vectors/`.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use lantrust_dnssd::{Query, RecordType, Section, resolve};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dnsmasq() -> Option<Server> {
    if !Path::new(DNSMASQ).exists() {
        eprintln!("SKIPPED: dnsmasq interop: {DNSMASQ} not found (apt-get install dnsmasq-base)");
        return None;
    }
    for _ in 0..3 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if let Some(server) = spawn_dnsmasq(port) {
            return Some(server);
        }
    }
    panic!("dnsmasq exited at start three times");
}

/// None if dnsmasq exited (port in use); panics if it runs but does not answer.
fn spawn_dnsmasq(port: u16) -> Option<Server> {
    let child = Command::new(PathBuf::from(DNSMASQ))
        .args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--srv-host=_acme-server._tcp.example.test,ca1.example.test,8443,10,60",
            "--srv-host=_acme-server._tcp.example.test,ca2.example.test,8443,10,40",
            "--txt-record=_acme-server._tcp.example.test,path=/acme/v2/directory",
            "--ptr-record=_acme-server._tcp.example.test,Office CA._acme-server._tcp.example.test",
            "--srv-host=Office CA._acme-server._tcp.example.test,ca1.example.test,9443,0,0",
            "--txt-record=Office CA._acme-server._tcp.example.test,path=/office/directory",
            "--host-record=ca1.example.test,192.0.2.10,2001:db8::10",
            "--host-record=ca2.example.test,192.0.2.11",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = Query::new(1, "ca1.example.test", RecordType::A).unwrap();
    let mut server = server;
    while Instant::now() < deadline {
        if exchange(&server, &probe).is_some() {
            return Some(server);
        }
        if server.child.try_wait().unwrap().is_some() {
            return None;
        }
    }
    panic!("dnsmasq did not answer within 10 s");
}

fn exchange(server: &Server, query: &Query<'_>) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = query.emit(&mut buf).unwrap();
    sock.send_to(&buf[..n], server.addr).unwrap();
    let mut answer = vec![0u8; 1232];
    let (len, from) = sock.recv_from(&mut answer).ok()?;
    assert_eq!(from, server.addr);
    answer.truncate(len);
    Some(answer)
}

fn udp(server: &Server, query: &Query<'_>) -> Vec<u8> {
    (0..5)
        .find_map(|_| exchange(server, query))
        .expect("no answer from dnsmasq")
}

fn save(name: &str, bytes: &[u8]) {
    if std::env::var_os("LANTRUST_WRITE_VECTORS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name);
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn dnsmasq_interop() {
    let Some(server) = start_dnsmasq() else {
        return;
    };
    let from = server.addr;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);

    let query = Query::acme_srv(0x1234, "example.test").unwrap();
    let srv_bytes = udp(&server, &query);
    save("dnsmasq_srv.bin", &srv_bytes);
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
    save("dnsmasq_txt.bin", &txt_bytes);
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
    save("dnsmasq_ptr.bin", &ptr_bytes);
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
    save("dnsmasq_instance_srv.bin", &b_srv);
    let r_srv = q_srv.check_response(&b_srv, from).unwrap();
    let q_txt = Query::for_name(0x2347, instance, RecordType::TXT).unwrap();
    let b_txt = udp(&server, &q_txt);
    save("dnsmasq_instance_txt.bin", &b_txt);
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
