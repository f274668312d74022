//! The small part of Multicast DNS (RFC 6762) that `<id>.local` names need: a device answers A
//! queries for its own name, and the server (http-01 toward `<id>.local`, §3.4.3) and the
//! client (`verify https://<id>.local/`) ask for it. Discovery of the ACME server never uses
//! mDNS (§3.3); this is name resolution only.
//!
//! Why our own and not avahi + nss-mdns: a device is a single binary that must work on firmware
//! without avahi or D-Bus, and avahi-daemon is one per host — in network namespaces they share
//! `/run/avahi-daemon`, so several "hosts" on one machine (the lab) would talk to one daemon.
//! The querier sends RFC 6762 §5.1 one-shot queries from an ephemeral port, so any responder
//! (avahi's included) answers it by unicast (§6.7, "legacy unicast").

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use lantrust_dnssd::{Message, RData, RecordType};

/// The mDNS IPv4 group (RFC 6762 §3).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The mDNS port.
pub const PORT: u16 = 5353;
/// TTL of a host address record (RFC 6762 §10: 120 s for records with a host name).
const TTL: u32 = 120;
/// TTL in a legacy unicast answer (RFC 6762 §6.7: no more than 10 s).
const LEGACY_TTL: u32 = 10;
/// The cache-flush bit of the rrclass (RFC 6762 §10.2) and the unicast-response bit of the
/// qclass (§5.4).
const TOP_BIT: u16 = 0x8000;

/// Whether `host` is an mDNS name (`.local`, RFC 6762 §3).
pub fn is_local(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h.ends_with(".local")
}

/// Appends `name` in wire form (uncompressed labels, RFC 1035 §3.1).
fn push_name(out: &mut Vec<u8>, name: &str) -> anyhow::Result<()> {
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .with_context(|| format!("{name:?}: bad label {label:?}"))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// A one-shot query: `id`, one question `name IN A` (RFC 6762 §5.1, §18).
pub fn query(id: u16, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    push_name(&mut q, name)?;
    q.extend_from_slice(&RecordType::A.0.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

/// The answer to a query for `name` with address `addr`: `legacy` (query from a port other
/// than 5353, §6.7) echoes the ID and question and uses a short TTL without the cache-flush
/// bit; otherwise ID 0, no question, cache-flush set (§18.1, §10.2).
fn answer(id: u16, name: &str, addr: Ipv4Addr, legacy: bool) -> anyhow::Result<Vec<u8>> {
    let mut a = Vec::with_capacity(96);
    a.extend_from_slice(&(if legacy { id } else { 0 }).to_be_bytes());
    // QR + AA (§18.2, §18.4).
    a.extend_from_slice(&0x8400u16.to_be_bytes());
    a.extend_from_slice(&u16::from(legacy).to_be_bytes());
    a.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
    if legacy {
        push_name(&mut a, name)?;
        a.extend_from_slice(&RecordType::A.0.to_be_bytes());
        a.extend_from_slice(&1u16.to_be_bytes());
    }
    push_name(&mut a, name)?;
    a.extend_from_slice(&RecordType::A.0.to_be_bytes());
    let class: u16 = if legacy { 1 } else { 1 | TOP_BIT };
    a.extend_from_slice(&class.to_be_bytes());
    a.extend_from_slice(&(if legacy { LEGACY_TTL } else { TTL }).to_be_bytes());
    a.extend_from_slice(&4u16.to_be_bytes());
    a.extend_from_slice(&addr.octets());
    Ok(a)
}

/// What the responder does with one datagram: the reply and where to send it, if the datagram
/// is a query for `name` (type A or ANY, class IN or ANY).
pub fn respond(
    datagram: &[u8],
    from: SocketAddr,
    name: &str,
    addr: Ipv4Addr,
) -> Option<(Vec<u8>, SocketAddr)> {
    let msg = Message::parse(datagram).ok()?;
    let h = msg.header();
    // Queries only, standard opcode (RFC 6762 §18.3); a response is not a question.
    if h.is_response() || h.opcode() != 0 {
        return None;
    }
    let q = msg.questions().find(|q| {
        q.name.eq_str(name)
            && (q.qtype == RecordType::A || q.qtype.0 == 255)
            && matches!(q.qclass & !TOP_BIT, 1 | 255)
    })?;
    let legacy = from.port() != PORT;
    let reply = answer(h.id, name, addr, legacy).ok()?;
    let to = if legacy || q.qclass & TOP_BIT != 0 {
        from
    } else {
        SocketAddr::V4(SocketAddrV4::new(GROUP, PORT))
    };
    Some((reply, to))
}

/// The IPv4 addresses for `name` in an mDNS response to query `id`.
pub fn addresses_in(datagram: &[u8], id: u16, name: &str) -> Vec<Ipv4Addr> {
    let Ok(msg) = Message::parse(datagram) else {
        return Vec::new();
    };
    // A legacy unicast answer echoes the ID (§6.7); a multicast one carries 0 (§18.1).
    if !msg.header().is_response() || (msg.header().id != id && msg.header().id != 0) {
        return Vec::new();
    }
    msg.answers()
        .chain(msg.additionals())
        .filter(|r| r.name.eq_str(name))
        .filter_map(|r| match r.rdata {
            RData::A(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// Answers A queries for `name` (`<id>.local`) on `iface` with the interface's current IPv4
/// address, until the process ends: a thread. Binds UDP 5353 with `SO_REUSEADDR` and
/// `SO_REUSEPORT` so that it can share the port with another responder (avahi).
///
/// # Errors
/// When the socket cannot be set up (the interface has no IPv4 address yet, no multicast).
pub fn spawn_responder(name: &str, iface: &str) -> anyhow::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    ensure!(is_local(name), "{name} is not a .local name");
    let local = crate::network::interface_v4(iface)
        .with_context(|| format!("interface {iface} has no IPv4 address"))?;
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT).into())
        .context("binding UDP port 5353")?;
    sock.join_multicast_v4(&GROUP, &local)
        .with_context(|| format!("joining {GROUP} on {iface}"))?;
    sock.set_multicast_if_v4(&local)?;
    // RFC 6762 §11: sent with IP TTL 255; receivers may check it.
    sock.set_multicast_ttl_v4(255)?;
    sock.set_multicast_loop_v4(false)?;
    let sock: UdpSocket = sock.into();
    let (name, iface) = (name.to_ascii_lowercase(), iface.to_string());
    std::thread::Builder::new()
        .name("mdns".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                // The address may change (a new lease, another network): read it per answer.
                let Some(net) = crate::network::interface_v4_net(&iface) else {
                    continue;
                };
                // RFC 6762 §11: only queries from the local link (a unicast datagram to port
                // 5353 could come from anywhere).
                let SocketAddr::V4(src) = from else { continue };
                if !crate::network::on_link(*src.ip(), net) {
                    continue;
                }
                let addr = net.0;
                if let Some((reply, to)) =
                    respond(buf.get(..n).unwrap_or_default(), from, &name, addr)
                {
                    tracing::debug!(%from, %to, %addr, "mDNS answer for {name}");
                    let _ = sock.send_to(&reply, to);
                }
            }
        })
        .context("starting the mDNS responder thread")?;
    Ok(())
}

/// Resolves `name` (`.local`) by a one-shot mDNS query (RFC 6762 §5.1) sent on every up,
/// multicast-capable interface with an IPv4 address; the addresses in the first answers within
/// `timeout`, from senders on that interface's subnet (§11).
///
/// # Errors
/// When `name` is not `.local`, no interface could send, or nobody answered.
pub fn resolve_v4(name: &str, timeout: Duration) -> anyhow::Result<Vec<Ipv4Addr>> {
    use socket2::{Domain, Protocol, Socket, Type};
    ensure!(is_local(name), "{name} is not a .local name");
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let id: u16 = rand::random();
    let q = query(id, &name)?;
    let mut socks = Vec::new();
    for iface in crate::network::multicast_interfaces() {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        // Bound to the interface, a multicast datagram leaves through it without a route.
        if s.bind_device(Some(iface.as_bytes())).is_err() {
            continue;
        }
        s.set_multicast_ttl_v4(255)?;
        s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into())?;
        s.set_nonblocking(true)?;
        let Some(net) = crate::network::interface_v4_net(&iface) else {
            continue;
        };
        socks.push((UdpSocket::from(s), net));
    }
    ensure!(
        !socks.is_empty(),
        "mDNS: no multicast-capable interface to ask for {name}"
    );
    let deadline = Instant::now() + timeout;
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        if now >= deadline {
            bail!("mDNS: no answer for {name} within {timeout:?}");
        }
        if now >= next_send {
            for (s, _) in &socks {
                let _ = s.send_to(&q, (GROUP, PORT));
            }
            // RFC 6762 §5.1: retransmit at least one second apart.
            next_send = now + Duration::from_secs(1);
        }
        let mut found = Vec::new();
        for (s, net) in &socks {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                // RFC 6762 §11: answers from the interface's own link only.
                let SocketAddr::V4(src) = from else { continue };
                if !crate::network::on_link(*src.ip(), *net) {
                    tracing::debug!(%from, "mDNS answer from off the link ignored");
                    continue;
                }
                for a in addresses_in(buf.get(..n).unwrap_or_default(), id, &name) {
                    if !found.contains(&a) {
                        found.push(a);
                    }
                }
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_query_gets_a_unicast_answer_with_the_id_and_question() {
        let q = query(0x1234, "device-12cd56.local").unwrap();
        let from: SocketAddr = "10.0.0.9:40000".parse().unwrap();
        let addr = Ipv4Addr::new(10, 0, 0, 7);
        let (reply, to) = respond(&q, from, "DEVICE-12cd56.local", addr).unwrap();
        assert_eq!(to, from);
        let msg = Message::parse(&reply).unwrap();
        assert_eq!(msg.header().id, 0x1234);
        assert!(
            msg.questions()
                .next()
                .unwrap()
                .name
                .eq_str("device-12cd56.local")
        );
        let rec = msg.answers().next().unwrap();
        assert_eq!(rec.ttl, LEGACY_TTL);
        assert_eq!(rec.class, 1);
        assert_eq!(
            addresses_in(&reply, 0x1234, "device-12cd56.local"),
            vec![addr]
        );
        // Another ID or name: not an answer to this query.
        assert!(addresses_in(&reply, 0x1235, "device-12cd56.local").is_empty());
        assert!(addresses_in(&reply, 0x1234, "device-000000.local").is_empty());
    }

    #[test]
    fn multicast_query_gets_a_multicast_answer_and_others_are_ignored() {
        let q = query(0, "dev.local").unwrap();
        let from: SocketAddr = "10.0.0.9:5353".parse().unwrap();
        let (reply, to) = respond(&q, from, "dev.local", Ipv4Addr::new(10, 0, 0, 7)).unwrap();
        assert_eq!(to, SocketAddr::V4(SocketAddrV4::new(GROUP, PORT)));
        let msg = Message::parse(&reply).unwrap();
        assert_eq!(msg.header().id, 0);
        assert_eq!(msg.questions().count(), 0);
        assert_eq!(msg.answers().next().unwrap().class, 1 | TOP_BIT);
        // Not our name; a response; garbage.
        assert!(respond(&q, from, "other.local", Ipv4Addr::LOCALHOST).is_none());
        assert!(respond(&reply, from, "dev.local", Ipv4Addr::LOCALHOST).is_none());
        assert!(respond(&[1, 2, 3], from, "dev.local", Ipv4Addr::LOCALHOST).is_none());
        assert!(query(1, "bad..local").is_err());
        assert!(is_local("Dev.LOCAL.") && !is_local("dev.lan.test"));
    }
}
