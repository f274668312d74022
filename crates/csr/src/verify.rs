//! Public key classification and self-signature verification (RFC 2986 §4.2, draft §3.4.3).

use alloc::vec::Vec;

use const_oid::ObjectIdentifier;
#[cfg(feature = "rsa")]
use der::Decode;
#[cfg(feature = "rsa")]
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::oids;
use crate::policy::{KeyKind, Violation};

/// Largest RSA modulus we verify with; bigger keys only cost the server time.
#[cfg(feature = "rsa")]
const RSA_MAX_BITS: usize = 16384;
/// The draft's floor for RSA (§3.4.3).
pub(crate) const RSA_MIN_BITS: usize = 3072;
/// The largest RSA key the policy accepts: what lantrust-ca issues for (3072–8192 bits), so a
/// CSR that passes `check-csr` is one the CA can issue.
pub(crate) const RSA_MAX_POLICY_BITS: usize = 8192;

/// A SHA-2 hash of at least 256 bits, the draft's floor (§3.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            oids::SHA256 => Some(Hash::Sha256),
            oids::SHA384 => Some(Hash::Sha384),
            oids::SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(msg).to_vec(),
            Hash::Sha384 => Sha384::digest(msg).to_vec(),
            Hash::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

/// What the signature algorithm identifier asks for.
enum SigAlg {
    Ecdsa(Hash),
    #[cfg_attr(not(feature = "rsa"), allow(dead_code))]
    RsaPkcs1(Hash),
    #[cfg_attr(not(feature = "rsa"), allow(dead_code))]
    RsaPss {
        hash: Hash,
        salt_len: usize,
    },
}

/// A public key we can verify with, after the policy has been applied to it.
pub(crate) enum VerifyingKey {
    #[cfg(feature = "p256")]
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    #[cfg(feature = "p521")]
    P521(p521::ecdsa::VerifyingKey),
    #[cfg(feature = "rsa")]
    Rsa {
        key: rsa::RsaPublicKey,
        pss_only: bool,
    },
}

/// Classifies the subject public key: the kind to report if it is allowed, the key to verify
/// with if we can, and the policy violations of the key itself.
pub(crate) fn classify_key(
    spki: &SubjectPublicKeyInfoOwned,
    out: &mut Vec<Violation>,
) -> (Option<KeyKind>, Option<VerifyingKey>) {
    let alg = &spki.algorithm;
    let Some(bits) = spki.subject_public_key.as_bytes() else {
        out.push(Violation::InvalidPublicKey {
            reason: "the subjectPublicKey BIT STRING has unused bits",
        });
        return (None, None);
    };
    match alg.oid {
        oids::EC_PUBLIC_KEY => {
            let curve = alg
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            let Some(curve) = curve else {
                out.push(Violation::InvalidPublicKey {
                    reason: "the EC key does not name its curve (namedCurve OID parameter missing)",
                });
                return (None, None);
            };
            let invalid = || Violation::InvalidPublicKey {
                reason: "the EC public key is not a valid point on its curve",
            };
            match curve {
                oids::SECP384R1 => match p384::ecdsa::VerifyingKey::from_sec1_bytes(bits) {
                    Ok(k) => (Some(KeyKind::P384), Some(VerifyingKey::P384(k))),
                    Err(_) => {
                        out.push(invalid());
                        (None, None)
                    }
                },
                #[cfg(feature = "p521")]
                oids::SECP521R1 => match p521::ecdsa::VerifyingKey::from_sec1_bytes(bits) {
                    Ok(k) => (Some(KeyKind::P521), Some(VerifyingKey::P521(k))),
                    Err(_) => {
                        out.push(invalid());
                        (None, None)
                    }
                },
                // Allowed by the draft, but this build cannot verify it: refused, never waved
                // through unchecked.
                #[cfg(not(feature = "p521"))]
                oids::SECP521R1 => {
                    out.push(Violation::NotBuilt {
                        what: "P-521 keys",
                        feature: "p521",
                    });
                    (None, None)
                }
                #[cfg(feature = "p256")]
                oids::SECP256R1 => {
                    out.push(Violation::CurveNotAllowed { curve });
                    match p256::ecdsa::VerifyingKey::from_sec1_bytes(bits) {
                        Ok(k) => (None, Some(VerifyingKey::P256(k))),
                        Err(_) => {
                            out.push(invalid());
                            (None, None)
                        }
                    }
                }
                other => {
                    out.push(Violation::CurveNotAllowed { curve: other });
                    (None, None)
                }
            }
        }
        #[cfg(not(feature = "rsa"))]
        oids::RSA_ENCRYPTION | oids::RSASSA_PSS => {
            out.push(Violation::NotBuilt {
                what: "RSA keys",
                feature: "rsa",
            });
            (None, None)
        }
        #[cfg(feature = "rsa")]
        oids::RSA_ENCRYPTION | oids::RSASSA_PSS => {
            let pss_only = alg.oid == oids::RSASSA_PSS;
            let Ok(raw) = rsa::pkcs1::RsaPublicKey::from_der(bits) else {
                out.push(Violation::InvalidPublicKey {
                    reason: "the RSA public key is not a valid RSAPublicKey structure",
                });
                return (None, None);
            };
            let n = rsa::BigUint::from_bytes_be(raw.modulus.as_bytes());
            let e = rsa::BigUint::from_bytes_be(raw.public_exponent.as_bytes());
            let size = n.bits();
            if size > RSA_MAX_BITS {
                out.push(Violation::InvalidPublicKey {
                    reason: "the RSA modulus is larger than 16384 bits",
                });
                return (None, None);
            }
            let Ok(key) = rsa::RsaPublicKey::new_with_max_size(n, e, RSA_MAX_BITS) else {
                out.push(Violation::InvalidPublicKey {
                    reason: "the RSA public key has an invalid modulus or exponent",
                });
                return (None, None);
            };
            let bits = key.n().bits();
            let kind = if bits < RSA_MIN_BITS {
                out.push(Violation::RsaKeyTooSmall { bits });
                None
            } else if bits > RSA_MAX_POLICY_BITS {
                out.push(Violation::RsaKeyTooLarge { bits });
                None
            } else {
                Some(KeyKind::Rsa { bits, pss_only })
            };
            (kind, Some(VerifyingKey::Rsa { key, pss_only }))
        }
        other => {
            out.push(Violation::KeyAlgorithmNotAllowed { algorithm: other });
            (None, None)
        }
    }
}

/// ECDSA over any of our curves with any SHA-2 of 256+ bits: the digest is truncated to the
/// curve order as FIPS 186-5 §6.4.1 says (P-384 with SHA-256 is allowed by the draft).
/// The ecdsa crate refuses digests shorter than half the field (SHA-256 on P-521), so short
/// digests are left-padded to the field size, which keeps their integer value as FIPS asks.
macro_rules! ecdsa_verify {
    ($curve:ident, $field_len:expr, $key:expr, $hash:expr, $msg:expr, $sig:expr) => {
        match $curve::ecdsa::Signature::from_der($sig) {
            Ok(s) => {
                let digest = $hash.digest($msg);
                let prehash = left_pad(digest, $field_len);
                $key.verify_prehash(&prehash, &s).is_ok()
            }
            Err(_) => false,
        }
    };
}

fn left_pad(digest: Vec<u8>, len: usize) -> Vec<u8> {
    if digest.len() >= len {
        return digest;
    }
    let mut out = alloc::vec![0u8; len - digest.len()];
    out.extend_from_slice(&digest);
    out
}

/// Checks the signature algorithm and, when key and algorithm allow, the signature itself.
///
/// A hash below SHA-256 is reported and the signature is then not checked: such a request is
/// rejected whatever the signature says.
pub(crate) fn check_signature(
    algorithm: &AlgorithmIdentifierOwned,
    signature: &der::asn1::BitString,
    message: &[u8],
    key: Option<&VerifyingKey>,
    key_rejected: bool,
    out: &mut Vec<Violation>,
) {
    let alg = match signature_algorithm(algorithm) {
        Ok(alg) => alg,
        // With an unusable key, only a weak hash is worth saying: anything else about the
        // algorithm follows from the key (Ed25519 keys sign with Ed25519, …).
        Err(v) if key.is_none() && key_rejected && !matches!(v, Violation::WeakHash { .. }) => {
            return;
        }
        Err(v) => {
            out.push(v);
            return;
        }
    };
    let Some(key) = key else {
        // The key itself was already reported (unknown type or invalid); nothing to verify with.
        if !key_rejected {
            out.push(Violation::UnverifiableSignature {
                reason: "the public key could not be used",
            });
        }
        return;
    };
    let Some(sig) = signature.as_bytes() else {
        out.push(Violation::BadSignature);
        return;
    };
    let ok = match (&alg, key) {
        #[cfg(feature = "p256")]
        (SigAlg::Ecdsa(hash), VerifyingKey::P256(k)) => {
            ecdsa_verify!(p256, 32, k, hash, message, sig)
        }
        (SigAlg::Ecdsa(hash), VerifyingKey::P384(k)) => {
            ecdsa_verify!(p384, 48, k, hash, message, sig)
        }
        #[cfg(feature = "p521")]
        (SigAlg::Ecdsa(hash), VerifyingKey::P521(k)) => {
            ecdsa_verify!(p521, 66, k, hash, message, sig)
        }
        #[cfg(feature = "rsa")]
        (SigAlg::RsaPkcs1(_), VerifyingKey::Rsa { pss_only: true, .. }) => {
            out.push(Violation::UnverifiableSignature {
                reason: "the key is an RSASSA-PSS key but the CSR is signed with PKCS#1 v1.5",
            });
            return;
        }
        #[cfg(feature = "rsa")]
        (SigAlg::RsaPkcs1(hash), VerifyingKey::Rsa { key, .. }) => {
            let digest = hash.digest(message);
            let scheme = match hash {
                Hash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                Hash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                Hash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            key.verify(scheme, &digest, sig).is_ok()
        }
        #[cfg(feature = "rsa")]
        (SigAlg::RsaPss { hash, salt_len }, VerifyingKey::Rsa { key, .. }) => {
            let digest = hash.digest(message);
            let scheme = match hash {
                Hash::Sha256 => rsa::Pss::new_with_salt::<Sha256>(*salt_len),
                Hash::Sha384 => rsa::Pss::new_with_salt::<Sha384>(*salt_len),
                Hash::Sha512 => rsa::Pss::new_with_salt::<Sha512>(*salt_len),
            };
            key.verify(scheme, &digest, sig).is_ok()
        }
        _ => {
            out.push(Violation::UnverifiableSignature {
                reason: "the signature algorithm does not match the public key type",
            });
            return;
        }
    };
    if !ok {
        out.push(Violation::BadSignature);
    }
}

fn signature_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<SigAlg, Violation> {
    let weak = |hash: &'static str| Err(Violation::WeakHash { hash });
    match alg.oid {
        oids::ECDSA_WITH_SHA256 => Ok(SigAlg::Ecdsa(Hash::Sha256)),
        oids::ECDSA_WITH_SHA384 => Ok(SigAlg::Ecdsa(Hash::Sha384)),
        oids::ECDSA_WITH_SHA512 => Ok(SigAlg::Ecdsa(Hash::Sha512)),
        oids::SHA256_WITH_RSA => Ok(SigAlg::RsaPkcs1(Hash::Sha256)),
        oids::SHA384_WITH_RSA => Ok(SigAlg::RsaPkcs1(Hash::Sha384)),
        oids::SHA512_WITH_RSA => Ok(SigAlg::RsaPkcs1(Hash::Sha512)),
        oids::ECDSA_WITH_SHA1 | oids::SHA1_WITH_RSA | oids::DSA_WITH_SHA1 => weak("SHA-1"),
        oids::ECDSA_WITH_SHA224 | oids::SHA224_WITH_RSA => weak("SHA-224"),
        oids::MD5_WITH_RSA => weak("MD5"),
        oids::MD2_WITH_RSA => weak("MD2"),
        oids::RSASSA_PSS => pss_parameters(alg),
        other => Err(Violation::UnsupportedSignatureAlgorithm { algorithm: other }),
    }
}

/// RSASSA-PSS-params (RFC 8017 Appendix A.2.3). Decoded here rather than with `pkcs1`, whose
/// `u8` salt length cannot hold what openssl writes by default (e.g. 350 for SHA-256 on RSA-3072).
#[derive(der::Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u8>,
}

/// Absent hash or MGF fields mean SHA-1, which is too weak; an absent salt length means 20.
fn pss_parameters(alg: &AlgorithmIdentifierOwned) -> Result<SigAlg, Violation> {
    let malformed = Violation::UnverifiableSignature {
        reason: "the RSASSA-PSS parameters are missing or malformed",
    };
    let Some(params) = alg.parameters.as_ref() else {
        return Err(malformed);
    };
    let Ok(params) = params.decode_as::<PssParams>() else {
        return Err(malformed);
    };
    let hash_oid = params.hash.as_ref().map_or(oids::SHA1, |h| h.oid);
    let Some(hash) = Hash::from_oid(&hash_oid) else {
        return Err(match hash_oid {
            oids::SHA1 => Violation::WeakHash { hash: "SHA-1" },
            oids::SHA224 => Violation::WeakHash { hash: "SHA-224" },
            other => Violation::UnsupportedSignatureAlgorithm { algorithm: other },
        });
    };
    let mgf_hash = match &params.mask_gen {
        None => Some(oids::SHA1),
        Some(mgf) if mgf.oid == oids::MGF1 => mgf
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
            .map(|a| a.oid),
        Some(_) => None,
    };
    if mgf_hash != Some(hash_oid) {
        return Err(Violation::UnverifiableSignature {
            reason: "RSASSA-PSS must use MGF1 with the same hash as the signature",
        });
    }
    if params.trailer_field.is_some_and(|t| t != 1) {
        return Err(malformed);
    }
    let salt_len = params.salt_len.unwrap_or(20);
    Ok(SigAlg::RsaPss {
        hash,
        salt_len: usize::try_from(salt_len).unwrap_or(usize::MAX),
    })
}

/// Verifies `signature` over `message` with the key in `spki` exactly as [`crate::Csr::validate`]
/// verifies a CSR's self-signature (RFC 2986 §4.2), with the same key and algorithm rules
/// (draft §3.4.3: P-384/P-521 or RSA ≥ 3072, SHA-256 or stronger, PKCS#1 v1.5 or RSASSA-PSS).
///
/// Returns every violation found, the key's and the signature's; an empty list means the key is
/// allowed and the signature verifies. `algorithm` is the `signatureAlgorithm` and `signature` the
/// `signature` BIT STRING of the request.
///
/// [`crate::Csr::validate`] is the way to judge a CSR; this is public so that the signature code can
/// be checked against vectors whose signed bytes are not a `certificationRequestInfo`
/// (`tests/wycheproof.rs`).
pub fn signature_violations(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    signature: &der::asn1::BitString,
    message: &[u8],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let (_, key) = classify_key(spki, &mut out);
    let key_rejected = !out.is_empty();
    check_signature(
        algorithm,
        signature,
        message,
        key.as_ref(),
        key_rejected,
        &mut out,
    );
    out
}
