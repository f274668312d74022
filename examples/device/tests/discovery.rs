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
