//! `lantrust-device discover --dhcp-inform IFACE` on a real link: two network namespaces joined
//! by a veth pair, dnsmasq in one announcing the ACME server in option 125 (enterprise 55357,
//! form 2 of DESIGN.md), the device binary in the other sending a DHCPINFORM from port 68.
//! Needs root, iproute2 and dnsmasq; skips loudly otherwise.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

mod common;

use std::process::Stdio;

use common::*;
use lantrust_test_support::netns::{self, Pair};

#[test]
fn dhcpinform_in_a_network_namespace() {
    const WHAT: &str = "DHCPINFORM test needs root, iproute2 and dnsmasq";
    if !netns::permitted(WHAT) {
        return;
    }
    if !have("dnsmasq") {
        lantrust_test_support::skip(WHAT);
        return;
    }
    let lab = Pair::new("d");
    let (vs, vc) = (lab.server_if.clone(), lab.client_if.clone());
    lab.add_server_addr("10.78.0.1/24");
    lab.add_client_addr("10.78.0.60/24");
    let dir = tempfile::tempdir().unwrap();
    let _dnsmasq = Proc(
        netns::exec(&lab.server, "dnsmasq")
            .args(["--no-daemon", "--conf-file=/dev/null", "--port=0"])
            .arg(format!("--interface={vs}"))
            .args(["--bind-interfaces", "--dhcp-authoritative", "--pid-file="])
            .arg(format!(
                "--dhcp-leasefile={}",
                dir.path().join("leases").display()
            ))
            .arg("--dhcp-range=10.78.0.50,10.78.0.150,255.255.255.0,1h")
            .arg("--dhcp-option=vi-encap:55357,1,lantrust.office.arpa")
            .arg("--dhcp-option=vi-encap:55357,2,https://lantrust.office.arpa:8443/acme/directory")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = netns::exec(&lab.client, env!("CARGO_BIN_EXE_lantrust-device"))
        .args(["discover", "--dhcp-inform", &vc, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server_name"], "lantrust.office.arpa");
    assert_eq!(
        v["directory_url"],
        "https://lantrust.office.arpa:8443/acme/directory"
    );
    assert_eq!(v["source"], "dhcp:vendor-specific-info");

    // An interface without an IPv4 address cannot send an INFORM: a clear error.
    netns::ip(&["-n", &lab.client, "addr", "flush", "dev", &vc]);
    let out = netns::exec(&lab.client, env!("CARGO_BIN_EXE_lantrust-device"))
        .args(["discover", "--dhcp-inform", &vc])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no IPv4 address"),
        "{}",
        text(&out)
    );
}
