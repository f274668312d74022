//! Signature verification for the algorithms the draft allows (§3.4.1, §3.4.3): ECDSA on P-384 or
//! P-521 and RSA PKCS#1 v1.5 with a modulus of at least 3072 bits, each with SHA-256/384/512.
//!
//! The same table serves the root self-signature check and, through
//! [`pki_types::SignatureVerificationAlgorithm`], rustls-webpki's chain building. Using RustCrypto
//! here (rather than webpki's `ring` provider) is what gives us P-521: ring has no P-521.

use alloc::vec::Vec;
use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, SHA_256_WITH_RSA_ENCRYPTION,
    SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
use pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id};
use rsa::pkcs1::DecodeRsaPublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;
use signature::hazmat::PrehashVerifier;

/// Smallest RSA modulus the draft accepts (§3.4.1, §3.4.3).
pub(crate) const MIN_RSA_BITS: usize = 3072;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn from_ecdsa_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            ECDSA_WITH_SHA_256 => Some(Self::Sha256),
            ECDSA_WITH_SHA_384 => Some(Self::Sha384),
            ECDSA_WITH_SHA_512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub(crate) fn from_rsa_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            SHA_256_WITH_RSA_ENCRYPTION => Some(Self::Sha256),
            SHA_384_WITH_RSA_ENCRYPTION => Some(Self::Sha384),
            SHA_512_WITH_RSA_ENCRYPTION => Some(Self::Sha512),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyAlg {
    P384,
    P521,
    Rsa,
}

/// Bytes of a P-521 field element.
const P521_FIELD_BYTES: usize = 66;

/// `digest` with zero bytes in front up to `len` bytes (unchanged if it is that long already).
fn left_pad(digest: Vec<u8>, len: usize) -> Vec<u8> {
    let Some(pad) = len.checked_sub(digest.len()).filter(|p| *p > 0) else {
        return digest;
    };
    let mut out = alloc::vec![0u8; pad];
    out.extend_from_slice(&digest);
    out
}

/// One (public key algorithm, signature algorithm) pair.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alg {
    key: KeyAlg,
    hash: Hash,
}

impl fmt::Debug for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}-{:?}", self.key, self.hash)
    }
}

macro_rules! algs {
    ($($name:ident = $key:ident, $hash:ident;)*) => {
        $(static $name: Alg = Alg { key: KeyAlg::$key, hash: Hash::$hash };)*
        /// Every signature algorithm lantrust-pin verifies (draft §3.4.1, §3.4.3): ECDSA P-384 and
        /// P-521 (DER signatures), RSA PKCS#1 v1.5 with a modulus of at least 3072 bits, each with
        /// SHA-256, SHA-384 or SHA-512. This is the table [`crate::verify_scoped`] gives
        /// rustls-webpki for every signature of a chain, and the root self-signature check uses
        /// the same code; public so that it can be checked against published vectors
        /// (`tests/wycheproof.rs`) and reused with rustls-webpki.
        pub static ALL: &[&dyn SignatureVerificationAlgorithm] = &[$(&$name),*];
    };
}

algs! {
    P384_SHA256 = P384, Sha256;
    P384_SHA384 = P384, Sha384;
    P384_SHA512 = P384, Sha512;
    P521_SHA256 = P521, Sha256;
    P521_SHA384 = P521, Sha384;
    P521_SHA512 = P521, Sha512;
    RSA_SHA256 = Rsa, Sha256;
    RSA_SHA384 = Rsa, Sha384;
    RSA_SHA512 = Rsa, Sha512;
}

impl Alg {
    pub(crate) fn new(key: KeyAlg, hash: Hash) -> Self {
        Self { key, hash }
    }

    /// Verifies `signature` over `message` with the raw `subjectPublicKey` bits `public_key`.
    pub(crate) fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self.key {
            KeyAlg::P384 => {
                let Ok(key) = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
                    return false;
                };
                let Ok(sig) = p384::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                key.verify_prehash(&self.digest(message), &sig).is_ok()
            }
            KeyAlg::P521 => {
                let Ok(key) = p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
                    return false;
                };
                let Ok(sig) = p521::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                // The ecdsa crate refuses a prehash shorter than half the field (SHA-256's 32
                // bytes on P-521's 66). FIPS 186-5 §6.4.1 uses a shorter digest's whole integer
                // value, which left-padding with zeros keeps.
                let digest = left_pad(self.digest(message), P521_FIELD_BYTES);
                key.verify_prehash(&digest, &sig).is_ok()
            }
            KeyAlg::Rsa => {
                let Ok(key) = rsa::RsaPublicKey::from_pkcs1_der(public_key) else {
                    return false;
                };
                if rsa::traits::PublicKeyParts::size(&key) * 8 < MIN_RSA_BITS {
                    return false;
                }
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return false;
                };
                match self.hash {
                    Hash::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                        .verify(message, &sig)
                        .is_ok(),
                    Hash::Sha384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key)
                        .verify(message, &sig)
                        .is_ok(),
                    Hash::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key)
                        .verify(message, &sig)
                        .is_ok(),
                }
            }
        }
    }

    fn digest(&self, message: &[u8]) -> Vec<u8> {
        match self.hash {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
            Hash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

impl SignatureVerificationAlgorithm for Alg {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        if self.verify(public_key, message, signature) {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        match self.key {
            KeyAlg::P384 => alg_id::ECDSA_P384,
            KeyAlg::P521 => alg_id::ECDSA_P521,
            KeyAlg::Rsa => alg_id::RSA_ENCRYPTION,
        }
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        match (self.key, self.hash) {
            (KeyAlg::Rsa, Hash::Sha256) => alg_id::RSA_PKCS1_SHA256,
            (KeyAlg::Rsa, Hash::Sha384) => alg_id::RSA_PKCS1_SHA384,
            (KeyAlg::Rsa, Hash::Sha512) => alg_id::RSA_PKCS1_SHA512,
            (_, Hash::Sha256) => alg_id::ECDSA_SHA256,
            (_, Hash::Sha384) => alg_id::ECDSA_SHA384,
            (_, Hash::Sha512) => alg_id::ECDSA_SHA512,
        }
    }
}
