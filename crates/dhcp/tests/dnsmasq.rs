//! Interop with a real DHCP server: dnsmasq runs in a network namespace joined by a veth pair to
//! a second namespace, where a tiny UDP client sends the bytes our builders make and prints the
//! reply. The reply is parsed with this crate and the ACME-server hint checked. Replies are kept
//! under `tests/vectors/` (set `LANTRUST_SAVE_VECTORS=1` to refresh them) and parsed again by
//! the root-free tests at the end of this file.
//!
//! Needs root, `ip` and `/usr/sbin/dnsmasq`; skips loudly otherwise.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use lantrust_dhcp::{AcmeServerHint, HintConfig, HintSource, v4, v6};
use lantrust_test_support::netns::{self, Pair};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";
const FQDN: &str = "acme.home.arpa";
const URL: &str = "https://acme.home.arpa/acme/directory";

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Why the test cannot run (after [`netns::permitted`]: root and `ip`), if it cannot.
fn skip_reason() -> Option<String> {
    if !Path::new(DNSMASQ).exists() {
        return Some(format!(
            "{DNSMASQ} not installed (apt-get install dnsmasq-base)"
        ));
    }
    if Command::new("python3").arg("-V").output().is_err() {
        return Some("python3 not installed (used as the UDP client)".into());
    }
    None
}

/// Two namespaces joined by a veth pair, with dnsmasq in the server one; all removed on drop.
struct Lab {
    net: Pair,
    dnsmasq: Option<Child>,
    lease_file: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let net = Pair::new("dh");
        net.add_server_addr("10.77.0.1/24");
        net.add_server_addr("fd77::1/64");
        let lease_file =
            std::env::temp_dir().join(format!("lantrust-dnsmasq-{}.leases", net.server));
        Lab {
            net,
            dnsmasq: None,
            lease_file,
        }
    }

    fn start_dnsmasq(&mut self) {
        let child = netns::exec(&self.net.server, DNSMASQ)
            .args(["--no-daemon", "--conf-file=/dev/null", "--port=0"])
            .arg(format!("--interface={}", self.net.server_if))
            .args([
                "--bind-interfaces",
                "--dhcp-authoritative",
                "--pid-file=",
                "--log-facility=-",
                "--log-dhcp",
            ])
            .arg(format!("--dhcp-leasefile={}", self.lease_file.display()))
            .arg("--dhcp-range=10.77.0.50,10.77.0.150,255.255.255.0,1h")
            .arg("--dhcp-range=fd77::100,fd77::1ff,64,1h")
            .arg("--dhcp-option=option:domain-name,home.arpa")
            .arg("--dhcp-option=option:domain-search,home.arpa,lan")
            .arg("--dhcp-option=option6:domain-search,home.arpa")
            .arg("--dhcp-option=option6:dns-server,[fd77::1]")
            .arg(format!("--dhcp-option=vi-encap:55357,1,{FQDN}"))
            .arg(format!("--dhcp-option=vi-encap:55357,2,{URL}"))
            .arg(format!("--dhcp-option=vi-encap:55357,option6:1,{FQDN}"))
            .arg(format!("--dhcp-option=vi-encap:55357,option6:2,{URL}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dnsmasq");
        self.dnsmasq = Some(child);
        // dnsmasq binds quickly; give it a moment and check it did not exit on a config error.
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = self
            .dnsmasq
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("dnsmasq exited at start: {status}");
        }
    }

    /// Sends `payload` from the client namespace and returns the first reply's bytes.
    fn exchange(
        &self,
        payload: &[u8],
        v6: bool,
        bind: &str,
        port: u16,
        dest: &str,
        dest_port: u16,
    ) -> Vec<u8> {
        const CLIENT: &str = r#"
import socket, sys
payload, dev, v6, bind, port, dest, dport = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
s.bind((bind, port))
s.settimeout(5)
s.sendto(payload, (dest, dport, 0, socket.if_nametoindex(dev)) if v6 else (dest, dport))
data, _ = s.recvfrom(65535)
print(data.hex())
"#;
        let hexed: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        let start = Instant::now();
        let out = netns::exec(&self.net.client, "python3")
            .args(["-c", CLIENT, &hexed, &self.net.client_if])
            .args([
                if v6 { "1" } else { "0" },
                bind,
                &port.to_string(),
                dest,
                &dest_port.to_string(),
            ])
            .output()
            .expect("run python3 client");
        assert!(
            out.status.success(),
            "UDP client failed after {:?}: {}",
            start.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        );
        hex::decode(String::from_utf8_lossy(&out.stdout).trim()).expect("hex reply")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.dnsmasq.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // `net` is dropped next: its namespaces go, and the veth pair with them.
        let _ = std::fs::remove_file(&self.lease_file);
    }
}

fn save(name: &str, bytes: &[u8]) {
    if std::env::var_os("LANTRUST_SAVE_VECTORS").is_some() {
        std::fs::write(vectors().join(name), bytes).expect("save vector");
    }
}

fn check_v4_reply(bytes: &[u8], expected: v4::MessageType, xid: u32) {
    let packet = v4::Packet::new_checked(bytes).expect("dnsmasq reply parses");
    assert_eq!(packet.op(), v4::Op::BootReply);
    assert_eq!(packet.xid(), xid);
    assert_eq!(packet.message_type(), Some(expected));
    assert_eq!(
        packet.server_identifier(),
        Some(Ipv4Addr::new(10, 77, 0, 1))
    );
    let hint = AcmeServerHint::from_v4(&packet, &HintConfig::default())
        .unwrap()
        .expect("dnsmasq sent the hint");
    assert_eq!(hint.fqdn.as_str(), FQDN);
    assert_eq!(
        hint.directory_url.map(|u| u.as_str().to_owned()).as_deref(),
        Some(URL)
    );
    assert_eq!(hint.source, HintSource::VendorSpecificInfo);
    let repr = v4::Repr::parse(&packet).unwrap();
    let names = repr.options.iter().find_map(|o| match o {
        v4::OptionRepr::DomainSearch(n) => {
            Some(n.iter().map(ToString::to_string).collect::<Vec<_>>())
        }
        _ => None,
    });
    assert_eq!(names, Some(vec!["home.arpa".to_owned(), "lan".to_owned()]));
    assert_eq!(
        repr.option(v4::code::DOMAIN_NAME),
        Some(&v4::OptionRepr::DomainName(b"home.arpa".to_vec()))
    );
    // What we parse we can emit again, identically modulo padding.
    assert_eq!(
        v4::Repr::parse_bytes(&repr.to_bytes().unwrap()).unwrap(),
        repr
    );
}

const MAC: [u8; 6] = [0x02, 0x4c, 0x54, 0x00, 0x00, 0x01];
const DUID: [u8; 10] = [0, 3, 0, 1, 0x02, 0x4c, 0x54, 0x00, 0x00, 0x01];

#[test]
fn dnsmasq_offer_and_inform_ack_carry_the_hint() {
    if !netns::permitted("dnsmasq interop") {
        return;
    }
    if let Some(why) = skip_reason() {
        lantrust_test_support::skip(format_args!("dnsmasq interop: {why}"));
        return;
    }
    let mut lab = Lab::new();
    lab.start_dnsmasq();

    // DISCOVER (broadcast flag set, so dnsmasq broadcasts the OFFER back).
    let discover = v4::Repr::discover(0x4c54_0001, MAC, None)
        .to_bytes()
        .unwrap();
    let offer = lab.exchange(&discover, false, "0.0.0.0", 68, "255.255.255.255", 67);
    check_v4_reply(&offer, v4::MessageType::Offer, 0x4c54_0001);
    let yiaddr = v4::Packet::new_checked(&offer[..]).unwrap().yiaddr();
    assert!(
        yiaddr.octets()[..3] == [10, 77, 0] && (50..=150).contains(&yiaddr.octets()[3]),
        "{yiaddr}"
    );
    save("dnsmasq-offer.bin", &offer);

    // INFORM from a configured address: dnsmasq answers ACK by unicast.
    lab.net.add_client_addr("10.77.0.60/24");
    let inform = v4::Repr::inform(0x4c54_0002, MAC, Ipv4Addr::new(10, 77, 0, 60), None)
        .to_bytes()
        .unwrap();
    let ack = lab.exchange(&inform, false, "10.77.0.60", 68, "10.77.0.1", 67);
    check_v4_reply(&ack, v4::MessageType::Ack, 0x4c54_0002);
    save("dnsmasq-inform-ack.bin", &ack);
}

#[test]
fn dnsmasq_dhcpv6_reply_carries_the_hint() {
    if !netns::permitted("dnsmasq DHCPv6 interop") {
        return;
    }
    if let Some(why) = skip_reason() {
        lantrust_test_support::skip(format_args!("dnsmasq DHCPv6 interop: {why}"));
        return;
    }
    let mut lab = Lab::new();
    lab.net.add_client_addr("fd77::60/64");
    lab.start_dnsmasq();
    let request = v6::Repr::information_request(0x4c5403, &DUID, None)
        .to_bytes()
        .unwrap();
    let reply = lab.exchange(&request, true, "::", 546, "ff02::1:2", 547);
    save("dnsmasq-v6-reply.bin", &reply);
    check_v6_reply(&reply);
}

fn check_v6_reply(bytes: &[u8]) {
    let packet = v6::Packet::new_checked(bytes).expect("dnsmasq DHCPv6 reply parses");
    assert_eq!(packet.msg_type(), v6::MessageType::Reply);
    assert_eq!(packet.transaction_id(), 0x4c5403);
    let hint = AcmeServerHint::from_v6(&packet, &HintConfig::default())
        .unwrap()
        .expect("hint in option 17");
    assert_eq!(hint.fqdn.as_str(), FQDN);
    assert_eq!(
        hint.directory_url.map(|u| u.as_str().to_owned()).as_deref(),
        Some(URL)
    );
    let repr = v6::Repr::parse(&packet).unwrap();
    assert_eq!(
        repr.option(v6::code::CLIENTID),
        Some(&v6::OptionRepr::ClientId(DUID.to_vec()))
    );
    assert_eq!(
        repr.option(v6::code::DNS_SERVERS),
        Some(&v6::OptionRepr::DnsServers(vec![
            "fd77::1".parse::<Ipv6Addr>().unwrap()
        ]))
    );
    let Some(v6::OptionRepr::DomainList(names)) = repr.option(v6::code::DOMAIN_LIST) else {
        panic!("{repr:?}")
    };
    assert_eq!(names[0].to_string(), "home.arpa");
    assert_eq!(
        repr.to_bytes().unwrap(),
        bytes,
        "re-emitting dnsmasq's reply gives the same bytes"
    );
}

#[test]
fn saved_dnsmasq_vectors_parse() {
    let offer = std::fs::read(vectors().join("dnsmasq-offer.bin")).unwrap();
    check_v4_reply(&offer, v4::MessageType::Offer, 0x4c54_0001);
    let ack = std::fs::read(vectors().join("dnsmasq-inform-ack.bin")).unwrap();
    check_v4_reply(&ack, v4::MessageType::Ack, 0x4c54_0002);
    let reply = std::fs::read(vectors().join("dnsmasq-v6-reply.bin")).unwrap();
    check_v6_reply(&reply);
}
