//! The pin store: per-network roots (§3.5, §4.8, §4.9), managed anchors, and the device-side
//! certificate tracking of §3.6/§4.7. Plain data the caller persists with
//! [`PinStore::to_bytes`] / [`PinStore::from_bytes`].

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::cert::CertInfo;
use crate::names::{Host, normalize_dns};
use crate::network::{NetworkFingerprint, NetworkId, NetworkKind};
use crate::root::{Refusal, RootInfo, check_root, check_root_cert, check_root_signed, root_facts};
use crate::scope::{RootState, ScopeRefusal, verify};
use crate::{Error, hex, unhex32};

/// The store format this build writes. Version 1 (roots inline in each network, one domain, no
/// checksum) is read and migrated.
pub const STORE_VERSION: u64 = 2;
const FORMAT: &str = "lantrust-pin-store";

/// A SHA-256 value written as 64 hex digits (map keys and references).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct H32([u8; 32]);

impl fmt::Debug for H32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for H32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for H32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        unhex32(&text)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

impl Serialize for NetworkFingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for NetworkFingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        unhex32(&text)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRoot {
    #[serde(with = "crate::serde_b64")]
    der: Vec<u8>,
}

/// What is pinned for one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPin {
    // Fields in alphabetical order: the serialised form has sorted keys (see `PinStore`).
    domains: Vec<String>,
    first_seen: u64,
    last_seen: u64,
    network: NetworkId,
    root: H32,
    server_name: String,
}

impl NetworkPin {
    /// The network.
    #[must_use]
    pub fn network(&self) -> &NetworkId {
        &self.network
    }

    /// SHA-256 of the pinned root's SubjectPublicKeyInfo.
    #[must_use]
    pub fn root_spki_sha256(&self) -> &[u8; 32] {
        &self.root.0
    }

    /// The ACME server's name or address, as discovery gave it when the pin was made.
    #[must_use]
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The network's local domains (normalised, sorted).
    #[must_use]
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// When the pin was made (Unix seconds).
    #[must_use]
    pub fn first_seen(&self) -> u64 {
        self.first_seen
    }

    /// When the network was last seen with this root (Unix seconds).
    #[must_use]
    pub fn last_seen(&self) -> u64 {
        self.last_seen
    }
}

/// A managed network: trust comes from pre-configured anchors, never from TOFU (§3.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedNetwork {
    anchors: Vec<H32>,
    domains: Vec<String>,
    network: NetworkId,
}

impl ManagedNetwork {
    /// The network.
    #[must_use]
    pub fn network(&self) -> &NetworkId {
        &self.network
    }

    /// The anchors' SPKI SHA-256 values.
    pub fn anchors(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.anchors.iter().map(|h| &h.0)
    }

    /// The network's local domains.
    #[must_use]
    pub fn domains(&self) -> &[String] {
        &self.domains
    }
}

/// A certificate an IoT device obtained on one network (§3.6, §4.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedCert {
    #[serde(with = "crate::serde_b64")]
    der: Vec<u8>,
    names: Vec<String>,
    not_after: u64,
    revoke_pending: bool,
    #[serde(with = "crate::serde_hex")]
    serial: Vec<u8>,
}

impl TrackedCert {
    /// The certificate, DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number (big-endian bytes, as encoded).
    #[must_use]
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Its DNS subjectAltNames.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// notAfter (Unix seconds).
    #[must_use]
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// True once a rename asked for its revocation and it is not confirmed yet.
    #[must_use]
    pub fn revoke_pending(&self) -> bool {
        self.revoke_pending
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceNetwork {
    certs: Vec<TrackedCert>,
    hostname: String,
    network: NetworkId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    device: BTreeMap<NetworkFingerprint, DeviceNetwork>,
    managed: BTreeMap<NetworkFingerprint, ManagedNetwork>,
    networks: BTreeMap<NetworkFingerprint, NetworkPin>,
    roots: BTreeMap<H32, StoredRoot>,
}

/// What the client observed on joining a network: the input of [`PinStore::decide`].
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The network the client is on.
    pub network: &'a NetworkId,
    /// Its kind, as the OS knows it.
    pub kind: NetworkKind,
    /// The ACME server's name or address as discovery (DHCP or DNS-SD) gave it.
    pub server_name: &'a str,
    /// The root certificate fetched from that server, DER.
    pub root_der: &'a [u8],
    /// The local domains the network announced (the identity's local domain is added).
    pub domains: &'a [&'a str],
}

/// A root that passed every check and may be pinned once the caller agrees
/// ([`PinStore::accept`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Candidate {
    network: NetworkId,
    server_name: String,
    domains: Vec<String>,
    root: RootInfo,
    replaces: Option<[u8; 32]>,
    shared_with: Vec<NetworkFingerprint>,
}

impl Candidate {
    /// The network.
    #[must_use]
    pub fn network(&self) -> &NetworkId {
        &self.network
    }

    /// The root.
    #[must_use]
    pub fn root(&self) -> &RootInfo {
        &self.root
    }

    /// The server name discovery gave.
    #[must_use]
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The domains that will be in scope.
    #[must_use]
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// The SPKI SHA-256 of the root this candidate would replace, for a root change.
    #[must_use]
    pub fn replaces(&self) -> Option<&[u8; 32]> {
        self.replaces.as_ref()
    }

    /// Other networks that already pin this same root (a router serving Wi-Fi and Ethernet,
    /// §3.5): a UI can say so, but the caller still decides for this network.
    #[must_use]
    pub fn shared_with(&self) -> &[NetworkFingerprint] {
        &self.shared_with
    }
}

/// The outcome of [`PinStore::decide`]. Nothing is stored until the caller acts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// No pin for this network yet: ask the user or apply the TOFU policy, then
    /// [`PinStore::accept`] the candidate.
    FirstUse(Candidate),
    /// The pinned (or managed) root: trusted. Call [`PinStore::mark_seen`] to refresh the LRU.
    Trusted(NetworkFingerprint),
    /// The network's root differs from the pinned one: a possible man-in-the-middle. Tell the
    /// user (§4.8); only an explicit [`PinStore::accept`] replaces the pin.
    RootChanged {
        /// The pinned root.
        old: RootInfo,
        /// The root now offered.
        new: Candidate,
    },
    /// Not usable; the reason says why.
    Refused(Refusal),
}

/// The per-network pin store.
///
/// The serialised form (`to_bytes`) is deterministic JSON: `{"format":"lantrust-pin-store",
/// "sha256":…,"store":{device, managed, networks, roots},"version":2}` where every object has
/// its keys in sorted order and `sha256` is the SHA-256 of the compact encoding of `store`, so
/// damage that still parses as JSON is detected too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinStore {
    body: Body,
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

/// Normalises, sorts and de-duplicates a domain list.
fn normalize_domains<'a>(domains: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let set: Option<BTreeSet<String>> = domains.into_iter().map(normalize_dns).collect();
    set.map(|s| s.into_iter().collect())
}

impl PinStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

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

    /// Decides what to do with the root a network offers (§3.5, §4.1, §4.8). Pure: the store
    /// is not changed.
    pub fn decide(&self, obs: &Observation<'_>, now: u64) -> Decision {
        if let NetworkKind::Public(kind) = obs.kind {
            return Decision::Refused(Refusal::PublicNetwork(kind));
        }
        let root = match check_root(obs.root_der, obs.server_name, now) {
            Ok(root) => root,
            Err(refusal) => return Decision::Refused(refusal),
        };
        let Some(server_name) = Host::parse(obs.server_name).map(|h| match h {
            Host::Dns(name) => name,
            Host::Ip(ip) => ip.to_string(),
        }) else {
            return Decision::Refused(Refusal::InvalidServerName(obs.server_name.into()));
        };
        if let Some(bad) = obs.domains.iter().find(|d| normalize_dns(d).is_none()) {
            return Decision::Refused(Refusal::InvalidDomain((*bad).into()));
        }
        let domains = normalize_domains(
            obs.domains
                .iter()
                .copied()
                .chain(obs.network.local_domain()),
        )
        .unwrap_or_default();
        let fp = obs.network.fingerprint();
        let spki = H32(root.spki_sha256);

        if let Some(managed) = self.body.managed.get(&fp) {
            return if managed.anchors.contains(&spki) {
                Decision::Trusted(fp)
            } else {
                Decision::Refused(Refusal::NotAManagedAnchor)
            };
        }
        if obs.kind == NetworkKind::Managed {
            return Decision::Refused(Refusal::NoManagedAnchors);
        }

        let pinned = self.body.networks.get(&fp);
        if let Some(pin) = pinned {
            if pin.root == spki {
                return Decision::Trusted(fp);
            }
        }
        let candidate = Candidate {
            network: obs.network.clone(),
            server_name,
            domains,
            replaces: pinned.map(|p| p.root.0),
            shared_with: self
                .body
                .networks
                .iter()
                .filter(|(other, p)| **other != fp && p.root == spki)
                .map(|(other, _)| *other)
                .collect(),
            root,
        };
        match pinned
            .and_then(|p| self.body.roots.get(&p.root))
            .and_then(|r| root_facts(&r.der))
        {
            Some(old) => Decision::RootChanged {
                old,
                new: candidate,
            },
            None => Decision::FirstUse(candidate),
        }
    }

    /// Pins `candidate` (from [`Decision::FirstUse`] or, after the user agreed,
    /// [`Decision::RootChanged`]). Returns the SPKI SHA-256 of the root it replaced, if any.
    ///
    /// # Errors
    /// [`Error::StaleCandidate`] if the network's pin changed since the decision.
    pub fn accept(&mut self, candidate: Candidate, now: u64) -> Result<Option<[u8; 32]>, Error> {
        let fp = candidate.network.fingerprint();
        let current = self.body.networks.get(&fp).map(|p| p.root.0);
        if current != candidate.replaces {
            return Err(Error::StaleCandidate);
        }
        let spki = H32(candidate.root.spki_sha256);
        self.body.roots.insert(
            spki,
            StoredRoot {
                der: candidate.root.der,
            },
        );
        self.body.networks.insert(
            fp,
            NetworkPin {
                network: candidate.network,
                root: spki,
                server_name: candidate.server_name,
                domains: candidate.domains,
                first_seen: now,
                last_seen: now,
            },
        );
        self.collect_roots();
        Ok(current)
    }

    /// Records that the network was seen with its pinned root at `now` (for the LRU purge).
    /// Returns false if the network has no pin.
    pub fn mark_seen(&mut self, network: &NetworkFingerprint, now: u64) -> bool {
        match self.body.networks.get_mut(network) {
            Some(pin) => {
                pin.last_seen = pin.last_seen.max(now);
                true
            }
            None => false,
        }
    }

    /// The pin of a network.
    #[must_use]
    pub fn pin(&self, network: &NetworkFingerprint) -> Option<&NetworkPin> {
        self.body.networks.get(network)
    }

    /// Every pin, by fingerprint.
    pub fn pins(&self) -> impl Iterator<Item = (&NetworkFingerprint, &NetworkPin)> {
        self.body.networks.iter()
    }

    /// The DER of a stored root, by SPKI SHA-256.
    #[must_use]
    pub fn root_der(&self, spki_sha256: &[u8; 32]) -> Option<&[u8]> {
        self.body
            .roots
            .get(&H32(*spki_sha256))
            .map(|r| r.der.as_slice())
    }

    /// The number of distinct roots stored (a root shared by networks counts once).
    #[must_use]
    pub fn root_count(&self) -> usize {
        self.body.roots.len()
    }

    /// Networks that pin the root with this SPKI SHA-256.
    #[must_use]
    pub fn networks_with_root(&self, spki_sha256: &[u8; 32]) -> Vec<NetworkFingerprint> {
        self.body
            .networks
            .iter()
            .filter(|(_, p)| p.root.0 == *spki_sha256)
            .map(|(fp, _)| *fp)
            .collect()
    }

    /// Forgets a network's pin (and its device-side record). Returns whether it existed.
    pub fn forget(&mut self, network: &NetworkFingerprint) -> bool {
        let existed = self.body.networks.remove(network).is_some();
        self.body.device.remove(network);
        self.collect_roots();
        existed
    }

    /// Keeps at most `max_networks` pins, dropping the least recently seen first (§4.9: purge
    /// "old" networks when storage is short). Managed networks are configuration and are kept.
    /// Returns the purged networks, oldest first.
    pub fn purge_lru(&mut self, max_networks: usize) -> Vec<NetworkFingerprint> {
        let excess = self.body.networks.len().saturating_sub(max_networks);
        let mut by_age: Vec<(u64, NetworkFingerprint)> = self
            .body
            .networks
            .iter()
            .map(|(fp, p)| (p.last_seen, *fp))
            .collect();
        by_age.sort_unstable();
        let purged: Vec<NetworkFingerprint> =
            by_age.into_iter().take(excess).map(|(_, fp)| fp).collect();
        for fp in &purged {
            self.body.networks.remove(fp);
            self.body.device.remove(fp);
        }
        self.collect_roots();
        purged
    }

    /// Configures a managed network (§3.5 "otherwise configured"): roots in `anchors` are
    /// trusted there without TOFU and no other root is; `domains` are in scope.
    ///
    /// # Errors
    /// [`Error::AnchorRefused`] when an anchor fails the root checks at `now`, or
    /// [`Error::InvalidInput`] for an invalid domain or an empty anchor list.
    pub fn set_managed(
        &mut self,
        network: &NetworkId,
        anchors: &[&[u8]],
        domains: &[&str],
        now: u64,
    ) -> Result<(), Error> {
        if anchors.is_empty() {
            return Err(Error::InvalidInput {
                reason: "a managed network needs at least one anchor".into(),
            });
        }
        let domains = normalize_domains(domains.iter().copied().chain(network.local_domain()))
            .ok_or_else(|| Error::InvalidInput {
                reason: alloc::format!("invalid domain in {domains:?}"),
            })?;
        let mut hashes = BTreeSet::new();
        let mut checked = Vec::new();
        for der in anchors {
            let root = check_root_cert(der, now).map_err(Error::AnchorRefused)?;
            hashes.insert(H32(root.spki_sha256));
            checked.push(root);
        }
        for root in checked {
            self.body
                .roots
                .insert(H32(root.spki_sha256), StoredRoot { der: root.der });
        }
        self.body.managed.insert(
            network.fingerprint(),
            ManagedNetwork {
                network: network.clone(),
                anchors: hashes.into_iter().collect(),
                domains,
            },
        );
        Ok(())
    }

    /// The managed configuration of a network.
    #[must_use]
    pub fn managed(&self, network: &NetworkFingerprint) -> Option<&ManagedNetwork> {
        self.body.managed.get(network)
    }

    /// Removes a managed configuration. Returns whether it existed.
    pub fn remove_managed(&mut self, network: &NetworkFingerprint) -> bool {
        let existed = self.body.managed.remove(network).is_some();
        self.collect_roots();
        existed
    }

    /// Scoped trust (§3.5): is `chain` (device certificate first) trusted for `reached_at` on
    /// the current network? Only through this network's pinned root (or managed anchors), only
    /// for `.local`, the network's domains and local addresses; see [`crate::verify_scoped`]. (The root's self-signature was checked when it was pinned and again when the store was loaded, so only its validity at `now` is checked here.)
    ///
    /// # Errors
    /// The [`ScopeRefusal`] that explains the refusal.
    pub fn verify_device(
        &self,
        network: &NetworkId,
        kind: NetworkKind,
        chain: &[&[u8]],
        reached_at: &str,
        now: u64,
    ) -> Result<(), ScopeRefusal> {
        if let NetworkKind::Public(k) = kind {
            return Err(ScopeRefusal::PublicNetwork(k));
        }
        let fp = network.fingerprint();
        if let Some(managed) = self.body.managed.get(&fp) {
            let mut best = ScopeRefusal::NoPinForNetwork;
            for anchor in &managed.anchors {
                let Some(root) = self.body.roots.get(anchor) else {
                    continue;
                };
                let domains = &managed.domains;
                match verify(
                    &root.der,
                    domains,
                    chain,
                    reached_at,
                    now,
                    RootState::SignatureChecked,
                ) {
                    Ok(()) => return Ok(()),
                    Err(ScopeRefusal::NotIssuedByNetworkRoot)
                        if best != ScopeRefusal::NoPinForNetwork => {}
                    Err(e) => best = e,
                }
            }
            return Err(best);
        }
        if kind == NetworkKind::Managed {
            return Err(ScopeRefusal::NoPinForNetwork);
        }
        let pin = self
            .body
            .networks
            .get(&fp)
            .ok_or(ScopeRefusal::NoPinForNetwork)?;
        let root = self
            .body
            .roots
            .get(&pin.root)
            .ok_or(ScopeRefusal::NoPinForNetwork)?;
        verify(
            &root.der,
            &pin.domains,
            chain,
            reached_at,
            now,
            RootState::SignatureChecked,
        )
    }

    /// IoT device side (§3.6): records a certificate the device obtained on `network` under
    /// `hostname` (its mDNS host label, e.g. `device-12cd56`).
    ///
    /// # Errors
    /// [`Error::InvalidCertificate`] when the DER does not parse; [`Error::InvalidInput`] for
    /// an invalid host label or one that differs from the network's current one (rename first).
    pub fn track_device_cert(
        &mut self,
        network: &NetworkId,
        hostname: &str,
        cert_der: &[u8],
    ) -> Result<(), Error> {
        let hostname = host_label(hostname)?;
        let info = CertInfo::parse(cert_der).map_err(|p| Error::InvalidCertificate {
            offset: p.offset,
            reason: p.reason,
        })?;
        let entry = self
            .body
            .device
            .entry(network.fingerprint())
            .or_insert_with(|| DeviceNetwork {
                network: network.clone(),
                hostname: hostname.clone(),
                certs: Vec::new(),
            });
        if entry.hostname != hostname {
            return Err(Error::InvalidInput {
                reason: alloc::format!(
                    "the device is {:?} on this network; call device_rename first",
                    entry.hostname
                ),
            });
        }
        if !entry.certs.iter().any(|c| c.der == cert_der) {
            entry.certs.push(TrackedCert {
                der: cert_der.to_vec(),
                serial: info.serial,
                names: info
                    .dns_names
                    .iter()
                    .filter_map(|n| normalize_dns(n))
                    .collect(),
                not_after: info.not_after,
                revoke_pending: false,
            });
        }
        Ok(())
    }

    /// IoT device side: the certificates tracked for a network.
    #[must_use]
    pub fn device_certs(&self, network: &NetworkFingerprint) -> &[TrackedCert] {
        self.body
            .device
            .get(network)
            .map_or(&[], |d| d.certs.as_slice())
    }

    /// IoT device side: the device's host label on a network.
    #[must_use]
    pub fn device_hostname(&self, network: &NetworkFingerprint) -> Option<&str> {
        self.body.device.get(network).map(|d| d.hostname.as_str())
    }

    /// IoT device side (§4.7): the device's mDNS name changed on `network`. Returns the
    /// certificates for the old name **on this network only**, which the caller must revoke
    /// with this network's ACME server; they stay tracked with
    /// [`TrackedCert::revoke_pending`] until [`device_revoked`](Self::device_revoked).
    /// Other networks keep their names and certificates.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid host label.
    pub fn device_rename(
        &mut self,
        network: &NetworkId,
        new_hostname: &str,
    ) -> Result<Vec<TrackedCert>, Error> {
        let new_hostname = host_label(new_hostname)?;
        let entry = self
            .body
            .device
            .entry(network.fingerprint())
            .or_insert_with(|| DeviceNetwork {
                network: network.clone(),
                hostname: new_hostname.clone(),
                certs: Vec::new(),
            });
        let old = core::mem::replace(&mut entry.hostname, new_hostname);
        if old == entry.hostname {
            return Ok(Vec::new());
        }
        let mut to_revoke = Vec::new();
        for cert in &mut entry.certs {
            let names_old = cert
                .names
                .iter()
                .any(|n| n.split('.').next() == Some(old.as_str()));
            if names_old && !cert.revoke_pending {
                cert.revoke_pending = true;
                to_revoke.push(cert.clone());
            }
        }
        Ok(to_revoke)
    }

    /// IoT device side: the certificate with `serial` was revoked; stop tracking it.
    /// Returns whether it was tracked.
    pub fn device_revoked(&mut self, network: &NetworkFingerprint, serial: &[u8]) -> bool {
        let Some(entry) = self.body.device.get_mut(network) else {
            return false;
        };
        let before = entry.certs.len();
        entry.certs.retain(|c| c.serial != serial);
        before != entry.certs.len()
    }

    fn collect_roots(&mut self) {
        let used: BTreeSet<H32> = self
            .body
            .networks
            .values()
            .map(|p| p.root)
            .chain(
                self.body
                    .managed
                    .values()
                    .flat_map(|m| m.anchors.iter().copied()),
            )
            .collect();
        self.body.roots.retain(|k, _| used.contains(k));
    }
}

fn host_label(s: &str) -> Result<String, Error> {
    match normalize_dns(s) {
        Some(label) if !label.contains('.') => Ok(label),
        _ => Err(Error::InvalidInput {
            reason: alloc::format!("{s:?} is not a host label (one DNS label, letters/digits/-)"),
        }),
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
        let server_name = match Host::parse(&old.server) {
            Some(Host::Dns(n)) => n,
            Some(Host::Ip(ip)) => ip.to_string(),
            None => return Err(ctx("bad server name")),
        };
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
        if used.len() != self.roots.len() {
            return Err(inconsistent("a stored root is not used by any network"));
        }
        for (fp, dev) in &self.device {
            check_net(fp, &dev.network)?;
            host_label(&dev.hostname)
                .map_err(|e| inconsistent(alloc::format!("device record {fp}: {e}")))?;
        }
        Ok(())
    }
}
