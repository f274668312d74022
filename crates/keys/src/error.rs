//! The crate's one error type.

use alloc::string::String;

use spki::ObjectIdentifier;

/// Everything that can go wrong with keys and signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The DER (inside PKCS#8, SPKI or a signature) is malformed.
    #[error("malformed {what} at byte offset {offset:?}: {detail}")]
    Malformed {
        /// What was being decoded (`"PKCS#8 private key"`, `"public key"`, …).
        what: &'static str,
        /// Byte offset of the problem in the input, when the decoder knows it.
        offset: Option<usize>,
        /// The decoder's description.
        detail: String,
    },
    /// The PEM text is not a single `-----BEGIN PRIVATE KEY-----` (PKCS#8) block.
    #[error(
        "expected a PEM block labelled \"{expected}\", found {found:?}; convert traditional keys with `openssl pkcs8 -topk8 -nocrypt`"
    )]
    PemLabel {
        /// The label required.
        expected: &'static str,
        /// The label found (empty if the PEM framing itself was broken).
        found: String,
    },
    /// The key's algorithm (or curve) is not one of P-384, P-521, RSA-3072 or RSA-4096.
    #[error("unsupported key algorithm {oid}: use P-384, P-521, RSA-3072 or RSA-4096")]
    UnsupportedAlgorithm {
        /// The algorithm or named-curve OID found.
        oid: ObjectIdentifier,
    },
    /// The RSA key has a modulus size other than 3072 or 4096 bits.
    #[error("RSA key has {bits} bits; lantrust accepts only 3072 or 4096 (draft §3.4.1, §3.4.3)")]
    UnsupportedRsaSize {
        /// The modulus size found.
        bits: usize,
    },
    /// The signature algorithm does not fit the key (or is not supported).
    #[error("signature algorithm {oid} is not supported for a {key} key")]
    UnsupportedSignatureAlgorithm {
        /// The signature algorithm OID.
        oid: ObjectIdentifier,
        /// The key type it was used with.
        key: &'static str,
    },
    /// The key material is inconsistent or out of range (bad scalar, RSA components that fail checks).
    #[error("invalid {what} key material: {detail}")]
    InvalidKey {
        /// Which key type.
        what: &'static str,
        /// The library's description.
        detail: String,
    },
    /// Key generation failed (the RNG failed or the RSA prime search gave up).
    #[error("could not generate a {algorithm} key: {detail}")]
    Generation {
        /// The algorithm requested.
        algorithm: crate::KeyAlgorithm,
        /// The library's description.
        detail: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// Encoding failed (out of memory or a length overflow; not caused by input).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// The key's algorithm is supported by lantrust but was left out of this build (a device
    /// build links P-384 only; see the crate's Cargo features).
    #[error(
        "{algorithm} keys are not built into this lantrust-keys (enable the `{feature}` feature)"
    )]
    AlgorithmNotBuilt {
        /// The algorithm asked for or found.
        algorithm: crate::KeyAlgorithm,
        /// The Cargo feature that adds it.
        feature: &'static str,
    },
    /// An algorithm name did not parse.
    #[error("unknown key algorithm {0:?}: use p384, p521, rsa3072 or rsa4096")]
    UnknownAlgorithmName(String),
}

impl Error {
    pub(crate) fn der(what: &'static str, err: der::Error) -> Self {
        Self::Malformed {
            what,
            offset: err.position().and_then(|p| usize::try_from(p).ok()),
            detail: alloc::format!("{}", err.kind()),
        }
    }

    pub(crate) fn pkcs8(what: &'static str, err: pkcs8::Error) -> Self {
        match err {
            pkcs8::Error::Asn1(e) => Self::der(what, e),
            pkcs8::Error::PublicKey(spki::Error::Asn1(e)) => Self::der(what, e),
            pkcs8::Error::PublicKey(spki::Error::OidUnknown { oid }) => {
                Self::UnsupportedAlgorithm { oid }
            }
            other => Self::Malformed {
                what,
                offset: None,
                detail: alloc::format!("{other}"),
            },
        }
    }

    pub(crate) fn spki(what: &'static str, err: spki::Error) -> Self {
        match err {
            spki::Error::Asn1(e) => Self::der(what, e),
            spki::Error::OidUnknown { oid } => Self::UnsupportedAlgorithm { oid },
            other => Self::Malformed {
                what,
                offset: None,
                detail: alloc::format!("{other}"),
            },
        }
    }
}
