//! Admin interface protection (issue 9): the state directory is private and the commands refuse
//! one that is not; the /admin HTTP endpoints answer only to the bearer token `init` wrote, and
//! an approval through them (via `approve --remote`) lets a waiting device finish.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use lantrust_acme::client::Event;
use lantrust_test_support::acme::device_client;
use lantrust_test_support::bins::resolve_args;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// `lantrust-server ARGS` must fail (exit 2) with `want` in its error.
fn refused(args: &[&str], want: &str) {
    let out = cli(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail: {err}");
    assert!(err.contains(want), "{args:?}: expected {want:?} in: {err}");
}

#[test]
fn init_makes_the_state_private_and_loose_permissions_are_refused() {
    let dir = temp_dir("admin-perms");
    let st = init_state(dir.path());
    let s = st.to_str().unwrap();
    assert_eq!(mode(&st), 0o700);
    for f in ["lantrust.db", "root-key.pem", "admin-token"] {
        assert_eq!(mode(&st.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&st.join("root.pem")), 0o644);
    let token = std::fs::read_to_string(st.join("admin-token")).unwrap();
    let token = token.trim_end();
    assert_eq!(token.len(), 64, "256 bits, hex: {token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    // A second init makes another token (they are random).
    let other = init_state(&dir.path().join("b"));
    assert_ne!(
        std::fs::read_to_string(other.join("admin-token")).unwrap(),
        std::fs::read_to_string(st.join("admin-token")).unwrap()
    );
    cli_ok(&["pending", "--state", s]);
    // SQLite's -wal/-shm files take the database's mode.
    for f in ["lantrust.db-wal", "lantrust.db-shm"] {
        let p = st.join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }

    // A group-writable directory: every command that uses it refuses, naming the fix.
    chmod(&st, 0o770);
    refused(&["pending", "--state", s], "chmod 700");
    refused(&["approve", "--state", s, "dev1"], "chmod 700");
    let port = free_port().to_string();
    refused(
        &[
            "serve",
            "--state",
            s,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        "chmod 700",
    );
    chmod(&st, 0o700);

    // A readable root key or admin token; a world-writable database.
    for (f, m) in [
        ("root-key.pem", 0o640),
        ("admin-token", 0o604),
        ("lantrust.db", 0o666),
    ] {
        let p = st.join(f);
        chmod(&p, m);
        refused(
            &["list", "--state", s],
            &format!("chmod 600 {}", p.display()),
        );
        refused(&["revoke", "--state", s, "dev1"], "other users");
        chmod(&p, 0o600);
    }
    // Nothing was decided while refused.
    let list: serde_json::Value =
        serde_json::from_str(&cli_ok(&["list", "--state", s, "--json"])).unwrap();
    assert_eq!(list["devices"], serde_json::json!([]));

    // init into an existing (world-readable) empty directory makes it private.
    let pre = dir.path().join("pre");
    std::fs::create_dir(&pre).unwrap();
    chmod(&pre, 0o755);
    cli_ok(&["init", "--state", pre.to_str().unwrap(), "--name", "gw"]);
    assert_eq!(mode(&pre), 0o700);
}

/// As root, show with a real unprivileged user (65534, nobody) that the state directory keeps
/// others out, while the same user can read an ordinary file (so the refusal is the permissions).
#[test]
fn another_user_cannot_read_the_state_directory() {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    if uid.trim() != "0" {
        lantrust_test_support::skip(
            "not running as root, so there is no second user to switch to (needs setpriv or runuser as root)",
        );
        return;
    }
    let as_nobody = |args: &[&str]| -> std::process::Output {
        if have("setpriv") {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .args(args)
                .output()
                .unwrap()
        } else {
            Command::new("runuser")
                .args(["-u", "nobody", "--"])
                .args(args)
                .output()
                .unwrap()
        }
    };
    if !have("setpriv") && !have("runuser") {
        lantrust_test_support::skip("neither setpriv nor runuser is installed");
        return;
    }
    let dir = temp_dir("admin-nobody");
    // The temporary directory itself is 0700; open it so only the state dir's modes count.
    chmod(dir.path(), 0o755);
    let st = init_state(dir.path());
    let control = dir.path().join("public.txt");
    std::fs::write(&control, "readable\n").unwrap();
    chmod(&control, 0o644);
    let ok = as_nobody(&["cat", control.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "control: nobody should read a 0644 file: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for target in [
        vec!["ls", st.to_str().unwrap()],
        vec!["cat", st.join("root-key.pem").to_str().unwrap()],
        vec!["cat", st.join("admin-token").to_str().unwrap()],
        vec!["cat", st.join("lantrust.db").to_str().unwrap()],
    ] {
        let out = as_nobody(&target);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{target:?} succeeded as nobody");
        assert!(err.contains("Permission denied"), "{target:?}: {err}");
    }
    // Even with the directory opened by mistake, the key and the token stay unreadable.
    chmod(&st, 0o755);
    for f in ["root-key.pem", "admin-token"] {
        let out = as_nobody(&["cat", st.join(f).to_str().unwrap()]);
        assert!(!out.status.success(), "{f} readable by nobody");
    }
    chmod(&st, 0o700);
}

/// GET or POST an admin path with an optional `Authorization` value.
fn admin_call(
    agent: &ureq::Agent,
    srv: &Served,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    let mut r = agent.request(method, &srv.url(path));
    if let Some(a) = auth {
        r = r.set("Authorization", a);
    }
    let (status, headers, body) = call(r.call());
    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, headers, v)
}

#[test]
fn http_admin_needs_the_token_and_its_approval_lets_a_waiting_device_finish() {
    let dir = temp_dir("admin-http");
    let (h_port, tokens) = http01_responder();
    let resolve = resolve_args("dev1", h_port);
    let srv = init_and_serve(dir.path(), &resolve.each_ref().map(String::as_str));
    let root_pem = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let agent = agent(&root_pem);
    let token = std::fs::read_to_string(srv.state.join("admin-token"))
        .unwrap()
        .trim()
        .to_string();
    let good = format!("Bearer {token}");
    let wrong = format!("Bearer {}", "0".repeat(64));

    // Without the token, nothing under /admin is reachable, not even a 404.
    for (method, path) in [
        ("GET", "/admin/pending"),
        ("GET", "/admin/devices"),
        ("POST", "/admin/devices/dev1/approve"),
        ("GET", "/admin/nonexistent"),
        ("GET", "/admin"),
    ] {
        for auth in [None, Some(wrong.as_str()), Some("Basic YWRtaW46YWRtaW4=")] {
            let (status, headers, body) = admin_call(&agent, &srv, method, path, auth);
            assert_eq!(status, 401, "{method} {path} with {auth:?}: {body}");
            let www = header(&headers, "www-authenticate").unwrap();
            assert!(www.starts_with("Bearer realm=\"lantrust-admin\""), "{www}");
            assert_eq!(www.contains("invalid_token"), auth.is_some(), "{www}");
            assert!(body["error"].is_string());
        }
    }
    let (status, _, body) = admin_call(&agent, &srv, "GET", "/admin/nonexistent", Some(&good));
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = admin_call(
        &agent,
        &srv,
        "GET",
        "/admin/devices/dev1/approve",
        Some(&good),
    );
    assert_eq!(status, 405);
    let (status, _, body) = admin_call(&agent, &srv, "GET", "/admin/pending", Some(&good));
    assert_eq!((status, body), (200, serde_json::json!([])));

    // A device asks and waits for approval.
    let directory = srv.directory();
    let agent2 = agent.clone();
    let tokens2 = tokens;
    let waiting = std::thread::spawn(move || {
        let mut c = device_client(&directory, "dev1");
        lantrust_test_support::acme::drive(&mut c, &agent2, &tokens2, Duration::from_secs(90))
            .events
    });
    let start = Instant::now();
    loop {
        let (status, _, body) = admin_call(&agent, &srv, "GET", "/admin/pending", Some(&good));
        assert_eq!(status, 200);
        if body
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["device_id"] == "dev1")
        {
            assert_eq!(body[0]["state"], "pending");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "dev1 never pending: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A wrong token cannot approve it.
    let (status, _, _) = admin_call(
        &agent,
        &srv,
        "POST",
        "/admin/devices/dev1/approve",
        Some(&wrong),
    );
    assert_eq!(status, 401);
    let out = cli_ok(&["pending", "--state", srv.state_arg(), "--json"]);
    assert!(out.contains("\"pending\""), "{out}");

    // The CLI over the endpoints: a token file of the server's token, the root for TLS.
    let root = srv.state.join("root.pem");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    chmod(&token_file, 0o600);
    let url = srv.url("");
    let remote = |cmd: &str, tf: &Path, extra: &[&str]| {
        let mut a = vec![
            cmd,
            "--remote",
            &url,
            "--token-file",
            tf.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        cli(&a)
    };
    let bad_file = dir.path().join("bad-token");
    std::fs::write(&bad_file, "f".repeat(64)).unwrap();
    chmod(&bad_file, 0o600);
    let out = remote("approve", &bad_file, &["dev1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("401"), "{err}");
    // A token file others can read is refused before it is sent.
    chmod(&bad_file, 0o644);
    let out = remote("pending", &bad_file, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));

    let out = remote("pending", &token_file, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["device_id"], "dev1");
    let out = remote("approve", &token_file, &["dev1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("dev1: approved"), "{said}");

    let events = waiting.join().unwrap();
    let pem = events
        .iter()
        .find_map(|e| match e {
            Event::Certificate(c) => Some(c.pem.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no certificate after the remote approval: {events:?}"));
    let first = pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap();
    let leaf = lantrust_ca::certificate_from_pem(first).unwrap();
    let subject = leaf.tbs_certificate.subject.to_string();
    assert!(subject.contains("dev1"), "{subject}");

    // list and revoke over the endpoints agree with the database.
    let out = remote("list", &token_file, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["devices"][0]["state"], "approved");
    assert_eq!(v["devices"][0]["certificates"], 1);
    assert_eq!(v["certificates"].as_array().unwrap().len(), 1);
    let out = remote("revoke", &token_file, &["dev1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["certificates_revoked"], 1);
    let local: serde_json::Value =
        serde_json::from_str(&cli_ok(&["list", "--state", srv.state_arg(), "--json"])).unwrap();
    assert_eq!(local["devices"][0]["state"], "revoked");
    assert_eq!(local["certificates"][0]["revoked"], true);
}

#[test]
fn old_state_dirs_gain_a_token_and_the_order_source_table() {
    let dir = temp_dir("admin-old");
    let st = init_state(dir.path());
    // An older state directory: no token, no order_sources table.
    std::fs::remove_file(st.join("admin-token")).unwrap();
    {
        let conn = rusqlite::Connection::open(st.join("lantrust.db")).unwrap();
        conn.execute_batch("DROP TABLE order_sources;").unwrap();
    }
    // An admin command upgrades the schema.
    cli_ok(&["pending", "--state", st.to_str().unwrap()]);
    {
        let conn = rusqlite::Connection::open(st.join("lantrust.db")).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'order_sources'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    // `serve` writes the missing token (0600); with --no-http-admin the endpoints are gone.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Proc::spawn(
        Command::new(BIN)
            .args([
                "serve",
                "--state",
                st.to_str().unwrap(),
                "--listen",
                &listen,
                "--no-http-admin",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(log),
    );
    wait_for_port(port);
    let token_path = st.join("admin-token");
    assert_eq!(mode(&token_path), 0o600);
    let token = std::fs::read_to_string(&token_path).unwrap();
    assert_eq!(token.trim().len(), 64);
    let root_pem = std::fs::read_to_string(st.join("root.pem")).unwrap();
    let agent = agent(&root_pem);
    let r = agent
        .get(&format!("https://127.0.0.1:{port}/admin/pending"))
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .call();
    let (status, _, _) = call(r);
    assert_eq!(status, 404, "--no-http-admin leaves no admin endpoint");
    drop(child);
}
