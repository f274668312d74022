//! Interop with ISC Kea (Debian `kea-dhcp4-server` / `kea-dhcp6-server`, 2.2 in bookworm) and
//! dhcpcd (Debian `dhcpcd-base`, 9.4): each runs in a network namespace joined by a veth pair to
//! a second one, created by the test.
//!
//! - kea-dhcp4 answers a DISCOVER built by this crate with option 125 (`vivso-suboptions`) for
//!   enterprise 55357 carrying the ACME server FQDN and directory URL, and option 124
//!   (`vivco-suboptions`), which Kea 2.2 writes without RFC 3925's data-len byte; the hint is read
//!   from both.
//! - kea-dhcp6 answers an INFORMATION-REQUEST with option 17 for enterprise 55357.
//! - dhcpcd, as a client configured with `vendclass 55357 ...`, broadcasts a DISCOVER whose 124
//!   (dhcpcd's layout, also without the data-len byte) this crate reads.
//!
//! Replies are saved under `tests/vectors/` with `LANTRUST_WRITE_VECTORS=1` and parsed again by
//! the root-free test at the end. Needs root and the programs; skips loudly otherwise.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use lantrust_dhcp::v4::{self, OptionRepr, VendorClassLayout};
use lantrust_dhcp::{AcmeServerHint, HintConfig, HintSource, v6};
use lantrust_test_support::netns::{self, Pair};
use lantrust_test_support::{Proc, find_program, save_vector, temp_dir};

const FQDN: &str = "acme.home.arpa";
const URL: &str = "https://acme.home.arpa/acme/directory";
const MAC: [u8; 6] = [0x02, 0x4c, 0x54, 0x00, 0x00, 0x02];
const DUID: [u8; 10] = [0, 3, 0, 1, 0x02, 0x4c, 0x54, 0x00, 0x00, 0x02];

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The programs' paths, or a loud `SKIPPED` naming what is missing.
fn peers(what: &str, programs: &[&str]) -> Option<Vec<PathBuf>> {
    if !netns::permitted(what) {
        return None;
    }
    let mut found = Vec::new();
    for p in ["ip", "python3"].iter().chain(programs) {
        match find_program(p) {
            Some(path) => found.push(path),
            None => {
                lantrust_test_support::skip(format_args!(
                    "{what}: `{p}` is not installed (scripts/install-peers installs it)"
                ));
                return None;
            }
        }
    }
    Some(found.split_off(2))
}

/// Two namespaces joined by a veth pair; removed (with whatever runs in them) on drop.
struct Lab {
    net: Pair,
    procs: Vec<Proc>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        // No duplicate address detection: kea-dhcp6 binds the link-local address at once.
        let net = Pair::without_dad("kea");
        net.add_server_addr("10.79.0.1/24");
        net.add_server_addr("fd79::1/64");
        Lab {
            net,
            procs: Vec::new(),
            dir: temp_dir("kea"),
        }
    }

    /// Runs `program` with a Kea configuration in the server namespace and waits until its log
    /// says it started (and, for DHCPv6, until its link-local address is usable).
    fn start_kea(&mut self, program: &Path, config: &str, started: &str) {
        let conf = self.dir.path().join("kea.json");
        std::fs::write(&conf, config).unwrap();
        let log = self.dir.path().join("kea.log");
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Proc::spawn(
            netns::exec(&self.net.server, program)
                .arg("-c")
                .arg(&conf)
                .env("KEA_PIDFILE_DIR", self.dir.path())
                .env("KEA_LOCKFILE_DIR", "none")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err),
        );
        self.procs.push(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(started) && !text.contains("DHCPSRV_NO_SOCKETS_OPEN") {
                break;
            }
            let exited = self.procs.last_mut().is_some_and(Proc::has_exited);
            assert!(
                !exited && Instant::now() < deadline,
                "{} did not start:\n{text}",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Kea opens its sockets right after logging the start.
        std::thread::sleep(Duration::from_millis(500));
    }

    fn kea_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kea.log")).unwrap_or_default()
    }

    /// Sends `payload` from the client namespace and returns the first reply.
    fn exchange(&self, payload: &[u8], v6: bool, bind: &str, port: u16, dest: &str) -> Vec<u8> {
        const CLIENT: &str = r#"
import socket, sys
payload, dev, v6, bind, port, dest, dport = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
s.bind((bind, port))
s.settimeout(3)
for attempt in range(4):
    s.sendto(payload, (dest, dport, 0, socket.if_nametoindex(dev)) if v6 else (dest, dport))
    try:
        data, _ = s.recvfrom(65535)
        print(data.hex())
        break
    except socket.timeout:
        pass
else:
    sys.exit("no reply")
"#;
        let dest_port = if v6 { "547" } else { "67" };
        let out = netns::exec(&self.net.client, "python3")
            .args(["-c", CLIENT])
            .arg(hex::encode(payload))
            .arg(&self.net.client_if)
            .args([if v6 { "1" } else { "0" }, bind, &port.to_string(), dest])
            .arg(dest_port)
            .output()
            .expect("run python3 client");
        assert!(
            out.status.success(),
            "UDP client: {}\nKea's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.kea_log()
        );
        hex::decode(String::from_utf8_lossy(&out.stdout).trim()).expect("hex reply")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The processes first, then (`net` dropped next) the namespaces.
        self.procs.clear();
    }
}

fn kea4_config(iface: &str) -> String {
    let class_item = format!("{:02x}{}", FQDN.len(), hex::encode(FQDN));
    format!(
        r#"{{"Dhcp4": {{
  "interfaces-config": {{"interfaces": ["{iface}"], "dhcp-socket-type": "raw"}},
  "lease-database": {{"type": "memfile", "persist": false}},
  "option-def": [
    {{"name": "acme-fqdn", "code": 1, "space": "vendor-55357", "type": "string"}},
    {{"name": "acme-url", "code": 2, "space": "vendor-55357", "type": "string"}}
  ],
  "option-data": [
    {{"name": "vivso-suboptions", "data": "55357", "always-send": true}},
    {{"name": "acme-fqdn", "space": "vendor-55357", "data": "{FQDN}", "always-send": true}},
    {{"name": "acme-url", "space": "vendor-55357", "data": "{URL}", "always-send": true}},
    {{"name": "vivco-suboptions", "data": "55357, {class_item}", "always-send": true}}
  ],
  "subnet4": [{{"id": 1, "subnet": "10.79.0.0/24", "pools": [{{"pool": "10.79.0.50 - 10.79.0.150"}}]}}],
  "loggers": [{{"name": "kea-dhcp4", "output_options": [{{"output": "stdout"}}], "severity": "INFO"}}]
}}}}"#
    )
}

fn kea6_config(iface: &str) -> String {
    format!(
        r#"{{"Dhcp6": {{
  "interfaces-config": {{"interfaces": ["{iface}"], "service-sockets-max-retries": 20, "service-sockets-retry-wait-time": 250}},
  "lease-database": {{"type": "memfile", "persist": false}},
  "server-id": {{"type": "LL", "htype": 1, "identifier": "024c54000099", "persist": false}},
  "option-def": [
    {{"name": "acme-fqdn", "code": 1, "space": "vendor-55357", "type": "string"}},
    {{"name": "acme-url", "code": 2, "space": "vendor-55357", "type": "string"}}
  ],
  "option-data": [
    {{"name": "vendor-opts", "data": "55357", "always-send": true}},
    {{"name": "acme-fqdn", "space": "vendor-55357", "data": "{FQDN}", "always-send": true}},
    {{"name": "acme-url", "space": "vendor-55357", "data": "{URL}", "always-send": true}}
  ],
  "subnet6": [{{"id": 1, "subnet": "fd79::/64", "interface": "{iface}", "pools": [{{"pool": "fd79::100 - fd79::1ff"}}]}}],
  "loggers": [{{"name": "kea-dhcp6", "output_options": [{{"output": "stdout"}}], "severity": "INFO"}}]
}}}}"#
    )
}

/// Checks a Kea OFFER: header, the hint from 125, and Kea's 124 layout read by form (3).
fn check_kea_offer(bytes: &[u8], xid: u32) {
    let p = v4::Packet::new_checked(bytes).expect("Kea's OFFER parses");
    assert_eq!(p.op(), v4::Op::BootReply);
    assert_eq!(p.xid(), xid);
    assert_eq!(p.message_type(), Some(v4::MessageType::Offer));
    assert_eq!(
        p.server_identifier(),
        Some(core::net::Ipv4Addr::new(10, 79, 0, 1))
    );
    assert!(p.option_warnings().unwrap().is_empty());
    let hint = AcmeServerHint::from_v4(&p, &HintConfig::default())
        .unwrap()
        .expect("Kea sent the hint");
    assert_eq!(hint.fqdn.as_str(), FQDN);
    assert_eq!(
        hint.directory_url.map(|u| u.as_str().to_owned()).as_deref(),
        Some(URL)
    );
    assert_eq!(hint.source, HintSource::VendorSpecificInfo);

    // Kea 2.2's option 124: enterprise, then the item, no data-len byte.
    let o124 = p.option(124).expect("Kea sent option 124");
    let data = o124.contiguous().unwrap();
    assert_eq!(&data[..4], &55357u32.to_be_bytes());
    assert_eq!(
        usize::from(data[4]),
        FQDN.len(),
        "no data-len byte before the item"
    );
    let Some(Ok(v4::DhcpOption::ViVendorClass(vc))) = o124.parse() else {
        panic!("124 does not parse")
    };
    assert_eq!(vc.layout(), VendorClassLayout::NoDataLen);
    // Without the 125 (renamed to a private-use code), the hint comes from Kea's 124.
    let mut no125 = bytes.to_vec();
    let at = p.option(125).unwrap().offset();
    no125[at] = 250;
    let hint = AcmeServerHint::from_v4_bytes(&no125, &HintConfig::default())
        .unwrap()
        .expect("hint from Kea's 124");
    assert_eq!(
        (hint.fqdn.as_str(), hint.source),
        (FQDN, HintSource::VendorClass)
    );
    let repr = v4::Repr::parse(&p).unwrap();
    assert_eq!(
        v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap(),
        repr
    );
}

fn check_kea_reply6(bytes: &[u8], xid: u32) {
    let p = v6::Packet::new_checked(bytes).expect("Kea's REPLY parses");
    assert_eq!(p.msg_type(), v6::MessageType::Reply);
    assert_eq!(p.transaction_id(), xid);
    assert!(p.option_warnings().unwrap().is_empty());
    let hint = AcmeServerHint::from_v6(&p, &HintConfig::default())
        .unwrap()
        .expect("hint in Kea's option 17");
    assert_eq!(hint.fqdn.as_str(), FQDN);
    assert_eq!(
        hint.directory_url.map(|u| u.as_str().to_owned()).as_deref(),
        Some(URL)
    );
    assert_eq!(hint.source, HintSource::VendorSpecificInfo);
    let repr = v6::Repr::parse(&p).unwrap();
    assert_eq!(
        repr.option(v6::code::CLIENTID),
        Some(&v6::OptionRepr::ClientId(DUID.to_vec()))
    );
    assert_eq!(repr.to_bytes().unwrap(), bytes);
}

#[test]
fn kea_dhcp4_offer_carries_the_hint_in_125_and_124() {
    let Some(kea) = peers("Kea DHCPv4 interop", &["kea-dhcp4"]) else {
        return;
    };
    let mut lab = Lab::new();
    let iface = lab.net.server_if.clone();
    lab.start_kea(&kea[0], &kea4_config(&iface), "DHCP4_STARTED");
    let xid = 0x4b45_0001;
    let discover = v4::Repr::discover(xid, MAC, None).to_bytes().unwrap();
    let offer = lab.exchange(&discover, false, "0.0.0.0", 68, "255.255.255.255");
    save_vector(vectors(), "kea-offer.bin", &offer);
    check_kea_offer(&offer, xid);
}

#[test]
fn kea_dhcp6_reply_carries_the_hint_in_17() {
    let Some(kea) = peers("Kea DHCPv6 interop", &["kea-dhcp6"]) else {
        return;
    };
    let mut lab = Lab::new();
    let iface = lab.net.server_if.clone();
    lab.start_kea(&kea[0], &kea6_config(&iface), "DHCP6_STARTED");
    let xid = 0x4b4506;
    let request = v6::Repr::information_request(xid, &DUID, None)
        .to_bytes()
        .unwrap();
    let reply = lab.exchange(&request, true, "::", 546, "ff02::1:2");
    save_vector(vectors(), "kea-v6-reply.bin", &reply);
    check_kea_reply6(&reply, xid);
}

/// dhcpcd as the client: its DISCOVER carries `vendclass 55357 lantrust` and
/// `vendclass 55357 acme.home.arpa` in dhcpcd's 124 layout; a Python listener on port 67 in the
/// server namespace captures it.
#[test]
fn dhcpcd_discover_carries_its_vendor_class() {
    let Some(dhcpcd) = peers("dhcpcd client interop", &["dhcpcd"]) else {
        return;
    };
    let lab = Lab::new();
    let conf = lab.dir.path().join("dhcpcd.conf");
    std::fs::write(
        &conf,
        format!("vendclass 55357 lantrust\nvendclass 55357 {FQDN}\nnohook resolv.conf\n"),
    )
    .unwrap();
    const LISTENER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
s.bind(("0.0.0.0", 67)); s.settimeout(20)
while True:
    data, _ = s.recvfrom(65535)
    if len(data) > 240 and data[0] == 1:
        print(data.hex()); break
"#;
    let listener = netns::exec(&lab.net.server, "python3")
        .args(["-c", LISTENER])
        .arg(&lab.net.server_if)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the listener");
    let listener = Proc(listener);
    std::thread::sleep(Duration::from_millis(300));
    // -1: one attempt; -B: foreground; -t: give up after a few seconds; -c: no hook script.
    let mut client = netns::exec(&lab.net.client, &dhcpcd[0]);
    client
        .arg("-f")
        .arg(&conf)
        .args(["-4", "-1", "-B", "-t", "6", "-c", "/bin/true"])
        .arg(&lab.net.client_if)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let mut client = Proc::spawn(&mut client);
    let out = listener.wait_with_output();
    // SIGTERM, not the SIGKILL of Proc's drop: dhcpcd's privilege-separated helpers only exit
    // when its master process shuts down cleanly.
    let _ = Command::new("kill")
        .args(["-TERM", &client.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.has_exited() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        out.status.success(),
        "no DISCOVER from dhcpcd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let discover = hex::decode(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    save_vector(vectors(), "dhcpcd-discover.bin", &discover);
    check_dhcpcd_discover(&discover);
}

fn check_dhcpcd_discover(bytes: &[u8]) {
    let p = v4::Packet::new_checked(bytes).unwrap();
    assert_eq!(p.message_type(), Some(v4::MessageType::Discover));
    assert!(p.option_warnings().unwrap().is_empty());
    let o124 = p.option(124).expect("dhcpcd sent option 124");
    let Some(Ok(v4::DhcpOption::ViVendorClass(vc))) = o124.parse() else {
        panic!("dhcpcd's 124 does not parse")
    };
    assert_eq!(vc.layout(), VendorClassLayout::NoDataLen);
    let blocks: Vec<_> = vc.iter().collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].enterprise, 55357);
    let items: Vec<&[u8]> = blocks[0].data.iter().collect();
    assert_eq!(items, [&b"lantrust"[..], FQDN.as_bytes()]);
    let repr = v4::Repr::parse(&p).unwrap();
    assert!(matches!(
        repr.option(124),
        Some(OptionRepr::ViVendorClass(b)) if b[0].data.len() == 2
    ));
}

#[test]
fn saved_kea_and_dhcpcd_vectors_parse() {
    let offer = std::fs::read(vectors().join("kea-offer.bin")).unwrap();
    check_kea_offer(&offer, 0x4b45_0001);
    let reply = std::fs::read(vectors().join("kea-v6-reply.bin")).unwrap();
    check_kea_reply6(&reply, 0x4b4506);
    let discover = std::fs::read(vectors().join("dhcpcd-discover.bin")).unwrap();
    check_dhcpcd_discover(&discover);
}
