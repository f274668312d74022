//! Public keys: the SPKI of one of our algorithms, plus signature verification.

use alloc::vec::Vec;

use const_oid::db::{rfc5912, rfc5912::ID_EC_PUBLIC_KEY};
use der::{Decode, Encode};
#[cfg(feature = "rsa")]
use rsa::{pkcs1v15::Pkcs1v15Sign, traits::PublicKeyParts};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};

use crate::{Error, KeyAlgorithm, Result};

/// A public key of one of the [`KeyAlgorithm`]s, kept as its SubjectPublicKeyInfo.
///
/// This is the `signature::Keypair::VerifyingKey` of [`PrivateKey`](crate::PrivateKey), and can
/// verify the signatures found in certificates, CSRs and CRLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki: SubjectPublicKeyInfoOwned,
    inner: Inner,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Inner {
    P384(p384::ecdsa::VerifyingKey),
    #[cfg(feature = "p521")]
    P521(ecdsa::VerifyingKey<p521::NistP521>),
    #[cfg(feature = "rsa")]
    Rsa(rsa::RsaPublicKey),
}

/// Which hash a signature algorithm OID names.
#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(msg).to_vec(),
            Self::Sha384 => Sha384::digest(msg).to_vec(),
            Self::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo and checks that it is a P-384, P-521 or RSA-3072/4096 key
    /// (an algorithm left out of this build is [`Error::AlgorithmNotBuilt`]).
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        let spki =
            SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| Error::der("public key", e))?;
        Self::from_spki(spki)
    }

    /// Checks an already-parsed SubjectPublicKeyInfo.
    pub fn from_spki(spki: SubjectPublicKeyInfoOwned) -> Result<Self> {
        let (algorithm, inner) = if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
            let curve = curve_oid(spki.algorithm.parameters.as_ref(), "EC public key")?;
            let point = spki.subject_public_key.as_bytes().ok_or(Error::Malformed {
                what: "EC public key",
                offset: None,
                detail: "BIT STRING has unused bits".into(),
            })?;
            let bad = |e: signature::Error| Error::InvalidKey {
                what: "EC public",
                detail: alloc::format!("{e}"),
            };
            if curve == rfc5912::SECP_384_R_1 {
                (
                    KeyAlgorithm::P384,
                    Inner::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?),
                )
            } else if curve == rfc5912::SECP_521_R_1 {
                #[cfg(feature = "p521")]
                {
                    (
                        KeyAlgorithm::P521,
                        Inner::P521(
                            ecdsa::VerifyingKey::<p521::NistP521>::from_sec1_bytes(point)
                                .map_err(bad)?,
                        ),
                    )
                }
                #[cfg(not(feature = "p521"))]
                return Err(KeyAlgorithm::P521.not_built());
            } else {
                return Err(Error::UnsupportedAlgorithm { oid: curve });
            }
        } else if spki.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            #[cfg(feature = "rsa")]
            {
                let der = spki.to_der().map_err(|e| Error::der("RSA public key", e))?;
                let key = <rsa::RsaPublicKey as spki::DecodePublicKey>::from_public_key_der(&der)
                    .map_err(|e| Error::spki("RSA public key", e))?;
                let bits = key.n().bits();
                let algorithm = match bits {
                    3072 => KeyAlgorithm::Rsa3072,
                    4096 => KeyAlgorithm::Rsa4096,
                    _ => return Err(Error::UnsupportedRsaSize { bits }),
                };
                (algorithm, Inner::Rsa(key))
            }
            #[cfg(not(feature = "rsa"))]
            return Err(KeyAlgorithm::Rsa3072.not_built());
        } else {
            return Err(Error::UnsupportedAlgorithm {
                oid: spki.algorithm.oid,
            });
        };
        Ok(Self {
            algorithm,
            spki,
            inner,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The SubjectPublicKeyInfo.
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    /// The DER encoding of the SubjectPublicKeyInfo.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        self.spki
            .to_der()
            .map_err(|e| Error::Encoding(alloc::format!("{e}")))
    }

    /// The signature algorithm a [`PrivateKey`](crate::PrivateKey) of this type signs with:
    /// ecdsa-with-SHA384 (P-384), ecdsa-with-SHA512 (P-521), sha256WithRSAEncryption (RSA).
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        signature_algorithm(self.algorithm)
    }

    /// Verifies `signature` over `msg` under the signature algorithm `sig_alg` (as found in a
    /// certificate, CSR or CRL).
    ///
    /// Accepted: ecdsa-with-SHA256/384/512 for P-384 and P-521 keys (DER `Ecdsa-Sig-Value`),
    /// sha256/384/512WithRSAEncryption (PKCS#1 v1.5) for RSA keys.
    pub fn verify(
        &self,
        sig_alg: &AlgorithmIdentifierOwned,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let oid = sig_alg.oid;
        match &self.inner {
            Inner::P384(vk) => {
                let hash = ecdsa_hash(oid, "P-384")?;
                let sig =
                    p384::ecdsa::Signature::from_der(signature).map_err(|_| Error::BadSignature)?;
                vk.verify_prehash(&hash.digest(msg), &sig)
                    .map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "p521")]
            Inner::P521(vk) => {
                let hash = ecdsa_hash(oid, "P-521")?;
                let sig =
                    p521::ecdsa::Signature::from_der(signature).map_err(|_| Error::BadSignature)?;
                vk.verify_prehash(&hash.digest(msg), &sig)
                    .map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "rsa")]
            Inner::Rsa(pk) => {
                // RFC 4055 §5: the parameters are NULL (or, tolerated by most verifiers, absent).
                if let Some(p) = &sig_alg.parameters {
                    if der::Tagged::tag(p) != der::Tag::Null {
                        return Err(Error::UnsupportedSignatureAlgorithm { oid, key: "RSA" });
                    }
                }
                let (scheme, hash) = if oid == rfc5912::SHA_256_WITH_RSA_ENCRYPTION {
                    (Pkcs1v15Sign::new::<Sha256>(), Hash::Sha256)
                } else if oid == rfc5912::SHA_384_WITH_RSA_ENCRYPTION {
                    (Pkcs1v15Sign::new::<Sha384>(), Hash::Sha384)
                } else if oid == rfc5912::SHA_512_WITH_RSA_ENCRYPTION {
                    (Pkcs1v15Sign::new::<Sha512>(), Hash::Sha512)
                } else {
                    return Err(Error::UnsupportedSignatureAlgorithm { oid, key: "RSA" });
                };
                pk.verify(scheme, &hash.digest(msg), signature)
                    .map_err(|_| Error::BadSignature)
            }
        }
    }
}

/// The namedCurve OID in id-ecPublicKey parameters (RFC 5480 §2.1.1).
pub(crate) fn curve_oid(params: Option<&der::Any>, what: &'static str) -> Result<ObjectIdentifier> {
    let params = params.ok_or(Error::Malformed {
        what,
        offset: None,
        detail: "id-ecPublicKey without a namedCurve parameter".into(),
    })?;
    params
        .decode_as::<ObjectIdentifier>()
        .map_err(|e| Error::der(what, e))
}

fn ecdsa_hash(oid: ObjectIdentifier, key: &'static str) -> Result<Hash> {
    if oid == rfc5912::ECDSA_WITH_SHA_256 {
        Ok(Hash::Sha256)
    } else if oid == rfc5912::ECDSA_WITH_SHA_384 {
        Ok(Hash::Sha384)
    } else if oid == rfc5912::ECDSA_WITH_SHA_512 {
        Ok(Hash::Sha512)
    } else {
        Err(Error::UnsupportedSignatureAlgorithm { oid, key })
    }
}

/// The signature algorithm identifier our signers use for a key algorithm.
pub(crate) fn signature_algorithm(alg: KeyAlgorithm) -> AlgorithmIdentifierOwned {
    match alg {
        KeyAlgorithm::P384 => AlgorithmIdentifierOwned {
            oid: rfc5912::ECDSA_WITH_SHA_384,
            parameters: None,
        },
        KeyAlgorithm::P521 => AlgorithmIdentifierOwned {
            oid: rfc5912::ECDSA_WITH_SHA_512,
            parameters: None,
        },
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => AlgorithmIdentifierOwned {
            oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            // RFC 4055 §5: NULL parameters for the PKCS#1 v1.5 algorithms.
            parameters: Some(der::Any::null()),
        },
    }
}

impl spki::EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.spki)?)
    }
}

impl AsRef<SubjectPublicKeyInfoOwned> for PublicKey {
    fn as_ref(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }
}
