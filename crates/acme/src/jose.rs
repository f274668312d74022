//! JOSE for ACME (RFC 8555 §6.2): JWK (RFC 7517/7518) with RFC 7638 thumbprints, flattened JWS
//! (RFC 7515 §7.2.2) signing and verification, key authorizations (RFC 8555 §8.1), the dns-01
//! digest (§8.4) and the tls-alpn-01 `acmeIdentifier` extension value (RFC 8737 §3).

#[cfg(any(feature = "p521", feature = "rsa"))]
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "p521")]
use ecdsa::signature::hazmat::PrehashVerifier;
use ecdsa::signature::{Signer, Verifier};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::b64;
use crate::error::{Error, Result};

/// Smallest RSA modulus accepted for account keys (RFC 8555 leaves it to the server; 2048 is the floor
/// every major CA uses).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (bounds verification cost).
pub const MAX_RSA_BITS: usize = 8192;

// ---------------------------------------------------------------------------------------------
// Algorithms

/// A JWS algorithm ACME accepts (RFC 8555 §6.2: asymmetric only; never `none` or MAC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384 (lantrust's default).
    #[default]
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::Rs256 => "RS256",
        }
    }

    /// Parse an `alg` value, refusing `none`, HMAC and everything else ACME does not use.
    pub fn parse(alg: &str) -> Result<Self> {
        match alg {
            "ES256" => Ok(Algorithm::Es256),
            "ES384" => Ok(Algorithm::Es384),
            "ES512" => Ok(Algorithm::Es512),
            "RS256" => Ok(Algorithm::Rs256),
            other => Err(Error::UnsupportedAlgorithm(other.to_string())),
        }
    }

    /// Whether this build signs and verifies `alg`: ES384 always; ES256, ES512 and RS256 with the
    /// `p256`, `p521` and `rsa` Cargo features (all on by default).
    pub const fn is_built(self) -> bool {
        match self {
            Algorithm::Es256 => cfg!(feature = "p256"),
            Algorithm::Es384 => true,
            Algorithm::Es512 => cfg!(feature = "p521"),
            Algorithm::Rs256 => cfg!(feature = "rsa"),
        }
    }

    /// The error for an algorithm this build leaves out.
    #[cfg_attr(
        all(feature = "p256", feature = "p521", feature = "rsa"),
        allow(dead_code)
    )]
    fn not_built(self) -> Error {
        Error::AlgorithmNotBuilt {
            alg: self,
            feature: match self {
                Algorithm::Es256 => "p256",
                Algorithm::Es384 => "default",
                Algorithm::Es512 => "p521",
                Algorithm::Rs256 => "rsa",
            },
        }
    }

    /// Length of a raw `r || s` signature for ECDSA algorithms (RFC 7518 §3.4).
    fn ec_signature_len(self) -> Option<usize> {
        match self {
            Algorithm::Es256 => Some(64),
            Algorithm::Es384 => Some(96),
            Algorithm::Es512 => Some(132),
            Algorithm::Rs256 => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// JWK

/// A public JSON Web Key (RFC 7517) of the types ACME uses. Private members are never parsed or emitted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jwk {
    /// An elliptic-curve key (RFC 7518 §6.2).
    Ec {
        /// `crv`: `P-256`, `P-384` or `P-521`.
        crv: String,
        /// `x` coordinate bytes.
        x: Vec<u8>,
        /// `y` coordinate bytes.
        y: Vec<u8>,
    },
    /// An RSA key (RFC 7518 §6.3).
    Rsa {
        /// Modulus, big-endian.
        n: Vec<u8>,
        /// Public exponent, big-endian.
        e: Vec<u8>,
    },
    /// An octet key pair (RFC 8037); parsed and thumbprinted, never accepted for ACME signatures.
    Okp {
        /// `crv`, e.g. `Ed25519`.
        crv: String,
        /// Public key bytes.
        x: Vec<u8>,
    },
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    d: Option<Value>,
}

impl Jwk {
    /// Parse a JWK from JSON bytes.
    pub fn from_json(input: &[u8]) -> Result<Self> {
        crate::objects::from_json(input)
    }

    fn from_raw(raw: RawJwk) -> Result<Self> {
        if raw.d.is_some() {
            return Err(Error::InvalidKey(
                "JWK contains private key material (`d`); send the public key only",
            ));
        }
        let need = |v: Option<String>, field: &'static str| -> Result<Vec<u8>> {
            let s = v.ok_or(Error::InvalidKey("JWK lacks a required member"))?;
            b64::decode(&s, field)
        };
        match raw.kty.as_str() {
            "EC" => {
                let crv = raw.crv.ok_or(Error::InvalidKey("EC JWK lacks `crv`"))?;
                let size = match crv.as_str() {
                    "P-256" => 32,
                    "P-384" => 48,
                    "P-521" => 66,
                    _ => {
                        return Err(Error::InvalidKey(
                            "unsupported EC curve; use P-256, P-384 or P-521",
                        ));
                    }
                };
                let x = need(raw.x, "x")?;
                let y = need(raw.y, "y")?;
                // RFC 7518 §6.2.1.2: coordinates are the full field size, no shortening.
                if x.len() != size || y.len() != size {
                    return Err(Error::InvalidKey(
                        "EC coordinate length does not match the curve",
                    ));
                }
                Ok(Jwk::Ec { crv, x, y })
            }
            "RSA" => {
                let n = need(raw.n, "n")?;
                let e = need(raw.e, "e")?;
                // RFC 7518 §6.3.1: minimal big-endian, no leading zero octets.
                if n.first() == Some(&0) || e.first() == Some(&0) || n.is_empty() || e.is_empty() {
                    return Err(Error::InvalidKey(
                        "RSA `n`/`e` must be minimal big-endian integers",
                    ));
                }
                Ok(Jwk::Rsa { n, e })
            }
            "OKP" => {
                let crv = raw.crv.ok_or(Error::InvalidKey("OKP JWK lacks `crv`"))?;
                let x = need(raw.x, "x")?;
                Ok(Jwk::Okp { crv, x })
            }
            _ => Err(Error::InvalidKey("unsupported `kty`; use EC or RSA")),
        }
    }

    /// The RFC 7638 canonical JSON: required members only, lexicographic order, no whitespace.
    pub fn canonical_json(&self) -> String {
        match self {
            Jwk::Ec { crv, x, y } => alloc::format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                json_escape(crv),
                b64::encode(x),
                b64::encode(y)
            ),
            Jwk::Rsa { n, e } => {
                alloc::format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64::encode(e),
                    b64::encode(n)
                )
            }
            Jwk::Okp { crv, x } => {
                alloc::format!(
                    r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                    json_escape(crv),
                    b64::encode(x)
                )
            }
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, raw bytes.
    pub fn thumbprint_bytes(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json().as_bytes()).into()
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url (as used in key authorizations).
    pub fn thumbprint(&self) -> String {
        b64::encode(&self.thumbprint_bytes())
    }

    /// Decode into a key usable for verification, enforcing key-size rules.
    pub fn to_public_key(&self) -> Result<PublicKey> {
        match self {
            Jwk::Ec { crv, x, y } => {
                let mut sec1 = Vec::with_capacity(1 + x.len() + y.len());
                sec1.push(0x04);
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                let bad = |_| Error::InvalidKey("EC point is not on the curve");
                match crv.as_str() {
                    #[cfg(feature = "p256")]
                    "P-256" => Ok(PublicKey::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?,
                    )),
                    #[cfg(not(feature = "p256"))]
                    "P-256" => Err(Algorithm::Es256.not_built()),
                    "P-384" => Ok(PublicKey::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?,
                    )),
                    #[cfg(feature = "p521")]
                    "P-521" => Ok(PublicKey::P521(Box::new(
                        ecdsa::VerifyingKey::<p521::NistP521>::from_sec1_bytes(&sec1)
                            .map_err(bad)?,
                    ))),
                    #[cfg(not(feature = "p521"))]
                    "P-521" => Err(Algorithm::Es512.not_built()),
                    _ => Err(Error::InvalidKey(
                        "unsupported EC curve; use P-256, P-384 or P-521",
                    )),
                }
            }
            #[cfg(not(feature = "rsa"))]
            Jwk::Rsa { .. } => Err(Algorithm::Rs256.not_built()),
            #[cfg(feature = "rsa")]
            Jwk::Rsa { n, e } => {
                let bits = n
                    .len()
                    .saturating_mul(8)
                    .saturating_sub(n.first().map_or(8, |b| b.leading_zeros() as usize));
                if bits < MIN_RSA_BITS {
                    return Err(Error::RsaKeyTooSmall { bits });
                }
                let key = rsa::RsaPublicKey::new_with_max_size(
                    rsa::BigUint::from_bytes_be(n),
                    rsa::BigUint::from_bytes_be(e),
                    MAX_RSA_BITS,
                )
                .map_err(|_| {
                    Error::InvalidKey("RSA key rejected (exponent or size out of range)")
                })?;
                Ok(PublicKey::Rsa(Box::new(key)))
            }
            Jwk::Okp { .. } => Err(Error::InvalidKey(
                "OKP keys are not accepted for ACME; use EC or RSA",
            )),
        }
    }
}

fn json_escape(s: &str) -> String {
    // Curve names are ASCII identifiers; serde_json does the escaping for anything exotic.
    let v = serde_json::to_string(s).unwrap_or_default();
    v.trim_matches('"').to_string()
}

impl Serialize for Jwk {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        let v: Value =
            serde_json::from_str(&self.canonical_json()).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let raw = RawJwk::deserialize(d)?;
        Jwk::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Public keys

/// A decoded public key ready to verify JWS signatures. Cache it per account: decoding is the
/// expensive part of a JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// P-256.
    #[cfg(feature = "p256")]
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521.
    #[cfg(feature = "p521")]
    P521(Box<ecdsa::VerifyingKey<p521::NistP521>>),
    /// RSA (2048..=8192 bits).
    #[cfg(feature = "rsa")]
    Rsa(Box<rsa::RsaPublicKey>),
}

impl PublicKey {
    /// The JWK of this key.
    pub fn to_jwk(&self) -> Jwk {
        fn ec(crv: &str, point: &[u8], size: usize) -> Jwk {
            let x = point.get(1..1 + size).unwrap_or_default().to_vec();
            let y = point
                .get(1 + size..1 + 2 * size)
                .unwrap_or_default()
                .to_vec();
            Jwk::Ec {
                crv: crv.to_string(),
                x,
                y,
            }
        }
        match self {
            #[cfg(feature = "p256")]
            PublicKey::P256(k) => ec("P-256", k.to_encoded_point(false).as_bytes(), 32),
            PublicKey::P384(k) => ec("P-384", k.to_encoded_point(false).as_bytes(), 48),
            #[cfg(feature = "p521")]
            PublicKey::P521(k) => ec("P-521", k.to_encoded_point(false).as_bytes(), 66),
            #[cfg(feature = "rsa")]
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                Jwk::Rsa {
                    n: k.n().to_bytes_be(),
                    e: k.e().to_bytes_be(),
                }
            }
        }
    }

    /// Whether this key can verify `alg` signatures (the key type and curve must match exactly).
    pub fn supports(&self, alg: Algorithm) -> bool {
        match self {
            #[cfg(feature = "p256")]
            PublicKey::P256(_) => alg == Algorithm::Es256,
            PublicKey::P384(_) => alg == Algorithm::Es384,
            #[cfg(feature = "p521")]
            PublicKey::P521(_) => alg == Algorithm::Es512,
            #[cfg(feature = "rsa")]
            PublicKey::Rsa(_) => alg == Algorithm::Rs256,
        }
    }

    /// Verify `signature` over `message` (the JWS signing input) for `alg`.
    ///
    /// ECDSA signatures must be raw `r || s` of exactly the curve's length (RFC 7518 §3.4) and, unless
    /// `allow_high_s`, in low-S form (the canonical one of the two valid encodings).
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
        allow_high_s: bool,
    ) -> Result<()> {
        if !self.supports(alg) {
            return Err(Error::KeyAlgMismatch(alg.as_str().to_string()));
        }
        if let Some(len) = alg.ec_signature_len()
            && signature.len() != len
        {
            return Err(Error::MalformedSignature);
        }
        match self {
            #[cfg(feature = "p256")]
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Error::MalformedSignature)?;
                if !allow_high_s && sig.normalize_s().is_some() {
                    return Err(Error::NonCanonicalSignature);
                }
                k.verify(message, &sig).map_err(|_| Error::BadSignature)
            }
            PublicKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Error::MalformedSignature)?;
                if !allow_high_s && sig.normalize_s().is_some() {
                    return Err(Error::NonCanonicalSignature);
                }
                k.verify(message, &sig).map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "p521")]
            PublicKey::P521(k) => {
                let sig = p521::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Error::MalformedSignature)?;
                if !allow_high_s && sig.normalize_s().is_some() {
                    return Err(Error::NonCanonicalSignature);
                }
                // p521 0.13 has no DigestPrimitive: hash with SHA-512 (RFC 7518 §3.4) ourselves.
                let digest = sha2::Sha512::digest(message);
                k.verify_prehash(&digest, &sig)
                    .map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "rsa")]
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                if signature.len() != k.size() {
                    return Err(Error::MalformedSignature);
                }
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| Error::MalformedSignature)?;
                let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.as_ref().clone());
                vk.verify(message, &sig).map_err(|_| Error::BadSignature)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Account (signing) keys

/// A private account key. Not `Clone`; `Debug` never prints key material; the inner keys zeroize
/// their secrets on drop.
#[non_exhaustive]
pub enum AccountKey {
    /// P-256 (ES256).
    #[cfg(feature = "p256")]
    P256(p256::ecdsa::SigningKey),
    /// P-384 (ES384), the default.
    P384(p384::ecdsa::SigningKey),
    /// P-521 (ES512).
    #[cfg(feature = "p521")]
    P521(Box<ecdsa::SigningKey<p521::NistP521>>),
    /// RSA (RS256).
    #[cfg(feature = "rsa")]
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({}, [secret key elided])", self.algorithm())
    }
}

impl AccountKey {
    /// Generate a fresh EC key for `alg` (ES256/ES384/ES512) from the caller's RNG. RSA keys are
    /// imported with [`AccountKey::from_rsa`] (generation is slow and not needed by lantrust).
    pub fn generate(alg: Algorithm, rng: &mut impl CryptoRngCore) -> Result<Self> {
        match alg {
            #[cfg(feature = "p256")]
            Algorithm::Es256 => Ok(AccountKey::P256(p256::ecdsa::SigningKey::random(rng))),
            Algorithm::Es384 => Ok(AccountKey::P384(p384::ecdsa::SigningKey::random(rng))),
            #[cfg(feature = "p521")]
            Algorithm::Es512 => Ok(AccountKey::P521(Box::new(ecdsa::SigningKey::<
                p521::NistP521,
            >::random(rng)))),
            #[cfg(not(feature = "p256"))]
            Algorithm::Es256 => Err(alg.not_built()),
            #[cfg(not(feature = "p521"))]
            Algorithm::Es512 => Err(alg.not_built()),
            Algorithm::Rs256 => Err(Error::Signing(
                "RSA account keys are imported with AccountKey::from_rsa",
            )),
        }
    }

    /// Import an EC private scalar (big-endian, curve size) for `alg`.
    pub fn from_ec_bytes(alg: Algorithm, secret: &[u8]) -> Result<Self> {
        let bad = |_| Error::InvalidKey("EC private scalar is out of range or the wrong length");
        match alg {
            #[cfg(feature = "p256")]
            Algorithm::Es256 => Ok(AccountKey::P256(
                p256::ecdsa::SigningKey::from_slice(secret).map_err(bad)?,
            )),
            Algorithm::Es384 => Ok(AccountKey::P384(
                p384::ecdsa::SigningKey::from_slice(secret).map_err(bad)?,
            )),
            #[cfg(feature = "p521")]
            Algorithm::Es512 => Ok(AccountKey::P521(Box::new(
                ecdsa::SigningKey::<p521::NistP521>::from_slice(secret).map_err(bad)?,
            ))),
            #[cfg(not(feature = "p256"))]
            Algorithm::Es256 => Err(alg.not_built()),
            #[cfg(not(feature = "p521"))]
            Algorithm::Es512 => Err(alg.not_built()),
            Algorithm::Rs256 => Err(Error::InvalidKey(
                "RS256 needs an RSA key; use AccountKey::from_rsa",
            )),
        }
    }

    /// The EC private scalar for persistence (zeroized when dropped); `None` for RSA.
    pub fn ec_secret_bytes(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let v = match self {
            #[cfg(feature = "p256")]
            AccountKey::P256(k) => k.to_bytes().to_vec(),
            AccountKey::P384(k) => k.to_bytes().to_vec(),
            #[cfg(feature = "p521")]
            AccountKey::P521(k) => k.to_bytes().to_vec(),
            #[cfg(feature = "rsa")]
            AccountKey::Rsa(_) => return None,
        };
        Some(zeroize::Zeroizing::new(v))
    }

    /// Import an RSA private key (≥ 2048 bits) for RS256.
    #[cfg(feature = "rsa")]
    pub fn from_rsa(key: rsa::RsaPrivateKey) -> Result<Self> {
        use rsa::traits::PublicKeyParts;
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(Error::RsaKeyTooSmall { bits });
        }
        Ok(AccountKey::Rsa(Box::new(
            rsa::pkcs1v15::SigningKey::<Sha256>::new(key),
        )))
    }

    /// The JWS algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            #[cfg(feature = "p256")]
            AccountKey::P256(_) => Algorithm::Es256,
            AccountKey::P384(_) => Algorithm::Es384,
            #[cfg(feature = "p521")]
            AccountKey::P521(_) => Algorithm::Es512,
            #[cfg(feature = "rsa")]
            AccountKey::Rsa(_) => Algorithm::Rs256,
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match self {
            #[cfg(feature = "p256")]
            AccountKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            AccountKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            #[cfg(feature = "p521")]
            AccountKey::P521(k) => PublicKey::P521(Box::new(*k.verifying_key())),
            #[cfg(feature = "rsa")]
            AccountKey::Rsa(k) => {
                use rsa::signature::Keypair;
                PublicKey::Rsa(Box::new(k.verifying_key().as_ref().clone()))
            }
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> Jwk {
        self.public_key().to_jwk()
    }

    /// Sign a JWS signing input. ECDSA uses RFC 6979 deterministic nonces and emits low-S `r || s`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            #[cfg(feature = "p256")]
            AccountKey::P256(k) => {
                let s: p256::ecdsa::Signature = k
                    .try_sign(message)
                    .map_err(|_| Error::Signing("ECDSA P-256"))?;
                Ok(s.normalize_s().unwrap_or(s).to_bytes().to_vec())
            }
            AccountKey::P384(k) => {
                let s: p384::ecdsa::Signature = k
                    .try_sign(message)
                    .map_err(|_| Error::Signing("ECDSA P-384"))?;
                Ok(s.normalize_s().unwrap_or(s).to_bytes().to_vec())
            }
            #[cfg(feature = "p521")]
            AccountKey::P521(k) => {
                // p521 0.13 signs deterministically only with `getrandom`, and ecdsa's RFC 6979 helper
                // insists the digest be as wide as the field (64 ≠ 66 bytes): derive k with rfc6979
                // ourselves, keyed by the secret scalar and SHA-512(message) (RFC 7518 §3.4).
                use ecdsa::hazmat::SignPrimitive;
                use p521::elliptic_curve::ff::PrimeField;
                let digest = sha2::Sha512::digest(message);
                let z = ecdsa::hazmat::bits2field::<p521::NistP521>(&digest)
                    .map_err(|_| Error::Signing("ECDSA P-521"))?;
                let scalar: &p521::Scalar = k.as_nonzero_scalar().as_ref();
                let mut drbg = rfc6979::HmacDrbg::<sha2::Sha512>::new(&scalar.to_repr(), &z, &[]);
                let k_scalar = loop {
                    let mut k_bytes = p521::FieldBytes::default();
                    drbg.fill_bytes(&mut k_bytes);
                    // Keep the 521 low bits (the top 7 of 528 are not part of the field).
                    if let Some(top) = k_bytes.first_mut() {
                        *top &= 0x01;
                    }
                    if let Some(k) = Option::<p521::Scalar>::from(p521::Scalar::from_repr(k_bytes))
                        && !bool::from(p521::elliptic_curve::Field::is_zero(&k))
                    {
                        break k;
                    }
                };
                let (s, _) = scalar
                    .try_sign_prehashed::<p521::Scalar>(k_scalar, &z)
                    .map_err(|_| Error::Signing("ECDSA P-521"))?;
                let s: p521::ecdsa::Signature = s;
                Ok(s.normalize_s().unwrap_or(s).to_bytes().to_vec())
            }
            #[cfg(feature = "rsa")]
            AccountKey::Rsa(k) => {
                use rsa::signature::SignatureEncoding;
                let s = k
                    .try_sign(message)
                    .map_err(|_| Error::Signing("RSA PKCS#1 v1.5"))?;
                Ok(s.to_vec())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JWS

/// A JWS in flattened JSON serialization (RFC 7515 §7.2.2), the only form ACME uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jws {
    /// base64url(UTF-8(JWS Protected Header)).
    pub protected: String,
    /// base64url(payload); empty for POST-as-GET.
    pub payload: String,
    /// base64url(signature).
    pub signature: String,
}

impl<'de> Deserialize<'de> for Jws {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            protected: Option<String>,
            payload: Option<String>,
            signature: Option<String>,
            header: Option<Value>,
            signatures: Option<Value>,
        }
        let r = Raw::deserialize(d)?;
        if r.header.is_some() {
            return Err(serde::de::Error::custom(
                "unprotected `header` is not allowed in ACME (RFC 8555 §6.2)",
            ));
        }
        if r.signatures.is_some() {
            return Err(serde::de::Error::custom(
                "general JWS serialization is not allowed; use flattened",
            ));
        }
        match (r.protected, r.payload, r.signature) {
            (Some(protected), Some(payload), Some(signature)) => Ok(Jws {
                protected,
                payload,
                signature,
            }),
            _ => Err(serde::de::Error::custom(
                "JWS needs `protected`, `payload` and `signature`",
            )),
        }
    }
}

/// How a request names its signer (RFC 8555 §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    /// An embedded key (newAccount, revokeCert with the certificate key, keyChange inner JWS).
    Jwk(Jwk),
    /// An account URL.
    Kid(String),
}

/// The JWS Protected Header fields ACME uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedHeader {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// The signer.
    pub key: KeyRef,
    /// Anti-replay nonce (absent only in the inner keyChange JWS).
    pub nonce: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    jwk: Option<Jwk>,
    kid: Option<String>,
    nonce: Option<String>,
    url: Option<String>,
    b64: Option<Value>,
    crit: Option<Value>,
}

/// A parsed, not yet verified, JWS.
#[derive(Clone, Debug)]
pub struct ParsedJws {
    /// The decoded protected header.
    pub header: ProtectedHeader,
    /// The decoded payload (empty for POST-as-GET).
    pub payload: Vec<u8>,
    signature: Vec<u8>,
    signing_input: Vec<u8>,
}

/// Whether the JWS is an outer request (needs `nonce`) or the inner keyChange JWS (must not have one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsKind {
    /// A request body: `nonce` and `url` required.
    Request,
    /// The inner JWS of keyChange (RFC 8555 §7.3.5): `jwk` and `url`, no `nonce`.
    KeyChangeInner,
}

impl ParsedJws {
    /// Parse a flattened JWS from request-body bytes and check the header rules of RFC 8555 §6.2.
    pub fn parse(body: &[u8], kind: JwsKind) -> Result<Self> {
        let jws: Jws = crate::objects::from_json(body)?;
        Self::from_jws(&jws, kind)
    }

    /// Check a [`Jws`] already deserialised.
    pub fn from_jws(jws: &Jws, kind: JwsKind) -> Result<Self> {
        let header_bytes = b64::decode(&jws.protected, "protected")?;
        let raw: RawHeader = crate::objects::from_json(&header_bytes)?;
        if raw.b64.is_some() {
            // RFC 7797 unencoded payloads change what is signed; ACME never uses them.
            return Err(Error::ForbiddenHeader("b64".to_string()));
        }
        if raw.crit.is_some() {
            // We understand no extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
            return Err(Error::ForbiddenHeader("crit".to_string()));
        }
        let alg = Algorithm::parse(raw.alg.as_deref().ok_or(Error::MissingHeader("alg"))?)?;
        let key = match (raw.jwk, raw.kid) {
            (Some(_), Some(_)) => return Err(Error::JwkAndKid),
            (Some(jwk), None) => KeyRef::Jwk(jwk),
            (None, Some(kid)) => KeyRef::Kid(kid),
            (None, None) => return Err(Error::NoKey),
        };
        let url = raw.url.ok_or(Error::MissingHeader("url"))?;
        match kind {
            JwsKind::Request => {
                if raw.nonce.is_none() {
                    return Err(Error::MissingHeader("nonce"));
                }
            }
            JwsKind::KeyChangeInner => {
                if raw.nonce.is_some() {
                    return Err(Error::ForbiddenHeader("nonce".to_string()));
                }
                if !matches!(key, KeyRef::Jwk(_)) {
                    return Err(Error::MissingHeader("jwk"));
                }
            }
        }
        if let Some(n) = &raw.nonce {
            // RFC 8555 §6.5.1: the nonce is base64url.
            b64::decode(n, "nonce")?;
        }
        let payload = b64::decode(&jws.payload, "payload")?;
        let signature = b64::decode(&jws.signature, "signature")?;
        let mut signing_input = Vec::with_capacity(jws.protected.len() + 1 + jws.payload.len());
        signing_input.extend_from_slice(jws.protected.as_bytes());
        signing_input.push(b'.');
        signing_input.extend_from_slice(jws.payload.as_bytes());
        Ok(ParsedJws {
            header: ProtectedHeader {
                alg,
                key,
                nonce: raw.nonce,
                url,
            },
            payload,
            signature,
            signing_input,
        })
    }

    /// Verify the signature with `key` (the embedded JWK's key, or the account's stored key).
    pub fn verify(&self, key: &PublicKey, allow_high_s: bool) -> Result<()> {
        key.verify(
            self.header.alg,
            &self.signing_input,
            &self.signature,
            allow_high_s,
        )
    }

    /// Verify with the embedded `jwk`; errors if the JWS names a `kid` instead.
    pub fn verify_embedded(&self, allow_high_s: bool) -> Result<PublicKey> {
        let KeyRef::Jwk(jwk) = &self.header.key else {
            return Err(Error::MissingHeader("jwk"));
        };
        let key = jwk.to_public_key()?;
        self.verify(&key, allow_high_s)?;
        Ok(key)
    }

    /// Whether this is a POST-as-GET (empty payload, RFC 8555 §6.3).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }
}

/// Sign an ACME request (RFC 8555 §6.2). `kid = None` embeds the JWK (newAccount, revokeCert by
/// certificate key); `nonce = None` only for the inner keyChange JWS; `payload = None` is POST-as-GET.
pub fn sign(
    key: &AccountKey,
    kid: Option<&str>,
    nonce: Option<&str>,
    url: &str,
    payload: Option<&[u8]>,
) -> Result<Jws> {
    let mut h = serde_json::Map::new();
    h.insert("alg".into(), Value::String(key.algorithm().as_str().into()));
    match kid {
        Some(kid) => {
            h.insert("kid".into(), Value::String(kid.into()));
        }
        None => {
            let jwk =
                serde_json::to_value(key.jwk()).map_err(|_| Error::Signing("JWK serialisation"))?;
            h.insert("jwk".into(), jwk);
        }
    }
    if let Some(n) = nonce {
        h.insert("nonce".into(), Value::String(n.into()));
    }
    h.insert("url".into(), Value::String(url.into()));
    let header = serde_json::to_vec(&Value::Object(h))
        .map_err(|_| Error::Signing("header serialisation"))?;
    let protected = b64::encode(&header);
    let payload = payload.map(b64::encode).unwrap_or_default();
    let mut input = Vec::with_capacity(protected.len() + 1 + payload.len());
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    input.extend_from_slice(payload.as_bytes());
    let signature = b64::encode(&key.sign(&input)?);
    Ok(Jws {
        protected,
        payload,
        signature,
    })
}

/// Build a keyChange request body (RFC 8555 §7.3.5): an inner JWS signed by `new_key` over
/// `{account, oldKey}`, which the caller then signs as the payload of an outer request with the old key.
pub fn key_change_inner(
    new_key: &AccountKey,
    old_key: &AccountKey,
    account_url: &str,
    key_change_url: &str,
) -> Result<Jws> {
    let inner = crate::objects::KeyChange {
        account: account_url.to_string(),
        old_key: old_key.jwk(),
    };
    let payload = crate::objects::to_json(&inner);
    sign(new_key, None, None, key_change_url, Some(&payload))
}

// ---------------------------------------------------------------------------------------------
// Challenge responses

/// The key authorization `token || '.' || base64url(thumbprint)` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, jwk: &Jwk) -> String {
    alloc::format!("{token}.{}", jwk.thumbprint())
}

/// The dns-01 TXT record value: base64url(SHA-256(key authorization)) (RFC 8555 §8.4).
pub fn dns01_txt_value(key_authorization: &str) -> String {
    b64::encode(&Sha256::digest(key_authorization.as_bytes()))
}

/// The http-01 resource path for a token (RFC 8555 §8.3).
pub fn http01_path(token: &str) -> String {
    alloc::format!("/.well-known/acme-challenge/{token}")
}

/// OID of the tls-alpn-01 `acmeIdentifier` extension (RFC 8737 §6.1): 1.3.6.1.5.5.7.1.31.
pub const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";

/// The DER `extnValue` contents of the critical `acmeIdentifier` extension (RFC 8737 §3):
/// an OCTET STRING holding SHA-256(key authorization).
pub fn tls_alpn01_extension_value(key_authorization: &str) -> [u8; 34] {
    let digest: [u8; 32] = Sha256::digest(key_authorization.as_bytes()).into();
    let mut out = [0u8; 34];
    out[0] = 0x04;
    out[1] = 0x20;
    out[2..].copy_from_slice(&digest);
    out
}

/// Whether a challenge token is acceptable: base64url, at least 128 bits (RFC 8555 §8.3).
pub fn token_is_valid(token: &str) -> bool {
    token.len() >= 22 && token.len() <= 256 && b64::decode(token, "token").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device build (`default-features = false`) signs and verifies ES384 only: the other
    /// algorithms fail with `AlgorithmNotBuilt` (or, for RSA keys, cannot be made at all), both
    /// for its own keys and for keys it is sent.
    #[test]
    fn algorithms_left_out_are_refused() {
        let mut rng = rand::rngs::OsRng;
        let built = [
            (Algorithm::Es256, cfg!(feature = "p256")),
            (Algorithm::Es384, true),
            (Algorithm::Es512, cfg!(feature = "p521")),
            (Algorithm::Rs256, cfg!(feature = "rsa")),
        ];
        for (alg, on) in built {
            assert_eq!(alg.is_built(), on, "{alg}");
            if alg == Algorithm::Rs256 {
                continue;
            }
            match AccountKey::generate(alg, &mut rng) {
                Ok(key) => {
                    assert!(on, "{alg}");
                    let sig = key.sign(b"input").unwrap();
                    let jwk = key.jwk();
                    let public = jwk.to_public_key().unwrap();
                    public.verify(alg, b"input", &sig, false).unwrap();
                }
                Err(Error::AlgorithmNotBuilt { alg: a, .. }) => assert!(!on && a == alg),
                Err(e) => panic!("{alg}: {e}"),
            }
        }
        // A P-521 JWK sent to a build without P-521 is refused as not built, not as malformed.
        let jwk = Jwk::Ec {
            crv: "P-521".into(),
            x: alloc::vec![0; 66],
            y: alloc::vec![0; 66],
        };
        if !Algorithm::Es512.is_built() {
            assert!(matches!(
                jwk.to_public_key(),
                Err(Error::AlgorithmNotBuilt {
                    alg: Algorithm::Es512,
                    feature: "p521"
                })
            ));
        }
    }
}
