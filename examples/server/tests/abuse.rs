//! Abuse limits under a flood (issue 9): while junk runs from several loopback source addresses
//! (Linux routes all of 127/8 to lo, so a client socket bound to 127.0.0.N is a distinct source)
//! — slow-loris connections, stalled bodies, idle keep-alives, a connection flood, oversized
//! bodies, garbage JWS, a newOrder flood of unapproved devices, an account flood — an approved
//! device enrolls with the real ACME client, and the junk is refused with the right status. Also:
//! the nonce store stays bounded (oldest nonces forgotten).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use lantrust_acme::client::Event;
use lantrust_acme::{AccountKey, Algorithm};
use lantrust_test_support::acme::{self, device_client};
use lantrust_test_support::bins::resolve_args;
use serde_json::{Value, json};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TCP connection to 127.0.0.1:`port` from source address 127.0.0.`src`.
fn tcp_from(src: u8, port: u16) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind(SocketAddr::from(([127, 0, 0, src], 0)))?;
        let t = sock
            .connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await?;
        t.into_std()
    })?;
    s.set_nonblocking(false)?;
    Ok(s)
}

/// TLS trusting only the server's root (`root.pem` in its state directory).
fn tls_config(srv: &Served) -> Arc<rustls::ClientConfig> {
    let root_pem = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    acme::tls_config(acme::certificate_der_from_pem(&root_pem))
}

/// A TLS connection (handshake done) from 127.0.0.`src`.
fn tls_from(src: u8, port: u16, cfg: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = tcp_from(src, port)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// An HTTP response: status, headers (lower-case names), body.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Read one response (headers, then Content-Length bytes) without waiting for the close.
fn read_response(s: &mut impl Read) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "closed before a response: {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// One HTTPS request from 127.0.0.`src` on a fresh connection.
fn request(
    src: u8,
    port: u16,
    cfg: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = tls_from(src, port, cfg)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()?;
    read_response(&mut s)
}

/// Wait until the server closes `s` (EOF or reset); return how long that took. Any bytes the
/// server sends first (say, a 408) are returned too.
fn wait_closed(s: &mut impl Read, limit: Duration) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (start.elapsed(), got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(start.elapsed() < limit, "not closed within {limit:?}");
            }
            Err(_) => return (start.elapsed(), got),
        }
    }
}

/// A junk ACME client from one source address: its own account key.
struct Junk {
    src: u8,
    port: u16,
    cfg: Arc<rustls::ClientConfig>,
    key: AccountKey,
    kid: Option<String>,
    nonce: Option<String>,
}

impl Junk {
    fn new(src: u8, port: u16, cfg: &Arc<rustls::ClientConfig>) -> Self {
        Junk {
            src,
            port,
            cfg: cfg.clone(),
            key: AccountKey::generate(Algorithm::Es256, &mut rand::rngs::OsRng).unwrap(),
            kid: None,
            nonce: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn fresh_nonce(&mut self) -> String {
        let r = request(
            self.src,
            self.port,
            &self.cfg,
            "HEAD",
            "/acme/new-nonce",
            None,
            b"",
        )
        .unwrap();
        r.header("replay-nonce").unwrap().to_string()
    }

    /// POST a JWS signed with this key; remembers the returned nonce.
    fn post(&mut self, path: &str, payload: &Value) -> Resp {
        let nonce = match self.nonce.take() {
            Some(n) => n,
            None => self.fresh_nonce(),
        };
        self.post_with_nonce(path, payload, &nonce)
    }

    fn post_with_nonce(&mut self, path: &str, payload: &Value, nonce: &str) -> Resp {
        let body = serde_json::to_vec(payload).unwrap();
        let jws = lantrust_acme::jose::sign(
            &self.key,
            self.kid.as_deref(),
            Some(nonce),
            &self.url(path),
            Some(&body),
        )
        .unwrap();
        let r = request(
            self.src,
            self.port,
            &self.cfg,
            "POST",
            path,
            Some("application/jose+json"),
            &serde_json::to_vec(&jws).unwrap(),
        )
        .unwrap();
        self.nonce = r.header("replay-nonce").map(str::to_string);
        r
    }

    /// A newAccount request with the given nonce (replayed or forgotten ones included).
    fn new_account_with_nonce(&mut self, nonce: &str) -> Resp {
        self.post_with_nonce(
            "/acme/new-account",
            &json!({"termsOfServiceAgreed": true}),
            nonce,
        )
    }

    fn new_account(&mut self) -> Resp {
        let r = self.post("/acme/new-account", &json!({"termsOfServiceAgreed": true}));
        if r.status == 201 {
            self.kid = r.header("location").map(str::to_string);
        }
        r
    }

    fn new_order(&mut self, device: &str) -> Resp {
        self.post(
            "/acme/new-order",
            &json!({"identifiers": [
                {"type": "dns", "value": format!("{device}.local")},
                {"type": "dns", "value": format!("{device}.home.arpa")},
            ]}),
        )
    }
}

fn assert_rate_limited(r: &Resp, detail_has: &str) {
    assert_eq!(r.status, 429, "{r:?}");
    let p = r.json();
    assert_eq!(p["type"], "urn:ietf:params:acme:error:rateLimited", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(detail_has), "{detail}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(r.header("replay-nonce").is_some(), "a nonce for the retry");
}

#[test]
fn junk_is_refused_while_an_approved_device_enrolls() {
    let dir = temp_dir("abuse");
    let (h_port, tokens) = http01_responder();
    let [a1, r1, a2, r2] = resolve_args("dev1", h_port);
    let srv = init_and_serve(
        dir.path(),
        &[
            &a1,
            &r1,
            &a2,
            &r2,
            "--max-pending-per-source",
            "3",
            "--max-pending-total",
            "5",
            "--new-accounts-per-minute",
            "8",
            "--max-connections-per-source",
            "6",
            "--max-connections",
            "200",
            "--handshake-timeout",
            "3",
            "--header-timeout",
            "5",
            "--body-timeout",
            "2",
        ],
    );
    let port = srv.port;
    cli_ok(&["approve", "--state", srv.state_arg(), "dev1"]);
    let cfg = tls_config(&srv);
    let start = Instant::now();
    let mut junk: Vec<(&str, thread::JoinHandle<()>)> = Vec::new();

    // Slow-loris from .2: connections that never start TLS are cut at the handshake timeout
    // (3 s); TLS connections trickling a header byte every 500 ms at the header timeout (5 s).
    junk.push((
        "slow-loris",
        thread::spawn(move || {
            let raw: Vec<TcpStream> = (0..4).map(|_| tcp_from(2, port).unwrap()).collect();
            let waits: Vec<_> = raw
                .into_iter()
                .map(|mut s| {
                    thread::spawn(move || {
                        s.set_read_timeout(Some(Duration::from_millis(200)))
                            .unwrap();
                        wait_closed(&mut s, Duration::from_secs(10)).0
                    })
                })
                .collect();
            for w in waits {
                let t = w.join().unwrap();
                assert!(
                    t >= Duration::from_millis(2500) && t <= Duration::from_secs(6),
                    "a silent connection was closed after {t:?}, not at the 3 s handshake timeout"
                );
            }
        }),
    ));
    let cfg2 = cfg.clone();
    junk.push((
        "trickled headers",
        thread::spawn(move || {
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let cfg = cfg2.clone();
                    thread::spawn(move || {
                        let mut s = tls_from(2, port, &cfg).unwrap();
                        let t0 = Instant::now();
                        s.write_all(b"GET /roots.pem HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            .unwrap();
                        s.flush().unwrap();
                        // One byte every 500 ms until the server gives up on us.
                        loop {
                            thread::sleep(Duration::from_millis(500));
                            if s.write_all(b"a").and_then(|()| s.flush()).is_err() {
                                break;
                            }
                            s.sock
                                .set_read_timeout(Some(Duration::from_millis(10)))
                                .unwrap();
                            let mut b = [0u8; 64];
                            match s.read(&mut b) {
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                                    ) => {}
                                _ => break, // closed (EOF or reset), or an error answer
                            }
                            assert!(t0.elapsed() < Duration::from_secs(12), "never cut off");
                        }
                        let t = t0.elapsed();
                        assert!(
                            t >= Duration::from_secs(4) && t <= Duration::from_secs(9),
                            "trickling headers were cut after {t:?}, not at the 5 s header timeout"
                        );
                    })
                })
                .collect();
            for t in ts {
                t.join().unwrap();
            }
        }),
    ));

    // From .9: a body that stalls gets 408 at the body timeout; an idle keep-alive connection
    // is closed at the header timeout.
    let cfg2 = cfg.clone();
    junk.push((
        "stalled body",
        thread::spawn(move || {
            let mut s = tls_from(9, port, &cfg2).unwrap();
            let t0 = Instant::now();
            s.write_all(
                b"POST /acme/new-order HTTP/1.1\r\nHost: x\r\nContent-Type: application/jose+json\r\nContent-Length: 1000\r\n\r\n{\"protected\"",
            )
            .unwrap();
            s.flush().unwrap();
            let r = read_response(&mut s).unwrap();
            let t = t0.elapsed();
            assert_eq!(r.status, 408, "{r:?}");
            assert!(
                t >= Duration::from_millis(1500) && t <= Duration::from_secs(5),
                "408 after {t:?}"
            );
            assert!(r.header("replay-nonce").is_some());
        }),
    ));
    let cfg2 = cfg.clone();
    junk.push((
        "idle keep-alive",
        thread::spawn(move || {
            let mut s = tls_from(9, port, &cfg2).unwrap();
            s.write_all(b"GET /roots.pem HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s.flush().unwrap();
            let r = read_response(&mut s).unwrap();
            assert_eq!(r.status, 200);
            assert!(String::from_utf8_lossy(&r.body).contains("BEGIN CERTIFICATE"));
            s.sock
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let (t, extra) = wait_closed(&mut s, Duration::from_secs(12));
            assert!(extra.is_empty(), "{extra:?}");
            assert!(
                t >= Duration::from_secs(4) && t <= Duration::from_secs(8),
                "an idle keep-alive connection was closed after {t:?}, not at the 5 s header timeout"
            );
        }),
    ));

    // Connection flood from .3: six held connections use up its cap; every further one is
    // closed at once, before TLS.
    junk.push((
        "connection flood",
        thread::spawn(move || {
            let held: Vec<TcpStream> = (0..6).map(|_| tcp_from(3, port).unwrap()).collect();
            thread::sleep(Duration::from_millis(300)); // let the server accept them
            for i in 0..20 {
                let mut s = tcp_from(3, port).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let (t, got) = wait_closed(&mut s, Duration::from_millis(1500));
                assert!(got.is_empty());
                assert!(
                    t < Duration::from_millis(1500),
                    "connection {i} over the cap stayed open {t:?}"
                );
            }
            drop(held);
        }),
    ));

    // Oversized bodies and garbage JWS from .4.
    let cfg2 = cfg.clone();
    junk.push((
        "oversized and garbage",
        thread::spawn(move || {
            for _ in 0..3 {
                let big = vec![b'A'; 100 * 1024];
                let r = request(
                    4,
                    port,
                    &cfg2,
                    "POST",
                    "/acme/new-order",
                    Some("application/jose+json"),
                    &big,
                )
                .unwrap();
                assert_eq!(r.status, 413, "{r:?}");
                assert_eq!(r.json()["type"], "urn:ietf:params:acme:error:malformed");
            }
            for garbage in [
                &b"this is not JSON"[..],
                br#"{"protected":"e30","payload":"","signature":"AA"}"#,
                br#"{"protected":"eyJhbGciOiJub25lIn0","payload":"e30","signature":""}"#,
                br#"[1,2,3]"#,
            ] {
                for path in ["/acme/new-order", "/acme/new-account"] {
                    let r = request(
                        4,
                        port,
                        &cfg2,
                        "POST",
                        path,
                        Some("application/jose+json"),
                        garbage,
                    )
                    .unwrap();
                    assert_eq!(r.status, 400, "{path} {r:?}");
                    let t = r.json()["type"].as_str().unwrap_or("").to_string();
                    assert!(t.starts_with("urn:ietf:params:acme:error:"), "{t}");
                }
            }
        }),
    ));

    // Account flood from .8: 8 per minute, then rateLimited.
    let cfg2 = cfg.clone();
    junk.push((
        "account flood",
        thread::spawn(move || {
            let mut created = 0;
            let mut refused = 0;
            for _ in 0..11 {
                let mut j = Junk::new(8, port, &cfg2);
                let r = j.new_account();
                match r.status {
                    201 => created += 1,
                    429 => {
                        assert_rate_limited(&r, "per minute per source address");
                        refused += 1;
                    }
                    _ => panic!("{r:?}"),
                }
            }
            // The bucket refills at 8/min; the flood takes a few seconds, so at most one more.
            assert!((8..=9).contains(&created), "{created} accounts created");
            assert_eq!(created + refused, 11);
        }),
    ));

    // The approved device, from 127.0.0.1, while all of that runs.
    let directory = srv.directory();
    let agent = agent(&std::fs::read_to_string(srv.state.join("root.pem")).unwrap());
    let device_start = Instant::now();
    let events = {
        let mut c = device_client(&directory, "dev1");
        acme::drive(&mut c, &agent, &tokens, Duration::from_secs(60)).events
    };
    let took = device_start.elapsed();
    assert!(
        events.iter().any(|e| matches!(e, Event::Certificate(_))),
        "the approved device got no certificate during the flood: {events:?}\n{}",
        std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
    );
    assert!(took < Duration::from_secs(30), "enrolment took {took:?}");

    // The newOrder flood of unapproved devices (sequential, so the counts are exact): three
    // from .5 wait, the next two are refused; .6 is not locked out by .5; then the total cap.
    let mut results = Vec::new();
    for (src, n) in [(5u8, 5), (6, 2), (7, 1)] {
        for i in 0..n {
            let mut j = Junk::new(src, port, &cfg);
            let a = j.new_account();
            assert_eq!(a.status, 201, "{a:?}");
            let r = j.new_order(&format!("junk-{src}-{i}"));
            results.push((src, i, r));
        }
    }
    for (src, i, r) in &results {
        match (src, i) {
            (5, 0..=2) | (6, _) => assert_eq!(r.status, 201, "{src}/{i}: {r:?}"),
            (5, _) => assert_rate_limited(r, "per source address"),
            _ => assert_rate_limited(r, "in total"),
        }
    }
    // Only the accepted orders were stored.
    {
        let conn = rusqlite::Connection::open(srv.state.join("lantrust.db")).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM orders WHERE json LIKE '%junk-%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 5);
    }
    // An approved device is not held back by the full caps (its order never waits for a human),
    // even from the source that hit its cap.
    cli_ok(&["approve", "--state", srv.state_arg(), "renew-5"]);
    let mut j = Junk::new(5, port, &cfg);
    assert_eq!(j.new_account().status, 201);
    let r = j.new_order("renew-5");
    assert_eq!(r.status, 201, "{r:?}");
    // Denying the waiting devices frees the cap.
    for i in 0..3 {
        cli_ok(&["deny", "--state", srv.state_arg(), &format!("junk-5-{i}")]);
    }
    let mut j = Junk::new(5, port, &cfg);
    assert_eq!(j.new_account().status, 201);
    assert_eq!(j.new_order("junk-5-9").status, 201);

    for (name, t) in junk {
        if let Err(e) = t.join() {
            std::panic::resume_unwind(Box::new(format!("junk task {name:?} failed: {e:?}")));
        }
    }
    // Still serving after everything.
    let r = request(10, port, &cfg, "GET", "/roots.pem", None, b"").unwrap();
    assert_eq!(r.status, 200);
    eprintln!(
        "approved device enrolled in {took:?} during the flood; whole test {:?}",
        start.elapsed()
    );
}

#[test]
fn nonce_store_stays_bounded() {
    let dir = temp_dir("abuse-nonce");
    let srv = init_and_serve(dir.path(), &["--nonce-capacity", "16"]);
    let cfg = tls_config(&srv);
    let mut j = Junk::new(1, srv.port, &cfg);
    let first = j.fresh_nonce();
    let later: Vec<String> = (0..40).map(|_| j.fresh_nonce()).collect();
    // The first nonce was forgotten: 40 newer ones went out with room for 16.
    let r = j.new_account_with_nonce(&first);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["type"], "urn:ietf:params:acme:error:badNonce");
    // One of the 16 most recent is still good (the refusal above issued one more).
    let recent = &later[later.len() - 10];
    let r = j.new_account_with_nonce(recent);
    assert_eq!(r.status, 201, "{r:?}");
    // And it is single-use.
    let mut k = Junk::new(1, srv.port, &cfg);
    let r = k.new_account_with_nonce(recent);
    assert_eq!(r.json()["type"], "urn:ietf:params:acme:error:badNonce");
}

#[test]
fn no_abuse_limits_lets_a_load_generator_through() {
    let dir = temp_dir("abuse-off");
    let srv = init_and_serve(dir.path(), &["--auto-approve", "--no-abuse-limits"]);
    let cfg = tls_config(&srv);
    // More connections from one source than the default per-source cap (64) ...
    let held: Vec<TcpStream> = (0..80).map(|_| tcp_from(11, srv.port).unwrap()).collect();
    thread::sleep(Duration::from_millis(300));
    let r = request(11, srv.port, &cfg, "GET", "/roots.pem", None, b"").unwrap();
    assert_eq!(r.status, 200);
    drop(held);
    // ... and more new accounts in a minute than the default rate (60).
    for i in 0..65 {
        let mut j = Junk::new(11, srv.port, &cfg);
        let r = j.new_account();
        assert_eq!(r.status, 201, "account {i}: {r:?}");
    }
}

#[test]
fn a_concurrent_new_order_burst_cannot_overshoot_the_cap() {
    let dir = temp_dir("abuse-burst");
    let srv = init_and_serve(
        dir.path(),
        &["--max-pending-per-source", "3", "--max-pending-total", "0"],
    );
    let cfg = tls_config(&srv);
    let port = srv.port;
    let ready: Vec<Junk> = (0..8)
        .map(|_| {
            let mut j = Junk::new(13, port, &cfg);
            assert_eq!(j.new_account().status, 201);
            j
        })
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(ready.len()));
    let burst: Vec<_> = ready
        .into_iter()
        .enumerate()
        .map(|(i, mut j)| {
            let b = barrier.clone();
            thread::spawn(move || {
                b.wait();
                j.new_order(&format!("burst-{i}")).status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 201, 201, 429, 429, 429, 429, 429]);
}
