//! The few facts about an X.509 certificate that pinning needs, read with x509-cert.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::{
    ID_CE_BASIC_CONSTRAINTS, ID_CE_SUBJECT_ALT_NAME, ID_EC_PUBLIC_KEY, RSA_ENCRYPTION,
    SECP_256_R_1, SECP_384_R_1, SECP_521_R_1,
};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};

use crate::sig::{Alg, Hash, KeyAlg, MIN_RSA_BITS};

/// The public key of a certificate, as far as the draft's strength rules care (§3.4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA on NIST P-256: too weak for the draft.
    P256,
    /// ECDSA on NIST P-384: accepted.
    P384,
    /// ECDSA on NIST P-521: accepted.
    P521,
    /// ECDSA on another named curve (its OID).
    OtherCurve(String),
    /// RSA with a modulus of `bits` bits: accepted from 3072 bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// Any other public-key algorithm (its OID).
    Other(String),
}

impl KeyKind {
    /// Whether the draft accepts this key: P-384, P-521 or RSA of at least 3072 bits.
    #[must_use]
    pub fn is_strong(&self) -> bool {
        match self {
            Self::P384 | Self::P521 => true,
            Self::Rsa { bits } => *bits >= MIN_RSA_BITS,
            _ => false,
        }
    }

    fn alg(&self) -> Option<KeyAlg> {
        match self {
            Self::P384 => Some(KeyAlg::P384),
            Self::P521 => Some(KeyAlg::P521),
            Self::Rsa { .. } => Some(KeyAlg::Rsa),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::P256 => f.write_str("ECDSA P-256"),
            Self::P384 => f.write_str("ECDSA P-384"),
            Self::P521 => f.write_str("ECDSA P-521"),
            Self::OtherCurve(oid) => write!(f, "ECDSA on curve {oid}"),
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::Other(oid) => write!(f, "public-key algorithm {oid}"),
        }
    }
}

/// Why a certificate could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertProblem {
    pub(crate) offset: usize,
    pub(crate) reason: String,
}

impl CertProblem {
    pub(crate) fn der(e: der::Error) -> Self {
        let offset = e
            .position()
            .map_or(0, |p| usize::try_from(u32::from(p)).unwrap_or(0));
        Self {
            offset,
            reason: e.to_string(),
        }
    }
}

/// What we read from one certificate.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    pub(crate) key: KeyKind,
    pub(crate) spki_sha256: [u8; 32],
    /// The `subjectPublicKey` bits (SEC1 point or PKCS#1 RSAPublicKey).
    pub(crate) public_key: Vec<u8>,
    pub(crate) tbs_der: Vec<u8>,
    pub(crate) signature_alg: ObjectIdentifier,
    pub(crate) signature: Vec<u8>,
    pub(crate) issuer_is_subject: bool,
    pub(crate) subject: String,
    pub(crate) serial: Vec<u8>,
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    /// `Some(ca)` when a basicConstraints extension is present.
    pub(crate) basic_ca: Option<bool>,
    pub(crate) dns_names: Vec<String>,
    pub(crate) ip_addrs: Vec<IpAddr>,
}

impl CertInfo {
    pub(crate) fn parse(der_bytes: &[u8]) -> Result<Self, CertProblem> {
        let cert = Certificate::from_der(der_bytes).map_err(CertProblem::der)?;
        let tbs = &cert.tbs_certificate;
        let spki = &tbs.subject_public_key_info;
        let spki_der = spki.to_der().map_err(CertProblem::der)?;
        let public_key = spki.subject_public_key.raw_bytes().to_vec();
        let key = if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok());
            match curve {
                Some(SECP_384_R_1) => KeyKind::P384,
                Some(SECP_521_R_1) => KeyKind::P521,
                Some(SECP_256_R_1) => KeyKind::P256,
                Some(other) => KeyKind::OtherCurve(ObjectIdentifier::to_string(&other)),
                None => KeyKind::OtherCurve("(missing)".to_string()),
            }
        } else if spki.algorithm.oid == RSA_ENCRYPTION {
            let rsa_key =
                rsa::pkcs1::RsaPublicKey::from_der(&public_key).map_err(|e| CertProblem {
                    offset: 0,
                    reason: alloc::format!("RSA public key: {e}"),
                })?;
            let modulus = rsa_key.modulus.as_bytes();
            let bits = modulus
                .iter()
                .position(|b| *b != 0)
                .and_then(|first| {
                    let rest = modulus.len() - first - 1;
                    let top = modulus.get(first)?;
                    Some(rest * 8 + (8 - top.leading_zeros() as usize))
                })
                .unwrap_or(0);
            KeyKind::Rsa { bits }
        } else {
            KeyKind::Other(spki.algorithm.oid.to_string())
        };

        let mut basic_ca = None;
        let mut dns_names = Vec::new();
        let mut ip_addrs = Vec::new();
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id == ID_CE_BASIC_CONSTRAINTS {
                let bc = BasicConstraints::from_der(ext.extn_value.as_bytes())
                    .map_err(CertProblem::der)?;
                basic_ca = Some(bc.ca);
            } else if ext.extn_id == ID_CE_SUBJECT_ALT_NAME {
                let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(CertProblem::der)?;
                for name in san.0 {
                    match name {
                        GeneralName::DnsName(d) => dns_names.push(d.as_str().to_string()),
                        GeneralName::IpAddress(ip) => {
                            let b = ip.as_bytes();
                            if let Ok(v4) = <[u8; 4]>::try_from(b) {
                                ip_addrs.push(IpAddr::from(v4));
                            } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                                ip_addrs.push(IpAddr::from(v6));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }

        Ok(Self {
            key,
            spki_sha256: Sha256::digest(&spki_der).into(),
            public_key,
            tbs_der: tbs.to_der().map_err(CertProblem::der)?,
            signature_alg: cert.signature_algorithm.oid,
            signature: cert.signature.raw_bytes().to_vec(),
            issuer_is_subject: tbs.issuer == tbs.subject,
            subject: tbs.subject.to_string(),
            serial: tbs.serial_number.as_bytes().to_vec(),
            not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
            basic_ca,
            dns_names,
            ip_addrs,
        })
    }

    /// The signature algorithm, if it is one we verify and it fits `key`'s type.
    pub(crate) fn self_signature_alg(&self) -> Option<Alg> {
        self.signature_alg_for(&self.signature_alg)
    }

    /// The algorithm `oid` names, if it is one we verify and it fits this certificate's key
    /// (for what the key signed: its own certificate, or a CRL).
    pub(crate) fn signature_alg_for(&self, oid: &ObjectIdentifier) -> Option<Alg> {
        let key = self.key.alg()?;
        let hash = match key {
            KeyAlg::Rsa => Hash::from_rsa_oid(oid)?,
            KeyAlg::P384 | KeyAlg::P521 => Hash::from_ecdsa_oid(oid)?,
        };
        Some(Alg::new(key, hash))
    }
}
