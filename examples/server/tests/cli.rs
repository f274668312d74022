//! The offline commands of the built binary: init (files, modes, refusal to overwrite), check-csr
//! against openssl-made CSRs, the admin commands on a fresh state, and the discovery output checked
//! by the real tools that consume it (dnsmasq --test, unbound-checkconf).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

fn init(dir: &Path) -> String {
    let state = dir.join("state");
    let s = state.to_str().unwrap().to_string();
    cli_ok(&[
        "init",
        "--state",
        &s,
        "--name",
        "router",
        "--domain",
        "home.arpa",
        "--domain",
        "lan.example.org",
        "--ip",
        "192.168.1.1",
    ]);
    s
}

#[test]
fn init_writes_root_key_0600_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    let s = init(dir.path());
    let state = Path::new(&s);
    let mode = std::fs::metadata(state.join("root-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dmode = std::fs::metadata(state).unwrap().permissions().mode();
    assert_eq!(dmode & 0o077, 0, "state dir readable by others: {dmode:o}");
    assert!(state.join("lantrust.db").exists());
    let key = std::fs::read_to_string(state.join("root-key.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 expected"
    );

    if have("openssl") {
        let (ok, text) = openssl(state, &["x509", "-in", "root.pem", "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(
            text.contains("DNS:router.local, DNS:router.home.arpa, DNS:router.lan.example.org, IP Address:192.168.1.1"),
            "{text}"
        );
        assert!(text.contains("NIST CURVE: P-384"), "{text}");
        assert!(text.contains("Name Constraints"), "{text}");
        // The key file matches the certificate.
        let (ok, a) = openssl(state, &["pkey", "-in", "root-key.pem", "-pubout"]);
        assert!(ok);
        let (ok, b) = openssl(state, &["x509", "-in", "root.pem", "-noout", "-pubkey"]);
        assert!(ok);
        assert_eq!(a, b);
    } else {
        lantrust_test_support::skip_part("openssl missing, root contents not inspected");
    }

    let before = std::fs::read(state.join("root.pem")).unwrap();
    let out = cli(&[
        "init", "--state", &s, "--name", "other", "--domain", "x.arpa",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(state.join("root.pem")).unwrap(), before);

    // Bad arguments are explained.
    let other = dir.path().join("other");
    let o = other.to_str().unwrap();
    let out = cli(&["init", "--state", o, "--name", "bad_name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a DNS label"));
    let out = cli(&["init", "--state", o, "--name", "r", "--ip", "8.8.8.8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a private"));
    let out = cli(&["init", "--state", o, "--name", "r", "--years", "11"]);
    assert!(!out.status.success());
    assert!(!other.join("lantrust.db").exists());
}

#[test]
fn check_csr_passes_good_requests_and_lists_every_violation() {
    if !have("openssl") {
        lantrust_test_support::skip(
            "openssl is not installed; check-csr test needs CSRs made by openssl",
        );
        return;
    }
    let dir = temp_dir("csr");
    let d = dir.path();
    let req = |key_args: &[&str], subj: &str, san: &str, out: &str| {
        let mut args = vec!["req", "-new", "-nodes", "-keyout", "k.pem"];
        args.extend_from_slice(key_args);
        args.extend_from_slice(&["-subj", subj, "-addext", san, "-out", out]);
        let (ok, t) = openssl(d, &args);
        assert!(ok, "{t}");
    };
    let p384 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];
    let p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    req(
        &p384,
        "/CN=dev1",
        "subjectAltName=DNS:dev1.local,DNS:dev1.home.arpa",
        "good.csr",
    );
    req(
        &p256,
        "/CN=other",
        "subjectAltName=DNS:dev1.local,DNS:dev1.example.com",
        "bad.csr",
    );
    req(
        &p384,
        "/",
        "subjectAltName=DNS:dev1.local,DNS:dev1.home.arpa",
        "generic.csr",
    );
    let check = |extra: &[&str], file: &str| {
        let f = d.join(file);
        let mut args = vec![
            "check-csr",
            "--name",
            "router",
            "--domain",
            "home.arpa",
            "--json",
        ];
        args.extend_from_slice(extra);
        args.push(f.to_str().unwrap());
        let out = cli(&args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, v) = check(&[], "good.csr");
    assert_eq!(code, Some(0));
    assert_eq!(v["device_id"], "dev1");
    assert_eq!(
        v["dns_names"],
        serde_json::json!(["dev1.local", "dev1.home.arpa"])
    );

    let (code, v) = check(&[], "bad.csr");
    assert_eq!(code, Some(1));
    assert_eq!(v["ok"], false);
    let all = v["violations"].to_string();
    assert!(v["violations"].as_array().unwrap().len() >= 3, "{all}");
    assert!(all.contains("P-256"), "{all}");
    assert!(all.contains("dev1.example.com"), "{all}");

    // Empty subject: refused by default, accepted by the generic-client switch.
    let (code, _) = check(&[], "generic.csr");
    assert_eq!(code, Some(1));
    let (code, v) = check(&["--generic-clients"], "generic.csr");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["device_id"], "dev1");

    // Human output lists each violation; garbage is a clear rejection, a missing file exit 2.
    let f = d.join("bad.csr");
    let out = cli(&[
        "check-csr",
        "--name",
        "router",
        "--domain",
        "home.arpa",
        f.to_str().unwrap(),
    ]);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.starts_with("REJECTED"), "{t}");
    assert!(
        t.lines().filter(|l| l.starts_with("  - ")).count() >= 3,
        "{t}"
    );
    std::fs::write(d.join("junk"), b"\x30\x03\x02\x01").unwrap();
    let (code, v) = check(&[], "junk");
    assert_eq!(code, Some(1));
    assert!(
        v["violations"][0]
            .as_str()
            .unwrap()
            .contains("not a valid DER"),
        "{v}"
    );
    let out = cli(&["check-csr", "--name", "router", "/nonexistent.csr"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn admin_commands_on_a_fresh_state() {
    let dir = temp_dir("admin");
    let s = init(dir.path());
    assert!(cli_ok(&["pending", "--state", &s]).contains("no device is waiting"));
    let out = cli_ok(&["approve", "--state", &s, "--json", "Thermo-1"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["device_id"], "thermo-1");
    assert_eq!(v["previous"], serde_json::Value::Null);
    cli_ok(&["deny", "--state", &s, "cam-2"]);
    let out = cli_ok(&["revoke", "--state", &s, "--json", "thermo-1"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["certificates_revoked"], 0);
    let states = device_states(&s);
    assert_eq!(
        states,
        [
            ("cam-2".to_string(), "denied".to_string()),
            ("thermo-1".to_string(), "revoked".to_string())
        ]
    );
    let out = cli(&["approve", "--state", &s, "not.a.label"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&["list", "--state", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a lantrust state directory"));
}

#[test]
fn discovery_output_is_accepted_by_dnsmasq_and_unbound() {
    let dir = temp_dir("disc");
    let s = init(dir.path());

    // Raw option 125, decoded by hand (RFC 3925 §4): code, length, enterprise, data length,
    // sub-options 1 (FQDN) and 2 (directory URL).
    let hex = cli_ok(&[
        "dhcp-option",
        "--state",
        &s,
        "--format",
        "raw",
        "--port",
        "8443",
    ]);
    let hex = hex.trim();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes[0], 125);
    assert_eq!(usize::from(bytes[1]), bytes.len() - 2);
    assert_eq!(bytes[2..6], 55357u32.to_be_bytes());
    assert_eq!(usize::from(bytes[6]), bytes.len() - 7);
    let fqdn = b"router.home.arpa";
    assert_eq!(bytes[7], 1);
    assert_eq!(usize::from(bytes[8]), fqdn.len());
    assert_eq!(&bytes[9..9 + fqdn.len()], fqdn);
    let rest = &bytes[9 + fqdn.len()..];
    let url = b"https://router.home.arpa:8443/acme/directory";
    assert_eq!((rest[0], usize::from(rest[1])), (2, url.len()));
    assert_eq!(&rest[2..], url);

    let zone = cli_ok(&["dns-records", "--state", &s, "--format", "zone"]);
    assert!(zone.contains("_acme-server._tcp.home.arpa. 3600 IN SRV 0 0 443 router.home.arpa."));
    assert!(zone.contains("_acme-server._tcp.home.arpa. 3600 IN TXT \"path=/acme/directory\""));
    assert!(zone.contains(
        "_acme-server._tcp.lan.example.org. 3600 IN SRV 0 0 443 router.lan.example.org."
    ));
    assert!(zone.contains("router.home.arpa. 3600 IN A 192.168.1.1"));

    // Replicas (RFC 2782): one SRV record per replica, equal priority and weight, in both the
    // service and the instance form; the name is qualified with each domain, a full name kept.
    let args = |format: &'static str| {
        vec![
            "dns-records",
            "--state",
            &s,
            "--format",
            format,
            "--port",
            "8443",
            "--replica",
            "router",
            "--replica",
            "router:9443",
            "--replica",
            "router.home.arpa.:10443",
        ]
    };
    let zone = cli_ok(&args("zone"));
    for line in [
        "_acme-server._tcp.home.arpa. 3600 IN SRV 0 0 8443 router.home.arpa.",
        "_acme-server._tcp.home.arpa. 3600 IN SRV 0 0 9443 router.home.arpa.",
        "_acme-server._tcp.home.arpa. 3600 IN SRV 0 0 10443 router.home.arpa.",
        "_acme-server._tcp.lan.example.org. 3600 IN SRV 0 0 9443 router.lan.example.org.",
        "_acme-server._tcp.lan.example.org. 3600 IN SRV 0 0 10443 router.home.arpa.",
        "router._acme-server._tcp.home.arpa. 3600 IN SRV 0 0 9443 router.home.arpa.",
    ] {
        assert!(zone.lines().any(|l| l == line), "{line} missing:\n{zone}");
    }
    assert_eq!(zone.matches(" IN SRV ").count(), 2 * 2 * 3, "{zone}");
    for bad in ["acme2:0", "acme2:http", "cam.local:443", "bad_name"] {
        let out = cli(&["dns-records", "--state", &s, "--replica", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--replica"), "{bad}: {err}");
    }
    // A host the root does not name: devices would refuse it (§3.5).
    for other in ["acme2:9443", "router.corp.example", "ca.home.arpa"] {
        let out = cli(&["dns-records", "--state", &s, "--replica", other]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{other}: {err}");
        assert!(
            err.contains("router.local and router.<domain>"),
            "{other}: {err}"
        );
    }

    if have("dnsmasq") {
        for args in [
            vec!["dhcp-option", "--state", &s, "--format", "dnsmasq"],
            vec!["dns-records", "--state", &s, "--format", "dnsmasq"],
            args("dnsmasq"),
        ] {
            let conf = dir.path().join("dnsmasq.conf");
            std::fs::write(&conf, cli_ok(&args)).unwrap();
            let out = std::process::Command::new("dnsmasq")
                .args(["--test", "-C", conf.to_str().unwrap()])
                .output()
                .unwrap();
            let t = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && t.contains("syntax check OK"),
                "{args:?}: {t}"
            );
        }
    } else {
        lantrust_test_support::skip_part(
            "dnsmasq is not installed; dnsmasq output not syntax-checked",
        );
    }
    if have("unbound-checkconf") {
        let records = cli_ok(&["dns-records", "--state", &s, "--format", "unbound"]);
        let conf = dir.path().join("unbound.conf");
        let body: String = records
            .lines()
            .chain(cli_ok(&args("unbound")).lines())
            .map(|l| format!("  {l}\n"))
            .collect();
        std::fs::write(&conf, format!("server:\n{body}")).unwrap();
        let out = std::process::Command::new("unbound-checkconf")
            .arg(&conf)
            .output()
            .unwrap();
        let t = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success() && t.contains("no errors"), "{t}");
    } else {
        lantrust_test_support::skip_part(
            "unbound-checkconf is not installed; unbound output not checked",
        );
    }
}

/// A reader that went away (`lantrust-server pending | grep -q cam-1`, `... | head -1`) ends the
/// command quietly with status 0; `println!` used to panic on the broken pipe.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = temp_dir("pipe");
    let s = init(dir.path());
    // The read end is closed before the command starts: its first write gets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for args in [
        vec!["dns-records", "--state", &s, "--format", "zone"],
        vec!["list", "--state", &s],
        vec!["pending", "--state", &s, "--json"],
    ] {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .stdout(writer.try_clone().unwrap())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
