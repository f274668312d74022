//! The pin store (§3.5, §4.9): per-network roots kept separately for each network, managed
//! anchors, the least-recently-seen purge of §4.9 ("purge 'old' network information"), and the
//! store's bookkeeping. The concerns live in submodules:
//!
//! - [`decide`]: what to do with the root a network offers, and scoped trust (§3.5, §4.8);
//! - [`device`]: the IoT-device side, certificates tracked per network (§3.6, §4.7, §4.9);
//! - [`format`]: the on-disk encoding, its checksum, version 1 migration and load-time
//!   validation (§4.9: the per-network records survive restarts).
//!
//! Plain data the caller persists with [`PinStore::to_bytes`] / [`PinStore::from_bytes`].

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::names::normalize_dns;
use crate::network::{NetworkFingerprint, NetworkId};
use crate::root::check_root_cert;
use crate::{Error, hex};

mod anchor;
mod crl;
mod decide;
mod device;
mod format;
mod rotation;

pub use crl::CachedCrl;
pub use decide::{Candidate, Decision, Observation};
pub use device::TrackedCert;
pub use format::STORE_VERSION;

use device::DeviceNetwork;

/// A SHA-256 value written as 64 hex digits (map keys and references).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct H32([u8; 32]);

impl fmt::Debug for H32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
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

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    /// Each network's CRL (RFC 5280 §5). Absent from files written before CRLs were cached
    /// and from stores that hold none, so those files keep their exact bytes and checksum, and
    /// older builds still read a store with no CRL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    crls: BTreeMap<NetworkFingerprint, CachedCrl>,
    device: BTreeMap<NetworkFingerprint, DeviceNetwork>,
    managed: BTreeMap<NetworkFingerprint, ManagedNetwork>,
    networks: BTreeMap<NetworkFingerprint, NetworkPin>,
    roots: BTreeMap<H32, StoredRoot>,
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

    /// Carries a pin over to a network identity that gained its Wi-Fi SSID (§4.8).
    ///
    /// A pin made while the SSID was not known (by a client from before SSID detection, or one
    /// that could not read it) is keyed by the interface and default router MAC alone. On the
    /// same Wi-Fi network the identity now includes the SSID, which by itself looks like a
    /// network never seen: a silent second trust on first use, where a changed root must raise
    /// the §4.8 alert. So when `network` has both an SSID and a router MAC, has no pin or managed
    /// record of its own, and a pin exists for the same interface, router MAC and local domain
    /// without an SSID, that pin (root, server name, domains, first use) and its cached CRL are
    /// copied to `network`, seen at `now`. Copied, not moved: the same router may also serve a
    /// wired network, whose pin stays. [`PinStore::decide`] then trusts the same root and calls
    /// another root a change. Returns the fingerprint the pin came from.
    pub fn adopt_pre_ssid_pin(
        &mut self,
        network: &NetworkId,
        now: u64,
    ) -> Option<NetworkFingerprint> {
        network.ssid()?;
        let mac = network.router_mac()?;
        let fp = network.fingerprint();
        if self.body.networks.contains_key(&fp) || self.body.managed.contains_key(&fp) {
            return None;
        }
        let mut b = NetworkId::builder().router_mac(mac);
        if let Some(i) = network.interface() {
            b = b.interface(i);
        }
        if let Some(d) = network.local_domain() {
            b = b.local_domain(d);
        }
        let old_fp = b.build().ok()?.fingerprint();
        let mut pin = self.body.networks.get(&old_fp)?.clone();
        pin.network = network.clone();
        pin.last_seen = pin.last_seen.max(now);
        self.body.networks.insert(fp, pin);
        if let Some(crl) = self.body.crls.get(&old_fp).cloned() {
            self.body.crls.insert(fp, crl);
        }
        Some(old_fp)
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
        // A reconfiguration may drop the previous anchors: a root nothing uses is not kept
        // (and `from_bytes` refuses a store holding one).
        self.collect_roots();
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

    fn collect_roots(&mut self) {
        self.collect_crls();
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
