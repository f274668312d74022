//! `lantrust-device serve` follows ACME Renewal Information (RFC 9773) from the real
//! `lantrust-server` on loopback: with a day-long certificate it asks renewalInfo, is told a
//! window hours away and keeps its certificate; once the certificate is revoked the server pulls
//! the window forward and the device renews by itself, saying why, with nobody running `renew`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm};
use lantrust_test_support::bins::{Binaries, Network};
use lantrust_test_support::{Proc, free_port, output_text as text, wait_for_port};

/// The current certificate's serial, from `status --json`.
fn current_serial(bin: &Binaries, state: &Path) -> String {
    let out = bin.run(
        "lantrust-device",
        &["status", "--state", state.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["serial"].as_str().unwrap().to_string()
}

/// Revoke the device's current certificate over ACME with its own account key (RFC 8555
/// §7.6), as the device's owner would after a key leak.
/// Returns the revoked certificate's RFC 9773 certID.
fn revoke_current(net: &Network, state: &Path) -> String {
    let netdir = std::fs::read_dir(state.join("networks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let secret = hex::decode(
        std::fs::read_to_string(netdir.join("account.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let chain = std::fs::read_to_string(netdir.join("chain.pem")).unwrap();
    let leaf = lantrust_cli::pem_certs(chain.as_bytes()).unwrap().remove(0);
    let cert_id = lantrust_acme::cert_id(&leaf).unwrap();
    let root_pem = std::fs::read_to_string(net.state.join("root.pem")).unwrap();
    let roots = lantrust_cli::pem_certs(root_pem.as_bytes()).unwrap();
    let resolve: lantrust_cli::ResolveOverride = net.resolve().parse().unwrap();
    let agent = lantrust_cli::tls::agent(&roots, &[resolve]).unwrap();
    let mut client = Client::new(
        ClientConfig::new(&net.directory()),
        key,
        Operation::Revoke {
            cert_der: leaf,
            reason: Some(1),
        },
    );
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut revoked = false;
    for _ in 0..50 {
        if client.is_done() {
            break;
        }
        if let Some(req) = client.poll_request() {
            let resp = lantrust_cli::acme_http::exchange(&agent, &req).unwrap();
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Revoked => revoked = true,
                Event::Failed(e) => panic!("revocation failed: {e}"),
                _ => {}
            }
        }
    }
    assert!(revoked, "the certificate was not revoked");
    cert_id
}

fn wait_for_log(path: &Path, what: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(what) {
            return log;
        }
        assert!(
            start.elapsed() < limit,
            "no {what:?} in the device's log after {limit:?}: {log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_renews_by_itself_when_the_server_pulls_the_window_forward() {
    let bin = Binaries::build(env!("CARGO_BIN_EXE_lantrust-device"), &["lantrust-server"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let http = free_port();
    // Day-long certificates (the shortest the server issues), renewalInfo's Retry-After 1 s.
    let net = Network::start_with_args(
        &bin,
        d,
        "ari",
        &[("cam-1", http)],
        "lantrust.local",
        &["--cert-days", "1", "--ari-retry-after", "1"],
    );
    let state = net.enroll(d, "cam-1", http);
    let first = current_serial(&bin, &state);

    let port = free_port();
    // Progress and decisions go to stderr, results (`renewed: ...`) to stdout.
    let log_path = d.join("device.log");
    let out_path = d.join("device.out");
    let _device = Proc::spawn(
        Command::new(bin.path("lantrust-device"))
            .args(["serve", "--state", state.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--http01-listen", &format!("127.0.0.1:{http}")])
            // Poll every 1–2 s (production: 1 h to 24 h) so the test sees the change quickly.
            .args(["--ari-min-poll", "1", "--ari-max-poll", "2"])
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&log_path).unwrap()),
    );
    wait_for_port(port);

    // 1. The window is in the last third of the day: the device waits for it.
    let log = wait_for_log(&log_path, "ARI: serial", Duration::from_secs(30));
    let line = log.lines().find(|l| l.starts_with("ARI: serial")).unwrap();
    assert!(line.contains(&first), "{line}");
    assert!(!line.contains("renewing at now"), "{line}");
    std::thread::sleep(Duration::from_secs(4));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.lines().filter(|l| l.starts_with("ARI: serial")).count() >= 2,
        "the device asks again on the Retry-After schedule: {log}"
    );
    assert!(!log.contains("renewing cam-1"), "renewed too early: {log}");
    // One random time in the window, kept while the window stays the same.
    let times: std::collections::BTreeSet<&str> = log
        .lines()
        .filter_map(|l| l.split("; renewing at ").nth(1))
        .map(|rest| rest.split(';').next().unwrap())
        .collect();
    assert_eq!(times.len(), 1, "{log}");
    assert_eq!(current_serial(&bin, &state), first);

    // 2. Revocation pulls the window forward; the device renews by itself.
    let revoked_id = revoke_current(&net, &state);
    wait_for_log(
        &out_path,
        "renewed: now serving serial",
        Duration::from_secs(90),
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("renewing at now (the window has begun)"),
        "{log}"
    );
    assert!(
        log.contains("(the server's renewal window (RFC 9773))"),
        "{log}"
    );
    let second = current_serial(&bin, &state);
    assert_ne!(second, first);
    // The renewal said which certificate it replaces (RFC 9773 §5), and the server took it.
    let server_log = std::fs::read_to_string(d.join("srv-ari.log")).unwrap();
    assert!(
        server_log
            .lines()
            .any(|l| l.contains("new order replaces a certificate")
                && l.contains(&format!("replaces={revoked_id}"))),
        "{server_log}"
    );

    // 3. The new certificate gets a window of its own, hours away again.
    let log = wait_for_log(
        &log_path,
        &format!("ARI: serial {second} window"),
        Duration::from_secs(30),
    );
    let line = log
        .lines()
        .find(|l| l.starts_with(&format!("ARI: serial {second} window")))
        .unwrap();
    assert!(!line.contains("renewing at now"), "{line}");
}
