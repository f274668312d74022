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
    let (name, ttl, port) = (&cfg.name, a.ttl, a.port);
    let txt = format!("path={DIRECTORY_PATH}");
    for d in &cfg.domains {
        let svc = format!("_acme-server._tcp.{d}");
        let target = format!("{name}.{d}");
        let inst = format!("{name}._acme-server._tcp.{d}");
        match a.format {
            DnsFormat::Zone => {
                lantrust_cli::outln!(
                    "; lantrust ACME server discovery for {d} (draft §3.3, RFC 2782, RFC 6763)"
                );
                lantrust_cli::outln!("{svc}. {ttl} IN SRV 0 0 {port} {target}.");
                lantrust_cli::outln!("{svc}. {ttl} IN TXT \"{txt}\"");
                lantrust_cli::outln!("{svc}. {ttl} IN PTR {inst}.");
                lantrust_cli::outln!("{inst}. {ttl} IN SRV 0 0 {port} {target}.");
                lantrust_cli::outln!("{inst}. {ttl} IN TXT \"{txt}\"");
                lantrust_cli::outln!("_services._dns-sd._udp.{d}. {ttl} IN PTR {svc}.");
                for ip in &cfg.ips {
                    let t = if ip.is_ipv4() { "A" } else { "AAAA" };
                    lantrust_cli::outln!("{target}. {ttl} IN {t} {ip}");
                }
            }
            DnsFormat::Unbound => {
                lantrust_cli::outln!("# lantrust ACME server discovery for {d}");
                lantrust_cli::outln!("local-data: \"{svc}. {ttl} IN SRV 0 0 {port} {target}.\"");
                lantrust_cli::outln!("local-data: '{svc}. {ttl} IN TXT \"{txt}\"'");
                lantrust_cli::outln!("local-data: \"{svc}. {ttl} IN PTR {inst}.\"");
                lantrust_cli::outln!("local-data: \"{inst}. {ttl} IN SRV 0 0 {port} {target}.\"");
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
                lantrust_cli::outln!("srv-host={svc},{target},{port},0,0");
                lantrust_cli::outln!("txt-record={svc},\"{txt}\"");
                lantrust_cli::outln!("ptr-record={svc},{inst}");
                lantrust_cli::outln!("srv-host={inst},{target},{port},0,0");
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
