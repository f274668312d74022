//! The store's on-disk format (§4.9: each network's pin, and each network's device
//! certificates, survive restarts): deterministic JSON with a SHA-256 over the content,
//! version 1 migration, and load-time validation that re-derives everything the file claims.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::device::host_label;
use super::{Body, H32, NetworkPin, PinStore, StoredRoot, TrackedCert, normalize_domains};
use crate::cert::CertInfo;
use crate::names::Host;
use crate::network::{NetworkFingerprint, NetworkId};
use crate::root::check_root_signed;
use crate::{Error, hex, unhex32};

/// The store format this build writes. Version 1 (roots inline in each network, one domain, no
/// checksum) is read and migrated.
pub const STORE_VERSION: u64 = 2;
const FORMAT: &str = "lantrust-pin-store";

// H32 and NetworkFingerprint are both SHA-256 values written as 64 hex digits (map keys and
// references); one encoding serves both.
fn serialize_h32<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(v))
}

fn deserialize_h32<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(d)?;
    unhex32(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
}

impl Serialize for H32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_h32(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for H32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_h32(d).map(Self)
    }
}

impl Serialize for NetworkFingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_h32(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for NetworkFingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_h32(d).map(Self)
    }
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    sha256: String,
    store: &'a Body,
    version: u64,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV2 {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u64,
    sha256: H32,
    store: Body,
}

/// Version 1: each network held its root inline, a single domain and a UTF-8 SSID; keys were
/// free-form labels. Read only, for migration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u64,
    networks: BTreeMap<String, NetworkV1>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkV1 {
    interface: Option<String>,
    router_mac: Option<String>,
    ssid: Option<String>,
    domain: Option<String>,
    #[serde(with = "crate::serde_b64")]
    root_der: Vec<u8>,
    server: String,
    first_seen: u64,
    last_seen: u64,
}

fn json_error(input: &[u8], e: &serde_json::Error) -> Error {
    // serde_json reports 1-based lines and columns; turn them into a byte offset.
    let line_start = input
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(e.line().saturating_sub(2))
        .map_or(0, |(i, _)| i + 1);
    let offset = if e.line() <= 1 {
        e.column().saturating_sub(1)
    } else {
        line_start + e.column().saturating_sub(1)
    };
    let offset = offset.min(input.len());
    if e.is_eof() {
        Error::StoreTruncated {
            offset: input.len(),
        }
    } else {
        Error::StoreCorrupt {
            offset,
            reason: e.to_string(),
        }
    }
}

fn inconsistent(reason: impl Into<String>) -> Error {
    Error::StoreInconsistent {
        reason: reason.into(),
    }
}

impl PinStore {
    /// Serialises the store: deterministic pretty-printed JSON, version [`STORE_VERSION`].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let compact = serde_json::to_vec(&self.body).unwrap_or_default();
        let file = FileOut {
            format: FORMAT,
            version: STORE_VERSION,
            sha256: hex(&Sha256::digest(&compact)),
            store: &self.body,
        };
        let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads a store written by [`to_bytes`](Self::to_bytes) (version 2) or by version 1, which
    /// is migrated. Never returns an empty store for damaged input.
    ///
    /// # Errors
    /// [`Error::StoreTruncated`], [`Error::StoreCorrupt`] (with the byte offset),
    /// [`Error::WrongFormat`], [`Error::UnsupportedVersion`], [`Error::ChecksumMismatch`] or
    /// [`Error::StoreInconsistent`].
    pub fn from_bytes(input: &[u8]) -> Result<Self, Error> {
        let header: Header = serde_json::from_slice(input).map_err(|e| json_error(input, &e))?;
        if header.format != FORMAT {
            return Err(Error::WrongFormat {
                found: header.format,
            });
        }
        let body = match header.version {
            1 => {
                let v1: FileV1 =
                    serde_json::from_slice(input).map_err(|e| json_error(input, &e))?;
                migrate_v1(v1)?
            }
            2 => {
                let v2: FileV2 =
                    serde_json::from_slice(input).map_err(|e| json_error(input, &e))?;
                let compact = serde_json::to_vec(&v2.store).unwrap_or_default();
                let digest: [u8; 32] = Sha256::digest(&compact).into();
                if digest != v2.sha256.0 {
                    return Err(Error::ChecksumMismatch);
                }
                v2.store
            }
            found => return Err(Error::UnsupportedVersion { found }),
        };
        body.validate()?;
        Ok(Self { body })
    }
}

fn migrate_v1(v1: FileV1) -> Result<Body, Error> {
    let mut body = Body::default();
    for (label, old) in v1.networks {
        let ctx = |what: &str| inconsistent(alloc::format!("version 1 network {label:?}: {what}"));
        let mut builder = NetworkId::builder();
        if let Some(i) = &old.interface {
            builder = builder.interface(i);
        }
        if let Some(m) = &old.router_mac {
            builder = builder.router_mac(m.parse().map_err(|_| ctx("bad router_mac"))?);
        }
        if let Some(s) = &old.ssid {
            builder = builder.ssid(s.as_bytes());
        }
        if let Some(d) = &old.domain {
            builder = builder.local_domain(d);
        }
        let network = builder.build().map_err(|e| ctx(&e.to_string()))?;
        let cert = CertInfo::parse(&old.root_der).map_err(|p| ctx(&p.reason))?;
        let spki = H32(cert.spki_sha256);
        let server_name = Host::parse(&old.server)
            .map(Host::into_string)
            .ok_or_else(|| ctx("bad server name"))?;
        body.roots.insert(spki, StoredRoot { der: old.root_der });
        body.networks.insert(
            network.fingerprint(),
            NetworkPin {
                domains: network
                    .local_domain()
                    .map(String::from)
                    .into_iter()
                    .collect(),
                network,
                root: spki,
                server_name,
                first_seen: old.first_seen,
                last_seen: old.last_seen,
            },
        );
    }
    Ok(body)
}

impl Body {
    /// Everything `from_bytes` trusts about the file, re-derived and compared.
    fn validate(&self) -> Result<(), Error> {
        for (key, root) in &self.roots {
            // Every root was checked when it was pinned; check again (once, here) so that
            // `verify_device` can skip the self-signature on every call.
            let cert = check_root_signed(&root.der).map_err(|r| {
                inconsistent(alloc::format!(
                    "root {key:?} is not an acceptable root: {r}"
                ))
            })?;
            if cert.spki_sha256 != key.0 {
                return Err(inconsistent(alloc::format!(
                    "root {key:?} is stored under the wrong key"
                )));
            }
        }
        let check_net = |fp: &NetworkFingerprint, id: &NetworkId| -> Result<(), Error> {
            id.clone()
                .validated()
                .map_err(|e| inconsistent(alloc::format!("network {fp}: {e}")))?;
            if id.fingerprint() != *fp {
                return Err(inconsistent(alloc::format!(
                    "network {fp} is stored under a fingerprint that does not match its identity"
                )));
            }
            Ok(())
        };
        let check_domains = |fp: &NetworkFingerprint, d: &[String]| -> Result<(), Error> {
            if normalize_domains(d.iter().map(String::as_str)).as_deref() != Some(d) {
                return Err(inconsistent(alloc::format!(
                    "network {fp}: domains must be valid, lower-case, sorted and unique"
                )));
            }
            Ok(())
        };
        let mut used = BTreeSet::new();
        for (fp, pin) in &self.networks {
            check_net(fp, &pin.network)?;
            check_domains(fp, &pin.domains)?;
            if !self.roots.contains_key(&pin.root) {
                return Err(inconsistent(alloc::format!(
                    "network {fp} pins a missing root"
                )));
            }
            if pin.first_seen > pin.last_seen {
                return Err(inconsistent(alloc::format!(
                    "network {fp}: first_seen > last_seen"
                )));
            }
            if Host::parse(&pin.server_name).is_none() {
                return Err(inconsistent(alloc::format!(
                    "network {fp}: invalid server name"
                )));
            }
            used.insert(pin.root);
        }
        for (fp, managed) in &self.managed {
            check_net(fp, &managed.network)?;
            check_domains(fp, &managed.domains)?;
            if managed.anchors.is_empty() {
                return Err(inconsistent(alloc::format!(
                    "managed network {fp} has no anchors"
                )));
            }
            for anchor in &managed.anchors {
                if !self.roots.contains_key(anchor) {
                    return Err(inconsistent(alloc::format!(
                        "managed network {fp} names a missing anchor"
                    )));
                }
                used.insert(*anchor);
            }
        }
        PinStore::validate_crls(self)?;
        if used.len() != self.roots.len() {
            return Err(inconsistent("a stored root is not used by any network"));
        }
        for (fp, dev) in &self.device {
            check_net(fp, &dev.network)?;
            let label = host_label(&dev.hostname)
                .map_err(|e| inconsistent(alloc::format!("device record {fp}: {e}")))?;
            // Normal form and certificate facts are compared, not assumed: a rename revokes the
            // certificates whose names start with the old label (§4.7), and a record that
            // differs from its certificate would silently skip that revocation.
            if label != dev.hostname {
                return Err(inconsistent(alloc::format!(
                    "device record {fp}: the host label must be lower case"
                )));
            }
            if !dev.certs.iter().all(TrackedCert::matches_der) {
                return Err(inconsistent(alloc::format!(
                    "device record {fp}: a tracked certificate's serial, names or notAfter \
                     differ from its DER"
                )));
            }
        }
        Ok(())
    }
}
