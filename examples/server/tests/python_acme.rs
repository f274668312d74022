//! An independent ACME client library against the built server: certbot's own `acme` package
//! (Debian python3-acme) drives every endpoint (`python_acme.py`: directory, newNonce HEAD and
//! GET, newAccount with onlyReturnExisting, account update and orders list, newOrder with the
//! refused unfinalizable order and its subproblems, authorizations, http-01, finalize, order
//! polling, certificate download, authorization deactivation, revokeCert, keyChange, account
//! deactivation, and the problem types met on the way). The first issuance waits for
//! `approve`, run while the library polls.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Debian's python3-acme installs for the system interpreter.
const PYTHON: &str = "/usr/bin/python3";

fn have_python_acme() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import acme.client, josepy, OpenSSL"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn certbots_acme_library_drives_every_endpoint() {
    if !have_python_acme() {
        lantrust_test_support::skip(
            "python3-acme is not installed for /usr/bin/python3 (scripts/install-peers installs it); this interop test did not run",
        );
        return;
    }
    let dir = temp_dir("python-acme");
    let d = dir.path();
    let dev = "pya1";
    let http = free_port();
    let to = format!("127.0.0.1:{http}");
    let srv = init_and_serve(
        d,
        &[
            "--generic-clients",
            "--resolve",
            &format!("{dev}.local={to}"),
            "--resolve",
            &format!("{dev}.home.arpa={to}"),
        ],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_acme.py");
    let mut child = Command::new(PYTHON)
        .arg(&script)
        .args([
            &srv.directory(),
            srv.state.join("root.pem").to_str().unwrap(),
            dev,
            &http.to_string(),
        ])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Approve once the device waits (or report why the script ended before).
    let start = Instant::now();
    loop {
        let pending = cli_ok(&["pending", "--state", srv.state_arg(), "--json"]);
        if pending.contains(&format!("\"{dev}\"")) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the script ended before {dev} waited for approval:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{dev} never waited for approval"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let approved = Instant::now();
    cli_ok(&["approve", "--state", srv.state_arg(), dev]);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "python acme failed:\n{stdout}\n{}\nserver log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{stdout}(approve to the end of the script: {:?})",
        approved.elapsed()
    );
    for step in [
        "OK directory",
        "OK newNonce HEAD 200",
        "OK newNonce GET 204",
        "OK onlyReturnExisting for an unknown key: accountDoesNotExist",
        "OK newAccount 201",
        "OK onlyReturnExisting for a known key: 200 with its Location",
        "OK account update: contact",
        "OK account POST-as-GET",
        "OK a stale nonce: badNonce",
        &format!(
            "OK an order that could never be finalized: rejectedIdentifier naming ['{dev}.local']"
        ),
        "OK a public name: rejectedIdentifier naming it",
        "OK newOrder 201 with its authorizations",
        "OK finalize before validation: orderNotReady",
        "OK account orders list",
        "OK http-01 answered for every authorization",
        "OK authorizations valid after approval",
        "OK finalize with other names: badCSR",
        "OK certificate downloaded (0 alternate chains)",
        "OK authorization deactivated",
        "OK revokeCert",
        "OK revoking again: alreadyRevoked",
        "OK keyChange: the new key signs for the account, the old one is unknown",
        "OK account deactivated; its key is refused after",
        "DONE",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    // The chain the library downloaded verifies against the network root.
    let (ok, text) = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            srv.state.join("root.pem").to_str().unwrap(),
            "-untrusted",
            "python-acme-chain.pem",
            "python-acme-chain.pem",
        ],
    );
    assert!(ok && text.contains("OK"), "{text}");
    // The revocation reached the server's list.
    let list = cli_ok(&["list", "--state", srv.state_arg(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let certs = v["certificates"].as_array().unwrap();
    assert!(
        certs
            .iter()
            .any(|c| c["device_id"] == dev && c["revoked"] == true),
        "{list}"
    );
}
