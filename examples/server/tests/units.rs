//! The service files under `contrib/` (issue 15): the systemd units of the server and the device
//! pass `systemd-analyze verify` without a warning and score "OK" (exposure below 2.0) in
//! `systemd-analyze security`; the OpenWrt procd script, run against a recording stand-in for
//! procd's shell helpers, starts `serve --config` with the file, refuses a bad file, and the
//! command line it registers really serves.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use lantrust_test_support::bins::Binaries;

fn contrib(package: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(package)
        .join("contrib")
        .join(file)
}

#[test]
fn systemd_units_verify_and_are_hardened() {
    if !lantrust_test_support::require_programs(&["systemd-analyze"], "systemd unit checks") {
        return;
    }
    let bins = Binaries::build(BIN, &["lantrust-device"]);
    let dir = temp_dir("units");
    for (package, unit, bin) in [
        ("server", "lantrust-server.service", "lantrust-server"),
        ("device", "lantrust-device.service", "lantrust-device"),
    ] {
        let text = std::fs::read_to_string(contrib(package, unit)).unwrap();
        // `verify` insists that ExecStart's program exists: point it at the binary just built.
        let installed = format!("/usr/bin/{bin}");
        assert!(text.contains(&format!(
            "ExecStart={installed} serve --config /etc/lantrust/"
        )));
        let local = text.replace(&installed, bins.path(bin).to_str().unwrap());
        let path = dir.path().join(unit);
        std::fs::write(&path, local).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{unit}: {err}");
        // Unknown keys and bad values are only warnings to systemd: none may appear.
        let own: Vec<&str> = err.lines().filter(|l| l.contains(unit)).collect();
        assert!(own.is_empty(), "{unit}: {err}");

        // The exposure score: below 2.0 is systemd's "OK" band (threshold is tenths).
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{unit} exposure above 2.0:\n{report}");
        assert!(report.contains("Overall exposure level"), "{report}");
        for needle in [
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
            "StateDirectory=",
            "StateDirectoryMode=0700",
        ] {
            assert!(text.contains(needle), "{unit} lacks {needle}");
        }
        // The configuration example the unit reads passes `config check` (up to the state dir).
        let example = contrib(
            package,
            if package == "server" {
                "server.toml"
            } else {
                "device.toml"
            },
        );
        let out = Command::new(bins.path(bin))
            .args(["config", "check"])
            .arg(&example)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Stand-ins for OpenWrt's /lib/functions/procd.sh that record what the script registers.
const PROCD_SHIM: &str = r#"
procd_open_instance() { echo "open" >>"$LOG"; }
procd_set_param() { echo "$*" >>"$LOG"; }
procd_close_instance() { echo "close" >>"$LOG"; }
procd_add_reload_trigger() { echo "trigger $*" >>"$LOG"; }
. "$SCRIPT"
PROG="$BIN"
CONF="$CONFIG"
start_service
echo "rc=$?" >>"$LOG"
service_triggers
"#;

#[test]
fn procd_script_starts_serve_with_the_config() {
    let dir = temp_dir("procd");
    let state = init_state(dir.path());
    let port = free_port();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "state = {:?}\nlisten = \"127.0.0.1:{port}\"\n",
            state.to_str().unwrap()
        ),
    )
    .unwrap();
    let run = |config: &Path, log: &Path| {
        let out = Command::new("sh")
            .args(["-c", PROCD_SHIM])
            .env("SCRIPT", contrib("server", "lantrust-server.init"))
            .env("BIN", BIN)
            .env("CONFIG", config)
            .env("LOG", log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(log).unwrap()
    };
    let log = run(&config, &dir.path().join("good.log"));
    let lines: Vec<&str> = log.lines().collect();
    let command = format!("command {BIN} serve --config {}", config.display());
    assert_eq!(lines.first(), Some(&"open"), "{log}");
    assert!(lines.contains(&command.as_str()), "{log}");
    assert!(lines.contains(&"respawn 3600 5 5"), "{log}");
    assert!(
        lines.contains(&format!("file {}", config.display()).as_str()),
        "{log}"
    );
    assert!(lines.contains(&"close"), "{log}");
    assert!(lines.contains(&"rc=0"), "{log}");
    assert!(lines.contains(&"trigger lantrust-server"), "{log}");

    // The registered command line serves.
    let args: Vec<&str> = command.split(' ').skip(2).collect();
    let _p = Proc::spawn(
        Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port);
    let root = std::fs::read_to_string(state.join("root.pem")).unwrap();
    let r = agent(&root)
        .get(&format!("https://127.0.0.1:{port}/acme/directory"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);

    // A file with an unknown key: no instance, a failed start.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listne = \"127.0.0.1:1\"\n").unwrap();
    let log = run(&bad, &dir.path().join("bad.log"));
    assert!(!log.contains("open"), "{log}");
    assert!(log.contains("rc=1"), "{log}");
}
