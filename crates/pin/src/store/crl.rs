//! Each network's CRL (RFC 5280 §5), cached in the store so that revocation is enforced while
//! the network's server cannot be reached (the policy is in [`crate::Revocation`]'s module:
//! `crate::crl`).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{H32, PinStore};
use crate::crl::{Crl, CrlRefusal, read_trusted, verify_crl, verify_crl_signed};
use crate::network::NetworkFingerprint;

/// A network's cached CRL: the DER as fetched, which root signed it, where and when it was
/// fetched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedCrl {
    // Fields in alphabetical order: the serialised form has sorted keys (see `PinStore`).
    #[serde(with = "crate::serde_b64")]
    pub(super) der: Vec<u8>,
    pub(super) fetched_at: u64,
    /// On a managed network whose server is a subordinate CA: the certificates (DER,
    /// concatenated) from the CRL's signer up to, not including, the anchor `root`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_opt_hex"
    )]
    pub(super) issuers: Option<Vec<u8>>,
    pub(super) root: H32,
    pub(super) url: Option<String>,
}

impl CachedCrl {
    /// The CRL, DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// When it was last fetched (or confirmed unchanged), Unix seconds.
    #[must_use]
    pub fn fetched_at(&self) -> u64 {
        self.fetched_at
    }

    /// Where it was fetched from, if the caller said.
    #[must_use]
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Its facts (thisUpdate, nextUpdate, revoked serials). `None` only if the stored DER no
    /// longer parses, which [`PinStore::from_bytes`] refuses.
    #[must_use]
    pub fn crl(&self) -> Option<Crl> {
        read_trusted(&self.der).ok()
    }
}

impl PinStore {
    /// Caches `crl_der` as the CRL of `network` (fetched from `url` at `now`), after
    /// [`crate::verify_crl`] under the network's pinned root (or, on a managed network, one of its
    /// anchors). A CRL older than the cached one is refused; the same CRL again only refreshes
    /// the fetch time. Returns the CRL's facts.
    ///
    /// # Errors
    /// [`CrlRefusal::NoPinForNetwork`] without a pin, else why the CRL was not accepted.
    pub fn update_crl(
        &mut self,
        network: &NetworkFingerprint,
        crl_der: &[u8],
        url: Option<&str>,
        now: u64,
    ) -> Result<Crl, CrlRefusal> {
        let roots: Vec<H32> = match (
            self.body.networks.get(network),
            self.body.managed.get(network),
        ) {
            (_, Some(m)) => m.anchors.clone(),
            (Some(p), None) => alloc::vec![p.root],
            (None, None) => return Err(CrlRefusal::NoPinForNetwork),
        };
        let mut last = CrlRefusal::NoPinForNetwork;
        let mut found = None;
        for root in &roots {
            let Some(stored) = self.body.roots.get(root) else {
                continue;
            };
            match verify_crl(&stored.der, crl_der, now) {
                Ok(crl) => {
                    found = Some((*root, crl));
                    break;
                }
                // A refusal that says more than "another anchor's CRL" wins.
                Err(CrlRefusal::WrongIssuer) if last != CrlRefusal::NoPinForNetwork => {}
                Err(e) => last = e,
            }
        }
        let (root, crl) = found.ok_or(last)?;
        self.keep_crl(network, (root, None), crl, crl_der, url, now)
    }

    /// Caches `crl` (verified under the anchor `root`, through the `issuers` of a subordinate CA
    /// when one signed it) as the CRL of `network`, unless the cached CRL of the same signer
    /// under the same anchor is newer: the freshness rule of [`PinStore::update_crl`] and
    /// [`PinStore::update_crl_via`]. The same CRL again only refreshes the fetch time and URL.
    pub(super) fn keep_crl(
        &mut self,
        network: &NetworkFingerprint,
        (root, issuers): (H32, Option<Vec<u8>>),
        crl: Crl,
        crl_der: &[u8],
        url: Option<&str>,
        now: u64,
    ) -> Result<Crl, CrlRefusal> {
        if let Some(cached) = self.body.crls.get_mut(network)
            && cached.root == root
        {
            if cached.der == crl_der && cached.issuers == issuers {
                cached.fetched_at = cached.fetched_at.max(now);
                if let Some(u) = url {
                    cached.url = Some(u.into());
                }
                return Ok(crl);
            }
            if let Ok(old) = read_trusted(&cached.der)
                && old.issuer() == crl.issuer()
                && crl.older_than(&old)
            {
                return Err(CrlRefusal::OlderThanCached {
                    offered: crl.this_update(),
                    cached: old.this_update(),
                });
            }
        }
        let url = url
            .map(String::from)
            .or_else(|| self.body.crls.get(network).and_then(|c| c.url.clone()));
        self.body.crls.insert(
            *network,
            CachedCrl {
                der: crl_der.to_vec(),
                fetched_at: now,
                issuers,
                root,
                url,
            },
        );
        Ok(crl)
    }

    /// The cached CRL of a network.
    #[must_use]
    pub fn crl(&self, network: &NetworkFingerprint) -> Option<&CachedCrl> {
        self.body.crls.get(network)
    }

    /// Whether the caller should fetch the network's CRL now: none is cached, it is past its
    /// nextUpdate, or it was fetched more than `max_age` seconds ago.
    #[must_use]
    pub fn crl_needs_refresh(&self, network: &NetworkFingerprint, now: u64, max_age: u64) -> bool {
        match self.body.crls.get(network) {
            None => true,
            Some(c) => {
                now.saturating_sub(c.fetched_at) > max_age
                    || c.crl().is_none_or(|crl| now > crl.next_update())
            }
        }
    }

    /// Drops CRLs whose network is gone or no longer trusts the root that signed them (a root
    /// change, `forget`, a purge, a managed reconfiguration).
    pub(super) fn collect_crls(&mut self) {
        let body = &mut self.body;
        let networks = &body.networks;
        let managed = &body.managed;
        body.crls.retain(|fp, c| {
            networks.get(fp).is_some_and(|p| p.root == c.root)
                || managed.get(fp).is_some_and(|m| m.anchors.contains(&c.root))
        });
    }

    /// Load-time check of the cached CRLs: each belongs to a known network, under a root that
    /// network trusts, and its signature verifies.
    pub(super) fn validate_crls(body: &super::Body) -> Result<(), crate::Error> {
        for (fp, c) in &body.crls {
            let trusted = body.networks.get(fp).is_some_and(|p| p.root == c.root)
                || body
                    .managed
                    .get(fp)
                    .is_some_and(|m| m.anchors.contains(&c.root));
            let root = body.roots.get(&c.root).filter(|_| trusted).ok_or_else(|| {
                crate::Error::StoreInconsistent {
                    reason: alloc::format!(
                        "the CRL of network {fp} is not under a root that network trusts"
                    ),
                }
            })?;
            let signer =
                match &c.issuers {
                    // A subordinate CA's CRL: its signer must still chain to the anchor.
                    Some(issuers) => super::anchor::stored_signer(issuers, &root.der).ok_or_else(
                        || crate::Error::StoreInconsistent {
                            reason: alloc::format!(
                                "the CRL of network {fp}: its issuer does not chain to the anchor"
                            ),
                        },
                    )?,
                    None => root.der.clone(),
                };
            verify_crl_signed(&signer, &c.der).map_err(|e| crate::Error::StoreInconsistent {
                reason: alloc::format!("the CRL of network {fp}: {e}"),
            })?;
        }
        Ok(())
    }
}
