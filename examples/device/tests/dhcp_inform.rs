//! `lantrust-device discover --dhcp-inform IFACE` on a real link: two network namespaces joined
//! by a veth pair, dnsmasq in one announcing the ACME server in option 125 (enterprise 55357,
//! form 2 of DESIGN.md), the device binary in the other sending a DHCPINFORM from port 68.
//! Needs root, iproute2 and dnsmasq; skips loudly otherwise.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

mod common;

use std::process::{Command, Stdio};

use common::*;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Lab {
    server: String,
    client: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn dhcpinform_in_a_network_namespace() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !root || !have("ip") || !have("dnsmasq") {
        lantrust_test_support::skip("DHCPINFORM test needs root, iproute2 and dnsmasq");
        return;
    }
    let id = std::process::id() % 100_000;
    let lab = Lab {
        server: format!("ltdsrv{id}"),
        client: format!("ltdcli{id}"),
    };
    let (vs, vc) = (format!("ltds{id}"), format!("ltdc{id}"));
    ip(&["netns", "add", &lab.server]);
    ip(&["netns", "add", &lab.client]);
    ip(&["link", "add", &vs, "type", "veth", "peer", "name", &vc]);
    ip(&["link", "set", &vs, "netns", &lab.server]);
    ip(&["link", "set", &vc, "netns", &lab.client]);
    for (ns, dev) in [(&lab.server, &vs), (&lab.client, &vc)] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    ip(&["-n", &lab.server, "addr", "add", "10.78.0.1/24", "dev", &vs]);
    ip(&[
        "-n",
        &lab.client,
        "addr",
        "add",
        "10.78.0.60/24",
        "dev",
        &vc,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let _dnsmasq = Proc(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.server,
                "dnsmasq",
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
            ])
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
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.client,
            env!("CARGO_BIN_EXE_lantrust-device"),
            "discover",
            "--dhcp-inform",
            &vc,
            "--json",
        ])
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
    ip(&["-n", &lab.client, "addr", "flush", "dev", &vc]);
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.client,
            env!("CARGO_BIN_EXE_lantrust-device"),
            "discover",
            "--dhcp-inform",
            &vc,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no IPv4 address"),
        "{}",
        text(&out)
    );
}
