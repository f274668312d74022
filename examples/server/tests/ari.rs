//! ACME Renewal Information (RFC 9773) with a real client: certbot ≥ 4 from PyPI (in
//! /opt/lantrust-certbot, installed by scripts/install-peers; Debian's certbot 2.x has no ARI)
//! gets a certificate, asks renewalInfo at `certbot renew` and is told to wait; once the
//! certificate is revoked the server pulls the window forward and the next `certbot renew`
//! renews on that suggestion alone (no --force-renewal; the certificate is far from expiry).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// The PyPI certbot (scripts/install-peers).
const CERTBOT: &str = "/opt/lantrust-certbot/bin/certbot";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// certbot's major version, if the PyPI one is installed.
fn certbot_major() -> Option<u32> {
    let out = Command::new(CERTBOT).arg("--version").output().ok()?;
    let t = text(&out);
    let v = t.split_whitespace().nth(1)?;
    v.split('.').next()?.parse().ok()
}

/// The first certificate of a PEM file, as DER.
fn leaf_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let certs = lantrust_ca::certificates_from_pem(&pem).unwrap();
    lantrust_ca::certificate_to_der(certs.first().unwrap()).unwrap()
}

#[test]
fn certbot_renews_when_the_server_pulls_the_renewal_window_forward() {
    match certbot_major() {
        Some(v) if v >= 4 => {}
        found => {
            lantrust_test_support::skip(format_args!(
                "certbot >= 4 is not installed at {CERTBOT} (found {found:?}; scripts/install-peers installs it from PyPI); the ARI interop test did not run"
            ));
            return;
        }
    }
    let dir = temp_dir("ari-certbot");
    let d = dir.path();
    let http_port = free_port();
    let dev = "ari1";
    let r1 = format!("{dev}.local=127.0.0.1:{http_port}");
    let r2 = format!("{dev}.home.arpa=127.0.0.1:{http_port}");
    // Day-long certificates; renewalInfo's Retry-After 1 s, so certbot asks again at once.
    let srv = init_and_serve(
        d,
        &[
            "--generic-clients",
            "--resolve",
            &r1,
            "--resolve",
            &r2,
            "--cert-days",
            "1",
            "--ari-retry-after",
            "1",
        ],
    );
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let (status, _, body) = call(agent(&root).get(&srv.url("/roots.pem")).call());
    assert_eq!(status, 200);
    std::fs::write(d.join("roots.pem"), body).unwrap();
    // The directory advertises renewalInfo (RFC 9773 §3).
    let (status, _, body) = call(agent(&root).get(&srv.directory()).call());
    assert_eq!(status, 200);
    let dirobj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        dirobj["renewalInfo"],
        format!("https://127.0.0.1:{}/acme/renewal-info", srv.port)
    );

    let paths = |c: &mut Command| {
        c.env("REQUESTS_CA_BUNDLE", d.join("roots.pem"))
            .args(["--config-dir", d.join("c").to_str().unwrap()])
            .args(["--work-dir", d.join("w").to_str().unwrap()])
            .args(["--logs-dir", d.join("l").to_str().unwrap()])
            .arg("--non-interactive");
    };
    let mut c = Command::new(CERTBOT);
    paths(&mut c);
    c.args(["certonly", "--standalone", "--agree-tos"])
        .args(["--http-01-port", &http_port.to_string()])
        .args(["--http-01-address", "127.0.0.1"])
        .args(["--server", &srv.directory()])
        .args(["--key-type", "ecdsa", "--elliptic-curve", "secp384r1"])
        .arg("--register-unsafely-without-email")
        .args(["-d", &format!("{dev}.local")])
        .args(["-d", &format!("{dev}.home.arpa")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    wait_pending(srv.state_arg(), dev, Duration::from_secs(60));
    cli_ok(&["approve", "--state", srv.state_arg(), dev]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "certbot certonly failed: {}",
        text(&out)
    );
    let live: PathBuf = d.join(format!("c/live/{dev}.local/cert.pem"));
    let first = leaf_der(&live);
    let first_id = lantrust_acme::cert_id(&first).unwrap();
    let log_path = d.join("l/letsencrypt.log");

    let renew = || {
        let mut c = Command::new(CERTBOT);
        paths(&mut c);
        // Not the random delay of up to 8 minutes a non-interactive renewal takes otherwise.
        c.args(["renew", "--no-random-sleep-on-renew"])
            .output()
            .unwrap()
    };

    // 1. Nothing calls for haste: certbot asks renewalInfo and keeps the certificate.
    let out = renew();
    assert!(out.status.success(), "certbot renew failed: {}", text(&out));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains(&format!("/acme/renewal-info/{first_id}")),
        "certbot did not ask renewalInfo for {first_id}: {log}"
    );
    assert!(
        text(&out).contains("not yet due for renewal"),
        "{}",
        text(&out)
    );
    assert_eq!(
        leaf_der(&live),
        first,
        "renewed although the window is hours away"
    );

    // 2. The certificate is revoked (by its account, as a user would after a key leak): the
    //    server pulls its window forward, and certbot renews on that alone.
    let mut c = Command::new(CERTBOT);
    paths(&mut c);
    let out = c
        .args(["revoke", "--cert-name", &format!("{dev}.local")])
        .args(["--reason", "keycompromise", "--no-delete-after-revoke"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "certbot revoke failed: {}",
        text(&out)
    );
    // certbot waits for the Retry-After it was given (1 s) before asking again.
    std::thread::sleep(Duration::from_secs(2));
    let before = std::fs::read_to_string(&log_path).unwrap().len();
    let out = renew();
    assert!(out.status.success(), "certbot renew failed: {}", text(&out));
    let log = std::fs::read_to_string(&log_path).unwrap();
    let fresh = log.get(before..).unwrap_or(&log);
    assert!(
        fresh.contains(&format!("/acme/renewal-info/{first_id}")),
        "certbot did not ask renewalInfo again: {fresh}"
    );
    assert!(
        fresh.contains("Certificate is due for renewal"),
        "certbot did not find the certificate due: {fresh}"
    );
    let second = leaf_der(&live);
    assert_ne!(second, first, "certbot did not replace the certificate");
    let second_id = lantrust_acme::cert_id(&second).unwrap();
    assert_ne!(second_id, first_id);

    // The server logged both windows: the spread one, then the one ending now.
    let serve_log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    let answers: Vec<&str> = serve_log
        .lines()
        .filter(|l| l.contains("renewalInfo answered") && l.contains(&first_id))
        .collect();
    assert!(answers.len() >= 2, "{serve_log}");

    // 3. The new certificate is not due: its window is spread into its last third again.
    std::thread::sleep(Duration::from_secs(2));
    let out = renew();
    assert!(out.status.success(), "certbot renew failed: {}", text(&out));
    assert!(
        text(&out).contains("not yet due for renewal"),
        "{}",
        text(&out)
    );
    assert_eq!(leaf_der(&live), second);
}
