//! Shared helpers: run the built binary, an http-01 responder, a ureq agent trusting the root.
//! The generic pieces live in lantrust-test-support; this module keeps the names the server's
//! tests use and adds what is specific to `lantrust-server`.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use lantrust_test_support::acme::{call, header};
pub use lantrust_test_support::http01::http01_responder;
pub use lantrust_test_support::{Proc, free_port, have, now, wait_for_port};

pub const BIN: &str = env!("CARGO_BIN_EXE_lantrust-server");

/// Run `lantrust-server ARGS`, returning the output (not checking the status).
pub fn cli(args: &[&str]) -> Output {
    lantrust_test_support::run(BIN, args)
}

/// Run `lantrust-server ARGS` and require success; returns stdout.
pub fn cli_ok(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "lantrust-server {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh, unique temporary directory.
/// `(device ID, approval state)` of every device, in `lantrust-server list --json` order.
pub fn device_states(state: &str) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&cli_ok(&["list", "--state", state, "--json"])).unwrap();
    v["devices"]
        .as_array()
        .expect("`list --json` has a `devices` array")
        .iter()
        .map(|d| {
            (
                d["device_id"].as_str().unwrap().to_string(),
                d["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    lantrust_test_support::temp_dir(&format!("server-{tag}"))
}

/// A running server on 127.0.0.1 with its state directory.
pub struct Served {
    pub state: PathBuf,
    pub port: u16,
    pub _proc: Proc,
}

impl Served {
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/acme/directory", self.port)
    }
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
    pub fn state_arg(&self) -> &str {
        self.state.to_str().unwrap()
    }
}

/// `init` a network `router` / `home.arpa` with 127.0.0.1 in `dir/tag`, with `extra` arguments
/// (e.g. `--store URL`); the output, not checked.
pub fn init_in(dir: &Path, tag: &str, extra: &[&str]) -> Output {
    let state = dir.join(tag);
    let mut args = vec![
        "init",
        "--state",
        state.to_str().unwrap(),
        "--name",
        "router",
        "--domain",
        "home.arpa",
        "--ip",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

/// [`init_in`] `dir/state` with `extra` arguments, required to succeed; returns the state dir.
pub fn init_state_with(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = init_in(dir, "state", extra);
    assert!(
        out.status.success(),
        "lantrust-server init {extra:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("state")
}

/// `init` a network `router` / `home.arpa` with 127.0.0.1 in `dir/state`; returns the state dir.
pub fn init_state(dir: &Path) -> PathBuf {
    init_state_with(dir, &[])
}

/// [`init_state`] in `dir`, then `serve` it on a free port of 127.0.0.1 with `extra` arguments,
/// logging to `dir/serve.log`.
pub fn init_and_serve(dir: &Path, extra: &[&str]) -> Served {
    let state = init_state(dir);
    let s = state.to_str().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut args = vec!["serve", "--state", s, "--listen", &listen];
    args.extend_from_slice(extra);
    let proc = Proc::spawn(
        Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log),
    );
    wait_for_port(port);
    Served {
        state,
        port,
        _proc: proc,
    }
}

/// A ureq agent trusting only `root_pem`.
pub fn agent(root_pem: &str) -> ureq::Agent {
    let root = lantrust_ca::certificate_from_pem(root_pem).unwrap();
    lantrust_test_support::acme::agent(lantrust_ca::certificate_to_der(&root).unwrap())
}

/// Run `openssl ARGS` in `dir`, returning (success, stdout+stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    lantrust_test_support::openssl_output(dir, args)
}

/// Wait until `pending --json` lists `device`.
pub fn wait_pending(state: &str, device: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let out = cli_ok(&["pending", "--state", state, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if v.as_array()
            .unwrap()
            .iter()
            .any(|d| d["device_id"] == device)
        {
            return;
        }
        if start.elapsed() >= limit {
            let log = std::fs::read_to_string(Path::new(state).with_file_name("serve.log"))
                .unwrap_or_default();
            panic!("{device} never appeared in `pending`: {out}\nserver log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `serve` of `state` on 127.0.0.1:`port` as `https://router.home.arpa:PORT`, approving every
/// device at once, with the http-01 ports of `devices` (`--resolve`); logs to `dir/serve.log`.
pub fn serve_auto_approve(dir: &Path, state: &Path, port: u16, devices: &[(&str, u16)]) -> Proc {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--state".into(),
        state.to_str().unwrap().into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--url".into(),
        format!("https://router.home.arpa:{port}"),
        "--auto-approve".into(),
    ];
    for (id, http) in devices {
        args.extend(lantrust_test_support::bins::resolve_args(id, *http));
    }
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let p = Proc::spawn(
        Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log),
    );
    wait_for_port(port);
    p
}

/// `lantrust-device enroll` of `id` (its state in `dir/dev_state`) with the server of
/// [`serve_auto_approve`] on `port`, answering http-01 on 127.0.0.1:`http`. Requires success (the
/// panic shows the device's output and the server's log); returns the server's log.
pub fn enroll_ok(
    bins: &lantrust_test_support::bins::Binaries,
    dir: &Path,
    dev_state: &str,
    id: &str,
    port: u16,
    http: u16,
) -> String {
    let out = Command::new(bins.path("lantrust-device"))
        .args(["enroll", "--state"])
        .arg(dir.join(dev_state))
        .args(["--id", id, "--domain", "home.arpa"])
        .args([
            "--directory",
            &format!("https://router.home.arpa:{port}/acme/directory"),
            "--resolve",
            &format!("router.home.arpa=127.0.0.1:{port}"),
        ])
        .args(["--http01-listen", &format!("127.0.0.1:{http}")])
        .args(["--timeout", "60"])
        .output()
        .unwrap();
    let serve_log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\nserve:\n{serve_log}",
        lantrust_test_support::output_text(&out)
    );
    serve_log
}
