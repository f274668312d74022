//! Managed networks whose server is a subordinate CA under a configured anchor (issue 19; §3.5
//! and §3.6 "unless otherwise configured, for example in a managed enterprise network"): the
//! server's own certificate chain, not a self-signed network root, is what is checked, and
//! only under the anchors configured with [`PinStore::set_managed`] — never TOFU.
//!
//! TOFU networks are unchanged: [`PinStore::decide`] still accepts only a self-signed root
//! carrying the discovered server name. Scoped trust still applies under an anchor: only
//! `.local` names, the network's domains and private addresses are ever trusted.

use alloc::vec::Vec;

use der::Decode;
use x509_cert::Certificate;

use super::{H32, PinStore};
use crate::cert::CertInfo;
use crate::crl::{Crl, CrlRefusal, verify_crl};
use crate::network::{NetworkId, NetworkKind};
use crate::root::Refusal;
use crate::scope::{RootState, ScopeRefusal, verify};
use crate::store::Decision;

impl PinStore {
    /// Decides whether the ACME server of a managed network is trusted (§3.5, §4.8): the chain
    /// it `presented` in the TLS handshake (its certificate first, then the subordinate CA and
    /// any intermediates) must verify at `now`, for `server_name` (as discovery gave it), under
    /// one of the network's configured anchors, with the scoped-trust rules (the name must be a
    /// `.local` name, under the network's domains, or a private address).
    ///
    /// Returns [`Decision::Trusted`] or [`Decision::Refused`]: [`Refusal::NoManagedAnchors`]
    /// when the network is not configured as managed, [`Refusal::NotUnderManagedAnchor`] when
    /// the chain does not lead to an anchor (the §4.8 alert: the server is not the one the
    /// network's administrator configured). Pure: the store is not changed.
    pub fn decide_managed(
        &self,
        network: &NetworkId,
        kind: NetworkKind,
        server_name: &str,
        presented: &[&[u8]],
        now: u64,
    ) -> Decision {
        if let NetworkKind::Public(k) = kind {
            return Decision::Refused(Refusal::PublicNetwork(k));
        }
        let fp = network.fingerprint();
        let Some(managed) = self.body.managed.get(&fp) else {
            return Decision::Refused(Refusal::NoManagedAnchors);
        };
        let mut why = ScopeRefusal::NoPinForNetwork;
        for anchor in &managed.anchors {
            let Some(root) = self.body.roots.get(anchor) else {
                continue;
            };
            match verify(
                &root.der,
                &managed.domains,
                presented,
                server_name,
                now,
                RootState::SignatureChecked,
            ) {
                Ok(()) => return Decision::Trusted(fp),
                Err(ScopeRefusal::NotIssuedByNetworkRoot)
                    if why != ScopeRefusal::NoPinForNetwork => {}
                Err(e) => why = e,
            }
        }
        Decision::Refused(Refusal::NotUnderManagedAnchor(alloc::format!("{why}")))
    }

    /// [`PinStore::update_crl`] for a managed network whose CRLs are signed by a subordinate
    /// CA: `issuers` are certificates that may have signed the CRL (the chain a device or the
    /// server presented, after its own certificate). The CRL is accepted when it verifies under
    /// one of them that itself chains, by signatures and names, to one of the network's
    /// anchors. Falls back to [`PinStore::update_crl`] first (a CRL the anchor signed itself,
    /// and every non-managed network).
    ///
    /// # Errors
    /// Why the CRL was not accepted.
    pub fn update_crl_via(
        &mut self,
        network: &crate::NetworkFingerprint,
        crl_der: &[u8],
        issuers: &[&[u8]],
        url: Option<&str>,
        now: u64,
    ) -> Result<Crl, CrlRefusal> {
        let direct = self.update_crl(network, crl_der, url, now);
        let Some(managed) = self.body.managed.get(network) else {
            return direct;
        };
        if direct.is_ok() || issuers.is_empty() {
            return direct;
        }
        let mut last = direct.err().unwrap_or(CrlRefusal::WrongIssuer);
        let mut found = None;
        for issuer in issuers {
            let Some((anchor, path)) = managed.anchors.iter().find_map(|a| {
                let root = self.body.roots.get(a)?;
                Some((*a, chain_to(issuer, issuers, &root.der, Some(now))?))
            }) else {
                continue;
            };
            match verify_crl(issuer, crl_der, now) {
                Ok(crl) => {
                    found = Some((anchor, path, crl));
                    break;
                }
                Err(e) => last = e,
            }
        }
        let (anchor, path, crl) = found.ok_or(last)?;
        self.keep_crl(
            network,
            (anchor, Some(path.concat())),
            crl,
            crl_der,
            url,
            now,
        )
    }
}

/// The path from `cert` to `anchor_der` through certificates of `pool` (DER, `cert` first, the
/// anchor not included), if there is one: each link's issuer name is the next one's subject and
/// its signature verifies with the next one's key, each is a CA, and with `now` each is valid
/// then. At most `pool.len() + 1` links.
fn chain_to(
    cert: &[u8],
    pool: &[&[u8]],
    anchor_der: &[u8],
    now: Option<u64>,
) -> Option<Vec<Vec<u8>>> {
    let anchor = Certificate::from_der(anchor_der).ok()?;
    let mut path = Vec::new();
    let mut current: Vec<u8> = cert.to_vec();
    for _ in 0..=pool.len() {
        let child = Certificate::from_der(&current).ok()?;
        let info = CertInfo::parse(&current).ok()?;
        if info.basic_ca != Some(true)
            || now.is_some_and(|t| t < info.not_before || t > info.not_after)
        {
            return None;
        }
        path.push(current.clone());
        let issuer = &child.tbs_certificate.issuer;
        if *issuer == anchor.tbs_certificate.subject && signed_by(&info, anchor_der) {
            return Some(path);
        }
        let next = pool.iter().find(|p| {
            Certificate::from_der(p).is_ok_and(|c| {
                c.tbs_certificate.subject == *issuer
                    && c.tbs_certificate.issuer != c.tbs_certificate.subject
            }) && signed_by(&info, p)
        })?;
        current = next.to_vec();
    }
    None
}

/// Load-time check of a stored subordinate CRL signer: `issuers` (concatenated DER, signer
/// first) chains to `anchor_der` by signatures and names. Returns the signer's DER.
pub(super) fn stored_signer(issuers: &[u8], anchor_der: &[u8]) -> Option<Vec<u8>> {
    use der::{Encode, Reader};
    let mut reader = der::SliceReader::new(issuers).ok()?;
    let mut certs = Vec::new();
    while !reader.is_finished() {
        let c: Certificate = reader.decode().ok()?;
        certs.push(c.to_der().ok()?);
    }
    let signer = certs.first()?.clone();
    let pool: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    chain_to(&signer, &pool, anchor_der, None)?;
    Some(signer)
}

fn signed_by(child: &CertInfo, parent_der: &[u8]) -> bool {
    let Ok(parent) = CertInfo::parse(parent_der) else {
        return false;
    };
    parent
        .signature_alg_for(&child.signature_alg)
        .is_some_and(|alg| alg.verify(&parent.public_key, &child.tbs_der, &child.signature))
}

impl PinStore {
    /// Revocation on a managed network: as for a pinned root, but the cached CRL counts only
    /// for a leaf its issuer issued (under one anchor, several subordinate CAs may sign CRLs;
    /// one of them must not stand in for another's).
    pub(super) fn revocation_managed(
        &self,
        fp: &crate::NetworkFingerprint,
        anchor: &H32,
        chain: &[&[u8]],
        now: u64,
    ) -> Result<crate::Revocation, ScopeRefusal> {
        let leaf_issuer = chain
            .first()
            .and_then(|l| Certificate::from_der(l).ok())
            .map(|c| c.tbs_certificate.issuer);
        let crl = self
            .body
            .crls
            .get(fp)
            .filter(|c| c.root == *anchor)
            .and_then(|c| crate::crl::read_trusted(&c.der).ok())
            .filter(|c| leaf_issuer.as_ref() == Some(c.issuer()));
        crate::crl::check_chain(chain, crl.as_ref(), now)
    }
}
