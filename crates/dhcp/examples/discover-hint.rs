//! What a lantrust-aware router and an IoT device do with DHCP (draft-sweet-iot-acme §3.3):
//! the device sends a DHCPDISCOVER asking for the hint, the router answers with a DHCPACK that
//! carries the ACME server in option 125 (enterprise 55357), and the device extracts it.
//!
//! Run: `cargo run --release -p lantrust-dhcp --example discover-hint`

use core::error::Error;
use core::net::Ipv4Addr;

use lantrust_dhcp::{AcmeServerHint, Fqdn, HintConfig, v4};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    let mac = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    println!("1. The device broadcasts a DHCPDISCOVER asking for the ACME-server hint");
    let discover = v4::Repr::discover(0x3903_f326, mac, None);
    let discover_bytes = discover.to_bytes()?;
    let prl = match discover.option(v4::code::PARAMETER_REQUEST_LIST) {
        Some(v4::OptionRepr::ParameterRequestList(codes)) => codes.clone(),
        _ => Vec::new(),
    };
    println!(
        "   {} bytes, xid {:#010x}, asks for options {prl:?} (124/125 carry the hint)",
        discover_bytes.len(),
        discover.xid
    );

    println!("2. A lantrust-aware router builds its DHCPACK with the hint in option 125 (form 2)");
    let request = v4::Repr::parse_bytes(&discover_bytes)?;
    let lease = v4::ServerLease {
        server_id: Ipv4Addr::new(192, 168, 1, 1),
        address: Ipv4Addr::new(192, 168, 1, 57),
        subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
        routers: vec![Ipv4Addr::new(192, 168, 1, 1)],
        dns_servers: vec![Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 2)],
        domain_name: Some("home.arpa".into()),
        domain_search: vec![lantrust_dhcp::Name::from_dotted("home.arpa")?],
        lease_time: 86_400,
    };
    let mut ack = v4::Repr::reply(&request, v4::MessageType::Ack, &lease);
    let server = Fqdn::new("acme-server.home.arpa")?;
    ack.set_acme_hint(
        &server,
        Some("https://acme-server.home.arpa/acme/directory"),
    )?;
    let mut wire = vec![0u8; ack.buffer_len()];
    let n = ack.emit(&mut wire)?;
    let wire = &wire[..n];
    println!("   DHCPACK: {n} bytes, {} options", ack.options.len());
    println!("     BOOTP header  {}", hex(&wire[..44]));
    println!("     sname + file  (192 zero bytes)");
    println!("     cookie        {}", hex(&wire[236..240]));
    for line in hex(&wire[240..]).as_bytes().chunks(64) {
        println!("     options       {}", String::from_utf8_lossy(line));
    }

    println!("3. The device parses the reply (zero-copy, no allocation) and reads the lease");
    let packet = v4::Packet::new_checked(wire)?;
    println!(
        "   {:?} from server {}, your address {}, lease {} s",
        packet.message_type().ok_or("no message type")?,
        packet.server_identifier().ok_or("no server id")?,
        packet.yiaddr(),
        packet.lease_time().ok_or("no lease time")?
    );
    for option in packet.options() {
        let option = option?;
        if let Some(parsed) = option.parse() {
            println!("     option {:>3}: {}", option.code(), parsed?);
        }
    }

    println!("4. The device extracts the ACME-server hint");
    match AcmeServerHint::from_v4(&packet, &HintConfig::default())? {
        Some(hint) => {
            println!("   ACME server : {}", hint.fqdn);
            println!("   directory   : {}", hint.directory_url_or_default());
            println!(
                "   found in    : {:?} (option 125, enterprise 55357)",
                hint.source
            );
        }
        None => {
            println!("   no ACME-server hint in this reply: fall back to DNS-SD (§3.3 method 2)")
        }
    }
    Ok(())
}
