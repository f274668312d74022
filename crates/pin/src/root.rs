//! Root certificate checks done before a root may be pinned (§3.4.1, §3.5).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use crate::cert::{CertInfo, KeyKind};
use crate::names::{Host, canonical_ip, normalize_dns};
use crate::network::PublicKind;

/// A root certificate that passed every check, with the facts a UI shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootInfo {
    pub(crate) der: Vec<u8>,
    pub(crate) spki_sha256: [u8; 32],
    pub(crate) subject: String,
    pub(crate) key: KeyKind,
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ip_addrs: Vec<IpAddr>,
}

impl RootInfo {
    /// The certificate, DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: what is pinned.
    #[must_use]
    pub fn spki_sha256(&self) -> &[u8; 32] {
        &self.spki_sha256
    }

    /// The subject, RFC 4514 string.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The key type.
    #[must_use]
    pub fn key(&self) -> &KeyKind {
        &self.key
    }

    /// notBefore, seconds since the Unix epoch.
    #[must_use]
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// notAfter, seconds since the Unix epoch.
    #[must_use]
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// DNS subjectAltNames.
    #[must_use]
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// IP subjectAltNames.
    #[must_use]
    pub fn ip_addrs(&self) -> &[IpAddr] {
        &self.ip_addrs
    }
}

/// Why a root (or a network) may not be pinned or trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The network is public: its ACME server and root must not be used (§4.1, §4.9).
    PublicNetwork(PublicKind),
    /// The root certificate could not be parsed.
    MalformedRoot {
        /// Byte offset of the problem in the DER.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The certificate is not a CA (no basicConstraints with `cA` true).
    NotACa,
    /// The root's key is not P-384, P-521 or RSA ≥ 3072 (§3.4.1).
    WeakKey(KeyKind),
    /// Issuer and subject differ: not a self-signed root.
    NotSelfSigned,
    /// The self-signature uses an algorithm the draft does not allow (its OID).
    UnsupportedSignatureAlgorithm(String),
    /// The self-signature does not verify with the root's own key.
    BadSelfSignature,
    /// The root is not valid yet at `now`.
    RootNotYetValid {
        /// notBefore, seconds since the Unix epoch.
        not_before: u64,
    },
    /// The root has expired at `now`.
    RootExpired {
        /// notAfter, seconds since the Unix epoch.
        not_after: u64,
    },
    /// The name or address discovery gave is not a syntactically valid host.
    InvalidServerName(String),
    /// The root's subjectAltNames do not include the name or address discovery gave (§3.5).
    ServerNameNotInRoot(String),
    /// A domain the network announced is not a valid DNS name.
    InvalidDomain(String),
    /// A managed network has no pre-configured anchors.
    NoManagedAnchors,
    /// On a managed network the root is not one of the pre-configured anchors.
    NotAManagedAnchor,
    /// On a managed network the server's certificate chain does not lead to a configured
    /// anchor (or is not valid for its name there); the text is the chain's refusal.
    NotUnderManagedAnchor(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublicNetwork(k) => {
                write!(
                    f,
                    "this is {k}: a local root is never used on a public network (§4.1)"
                )
            }
            Self::MalformedRoot { offset, reason } => {
                write!(
                    f,
                    "the root certificate is malformed at byte {offset}: {reason}"
                )
            }
            Self::NotACa => f.write_str("the root certificate is not a CA (basicConstraints cA)"),
            Self::WeakKey(k) => {
                write!(
                    f,
                    "the root key is {k}; only P-384, P-521 or RSA ≥ 3072 are accepted"
                )
            }
            Self::NotSelfSigned => f.write_str("the root certificate is not self-signed"),
            Self::UnsupportedSignatureAlgorithm(oid) => {
                write!(
                    f,
                    "the root is signed with algorithm {oid}, which is not allowed"
                )
            }
            Self::BadSelfSignature => f.write_str("the root's self-signature does not verify"),
            Self::RootNotYetValid { not_before } => {
                write!(
                    f,
                    "the root is not valid before {not_before} (Unix time); check the clock"
                )
            }
            Self::RootExpired { not_after } => {
                write!(f, "the root expired at {not_after} (Unix time)")
            }
            Self::InvalidServerName(n) => write!(f, "{n:?} is not a valid host name or address"),
            Self::ServerNameNotInRoot(n) => write!(
                f,
                "the root's subjectAltNames do not include {n:?}, the server discovery gave (§3.5)"
            ),
            Self::InvalidDomain(d) => {
                write!(f, "the announced domain {d:?} is not a valid DNS name")
            }
            Self::NoManagedAnchors => {
                f.write_str("this managed network has no configured trust anchors")
            }
            Self::NotAManagedAnchor => {
                f.write_str("the root is not one of this managed network's configured anchors")
            }
            Self::NotUnderManagedAnchor(why) => write!(
                f,
                "the server's certificate chain does not lead to this managed network's \
                 configured anchor: {why}"
            ),
        }
    }
}

/// Checks a root certificate as §3.4.1 and §3.5 require, for use at `now` with a server
/// discovered as `server_name`.
pub(crate) fn check_root(der: &[u8], server_name: &str, now: u64) -> Result<RootInfo, Refusal> {
    let info = check_root_cert(der, now)?;
    let host =
        Host::parse(server_name).ok_or_else(|| Refusal::InvalidServerName(server_name.into()))?;
    let matches = match &host {
        Host::Dns(name) => info
            .dns_names
            .iter()
            .any(|san| normalize_dns(san).as_deref() == Some(name.as_str())),
        Host::Ip(ip) => info.ip_addrs.iter().any(|san| canonical_ip(*san) == *ip),
    };
    if !matches {
        return Err(Refusal::ServerNameNotInRoot(server_name.into()));
    }
    Ok(info)
}

/// The name-independent root checks: CA, strong key, self-signed, valid at `now`.
pub(crate) fn check_root_cert(der: &[u8], now: u64) -> Result<RootInfo, Refusal> {
    let info = check_root_signed(der)?;
    check_root_time(&info, now)?;
    Ok(info)
}

/// Validity at `now`.
pub(crate) fn check_root_time(info: &RootInfo, now: u64) -> Result<(), Refusal> {
    if now < info.not_before {
        return Err(Refusal::RootNotYetValid {
            not_before: info.not_before,
        });
    }
    if now > info.not_after {
        return Err(Refusal::RootExpired {
            not_after: info.not_after,
        });
    }
    Ok(())
}

/// The time-independent root checks: CA, strong key, self-signed with a valid signature.
pub(crate) fn check_root_signed(der: &[u8]) -> Result<RootInfo, Refusal> {
    let cert = CertInfo::parse(der).map_err(|p| Refusal::MalformedRoot {
        offset: p.offset,
        reason: p.reason,
    })?;
    if cert.basic_ca != Some(true) {
        return Err(Refusal::NotACa);
    }
    if !cert.key.is_strong() {
        return Err(Refusal::WeakKey(cert.key));
    }
    if !cert.issuer_is_subject {
        return Err(Refusal::NotSelfSigned);
    }
    let alg = cert
        .self_signature_alg()
        .ok_or_else(|| Refusal::UnsupportedSignatureAlgorithm(cert.signature_alg.to_string()))?;
    if !alg.verify(&cert.public_key, &cert.tbs_der, &cert.signature) {
        return Err(Refusal::BadSelfSignature);
    }
    Ok(facts(der, cert))
}

fn facts(der: &[u8], cert: CertInfo) -> RootInfo {
    RootInfo {
        der: der.to_vec(),
        spki_sha256: cert.spki_sha256,
        subject: cert.subject,
        key: cert.key,
        not_before: cert.not_before,
        not_after: cert.not_after,
        dns_names: cert.dns_names,
        ip_addrs: cert.ip_addrs,
    }
}

/// Reads the facts of an already pinned root without judging it (it may have expired since).
pub(crate) fn root_facts(der: &[u8]) -> Option<RootInfo> {
    CertInfo::parse(der).ok().map(|cert| facts(der, cert))
}
