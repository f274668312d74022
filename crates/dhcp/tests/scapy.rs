//! Cross-checks with scapy (PyPI), an independent DHCP implementation: we parse packets scapy
//! crafts, and scapy decodes the packets we emit. Skips loudly when python3 or scapy is missing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::{Ipv4Addr, Ipv6Addr};
use std::collections::HashMap;
use std::process::Command;

use lantrust_dhcp::{AcmeServerHint, Fqdn, HintConfig, HintSource, Name, v4, v6};

fn scapy(script: &str, args: &[&str]) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import scapy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        lantrust_test_support::skip(
            "scapy interop: python3 with scapy not available (scripts/install-peers installs it)",
        );
        return None;
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "scapy script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// `key=value` lines into a map (later keys with the same name get a numeric suffix).
fn fields(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let mut key = k.to_owned();
            let mut n = 1;
            while m.contains_key(&key) {
                n += 1;
                key = format!("{k}#{n}");
            }
            m.insert(key, v.to_owned());
        }
    }
    m
}

const CRAFT_V4: &str = r#"
from scapy.all import BOOTP, DHCP, raw
vsi = bytes.fromhex("0000000903010178") + b"\x00\x00\xd8\x3d\x1e" + b"\x01\x08acme.lan" + b"\x02\x12https://acme.lan/d"
p = BOOTP(op=2, xid=0x11223344, yiaddr="192.168.7.20", chaddr=bytes.fromhex("024c54000001") + b"\0" * 10) / DHCP(options=[
    ("message-type", "ack"), ("server_id", "192.168.7.1"), ("lease_time", 3600), ("renewal_time", 1800),
    ("rebinding_time", 3150), ("subnet_mask", "255.255.255.0"), ("router", "192.168.7.1"),
    ("name_server", "192.168.7.1", "192.168.7.2"), ("domain", "home.arpa"), ("vendor_class_id", "55357:other.lan"),
    (119, b"\x04home\x04arpa\x00\x03lab\xc0\x05"), ("vendor_specific_information", vsi), "end"])
print(raw(p).hex())
"#;

#[test]
fn we_parse_what_scapy_crafts_v4() {
    let Some(out) = scapy(CRAFT_V4, &[]) else {
        return;
    };
    let bytes = hex::decode(out.trim()).unwrap();
    let p = v4::Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.xid(), 0x1122_3344);
    assert_eq!(p.yiaddr(), Ipv4Addr::new(192, 168, 7, 20));
    assert_eq!(p.message_type(), Some(v4::MessageType::Ack));
    assert_eq!(p.server_identifier(), Some(Ipv4Addr::new(192, 168, 7, 1)));
    assert_eq!(p.lease_time(), Some(3600));
    let r = v4::Repr::parse(&p).unwrap();
    use v4::OptionRepr as O;
    assert!(r.options.contains(&O::RenewalTime(1800)));
    assert!(r.options.contains(&O::RebindingTime(3150)));
    assert!(r.options.contains(&O::DomainNameServer(vec![
        Ipv4Addr::new(192, 168, 7, 1),
        Ipv4Addr::new(192, 168, 7, 2)
    ])));
    assert!(r.options.contains(&O::DomainName(b"home.arpa".to_vec())));
    let Some(O::DomainSearch(names)) = r.option(119) else {
        panic!()
    };
    assert_eq!(
        names.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["home.arpa", "lab.arpa"]
    );
    let Some(O::ViVendorSpecific(blocks)) = r.option(125) else {
        panic!()
    };
    assert_eq!(
        blocks.iter().map(|b| b.enterprise).collect::<Vec<_>>(),
        [9, 55357]
    );
    // Form (2) outranks the option 60 form also present.
    let h = AcmeServerHint::from_v4(&p, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("acme.lan", HintSource::VendorSpecificInfo)
    );
    assert_eq!(h.directory_url.unwrap().as_str(), "https://acme.lan/d");
}

const CRAFT_V6: &str = r#"
from scapy.all import raw
from scapy.layers.dhcp6 import *
r = (DHCP6_Reply(trid=0x123456) / DHCP6OptClientId(duid=DUID_LL(lladdr="02:4c:54:00:00:01"))
     / DHCP6OptIA_NA(iaid=7, T1=100, T2=160, ianaopts=[DHCP6OptIAAddress(addr="fd00::20", preflft=300, validlft=600)])
     / DHCP6OptDNSServers(dnsservers=["fd00::1", "fd00::2"]) / DHCP6OptDNSDomains(dnsdomains=["home.arpa.", "lan."])
     / DHCP6OptVendorSpecificInfo(enterprisenum=55357, vso=[VENDOR_SPECIFIC_OPTION(optcode=1, optdata=b"acme.lan"),
         VENDOR_SPECIFIC_OPTION(optcode=2, optdata=b"https://acme.lan/dir")]))
print(raw(r).hex())
"#;

#[test]
fn we_parse_what_scapy_crafts_v6() {
    let Some(out) = scapy(CRAFT_V6, &[]) else {
        return;
    };
    let bytes = hex::decode(out.trim()).unwrap();
    let p = v6::Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.msg_type(), v6::MessageType::Reply);
    assert_eq!(p.transaction_id(), 0x12_3456);
    let r = v6::Repr::parse(&p).unwrap();
    let Some(v6::OptionRepr::IaNa {
        iaid: 7,
        t1: 100,
        t2: 160,
        options,
    }) = r.option(3)
    else {
        panic!("{r:?}")
    };
    let v6::OptionRepr::IaAddr {
        address,
        preferred: 300,
        valid: 600,
        ..
    } = &options[0]
    else {
        panic!()
    };
    assert_eq!(*address, "fd00::20".parse::<Ipv6Addr>().unwrap());
    assert_eq!(
        r.option(23),
        Some(&v6::OptionRepr::DnsServers(vec![
            "fd00::1".parse().unwrap(),
            "fd00::2".parse().unwrap()
        ]))
    );
    let Some(v6::OptionRepr::DomainList(names)) = r.option(24) else {
        panic!()
    };
    assert_eq!(
        names.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["home.arpa", "lan"]
    );
    let h = AcmeServerHint::from_v6(&p, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.fqdn.as_str(), h.directory_url.unwrap().as_str()),
        ("acme.lan", "https://acme.lan/dir")
    );
    assert_eq!(r.to_bytes().unwrap(), bytes);
}

const DECODE_V4: &str = r#"
import sys
from scapy.all import BOOTP, DHCP
p = BOOTP(bytes.fromhex(sys.argv[1]))
print(f"op={p.op}"); print(f"xid={p.xid}"); print(f"yiaddr={p.yiaddr}"); print(f"chaddr={p.chaddr[:6].hex()}")
for o in p[DHCP].options:
    if isinstance(o, tuple):
        name = o[0]
        vals = [v.hex() if isinstance(v, bytes) else str(v) for v in o[1:]]
        print(f"{name}={','.join(vals)}")
    else:
        print(f"{o}=")
"#;

#[test]
fn scapy_decodes_our_ack() {
    let request = v4::Repr::discover(0x0a0b_0c0d, [2, 0x4c, 0x54, 0, 0, 1], None);
    let lease = v4::ServerLease {
        server_id: Ipv4Addr::new(192, 168, 7, 1),
        address: Ipv4Addr::new(192, 168, 7, 20),
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        routers: vec![Ipv4Addr::new(192, 168, 7, 1)],
        dns_servers: vec![Ipv4Addr::new(192, 168, 7, 1)],
        domain_name: Some("home.arpa".into()),
        domain_search: vec![Name::from_dotted("home.arpa").unwrap()],
        lease_time: 7200,
    };
    let mut ack = v4::Repr::reply(&request, v4::MessageType::Ack, &lease);
    ack.set_acme_hint(
        &Fqdn::new("acme.home.arpa").unwrap(),
        Some("https://acme.home.arpa/acme/directory"),
    )
    .unwrap();
    let bytes = ack.to_bytes().unwrap();
    let hexed: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let Some(out) = scapy(DECODE_V4, &[&hexed]) else {
        return;
    };
    let f = fields(&out);
    assert_eq!(f["op"], "2");
    assert_eq!(f["xid"], 0x0a0b_0c0du32.to_string());
    assert_eq!(f["yiaddr"], "192.168.7.20");
    assert_eq!(f["chaddr"], "024c54000001");
    assert_eq!(f["message-type"], "5");
    assert_eq!(f["server_id"], "192.168.7.1");
    assert_eq!(f["lease_time"], "7200");
    assert_eq!(f["renewal_time"], "3600");
    assert_eq!(f["rebinding_time"], "6300");
    assert_eq!(f["subnet_mask"], "255.255.255.0");
    assert_eq!(f["router"], "192.168.7.1");
    assert_eq!(f["name_server"], "192.168.7.1");
    assert_eq!(f["domain"], hex::encode("home.arpa"));
    let mut vsi = vec![0, 0, 0xd8, 0x3d];
    let (name, url) = (b"acme.home.arpa", b"https://acme.home.arpa/acme/directory");
    vsi.push((4 + name.len() + url.len()) as u8);
    vsi.extend([1, name.len() as u8]);
    vsi.extend(name);
    vsi.extend([2, url.len() as u8]);
    vsi.extend(url);
    assert_eq!(f["vendor_specific_information"], hex::encode(vsi));
    assert!(f.contains_key("end"));
}

const DECODE_V6: &str = r#"
import sys
from scapy.layers.dhcp6 import *
p = DHCP6_Advertise(bytes.fromhex(sys.argv[1]))
print(f"msgtype={p.msgtype}"); print(f"trid={p.trid}")
print(f"clientid={bytes(p[DHCP6OptClientId].duid).hex()}")
print(f"serverid={bytes(p[DHCP6OptServerId].duid).hex()}")
print(f"dns={','.join(p[DHCP6OptDNSServers].dnsservers)}")
print(f"domains={','.join(p[DHCP6OptDNSDomains].dnsdomains)}")
v = p[DHCP6OptVendorSpecificInfo]
print(f"enterprise={v.enterprisenum}")
for o in v.vso:
    print(f"vso{o.optcode}={o.optdata.decode()}")
"#;

#[test]
fn scapy_decodes_our_advertise() {
    let client_duid = [0, 3, 0, 1, 2, 0x4c, 0x54, 0, 0, 1];
    let server_duid = [0, 3, 0, 1, 2, 0x4c, 0x54, 0, 0, 0xfe];
    let solicit = v6::Repr::solicit(0x00ab_cdef, &client_duid, 1, None);
    let dns = ["fd00::1".parse().unwrap()];
    let domains = [Name::from_dotted("home.arpa").unwrap()];
    let mut adv = v6::Repr::reply(
        &solicit,
        v6::MessageType::Advertise,
        &server_duid,
        &dns,
        &domains,
    );
    adv.set_acme_hint(
        &Fqdn::new("acme.home.arpa").unwrap(),
        Some("https://acme.home.arpa/acme/directory"),
    )
    .unwrap();
    let hexed: String = adv
        .to_bytes()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let Some(out) = scapy(DECODE_V6, &[&hexed]) else {
        return;
    };
    let f = fields(&out);
    assert_eq!(f["msgtype"], "2");
    assert_eq!(f["trid"], 0x00ab_cdefu32.to_string());
    assert_eq!(f["clientid"], hex::encode(client_duid));
    assert_eq!(f["serverid"], hex::encode(server_duid));
    assert_eq!(f["dns"], "fd00::1");
    assert_eq!(f["domains"], "home.arpa.");
    assert_eq!(f["enterprise"], "55357");
    assert_eq!(f["vso1"], "acme.home.arpa");
    assert_eq!(f["vso2"], "https://acme.home.arpa/acme/directory");
}

/// DHCPv6 option 16 (RFC 8415 §21.16) crafted by scapy: a CableLabs one, a malformed one from
/// another vendor (an item claiming 20 bytes, holding 2), and ours with two items.
const CRAFT_V6_VENDOR_CLASS: &str = r#"
from scapy.all import raw
from scapy.layers.dhcp6 import *
r = (DHCP6_Reply(trid=0x0a0b0c) / DHCP6OptClientId(duid=DUID_LL(lladdr="02:4c:54:00:00:01"))
     / DHCP6OptVendorClass(enterprisenum=4491, vcdata=[VENDOR_CLASS_DATA(data=b"docsis3.0")])
     / DHCP6OptVendorClass(enterprisenum=9, vcdata=[VENDOR_CLASS_DATA(len=20, data=b"ab")])
     / DHCP6OptVendorClass(enterprisenum=55357, vcdata=[VENDOR_CLASS_DATA(data=b"acme.lan"),
                                                        VENDOR_CLASS_DATA(data=b"lantrust")]))
print(raw(r).hex())
"#;

#[test]
fn option_16_agrees_with_scapy_both_ways() {
    let Some(out) = scapy(CRAFT_V6_VENDOR_CLASS, &[]) else {
        return;
    };
    let bytes = hex::decode(out.trim()).unwrap();
    let p = v6::Packet::new_checked(&bytes[..]).unwrap();
    let sixteens: Vec<_> = p.options().flatten().filter(|o| o.code == 16).collect();
    assert_eq!(sixteens.len(), 3);
    let Ok(v6::Dhcpv6Option::VendorClass { enterprise, data }) = sixteens[0].parse() else {
        panic!()
    };
    assert_eq!(enterprise, 4491);
    assert_eq!(
        v6::vendor_class_items(data).collect::<Vec<_>>(),
        [&b"docsis3.0"[..]]
    );
    // The other vendor's malformed 16 is skipped by the hint reader (as a v4 124 block would
    // be) and reported by the lenient parse; ours gives the hint.
    let h = AcmeServerHint::from_v6(&p, &HintConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.fqdn.as_str(), h.source),
        ("acme.lan", HintSource::VendorClass)
    );
    assert!(v6::Repr::parse(&p).is_err());
    let (repr, warnings) = v6::Repr::parse_lenient(&p).unwrap();
    let w: Vec<_> = warnings.iter().map(|w| (w.code, w.offset)).collect();
    assert_eq!(w, [(16, sixteens[1].offset)]);
    assert!(repr.options.contains(&v6::OptionRepr::VendorClass {
        enterprise: 55357,
        data: vec![b"acme.lan".to_vec(), b"lantrust".to_vec()],
    }));

    // And scapy reads our SOLICIT's option 16 as we meant it.
    let solicit = v6::Repr::solicit(0x00_1234, &[0, 3, 0, 1, 2, 0x4c, 0x54, 0, 0, 1], 1, None);
    let hexed = hex::encode(solicit.to_bytes().unwrap());
    let Some(out) = scapy(
        r#"
import sys
from scapy.layers.dhcp6 import DHCP6_Solicit, DHCP6OptVendorClass
p = DHCP6_Solicit(bytes.fromhex(sys.argv[1]))
o = p[DHCP6OptVendorClass]
print(f"enterprise={o.enterprisenum}")
for d in o.vcdata:
    print(f"item={d.data.decode()}")
print(f"optlen={o.optlen}")
"#,
        &[&hexed],
    ) else {
        return;
    };
    let f = fields(&out);
    assert_eq!(f["enterprise"], "55357");
    assert_eq!(f["item"], "lantrust");
    assert!(!f.contains_key("item#2"));
    assert_eq!(f["optlen"], (4 + 2 + "lantrust".len()).to_string());
}
