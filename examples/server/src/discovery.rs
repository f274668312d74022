//! Discovery configuration for the network operator (draft §3.3): the DHCP option in form (2)
//! (option 125, enterprise 55357, sub-option 1 FQDN, sub-option 2 directory URL) and DNS-SD
//! records for `_acme-server._tcp.<domain>`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::ValueEnum;
use lantrust_dhcp::{AcmeServerHint, Fqdn, HintConfig, v4};

use crate::store::StateDir;

/// Where the ACME directory lives on the server.
pub(crate) const DIRECTORY_PATH: &str = "/acme/directory";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DhcpFormat {
    /// dnsmasq / OpenWrt `dhcp-option=vi-encap:...` lines (DHCPv4 and DHCPv6).
    Dnsmasq,
    /// The DHCPv4 option bytes (code, length, payload) in hex.
    Raw,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DhcpArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "dnsmasq")]
    format: DhcpFormat,
    /// HTTPS port the server listens on (omitted from the URL when 443).
    #[arg(long, default_value_t = 443)]
    port: u16,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DnsFormat {
    /// RFC 1035 zone file lines.
    Zone,
    /// unbound `local-data:` lines.
    Unbound,
    /// dnsmasq `srv-host=`/`txt-record=`/`ptr-record=` lines.
    Dnsmasq,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DnsArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "zone")]
    format: DnsFormat,
    /// HTTPS port the server listens on.
    #[arg(long, default_value_t = 443)]
    port: u16,
    /// TTL for the records.
    #[arg(long, default_value_t = 3600)]
    ttl: u32,
    /// A `serve` replica sharing this state (repeatable), where HOST is this server's name
    /// (`NAME`, or `NAME.<domain>` for one of its domains) and PORT defaults to --port. Each
    /// gets its own SRV record of equal priority and weight (RFC 2782), so devices and clients
    /// spread over the replicas and fail over to another when one does not answer. Other host
    /// names are refused: devices and clients accept a server only under a name its network
    /// root names (§3.5), and the root names `NAME.local` and `NAME.<domain>` alone. Default:
    /// this server alone.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_replica)]
    replica: Vec<Replica>,
}

/// One `--replica`: where a `serve` replica answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Replica {
    /// The server's name (qualified with each domain) or its full name in one domain.
    host: String,
    /// Its HTTPS port; `None`: `--port`.
    port: Option<u16>,
}

impl Replica {
    /// The SRV target in domain `d`.
    fn target(&self, d: &str) -> String {
        if self.host.contains('.') {
            self.host.trim_end_matches('.').to_string()
        } else {
            format!("{}.{d}", self.host)
        }
    }
}

fn parse_replica(s: &str) -> Result<Replica, String> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{p:?} is not a port (1 to 65535)"))?;
            (h, Some(port))
        }
        None => (s, None),
    };
    let name = host.trim_end_matches('.');
    Fqdn::new(name).map_err(|e| format!("{host:?} is not a host name: {e}"))?;
    if name.to_ascii_lowercase().ends_with(".local") {
        return Err(format!(
            "{host:?} is under .local (mDNS), which unicast DNS-SD cannot point to"
        ));
    }
    Ok(Replica {
        host: name.to_ascii_lowercase(),
        port,
    })
}

/// The server's FQDN for discovery: `<name>.<first domain>`, else `<name>.local`.
fn server_fqdn(name: &str, domains: &[String]) -> String {
    match domains.first() {
        Some(d) => format!("{name}.{d}"),
        None => format!("{name}.local"),
    }
}

fn directory_url(fqdn: &str, port: u16) -> String {
    if port == 443 {
        format!("https://{fqdn}{DIRECTORY_PATH}")
    } else {
        format!("https://{fqdn}:{port}{DIRECTORY_PATH}")
    }
}

/// The DHCPv4 option 125 bytes (code, length, payload) as lantrust-dhcp emits them, checked by
/// parsing them back as a device would.
pub(crate) fn option125(fqdn: &str, url: &str) -> Result<Vec<u8>> {
    let f = Fqdn::new(fqdn).map_err(|e| anyhow!("{fqdn:?} is not a valid FQDN: {e}"))?;
    let mut msg = v4::Repr::inform(1, [2, 0, 0, 0, 0, 1], core::net::Ipv4Addr::LOCALHOST, None);
    msg.set_acme_hint(&f, Some(url))
        .map_err(|e| anyhow!("cannot encode the hint: {e}"))?;
    let wire = msg
        .to_bytes()
        .map_err(|e| anyhow!("cannot encode the DHCP message: {e}"))?;
    // Check it the way a device reads it.
    let hint = AcmeServerHint::from_v4_bytes(&wire, &HintConfig::default())
        .map_err(|e| anyhow!("the emitted hint does not parse: {e}"))?
        .ok_or_else(|| anyhow!("the emitted hint was not found"))?;
    if hint.fqdn.as_str() != fqdn {
        bail!("the emitted hint reads back as {}", hint.fqdn.as_str());
    }
    // Options start after the 236-byte BOOTP header and the 4-byte magic cookie.
    let mut i = 240;
    while let Some(&code) = wire.get(i) {
        match code {
            0 => i += 1,
            255 => break,
            _ => {
                let len = usize::from(*wire.get(i + 1).context("truncated option")?);
                if code == 125 {
                    return Ok(wire
                        .get(i..i + 2 + len)
                        .context("truncated option")?
                        .to_vec());
                }
                i += 2 + len;
            }
        }
    }
    bail!("option 125 missing from the emitted message")
}

pub(crate) fn dhcp_option(a: DhcpArgs) -> Result<ExitCode> {
    let st = StateDir::new(&a.state);
    let conn = st.open()?;
    let cfg = st.config(&conn)?;
    let fqdn = server_fqdn(&cfg.name, &cfg.domains);
    let url = directory_url(&fqdn, a.port);
    match a.format {
        DhcpFormat::Dnsmasq => {
            lantrust_cli::outln!(
                "# lantrust ACME server hint (draft-sweet-iot-acme §3.3 form 2: RFC 3925 V-I vendor-specific, enterprise 55357)"
            );
            lantrust_cli::outln!("dhcp-option=vi-encap:55357,1,{fqdn}");
            lantrust_cli::outln!("dhcp-option=vi-encap:55357,2,{url}");
            lantrust_cli::outln!("dhcp-option=vi-encap:55357,option6:1,{fqdn}");
            lantrust_cli::outln!("dhcp-option=vi-encap:55357,option6:2,{url}");
        }
        DhcpFormat::Raw => {
            let bytes = option125(&fqdn, &url)?;
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            lantrust_cli::outln!("{}", hex.join(""));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn dns_records(a: DnsArgs) -> Result<ExitCode> {
    let st = StateDir::new(&a.state);
    let conn = st.open()?;
    let cfg = st.config(&conn)?;
    if cfg.domains.is_empty() {
        bail!(
            "this network has no --domain; unicast DNS-SD needs one (`.local` is mDNS, which the draft's discovery does not use)"
        );
    }
    let (name, ttl) = (&cfg.name, a.ttl);
    for r in &a.replica {
        let own = r.host.eq_ignore_ascii_case(name)
            || cfg
                .domains
                .iter()
                .any(|d| r.host.eq_ignore_ascii_case(&format!("{name}.{d}")));
        if !own {
            bail!(
                "--replica {}: devices and clients accept this network's servers only under a name its root names (§3.5), {name}.local and {name}.<domain>; run the replicas under that name with their own ports (--replica {name}:8443) or their own addresses for it",
                r.host
            );
        }
    }
    let txt = format!("path={DIRECTORY_PATH}");
    // This server alone, or every replica: one SRV record each, same priority and weight.
    let replicas = if a.replica.is_empty() {
        vec![Replica {
            host: name.clone(),
            port: None,
        }]
    } else {
        a.replica.clone()
    };
    for d in &cfg.domains {
        let svc = format!("_acme-server._tcp.{d}");
        let target = format!("{name}.{d}");
        let inst = format!("{name}._acme-server._tcp.{d}");
        let srvs: Vec<(String, u16)> = replicas
            .iter()
            .map(|r| (r.target(d), r.port.unwrap_or(a.port)))
            .collect();
        match a.format {
            DnsFormat::Zone => {
                lantrust_cli::outln!(
                    "; lantrust ACME server discovery for {d} (draft §3.3, RFC 2782, RFC 6763)"
                );
                for (t, port) in &srvs {
                    lantrust_cli::outln!("{svc}. {ttl} IN SRV 0 0 {port} {t}.");
                }
                lantrust_cli::outln!("{svc}. {ttl} IN TXT \"{txt}\"");
                lantrust_cli::outln!("{svc}. {ttl} IN PTR {inst}.");
                for (t, port) in &srvs {
                    lantrust_cli::outln!("{inst}. {ttl} IN SRV 0 0 {port} {t}.");
                }
                lantrust_cli::outln!("{inst}. {ttl} IN TXT \"{txt}\"");
                lantrust_cli::outln!("_services._dns-sd._udp.{d}. {ttl} IN PTR {svc}.");
                for ip in &cfg.ips {
                    let t = if ip.is_ipv4() { "A" } else { "AAAA" };
                    lantrust_cli::outln!("{target}. {ttl} IN {t} {ip}");
                }
            }
            DnsFormat::Unbound => {
                lantrust_cli::outln!("# lantrust ACME server discovery for {d}");
                for (t, port) in &srvs {
                    lantrust_cli::outln!("local-data: \"{svc}. {ttl} IN SRV 0 0 {port} {t}.\"");
                }
                lantrust_cli::outln!("local-data: '{svc}. {ttl} IN TXT \"{txt}\"'");
                lantrust_cli::outln!("local-data: \"{svc}. {ttl} IN PTR {inst}.\"");
                for (t, port) in &srvs {
                    lantrust_cli::outln!("local-data: \"{inst}. {ttl} IN SRV 0 0 {port} {t}.\"");
                }
                lantrust_cli::outln!("local-data: '{inst}. {ttl} IN TXT \"{txt}\"'");
                lantrust_cli::outln!(
                    "local-data: \"_services._dns-sd._udp.{d}. {ttl} IN PTR {svc}.\""
                );
                for ip in &cfg.ips {
                    let t = if ip.is_ipv4() { "A" } else { "AAAA" };
                    lantrust_cli::outln!("local-data: \"{target}. {ttl} IN {t} {ip}\"");
                }
            }
            DnsFormat::Dnsmasq => {
                lantrust_cli::outln!("# lantrust ACME server discovery for {d}");
                for (t, port) in &srvs {
                    lantrust_cli::outln!("srv-host={svc},{t},{port},0,0");
                }
                lantrust_cli::outln!("txt-record={svc},\"{txt}\"");
                lantrust_cli::outln!("ptr-record={svc},{inst}");
                for (t, port) in &srvs {
                    lantrust_cli::outln!("srv-host={inst},{t},{port},0,0");
                }
                lantrust_cli::outln!("txt-record={inst},\"{txt}\"");
                lantrust_cli::outln!("ptr-record=_services._dns-sd._udp.{d},{svc}");
                for ip in &cfg.ips {
                    lantrust_cli::outln!("host-record={target},{ip}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
