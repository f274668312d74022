//! `lantrust-device enroll` against Debian's Pebble (nonce rejection left on): the built binary
//! obtains a certificate for `<id>.local` and `<id>.<domain>`, saves the key 0600, renews with a
//! fresh key, renames (revoking the old name) and factory-resets (revoking, wiping).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

mod common;

use std::process::Command;

use common::*;

fn device(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lantrust-device"))
        .args(args)
        .output()
        .unwrap()
}

fn leaf_names(chain: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.pem"), chain).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-serial", "-in"])
        .arg(dir.path().join("c.pem"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn enroll_renew_rename_reset_against_pebble() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pebble) = start_pebble(dir.path()) else {
        return;
    };
    let state = dir.path().join("state");
    let state_s = state.to_str().unwrap();
    let http01 = format!("127.0.0.1:{}", pebble.http01_port);
    let ca = dir.path().join("ca.pem");
    let out = device(&[
        "enroll",
        "--state",
        state_s,
        "--id",
        "device-12cd56",
        "--domain",
        "example.com",
        "--directory",
        &pebble.directory,
        "--root",
        ca.to_str().unwrap(),
        "--http01-listen",
        &http01,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("account created"), "{stderr}");
    assert!(
        stderr.contains("serving Http01 challenge for device-12cd56.local"),
        "{stderr}"
    );

    let net = state.join("networks/127.0.0.1");
    let chain = std::fs::read_to_string(net.join("chain.pem")).unwrap();
    let facts = leaf_names(&chain);
    assert!(facts.contains("DNS:device-12cd56.local"), "{facts}");
    assert!(facts.contains("DNS:device-12cd56.example.com"), "{facts}");
    use std::os::unix::fs::PermissionsExt;
    for f in ["key.pem", "account.key"] {
        let mode = std::fs::metadata(net.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // The key is a P-384 PKCS#8 key matching the certificate (openssl compares the public keys).
    let k = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(net.join("key.pem"))
        .output()
        .unwrap();
    let c = Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(net.join("chain.pem"))
        .output()
        .unwrap();
    assert!(
        k.status.success() && k.stdout == c.stdout,
        "key does not match the certificate"
    );
    let key1 = std::fs::read(net.join("key.pem")).unwrap();

    // renew: a new certificate from a fresh key (§4.11).
    let out = device(&["renew", "--state", state_s, "--http01-listen", &http01]);
    assert!(out.status.success(), "{}", text(&out));
    let chain2 = std::fs::read_to_string(net.join("chain.pem")).unwrap();
    assert_ne!(chain, chain2);
    assert_ne!(key1, std::fs::read(net.join("key.pem")).unwrap());

    // rename (§4.7): revokes the old certificate, enrolls the new name.
    let out = device(&[
        "rename",
        "--state",
        state_s,
        "--new-id",
        "device-12cd57",
        "--http01-listen",
        &http01,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked serial"),
        "{}",
        text(&out)
    );
    let facts = leaf_names(&std::fs::read_to_string(net.join("chain.pem")).unwrap());
    assert!(
        facts.contains("DNS:device-12cd57.local") && !facts.contains("12cd56"),
        "{facts}"
    );

    let out = device(&["status", "--state", state_s, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], "device-12cd57");

    // serve: HTTPS with the issued certificate; renewal (forced every 2 s here) swaps in a new
    // certificate without a restart, and the http-01 port is reused by each renewal.
    let port = free_port();
    let mut serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_lantrust-device"))
            .args([
                "serve",
                "--state",
                state_s,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--http01-listen",
                &http01,
                "--renew-every",
                "2",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let served = |port: u16| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("openssl s_client -connect 127.0.0.1:{port} -servername device-12cd57.local </dev/null 2>/dev/null | openssl x509 -noout -serial"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches("serial=")
            .to_ascii_lowercase()
    };
    let meta_serial = || {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(net.join("meta.json")).unwrap()).unwrap();
        m["serial"]
            .as_str()
            .unwrap()
            .trim_start_matches("00")
            .to_string()
    };
    let first = served(port);
    assert_eq!(first.trim_start_matches("00"), meta_serial());
    let start = std::time::Instant::now();
    let mut renewals = 0;
    let mut seen = first;
    while renewals < 2 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no renewal while serving"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = served(port);
        if !now.is_empty() && now != seen {
            renewals += 1;
            seen = now;
        }
    }
    let _ = serve.0.kill();
    let _ = serve.0.wait();

    // reset (§4.5): revoke then wipe.
    let out = device(&["reset", "--state", state_s]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked serial"),
        "{}",
        text(&out)
    );
    assert!(!state.join("networks").exists());
    // Serving without a certificate is an error that says what to do.
    let out = device(&["serve", "--state", state_s, "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("enroll"),
        "{}",
        text(&out)
    );
}
