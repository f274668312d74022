//! Scoped trust (§3.5): a device certificate is trusted only through the current network's pinned
//! root, and only for `.local` names, the network's domains and local addresses.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use pki_types::{CertificateDer, ServerName, UnixTime};

use crate::cert::{CertInfo, KeyKind};
use crate::names::{Host, dns_in_scope, is_local_ip};
use crate::network::PublicKind;
use crate::root::{Refusal, check_root_cert, check_root_time, root_facts};

/// Why a device certificate chain is not trusted for the name it was reached at.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeRefusal {
    /// The current network is public (§4.1).
    PublicNetwork(PublicKind),
    /// No root is pinned (or configured) for the current network.
    NoPinForNetwork,
    /// The name or address is not a valid host.
    InvalidName(String),
    /// The DNS name is neither under `.local` nor under one of the network's domains (§3.5).
    NameOutOfScope(String),
    /// The address is not private, link-local or loopback (§4.2).
    AddressOutOfScope(String),
    /// The pinned root itself is no longer usable (expired, for instance).
    PinnedRootUnusable(Refusal),
    /// The chain is empty.
    EmptyChain,
    /// A certificate of the chain could not be parsed.
    MalformedCertificate {
        /// Position in the chain (0 = device certificate).
        index: usize,
        /// Byte offset of the problem in that certificate's DER.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The device's key is not P-384, P-521 or RSA ≥ 3072 (§3.4.3).
    WeakDeviceKey(KeyKind),
    /// The chain does not lead to this network's pinned root (another network's root, or none).
    NotIssuedByNetworkRoot,
    /// A signature in the chain does not verify, or uses an algorithm the draft does not allow.
    BadSignature,
    /// The device certificate has expired at `now`.
    CertificateExpired,
    /// The device certificate is not valid yet at `now`.
    CertificateNotYetValid,
    /// The certificate's subjectAltNames do not cover the name or address.
    NameNotInCertificate(String),
    /// The root's name constraints exclude the device's names.
    NameConstraintViolation,
    /// Any other path-validation failure (detail from rustls-webpki).
    InvalidChain(String),
    /// The network's CRL lists the certificate (draft §4.5, §4.7; RFC 5280 §5).
    Revoked {
        /// The revoked serial, lower-case hex.
        serial: String,
        /// The revocationDate, Unix seconds.
        revoked_at: u64,
        /// The reasonCode (RFC 5280 §5.3.1), when the CRL gives one.
        reason: Option<u8>,
    },
    /// The network's cached CRL is past its nextUpdate by more than [`crate::CRL_GRACE`]:
    /// revocations may be hidden, so no device of the network is trusted until a newer CRL is
    /// fetched (see [`crate::Revocation`] for the policy).
    CrlTooOld {
        /// The cached CRL's nextUpdate, Unix seconds.
        next_update: u64,
        /// When the grace period ended, Unix seconds.
        refused_from: u64,
    },
    /// The certificate names a CRL distribution point, but no CRL of the network is known:
    /// fetch it first.
    CrlMissing,
    /// The CRL given to [`verify_scoped_with_crl`] cannot be used.
    CrlUnusable(crate::CrlRefusal),
}

/// The RFC 5280 §5.3.1 name of a reasonCode.
fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown reason",
    }
}

impl fmt::Display for ScopeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublicNetwork(k) => write!(f, "this is {k}: local devices are not trusted here"),
            Self::NoPinForNetwork => f.write_str("no root is pinned for the current network"),
            Self::InvalidName(n) => write!(f, "{n:?} is not a valid host name or address"),
            Self::NameOutOfScope(n) => write!(
                f,
                "{n:?} is not a .local name nor under this network's domains; the local root \
                 only vouches for local names (§3.5)"
            ),
            Self::AddressOutOfScope(a) => {
                write!(
                    f,
                    "{a} is not a private, link-local or loopback address (§4.2)"
                )
            }
            Self::PinnedRootUnusable(r) => write!(f, "the pinned root is unusable: {r}"),
            Self::EmptyChain => f.write_str("the device sent no certificate"),
            Self::MalformedCertificate {
                index,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "certificate {index} of the chain is malformed at byte {offset}: {reason}"
                )
            }
            Self::WeakDeviceKey(k) => {
                write!(
                    f,
                    "the device key is {k}; only P-384, P-521 or RSA ≥ 3072 are accepted"
                )
            }
            Self::NotIssuedByNetworkRoot => {
                f.write_str("the certificate was not issued under this network's pinned root")
            }
            Self::BadSignature => f.write_str("a signature in the chain does not verify"),
            Self::CertificateExpired => f.write_str("the device certificate has expired"),
            Self::CertificateNotYetValid => {
                f.write_str("the device certificate is not valid yet; check the clock")
            }
            Self::NameNotInCertificate(n) => {
                write!(f, "the device certificate is not valid for {n:?}")
            }
            Self::NameConstraintViolation => {
                f.write_str("the device's names violate the root's name constraints")
            }
            Self::InvalidChain(d) => write!(f, "the certificate chain is invalid: {d}"),
            Self::Revoked {
                serial,
                revoked_at,
                reason,
            } => {
                write!(
                    f,
                    "the certificate with serial {serial} was REVOKED on {}",
                    crate::crl::date(*revoked_at)
                )?;
                match reason {
                    Some(r) => write!(f, " (reason: {}, RFC 5280 §5.3.1)", reason_name(*r)),
                    None => Ok(()),
                }
            }
            Self::CrlTooOld {
                next_update,
                refused_from,
            } => write!(
                f,
                "this network's CRL expired on {} and the {}-day grace period ended on {}: \
                 revocations may be hidden, fetch a fresh CRL from the network's server",
                crate::crl::date(*next_update),
                crate::CRL_GRACE / 86_400,
                crate::crl::date(*refused_from)
            ),
            Self::CrlUnusable(r) => write!(f, "the network's CRL cannot be used: {r}"),
            Self::CrlMissing => f.write_str(
                "the certificate names a CRL distribution point but this network's CRL was \
                 never fetched: fetch it (lantrust-client join) before trusting devices here",
            ),
        }
    }
}

/// Decides whether `chain` (DER, device certificate first, then any intermediates) is trusted at
/// `now` for `reached_at` (a host name or IP address) through `root_der`, the root pinned for the
/// current network whose local domains are `domains` (normalised, as [`crate::NetworkPin::domains`]
/// returns them).
///
/// [`crate::PinStore::verify_device`] runs the same checks once it has found the network's
/// pin; it is public for callers that keep pins elsewhere.
///
/// # Errors
/// The first [`ScopeRefusal`] found: scope first (a public name is refused before any
/// signature is checked), then the pinned root, then the chain.
pub fn verify_scoped(
    root_der: &[u8],
    domains: &[String],
    chain: &[&[u8]],
    reached_at: &str,
    now: u64,
) -> Result<(), ScopeRefusal> {
    verify(
        root_der,
        domains,
        chain,
        reached_at,
        now,
        RootState::Unchecked,
    )
}

/// [`verify_scoped`], then revocation (draft §4.5, §4.7) against `crl_der`, a DER CRL of
/// the same root ([`crate::verify_crl`]), with the policy of [`crate::Revocation`]: a revoked
/// certificate is [`ScopeRefusal::Revoked`], a CRL more than [`crate::CRL_GRACE`] past its
/// nextUpdate is [`ScopeRefusal::CrlTooOld`]. `None` means no CRL is known: a certificate that
/// names a CRL distribution point is then [`ScopeRefusal::CrlMissing`].
///
/// # Errors
/// The first [`ScopeRefusal`] found; an unusable CRL is [`ScopeRefusal::CrlUnusable`].
pub fn verify_scoped_with_crl(
    root_der: &[u8],
    domains: &[String],
    chain: &[&[u8]],
    reached_at: &str,
    crl_der: Option<&[u8]>,
    now: u64,
) -> Result<crate::Revocation, ScopeRefusal> {
    verify_scoped(root_der, domains, chain, reached_at, now)?;
    let crl = crl_der
        .map(|der| crate::verify_crl(root_der, der, now))
        .transpose()
        .map_err(ScopeRefusal::CrlUnusable)?;
    crate::crl::check_chain(chain, crl.as_ref(), now)
}

/// How much of the root is already known good.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootState {
    /// Run every root check.
    Unchecked,
    /// Its self-signature, CA flag and key were checked when it was pinned or loaded; only its
    /// validity at `now` remains.
    SignatureChecked,
}

pub(crate) fn verify(
    root_der: &[u8],
    domains: &[String],
    chain: &[&[u8]],
    reached_at: &str,
    now: u64,
    root_state: RootState,
) -> Result<(), ScopeRefusal> {
    let host =
        Host::parse(reached_at).ok_or_else(|| ScopeRefusal::InvalidName(reached_at.into()))?;
    let name_text = match &host {
        Host::Dns(name) => {
            if !dns_in_scope(name, domains) {
                return Err(ScopeRefusal::NameOutOfScope(name.clone()));
            }
            name.clone()
        }
        Host::Ip(ip) => {
            if !is_local_ip(*ip) {
                return Err(ScopeRefusal::AddressOutOfScope(ip.to_string()));
            }
            ip.to_string()
        }
    };
    match root_state {
        RootState::Unchecked => {
            check_root_cert(root_der, now).map_err(ScopeRefusal::PinnedRootUnusable)?;
        }
        RootState::SignatureChecked => {
            let info = root_facts(root_der).ok_or(ScopeRefusal::NoPinForNetwork)?;
            check_root_time(&info, now).map_err(ScopeRefusal::PinnedRootUnusable)?;
        }
    }
    let (leaf, intermediates) = chain.split_first().ok_or(ScopeRefusal::EmptyChain)?;
    let leaf_info = CertInfo::parse(leaf).map_err(|p| ScopeRefusal::MalformedCertificate {
        index: 0,
        offset: p.offset,
        reason: p.reason,
    })?;
    if !leaf_info.key.is_strong() {
        return Err(ScopeRefusal::WeakDeviceKey(leaf_info.key));
    }

    let root = CertificateDer::from(root_der);
    let anchor = webpki::anchor_from_trusted_cert(&root).map_err(|e| {
        ScopeRefusal::PinnedRootUnusable(Refusal::MalformedRoot {
            offset: 0,
            reason: alloc::format!("{e:?}"),
        })
    })?;
    let leaf_der = CertificateDer::from(*leaf);
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| {
        ScopeRefusal::MalformedCertificate {
            index: 0,
            offset: 0,
            reason: alloc::format!("{e:?}"),
        }
    })?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(*c))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now));
    let profile = |path: &webpki::VerifiedPath<'_>| name_constraints_profile(path, root_der);
    end_entity
        .verify_for_usage(
            crate::sig::ALL,
            &[anchor],
            &intermediates,
            time,
            webpki::KeyUsage::server_auth(),
            None,
            Some(&profile),
        )
        .map_err(map_webpki)?;
    let server_name = ServerName::try_from(name_text.as_str())
        .map_err(|_| ScopeRefusal::InvalidName(name_text.clone()))?;
    end_entity
        .verify_is_valid_for_subject_name(&server_name)
        .map_err(|_| ScopeRefusal::NameNotInCertificate(name_text.clone()))?;
    Ok(())
}

/// The RFC 5280 §4.2.1.10 rules on the NameConstraints extension that rustls-webpki does not
/// enforce, checked on every candidate path it builds (root, intermediates, device certificate), so
/// that a path breaking them is not trusted (found by x509-limbo's `rfc5280::nc::*` and
/// `webpki::nc::*` cases, `tests/limbo.rs`):
/// - the extension "MUST be used only in a CA certificate": none in the device certificate;
/// - criticality is NOT required: RFC 5280 says "Conforming CAs MUST mark this extension as
///   critical", but the CA/B Forum Baseline Requirements (§7.1.2.10.8) allow a non-critical one
///   for clients that cannot parse it, and lantrust's own root is non-critical by default because
///   Mbed TLS cannot load a CA whose name constraints are critical (`lantrust-ca`'s
///   `NameConstraints`, the root compatibility matrix). The constraints are enforced either way;
///   only the flag is not held against the root (x509-limbo's `webpki::nc::*-noncritical` case);
/// - "either the permittedSubtrees field or the excludedSubtrees MUST be present", and each is
///   `SIZE (1..MAX)`: no empty NameConstraints, no empty subtree list;
/// - a dNSName constraint is a DNS name: no leading period (that form is for URIs only).
///
/// A violation reads as a malformed name constraint.
fn name_constraints_profile(
    path: &webpki::VerifiedPath<'_>,
    root_der: &[u8],
) -> Result<(), webpki::Error> {
    use der::Decode;
    use x509_cert::ext::pkix::NameConstraints;
    use x509_cert::ext::pkix::name::GeneralName;

    let bad = webpki::Error::MalformedNameConstraint;
    let leaf = path.end_entity().der();
    let intermediates = path.intermediate_certificates().map(|c| c.der());
    let certs = core::iter::once((true, leaf))
        .chain(intermediates.map(|d| (false, d)))
        .chain(core::iter::once((false, CertificateDer::from(root_der))));
    for (is_leaf, der) in certs {
        let cert = x509_cert::Certificate::from_der(der.as_ref()).map_err(|_| bad.clone())?;
        let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
        for ext in extensions
            .iter()
            .filter(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_NAME_CONSTRAINTS)
        {
            if is_leaf {
                return Err(bad);
            }
            let nc =
                NameConstraints::from_der(ext.extn_value.as_bytes()).map_err(|_| bad.clone())?;
            let lists = [&nc.permitted_subtrees, &nc.excluded_subtrees];
            if lists.iter().all(|l| l.is_none())
                || lists.iter().any(|l| l.as_ref().is_some_and(Vec::is_empty))
            {
                return Err(bad);
            }
            let leading_period =
                lists.iter().filter_map(|l| l.as_ref()).flatten().any(
                    |t| matches!(&t.base, GeneralName::DnsName(n) if n.as_str().starts_with('.')),
                );
            if leading_period {
                return Err(bad);
            }
        }
    }
    Ok(())
}

fn map_webpki(e: webpki::Error) -> ScopeRefusal {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => ScopeRefusal::CertificateExpired,
        E::CertNotValidYet { .. } => ScopeRefusal::CertificateNotYetValid,
        E::UnknownIssuer => ScopeRefusal::NotIssuedByNetworkRoot,
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => ScopeRefusal::BadSignature,
        E::NameConstraintViolation => ScopeRefusal::NameConstraintViolation,
        other => ScopeRefusal::InvalidChain(alloc::format!("{other:?}")),
    }
}
