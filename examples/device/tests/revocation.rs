//! Rename and factory reset revoke EVERY certificate the device still holds for the old name
//! (draft §4.5, §4.7 MUST), not only the latest, against the real `lantrust-server` on
//! loopback: enroll, renew twice (three valid certificates for one name), `rename`, and every
//! earlier serial is in the server's /crl while the new one is not; `reset` then revokes the new
//! one too.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::io::Read;
use std::path::Path;

use der::Decode;
use lantrust_test_support::bins::{Binaries, Network};
use lantrust_test_support::{free_port, output_text as text};

/// The serials (hex, no leading zeros) in the server's /crl now.
fn crl_serials(net: &Network) -> Vec<String> {
    let root_pem = std::fs::read_to_string(net.state.join("root.pem")).unwrap();
    let roots = lantrust_cli::pem_certs(root_pem.as_bytes()).unwrap();
    let resolve: lantrust_cli::ResolveOverride = net.resolve().parse().unwrap();
    let agent = lantrust_cli::tls::agent(&roots, &[resolve]).unwrap();
    let mut der = Vec::new();
    agent
        .get(&format!("https://{}:{}/crl", net.url_host, net.port))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut der)
        .unwrap();
    let crl = x509_cert::crl::CertificateList::from_der(&der).unwrap();
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| norm(&hex::encode(r.serial_number.as_bytes())))
        .collect()
}

fn norm(serial: &str) -> String {
    serial.trim_start_matches('0').to_ascii_lowercase()
}

/// The current certificate's serial, from `status --json`.
fn current_serial(bin: &Binaries, state: &Path) -> String {
    let out = bin.run(
        "lantrust-device",
        &["status", "--state", state.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    norm(v[0]["serial"].as_str().unwrap())
}

#[test]
fn rename_and_reset_revoke_every_certificate_of_the_old_name() {
    if !lantrust_test_support::require_programs(&["openssl"], "device revocation") {
        return;
    }
    let bin = Binaries::build(env!("CARGO_BIN_EXE_lantrust-device"), &["lantrust-server"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let http = free_port();
    let net = Network::start(
        &bin,
        d,
        "home",
        &[("cam-1", http), ("cam-2", http)],
        "lantrust.local",
    );
    let state = net.enroll(d, "cam-1", http);
    let s = state.to_str().unwrap();
    let listen = format!("127.0.0.1:{http}");
    let mut old = vec![current_serial(&bin, &state)];
    for _ in 0..2 {
        let out = bin.run(
            "lantrust-device",
            &["renew", "--state", s, "--http01-listen", &listen],
        );
        assert!(out.status.success(), "{}", text(&out));
        old.push(current_serial(&bin, &state));
    }
    old.dedup();
    assert_eq!(old.len(), 3, "three certificates for cam-1: {old:?}");
    assert!(crl_serials(&net).is_empty());

    // Rename: every certificate of cam-1 is revoked, then cam-2 is issued (pre-approved).
    let out = net.approve("cam-2");
    assert!(out.status.success(), "{}", text(&out));
    let out = bin.run(
        "lantrust-device",
        &[
            "rename",
            "--state",
            s,
            "--new-id",
            "cam-2",
            "--http01-listen",
            &listen,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked 3 certificate(s) for cam-1"),
        "{}",
        text(&out)
    );
    let listed = crl_serials(&net);
    for serial in &old {
        assert!(listed.contains(serial), "{serial} not in /crl {listed:?}");
    }
    let new = current_serial(&bin, &state);
    assert!(
        !listed.contains(&new),
        "the new name's certificate must stay valid"
    );

    // Factory reset: the new certificate is revoked too.
    let out = bin.run("lantrust-device", &["reset", "--state", s]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(crl_serials(&net).contains(&new));
}
