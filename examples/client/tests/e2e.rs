//! End to end on loopback with the real binaries: `lantrust-server init/serve` → `lantrust-device
//! enroll` (approved with `lantrust-server approve` while the device waits and shows progress) →
//! `lantrust-device serve` → `lantrust-client join` + `verify` succeeds. Then the refusals: the
//! same device seen from another network, a device certified by another network's root, a
//! changed root (loud alert, exit 3, `--accept-change`), `forget`, and `export --pem/--nss`.

#![allow(clippy::std_instead_of_core)] // test harness: std is the point

// The peer/port/openssl helpers are shared with lantrust-device's tests (one copy).
#[path = "../../device/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The sibling binaries, built (incrementally) for this test so they are never stale.
fn bins() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_lantrust-client"));
    let dir = me.parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "lantrust-server",
            "-p",
            "lantrust-device",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "building lantrust-server and lantrust-device failed"
    );
    dir
}

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

struct Net {
    _server: Proc,
    port: u16,
    state: PathBuf,
}

/// `init` + `serve` a server named `lantrust` for home.arpa, reaching `devices` (id, http-01
/// port) through --resolve.
fn server(bin: &Path, dir: &Path, tag: &str, devices: &[(&str, u16)]) -> Net {
    server_at(bin, dir, tag, devices, "lantrust.local")
}

/// Like [`server`], with the origin clients use (`https://<url_host>:PORT`).
fn server_at(bin: &Path, dir: &Path, tag: &str, devices: &[(&str, u16)], url_host: &str) -> Net {
    let state = dir.join(format!("srv-{tag}"));
    let out = run(
        &bin.join("lantrust-server"),
        &[
            "init",
            "--state",
            state.to_str().unwrap(),
            "--name",
            "lantrust",
            "--domain",
            "home.arpa",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let port = free_port();
    let mut args = vec![
        "serve".to_string(),
        "--state".into(),
        state.to_str().unwrap().into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--url".into(),
        format!("https://{url_host}:{port}"),
    ];
    for (id, http) in devices {
        for name in [format!("{id}.local"), format!("{id}.home.arpa")] {
            args.push("--resolve".into());
            args.push(format!("{name}=127.0.0.1:{http}"));
        }
        args.push("--http01-port".into());
        args.push(http.to_string());
    }
    let child = Command::new(bin.join("lantrust-server"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    wait_for_port(port);
    Net {
        _server: p,
        port,
        state,
    }
}

/// Enrolls device `id` with `net`, approving it from another thread once the device waits.
fn enroll(bin: &Path, dir: &Path, net: &Net, id: &str, http: u16) -> PathBuf {
    let state = dir.join(format!("dev-{id}"));
    let dir_url = format!("https://lantrust.local:{}/acme/directory", net.port);
    let resolve = format!("lantrust.local=127.0.0.1:{}", net.port);
    let http01 = format!("127.0.0.1:{http}");
    let mut child = Command::new(bin.join("lantrust-device"))
        .args([
            "enroll",
            "--state",
            state.to_str().unwrap(),
            "--id",
            id,
            "--domain",
            "home.arpa",
            "--directory",
            &dir_url,
            "--resolve",
            &resolve,
            "--http01-listen",
            &http01,
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not approved yet: the device must still be waiting after a few seconds.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "enroll finished before approval"
    );
    let out = run(
        &bin.join("lantrust-server"),
        &["approve", "--state", net.state.to_str().unwrap(), id],
    );
    assert!(out.status.success(), "{}", text(&out));
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "enroll hangs after approval"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trust on first use"), "{err}");
    assert!(
        err.contains("waiting for the server to validate and approve"),
        "progress while waiting: {err}"
    );
    state
}

fn serve_device(bin: &Path, state: &Path, http: u16) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(bin.join("lantrust-device"))
        .args([
            "serve",
            "--state",
            state.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--http01-listen",
            &format!("127.0.0.1:{http}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    wait_for_port(port);
    (p, port)
}

#[test]
fn server_device_client_end_to_end() {
    if !have("openssl") {
        eprintln!("SKIPPED: openssl missing");
        return;
    }
    let bin = bins();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (http_a, http_b) = (free_port(), free_port());
    let home = server(&bin, d, "home", &[("device-12cd56", http_a)]);
    let dev = enroll(&bin, d, &home, "device-12cd56", http_a);
    let (_dev_srv, dev_port) = serve_device(&bin, &dev, http_a);

    let client = bin.join("lantrust-client");
    let cstate = d.join("client");
    let cs = cstate.to_str().unwrap();
    let home_dir = format!("https://lantrust.local:{}/acme/directory", home.port);
    let home_res = format!("lantrust.local=127.0.0.1:{}", home.port);
    let mac = "02:00:00:00:00:01";
    let out = run(
        &client,
        &[
            "join",
            "--state",
            cs,
            "--directory",
            &home_dir,
            "--resolve",
            &home_res,
            "--router-mac",
            mac,
            "--domain",
            "home.arpa",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pinned (trust on first use)"),
        "{}",
        text(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(cstate.join("pins.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // Joining again: same root, trusted.
    let out = run(
        &client,
        &[
            "join",
            "--state",
            cs,
            "--directory",
            &home_dir,
            "--resolve",
            &home_res,
            "--router-mac",
            mac,
        ],
    );
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("root unchanged"),
        "{}",
        text(&out)
    );

    let url = format!("https://device-12cd56.local:{dev_port}/");
    let dev_res = format!("device-12cd56.local=127.0.0.1:{dev_port}");
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &dev_res,
            &url,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("TRUSTED: device-12cd56.local"), "{stdout}");
    assert!(stdout.contains("HTTP 200 over verified TLS"), "{stdout}");
    // Also reachable by its domain name.
    let url2 = format!("https://device-12cd56.home.arpa:{dev_port}/");
    let res2 = format!("device-12cd56.home.arpa=127.0.0.1:{dev_port}");
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &res2,
            &url2,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    // The same device seen from another network (another router): not trusted (§3.5).
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            "02:00:00:00:00:99",
            "--resolve",
            &dev_res,
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOT TRUSTED"),
        "{}",
        text(&out)
    );
    // On a cellular network: never.
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--cellular",
            "--resolve",
            &dev_res,
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A device certified by another network's root: refused on this network.
    let other = server(&bin, d, "other", &[("device-99aa00", http_b)]);
    let dev_b = enroll(&bin, d, &other, "device-99aa00", http_b);
    let (_dev_b_srv, dev_b_port) = serve_device(&bin, &dev_b, http_b);
    let url_b = format!("https://device-99aa00.local:{dev_b_port}/");
    let res_b = format!("device-99aa00.local=127.0.0.1:{dev_b_port}");
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &res_b,
            &url_b,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOT TRUSTED: device-99aa00.local"),
        "{}",
        text(&out)
    );

    // The home network's server now answers with the other root (same name): loud alert, exit 3.
    let other_dir = format!("https://lantrust.local:{}/acme/directory", other.port);
    let other_res = format!("lantrust.local=127.0.0.1:{}", other.port);
    let out = run(
        &client,
        &[
            "join",
            "--state",
            cs,
            "--directory",
            &other_dir,
            "--resolve",
            &other_res,
            "--router-mac",
            mac,
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ALERT: THE ROOT CERTIFICATE OF THIS NETWORK HAS CHANGED"),
        "{}",
        text(&out)
    );
    // The pin is unchanged: the home device still verifies.
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &dev_res,
            &url,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // export the pinned root; openssl verifies the device chain against it.
    let pem = d.join("root.pem");
    let out = run(
        &client,
        &[
            "export",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--pem",
            pem.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let chain = dev.join("networks/lantrust.local/chain.pem");
    let v = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&pem)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&chain)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", text(&v));
    let v = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&pem)
        .arg(dev_b.join("networks/lantrust.local/chain.pem"))
        .output()
        .unwrap();
    assert!(
        !v.status.success(),
        "the other network's device must not verify under the home root"
    );
    if have("certutil") {
        let nss = d.join("nss");
        let out = run(
            &client,
            &[
                "export",
                "--state",
                cs,
                "--router-mac",
                mac,
                "--nss",
                nss.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let l = Command::new("certutil")
            .args(["-L", "-d", &format!("sql:{}", nss.display())])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&l.stdout);
        assert!(
            listing.contains("lantrust lantrust.local") && listing.contains("C,,"),
            "{listing}"
        );
    } else {
        eprintln!("SKIPPED (part): certutil missing, export --nss not exercised");
    }
    // Accepting the change makes the other network's device trusted and the home one not.
    let out = run(
        &client,
        &[
            "join",
            "--state",
            cs,
            "--directory",
            &other_dir,
            "--resolve",
            &other_res,
            "--router-mac",
            mac,
            "--accept-change",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &res_b,
            &url_b,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &dev_res,
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // list, then forget: nothing pinned, nothing trusted.
    let out = run(&client, &["list", "--state", cs, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["server"], "lantrust.local");
    let out = run(&client, &["forget", "--state", cs, "--router-mac", mac]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&client, &["list", "--state", cs, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().is_empty());
    let out = run(
        &client,
        &[
            "verify",
            "--state",
            cs,
            "--router-mac",
            mac,
            "--resolve",
            &res_b,
            &url_b,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = run(&client, &["forget", "--state", cs, "--router-mac", mac]);
    assert!(!out.status.success());
}

/// Discovery through a real DNS server: dnsmasq on 127.0.0.1 answers
/// `SRV _acme-server._tcp.home.arpa` with the server; the client pins the root after checking it
/// against the discovered name, the device enrolls (pre-approved) with no --directory and no
/// --resolve (the SRV answer's address is used). A name the server's certificate does not carry
/// (`evil.test` pointing at the same server) is refused.
#[test]
fn discovery_through_dnsmasq_srv() {
    if !have("dnsmasq") || !have("openssl") {
        eprintln!("SKIPPED: dnsmasq or openssl missing (scripts/install-peers installs them)");
        return;
    }
    let bin = bins();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let http = free_port();
    let net = server_at(
        &bin,
        d,
        "dns",
        &[("device-0dd5e1", http)],
        "lantrust.home.arpa",
    );
    let dns_port = free_port();
    let _dns = Proc(
        Command::new("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                &format!("--port={dns_port}"),
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                &format!(
                    "--srv-host=_acme-server._tcp.home.arpa,lantrust.home.arpa,{},0,0",
                    net.port
                ),
                "--host-record=lantrust.home.arpa,127.0.0.1",
                &format!(
                    "--srv-host=_acme-server._tcp.evil.test,lantrust.evil.test,{},0,0",
                    net.port
                ),
                "--host-record=lantrust.evil.test,127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let dns = format!("127.0.0.1:{dns_port}");
    let cs = d.join("client");
    let cs = cs.to_str().unwrap();
    let start = Instant::now();
    let out = loop {
        let out = run(
            &bin.join("lantrust-client"),
            &[
                "join",
                "--state",
                cs,
                "--dns",
                &dns,
                "--domain",
                "home.arpa",
                "--router-mac",
                "02:00:00:00:00:07",
            ],
        );
        if out.status.success() || start.elapsed() > Duration::from_secs(10) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ACME server lantrust.home.arpa") && stdout.contains("via dns-srv"),
        "{stdout}"
    );
    assert!(stdout.contains("pinned (trust on first use)"), "{stdout}");

    let out = run(
        &bin.join("lantrust-client"),
        &[
            "join",
            "--state",
            cs,
            "--dns",
            &dns,
            "--domain",
            "evil.test",
            "--router-mac",
            "02:00:00:00:00:08",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not chain"),
        "{}",
        text(&out)
    );

    let out = run(
        &bin.join("lantrust-server"),
        &[
            "approve",
            "--state",
            net.state.to_str().unwrap(),
            "device-0dd5e1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let ds = d.join("device");
    let out = run(
        &bin.join("lantrust-device"),
        &[
            "enroll",
            "--state",
            ds.to_str().unwrap(),
            "--id",
            "device-0dd5e1",
            "--domain",
            "home.arpa",
            "--dns",
            &dns,
            "--http01-listen",
            &format!("127.0.0.1:{http}"),
            "--timeout",
            "60",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(ds.join("networks/lantrust.home.arpa/chain.pem").exists());
}
