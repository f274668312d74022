//! End to end: the built `lantrust-server` binary on 127.0.0.1 (init → serve), driven by
//! lantrust-acme's client core over ureq + rustls trusting the server's root, with a real http-01
//! responder. Covers the §3.4.4 approval step (pending → approve while serving), pre-approval,
//! refusal of public names, revocation into /crl, and problem documents for bad input.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::time::{Duration, Instant};

use common::*;
use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier};
use lantrust_test_support::http01::Tokens;

/// Run a client to completion (or failure), serving challenges through `tokens`.
fn drive(client: &mut Client, agent: &ureq::Agent, tokens: &Tokens, limit: Duration) -> Vec<Event> {
    lantrust_test_support::acme::drive(client, agent, tokens, limit).events
}

fn issue_client(directory: &str, device: &str, names: &[String], csr: Vec<u8>) -> Client {
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut cfg = ClientConfig::new(directory);
    cfg.default_poll_interval = Duration::from_millis(200);
    cfg.contact = vec![format!("https://{device}.local/")];
    let op = Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der: csr,
        replaces: None,
    };
    Client::new(cfg, key, op)
}

fn device_csr(device: &str) -> (Vec<String>, Vec<u8>) {
    let b = lantrust_csr::CsrBuilder::new(device, ["home.arpa"]);
    let names = b.dns_names();
    let built = b.build(&mut rand::rngs::OsRng).unwrap();
    (names, built.der().to_vec())
}

fn certificate(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            Event::Certificate(c) => Some(c.pem.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no certificate: {events:?}"))
}

fn failure(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            Event::Failed(err) => Some(err.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("expected a failure: {events:?}"))
}

#[test]
fn full_flow_with_approval_revocation_and_refusals() {
    if !have("openssl") {
        lantrust_test_support::skip(
            "openssl is not installed; the end-to-end flow needs `openssl verify`",
        );
        return;
    }
    let dir = temp_dir("flow");
    let (h_port, tokens) = http01_responder();
    let r1 = format!("dev1.local=127.0.0.1:{h_port}");
    let r2 = format!("dev1.home.arpa=127.0.0.1:{h_port}");
    let r3 = format!("dev3.local=127.0.0.1:{h_port}");
    let r4 = format!("dev3.home.arpa=127.0.0.1:{h_port}");
    let r5 = format!("dev4.local=127.0.0.1:{h_port}");
    let r6 = format!("dev4.home.arpa=127.0.0.1:{h_port}");
    let srv = init_and_serve(
        dir.path(),
        &[
            "--resolve",
            &r1,
            "--resolve",
            &r2,
            "--resolve",
            &r3,
            "--resolve",
            &r4,
            "--resolve",
            &r5,
            "--resolve",
            &r6,
        ],
    );
    let state = srv.state_arg().to_string();

    // The root as served over HTTPS is the one init wrote.
    let root_file = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let agent = agent(&root_file);
    let (status, headers, body) = call(agent.get(&srv.url("/roots.pem")).call());
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/pem-certificate-chain")
    );
    assert_eq!(String::from_utf8(body).unwrap(), root_file);
    std::fs::write(dir.path().join("roots.pem"), &root_file).unwrap();

    // dev1: the first order waits for approval.
    let (names, csr) = device_csr("dev1");
    let mut client = issue_client(&srv.directory(), "dev1", &names, csr);
    let agent2 = agent.clone();
    let tokens2 = tokens.clone();
    let worker = std::thread::spawn(move || {
        let ev = drive(&mut client, &agent2, &tokens2, Duration::from_secs(90));
        (ev, Instant::now())
    });
    wait_pending(&state, "dev1", Duration::from_secs(30));
    // Still waiting a moment later: nothing is issued without the human.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!worker.is_finished(), "issued before approval");
    let list = cli_ok(&["list", "--state", &state, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["devices"][0]["state"], "pending");
    assert_eq!(v["certificates"].as_array().unwrap().len(), 0);
    let approved_at = Instant::now();
    let out = cli_ok(&["approve", "--state", &state, "dev1"]);
    assert!(out.contains("approved"), "{out}");
    let (events, done_at) = worker.join().unwrap();
    assert!(done_at > approved_at);
    let pem = certificate(&events);
    let certs = lantrust_ca::certificates_from_pem(&pem).unwrap();
    assert_eq!(certs.len(), 2, "leaf + root");
    let leaf_pem = lantrust_ca::certificate_to_pem(certs.first().unwrap()).unwrap();
    std::fs::write(dir.path().join("dev1.pem"), &leaf_pem).unwrap();
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-CAfile",
            "roots.pem",
            "-purpose",
            "sslserver",
            "dev1.pem",
        ],
    );
    assert!(ok && out.contains("dev1.pem: OK"), "{out}");
    let (ok, text) = openssl(dir.path(), &["x509", "-in", "dev1.pem", "-noout", "-text"]);
    assert!(ok);
    assert!(
        text.contains("DNS:dev1.local, DNS:dev1.home.arpa"),
        "{text}"
    );
    assert!(text.contains("Subject: CN = dev1"), "{text}");

    // dev3 is pre-approved before it asks: no waiting, no pending entry.
    cli_ok(&["approve", "--state", &state, "dev3"]);
    let (names3, csr3) = device_csr("dev3");
    let mut c3 = issue_client(&srv.directory(), "dev3", &names3, csr3);
    let ev3 = drive(&mut c3, &agent, &tokens, Duration::from_secs(60));
    certificate(&ev3);

    // A public name is refused at newOrder, before any traffic goes toward it.
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut cfg = ClientConfig::new(&srv.directory());
    cfg.default_poll_interval = Duration::from_millis(200);
    let (_, csr_pub) = device_csr("dev2");
    let mut cpub = Client::new(
        cfg,
        key,
        Operation::Issue {
            identifiers: vec![Identifier::dns("dev2.example.com")],
            csr_der: csr_pub,
            replaces: None,
        },
    );
    let evp = drive(&mut cpub, &agent, &tokens, Duration::from_secs(30));
    let f = failure(&evp);
    assert!(
        f.contains("rejectedIdentifier") || f.contains("not a name on this network"),
        "{f}"
    );

    // A CSR breaking the policy (a P-256 key) is refused with badCSR, listing the violation.
    let weak = {
        use std::process::Command;
        let d = dir.path();
        let st = Command::new("openssl")
            .current_dir(d)
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "weak.key",
                "-subj",
                "/CN=dev3",
                "-addext",
                "subjectAltName=DNS:dev3.local,DNS:dev3.home.arpa",
                "-outform",
                "DER",
                "-out",
                "weak.der",
            ])
            .output()
            .unwrap();
        assert!(st.status.success());
        std::fs::read(d.join("weak.der")).unwrap()
    };
    // Sent by dev3's own account: the approval binds that key (another key would wait as a
    // key change and never reach finalize).
    let mut cfg = ClientConfig::new(&srv.directory());
    cfg.default_poll_interval = Duration::from_millis(200);
    let mut cweak = Client::new(
        cfg,
        c3.into_account_key(),
        Operation::Issue {
            identifiers: names3.iter().map(|n| Identifier::dns(n)).collect(),
            csr_der: weak,
            replaces: None,
        },
    );
    let evw = drive(&mut cweak, &agent, &tokens, Duration::from_secs(60));
    let f = failure(&evw);
    assert!(f.contains("badCSR") || f.contains("P-256"), "{f}");

    // dev4 is denied while it waits: the client's order fails.
    let (names4, csr4) = device_csr("dev4");
    let mut c4 = issue_client(&srv.directory(), "dev4", &names4, csr4);
    let (agent4, tokens4) = (agent.clone(), tokens.clone());
    let w4 = std::thread::spawn(move || drive(&mut c4, &agent4, &tokens4, Duration::from_secs(60)));
    wait_pending(&state, "dev4", Duration::from_secs(30));
    cli_ok(&["deny", "--state", &state, "dev4"]);
    let f = failure(&w4.join().unwrap());
    assert!(f.contains("denied"), "{f}");

    // Revoke dev1: its certificate appears in /crl and renewals are refused.
    let out = cli_ok(&["revoke", "--state", &state, "--json", "dev1"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["certificates_revoked"], 1);
    let (status, headers, crl) = call(agent.get(&srv.url("/crl")).call());
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/pkix-crl")
    );
    std::fs::write(dir.path().join("crl.der"), &crl).unwrap();
    let (ok, serial) = openssl(
        dir.path(),
        &["x509", "-in", "dev1.pem", "-noout", "-serial"],
    );
    assert!(ok);
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    let (ok, crl_text) = openssl(
        dir.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-CAfile",
            "roots.pem",
            "-noout",
            "-text",
        ],
    );
    assert!(ok, "{crl_text}");
    assert!(
        crl_text.contains("verify OK") || crl_text.contains("verify ok"),
        "{crl_text}"
    );
    assert!(
        crl_text.contains(&serial),
        "serial {serial} not in CRL: {crl_text}"
    );
    assert!(crl_text.contains("Privilege Withdrawn"), "{crl_text}");
    let (ok, out) = openssl(
        dir.path(),
        &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "roots.pem",
            "-CRLfile",
            "crl.pem",
            "dev1.pem",
        ],
    );
    assert!(!ok && out.contains("revoked"), "{out}");
    // Revocation reaches relying parties (draft §4.5, §4.7): the certificate names this server's
    // /crl as its CRL distribution point (RFC 5280 §4.2.1.13), the CRL is valid for 7 days
    // (nextUpdate), and `serve` keeps a signed copy in STATE/crl.der.
    let (ok, cdp) = openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "dev1.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(
        ok && cdp.contains(&format!("URI:{}", srv.url("/crl"))),
        "{cdp}"
    );
    use der::Decode as _;
    let list = x509_cert::crl::CertificateList::from_der(&crl).unwrap();
    let this = list.tbs_cert_list.this_update.to_unix_duration();
    let next = list.tbs_cert_list.next_update.unwrap().to_unix_duration();
    assert_eq!(next - this, Duration::from_secs(7 * 86_400));
    let copy = std::path::Path::new(&state).join("crl.der");
    let start = Instant::now();
    while !copy.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let copy = std::fs::read(&copy).unwrap();
    let signed = x509_cert::crl::CertificateList::from_der(&copy).unwrap();
    assert_eq!(signed.tbs_cert_list.issuer, list.tbs_cert_list.issuer);
    let (names1, csr1) = device_csr("dev1");
    let mut again = issue_client(&srv.directory(), "dev1", &names1, csr1);
    let eva = drive(&mut again, &agent, &tokens, Duration::from_secs(60));
    let f = failure(&eva);
    assert!(f.contains("revoked") || f.contains("not approved"), "{f}");
    let list = cli_ok(&["list", "--state", &state, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let devs = v["devices"].as_array().unwrap();
    let d1 = devs.iter().find(|d| d["device_id"] == "dev1").unwrap();
    assert_eq!(d1["state"], "revoked");
    assert_eq!(d1["revoked_certificates"], 1);
}

#[test]
fn bad_input_gets_problem_documents_and_the_server_keeps_serving() {
    let dir = temp_dir("bad");
    let srv = init_and_serve(dir.path(), &[]);
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let agent = agent(&root);
    let url = srv.url("/acme/new-account");

    let problem = |r: Result<ureq::Response, ureq::Error>| {
        let (status, headers, body) = call(r);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json"),
            "status {status}"
        );
        assert!(header(&headers, "replay-nonce").is_some_and(|n| !n.is_empty()));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, v)
    };
    // POST `body` as `content_type` to `to`: the status and problem type of the answer.
    let post = |to: &str, content_type: &str, body: &[u8]| {
        let (s, v) = problem(
            agent
                .post(to)
                .set("Content-Type", content_type)
                .send_bytes(body),
        );
        (s, v["type"].as_str().map(str::to_owned))
    };
    let problem_type = |t: &str| Some(format!("urn:ietf:params:acme:error:{t}"));
    const JOSE: &str = "application/jose+json";
    // Malformed JWS.
    assert_eq!(
        post(&url, JOSE, b"{\"protected\": 1"),
        (400, problem_type("malformed"))
    );
    // Wrong content type.
    assert_eq!(
        post(&url, "application/json", b"{}"),
        (415, problem_type("malformed"))
    );
    // Oversized body.
    assert_eq!(
        post(&url, JOSE, &vec![b'a'; 200 * 1024]),
        (413, problem_type("malformed"))
    );
    // A well-formed JWS with a nonce the server never issued.
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let jws =
        lantrust_acme::jose::sign(&key, None, Some("bm90LWEtbm9uY2U"), &url, Some(b"{}")).unwrap();
    assert_eq!(
        post(&url, JOSE, &serde_json::to_vec(&jws).unwrap()),
        (400, problem_type("badNonce"))
    );
    // An account URL that does not exist.
    let (_, h, _) = call(agent.head(&srv.url("/acme/new-nonce")).call());
    let nonce = header(&h, "replay-nonce").unwrap().to_string();
    let order_url = srv.url("/acme/new-order");
    let signed = |payload: &[u8]| {
        let jws = lantrust_acme::jose::sign(
            &key,
            Some(&srv.url("/acme/acct/nobody")),
            Some(&nonce),
            &order_url,
            Some(payload),
        )
        .unwrap();
        serde_json::to_vec(&jws).unwrap()
    };
    assert_eq!(
        post(
            &order_url,
            JOSE,
            &signed(b"{\"identifiers\":[{\"type\":\"dns\",\"value\":\"dev1.local\"}]}")
        ),
        (400, problem_type("accountDoesNotExist"))
    );
    // The same nonce again: replayed.
    assert_eq!(
        post(&order_url, JOSE, &signed(b"{}")),
        (400, problem_type("badNonce"))
    );
    // Unsupported method.
    let (s, _) = problem(agent.request("PUT", &url).call());
    assert_eq!(s, 405);

    // Still serving.
    let (s, _, body) = call(agent.get(&srv.directory()).call());
    assert_eq!(s, 200);
    let d: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d["newOrder"], srv.url("/acme/new-order"));
}
