//! `scripts/lab` end to end (issue 14): two virtual LANs in network namespaces, routers running
//! dnsmasq and `lantrust-server serve`, devices and a client on busybox udhcpc. Devices enroll,
//! the server validates http-01 through mDNS and the LAN's DNS, the client joins and verifies,
//! everything moves to the second LAN (announced by DNS-SD only), an impostor network raises the
//! §4.8 alert, and a renewal follows a moved server (§3.6) — with no `--resolve`, `--directory`,
//! `--dns` or `--router-mac` given to any command. Needs root, iproute2, dnsmasq and busybox;
//! skips loudly otherwise (a failure under `LANTRUST_REQUIRE_PEERS=1`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::path::Path;
use std::process::Command;

use lantrust_test_support::bins::Binaries;
use lantrust_test_support::netns;
use lantrust_test_support::{find_program, have, output_text, skip, temp_dir};

/// The flags that bypass discovery or network identification; none may appear.
const OVERRIDES: [&str; 6] = [
    "--resolve",
    "--directory",
    "--dns",
    "--router-mac",
    "--ssid",
    "--interface",
];

#[test]
fn the_lab_runs_end_to_end_with_no_overrides() {
    if !netns::permitted("the lab") {
        return;
    }
    for program in ["busybox", "dnsmasq"] {
        if !have(program) && find_program(program).is_none() {
            skip(format_args!(
                "the lab needs `{program}` (scripts/install-peers installs it)"
            ));
            return;
        }
    }
    let bins = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-device"),
        &["lantrust-server", "lantrust-client"],
    );
    let bin_dir = bins.path("lantrust-device").parent().unwrap().to_path_buf();
    let dir = temp_dir("lab");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lab");
    // Own namespace names, so that a lab someone runs by hand is left alone.
    let prefix = format!("ltt{}-", std::process::id() % 100_000);
    let out = Command::new("bash")
        .arg(&script)
        .env("LANTRUST_BIN", &bin_dir)
        .env("LANTRUST_LAB_DIR", dir.path().join("lab"))
        .env("LANTRUST_LAB_PREFIX", &prefix)
        .env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "the lab failed:\n{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);

    // Every step ran and said what it found.
    for needle in [
        // 1: devices picked their ID and found the server by DHCP.
        "(no --id given)",
        "lantrust.lan1.test (https://lantrust.lan1.test/acme/directory) via dhcp:vendor-specific-info",
        // …and DHCPv6 carries it too (Information-request, option 17).
        "[d1]$ lantrust-device discover --dhcp6-inform eth0\nserver:    lantrust.lan1.test\n",
        // 2: http-01 through mDNS and DNS (the script checks each name's "challenge valid").
        "mDNS: answering for device-",
        // 3: the client found its network identity (a wired veth: no SSID), pinned LAN 1 and
        // trusted both devices, by .local and by DNS name.
        "[c]$ lantrust-client join --state",
        "pinned (trust on first use): CN=lan1.test Local Root CA",
        ".local/: HTTP 200 over verified TLS",
        ".lan1.test/: HTTP 200 over verified TLS",
        // 4: LAN 2 by DNS-SD; the device holds both networks, the client both pins.
        "lantrust.lan2.test (https://lantrust.lan2.test:443/acme/directory) via dns-srv",
        "pinned (trust on first use): CN=lan2.test Local Root CA",
        // 5: the impostor's root is an alert.
        "join exited 3: root change refused",
        // 6: the renewal followed the server.
        "moved: https://lantrust.lan1.test/acme/directory → https://lantrust.lan1.test:8443/acme/directory",
        "renewed: serial",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(text.contains("ALERT: THE ROOT CERTIFICATE OF THIS NETWORK HAS CHANGED"));
    // Each join identified the network by itself: interface, router MAC (LAN 1's router r1,
    // whose MAC the impostor r3 copies; LAN 2's router r2), and no SSID on a wired link.
    let identities: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("network: "))
        .collect();
    assert_eq!(identities.len(), 3, "{text}");
    for line in &identities {
        assert!(
            line.starts_with("network: interface eth0, router ")
                && line.ends_with(", no Wi-Fi SSID"),
            "{line}"
        );
    }
    let r1_mac = stdout
        .split("[r1]$ cat /sys/class/net/eth0/address\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap();
    assert_eq!(
        identities[0],
        format!("network: interface eth0, router {r1_mac}, no Wi-Fi SSID"),
        "{text}"
    );
    assert_eq!(
        identities[0], identities[2],
        "the impostor copies LAN 1's router MAC"
    );
    assert_ne!(identities[0], identities[1], "LAN 2 has its own router");
    let trusted = stdout.lines().filter(|l| l.starts_with("TRUSTED: device-"));
    assert_eq!(trusted.count(), 3, "{text}");
    assert!(!stdout.contains("NOT TRUSTED"), "{text}");

    // No command the lab ran, and no binary invocation in the script, used an override.
    let commands: Vec<&str> = stdout.lines().filter(|l| l.contains("]$ ")).collect();
    assert!(commands.len() >= 10, "{text}");
    let script_text = std::fs::read_to_string(&script).unwrap();
    let invocations = script_text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.contains("bold "))
        .filter(|l| l.contains("lantrust-"));
    for line in commands.into_iter().chain(invocations) {
        for flag in OVERRIDES {
            assert!(!line.contains(flag), "{flag} in {line:?}");
        }
    }
    // `down` (the script's exit trap) removed the namespaces.
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(&prefix),
        "namespaces left behind"
    );
}
