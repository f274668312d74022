//! Interop: our sans-IO client, driven by a real HTTP client (ureq + rustls), obtains a certificate from
//! Debian's Pebble (with its default 5% badNonce rejection left on), resolving the test names through
//! pebble-challtestsrv to 127.0.0.1 where this test serves http-01. Then it rolls the account key over
//! and revokes the certificate with the new key.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lantrust_acme::client::{ChallengeToServe, Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier, Method, Request, Response};

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tiny http-01 responder: GET /.well-known/acme-challenge/<token> → key authorization.
fn serve_http01(listener: TcpListener, tokens: Arc<Mutex<HashMap<String, String>>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let tokens = tokens.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let token = path
                    .strip_prefix("/.well-known/acme-challenge/")
                    .unwrap_or("");
                let body = tokens.lock().unwrap().get(token).cloned();
                let resp = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    }
                };
                let _ = stream.write_all(resp.as_bytes());
            });
        }
    });
}

fn agent(ca_der: Vec<u8>) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der))
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .timeout(Duration::from_secs(30))
        .build()
}

/// Send one request with ureq and convert the answer (including 4xx/5xx) into our `Response`.
fn exchange(agent: &ureq::Agent, req: &Request, bad_nonces: &mut u32) -> Response {
    let mut r = agent.request(req.method.as_str(), &req.url);
    for (n, v) in &req.headers {
        r = r.set(n, v);
    }
    let result = match req.method {
        Method::Post => r.send_bytes(&req.body),
        _ => r.call(),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("transport error talking to pebble: {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.clone(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    if status == 400 && String::from_utf8_lossy(&body).contains("badNonce") {
        *bad_nonces += 1;
    }
    Response {
        status,
        headers,
        body,
    }
}

/// Run a client to completion, serving challenges through `tokens`; returns its events.
fn drive(
    client: &mut Client,
    agent: &ureq::Agent,
    tokens: &Arc<Mutex<HashMap<String, String>>>,
    bad_nonces: &mut u32,
) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !client.is_done() {
        assert!(
            Instant::now() < deadline,
            "client did not finish: {client:?}"
        );
        if let Some(req) = client.poll_request() {
            let resp = exchange(agent, &req, bad_nonces);
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            if let Event::ServeChallenges(list) = &ev {
                let mut t = tokens.lock().unwrap();
                for ChallengeToServe { token, value, .. } in list {
                    t.insert(token.clone(), value.clone());
                }
                drop(t);
                client.challenges_ready();
            }
            if let Event::Failed(e) = &ev {
                panic!("client failed: {e}");
            }
            events.push(ev);
        }
        if let Some(at) = client.poll_timeout() {
            let n = now();
            if at > n {
                std::thread::sleep(at - n);
            }
            client.handle_timeout(now());
        }
    }
    while let Some(ev) = client.poll_event() {
        events.push(ev);
    }
    events
}

fn make_csr(names: &[&str]) -> Vec<u8> {
    use der::Encode;
    use std::str::FromStr;
    use x509_cert::builder::{Builder, RequestBuilder};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let key = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let subject = x509_cert::name::Name::from_str(&format!("CN={}", names[0])).unwrap();
    let mut b = RequestBuilder::new(subject, &key).unwrap();
    let sans = names
        .iter()
        .map(|n| GeneralName::DnsName(der::asn1::Ia5String::new(n).unwrap()))
        .collect();
    b.add_extension(&SubjectAltName(sans)).unwrap();
    let req = b.build::<p384::ecdsa::DerSignature>().unwrap();
    req.to_der().unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pebble_issues_a_certificate_to_our_client() {
    for bin in ["pebble", "pebble-challtestsrv", "openssl"] {
        if !have(bin) {
            eprintln!(
                "SKIPPED: `{bin}` is not installed (scripts/install-peers installs it); pebble interop not run"
            );
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("lantrust-acme-pebble-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Pebble's HTTPS certificate (Debian ships no test certs): a throwaway CA and a leaf for
    // localhost/127.0.0.1 (webpki refuses a self-signed CA certificate as a server certificate).
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=lantrust test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
    openssl(
        &dir,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );

    let (acme_port, mgmt_port, tls_port, dns_port, chall_mgmt) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let http01 = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http01.local_addr().unwrap().port();
    let tokens = Arc::new(Mutex::new(HashMap::new()));
    serve_http01(http01, tokens.clone());

    let cfg = format!(
        r#"{{"pebble":{{"listenAddress":"127.0.0.1:{acme_port}","managementListenAddress":"127.0.0.1:{mgmt_port}",
        "certificate":"cert.pem","privateKey":"key.pem","httpPort":{http_port},"tlsPort":{tls_port},
        "ocspResponderURL":"","externalAccountBindingRequired":false}}}}"#
    );
    std::fs::write(dir.join("pebble.json"), cfg).unwrap();

    let _chall = Proc(
        Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{chall_mgmt}"),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _pebble = Proc(
        Command::new("pebble")
            .current_dir(&dir)
            .args([
                "-config",
                "pebble.json",
                "-dnsserver",
                &format!("127.0.0.1:{dns_port}"),
            ])
            // Skip Pebble's random validation sleeps; keep PEBBLE_WFE_NONCEREJECT at its default (5%).
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_ALTERNATE_ROOTS", "1")
            .env_remove("PEBBLE_WFE_NONCEREJECT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(acme_port);
    wait_for_port(chall_mgmt);

    let agent = agent(std::fs::read(dir.join("ca.der")).unwrap());
    let directory = format!("https://127.0.0.1:{acme_port}/dir");
    let names = [
        "lantrust-dev-12cd56.example.com",
        "www.lantrust-dev-12cd56.example.com",
    ];
    let csr = make_csr(&names);
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut bad_nonces = 0u32;

    let mut cfg = ClientConfig::new(&directory);
    cfg.default_poll_interval = Duration::from_millis(200);
    let op = Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der: csr,
        replaces: None,
    };
    let mut client = Client::new(cfg.clone(), key, op);
    let events = drive(&mut client, &agent, &tokens, &mut bad_nonces);

    assert!(
        matches!(
            events.first(),
            Some(Event::AccountReady { created: true, .. })
        ),
        "{events:?}"
    );
    let served: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::ServeChallenges(l) = e {
                Some(l.len())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(served, vec![2], "one http-01 challenge per name");
    let chain = events
        .iter()
        .find_map(|e| {
            if let Event::Certificate(c) = e {
                Some(c.clone())
            } else {
                None
            }
        })
        .expect("certificate event");
    let certs = x509_cert::Certificate::load_pem_chain(chain.pem.as_bytes()).unwrap();
    assert!(certs.len() >= 2, "leaf + intermediate");
    let leaf = &certs[0];
    use der::Decode;
    let san_ext = leaf
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.17")
        .unwrap();
    let san =
        x509_cert::ext::pkix::SubjectAltName::from_der(san_ext.extn_value.as_bytes()).unwrap();
    let dns: Vec<String> = san
        .0
        .iter()
        .filter_map(|g| {
            if let x509_cert::ext::pkix::name::GeneralName::DnsName(d) = g {
                Some(d.to_string())
            } else {
                None
            }
        })
        .collect();
    for n in names {
        assert!(dns.contains(&n.to_string()), "{n} missing from {dns:?}");
    }
    assert!(
        !chain.alternates.is_empty(),
        "PEBBLE_ALTERNATE_ROOTS=1 must yield Link rel=alternate"
    );
    // RFC 9773 CertID of what Pebble issued is computable (Pebble sets the AKI).
    use der::Encode;
    let leaf_der = leaf.to_der().unwrap();
    let id = lantrust_acme::cert_id(&leaf_der).unwrap();
    assert!(id.contains('.'));

    // Key rollover to a P-256 key, then revoke with the new key (existing account lookup).
    let old_key = AccountKey::from_ec_bytes(
        Algorithm::Es384,
        &client.account_key().ec_secret_bytes().unwrap(),
    )
    .unwrap();
    let new_key = AccountKey::generate(Algorithm::Es256, &mut rand::rngs::OsRng).unwrap();
    let new_secret = new_key.ec_secret_bytes().unwrap();
    let mut kc = Client::new(cfg.clone(), old_key, Operation::KeyChange { new_key });
    let ev = drive(&mut kc, &agent, &tokens, &mut bad_nonces);
    assert!(
        matches!(ev.first(), Some(Event::AccountReady { created: false, .. })),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::KeyChanged)));
    assert_eq!(kc.account_url(), client.account_url());

    let key = AccountKey::from_ec_bytes(Algorithm::Es256, &new_secret).unwrap();
    let mut rv = Client::new(
        cfg,
        key,
        Operation::Revoke {
            cert_der: leaf_der,
            reason: Some(4),
        },
    );
    let ev = drive(&mut rv, &agent, &tokens, &mut bad_nonces);
    assert!(ev.iter().any(|e| matches!(e, Event::Revoked)), "{ev:?}");
    assert_eq!(
        rv.account_url(),
        client.account_url(),
        "the rolled-over key finds the same account"
    );
    eprintln!(
        "pebble interop: certificate with {} certs, {} alternates; {bad_nonces} badNonce retries absorbed",
        certs.len(),
        chain.alternates.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
