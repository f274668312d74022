//! Planned root rotation (§4.8): a network's server may replace its root with a new one and
//! publish a *link certificate* — the new root's subject and key, certified by the old root.
//! A change of root that such a link, signed by the key the client pinned, vouches for is a
//! planned rotation, not the attack §4.8 asks the user to be told about; any other change
//! still is.
//!
//! A link is accepted when it is signed by the pinned root's key (issuer name equal to the
//! pinned root's subject, signature verified with an algorithm the draft allows), is a CA
//! (basicConstraints cA), has a strong key (§3.4.1), is valid now, and neither it nor the new
//! root is allowed to vouch for more names than the pinned root was (RFC 5280 §4.2.1.10 name
//! constraints no wider). Links may be chained (root A → B → C after two rotations): each is
//! checked against the key before it, and the last must certify the new root's key.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use der::Decode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::NameConstraints;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;

use crate::cert::CertInfo;

/// Why a root change is not a planned rotation (the §4.8 alert stands).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkRefusal {
    /// The server offered no link certificate.
    NoLink,
    /// A link certificate could not be parsed.
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// No link is signed by the pinned root's key (a different issuer, or a signature that does
    /// not verify): the new root was not vouched for by the root this client trusted.
    NotSignedByPinnedRoot,
    /// The links signed by the pinned root do not lead to the offered root's key.
    DoesNotCertifyNewRoot,
    /// The link is signed with an algorithm the draft does not allow (its OID).
    UnsupportedSignatureAlgorithm(String),
    /// The link certificate is not a CA (basicConstraints cA).
    NotACa,
    /// The link certifies a key weaker than the draft allows (§3.4.1).
    WeakKey,
    /// The link is not valid at the time of the decision.
    OutsideValidity {
        /// notBefore, seconds since the Unix epoch.
        not_before: u64,
        /// notAfter, seconds since the Unix epoch.
        not_after: u64,
    },
    /// The link or the new root may vouch for names the pinned root could not (name
    /// constraints missing or wider, RFC 5280 §4.2.1.10).
    WiderConstraints {
        /// `"link"` or `"new root"`.
        which: &'static str,
    },
}

impl fmt::Display for LinkRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLink => f.write_str("the server offers no link certificate for the new root"),
            Self::Malformed { reason } => write!(f, "a link certificate is malformed: {reason}"),
            Self::NotSignedByPinnedRoot => {
                f.write_str("no link certificate is signed by the root this client trusted")
            }
            Self::DoesNotCertifyNewRoot => f.write_str(
                "the link certificates signed by the trusted root do not certify the offered root",
            ),
            Self::UnsupportedSignatureAlgorithm(oid) => {
                write!(
                    f,
                    "the link is signed with algorithm {oid}, which is not allowed"
                )
            }
            Self::NotACa => f.write_str("the link certificate is not a CA"),
            Self::WeakKey => f.write_str("the link certifies a key the draft does not allow"),
            Self::OutsideValidity {
                not_before,
                not_after,
            } => write!(
                f,
                "the link certificate is valid only from {} to {}",
                crate::utc_date(*not_before),
                crate::utc_date(*not_after)
            ),
            Self::WiderConstraints { which } => write!(
                f,
                "the {which} may vouch for names the trusted root could not (wider name constraints)"
            ),
        }
    }
}

/// One certificate read for the link check.
struct Parsed {
    info: CertInfo,
    cert: Certificate,
}

impl Parsed {
    fn new(der: &[u8]) -> Result<Self, LinkRefusal> {
        let malformed = |reason: String| LinkRefusal::Malformed { reason };
        let info = CertInfo::parse(der).map_err(|p| malformed(p.reason))?;
        let cert = Certificate::from_der(der).map_err(|e| malformed(alloc::format!("{e}")))?;
        Ok(Self { info, cert })
    }

    /// The nameConstraints extension: `Ok(None)` when absent.
    fn constraints(&self) -> Result<Option<NameConstraints>, LinkRefusal> {
        use const_oid::AssociatedOid;
        for ext in self.cert.tbs_certificate.extensions.iter().flatten() {
            if ext.extn_id == NameConstraints::OID {
                return NameConstraints::from_der(ext.extn_value.as_bytes())
                    .map(Some)
                    .map_err(|e| LinkRefusal::Malformed {
                        reason: alloc::format!("nameConstraints: {e}"),
                    });
            }
        }
        Ok(None)
    }

    /// Whether `self` signed `child` (issuer name and signature).
    fn signed(&self, child: &Parsed) -> Result<bool, LinkRefusal> {
        if child.cert.tbs_certificate.issuer != self.cert.tbs_certificate.subject {
            return Ok(false);
        }
        let alg = self
            .info
            .signature_alg_for(&child.info.signature_alg)
            .ok_or_else(|| {
                LinkRefusal::UnsupportedSignatureAlgorithm(alloc::format!(
                    "{}",
                    child.info.signature_alg
                ))
            })?;
        Ok(alg.verify(
            &self.info.public_key,
            &child.info.tbs_der,
            &child.info.signature,
        ))
    }
}

/// Checks that `links` (DER, any order) lead from the pinned root `pinned_der` to the root
/// `new_root_der` at `now` (Unix seconds), as the module documentation describes. Returns the
/// number of links used.
///
/// # Errors
/// The [`LinkRefusal`] that says why the change is not a planned rotation.
pub fn check_rotation_links(
    pinned_der: &[u8],
    new_root_der: &[u8],
    links: &[&[u8]],
    now: u64,
) -> Result<usize, LinkRefusal> {
    if links.is_empty() {
        return Err(LinkRefusal::NoLink);
    }
    let pinned = Parsed::new(pinned_der)?;
    let new_root = Parsed::new(new_root_der)?;
    let limit = pinned.constraints()?;
    if !no_wider(limit.as_ref(), new_root.constraints()?.as_ref()) {
        return Err(LinkRefusal::WiderConstraints { which: "new root" });
    }
    let links = links
        .iter()
        .map(|der| Parsed::new(der))
        .collect::<Result<Vec<_>, _>>()?;
    let mut used = alloc::vec![false; links.len()];
    let mut anchor = &pinned;
    let mut hops = 0;
    let mut first_refusal = None;
    loop {
        // The next link: one signed by the current anchor, not used yet.
        let mut next = None;
        for (i, link) in links.iter().enumerate() {
            if used.get(i).copied().unwrap_or(true) {
                continue;
            }
            match anchor.signed(link) {
                Ok(true) => match check_link(link, limit.as_ref(), now) {
                    Ok(()) => {
                        next = Some(i);
                        break;
                    }
                    Err(e) => {
                        first_refusal.get_or_insert(e);
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        let Some(i) = next else {
            return Err(first_refusal.unwrap_or(if hops == 0 {
                LinkRefusal::NotSignedByPinnedRoot
            } else {
                LinkRefusal::DoesNotCertifyNewRoot
            }));
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        hops += 1;
        let Some(link) = links.get(i) else {
            return Err(LinkRefusal::DoesNotCertifyNewRoot);
        };
        if link.info.spki_sha256 == new_root.info.spki_sha256 {
            return Ok(hops);
        }
        anchor = link;
    }
}

/// The checks on one link that its signer does not decide: CA, strong key, validity,
/// constraints no wider than the pinned root's.
fn check_link(link: &Parsed, limit: Option<&NameConstraints>, now: u64) -> Result<(), LinkRefusal> {
    if link.info.basic_ca != Some(true) {
        return Err(LinkRefusal::NotACa);
    }
    if !link.info.key.is_strong() {
        return Err(LinkRefusal::WeakKey);
    }
    if now < link.info.not_before || now > link.info.not_after {
        return Err(LinkRefusal::OutsideValidity {
            not_before: link.info.not_before,
            not_after: link.info.not_after,
        });
    }
    if !no_wider(limit, link.constraints()?.as_ref()) {
        return Err(LinkRefusal::WiderConstraints { which: "link" });
    }
    Ok(())
}

/// Whether the constraints `new` allow no name that `old` forbids (RFC 5280 §4.2.1.10):
/// - no `old` constraints: anything goes;
/// - every name type `old` permits some of, `new` must also restrict (a type with no permitted
///   subtree is unconstrained), each of `new`'s permitted subtrees inside one of `old`'s;
/// - every subtree `old` excludes, `new` excludes too.
fn no_wider(old: Option<&NameConstraints>, new: Option<&NameConstraints>) -> bool {
    let Some(old) = old else {
        return true;
    };
    let Some(new) = new else {
        return false;
    };
    if let Some(old_permitted) = &old.permitted_subtrees {
        let Some(new_permitted) = &new.permitted_subtrees else {
            return false;
        };
        let types_kept = old_permitted.iter().all(|o| {
            new_permitted
                .iter()
                .any(|n| core::mem::discriminant(&n.base) == core::mem::discriminant(&o.base))
        });
        let inside = new_permitted
            .iter()
            .all(|n| old_permitted.iter().any(|o| within(n, o)));
        if !types_kept || !inside {
            return false;
        }
    }
    match &old.excluded_subtrees {
        None => true,
        Some(old_excluded) => old_excluded
            .iter()
            .all(|o| new.excluded_subtrees.iter().flatten().any(|n| within(o, n))),
    }
}

/// Whether every name in subtree `inner` is also in subtree `outer` (same type; DNS by label
/// suffix, IP ranges by address and mask; other types only when equal).
fn within(inner: &GeneralSubtree, outer: &GeneralSubtree) -> bool {
    if inner.minimum != 0
        || outer.minimum != 0
        || inner.maximum.is_some()
        || outer.maximum.is_some()
    {
        return inner == outer;
    }
    match (&inner.base, &outer.base) {
        (GeneralName::DnsName(i), GeneralName::DnsName(o)) => {
            let (i, o) = (
                i.as_str().to_ascii_lowercase(),
                o.as_str().to_ascii_lowercase(),
            );
            o.is_empty() || i == o || i.ends_with(&alloc::format!(".{o}"))
        }
        (GeneralName::IpAddress(i), GeneralName::IpAddress(o)) => {
            let (i, o) = (i.as_bytes(), o.as_bytes());
            if i.len() != o.len() || !(i.len() == 8 || i.len() == 32) {
                return false;
            }
            let half = i.len() / 2;
            let (ia, im) = i.split_at(half);
            let (oa, om) = o.split_at(half);
            // inner's mask keeps every bit outer's does, and the network parts agree there.
            im.iter().zip(om).all(|(a, b)| a & b == *b)
                && ia.iter().zip(oa).zip(om).all(|((a, b), m)| a & m == b & m)
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Ia5String, OctetString};

    fn dns(s: &str) -> GeneralSubtree {
        GeneralSubtree {
            base: GeneralName::DnsName(Ia5String::new(s).unwrap()),
            minimum: 0,
            maximum: None,
        }
    }

    fn ip(addr_mask: &[u8]) -> GeneralSubtree {
        GeneralSubtree {
            base: GeneralName::IpAddress(OctetString::new(addr_mask).unwrap()),
            minimum: 0,
            maximum: None,
        }
    }

    fn nc(permitted: Vec<GeneralSubtree>) -> NameConstraints {
        NameConstraints {
            permitted_subtrees: Some(permitted),
            excluded_subtrees: None,
        }
    }

    #[test]
    fn narrower_or_equal_constraints_pass_wider_ones_do_not() {
        let old = nc(alloc::vec![
            dns("local"),
            dns("home.arpa"),
            ip(&[192, 168, 0, 0, 255, 255, 0, 0])
        ]);
        assert!(no_wider(Some(&old), Some(&old)));
        assert!(no_wider(None, Some(&old)));
        assert!(no_wider(None, None));
        // Narrower: a subdomain, a smaller range.
        let narrower = nc(alloc::vec![
            dns("local"),
            dns("lab.home.arpa"),
            ip(&[192, 168, 1, 0, 255, 255, 255, 0])
        ]);
        assert!(no_wider(Some(&old), Some(&narrower)));
        // Wider: no constraints at all, an extra domain, a larger range, a dropped IP type.
        assert!(!no_wider(Some(&old), None));
        let mut extra = old.clone();
        if let Some(p) = extra.permitted_subtrees.as_mut() {
            p.push(dns("example.com"));
        }
        assert!(!no_wider(Some(&old), Some(&extra)));
        let larger = nc(alloc::vec![dns("local"), ip(&[192, 0, 0, 0, 255, 0, 0, 0])]);
        assert!(!no_wider(Some(&old), Some(&larger)));
        let no_ip = nc(alloc::vec![dns("local")]);
        assert!(!no_wider(Some(&old), Some(&no_ip)));
        // An exclusion of the old one must stay.
        let excl = NameConstraints {
            permitted_subtrees: None,
            excluded_subtrees: Some(alloc::vec![dns("corp.example")]),
        };
        assert!(no_wider(Some(&excl), Some(&excl)));
        assert!(!no_wider(Some(&excl), Some(&nc(alloc::vec![dns("local")]))));
    }
}
