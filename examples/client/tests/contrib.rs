//! The network-change hooks in `contrib/` (NetworkManager dispatcher, networkd-dispatcher) parse
//! as POSIX sh, and run `lantrust-client sync-nss --state STATE [LANTRUST_ARGS…]` as the configured
//! user with that user's HOME on the events that change the network, and on no other. The client
//! is a fake on PATH that records who ran it, with which HOME and which arguments.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lantrust_test_support::output_text as text;

const NM: &str = "contrib/networkmanager/90-lantrust-sync-nss";
const NETWORKD: &str = "contrib/networkd-dispatcher/50-lantrust-sync-nss";

fn script(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn stdout_of(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fake `lantrust-client` in `dir/bin` that appends `user`, `HOME=…` and its arguments, one a
/// line, then `--`, to `dir/log/calls`. World-readable, so another user can run it.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        std::fs::create_dir_all(d.join("log")).unwrap();
        std::fs::set_permissions(d.join("log"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let fake = d.join("bin/lantrust-client");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\n{{ id -un; echo \"HOME=$HOME\"; printf '%s\\n' \"$@\"; echo --; }} >> {}\n",
                d.join("log/calls").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    /// Runs `script ARGS` with `env`, the fake first on PATH and the config `conf`.
    fn run(&self, rel: &str, args: &[&str], env: &[(&str, &str)], conf: &str) -> Output {
        let d = self.dir.path();
        let conf_file = d.join("conf");
        std::fs::write(&conf_file, conf).unwrap();
        let path = format!(
            "{}:{}",
            d.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg(script(rel))
            .args(args)
            .env("PATH", path)
            .env("LANTRUST_SYNC_NSS_CONF", &conf_file)
            .env_remove("STATE")
            .env_remove("IFACE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// The calls recorded since the last `take` (each: user, HOME=…, arguments…).
    fn take(&self) -> Vec<Vec<String>> {
        let log = self.dir.path().join("log/calls");
        let s = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        s.split("--\n")
            .filter(|c| !c.is_empty())
            .map(|c| c.lines().map(str::to_string).collect())
            .collect()
    }
}

#[test]
fn hooks_parse_as_posix_sh() {
    for rel in [NM, NETWORKD] {
        for sh in ["sh", "dash", "bash"] {
            if sh != "sh" && !lantrust_test_support::have(sh) {
                continue;
            }
            let out = Command::new(sh)
                .arg("-n")
                .arg(script(rel))
                .output()
                .unwrap();
            assert!(out.status.success(), "{sh} -n {rel}: {}", text(&out));
        }
        let mode = std::fs::metadata(script(rel)).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{rel} must be executable");
    }
}

#[test]
fn hooks_run_sync_nss_as_the_user_on_network_changes_only() {
    let fake = Fake::new();
    let me = stdout_of("id", &["-un"]);
    let my_home = stdout_of("getent", &["passwd", &me]);
    let my_home = my_home.split(':').nth(5).unwrap().to_string();
    let conf = format!(
        "LANTRUST_USER={me}\nLANTRUST_STATE=/srv/pins\nLANTRUST_ARGS='--nss-db /p/one --nss-db /p/two'\n"
    );
    let expected = vec![
        me.clone(),
        format!("HOME={my_home}"),
        "sync-nss".into(),
        "--state".into(),
        "/srv/pins".into(),
        "--nss-db".into(),
        "/p/one".into(),
        "--nss-db".into(),
        "/p/two".into(),
    ];

    // NetworkManager: $1 = interface, $2 = action.
    for action in ["up", "down", "dhcp4-change", "connectivity-change"] {
        let out = fake.run(NM, &["eth0", action], &[], &conf);
        assert!(out.status.success(), "{action}: {}", text(&out));
        assert_eq!(fake.take(), std::slice::from_ref(&expected), "{action}");
    }
    for action in ["pre-up", "pre-down", "hostname", ""] {
        let out = fake.run(NM, &["eth0", action], &[], &conf);
        assert!(out.status.success(), "{action}: {}", text(&out));
        assert!(fake.take().is_empty(), "{action} must not sync");
    }
    // networkd-dispatcher: $IFACE, $STATE.
    for state in ["routable", "off", "no-carrier", "degraded"] {
        let out = fake.run(NETWORKD, &[], &[("IFACE", "eth0"), ("STATE", state)], &conf);
        assert!(out.status.success(), "{state}: {}", text(&out));
        assert_eq!(fake.take(), std::slice::from_ref(&expected), "{state}");
    }
    for state in ["configuring", "carrier", ""] {
        let out = fake.run(NETWORKD, &[], &[("IFACE", "eth0"), ("STATE", state)], &conf);
        assert!(out.status.success(), "{state}: {}", text(&out));
        assert!(fake.take().is_empty(), "{state} must not sync");
    }

    // Defaults: the state under the user's home, no extra arguments.
    let out = fake.run(NM, &["wlan0", "up"], &[], &format!("LANTRUST_USER={me}\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fake.take(),
        [vec![
            me.clone(),
            format!("HOME={my_home}"),
            "sync-nss".into(),
            "--state".into(),
            format!("{my_home}/.local/state/lantrust-client"),
        ]]
    );

    // Not configured: nothing runs, and it says what to set.
    for rel in [NM, NETWORKD] {
        let out = fake.run(rel, &["eth0", "up"], &[("STATE", "routable")], "");
        assert!(out.status.success(), "{}", text(&out));
        assert!(fake.take().is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("set LANTRUST_USER"),
            "{}",
            text(&out)
        );
    }

    // Run by root (as the dispatchers do) for another user: that user, with that user's HOME.
    if me == "root" && lantrust_test_support::have("runuser") {
        let home = stdout_of("getent", &["passwd", "nobody"]);
        let home = home.split(':').nth(5).unwrap().to_string();
        for (rel, args, env) in [
            (NM, &["eth0", "up"][..], &[][..]),
            (NETWORKD, &[][..], &[("STATE", "routable")][..]),
        ] {
            let out = fake.run(rel, args, env, "LANTRUST_USER=nobody\nLANTRUST_STATE=/s\n");
            assert!(out.status.success(), "{}", text(&out));
            assert_eq!(
                fake.take(),
                [vec![
                    "nobody".to_string(),
                    format!("HOME={home}"),
                    "sync-nss".into(),
                    "--state".into(),
                    "/s".into(),
                ]],
                "{rel}"
            );
        }
    } else {
        eprintln!("SKIPPED (part): not root, switching to another user not exercised");
    }
}
