//! `lantrust-device discover` with real discovery sources: DHCP replies captured from dnsmasq
//! (crates/dhcp/tests/vectors), and unicast DNS-SD SRV answers from dnsmasq and unbound running
//! on 127.0.0.1. mDNS (port 5353, `.local`) is refused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use lantrust_test_support::dns::{start_dnsmasq, start_unbound};

fn device(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantrust-device"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/dhcp/tests/vectors")
        .join(name)
}

#[test]
fn dhcp_packets_captured_from_dnsmasq() {
    for (file, kind) in [
        ("dnsmasq-inform-ack.bin", "DHCPACK to INFORM"),
        ("dnsmasq-offer.bin", "DHCPOFFER"),
        ("dnsmasq-v6-reply.bin", "DHCPv6 REPLY"),
    ] {
        let v = json(&device(&[
            "discover",
            "--dhcp-packet",
            vector(file).to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(v["server_name"], "acme.home.arpa", "{kind}");
        assert_eq!(
            v["directory_url"], "https://acme.home.arpa/acme/directory",
            "{kind}"
        );
        assert_eq!(v["source"], "dhcp:vendor-specific-info", "{kind}");
    }
    // Human output.
    let out = device(&[
        "discover",
        "--dhcp-packet",
        vector("dnsmasq-offer.bin").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("directory: https://acme.home.arpa/acme/directory")
    );
    // A truncated packet is an error, not a guess.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(vector("dnsmasq-offer.bin")).unwrap();
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &bytes[..100]).unwrap();
    let out = device(&["discover", "--dhcp-packet", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("discovery failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn mdns_is_refused() {
    let out = device(&[
        "discover",
        "--dns",
        "127.0.0.1:5353",
        "--domain",
        "example.test",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mDNS"),
        "{}",
        text(&out)
    );
    let out = device(&[
        "discover",
        "--dns",
        "127.0.0.1:53",
        "--domain",
        "home.local",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = device(&["discover"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no discovery method"),
        "{}",
        text(&out)
    );
}

fn wait_dns(port: u16, domain: &str) -> Output {
    let start = Instant::now();
    loop {
        let out = device(&[
            "discover",
            "--dns",
            &format!("127.0.0.1:{port}"),
            "--domain",
            domain,
            "--json",
        ]);
        if out.status.success() || start.elapsed() > Duration::from_secs(10) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn dns_srv_from_dnsmasq() {
    let Some(dns) = start_dnsmasq(
        &[
            "--srv-host=_acme-server._tcp.example.test,ca1.example.test,8443,10,0",
            "--srv-host=_acme-server._tcp.example.test,backup.example.test,443,20,0",
            "--host-record=ca1.example.test,192.0.2.10",
            "--srv-host=_acme-server._tcp.none.test",
        ],
        "ca1.example.test",
    ) else {
        return;
    };
    let port = dns.port();
    let v = json(&wait_dns(port, "example.test"));
    assert_eq!(v["server_name"], "ca1.example.test");
    assert_eq!(
        v["directory_url"],
        "https://ca1.example.test:8443/acme/directory"
    );
    assert_eq!(v["source"], "dns-srv");
    assert_eq!(v["addresses"][0], "192.0.2.10");
    // "Service not available" (target ".") is an error naming the service.
    let out = device(&[
        "discover",
        "--dns",
        &format!("127.0.0.1:{port}"),
        "--domain",
        "none.test",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("_acme-server._tcp.none.test"),
        "{}",
        text(&out)
    );
}

#[test]
fn dns_srv_from_unbound() {
    let Some(dns) = start_unbound(
        &[
            r#"local-zone: "office.test." static"#,
            r#"local-data: "_acme-server._tcp.office.test. 300 IN SRV 5 0 9443 acme.office.test.""#,
            r#"local-data: "_acme-server._tcp.office.test. 300 IN SRV 9 0 443 spare.office.test.""#,
            r#"local-data: "acme.office.test. 300 IN A 192.0.2.20""#,
            r#"local-zone: "missing.test." static"#,
        ],
        "acme.office.test",
    ) else {
        return;
    };
    let port = dns.port();
    let v = json(&wait_dns(port, "office.test"));
    assert_eq!(v["server_name"], "acme.office.test");
    assert_eq!(
        v["directory_url"],
        "https://acme.office.test:9443/acme/directory"
    );
    // NXDOMAIN is reported as such.
    let out = device(&[
        "discover",
        "--dns",
        &format!("127.0.0.1:{port}"),
        "--domain",
        "missing.test",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// RFC 2782 failover: the higher-priority SRV target has nothing listening, so `enroll` says so,
/// moves to the next target, and enrolls with the real server there.
#[test]
fn enroll_fails_over_to_the_next_srv_target() {
    use lantrust_test_support::bins::{Binaries, Network};
    use lantrust_test_support::free_port;
    use lantrust_test_support::process::Proc;
    use std::process::Stdio;

    let dead = free_port(); // bound then released: nothing listens there
    let bin = Binaries::build(env!("CARGO_BIN_EXE_lantrust-device"), &["lantrust-server"]);
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let net = Network::start(
        &bin,
        dir.path(),
        "srv",
        &[("cam-9", http)],
        "lantrust.home.arpa",
    );
    let srv_dead = format!("--srv-host=_acme-server._tcp.home.arpa,dead.home.arpa,{dead},0,0");
    let srv_live = format!(
        "--srv-host=_acme-server._tcp.home.arpa,lantrust.home.arpa,{},10,0",
        net.port
    );
    let Some(dns) = start_dnsmasq(
        &[
            &srv_dead,
            &srv_live,
            "--host-record=dead.home.arpa,127.0.0.1",
            "--host-record=lantrust.home.arpa,127.0.0.1",
        ],
        "lantrust.home.arpa",
    ) else {
        return;
    };
    let dns_addr = format!("127.0.0.1:{}", dns.port());
    // Discovery lists both targets, priority 0 first.
    let v = json(&wait_dns(dns.port(), "home.arpa"));
    assert_eq!(v["server_name"], "dead.home.arpa");
    assert_eq!(v["candidates"][0]["server_name"], "dead.home.arpa");
    assert_eq!(v["candidates"][1]["server_name"], "lantrust.home.arpa");
    assert_eq!(
        v["candidates"][1]["directory_url"],
        format!("https://lantrust.home.arpa:{}/acme/directory", net.port)
    );

    let state = dir.path().join("dev-cam-9");
    let mut child = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_lantrust-device"))
            .args([
                "enroll",
                "--state",
                state.to_str().unwrap(),
                "--id",
                "cam-9",
                "--dns",
                &dns_addr,
                "--domain",
                "home.arpa",
                "--http01-listen",
                &format!("127.0.0.1:{http}"),
                "--timeout",
                "60",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let start = Instant::now();
    while !child.has_exited() {
        assert!(start.elapsed() < Duration::from_secs(60), "enroll hangs");
        // §3.4.4: the operator approves once the order is waiting.
        let _ = net.approve("cam-9");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = child.wait_with_output();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "ACME server https://dead.home.arpa:{dead}/acme/directory does not answer"
        )) && err.contains("failing over to the next SRV target"),
        "{err}"
    );
    assert!(err.contains("trust on first use"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("enrolled cam-9.local, cam-9.home.arpa on lantrust.home.arpa"),
        "{}",
        text(&out)
    );

    // §3.6: the renewal runs the enrollment's discovery (--dns) again first, failing over past
    // the dead target again, and finds the server where it was.
    let out = Command::new(env!("CARGO_BIN_EXE_lantrust-device"))
        .args(["renew", "--state", state.to_str().unwrap()])
        .args(["--http01-listen", &format!("127.0.0.1:{http}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "rediscovery (§3.6): lantrust.home.arpa still at https://lantrust.home.arpa:{}/acme/directory",
            net.port
        )) && err.contains("failing over to the next SRV target"),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("renewed"),
        "{}",
        text(&out)
    );
}
