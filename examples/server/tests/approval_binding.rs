//! Approval binds a key (draft §3.4.4), against the built server with two real ACME clients:
//! lantrust-acme's client core (the device) and lego with an account of its own (a second host
//! answering tls-alpn-01 for the same name: a factory-reset device, or an impostor). The
//! impostor gets nothing while it waits, shows up in `pending --json` as a key change (with the
//! MAC address from `--dhcp-leases`), the device's renewal stays automatic meanwhile, approving
//! the key change moves the binding (and `--revoke-old` revokes the old key's certificates), a
//! denied key change leaves the binding alone, and key rollover (RFC 8555 §7.3.5) keeps it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier};
use lantrust_test_support::http01::Tokens;

fn client(directory: &str, key: AccountKey, device: &str) -> Client {
    let b = lantrust_csr::CsrBuilder::new(device, ["home.arpa"]);
    let names = b.dns_names();
    let csr = b.build(&mut rand::rngs::OsRng).unwrap().der().to_vec();
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

fn es384(secret: &[u8]) -> AccountKey {
    AccountKey::from_ec_bytes(Algorithm::Es384, secret).unwrap()
}

fn certificate(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::Certificate(c) => Some(c.pem.clone()),
        _ => None,
    })
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&cli_ok(args)).unwrap()
}

/// Wait until `pending --json` has a key-change entry for `device` from a key other than
/// `not`; returns it.
fn wait_key_change(state: &str, device: &str, not: &str, limit: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let v = json(&["pending", "--state", state, "--json"]);
        if let Some(e) =
            v.as_array().unwrap().iter().find(|e| {
                e["device_id"] == device && e["kind"] == "key_change" && e["account"] != not
            })
        {
            return e.clone();
        }
        if start.elapsed() >= limit {
            let log = std::fs::read_to_string(Path::new(state).with_file_name("serve.log"))
                .unwrap_or_default();
            panic!("no key change for {device} in `pending`: {v}\nserver log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn device(state: &str, id: &str) -> serde_json::Value {
    let v = json(&["list", "--state", state, "--json"]);
    v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in `list --json`: {v}"))
}

#[test]
fn an_approval_binds_the_key_that_asked_and_a_second_account_waits_as_a_key_change() {
    if !have("lego") {
        lantrust_test_support::skip(
            "`lego` is not installed (scripts/install-peers installs it); the two-account approval test did not run",
        );
        return;
    }
    let dir = temp_dir("binding");
    let d = dir.path();
    let (h_port, tokens) = http01_responder();
    let tls_port = free_port();
    // The device (lantrust's client core) answers http-01 through `tokens`; the second host
    // (lego) answers tls-alpn-01 on --tls-alpn-port at the same address.
    let leases = d.join("dnsmasq.leases");
    std::fs::write(
        &leases,
        "1999999999 02:11:22:33:44:55 127.0.0.1 cam1 01:02:11:22:33:44:55\n",
    )
    .unwrap();
    let mut resolve = Vec::new();
    for dev in ["cam1", "cam2"] {
        for dom in ["local", "home.arpa"] {
            resolve.push(format!("{dev}.{dom}=127.0.0.1:{h_port}"));
        }
    }
    let tls = tls_port.to_string();
    let mut args = vec![
        "--generic-clients",
        "--tls-alpn-port",
        &tls,
        "--dhcp-leases",
        leases.to_str().unwrap(),
    ];
    for r in &resolve {
        args.extend(["--resolve", r.as_str()]);
    }
    let srv = init_and_serve(d, &args);
    let state = srv.state_arg().to_string();
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    std::fs::write(d.join("roots.pem"), &root).unwrap();
    let agent = agent(&root);
    let run = |mut c: Client, tokens: &Tokens, limit: Duration| {
        let ev = lantrust_test_support::acme::drive(&mut c, &agent, tokens, limit).events;
        (ev, c)
    };

    // 1. The device asks for cam1 first and is approved: the approval binds its key.
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let secret = key.ec_secret_bytes().unwrap();
    let device_tp = key.jwk().thumbprint();
    let c = client(&srv.directory(), key, "cam1");
    let (agent2, tokens2, state2) = (agent.clone(), tokens.clone(), state.clone());
    let first = std::thread::spawn(move || {
        let mut c = c;
        lantrust_test_support::acme::drive(&mut c, &agent2, &tokens2, Duration::from_secs(90))
            .events
    });
    wait_pending(&state2, "cam1", Duration::from_secs(30));
    let p = json(&["pending", "--state", &state, "--json"]);
    assert_eq!(p[0]["kind"], "first_request", "{p}");
    assert_eq!(p[0]["account"], device_tp.as_str(), "{p}");
    cli_ok(&["approve", "--state", &state, "cam1"]);
    let events = first.join().unwrap();
    let device_cert = certificate(&events).unwrap_or_else(|| panic!("{events:?}"));
    let dev = device(&state, "cam1");
    assert_eq!(dev["account"], device_tp.as_str(), "{dev}");
    assert_eq!(dev["binding"], "key", "{dev}");
    let r = &dev["requesters"][0];
    assert_eq!(
        (r["status"].as_str(), r["ip"].as_str()),
        (Some("bound"), Some("127.0.0.1")),
        "{dev}"
    );
    assert_eq!(r["mac"], "02:11:22:33:44:55", "{dev}");
    assert_eq!(r["csr_key_type"], "P-384", "{dev}");
    assert_eq!(r["csr_spki_sha256"].as_str().unwrap().len(), 64, "{dev}");
    assert!(r["first_seen"].as_u64().unwrap() <= r["last_seen"].as_u64().unwrap());

    // 2. lego, with an account of its own, asks for cam1: it waits, flagged as a key change.
    let lego = Command::new("lego")
        .env("LEGO_CA_CERTIFICATES", d.join("roots.pem"))
        .args(["--path", d.join("lego").to_str().unwrap()])
        .args(["--server", &srv.directory()])
        .args(["--email", "admin@example.org", "--accept-tos"])
        .args(["--key-type", "ec384", "--tls"])
        .args(["--tls.port", &format!("127.0.0.1:{tls_port}")])
        .args([
            "--domains",
            "cam1.local",
            "--domains",
            "cam1.home.arpa",
            "run",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let change = wait_key_change(&state, "cam1", &device_tp, Duration::from_secs(60));
    let lego_tp = change["account"].as_str().unwrap().to_string();
    assert_eq!(change["state"], "approved", "{change}");
    assert_eq!(change["bound_account"], device_tp.as_str(), "{change}");
    assert_eq!(change["ip"], "127.0.0.1", "{change}");
    assert_eq!(change["mac"], "02:11:22:33:44:55", "{change}");
    assert!(
        change["message"]
            .as_str()
            .unwrap()
            .contains("factory reset, or impostor"),
        "{change}"
    );
    // The admin endpoint says the same.
    let token = std::fs::read_to_string(srv.state.join("admin-token")).unwrap();
    let (status, _, body) = call(
        agent
            .get(&srv.url("/admin/pending"))
            .set("Authorization", &format!("Bearer {}", token.trim()))
            .call(),
    );
    assert_eq!(status, 200);
    let admin: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        admin
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["account"] == lego_tp.as_str() && e["kind"] == "key_change"),
        "{admin}"
    );

    // 3. Meanwhile the device renews without a human, and lego still has nothing.
    let (events, _) = run(
        client(&srv.directory(), es384(&secret), "cam1"),
        &tokens,
        Duration::from_secs(60),
    );
    assert!(certificate(&events).is_some(), "renewal: {events:?}");
    std::thread::sleep(Duration::from_secs(1));
    let mut lego = lego;
    assert!(
        lego.try_wait().unwrap().is_none(),
        "lego finished before its key was approved"
    );
    assert!(!d.join("lego/certificates/cam1.local.crt").exists());
    let v = json(&["list", "--state", &state, "--json"]);
    assert_eq!(v["certificates"].as_array().unwrap().len(), 2, "{v}");

    // 4. The owner approves the key change (a factory reset): the binding moves, the old
    // key's certificates are revoked, lego gets its certificate.
    let out = cli_ok(&[
        "approve",
        "--state",
        &state,
        "cam1",
        "--account",
        &lego_tp,
        "--revoke-old",
    ]);
    assert!(out.contains("binding moved"), "{out}");
    assert!(
        out.contains("2 certificate(s) of the old key revoked"),
        "{out}"
    );
    let out = lego.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "lego failed after approval: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("lego/certificates/cam1.local.crt").exists());
    let dev = device(&state, "cam1");
    assert_eq!(dev["account"], lego_tp.as_str(), "{dev}");
    let v = json(&["list", "--state", &state, "--json"]);
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 3, "{v}");
    assert_eq!(
        certs.iter().filter(|c| c["revoked"] == true).count(),
        2,
        "the old key's two certificates are revoked: {v}"
    );
    // The first certificate is in the CRL now.
    let leaf = lantrust_ca::certificates_from_pem(&device_cert).unwrap();
    let serial = leaf[0].tbs_certificate.serial_number.as_bytes().to_vec();
    let (_, _, crl) = call(agent.get(&srv.url("/crl")).call());
    let crl = lantrust_ca::crl_from_der(&crl).unwrap();
    assert!(
        crl.tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number.as_bytes() == serial.as_slice())
    );

    // 5. Now the old key is the stranger: its request waits as a key change; denying it
    // leaves lego's binding untouched and the old key gets nothing.
    let c = client(&srv.directory(), es384(&secret), "cam1");
    let (agent3, tokens3) = (agent.clone(), tokens.clone());
    let again = std::thread::spawn(move || {
        let mut c = c;
        lantrust_test_support::acme::drive(&mut c, &agent3, &tokens3, Duration::from_secs(90))
            .events
    });
    wait_key_change(&state, "cam1", &lego_tp, Duration::from_secs(30));
    let out = cli_ok(&["deny", "--state", &state, "cam1"]);
    assert!(out.contains("refused the key change"), "{out}");
    let events = again.join().unwrap();
    assert!(certificate(&events).is_none(), "{events:?}");
    assert_eq!(device(&state, "cam1")["account"], lego_tp.as_str());
    assert_eq!(device(&state, "cam1")["state"], "approved");

    // 6. Key rollover keeps the binding: cam2 is approved for one key, rolls over, and renews
    // with the new key without a human.
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let tp = key.jwk().thumbprint();
    // Over the admin endpoint (`POST /admin/devices/cam2/approve/account/TP`).
    let token_file = d.join("token");
    std::fs::write(&token_file, token.trim()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let origin = srv.url("");
    let out = cli_ok(&[
        "approve",
        "--remote",
        &origin,
        "--token-file",
        token_file.to_str().unwrap(),
        "--root",
        d.join("roots.pem").to_str().unwrap(),
        "--json",
        "cam2",
        "--account",
        &tp,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v["device_id"].as_str(),
            v["account"].as_str(),
            v["state"].as_str()
        ),
        (Some("cam2"), Some(tp.as_str()), Some("approved")),
        "{v}"
    );
    let (events, c) = run(
        client(&srv.directory(), key, "cam2"),
        &tokens,
        Duration::from_secs(60),
    );
    assert!(
        certificate(&events).is_some(),
        "pre-approved for its key: {events:?}"
    );
    let new_key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let new_tp = new_key.jwk().thumbprint();
    let mut cfg = ClientConfig::new(&srv.directory());
    cfg.default_poll_interval = Duration::from_millis(200);
    let (events, c) = run(
        Client::new(cfg, c.into_account_key(), Operation::KeyChange { new_key }),
        &tokens,
        Duration::from_secs(30),
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::KeyChanged)),
        "{events:?}"
    );
    assert_eq!(device(&state, "cam2")["account"], new_tp.as_str());
    let (events, _) = run(
        client(&srv.directory(), c.into_account_key(), "cam2"),
        &tokens,
        Duration::from_secs(60),
    );
    assert!(
        certificate(&events).is_some(),
        "renewal after rollover: {events:?}"
    );
    let p = json(&["pending", "--state", &state, "--json"]);
    assert!(p.as_array().unwrap().is_empty(), "nothing waits: {p}");
}
