//! `serve --config FILE` and `config check FILE` with the real binary: an unknown key is refused
//! with its line, and the command line beats the environment, which beats the file.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::process::{Command, Stdio};

use common::*;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn unknown_key_is_refused_with_file_and_line() {
    let dir = temp_dir("config-unknown");
    let f = write(
        dir.path(),
        "server.toml",
        "# lantrust\nstate = \"/var/lib/lantrust\"\nlisen = \"0.0.0.0:443\"\n",
    );
    for args in [vec!["serve", "--config", &f], vec!["config", "check", &f]] {
        let out = cli(&args);
        assert!(!out.status.success(), "{args:?} accepted an unknown key");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{f}:3: unknown key `lisen`: `lantrust-server serve` has no --lisen flag; did you mean `listen`?"
            )),
            "{args:?}: {err}"
        );
    }
    // A bad value names its line and the flag parser's complaint.
    let f = write(
        dir.path(),
        "bad.toml",
        "state = \"/s\"\nlisten = \"127.0.0.1:1\"\ncert-days = 365\n",
    );
    let out = cli(&["config", "check", &f]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{f}:3: `cert-days`: invalid value '365'")),
        "{err}"
    );
    // A required setting missing from file, environment and command line.
    let f = write(dir.path(), "partial.toml", "state = \"/s\"\n");
    let out = cli(&["config", "check", &f]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen <ADDR>"));
}

/// `serve --config` with the listen address from the file, then overridden by the environment,
/// then by the command line: the server answers on the port that should win.
#[test]
fn flags_beat_environment_beat_file() {
    let dir = temp_dir("config-order");
    let state = init_state(dir.path());
    let (file_port, env_port, cli_port) = (free_port(), free_port(), free_port());
    let f = write(
        dir.path(),
        "server.toml",
        &format!(
            "state = {:?}\nlisten = \"127.0.0.1:{file_port}\"\ncert-days = 7\nauto-approve = true\n",
            state.to_str().unwrap()
        ),
    );
    let check = cli_ok(&["config", "check", &f]);
    assert!(
        check.contains(&format!("listen = \"127.0.0.1:{file_port}\"  # {f}:2")),
        "{check}"
    );
    assert!(
        check.contains(&format!("auto-approve = true  # {f}:4")),
        "{check}"
    );
    assert!(check.contains("http01-port = 80  # default"), "{check}");

    let serve = |env: Option<u16>, flag: Option<u16>| {
        let mut c = Command::new(BIN);
        c.args(["serve", "--config", &f]);
        if let Some(p) = flag {
            c.args(["--listen", &format!("127.0.0.1:{p}")]);
        }
        if let Some(p) = env {
            c.env("LANTRUST_SERVER_LISTEN", format!("127.0.0.1:{p}"));
        }
        Proc::spawn(c.stdout(Stdio::null()).stderr(Stdio::null()))
    };
    let directory_ok = |port: u16| {
        let root = std::fs::read_to_string(state.join("root.pem")).unwrap();
        let r = agent(&root)
            .get(&format!("https://127.0.0.1:{port}/acme/directory"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    {
        let _p = serve(None, None);
        wait_for_port(file_port);
        directory_ok(file_port);
    }
    {
        let _p = serve(Some(env_port), None);
        wait_for_port(env_port);
        directory_ok(env_port);
    }
    {
        let _p = serve(Some(env_port), Some(cli_port));
        wait_for_port(cli_port);
        directory_ok(cli_port);
    }
    // The environment shows up in `config check` too.
    let out = Command::new(BIN)
        .args(["config", "check", &f])
        .env("LANTRUST_SERVER_CERT_DAYS", "9")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cert-days = 9  # environment LANTRUST_SERVER_CERT_DAYS"),
        "{text}"
    );
}

/// Auto-approve set in the service's environment (a unit drop-in, OpenWrt's procd environment)
/// turns off the owner's approval for every LAN key: `serve` says so at start, naming where it
/// came from, instead of a bare `auto_approve=true` among the start-up fields.
#[test]
fn auto_approve_from_the_environment_is_a_warning_naming_it() {
    let dir = temp_dir("config-auto-approve");
    let state = init_state(dir.path());
    let port = free_port();
    let log = dir.path().join("serve.log");
    let _p = Proc::spawn(
        Command::new(BIN)
            .args(["serve", "--state", state.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("LANTRUST_SERVER_AUTO_APPROVE", "true")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    wait_for_port(port);
    // The warning follows the bind by microseconds: look until it is there (or 10 s passed).
    let start = std::time::Instant::now();
    let mut text = String::new();
    while start.elapsed() < std::time::Duration::from_secs(10) {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("auto-approve is ON") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        text.contains("WARN")
            && text.contains("auto-approve is ON")
            && text.contains("LANTRUST_SERVER_AUTO_APPROVE"),
        "{text}"
    );
}
