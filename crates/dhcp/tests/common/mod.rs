//! Shared by the zero-allocation test and the codec bench: a typical DHCPACK and a decoder that
//! reads every field and option value through the zero-copy view.
#![allow(dead_code, unreachable_pub)]

use core::hint::black_box;
use core::net::Ipv4Addr;

use lantrust_dhcp::v4::{self, DhcpOption, OptionRepr};
use lantrust_dhcp::{AcmeServerHint, Fqdn, HintConfig, Name};

/// A DHCPACK like a home router sends to a lantrust device: 13 options, 355 bytes.
pub fn typical_ack() -> Vec<u8> {
    let request = v4::Repr::request(
        0x3903_f326,
        [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30],
        Ipv4Addr::new(192, 168, 1, 57),
        Ipv4Addr::new(192, 168, 1, 1),
        None,
    );
    let lease = v4::ServerLease {
        server_id: Ipv4Addr::new(192, 168, 1, 1),
        address: Ipv4Addr::new(192, 168, 1, 57),
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        routers: vec![Ipv4Addr::new(192, 168, 1, 1)],
        dns_servers: vec![Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(9, 9, 9, 9)],
        domain_name: Some("home.arpa".into()),
        domain_search: vec![
            Name::from_dotted("home.arpa").unwrap(),
            Name::from_dotted("iot.home.arpa").unwrap(),
        ],
        lease_time: 86_400,
    };
    let mut ack = v4::Repr::reply(&request, v4::MessageType::Ack, &lease);
    ack.options.push(OptionRepr::Unknown {
        code: 28,
        data: vec![192, 168, 1, 255],
    }); // broadcast address
    ack.options.push(OptionRepr::Unknown {
        code: 42,
        data: vec![192, 168, 1, 1],
    }); // NTP servers
    ack.set_acme_hint(&Fqdn::new("acme.home.arpa").unwrap(), None)
        .unwrap();
    ack.to_bytes().unwrap()
}

/// Decodes the whole message through the view, touching every value; returns a checksum.
pub fn decode_all(bytes: &[u8]) -> Result<u64, lantrust_dhcp::Error> {
    let p = v4::Packet::new_checked(bytes)?;
    let mut sum = u64::from(p.xid()) + u64::from(u32::from(p.yiaddr())) + u64::from(p.flags());
    sum += p.client_hardware_address().len() as u64;
    for opt in p.options() {
        let opt = opt?;
        let typed = match opt.parse() {
            Some(t) => t?,
            None => continue,
        };
        sum += u64::from(typed.code());
        match typed {
            DhcpOption::SubnetMask(a)
            | DhcpOption::ServerIdentifier(a)
            | DhcpOption::RequestedIpAddress(a) => sum += u64::from(u32::from(a)),
            DhcpOption::Router(a) | DhcpOption::DomainNameServer(a) => {
                sum += a.iter().map(|a| u64::from(u32::from(a))).sum::<u64>()
            }
            DhcpOption::LeaseTime(t)
            | DhcpOption::RenewalTime(t)
            | DhcpOption::RebindingTime(t) => sum += u64::from(t),
            DhcpOption::MessageType(t) => sum += u64::from(u8::from(t)),
            DhcpOption::DomainSearch(l) => {
                sum += l.iter().map(|n| n.as_wire().len() as u64).sum::<u64>()
            }
            DhcpOption::ViVendorSpecific(v) => {
                for b in v.iter() {
                    sum += u64::from(b.enterprise)
                        + b.suboptions
                            .iter()
                            .map(|s| s.data.len() as u64)
                            .sum::<u64>();
                }
            }
            DhcpOption::HostName(d)
            | DhcpOption::DomainName(d)
            | DhcpOption::Unknown { data: d, .. } => sum += d.len() as u64,
            other => sum += u64::from(black_box(other).code()),
        }
    }
    Ok(sum)
}

/// Hint extraction from the same bytes.
pub fn hint(bytes: &[u8]) -> Option<AcmeServerHint> {
    AcmeServerHint::from_v4_bytes(bytes, &HintConfig::default())
        .ok()
        .flatten()
}
