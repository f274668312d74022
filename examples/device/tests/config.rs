//! `lantrust-device serve --config FILE` and `config check FILE` with the real binary.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lantrust-device");

#[test]
fn device_config_file_keys_lines_and_overrides() {
    let dir = lantrust_test_support::temp_dir("device-config");
    let f = dir.path().join("device.toml");
    std::fs::write(
        &f,
        "state = \"/var/lib/lantrust-device\"\nlisten = \"127.0.0.1:8443\"\nrenew-evry = 60\n",
    )
    .unwrap();
    let fs = f.to_str().unwrap();
    let state = dir.path().join("no-state");
    let st = state.to_str().unwrap();
    for args in [vec!["serve", "--config", fs], vec!["config", "check", fs]] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{fs}:3: unknown key `renew-evry`: `lantrust-device serve` has no --renew-evry flag; did you mean `renew-every`?"
            )),
            "{err}"
        );
    }
    std::fs::write(
        &f,
        format!("state = {st:?}\nlisten = \"127.0.0.1:8443\"\nrenew_every = 60\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", fs])
        .env("LANTRUST_DEVICE_LISTEN", "127.0.0.1:9443")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("state = {st:?}  # {fs}:1")),
        "{text}"
    );
    assert!(
        text.contains("listen = \"127.0.0.1:9443\"  # environment LANTRUST_DEVICE_LISTEN"),
        "{text}"
    );
    assert!(
        text.contains(&format!("renew-every = 60  # {fs}:3")),
        "{text}"
    );
    assert!(
        text.contains("http01-listen = \"0.0.0.0:80\"  # default"),
        "{text}"
    );
    // serve reads the file: the state directory it names is what it fails on (no enrollment).
    let out = Command::new(BIN)
        .args(["serve", "--config", fs])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(st), "{err}");
}
