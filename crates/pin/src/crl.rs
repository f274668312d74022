//! Certificate revocation lists (RFC 5280 §5, §6.3) for scoped trust: revocation of device
//! certificates reaches the relying parties (draft §4.5 factory reset, §4.7 rename).
//!
//! A CRL is accepted only when it is signed by the network's pinned root (the same key that
//! vouches for the devices), names that root as its issuer, carries a nextUpdate and no critical
//! extension we do not process (RFC 5280 §5.2, §5.3: such a CRL MUST NOT be used — this refuses
//! delta CRLs and indirect CRLs, which lantrust's server never makes).
//!
//! ## The policy when a fresh CRL cannot be had
//!
//! - A revoked serial is refused, however old the CRL that lists it.
//! - Up to nextUpdate the CRL is current ([`Revocation::Current`]).
//! - From nextUpdate to nextUpdate + [`CRL_GRACE`] (7 days) the cached CRL is still used, and the
//!   answer says it is stale ([`Revocation::Stale`]) so that the caller warns and fetches again:
//!   a server that is down for a weekend does not make every device on the LAN untrusted.
//! - Later than that, every device of the network is refused ([`crate::ScopeRefusal::CrlTooOld`])
//!   until a newer CRL is fed in: an attacker who blocks the CRL can hide a revocation for at
//!   most nextUpdate + 7 days (lantrust's server signs a CRL valid for 7 days and re-signs it
//!   daily, so 8 to 14 days after the last fetch).
//! - With no CRL at all for the network, a certificate that names a CRL distribution point is
//!   refused ([`crate::ScopeRefusal::CrlMissing`]): its issuer publishes revocations, so not
//!   having them is not "nothing is revoked". A certificate without one is not checked
//!   ([`Revocation::NotChecked`]), as before CRLs existed.
//! - An older CRL never replaces a newer one (a lower cRLNumber or an earlier thisUpdate is
//!   refused): replaying yesterday's CRL cannot un-revoke a certificate.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use const_oid::db::rfc5280::{
    ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_CRL_DISTRIBUTION_POINTS, ID_CE_CRL_NUMBER,
    ID_CE_CRL_REASONS,
};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::CrlNumber;
use x509_cert::ext::pkix::CrlReason;

use crate::cert::{CertInfo, CertProblem};

/// How long after its nextUpdate a cached CRL is still used, with a warning (7 days). See the
/// module documentation for the whole policy.
pub const CRL_GRACE: u64 = 7 * 24 * 60 * 60;

/// How far in the future a CRL's thisUpdate may be (clock skew between the server and this
/// client, five minutes as for certificates' notBefore).
pub const CRL_CLOCK_SKEW: u64 = 5 * 60;

/// Why a CRL is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlRefusal {
    /// The CRL (or the pinned root) could not be parsed.
    Malformed {
        /// Byte offset of the problem in the DER.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// No root is pinned (or configured) for the network.
    NoPinForNetwork,
    /// The CRL's issuer is not the pinned root's subject.
    WrongIssuer,
    /// The signature algorithm is not one the draft allows for the root's key, or the
    /// signed and unsigned algorithm fields differ (RFC 5280 §5.1.1.2).
    UnsupportedSignatureAlgorithm(String),
    /// The signature does not verify with the pinned root's key.
    BadSignature,
    /// A critical CRL or entry extension this library does not process (its OID), e.g. a delta
    /// CRL indicator or an issuing distribution point (RFC 5280 §5.2, §5.3).
    UnsupportedCriticalExtension(String),
    /// A v1 CRL carrying extensions, or another version inconsistency.
    BadVersion,
    /// The CRL has no nextUpdate, or its nextUpdate is before its thisUpdate.
    BadNextUpdate,
    /// thisUpdate is in the future (beyond [`CRL_CLOCK_SKEW`]): check the clock.
    NotYetValid {
        /// thisUpdate, Unix seconds.
        this_update: u64,
    },
    /// The CRL is older than the one already cached (an earlier thisUpdate or a lower
    /// cRLNumber): a replay cannot un-revoke a certificate.
    OlderThanCached {
        /// thisUpdate of the CRL offered.
        offered: u64,
        /// thisUpdate of the CRL cached.
        cached: u64,
    },
}

impl fmt::Display for CrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { offset, reason } => {
                write!(f, "the CRL is malformed at byte {offset}: {reason}")
            }
            Self::NoPinForNetwork => f.write_str("no root is pinned for this network"),
            Self::WrongIssuer => f.write_str("the CRL was not issued by this network's root"),
            Self::UnsupportedSignatureAlgorithm(a) => {
                write!(f, "the CRL's signature algorithm {a} is not allowed")
            }
            Self::BadSignature => {
                f.write_str("the CRL's signature does not verify with this network's root")
            }
            Self::UnsupportedCriticalExtension(oid) => write!(
                f,
                "the CRL has a critical extension {oid} that is not supported (RFC 5280 §5.2)"
            ),
            Self::BadVersion => f.write_str("the CRL's version does not match its contents"),
            Self::BadNextUpdate => {
                f.write_str("the CRL has no nextUpdate, or it is before its thisUpdate")
            }
            Self::NotYetValid { this_update } => write!(
                f,
                "the CRL is dated {} (thisUpdate), in the future; check the clock",
                date(*this_update)
            ),
            Self::OlderThanCached { offered, cached } => write!(
                f,
                "the CRL offered ({}) is older than the one already cached ({}): not replacing it",
                date(*offered),
                date(*cached)
            ),
        }
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 UTC), as this crate's messages show dates.
#[must_use]
pub fn utc_date(unix: u64) -> String {
    date(unix)
}

pub(crate) fn date(unix: u64) -> String {
    der::DateTime::from_unix_duration(core::time::Duration::from_secs(unix))
        .map_or_else(|_| alloc::format!("{unix} (Unix time)"), |d| d.to_string())
}

/// One revoked certificate of a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedSerial {
    serial: Vec<u8>,
    revoked_at: u64,
    reason: Option<u8>,
}

impl RevokedSerial {
    /// The serial number (big-endian, as encoded).
    #[must_use]
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The serial number in lower-case hex.
    #[must_use]
    pub fn serial_hex(&self) -> String {
        crate::hex(&self.serial)
    }

    /// revocationDate, Unix seconds.
    #[must_use]
    pub fn revoked_at(&self) -> u64 {
        self.revoked_at
    }

    /// The reasonCode (RFC 5280 §5.3.1), when the entry has one.
    #[must_use]
    pub fn reason(&self) -> Option<u8> {
        self.reason
    }
}

/// A CRL whose signature verified under a root: the facts revocation checking uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crl {
    issuer: x509_cert::name::Name,
    this_update: u64,
    next_update: u64,
    number: Option<Vec<u8>>,
    revoked: Vec<RevokedSerial>,
}

impl Crl {
    /// The issuer name (whose key signed the CRL).
    pub(crate) fn issuer(&self) -> &x509_cert::name::Name {
        &self.issuer
    }

    /// thisUpdate, Unix seconds.
    #[must_use]
    pub fn this_update(&self) -> u64 {
        self.this_update
    }

    /// nextUpdate, Unix seconds.
    #[must_use]
    pub fn next_update(&self) -> u64 {
        self.next_update
    }

    /// The cRLNumber (big-endian bytes), if present.
    #[must_use]
    pub fn number(&self) -> Option<&[u8]> {
        self.number.as_deref()
    }

    /// Every revoked serial, in the CRL's order.
    #[must_use]
    pub fn revoked(&self) -> &[RevokedSerial] {
        &self.revoked
    }

    /// The entry for `serial` (big-endian bytes as encoded in the certificate), if revoked.
    #[must_use]
    pub fn revocation_of(&self, serial: &[u8]) -> Option<&RevokedSerial> {
        self.revoked.iter().find(|r| r.serial == serial)
    }

    /// Whether this CRL is older than `other` (an earlier thisUpdate, or a lower cRLNumber).
    pub(crate) fn older_than(&self, other: &Crl) -> bool {
        if self.this_update < other.this_update {
            return true;
        }
        match (&self.number, &other.number) {
            (Some(a), Some(b)) => uint_lt(a, b),
            _ => false,
        }
    }
}

/// `a < b` for unsigned big-endian integers of any length (leading zeros ignored).
fn uint_lt(a: &[u8], b: &[u8]) -> bool {
    let strip = |x: &[u8]| -> Vec<u8> { x.iter().copied().skip_while(|b| *b == 0).collect() };
    let (a, b) = (strip(a), strip(b));
    (a.len(), a) < (b.len(), b)
}

fn malformed(e: der::Error) -> CrlRefusal {
    let p = CertProblem::der(e);
    CrlRefusal::Malformed {
        offset: p.offset,
        reason: p.reason,
    }
}

/// Verifies `crl_der` (DER) as a CRL of the root `root_der` at `now` (Unix seconds): parsed with
/// x509-cert, issuer and signature checked against the root, nextUpdate present, no
/// unsupported critical extension, thisUpdate not in the future. A CRL past its nextUpdate is
/// still returned: what that means is decided when it is used (see the module documentation).
///
/// # Errors
/// The [`CrlRefusal`] that explains why the CRL cannot be used.
pub fn verify_crl(root_der: &[u8], crl_der: &[u8], now: u64) -> Result<Crl, CrlRefusal> {
    let crl = verify_crl_signed(root_der, crl_der)?;
    if crl.this_update > now.saturating_add(CRL_CLOCK_SKEW) {
        return Err(CrlRefusal::NotYetValid {
            this_update: crl.this_update,
        });
    }
    Ok(crl)
}

/// The time-independent part of [`verify_crl`] (also run when a stored CRL is loaded).
pub(crate) fn verify_crl_signed(root_der: &[u8], crl_der: &[u8]) -> Result<Crl, CrlRefusal> {
    let root = Certificate::from_der(root_der).map_err(malformed)?;
    let root_info = CertInfo::parse(root_der).map_err(|p| CrlRefusal::Malformed {
        offset: p.offset,
        reason: p.reason,
    })?;
    let list = CertificateList::from_der(crl_der).map_err(malformed)?;
    let crl = read(&list)?;
    if list.tbs_cert_list.issuer != root.tbs_certificate.subject {
        return Err(CrlRefusal::WrongIssuer);
    }
    // RFC 5280 §5.1.1.2: the signed algorithm must equal the outer one.
    if list.signature_algorithm != list.tbs_cert_list.signature {
        return Err(CrlRefusal::UnsupportedSignatureAlgorithm(
            list.signature_algorithm.oid.to_string(),
        ));
    }
    let alg = root_info
        .signature_alg_for(&list.signature_algorithm.oid)
        .ok_or_else(|| {
            CrlRefusal::UnsupportedSignatureAlgorithm(list.signature_algorithm.oid.to_string())
        })?;
    let tbs = list.tbs_cert_list.to_der().map_err(malformed)?;
    let signature = list.signature.as_bytes().ok_or(CrlRefusal::BadSignature)?;
    if !alg.verify(&root_info.public_key, &tbs, signature) {
        return Err(CrlRefusal::BadSignature);
    }
    Ok(crl)
}

/// Reads a CRL that was verified when it was stored (no signature check).
pub(crate) fn read_trusted(crl_der: &[u8]) -> Result<Crl, CrlRefusal> {
    read(&CertificateList::from_der(crl_der).map_err(malformed)?)
}

fn read(list: &CertificateList) -> Result<Crl, CrlRefusal> {
    let tbs = &list.tbs_cert_list;
    let has_extensions = tbs.crl_extensions.is_some()
        || tbs
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.crl_entry_extensions.is_some());
    match tbs.version {
        Version::V1 if has_extensions => return Err(CrlRefusal::BadVersion),
        Version::V1 | Version::V2 => {}
        Version::V3 => return Err(CrlRefusal::BadVersion),
    }
    let mut number = None;
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == ID_CE_CRL_NUMBER {
            let n = CrlNumber::from_der(ext.extn_value.as_bytes()).map_err(malformed)?;
            number = Some(n.0.as_bytes().to_vec());
        } else if ext.extn_id == ID_CE_AUTHORITY_KEY_IDENTIFIER {
            // Informative: the signature check decides which key signed.
        } else if ext.critical {
            return Err(CrlRefusal::UnsupportedCriticalExtension(
                ext.extn_id.to_string(),
            ));
        }
    }
    let this_update = tbs.this_update.to_unix_duration().as_secs();
    let next_update = tbs
        .next_update
        .map(|t| t.to_unix_duration().as_secs())
        .ok_or(CrlRefusal::BadNextUpdate)?;
    if next_update < this_update {
        return Err(CrlRefusal::BadNextUpdate);
    }
    let mut revoked = Vec::new();
    for entry in tbs.revoked_certificates.iter().flatten() {
        let mut reason = None;
        for ext in entry.crl_entry_extensions.iter().flatten() {
            if ext.extn_id == ID_CE_CRL_REASONS {
                let r = CrlReason::from_der(ext.extn_value.as_bytes()).map_err(malformed)?;
                reason = Some(r as u8);
            } else if ext.critical {
                // E.g. certificateIssuer (indirect CRLs), which we do not process.
                return Err(CrlRefusal::UnsupportedCriticalExtension(
                    ext.extn_id.to_string(),
                ));
            }
        }
        revoked.push(RevokedSerial {
            serial: entry.serial_number.as_bytes().to_vec(),
            revoked_at: entry.revocation_date.to_unix_duration().as_secs(),
            reason,
        });
    }
    Ok(Crl {
        issuer: tbs.issuer.clone(),
        this_update,
        next_update,
        number,
        revoked,
    })
}

/// What revocation checking concluded for a trusted chain (draft §4.5, §4.7; RFC 5280 §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// Checked against a CRL that is current at `now`: not revoked.
    Current {
        /// The CRL's nextUpdate, Unix seconds.
        next_update: u64,
    },
    /// Checked against a CRL past its nextUpdate but within [`CRL_GRACE`]: not revoked as far
    /// as that CRL knows. Warn, and fetch a fresh CRL.
    Stale {
        /// The CRL's nextUpdate, Unix seconds.
        next_update: u64,
        /// When devices of this network will be refused unless a newer CRL arrives.
        refused_from: u64,
    },
    /// No CRL for the network and the certificate names no CRL distribution point.
    NotChecked,
}

impl fmt::Display for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Current { next_update } => {
                write!(f, "not revoked (CRL current until {})", date(*next_update))
            }
            Self::Stale {
                next_update,
                refused_from,
            } => write!(
                f,
                "not revoked as far as the cached CRL knows, but it is STALE (nextUpdate was {}); \
                 fetch a fresh one — without it devices of this network are refused from {}",
                date(*next_update),
                date(*refused_from)
            ),
            Self::NotChecked => f.write_str(
                "revocation not checked (no CRL for this network, none named by the certificate)",
            ),
        }
    }
}

/// The `http://` and `https://` fullName URIs of a certificate's cRLDistributionPoints
/// (RFC 5280 §4.2.1.13), in order: where to fetch its CRL. Empty when it names none (or the
/// certificate does not parse). Take them only from a certificate that verified: a forged one
/// could point anywhere.
#[must_use]
pub fn crl_distribution_points(cert_der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::CrlDistributionPoints;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let Ok(cert) = Certificate::from_der(cert_der) else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id != ID_CE_CRL_DISTRIBUTION_POINTS {
            continue;
        }
        let Ok(points) = CrlDistributionPoints::from_der(ext.extn_value.as_bytes()) else {
            continue;
        };
        for dp in points.0 {
            if let Some(DistributionPointName::FullName(names)) = dp.distribution_point {
                for name in names {
                    if let GeneralName::UniformResourceIdentifier(uri) = name {
                        let u = uri.as_str();
                        if u.starts_with("http://") || u.starts_with("https://") {
                            urls.push(u.to_string());
                        }
                    }
                }
            }
        }
    }
    urls
}

/// Whether a certificate names a CRL distribution point (RFC 5280 §4.2.1.13).
pub(crate) fn names_crl_dp(cert_der: &[u8]) -> bool {
    Certificate::from_der(cert_der).is_ok_and(|c| {
        c.tbs_certificate
            .extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == ID_CE_CRL_DISTRIBUTION_POINTS)
    })
}

/// The revocation decision for a chain that already verified under the CRL's root
/// (see the module documentation for the policy).
pub(crate) fn check_chain(
    chain: &[&[u8]],
    crl: Option<&Crl>,
    now: u64,
) -> Result<Revocation, crate::ScopeRefusal> {
    use crate::ScopeRefusal;
    let Some(crl) = crl else {
        return match chain.first() {
            Some(leaf) if names_crl_dp(leaf) => Err(ScopeRefusal::CrlMissing),
            _ => Ok(Revocation::NotChecked),
        };
    };
    for der in chain {
        let Ok(cert) = Certificate::from_der(der) else {
            continue;
        };
        let tbs = &cert.tbs_certificate;
        if tbs.issuer != crl.issuer {
            continue;
        }
        if let Some(r) = crl.revocation_of(tbs.serial_number.as_bytes()) {
            return Err(ScopeRefusal::Revoked {
                serial: r.serial_hex(),
                revoked_at: r.revoked_at,
                reason: r.reason,
            });
        }
    }
    let refused_from = crl.next_update.saturating_add(CRL_GRACE);
    if now > refused_from {
        return Err(ScopeRefusal::CrlTooOld {
            next_update: crl.next_update,
            refused_from,
        });
    }
    if now > crl.next_update {
        return Ok(Revocation::Stale {
            next_update: crl.next_update,
            refused_from,
        });
    }
    Ok(Revocation::Current {
        next_update: crl.next_update,
    })
}
