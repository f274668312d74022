//! Trust decisions (§3.5, §4.8): what to do with the root a network offers — first use,
//! trusted, changed (the user must be told, §4.8), or refused — and scoped trust in device
//! certificates through the current network's root only (§3.5).

use alloc::string::String;
use alloc::vec::Vec;

use super::{H32, NetworkPin, PinStore, StoredRoot, normalize_domains};
use crate::Error;
use crate::crl::{Revocation, check_chain, read_trusted};
use crate::names::{Host, normalize_dns};
use crate::network::{NetworkFingerprint, NetworkId, NetworkKind};
use crate::root::{Refusal, RootInfo, check_root, root_facts};
use crate::scope::{RootState, ScopeRefusal, verify};

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
    /// The network's root differs from the pinned one, but a link certificate signed by the
    /// pinned root's key vouches for the new root (a planned rotation by the network's server;
    /// see [`crate::check_rotation_links`]): only [`PinStore::decide_with_links`] returns it.
    /// Tell the user quietly ("planned rotation, signed by the root you trusted") and re-pin
    /// with [`PinStore::accept_rotation`], which keeps the network's record.
    PlannedRotation {
        /// The pinned root, which signed the link.
        old: RootInfo,
        /// The new root, ready to pin.
        new: Candidate,
        /// How many link certificates lead from the old root to the new one (1 per rotation).
        links: usize,
    },
    /// Not usable; the reason says why.
    Refused(Refusal),
}

impl PinStore {
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
        let Some(server_name) = Host::parse(obs.server_name).map(Host::into_string) else {
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

    /// Scoped trust (§3.5): is `chain` (device certificate first) trusted for `reached_at` on
    /// the current network? Only through this network's pinned root (or managed anchors), only
    /// for `.local`, the network's domains and local addresses; see [`crate::verify_scoped`].
    /// (The root's self-signature was checked when it was pinned and again when the store was
    /// loaded, so only its validity at `now` is checked here.)
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
        self.verify_device_status(network, kind, chain, reached_at, now)
            .map(|_| ())
    }

    /// [`verify_device`](Self::verify_device), saying how revocation was checked: against the
    /// network's CRL when one is cached ([`PinStore::update_crl`]), with the policy of
    /// [`crate::Revocation`] — a revoked certificate is [`ScopeRefusal::Revoked`], a CRL past
    /// nextUpdate is used for [`crate::CRL_GRACE`] more ([`Revocation::Stale`]: warn and fetch)
    /// and then every device is refused ([`ScopeRefusal::CrlTooOld`]).
    ///
    /// # Errors
    /// The [`ScopeRefusal`] that explains the refusal.
    pub fn verify_device_status(
        &self,
        network: &NetworkId,
        kind: NetworkKind,
        chain: &[&[u8]],
        reached_at: &str,
        now: u64,
    ) -> Result<Revocation, ScopeRefusal> {
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
                    Ok(()) => return self.revocation_managed(&fp, anchor, chain, now),
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
        )?;
        self.revocation(&fp, &pin.root, chain, now)
    }

    /// Revocation of a chain that verified under `root` on network `fp`: the network's CRL
    /// counts only if that root signed it.
    fn revocation(
        &self,
        fp: &NetworkFingerprint,
        root: &H32,
        chain: &[&[u8]],
        now: u64,
    ) -> Result<Revocation, ScopeRefusal> {
        let crl = self
            .body
            .crls
            .get(fp)
            .filter(|c| c.root == *root)
            .and_then(|c| read_trusted(&c.der).ok());
        check_chain(chain, crl.as_ref(), now)
    }
}
