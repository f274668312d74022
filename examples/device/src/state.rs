//! The device's state directory: one sub-directory per network (§4.9), keys 0600 (§4.4).
//!
//! ```text
//! DIR/device.json                 default device ID and local domains
//! DIR/current                     the network the device is on now (its directory name)
//! DIR/networks/<server>/meta.json directory URL, names, validity, how to reach the server
//! DIR/networks/<server>/root.pem  the root trusted for this network's ACME server (TOFU or --root)
//! DIR/networks/<server>/account.key, key.pem (0600), chain.pem
//! ```
//!
//! Crash safety (issue 9): every file is written atomically, and a new certificate's key, chain
//! and metadata are committed together ([`lantrust_cli::fs::write_group`]), so a device killed at
//! any point never pairs a key with another key's certificate. [`State::open`] finishes or undoes
//! an interrupted commit and removes the temp files a killed process left behind.

use std::path::{Path, PathBuf};

use anyhow::Context;
use der::Decode;
use lantrust_cli::fs::{Mode, recover, remove_leftover_dirs, write_atomic, write_group};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// Factory configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DeviceConfig {
    pub(crate) id: String,
    pub(crate) domains: Vec<String>,
}

/// What the device remembers about one network.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct NetworkMeta {
    pub(crate) server_name: String,
    pub(crate) directory_url: String,
    /// The device ID (mDNS host name) used on this network (§4.7: tracked per network).
    pub(crate) id: String,
    pub(crate) domains: Vec<String>,
    pub(crate) names: Vec<String>,
    pub(crate) serial: String,
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    /// `NAME=IP:PORT` overrides used to reach the server.
    pub(crate) resolve: Vec<String>,
    /// Whether the root came from TOFU (else from --root).
    pub(crate) tofu: bool,
    /// Whether the server was found by discovery with no method given, so that a renewal
    /// runs it again (§3.6).
    #[serde(default)]
    pub(crate) auto_discovery: bool,
    /// The discovery method given at enrollment (`--dhcp-inform`, `--dhcp6-inform`, `--dns`),
    /// run again before each renewal (§3.6: a device MUST use discovery). Absent, and no
    /// `auto_discovery`: the server was configured (`--directory`, `--dhcp-packet`) and is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) discovery: Option<SavedDiscovery>,
    /// Every certificate obtained on this network that may still be valid (renewals do not
    /// revoke the one they replace), so that `rename` and `reset` can revoke them all (§4.5,
    /// §4.7). Pruned once expired or revoked. Absent in state written before it existed: the
    /// current `chain.pem` is then the only one known.
    #[serde(default)]
    pub(crate) held: Vec<HeldCert>,
}

/// A discovery method given on the command line, kept for rediscovery (§3.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedDiscovery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dhcp_inform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dhcp6_inform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dns: Option<std::net::SocketAddr>,
}

impl SavedDiscovery {
    /// The method to run again, if `args` named one: `None` with no method (discovery by
    /// itself), and with a configured server (`--directory`, or a saved `--dhcp-packet`).
    pub(crate) fn of(args: &lantrust_cli::DiscoveryArgs) -> Option<Self> {
        if args.directory.is_some() || args.dhcp_packet.is_some() {
            return None;
        }
        let saved = SavedDiscovery {
            dhcp_inform: args.dhcp_inform.clone(),
            dhcp6_inform: args.dhcp6_inform.clone(),
            dns: args.dns,
        };
        (saved != SavedDiscovery::default()).then_some(saved)
    }

    /// The discovery flags to run again.
    pub(crate) fn args(&self) -> lantrust_cli::DiscoveryArgs {
        lantrust_cli::DiscoveryArgs {
            dhcp_inform: self.dhcp_inform.clone(),
            dhcp6_inform: self.dhcp6_inform.clone(),
            dns: self.dns,
            ..Default::default()
        }
    }
}

/// A certificate the device obtained and has not seen revoked or expire.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HeldCert {
    /// Serial number, hex.
    pub(crate) serial: String,
    /// Its DNS names.
    pub(crate) names: Vec<String>,
    pub(crate) not_after: u64,
    /// The certificate, PEM (RFC 8555 §7.6 revokeCert needs it).
    pub(crate) pem: String,
}

impl NetworkMeta {
    /// Records a newly issued certificate and forgets the expired ones.
    pub(crate) fn hold(&mut self, cert: HeldCert, now: u64) {
        self.held
            .retain(|h| h.not_after > now && h.serial != cert.serial);
        self.held.push(cert);
    }
}

pub(crate) struct State {
    pub(crate) dir: PathBuf,
}

/// A directory name for a server name (host names are already safe; anything else is escaped).
pub(crate) fn label(server_name: &str) -> String {
    let l = server_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string();
    if l.is_empty() { "server".into() } else { l }
}

impl State {
    /// The state in `dir` as it is (see [`State::open`] for a command's start).
    pub(crate) fn new(dir: &Path) -> Self {
        State {
            dir: dir.to_path_buf(),
        }
    }
    /// The state in `dir`, brought back to a consistent state after a crash: an interrupted
    /// commit of a new certificate is finished or undone, leftovers of killed writers removed.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Self> {
        let st = State::new(dir);
        let report = |what: &Path, r: lantrust_cli::fs::Recovery| {
            if !r.completed.is_empty() {
                eprintln!(
                    "{}: finished the update a crash interrupted ({})",
                    what.display(),
                    r.completed.join(", ")
                );
            }
        };
        report(&st.dir, recover(&st.dir)?);
        let nets = st.dir.join("networks");
        remove_leftover_dirs(&st.dir)?;
        report(&nets, recover(&nets)?);
        if let Ok(rd) = std::fs::read_dir(&nets) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    report(&e.path(), recover(&e.path())?);
                }
            }
        }
        Ok(st)
    }
    pub(crate) fn config(&self) -> anyhow::Result<Option<DeviceConfig>> {
        let p = self.dir.join("device.json");
        if !p.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))?,
        ))
    }
    pub(crate) fn save_config(&self, c: &DeviceConfig) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("device.json"),
            &serde_json::to_vec_pretty(c)?,
            Mode::Public,
        )
    }
    pub(crate) fn net_dir(&self, label: &str) -> PathBuf {
        self.dir.join("networks").join(label)
    }
    pub(crate) fn current(&self) -> anyhow::Result<String> {
        let p = self.dir.join("current");
        let s = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "{} has no enrolled network yet: run `lantrust-device enroll --state {}` first",
                self.dir.display(),
                self.dir.display()
            )
        })?;
        Ok(s.trim().to_string())
    }
    pub(crate) fn set_current(&self, label: &str) -> anyhow::Result<()> {
        write_atomic(&self.dir.join("current"), label.as_bytes(), Mode::Public)
    }
    pub(crate) fn meta(&self, label: &str) -> anyhow::Result<NetworkMeta> {
        let p = self.net_dir(label).join("meta.json");
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))
    }
    pub(crate) fn save_meta(&self, label: &str, m: &NetworkMeta) -> anyhow::Result<()> {
        write_atomic(
            &self.net_dir(label).join("meta.json"),
            &serde_json::to_vec_pretty(m)?,
            Mode::Public,
        )
    }
    /// Saves a new certificate's key (0600), chain and metadata as one commit: after a crash
    /// (and [`State::open`]) either all three are new or all three are old.
    pub(crate) fn save_issued(
        &self,
        label: &str,
        key_pem: &[u8],
        chain_pem: &[u8],
        m: &NetworkMeta,
    ) -> anyhow::Result<()> {
        let meta = serde_json::to_vec_pretty(m)?;
        write_group(
            &self.net_dir(label),
            &[
                ("key.pem", key_pem, Mode::Secret),
                ("chain.pem", chain_pem, Mode::Public),
                ("meta.json", &meta, Mode::Public),
            ],
        )
    }
    /// Forgets which network is current (`reset`), durably.
    pub(crate) fn clear_current(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.dir.join("current")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing {}", self.dir.join("current").display()));
            }
        }
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
    pub(crate) fn networks(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join("networks"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("meta.json").exists())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Facts about a certificate that the device shows and schedules renewal by.
#[derive(Clone, Debug)]
pub(crate) struct CertFacts {
    pub(crate) serial: String,
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ips: Vec<String>,
    pub(crate) subject: String,
}

pub(crate) fn cert_facts(der_bytes: &[u8]) -> anyhow::Result<CertFacts> {
    let cert = Certificate::from_der(der_bytes).context("parsing the certificate")?;
    let tbs = &cert.tbs_certificate;
    let mut dns_names = Vec::new();
    let mut ips = Vec::new();
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == const_oid_san() {
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                .context("parsing subjectAltName")?;
            for g in san.0 {
                match g {
                    GeneralName::DnsName(d) => dns_names.push(d.to_string()),
                    GeneralName::IpAddress(o) => {
                        let b = o.as_bytes();
                        if let Ok(a) = <[u8; 4]>::try_from(b) {
                            ips.push(std::net::Ipv4Addr::from(a).to_string());
                        } else if let Ok(a) = <[u8; 16]>::try_from(b) {
                            ips.push(std::net::Ipv6Addr::from(a).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(CertFacts {
        serial: hex::encode(tbs.serial_number.as_bytes()),
        not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
        not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
        dns_names,
        ips,
        subject: tbs.subject.to_string(),
    })
}

fn const_oid_san() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17")
}

/// §3.5/§3.6: a TOFU root is accepted only if its SANs include the name discovery gave (other
/// SANs are allowed: one root may serve several networks).
pub(crate) fn root_names_server(root_der: &[u8], server_name: &str) -> anyhow::Result<()> {
    let f = cert_facts(root_der)?;
    let want = server_name.trim_end_matches('.').to_ascii_lowercase();
    let want_ip = want.parse::<std::net::IpAddr>().ok().map(|i| i.to_string());
    let ok = f
        .dns_names
        .iter()
        .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(&want))
        || want_ip.is_some_and(|ip| f.ips.contains(&ip));
    anyhow::ensure!(
        ok,
        "the server's root ({}) does not name {server_name:?} in its subjectAltName (it names {:?} {:?}): refusing it (§3.5)",
        f.subject,
        f.dns_names,
        f.ips
    );
    Ok(())
}

/// DER of the first certificate of a PEM chain, and the whole chain.
pub(crate) fn chain_ders(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    lantrust_cli::pem_certs(pem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A root made by openssl for the pin crate's tests (crates/pin/tests/vectors/gen.sh).
    const ROOT: &[u8] = include_bytes!("../../../crates/pin/tests/vectors/root-p384.der");

    #[test]
    fn root_sans_must_name_the_discovered_server() {
        root_names_server(ROOT, "router-fdb531.local").unwrap();
        root_names_server(ROOT, "ROUTER-fdb531.example.test.").unwrap();
        root_names_server(ROOT, "192.168.1.1").unwrap();
        let err = root_names_server(ROOT, "acme.home.arpa").unwrap_err();
        assert!(err.to_string().contains("does not name"), "{err}");
        assert!(root_names_server(ROOT, "192.168.1.2").is_err());
    }

    #[test]
    fn facts_of_an_openssl_certificate() {
        let f = cert_facts(ROOT).unwrap();
        assert_eq!(f.serial, "1000");
        assert_eq!(
            f.dns_names,
            ["router-fdb531.local", "router-fdb531.example.test"]
        );
        assert_eq!(f.ips, ["192.168.1.1"]);
        assert!(f.not_after > f.not_before);
        assert!(cert_facts(&ROOT[..100]).is_err());
    }

    #[test]
    fn labels_are_safe_directory_names() {
        assert_eq!(label("lantrust.local"), "lantrust.local");
        assert_eq!(label("../etc"), "_etc");
        assert_eq!(label(".."), "server");
        assert_eq!(label("::1"), "__1");
    }
}
