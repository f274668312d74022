//! End to end on loopback with the real binaries: `lantrust-server init/serve` → `lantrust-device
//! enroll` (approved with `lantrust-server approve` while the device waits and shows progress) →
//! `lantrust-device serve` → `lantrust-client join` + `verify` succeeds. Then the refusals: the
//! same device seen from another network, a device certified by another network's root, a
//! changed root (loud alert, exit 3, `--accept-change`), `forget`, and `export --pem/--nss`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use lantrust_test_support::bins::{Binaries, Endpoint, Network, nss_certificates};
use lantrust_test_support::dns::start_dnsmasq;
use lantrust_test_support::{free_port, have, output_text as text, require_programs};

/// The sibling binaries, built (incrementally) for this test so they are never stale.
fn bins() -> Binaries {
    Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-client"),
        &["lantrust-server", "lantrust-device"],
    )
}

/// The home network's router.
const MAC: &str = "02:00:00:00:00:01";

/// What a finished process printed on stdout.
fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn server_device_client_end_to_end() {
    if !require_programs(&["openssl"], "client end to end") {
        return;
    }
    let bin = bins();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (home, dev) = Network::start_with_device(&bin, d, "home", "device-12cd56");
    let dev_port = dev.port;

    let cstate = d.join("client");
    let client = bin.client(&cstate);
    let out = client.join(&home, MAC, &["--domain", "home.arpa"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("pinned (trust on first use)"),
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
    let out = client.join(&home, MAC, &[]);
    assert!(
        out.status.success() && stdout(&out).contains("root unchanged"),
        "{}",
        text(&out)
    );

    let dev_a = Endpoint::new("device-12cd56.local", dev_port);
    let out = client.verify(MAC, &[], &dev_a);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("TRUSTED: device-12cd56.local"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("HTTP 200 over verified TLS"),
        "{}",
        stdout(&out)
    );
    // Also reachable by its domain name.
    let out = client.verify(
        MAC,
        &[],
        &Endpoint::new("device-12cd56.home.arpa", dev_port),
    );
    assert!(out.status.success(), "{}", text(&out));

    // The same device seen from another network (another router): not trusted (§3.5).
    let out = client.verify("02:00:00:00:00:99", &[], &dev_a);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("NOT TRUSTED"), "{}", text(&out));
    // On a cellular network: never.
    let out = client.verify(MAC, &["--cellular"], &dev_a);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A device certified by another network's root: refused on this network.
    let (other, dev_b) = Network::start_with_device(&bin, d, "other", "device-99aa00");
    let dev_b_port = dev_b.port;
    let dev_b_end = Endpoint::new("device-99aa00.local", dev_b_port);
    let out = client.verify(MAC, &[], &dev_b_end);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("NOT TRUSTED: device-99aa00.local"),
        "{}",
        text(&out)
    );

    // The home network's server now answers with the other root (same name): loud alert, exit 3.
    let out = client.join(&other, MAC, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ALERT: THE ROOT CERTIFICATE OF THIS NETWORK HAS CHANGED"),
        "{}",
        text(&out)
    );
    // The pin is unchanged: the home device still verifies.
    let out = client.verify(MAC, &[], &dev_a);
    assert!(out.status.success(), "{}", text(&out));
    // The same router once the client reads the Wi-Fi SSID: the pin made without it carries
    // over (same root trusted, the other root is the same alert, not a new trust on first use).
    let out = client.join(&other, MAC, &["--ssid", "Home"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout(&out).contains("carried over the pin")
            && String::from_utf8_lossy(&out.stderr).contains("ALERT"),
        "{}",
        text(&out)
    );
    let out = client.verify(MAC, &["--ssid", "Home"], &dev_a);
    assert!(out.status.success(), "{}", text(&out));
    // export the pinned root; openssl verifies the device chain against it.
    let pem = d.join("root.pem");
    let out = client.run(
        "export",
        &["--router-mac", MAC, "--pem", pem.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let chain = dev.state.join("networks/lantrust.local/chain.pem");
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
        .arg(dev_b.state.join("networks/lantrust.local/chain.pem"))
        .output()
        .unwrap();
    assert!(
        !v.status.success(),
        "the other network's device must not verify under the home root"
    );
    if have("certutil") {
        let nss = d.join("nss");
        let out = client.run(
            "export",
            &["--router-mac", MAC, "--nss", nss.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", text(&out));
        let l = nss_certificates(&nss);
        let listing = stdout(&l);
        assert!(
            listing.contains("lantrust lantrust.local") && listing.contains("C,,"),
            "{listing}"
        );
    } else {
        lantrust_test_support::skip_part("certutil missing, export --nss not exercised");
    }
    // Accepting the change makes the other network's device trusted and the home one not.
    let out = client.join(&other, MAC, &["--accept-change"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = client.verify(MAC, &[], &dev_b_end);
    assert!(out.status.success(), "{}", text(&out));
    let out = client.verify(MAC, &[], &dev_a);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // list, then forget: nothing pinned, nothing trusted.
    let out = client.run("list", &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["server"], "lantrust.local");
    let out = client.run("forget", &["--router-mac", MAC]);
    assert!(out.status.success(), "{}", text(&out));
    let out = client.run("list", &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().is_empty());
    let out = client.verify(MAC, &[], &dev_b_end);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = client.run("forget", &["--router-mac", MAC]);
    assert!(!out.status.success());
}

/// Discovery through a real DNS server: dnsmasq on 127.0.0.1 answers
/// `SRV _acme-server._tcp.home.arpa` with the server; the client pins the root after checking it
/// against the discovered name, the device enrolls (pre-approved) with no --directory and no
/// --resolve (the SRV answer's address is used). A name the server's certificate does not carry
/// (`evil.test` pointing at the same server) is refused.
#[test]
fn discovery_through_dnsmasq_srv() {
    if !require_programs(&["openssl"], "client discovery through dnsmasq") {
        return;
    }
    let bin = bins();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let http = free_port();
    let net = Network::start(
        &bin,
        d,
        "dns",
        &[("device-0dd5e1", http)],
        "lantrust.home.arpa",
    );
    let srv_home = format!(
        "--srv-host=_acme-server._tcp.home.arpa,lantrust.home.arpa,{},0,0",
        net.port
    );
    let srv_evil = format!(
        "--srv-host=_acme-server._tcp.evil.test,lantrust.evil.test,{},0,0",
        net.port
    );
    let Some(dns_server) = start_dnsmasq(
        &[
            &srv_home,
            "--host-record=lantrust.home.arpa,127.0.0.1",
            &srv_evil,
            "--host-record=lantrust.evil.test,127.0.0.1",
        ],
        "lantrust.home.arpa",
    ) else {
        return;
    };
    let dns = dns_server.addr_arg();
    let client = bin.client(&d.join("client"));
    // Join the network of `domain` that DNS-SD through dnsmasq finds, behind router `mac`.
    let join_by_dns = |domain: &str, mac: &str| {
        client.run(
            "join",
            &["--dns", &dns, "--domain", domain, "--router-mac", mac],
        )
    };
    let start = Instant::now();
    let out = loop {
        let out = join_by_dns("home.arpa", "02:00:00:00:00:07");
        if out.status.success() || start.elapsed() > Duration::from_secs(10) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(out.status.success(), "{}", text(&out));
    let stdout = stdout(&out);
    assert!(
        stdout.contains("ACME server lantrust.home.arpa") && stdout.contains("via dns-srv"),
        "{stdout}"
    );
    assert!(stdout.contains("pinned (trust on first use)"), "{stdout}");

    let out = join_by_dns("evil.test", "02:00:00:00:00:08");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not chain"),
        "{}",
        text(&out)
    );

    let out = net.approve("device-0dd5e1");
    assert!(out.status.success(), "{}", text(&out));
    let ds = d.join("device");
    let out = bin.run(
        "lantrust-device",
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
