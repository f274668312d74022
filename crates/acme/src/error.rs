//! The crate's single error type.

use alloc::boxed::Box;
use alloc::string::String;

use crate::objects::Problem;

/// Everything that can go wrong in lantrust-acme.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON document could not be parsed into the expected ACME object.
    #[error("invalid JSON at byte {offset}: {message}; send an RFC 8555 object")]
    Json {
        /// Byte offset in the input where parsing failed.
        offset: usize,
        /// What the JSON parser complained about.
        message: String,
    },
    /// A field that must be unpadded base64url (RFC 7515 §2) was not.
    #[error("field `{field}` is not unpadded base64url (RFC 7515 §2)")]
    Base64 {
        /// The name of the offending field.
        field: &'static str,
    },
    /// The JWS `alg` is not one ACME accepts (`none` and HMAC are refused by RFC 8555 §6.2).
    #[error("JWS algorithm `{0}` is not accepted; use ES256, ES384, ES512 or RS256")]
    UnsupportedAlgorithm(String),
    /// An algorithm ACME accepts, but left out of this build (a device build has ES384 only).
    #[error(
        "JWS algorithm {alg} is not built into this lantrust-acme (enable the `{feature}` feature)"
    )]
    AlgorithmNotBuilt {
        /// The algorithm.
        alg: crate::jose::Algorithm,
        /// The Cargo feature that adds it.
        feature: &'static str,
    },
    /// The protected header carries both `jwk` and `kid` (RFC 8555 §6.2 forbids it).
    #[error("JWS protected header has both `jwk` and `kid`; send exactly one")]
    JwkAndKid,
    /// The protected header carries neither `jwk` nor `kid`.
    #[error("JWS protected header has neither `jwk` nor `kid`; send exactly one")]
    NoKey,
    /// A required protected-header field is missing (RFC 8555 §6.2: `nonce`, `url`).
    #[error("JWS protected header lacks `{0}` (RFC 8555 §6.2)")]
    MissingHeader(&'static str),
    /// A header parameter is present that ACME does not allow (`b64`, `crit`, unprotected header).
    #[error("JWS header parameter `{0}` is not allowed in ACME")]
    ForbiddenHeader(String),
    /// The key type does not fit the algorithm (e.g. an RSA key with ES384, P-256 with ES384).
    #[error("JWK key type or curve does not match JWS algorithm `{0}`")]
    KeyAlgMismatch(String),
    /// A JWK is malformed or names an unsupported key type or curve.
    #[error("invalid JWK: {0}")]
    InvalidKey(&'static str),
    /// An RSA account key is shorter than 2048 bits.
    #[error("RSA key has {bits} bits; at least 2048 are required")]
    RsaKeyTooSmall {
        /// Size of the offered modulus in bits.
        bits: usize,
    },
    /// The signature has the wrong length or encoding for its algorithm.
    #[error("JWS signature is malformed for its algorithm (wrong length or encoding)")]
    MalformedSignature,
    /// The ECDSA signature is not in canonical low-S form.
    #[error("ECDSA signature is not canonical (high S); re-sign with a normalised signature")]
    NonCanonicalSignature,
    /// The signature does not verify against the key.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// Signing failed in the underlying crypto library.
    #[error("signing failed: {0}")]
    Signing(&'static str),
    /// The server answered with an RFC 7807 problem document.
    #[error("ACME server refused: {0}")]
    Problem(Box<Problem>),
    /// The peer broke the ACME protocol (unexpected status, missing header, bad state).
    #[error("ACME protocol error: {0}")]
    Protocol(String),
    /// A certificate could not be parsed (e.g. for the RFC 9773 CertID).
    #[error("invalid certificate: {0}")]
    Certificate(String),
}

impl Error {
    /// Wrap a serde_json error, converting its line/column into a byte offset in `input`.
    pub(crate) fn json(input: &[u8], err: &serde_json::Error) -> Self {
        let mut offset = 0usize;
        let mut line = 1usize;
        for (i, b) in input.iter().enumerate() {
            if line == err.line() {
                offset = i.saturating_add(err.column().saturating_sub(1));
                break;
            }
            if *b == b'\n' {
                line = line.saturating_add(1);
            }
        }
        if line < err.line() || input.is_empty() {
            offset = input.len();
        }
        Error::Json {
            offset: offset.min(input.len()),
            message: alloc::format!("{err}"),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T> = core::result::Result<T, Error>;
