//! A spawn-mode run against the real `lantrust-server` binary: 60 devices at concurrency 8, zero
//! failures, exactly 60 certificates (the issued serials) in the server's store, a floor > 0.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::path::PathBuf;
use std::process::Command;

/// `lantrust-server`, built (incrementally) next to this package's binary so that it is never
/// stale (the same approach as examples/client/tests/e2e.rs).
fn server_bin() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_lantrust-loadgen"));
    let dir = me.parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "lantrust-server"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building lantrust-server failed");
    let bin = dir.join("lantrust-server");
    assert!(bin.is_file(), "{} missing after the build", bin.display());
    bin
}

#[test]
fn sixty_devices_zero_failures_exact_store() {
    let server = server_bin();
    let out = Command::new(env!("CARGO_BIN_EXE_lantrust-loadgen"))
        .args([
            "--devices",
            "60",
            "--concurrency",
            "8",
            "--floor-secs",
            "0.25",
        ])
        .args(["--progress", "10", "--json", "--server-bin"])
        .arg(&server)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "loadgen failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let r: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(r["mode"], "spawn");
    assert_eq!(r["attempted"], 60);
    assert_eq!(r["ok"], 60, "{stdout}");
    assert_eq!(r["failed"], 0, "{stdout}");
    assert_eq!(r["failures"].as_array().unwrap().len(), 0);
    assert_eq!(r["store"]["certificates"], 60);
    assert_eq!(r["store"]["missing_from_store"], 0);
    assert_eq!(r["store"]["unknown_in_store"], 0);
    assert_eq!(r["store"]["ok"], true);
    assert_eq!(r["passed"], true);
    // Two identifiers: each device answered two http-01 validations.
    assert_eq!(r["http01_served"], 120);
    // newAccount, newOrder, 2 authz fetches, 2 challenge answers, polls, finalize, certificate:
    // at least 9 signed requests, plus the directory GET (whose Replay-Nonce may spare the
    // newNonce HEAD).
    let signed = r["signed_requests_per_enrollment"].as_f64().unwrap();
    let requests = r["requests_per_enrollment"].as_f64().unwrap();
    assert!(signed >= 9.0, "{signed}");
    assert!(requests >= signed + 1.0, "{requests} vs {signed}");
    let lat = &r["latency_ms"];
    let (p50, p99, max) = (
        lat["p50"].as_f64().unwrap(),
        lat["p99"].as_f64().unwrap(),
        lat["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{lat}");
    assert!(r["issuances_per_sec"].as_f64().unwrap() > 0.0);
    let floor = &r["floor"];
    assert!(
        floor["issuances_per_sec"].as_f64().unwrap() > 0.0,
        "{floor}"
    );
    assert_eq!(floor["ops"].as_array().unwrap().len(), 7);
    assert_eq!(
        floor["signed_requests_per_issuance"].as_f64().unwrap(),
        signed
    );
    assert!(r["ratio"].as_f64().unwrap() > 0.0);
    // CPU accounting (Linux /proc): both sides used CPU; the bare crypto is part of it.
    let cpu_ratio = r["cpu_ratio"].as_f64().unwrap();
    assert!(cpu_ratio > 0.0 && cpu_ratio < 1.5, "{cpu_ratio}");
    assert!(r["server_cpu_secs"].as_f64().unwrap() > 0.0);
    assert!(r["client_cpu_secs"].as_f64().unwrap() > 0.0);
    // All 60 accounts come from 127.0.0.1: the server's per-source limits were lifted.
    let args: Vec<&str> = r["server_args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    if args.contains(&"--new-accounts-per-minute") {
        assert!(
            args.windows(2)
                .any(|w| w == ["--new-accounts-per-minute", "0"])
        );
    }
}

/// A server limit that refuses most of the load (`--server-arg` wins over the lifted limits):
/// each refusal is listed with the server's problem, the store holds exactly the one issued
/// certificate, and the exit status is 1.
#[test]
fn refused_enrollments_fail_the_run() {
    let server = server_bin();
    let help = Command::new(&server)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&help.stdout).contains("--new-accounts-per-minute") {
        lantrust_test_support::skip("this lantrust-server has no --new-accounts-per-minute limit");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lantrust-loadgen"))
        .args(["--devices", "3", "--concurrency", "1", "--no-floor"])
        .args(["--server-arg=--new-accounts-per-minute=1"])
        .args(["--progress", "0", "--json", "--server-bin"])
        .arg(&server)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let r: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(r["attempted"], 3);
    assert_eq!(r["ok"], 1, "{stdout}");
    assert_eq!(r["failed"], 2);
    assert_eq!(r["passed"], false);
    assert_eq!(r["store"]["certificates"], 1);
    assert_eq!(r["store"]["ok"], true);
    assert!(r["floor"].is_null());
    let args = r["server_args"].to_string();
    assert!(args.contains("--new-accounts-per-minute=1"), "{args}");
    assert!(
        !args.contains("\"--new-accounts-per-minute\",\"0\""),
        "{args}"
    );
    let failures = r["failures"].as_array().unwrap();
    let mut ids: Vec<&str> = failures
        .iter()
        .map(|f| {
            let e = f["error"].as_str().unwrap();
            assert!(e.contains("rateLimited"), "{e}");
            f["device_id"].as_str().unwrap()
        })
        .collect();
    ids.sort_unstable();
    // One worker enrolls in order: dev-0 takes the only token.
    assert_eq!(ids, ["dev-1", "dev-2"]);
}

#[test]
fn missing_server_binary_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lantrust-loadgen"))
        .args([
            "--devices",
            "1",
            "--server-bin",
            "/nonexistent/lantrust-server",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cargo build --release -p lantrust-server"),
        "{err}"
    );
}

#[test]
fn url_mode_refuses_a_missing_root_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_lantrust-loadgen"))
        .args(["--url", "https://127.0.0.1:1/acme/directory"])
        .args(["--root", "/nonexistent/root.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reading --root /nonexistent/root.pem"),
        "{err}"
    );
}
