//! Private keys: generation, PKCS#8, signing.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use const_oid::db::{rfc5912, rfc5912::ID_EC_PUBLIC_KEY};
use der::pem::LineEnding;
use pkcs8::{EncodePrivateKey, PrivateKeyInfo};
use rand_core::CryptoRngCore;
#[cfg(feature = "rsa")]
use rsa::{pkcs1v15::Pkcs1v15Sign, traits::PublicKeyParts};
#[cfg(any(feature = "p521", feature = "rsa"))]
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};
#[cfg(feature = "p521")]
use zeroize::Zeroize;
use zeroize::Zeroizing;

use crate::public::signature_algorithm;
use crate::{DerSignature, Error, KeyAlgorithm, PublicKey, Result};

const PEM_LABEL: &str = "PRIVATE KEY";

/// A private key of one of the [`KeyAlgorithm`]s.
///
/// - Created only by [`PrivateKey::generate`] (fresh randomness from the caller's RNG, so a
///   re-generated root or device key never reuses key material, draft §4.11) or by importing
///   PKCS#8 that the caller stored earlier.
/// - Not `Clone`; the secret is zeroized when the key is dropped (the inner RustCrypto key types
///   zeroize themselves on drop); exported PKCS#8 comes back in [`Zeroizing`] buffers.
/// - `Debug` prints only the algorithm and `[secret key elided]`.
/// - Signs: it implements `signature::Keypair`, `spki::DynSignatureAlgorithmIdentifier` and
///   `signature::Signer<DerSignature>`, so `&PrivateKey` is the signer to give x509-cert's
///   `CertificateBuilder::new` / `RequestBuilder::new`, then call `build::<DerSignature>()`.
///   P-384 signs ecdsa-with-SHA384, P-521 ecdsa-with-SHA512 (deterministic RFC 6979 nonces),
///   RSA sha256WithRSAEncryption (PKCS#1 v1.5).
pub struct PrivateKey {
    secret: Secret,
    public: PublicKey,
}

enum Secret {
    P384(p384::ecdsa::SigningKey),
    #[cfg(feature = "p521")]
    P521(ecdsa::SigningKey<p521::NistP521>),
    #[cfg(feature = "rsa")]
    Rsa(rsa::RsaPrivateKey),
}

// The zeroize-on-drop promise rests on these inner types; fail the build if one ever loses it.
// (p521's SigningKey wraps `ecdsa::SigningKey<NistP521>`, which is checked here too.)
const _: fn() = || {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<p384::ecdsa::SigningKey>();
    #[cfg(feature = "p521")]
    zeroize_on_drop::<ecdsa::SigningKey<p521::NistP521>>();
    #[cfg(feature = "rsa")]
    zeroize_on_drop::<rsa::RsaPrivateKey>();
};

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [secret key elided])", self.algorithm())
    }
}

impl PrivateKey {
    /// Generates a fresh key from the caller's cryptographic RNG.
    ///
    /// RSA generation is slow (about a second for 3072 bits in release builds, much longer in
    /// debug builds); P-384 is the default for that reason too. An algorithm left out of this
    /// build ([`KeyAlgorithm::is_built`]) is [`Error::AlgorithmNotBuilt`].
    pub fn generate(algorithm: KeyAlgorithm, rng: &mut impl CryptoRngCore) -> Result<Self> {
        let secret = match algorithm {
            KeyAlgorithm::P384 => Secret::P384(p384::ecdsa::SigningKey::random(rng)),
            #[cfg(feature = "p521")]
            KeyAlgorithm::P521 => Secret::P521(ecdsa::SigningKey::random(rng)),
            #[cfg(feature = "rsa")]
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = algorithm.rsa_bits().unwrap_or(3072);
                let key = rsa::RsaPrivateKey::new(rng, bits).map_err(|e| Error::Generation {
                    algorithm,
                    detail: alloc::format!("{e}"),
                })?;
                Secret::Rsa(key)
            }
            #[cfg(not(all(feature = "p521", feature = "rsa")))]
            other => return Err(other.not_built()),
        };
        Self::from_secret(secret)
    }

    fn from_secret(secret: Secret) -> Result<Self> {
        let spki_der = match &secret {
            Secret::P384(sk) => sk.verifying_key().to_public_key_der(),
            #[cfg(feature = "p521")]
            Secret::P521(sk) => sk.verifying_key().to_public_key_der(),
            #[cfg(feature = "rsa")]
            Secret::Rsa(sk) => sk.to_public_key().to_public_key_der(),
        }
        .map_err(|e| Error::Encoding(alloc::format!("{e}")))?;
        let public = PublicKey::from_public_key_der(spki_der.as_bytes())?;
        Ok(Self { secret, public })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as a SubjectPublicKeyInfo (what certificates and CSRs embed).
    pub fn public_key_info(&self) -> SubjectPublicKeyInfoOwned {
        self.public.spki().clone()
    }

    /// The signature algorithm this key signs with (see the type docs).
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        signature_algorithm(self.algorithm())
    }

    /// Signs `msg` and returns the signature bytes as X.509 embeds them (DER `Ecdsa-Sig-Value`
    /// for ECDSA, the raw PKCS#1 v1.5 signature for RSA).
    pub fn sign(&self, msg: &[u8]) -> Result<DerSignature> {
        match &self.secret {
            Secret::P384(sk) => {
                let sig: p384::ecdsa::Signature = signature::Signer::try_sign(sk, msg)
                    .map_err(|e| Error::Signing(alloc::format!("{e}")))?;
                Ok(DerSignature::new(sig.to_der().as_bytes()))
            }
            #[cfg(feature = "p521")]
            Secret::P521(sk) => {
                let sig = sign_p521(sk, msg)?;
                Ok(DerSignature::new(sig.to_der().as_bytes()))
            }
            #[cfg(feature = "rsa")]
            Secret::Rsa(sk) => {
                let digest = sha2::Sha256::digest(msg);
                let sig = sk
                    .sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
                    .map_err(|e| Error::Signing(alloc::format!("{e}")))?;
                Ok(DerSignature::new(sig))
            }
        }
    }

    /// Imports a PKCS#8 (RFC 5208/5958) DER `PrivateKeyInfo` holding a P-384, P-521 or
    /// RSA-3072/4096 key. Encrypted PKCS#8 is not accepted; an algorithm left out of this build
    /// is [`Error::AlgorithmNotBuilt`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        const WHAT: &str = "PKCS#8 private key";
        let info = PrivateKeyInfo::try_from(der).map_err(|e| Error::pkcs8(WHAT, e))?;
        let secret = if info.algorithm.oid == ID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| Error::spki(WHAT, e))?;
            if curve == rfc5912::SECP_384_R_1 {
                let sk = p384::SecretKey::try_from(info).map_err(|e| Error::pkcs8(WHAT, e))?;
                Secret::P384(p384::ecdsa::SigningKey::from(sk))
            } else if curve == rfc5912::SECP_521_R_1 {
                #[cfg(feature = "p521")]
                {
                    let sk = p521::SecretKey::try_from(info).map_err(|e| Error::pkcs8(WHAT, e))?;
                    Secret::P521(ecdsa::SigningKey::from(sk))
                }
                #[cfg(not(feature = "p521"))]
                return Err(KeyAlgorithm::P521.not_built());
            } else {
                return Err(Error::UnsupportedAlgorithm { oid: curve });
            }
        } else if info.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            #[cfg(feature = "rsa")]
            {
                let sk = <rsa::RsaPrivateKey as pkcs8::DecodePrivateKey>::from_pkcs8_der(der)
                    .map_err(|e| Error::pkcs8(WHAT, e))?;
                let bits = sk.n().bits();
                if bits != 3072 && bits != 4096 {
                    return Err(Error::UnsupportedRsaSize { bits });
                }
                sk.validate().map_err(|e| Error::InvalidKey {
                    what: "RSA",
                    detail: alloc::format!("{e}"),
                })?;
                Secret::Rsa(sk)
            }
            #[cfg(not(feature = "rsa"))]
            return Err(KeyAlgorithm::Rsa3072.not_built());
        } else {
            return Err(Error::UnsupportedAlgorithm {
                oid: info.algorithm.oid,
            });
        };
        Self::from_secret(secret)
    }

    /// Imports a PEM `-----BEGIN PRIVATE KEY-----` (PKCS#8) block.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let found = pem_label(pem);
        if found != PEM_LABEL {
            return Err(Error::PemLabel {
                expected: PEM_LABEL,
                found,
            });
        }
        let (label, doc) =
            pkcs8::SecretDocument::from_pem(pem).map_err(|e| Error::der("PEM private key", e))?;
        if label != PEM_LABEL {
            return Err(Error::PemLabel {
                expected: PEM_LABEL,
                found: label.into(),
            });
        }
        Self::from_pkcs8_der(doc.as_bytes())
    }

    /// Exports the key as PKCS#8 DER (a zeroizing buffer).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = self.secret_document()?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Exports the key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.secret_document()?
            .to_pem(PEM_LABEL, LineEnding::LF)
            .map_err(|e| Error::Encoding(alloc::format!("{e}")))
    }

    fn secret_document(&self) -> Result<pkcs8::SecretDocument> {
        match &self.secret {
            Secret::P384(sk) => sk.to_pkcs8_der(),
            #[cfg(feature = "p521")]
            Secret::P521(sk) => sk.to_pkcs8_der(),
            #[cfg(feature = "rsa")]
            Secret::Rsa(sk) => sk.to_pkcs8_der(),
        }
        .map_err(|e| Error::Encoding(alloc::format!("{e}")))
    }
}

/// ECDSA/P-521 with SHA-512 and a deterministic nonce (RFC 6979 §3.2).
///
/// The `p521` 0.13 crate's own `Signer` draws its nonce from the OS RNG, which a sans-IO crate
/// must not do, and the generic `ecdsa` RFC 6979 path needs a hash as wide as the field (66
/// bytes). So the nonce is derived here with the `rfc6979` HMAC-DRBG, including the bits2int
/// truncation of the 528 generated bits to qlen = 521 bits. Checked against RFC 6979 A.2.7.
#[cfg(feature = "p521")]
fn sign_p521(
    sk: &ecdsa::SigningKey<p521::NistP521>,
    msg: &[u8],
) -> Result<ecdsa::Signature<p521::NistP521>> {
    use p521::elliptic_curve::ff::PrimeField;

    let fail = |e: ecdsa::Error| Error::Signing(alloc::format!("{e}"));
    // hlen (512) < qlen (521): bits2int(h) is h itself, already < q, so bits2octets(h) is h
    // left-padded to 66 bytes; the same value is the z that ECDSA signs.
    let z =
        ecdsa::hazmat::bits2field::<p521::NistP521>(&sha2::Sha512::digest(msg)).map_err(fail)?;
    let d: &p521::Scalar = sk.as_nonzero_scalar().as_ref();
    let mut x = Zeroizing::new([0u8; 66]);
    x.copy_from_slice(&d.to_repr());
    let mut drbg = rfc6979::HmacDrbg::<sha2::Sha512>::new(&x[..], &z, &[]);
    loop {
        let mut t = Zeroizing::new([0u8; 66]);
        drbg.fill_bytes(&mut t[..]);
        // bits2int: keep the leftmost 521 of the 528 bits, i.e. shift right by 7.
        let mut k = Zeroizing::new([0u8; 66]);
        let mut carry = 0u8;
        for (out, byte) in k.iter_mut().zip(t.iter()) {
            *out = (byte >> 7) | carry;
            carry = byte << 1;
        }
        // `from_repr` refuses values >= n; zero is refused by `sign_prehashed`.
        let mut repr = p521::FieldBytes::default();
        repr.copy_from_slice(&k[..]);
        let candidate: Option<p521::Scalar> = p521::Scalar::from_repr(repr).into();
        repr.zeroize();
        if let Some(k) = candidate {
            if let Ok((sig, _)) = ecdsa::hazmat::sign_prehashed::<p521::NistP521, _>(d, k, &z) {
                return Ok(sig);
            }
        }
    }
}

/// The label of the first PEM block, for error messages.
fn pem_label(pem: &str) -> String {
    pem.lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .unwrap_or("")
        .into()
}

impl signature::Keypair for PrivateKey {
    type VerifyingKey = PublicKey;

    fn verifying_key(&self) -> PublicKey {
        self.public.clone()
    }
}

impl spki::DynSignatureAlgorithmIdentifier for PrivateKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.signature_algorithm())
    }
}

impl signature::Signer<DerSignature> for PrivateKey {
    fn try_sign(&self, msg: &[u8]) -> core::result::Result<DerSignature, signature::Error> {
        self.sign(msg).map_err(|_| signature::Error::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device build (`default-features = false`) has P-384 only: the other algorithms fail
    /// with `AlgorithmNotBuilt`, never with a panic or a wrong key.
    #[test]
    fn algorithms_left_out_are_refused() {
        let mut rng = rand::rngs::OsRng;
        for alg in KeyAlgorithm::ALL {
            let built = cfg!(feature = "p521") || alg != KeyAlgorithm::P521;
            let built = built && (cfg!(feature = "rsa") || !alg.is_rsa());
            assert_eq!(alg.is_built(), built, "{alg}");
            if !built {
                assert!(matches!(
                    PrivateKey::generate(alg, &mut rng),
                    Err(Error::AlgorithmNotBuilt { algorithm, .. }) if algorithm == alg
                ));
            }
        }
        assert!(KeyAlgorithm::P384.is_built());
        let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        assert_eq!(
            PrivateKey::from_pkcs8_der(&der).unwrap().public_key(),
            key.public_key()
        );
    }

    /// RFC 6979 A.2.7: P-521, SHA-512, message "sample".
    #[cfg(feature = "p521")]
    #[test]
    fn p521_rfc6979_vector() {
        let x = hex::decode(concat!(
            "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75C",
            "AA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B8353",
            "8"
        ))
        .unwrap();
        let sk = ecdsa::SigningKey::<p521::NistP521>::from_slice(&x).unwrap();
        let sig = sign_p521(&sk, b"sample").unwrap();
        let r = hex::encode_upper(sig.r().to_bytes());
        let s = hex::encode_upper(sig.s().to_bytes());
        assert_eq!(
            r,
            "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F174E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA"
        );
        assert_eq!(
            s,
            "00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF282623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A"
        );
    }
}
