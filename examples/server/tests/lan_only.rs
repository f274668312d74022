//! The server answers its local network only (draft-sweet-iot-acme-07 §4.1), and /admin can have
//! a listener of its own.
//!
//! The namespace test builds two network namespaces joined by a veth pair, each end with a
//! documentation-range "public" address (203.0.113.0/24, 2001:db8::/32) and a local one
//! (10.79.0.0/24, fd79::/64). The server listens on `[::]` in one (so IPv4 peers arrive as
//! IPv4-mapped IPv6 addresses); curl and lego run in the other, and the kernel picks the source
//! address that matches the destination. No packet leaves the two namespaces. Needs root,
//! iproute2, curl and lego; skips loudly otherwise.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lantrust_test_support::netns::{self, Pair};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const SRV_PUBLIC4: &str = "203.0.113.1";
const CLI_PUBLIC4: &str = "203.0.113.2";
const SRV_LOCAL4: &str = "10.79.0.1";
const CLI_LOCAL4: &str = "10.79.0.2";
const SRV_PUBLIC6: &str = "2001:db8:79::1";
const SRV_LOCAL6: &str = "fd79::1";
const PORT: u16 = 8443;
const ADMIN_PORT: u16 = 9443;

/// The lab: the server namespace holds the server's end, the client namespace curl's and
/// lego's; `tag` (one letter) keeps the names of tests running at the same time apart.
fn lab(tag: &str) -> Option<Pair> {
    const WHAT: &str = "the LAN-only test needs root (network namespaces), iproute2 and curl";
    if !netns::permitted(WHAT) {
        return None;
    }
    if !have("curl") {
        lantrust_test_support::skip(WHAT);
        return None;
    }
    let lab = Pair::new(&format!("l{tag}"));
    for a in [SRV_PUBLIC4, SRV_LOCAL4] {
        lab.add_server_addr(&format!("{a}/24"));
    }
    for a in [SRV_PUBLIC6, SRV_LOCAL6] {
        lab.add_server_addr(&format!("{a}/64"));
    }
    for a in [CLI_PUBLIC4, CLI_LOCAL4] {
        lab.add_client_addr(&format!("{a}/24"));
    }
    for a in ["2001:db8:79::2", "fd79::2"] {
        lab.add_client_addr(&format!("{a}/64"));
    }
    Some(lab)
}

/// `init` a network "router" (no extra domain) whose HTTPS certificate names 10.79.0.1 and
/// fd79::1 too, so lego can reach it by address.
fn init_lab_state(dir: &Path) -> String {
    let state = dir.join("state");
    cli_ok(&[
        "init",
        "--state",
        state.to_str().unwrap(),
        "--name",
        "router",
        "--ip",
        SRV_LOCAL4,
        "--ip",
        SRV_LOCAL6,
    ]);
    state.to_str().unwrap().to_string()
}

/// `serve` inside the server namespace on `[::]:PORT` (dual stack) with `extra` arguments.
fn serve_in(lab: &Pair, dir: &Path, state: &str, extra: &[&str], log: &str) -> Proc {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let listen = format!("[::]:{PORT}");
    let url = format!("https://{SRV_LOCAL4}:{PORT}");
    let resolve = format!("lg1.local={CLI_LOCAL4}:5002");
    let p = Proc::spawn(
        netns::exec(&lab.server, BIN)
            .args(["serve", "--state", state])
            .args(["--listen", &listen, "--url", &url, "--resolve", &resolve])
            .args(["--auto-approve", "--generic-clients"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log),
    );
    // Wait until the listener answers from inside the client namespace (over the local path).
    let start = Instant::now();
    loop {
        let (code, _) = curl(lab, dir, SRV_LOCAL4, PORT, "/roots.pem", &[]);
        if code != 0 {
            return p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server never answered in the namespace"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// curl `https://router.local:<port><path>` from the client namespace, with the name pinned to
/// `addr` and the network root as the only CA. Returns (HTTP status, body); status 0 when no
/// HTTP answer came.
fn curl(
    lab: &Pair,
    dir: &Path,
    addr: &str,
    port: u16,
    path: &str,
    extra: &[&str],
) -> (u16, String) {
    let resolve = if addr.contains(':') {
        format!("router.local:{port}:[{addr}]")
    } else {
        format!("router.local:{port}:{addr}")
    };
    let out = netns::exec(&lab.client, "curl")
        .args(["-sS", "--max-time", "10"])
        .args(["--cacert", dir.join("state/root.pem").to_str().unwrap()])
        .args(["--resolve", &resolve, "-w", "\n%{http_code}"])
        .args(extra)
        .arg(format!("https://router.local:{port}{path}"))
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = t.rsplit_once('\n').unwrap_or(("", t.as_str()));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn assert_refused(code: u16, body: &str, source: &str) {
    assert_eq!(code, 403, "{body}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        v["type"], "urn:ietf:params:acme:error:unauthorized",
        "{body}"
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("source address {source} is not")),
        "{detail}"
    );
    assert!(detail.contains("--allow-public-clients"), "{detail}");
}

#[test]
fn public_sources_are_refused_local_ones_served_and_the_flag_opens_it() {
    let Some(lab) = lab("p") else { return };
    let dir = temp_dir("lan-only");
    let d = dir.path();
    let state = init_lab_state(d);
    let token = std::fs::read_to_string(d.join("state/admin-token")).unwrap();
    let auth = format!("Authorization: Bearer {}", token.trim());

    let server = serve_in(&lab, d, &state, &[], "serve.log");
    // Local sources (IPv4, seen as IPv4-mapped on the dual-stack listener, and unique-local
    // IPv6): the directory, a nonce and the admin endpoints are served.
    for addr in [SRV_LOCAL4, SRV_LOCAL6] {
        let (code, body) = curl(&lab, d, addr, PORT, "/acme/directory", &[]);
        assert_eq!(code, 200, "{addr}: {body}");
        assert!(body.contains("newNonce"), "{body}");
        let (code, body) = curl(&lab, d, addr, PORT, "/admin/pending", &["-H", &auth]);
        assert_eq!(code, 200, "{addr}: {body}");
    }
    // Public sources (203.0.113.2, mapped on the listener, and 2001:db8:79::2): every route
    // answers the unauthorized problem, /admin too, with or without the token.
    for (addr, source) in [(SRV_PUBLIC4, CLI_PUBLIC4), (SRV_PUBLIC6, "2001:db8:79::2")] {
        for path in ["/acme/directory", "/acme/new-nonce", "/roots.pem", "/crl"] {
            let (code, body) = curl(&lab, d, addr, PORT, path, &[]);
            assert_refused(code, &body, source);
        }
        let (code, body) = curl(&lab, d, addr, PORT, "/admin/pending", &["-H", &auth]);
        assert_refused(code, &body, source);
        let (code, body) = curl(
            &lab,
            d,
            addr,
            PORT,
            "/admin/devices/x/approve",
            &["-X", "POST", "-H", &auth],
        );
        assert_refused(code, &body, source);
    }
    // A whole issuance from the local source with a generic client, if lego is here.
    if have("lego") {
        let out = netns::exec(&lab.client, "lego")
            .env("LEGO_CA_CERTIFICATES", d.join("state/root.pem"))
            .args(["--path", d.join("lego").to_str().unwrap()])
            .args([
                "--server",
                &format!("https://{SRV_LOCAL4}:{PORT}/acme/directory"),
            ])
            .args(["--email", "admin@example.org", "--accept-tos"])
            .args(["--key-type", "ec384", "--http"])
            .args(["--http.port", &format!("{CLI_LOCAL4}:5002")])
            .args(["--domains", "lg1.local", "run"])
            .output()
            .unwrap();
        assert!(out.status.success(), "lego: {}", text(&out));
        assert!(d.join("lego/certificates/lg1.local.crt").exists());
    } else {
        lantrust_test_support::skip_part(
            "`lego` is not installed (scripts/install-peers installs it): no issuance from the local source",
        );
    }
    drop(server);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");

    // --allow-public-clients: the same public sources are served.
    let _server = serve_in(&lab, d, &state, &["--allow-public-clients"], "serve2.log");
    for addr in [SRV_PUBLIC4, SRV_PUBLIC6] {
        let (code, body) = curl(&lab, d, addr, PORT, "/acme/directory", &[]);
        assert_eq!(code, 200, "{addr}: {body}");
        let (code, body) = curl(&lab, d, addr, PORT, "/admin/pending", &["-H", &auth]);
        assert_eq!(code, 200, "{addr}: {body}");
    }
}

#[test]
fn the_admin_listener_is_local_only_too_in_a_namespace() {
    let Some(lab) = lab("a") else { return };
    let dir = temp_dir("lan-admin");
    let d = dir.path();
    let state = init_lab_state(d);
    let token = std::fs::read_to_string(d.join("state/admin-token")).unwrap();
    let auth = format!("Authorization: Bearer {}", token.trim());
    let admin = format!("[::]:{ADMIN_PORT}");
    let _server = serve_in(&lab, d, &state, &["--admin-listen", &admin], "serve.log");
    let (code, body) = curl(
        &lab,
        d,
        SRV_LOCAL4,
        ADMIN_PORT,
        "/admin/pending",
        &["-H", &auth],
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl(
        &lab,
        d,
        SRV_PUBLIC4,
        ADMIN_PORT,
        "/admin/pending",
        &["-H", &auth],
    );
    assert_refused(code, &body, CLI_PUBLIC4);
    // The main listener no longer serves /admin.
    let (code, _) = curl(&lab, d, SRV_LOCAL4, PORT, "/admin/pending", &["-H", &auth]);
    assert_eq!(code, 404);
}

/// The separate admin listener on loopback (no namespace needed): /admin moves there, ACME
/// stays on --listen, and the remote admin commands work against it.
#[test]
fn admin_endpoints_move_to_their_own_listener() {
    let dir = temp_dir("admin-listen");
    let d = dir.path();
    let admin_port = free_port();
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let srv = init_and_serve(d, &["--admin-listen", &admin_addr]);
    wait_for_port(admin_port);
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let token = std::fs::read_to_string(srv.state.join("admin-token")).unwrap();
    let bearer = format!("Bearer {}", token.trim());
    let a = agent(&root);
    let admin_url = |p: &str| format!("https://127.0.0.1:{admin_port}{p}");

    // Main listener: ACME yes, /admin no (404, even with the token).
    let (status, _, _) = call(a.get(&srv.directory()).call());
    assert_eq!(status, 200);
    let (status, _, _) = call(
        a.get(&srv.url("/admin/pending"))
            .set("Authorization", &bearer)
            .call(),
    );
    assert_eq!(status, 404);
    // Admin listener: /admin yes (401 without the token), ACME no.
    let (status, _, body) = call(
        a.get(&admin_url("/admin/pending"))
            .set("Authorization", &bearer)
            .call(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = call(a.get(&admin_url("/admin/pending")).call());
    assert_eq!(status, 401);
    let (status, _, _) = call(a.get(&admin_url("/acme/directory")).call());
    assert_eq!(status, 404);

    // The remote admin commands against the admin listener.
    let token_file = srv.state.join("admin-token");
    let root_file = srv.state.join("root.pem");
    let out = cli_ok(&[
        "approve",
        "--remote",
        &format!("https://127.0.0.1:{admin_port}"),
        "--token-file",
        token_file.to_str().unwrap(),
        "--root",
        root_file.to_str().unwrap(),
        "cam-1",
    ]);
    assert!(out.contains("cam-1"), "{out}");
    assert!(
        device_states(srv.state_arg()).contains(&("cam-1".to_string(), "approved".to_string())),
        "{:?}",
        device_states(srv.state_arg())
    );

    // --admin-listen and --no-http-admin contradict each other.
    let out = cli(&[
        "serve",
        "--state",
        srv.state_arg(),
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--no-http-admin",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out)
    );
}
