//! ACME server discovery over real sockets (draft §3.3): DHCP (saved packet or live DHCPINFORM)
//! first, then unicast DNS-SD. Never mDNS.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use lantrust_dhcp::{AcmeServerHint, HintConfig, HintSource, v4};
use lantrust_dnssd::{Frame, Query, read_tcp_frame, resolve};
use serde::Serialize;

/// What discovery found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Discovered {
    /// The server's host name as the network gave it: TLS and the root's SANs are checked
    /// against this name (§3.5).
    pub server_name: String,
    /// The ACME directory URL.
    pub directory_url: String,
    /// How it was found (`dhcp:vendor-specific-info`, `dns-srv`, `directory-flag`, …).
    pub source: String,
    /// Addresses of the server that came with the answer (DNS additional section); empty when
    /// the name must be resolved by the system resolver.
    pub addresses: Vec<IpAddr>,
    /// The local domain the network gave with the answer (DHCP option 15 of the same reply,
    /// or the DNS-SD domain that answered): what a device requests `<id>.<domain>` for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Every target to try, in RFC 2782 order (priority ascending, weighted random within a
    /// priority); the first is the one above. Only DNS-SD gives more than one.
    pub candidates: Vec<Candidate>,
}

/// One place the ACME server may be reached at (one SRV target, RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The target's host name (TLS and the root's SANs are checked against it, §3.5).
    pub server_name: String,
    /// Its ACME directory URL.
    pub directory_url: String,
    /// Its addresses from the DNS answer; empty when the system resolver must find them.
    pub addresses: Vec<IpAddr>,
}

impl Candidate {
    fn of(d: &Discovered) -> Self {
        Candidate {
            server_name: d.server_name.clone(),
            directory_url: d.directory_url.clone(),
            addresses: d.addresses.clone(),
        }
    }
}

impl Discovered {
    /// From a directory URL given on the command line (no discovery).
    ///
    /// # Errors
    /// When the URL is not `https://host[:port]/…`.
    pub fn from_directory(url: &str) -> anyhow::Result<Self> {
        let (host, _) = url_host_port(url)?;
        Ok(Discovered {
            server_name: host,
            directory_url: url.to_string(),
            source: "directory-flag".into(),
            addresses: Vec::new(),
            domain: None,
            candidates: Vec::new(),
        }
        .with_self_candidate())
    }

    /// Sets [`Discovered::candidates`] to this one target.
    fn with_self_candidate(mut self) -> Self {
        self.candidates = vec![Candidate::of(&self)];
        self
    }

    /// This result with `c` as its target (the other fields kept).
    fn on(&self, c: &Candidate) -> Self {
        Discovered {
            server_name: c.server_name.clone(),
            directory_url: c.directory_url.clone(),
            addresses: c.addresses.clone(),
            ..self.clone()
        }
    }

    /// Moves the candidates whose directory URL is in `failed` (servers that stopped answering
    /// earlier in this exchange) behind the others, keeping the RFC 2782 order otherwise: a
    /// crashed server can still accept a connection for a moment while it goes down, so a
    /// rediscovery tries the others first.
    pub fn demote(&mut self, failed: &[String]) {
        self.candidates
            .sort_by_key(|c| failed.contains(&c.directory_url));
    }

    /// RFC 2782 failover: the first of [`Discovered::candidates`] that answers (accepts a TCP
    /// connection on its directory's port within `timeout`), tried in order; `progress` gets
    /// one line per target (or address) that did not answer. `overrides` give addresses for
    /// names the answer carried none for; else the system resolver is asked. A target's
    /// addresses from the answer are tried in order too (replicas on several hosts under one
    /// name), and the one that answered comes first in the result, so the connection that
    /// follows goes there. With one candidate of at most one address there is nothing to fail
    /// over to and it is returned untried (its own fetch reports errors).
    ///
    /// # Errors
    /// When no candidate answers; the message lists why each did not.
    pub fn first_answering(
        &self,
        overrides: &[crate::tls::ResolveOverride],
        timeout: Duration,
        progress: &mut dyn FnMut(String),
    ) -> anyhow::Result<Discovered> {
        if self.candidates.len() <= 1
            && self
                .candidates
                .first()
                .is_none_or(|c| c.addresses.len() <= 1)
        {
            return Ok(self.clone());
        }
        let mut errors = Vec::new();
        let mut iter = self.candidates.iter().peekable();
        while let Some(c) = iter.next() {
            match answers(c, overrides, timeout, progress) {
                Ok(answered) => {
                    let mut found = self.on(c);
                    if let Some(ip) = answered {
                        found.addresses.retain(|a| *a != ip);
                        found.addresses.insert(0, ip);
                    }
                    return Ok(found);
                }
                Err(e) => {
                    let next = match iter.peek() {
                        Some(n) => {
                            format!("failing over to the next SRV target, {}", n.directory_url)
                        }
                        None => "no SRV target left".into(),
                    };
                    progress(format!(
                        "ACME server {} does not answer ({e:#}): {next} (RFC 2782)",
                        c.directory_url
                    ));
                    errors.push(format!("{}: {e:#}", c.directory_url));
                }
            }
        }
        bail!("no discovered ACME server answers: {}", errors.join("; "))
    }
}

/// Whether `c` accepts a TCP connection on its directory's port: at an address from the DNS
/// answer (tried in order; returns the one that answered), else from `overrides`, else from
/// the system resolver. `progress` gets a line for each address of the answer passed over.
fn answers(
    c: &Candidate,
    overrides: &[crate::tls::ResolveOverride],
    timeout: Duration,
    progress: &mut dyn FnMut(String),
) -> anyhow::Result<Option<IpAddr>> {
    let (host, port) = url_host_port(&c.directory_url)?;
    let mut addrs: Vec<SocketAddr> = c
        .addresses
        .iter()
        .map(|a| SocketAddr::new(*a, port))
        .collect();
    if addrs.is_empty() {
        addrs = overrides
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(&host))
            .map(|o| o.addr)
            .collect();
    }
    if addrs.is_empty() {
        addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .with_context(|| format!("resolving {host}"))?
            .collect();
    }
    let from_answer = !c.addresses.is_empty();
    let mut last = anyhow::anyhow!("{host} has no address");
    let mut iter = addrs.iter().peekable();
    while let Some(a) = iter.next() {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(_) => return Ok(from_answer.then_some(a.ip())),
            Err(e) => {
                if from_answer && let Some(next) = iter.peek() {
                    progress(format!(
                        "ACME server {host} does not answer at {a} ({e}): trying its next address, {next}"
                    ));
                }
                last = anyhow::anyhow!("{a}: {e}");
            }
        }
    }
    Err(last)
}

/// `https://host[:port]/…` → (host, port). IPv6 literals in brackets are unwrapped.
///
/// # Errors
/// When the URL is not an `https:` URL with a host.
pub fn url_host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .strip_prefix("https://")
        .with_context(|| format!("{url:?} is not an https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    ensure!(!authority.is_empty(), "{url:?} has no host");
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .with_context(|| format!("{url:?}: unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().with_context(|| format!("{url:?}: bad port"))?,
            None => 443,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse().with_context(|| format!("{url:?}: bad port"))?,
        )),
        None => Ok((authority.to_string(), 443)),
    }
}

fn source_name(s: HintSource) -> &'static str {
    match s {
        HintSource::AcmeServerOption => "dhcp:acme-server-option",
        HintSource::VendorSpecificInfo => "dhcp:vendor-specific-info",
        HintSource::VendorClass => "dhcp:vendor-class",
        HintSource::VendorClassIdentifier => "dhcp:vendor-class-identifier",
    }
}

fn from_hint(hint: &AcmeServerHint) -> Discovered {
    Discovered {
        server_name: hint.fqdn.as_str().trim_end_matches('.').to_string(),
        directory_url: hint.directory_url_or_default(),
        source: source_name(hint.source).into(),
        addresses: Vec::new(),
        domain: None,
        candidates: Vec::new(),
    }
    .with_self_candidate()
}

/// The hint in a saved DHCPv4 or DHCPv6 message (a DHCPACK/OFFER/REPLY as captured on the wire).
///
/// # Errors
/// When the packet is neither a valid v4 nor v6 message, or carries no ACME server hint.
pub fn from_dhcp_packet(bytes: &[u8]) -> anyhow::Result<Discovered> {
    let cfg = HintConfig::default();
    let v4 = AcmeServerHint::from_v4_bytes(bytes, &cfg);
    let v6 = AcmeServerHint::from_v6_bytes(bytes, &cfg);
    match (v4, v6) {
        (Ok(Some(h)), _) | (_, Ok(Some(h))) => Ok(Discovered {
            domain: v4_domain(bytes).or_else(|| v6_domain(bytes)),
            ..from_hint(&h)
        }),
        (Ok(None), _) | (_, Ok(None)) => {
            bail!(
                "the DHCP message carries no ACME server hint (option 125/124/60 for enterprise 55357)"
            )
        }
        (Err(e4), Err(e6)) => {
            bail!("not a DHCP message: as DHCPv4: {e4}; as DHCPv6: {e6}")
        }
    }
}

/// The domain name (DHCPv4 option 15, RFC 2132 §3.17) of a DHCPv4 message, lower-cased.
pub fn v4_domain(bytes: &[u8]) -> Option<String> {
    let p = v4::Packet::new_checked(bytes).ok()?;
    let raw = p.option(15)?.to_vec();
    let d = String::from_utf8(raw).ok()?;
    let d = d.trim_end_matches(['\0', '.']).to_ascii_lowercase();
    // A host name's characters only: the domain becomes part of a CSR and of DNS queries.
    (!d.is_empty()
        && d.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')))
    .then_some(d)
}

/// Sends a DHCPINFORM (RFC 2131 §3.4) from UDP port 68 on `iface` to the broadcast address and
/// returns the hint in the first DHCPACK that answers it. Needs the interface's IPv4 address
/// (the `ciaddr`) and privileges to bind port 68 and the device.
///
/// # Errors
/// When the socket cannot be set up, no answer arrives within `timeout`, or the answer has no hint.
pub fn dhcp_inform(iface: &str, timeout: Duration) -> anyhow::Result<Discovered> {
    from_dhcp_packet(&dhcp_inform_ack(iface, timeout)?)
}

/// The DHCPACK that answers a DHCPINFORM on `iface` (see [`dhcp_inform`]), as received.
///
/// # Errors
/// When the socket cannot be set up or no answer arrives within `timeout`.
pub fn dhcp_inform_ack(iface: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mac =
        crate::network::interface_mac(iface).with_context(|| format!("no interface {iface}"))?;
    let addr = crate::network::interface_v4(iface)
        .with_context(|| format!("interface {iface} has no IPv4 address (DHCPINFORM needs one)"))?;
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_broadcast(true)?;
    sock.bind_device(Some(iface.as_bytes()))
        .with_context(|| format!("binding to interface {iface} (needs CAP_NET_RAW)"))?;
    sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
        .context("binding UDP port 68 (needs CAP_NET_BIND_SERVICE)")?;
    let sock: UdpSocket = sock.into();
    let xid: u32 = rand::random();
    let inform = v4::Repr::inform(xid, mac, addr, None);
    let bytes = inform.to_bytes().context("building the DHCPINFORM")?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            bail!("no DHCPACK on {iface} within {timeout:?}");
        }
        if now >= next_send {
            sock.send_to(&bytes, (Ipv4Addr::BROADCAST, 67))
                .context("sending the DHCPINFORM")?;
            tracing::debug!(iface, xid, "DHCPINFORM sent");
            next_send = now + Duration::from_secs(2);
        }
        sock.set_read_timeout(Some(
            next_send
                .min(deadline)
                .saturating_duration_since(now)
                .max(Duration::from_millis(10)),
        ))?;
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Some(pkt) = buf.get(..n) else { continue };
        let Ok(p) = v4::Packet::new_checked(pkt) else {
            continue;
        };
        if p.xid() != xid || p.message_type() != Some(v4::MessageType::Ack) {
            continue;
        }
        tracing::debug!(%from, "DHCPACK received");
        return Ok(pkt.to_vec());
    }
}

/// The first domain of a DHCPv6 message's domain search list (option 24, RFC 3646), lower-cased.
pub fn v6_domain(bytes: &[u8]) -> Option<String> {
    let (repr, _) = lantrust_dhcp::v6::Repr::parse_bytes_lenient(bytes).ok()?;
    match repr.option(lantrust_dhcp::v6::code::DOMAIN_LIST)? {
        lantrust_dhcp::v6::OptionRepr::DomainList(names) => {
            let d = names.first()?.to_string();
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (!d.is_empty()).then_some(d)
        }
        _ => None,
    }
}

/// Sends a DHCPv6 Information-request (RFC 8415 §18.2.6) from UDP port 546 on `iface` to
/// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) and returns the first Reply with its
/// transaction ID, as received. Needs an IPv6 link-local address on `iface` and privileges to
/// bind port 546.
///
/// # Errors
/// When the socket cannot be set up or no Reply arrives within `timeout`.
pub fn dhcp6_inform_reply(iface: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{Ipv6Addr, SocketAddrV6};
    let mac =
        crate::network::interface_mac(iface).with_context(|| format!("no interface {iface}"))?;
    let index: u32 = std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .with_context(|| format!("no interface {iface}"))?;
    let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_only_v6(true)?;
    sock.set_reuse_address(true)?;
    sock.bind_device(Some(iface.as_bytes()))
        .with_context(|| format!("binding to interface {iface}"))?;
    sock.set_multicast_if_v6(index)?;
    sock.bind(&SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 546, 0, 0).into())
        .context("binding UDP port 546 (needs CAP_NET_BIND_SERVICE)")?;
    let sock: UdpSocket = sock.into();
    // RFC 8415 §11.4: DUID-LL (type 3, hardware type 1 = Ethernet) from the interface's MAC.
    let mut duid = vec![0, 3, 0, 1];
    duid.extend_from_slice(&mac);
    let xid = rand::random::<u32>() & 0x00ff_ffff;
    let request = lantrust_dhcp::v6::Repr::information_request(xid, &duid, None)
        .to_bytes()
        .context("building the Information-request")?;
    let to = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2), 547, 0, index);
    let deadline = Instant::now() + timeout;
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        if now >= deadline {
            bail!("no DHCPv6 Reply on {iface} within {timeout:?}");
        }
        if now >= next_send {
            // A link-local address still in duplicate address detection cannot send yet.
            if let Err(e) = sock.send_to(&request, to) {
                tracing::debug!(iface, "Information-request not sent: {e}");
            }
            next_send = now + Duration::from_secs(1);
        }
        sock.set_read_timeout(Some(
            next_send
                .min(deadline)
                .saturating_duration_since(now)
                .max(Duration::from_millis(10)),
        ))?;
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Some(pkt) = buf.get(..n) else { continue };
        let Ok(p) = lantrust_dhcp::v6::Packet::new_checked(pkt) else {
            continue;
        };
        if p.transaction_id() != xid || p.msg_type() != lantrust_dhcp::v6::MessageType::Reply {
            continue;
        }
        tracing::debug!(%from, "DHCPv6 Reply received");
        return Ok(pkt.to_vec());
    }
}

/// What `/etc/resolv.conf` says: the unicast DNS servers and the search domains (which a DHCP
/// client writes from options 6 and 15/119, or DHCPv6 23 and 24).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemResolver {
    /// `nameserver` lines, port 53.
    pub nameservers: Vec<SocketAddr>,
    /// `search` and `domain` lines, in order, lower-cased, without trailing dots.
    pub domains: Vec<String>,
}

impl SystemResolver {
    /// Reads `/etc/resolv.conf` (missing or unreadable: nothing configured).
    pub fn system() -> Self {
        Self::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    }

    /// Parses resolv.conf text (resolv.conf(5)).
    pub fn parse(text: &str) -> Self {
        let mut r = SystemResolver::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A link-local IPv6 server carries `%scope`, which the socket address
                    // parser does not take.
                    if let Some(ip) = words
                        .next()
                        .and_then(|w| w.split('%').next())
                        .and_then(|w| w.parse::<IpAddr>().ok())
                    {
                        r.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search" | "domain") => {
                    for d in words {
                        let d = d.trim_end_matches('.').to_ascii_lowercase();
                        if !d.is_empty() && !r.domains.contains(&d) {
                            r.domains.push(d);
                        }
                    }
                }
                _ => {}
            }
        }
        r
    }
}

/// Discovery with nothing configured (§3.3, in its order): a DHCPINFORM on the interface of the
/// default route (or `iface`), a DHCPv6 Information-request there, then unicast DNS-SD `_acme-server._tcp.<domain>` through the
/// system resolver's name servers, for the DHCP-supplied domain (option 15 of that DHCPACK)
/// and the resolver's search domains. Never mDNS.
///
/// # Errors
/// When every method failed; the message lists why each did.
pub fn discover_auto(iface: Option<&str>, domain: Option<&str>) -> anyhow::Result<Discovered> {
    let mut errors = Vec::new();
    let mut domains: Vec<String> = domain.map(|d| d.to_ascii_lowercase()).into_iter().collect();
    let iface = iface
        .map(str::to_string)
        .or_else(crate::network::default_interface);
    let Some(iface) = iface else {
        errors.push("DHCP: no network interface is up".to_string());
        return dns_sd_auto(domains, errors);
    };
    let exchanges: [DhcpExchange; 2] = [
        (
            "DHCPINFORM",
            |i| dhcp_inform_ack(i, Duration::from_secs(4)),
            v4_domain,
        ),
        (
            "DHCPv6 Information-request",
            |i| dhcp6_inform_reply(i, Duration::from_secs(3)),
            v6_domain,
        ),
    ];
    for exchange in exchanges {
        if let Some(found) = dhcp_auto(&iface, exchange, &mut domains, &mut errors) {
            return Ok(found);
        }
    }
    dns_sd_auto(domains, errors)
}

/// One DHCP exchange of [`discover_auto`]: its label, the exchange on an interface (the reply's
/// bytes), and the reader of the local domain the reply carries.
type DhcpExchange = (
    &'static str,
    fn(&str) -> anyhow::Result<Vec<u8>>,
    fn(&[u8]) -> Option<String>,
);

/// Runs `exchange` on `iface`: the hint in its reply, else the reply's domain added to
/// `domains` for DNS-SD and why it failed added to `errors`.
fn dhcp_auto(
    iface: &str,
    (label, ask, read_domain): DhcpExchange,
    domains: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Option<Discovered> {
    let reply = match ask(iface) {
        Ok(reply) => reply,
        Err(e) => {
            errors.push(format!("{label} on {iface}: {e:#}"));
            return None;
        }
    };
    match from_dhcp_packet(&reply) {
        Ok(d) => return Some(d),
        Err(e) => errors.push(format!("{label} on {iface}: {e:#}")),
    }
    if let Some(d) = read_domain(&reply) {
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    None
}

/// The DNS-SD part of [`discover_auto`]: `_acme-server._tcp.<domain>` through the system
/// resolver's name servers, for `domains` and then the resolver's search domains.
fn dns_sd_auto(mut domains: Vec<String>, mut errors: Vec<String>) -> anyhow::Result<Discovered> {
    let sys = SystemResolver::system();
    for d in sys.domains {
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if sys.nameservers.is_empty() {
        errors.push("DNS-SD: /etc/resolv.conf names no nameserver".into());
    }
    if domains.is_empty() {
        errors.push(
            "DNS-SD: no local domain (no DHCP option 15, no search line in /etc/resolv.conf)"
                .into(),
        );
    }
    for server in &sys.nameservers {
        for d in &domains {
            match dns_srv(*server, d, Duration::from_secs(3)) {
                Ok(found) => return Ok(found),
                Err(e) => errors.push(format!("DNS-SD {d} via {server}: {e:#}")),
            }
        }
    }
    bail!("discovery failed: {}", errors.join("; "))
}

/// Unicast DNS-SD (§3.3 method 2): `SRV _acme-server._tcp.<domain>` to `server`, over UDP, and
/// over TCP when the answer is truncated. The result's primary target is the first in RFC 2782
/// order; [`Discovered::candidates`] holds them all, in that order, for failover.
///
/// # Errors
/// mDNS (port 5353 or a `.local` domain) is refused; no answer, NXDOMAIN, no service.
pub fn dns_srv(server: SocketAddr, domain: &str, timeout: Duration) -> anyhow::Result<Discovered> {
    ensure!(
        server.port() != 5353,
        "DNS-SD discovery must not use mDNS (draft §3.3): port 5353 refused; give the network's unicast DNS server"
    );
    let id: u16 = rand::random();
    let query = Query::acme_srv(id, domain).map_err(|e| anyhow::anyhow!("{domain}: {e}"))?;
    let mut qbuf = [0u8; 512];
    let n = query.emit(&mut qbuf).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(server)?;
    let mut buf = vec![0u8; 65535];
    let deadline = Instant::now() + timeout;
    let mut answer: Option<Vec<u8>> = None;
    while answer.is_none() {
        ensure!(
            Instant::now() < deadline,
            "no answer from DNS server {server} within {timeout:?}"
        );
        sock.send(qbuf.get(..n).unwrap_or_default())?;
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        match sock.recv(&mut buf) {
            Ok(len) => {
                let bytes = buf.get(..len).unwrap_or_default();
                match query.check_response(bytes, server) {
                    Ok(_) => answer = Some(bytes.to_vec()),
                    Err(lantrust_dnssd::Error::Truncated) => {
                        answer = Some(tcp_query(&query, server, timeout)?);
                    }
                    // A stray or spoofed datagram (wrong ID or question): keep waiting.
                    Err(lantrust_dnssd::Error::IdMismatch { .. }) => continue,
                    Err(e) => bail!("bad answer from {server}: {e}"),
                }
            }
            Err(_) => continue,
        }
    }
    let bytes = answer.unwrap_or_default();
    targets(&query, &bytes, server, domain, &mut rand::thread_rng())
}

/// The targets of a validated answer to `query`, in RFC 2782 order drawn with `rng` (priority
/// ascending, weighted random within a priority; a lone `.` target means "no service").
fn targets(
    query: &Query<'_>,
    bytes: &[u8],
    server: SocketAddr,
    domain: &str,
    rng: &mut dyn rand::RngCore,
) -> anyhow::Result<Discovered> {
    let resp = query
        .check_response(bytes, server)
        .map_err(|e| anyhow::anyhow!("bad answer from {server}: {e}"))?;
    let found =
        resolve(&[resp], rng).map_err(|e| anyhow::anyhow!("_acme-server._tcp.{domain}: {e}"))?;
    let candidates: Vec<Candidate> = found
        .urls
        .into_iter()
        .map(|u| Candidate {
            server_name: u.host,
            directory_url: u.url,
            addresses: u.addresses,
        })
        .collect();
    let first = candidates
        .first()
        .cloned()
        .with_context(|| format!("_acme-server._tcp.{domain}: no usable SRV target"))?;
    Ok(Discovered {
        server_name: first.server_name,
        directory_url: first.directory_url,
        source: "dns-srv".into(),
        addresses: first.addresses,
        domain: Some(domain.trim_end_matches('.').to_ascii_lowercase()),
        candidates,
    })
}

fn tcp_query(query: &Query<'_>, server: SocketAddr, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let mut out = [0u8; 520];
    let n = query
        .emit_tcp(&mut out)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut s = TcpStream::connect_timeout(&server, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(out.get(..n).unwrap_or_default())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match read_tcp_frame(&buf).map_err(|e| anyhow::anyhow!("{e}"))? {
            Frame::Complete { message, .. } => return Ok(message.to_vec()),
            _ => {
                let k = s.read(&mut chunk)?;
                ensure!(k > 0, "DNS server {server} closed the TCP connection early");
                buf.extend_from_slice(chunk.get(..k).unwrap_or_default());
            }
        }
    }
}

/// Discovery flags shared by the binaries (§3.3 precedence: DHCP, then DNS-SD). With none of
/// them, discovery runs by itself ([`discover_auto`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DiscoveryArgs {
    /// Use this ACME directory URL instead of discovering one. A device enrolled with it keeps
    /// it: it does not run discovery again before renewing (any other method is run again).
    #[arg(long, value_name = "URL")]
    pub directory: Option<String>,
    /// Read the hint from a saved DHCPv4/v6 reply (raw UDP payload).
    #[arg(long, value_name = "FILE", conflicts_with = "directory")]
    pub dhcp_packet: Option<PathBuf>,
    /// Send a DHCPINFORM on this interface and read the hint from the DHCPACK (needs root).
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["directory", "dhcp_packet"])]
    pub dhcp_inform: Option<String>,
    /// Send a DHCPv6 Information-request on this interface and read the hint from the Reply
    /// (option 17; needs root).
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["directory", "dhcp_packet"])]
    pub dhcp6_inform: Option<String>,
    /// Unicast DNS server for DNS-SD discovery (`_acme-server._tcp.<domain>` SRV); never 5353.
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns: Option<SocketAddr>,
    /// Discover by itself (§3.3): DHCPINFORM on the default route's interface, then DNS-SD
    /// through /etc/resolv.conf's name servers for the DHCP-supplied or search domain. What
    /// `enroll` and `join` do when no other method is given.
    #[arg(long, conflicts_with_all = ["directory", "dhcp_packet", "dhcp_inform", "dhcp6_inform", "dns"])]
    pub auto: bool,
}

impl DiscoveryArgs {
    /// Whether any discovery source other than `--auto` was given.
    pub fn is_set(&self) -> bool {
        self.directory.is_some()
            || self.dhcp_packet.is_some()
            || self.dhcp_inform.is_some()
            || self.dhcp6_inform.is_some()
            || self.dns.is_some()
    }

    /// Runs discovery in the draft's precedence; `domain` is the DNS-SD domain.
    ///
    /// # Errors
    /// When nothing was configured, or every configured method failed.
    pub fn discover(&self, domain: Option<&str>) -> anyhow::Result<Discovered> {
        if let Some(url) = &self.directory {
            return Discovered::from_directory(url);
        }
        if self.auto {
            return discover_auto(None, domain);
        }
        let mut errors = Vec::new();
        if let Some(path) = &self.dhcp_packet {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            match from_dhcp_packet(&bytes) {
                Ok(d) => return Ok(d),
                Err(e) => errors.push(format!("DHCP packet {}: {e:#}", path.display())),
            }
        }
        if let Some(iface) = &self.dhcp_inform {
            match dhcp_inform(iface, Duration::from_secs(6)) {
                Ok(d) => return Ok(d),
                Err(e) => errors.push(format!("DHCPINFORM on {iface}: {e:#}")),
            }
        }
        if let Some(iface) = &self.dhcp6_inform {
            match dhcp6_inform_reply(iface, Duration::from_secs(6))
                .and_then(|r| from_dhcp_packet(&r))
            {
                Ok(d) => return Ok(d),
                Err(e) => errors.push(format!("DHCPv6 Information-request on {iface}: {e:#}")),
            }
        }
        if let Some(server) = self.dns {
            let system = SystemResolver::system().domains.into_iter().next();
            match domain.or(system.as_deref()) {
                None => errors
                    .push("DNS-SD needs --domain (or a search line in /etc/resolv.conf)".into()),
                Some(domain) => match dns_srv(server, domain, Duration::from_secs(5)) {
                    Ok(found) => return Ok(found),
                    Err(e) => errors.push(format!("DNS-SD via {server}: {e:#}")),
                },
            }
        }
        if errors.is_empty() {
            bail!(
                "no discovery method given: use --auto, --dhcp-packet FILE, --dhcp-inform IFACE, --dhcp6-inform IFACE, --dns ADDR:PORT --domain D, or --directory URL"
            );
        }
        bail!("discovery failed: {}", errors.join("; "))
    }

    /// As [`DiscoveryArgs::discover`], but with no method given discovery runs by itself
    /// ([`discover_auto`]): what `enroll`, `join` and a renewal do.
    ///
    /// # Errors
    /// When every method failed.
    pub fn discover_or_auto(&self, domain: Option<&str>) -> anyhow::Result<Discovered> {
        if self.is_set() {
            self.discover(domain)
        } else {
            discover_auto(None, domain)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Replicas on several hosts under one name (one SRV target, several addresses): an address
    /// that refuses is passed over, and the one that answered leads the result, so the
    /// enrollment's connection goes there (the first address alone would reach the dead host).
    #[test]
    fn one_target_with_a_dead_address_fails_over_to_the_next() {
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = live.local_addr().unwrap().port();
        // 127.0.0.2 is loopback too, but nothing listens there on this port: refused.
        let dead: IpAddr = "127.0.0.2".parse().unwrap();
        let alive: IpAddr = "127.0.0.1".parse().unwrap();
        let mut d =
            Discovered::from_directory(&format!("https://acme.corp.example:{port}/acme/directory"))
                .unwrap();
        d.candidates = vec![Candidate {
            server_name: "acme.corp.example".into(),
            directory_url: d.directory_url.clone(),
            addresses: vec![dead, alive],
        }];
        d.addresses = vec![dead, alive];
        let mut lines = Vec::new();
        let found = d
            .first_answering(&[], Duration::from_secs(2), &mut |l| lines.push(l))
            .unwrap();
        assert_eq!(found.addresses, vec![alive, dead]);
        assert!(
            lines.len() == 1 && lines[0].contains("127.0.0.2") && lines[0].contains("next address"),
            "{lines:?}"
        );
        // Both dead: an error naming the last address tried.
        drop(live);
        let e = d
            .first_answering(&[], Duration::from_secs(2), &mut |_| {})
            .unwrap_err();
        assert!(format!("{e:#}").contains("127.0.0.1"), "{e:#}");
    }

    /// A response to `query` answering with SRV records `(priority, weight, port, target)`
    /// (RFC 2782 RDATA; the owner is a pointer to the question's name, RFC 1035 §4.1.4).
    fn srv_answer(query: &[u8], records: &[(u16, u16, u16, &str)]) -> Vec<u8> {
        // Keep the header and the question; drop the query's EDNS OPT record (ARCOUNT 0).
        let mut end = 12;
        while query[end] != 0 {
            end += 1 + usize::from(query[end]);
        }
        let mut m = query[..end + 5].to_vec();
        m[10..12].copy_from_slice(&[0, 0]);
        m[2] |= 0x80; // QR: response
        m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (prio, weight, port, target) in records {
            let mut rdata = Vec::new();
            rdata.extend_from_slice(&prio.to_be_bytes());
            rdata.extend_from_slice(&weight.to_be_bytes());
            rdata.extend_from_slice(&port.to_be_bytes());
            for label in target.split('.').filter(|l| !l.is_empty()) {
                rdata.push(label.len() as u8);
                rdata.extend_from_slice(label.as_bytes());
            }
            rdata.push(0);
            m.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0x0e, 0x10]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&rdata);
        }
        m
    }

    fn order(records: &[(u16, u16, u16, &str)], seed: u64) -> anyhow::Result<Vec<String>> {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let query = Query::acme_srv(0x1234, "example.test").unwrap();
        let mut q = [0u8; 512];
        let n = query.emit(&mut q).unwrap();
        let answer = srv_answer(&q[..n], records);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = targets(&query, &answer, server, "example.test", &mut rng)?;
        assert_eq!(d.candidates[0].directory_url, d.directory_url);
        assert_eq!(d.candidates[0].server_name, d.server_name);
        Ok(d.candidates.into_iter().map(|c| c.server_name).collect())
    }

    #[test]
    fn srv_targets_in_rfc2782_order() {
        // Priority first, whatever the weights and the order in the answer.
        let recs = [
            (20, 100, 443, "c.example.test"),
            (5, 0, 8443, "a.example.test"),
            (10, 1, 443, "b1.example.test"),
            (10, 3, 443, "b3.example.test"),
        ];
        let mut b1_first = 0;
        for seed in 0..400 {
            let o = order(&recs, seed).unwrap();
            assert_eq!(o[0], "a.example.test");
            assert_eq!(o[3], "c.example.test");
            assert!(o[1..3].contains(&"b1.example.test".to_string()), "{o:?}");
            assert!(o[1..3].contains(&"b3.example.test".to_string()), "{o:?}");
            if o[1] == "b1.example.test" {
                b1_first += 1;
            }
            // The same seed draws the same order.
            assert_eq!(o, order(&recs, seed).unwrap());
        }
        // Weights 1 and 3: the lighter one goes first a quarter of the time (100 of 400).
        assert!((60..=140).contains(&b1_first), "{b1_first} of 400");
        // The URL carries the target's port.
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let query = Query::acme_srv(7, "example.test").unwrap();
        let mut q = [0u8; 512];
        let n = query.emit(&mut q).unwrap();
        let d = targets(
            &query,
            &srv_answer(&q[..n], &recs),
            server,
            "example.test",
            &mut rand::rngs::StdRng::seed_from_u64(1),
        )
        .unwrap();
        assert_eq!(
            d.directory_url,
            "https://a.example.test:8443/acme/directory"
        );
        assert_eq!(d.candidates.len(), 4);
    }

    #[test]
    fn srv_root_target_means_no_service() {
        // RFC 2782: a single target "." means the service is decidedly not available.
        let err = order(&[(0, 0, 0, ".")], 1).unwrap_err().to_string();
        assert!(err.contains("_acme-server._tcp.example.test"), "{err}");
        // No SRV record at all: nothing to try either.
        assert!(order(&[], 1).is_err());
    }

    #[test]
    fn url_parts() {
        assert_eq!(
            url_host_port("https://acme.example.test:8443/acme/directory").unwrap(),
            ("acme.example.test".into(), 8443)
        );
        assert_eq!(
            url_host_port("https://a.local/dir").unwrap(),
            ("a.local".into(), 443)
        );
        assert_eq!(
            url_host_port("https://[::1]:9/x").unwrap(),
            ("::1".into(), 9)
        );
        assert!(url_host_port("http://a/").is_err());
    }

    #[test]
    fn mdns_port_refused() {
        let err = dns_srv(
            "127.0.0.1:5353".parse().unwrap(),
            "example.test",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.to_string().contains("mDNS"), "{err}");
        let err = dns_srv(
            "127.0.0.1:53".parse().unwrap(),
            "printer.local",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.to_string().contains("printer.local"), "{err}");
    }

    #[test]
    fn a_real_dnsmasq_ack_gives_the_hint_and_the_domain() {
        // dnsmasq's DHCPACK to a DHCPINFORM, captured by crates/dhcp's tests.
        let ack = include_bytes!("../../../crates/dhcp/tests/vectors/dnsmasq-inform-ack.bin");
        assert_eq!(v4_domain(ack).as_deref(), Some("home.arpa"));
        let d = from_dhcp_packet(ack).unwrap();
        assert_eq!(d.server_name, "acme.home.arpa");
        assert_eq!(d.directory_url, "https://acme.home.arpa/acme/directory");
        assert_eq!(d.domain.as_deref(), Some("home.arpa"));
        assert_eq!(v4_domain(&[0u8; 10]), None);
    }

    #[test]
    fn a_real_dnsmasq_v6_reply_gives_the_hint_and_the_domain() {
        let reply = include_bytes!("../../../crates/dhcp/tests/vectors/dnsmasq-v6-reply.bin");
        assert_eq!(v6_domain(reply).as_deref(), Some("home.arpa"));
        let d = from_dhcp_packet(reply).unwrap();
        assert_eq!(d.server_name, "acme.home.arpa");
        assert_eq!(d.domain.as_deref(), Some("home.arpa"));
    }

    #[test]
    fn resolv_conf_servers_and_domains() {
        let r = SystemResolver::parse(
            "# written by udhcpc\nsearch Lan1.Test. corp.example\nnameserver 10.77.1.1\n\
             nameserver fe80::1%eth0\ndomain lan1.test\nnameserver bogus\noptions ndots:2\n",
        );
        assert_eq!(
            r.nameservers,
            vec![
                "10.77.1.1:53".parse::<SocketAddr>().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(r.domains, vec!["lan1.test", "corp.example"]);
        assert_eq!(SystemResolver::parse(""), SystemResolver::default());
    }

    #[test]
    fn garbage_packet_is_an_error() {
        assert!(from_dhcp_packet(&[0u8; 10]).is_err());
    }
}
