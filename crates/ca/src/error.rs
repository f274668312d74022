//! The crate's one error type.

use alloc::string::String;

/// Everything that can go wrong generating a root, issuing, revoking or importing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Root validity outside the draft's 1–10 years (§3.4.1).
    #[error("root validity of {years} years is not allowed: choose 1 to 10 years (draft §3.4.1)")]
    RootValidity {
        /// The number of years asked for.
        years: u32,
    },
    /// Device certificate validity longer than 90 days (§3.4.5) or zero.
    #[error(
        "device certificate validity of {seconds} s is not allowed: choose more than 0 and at most 90 days (draft §3.4.5)"
    )]
    DeviceValidity {
        /// The validity asked for, in seconds.
        seconds: u64,
    },
    /// A server name, domain, device ID or DNS name is not usable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// Which field (`"server name"`, `"domain"`, `"device ID"`, `"DNS name"`).
        what: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The device request has no DNS name and no IP address.
    #[error("a device certificate needs at least one DNS name or IP address")]
    NoSubjectAltNames,
    /// A time outside what X.509 can encode (before 1970 or after 9999).
    #[error("time {seconds} s after the Unix epoch cannot be encoded in a certificate")]
    TimeOutOfRange {
        /// Seconds since the Unix epoch.
        seconds: u64,
    },
    /// A device RSA key outside 3072–8192 bits (draft §3.4.3 sets the floor; lantrust-csr's
    /// policy the same ceiling), or not a valid RSAPublicKey.
    #[error(
        "device RSA key of {bits} bits: this CA issues for RSA keys of 3072 to 8192 bits (draft §3.4.3)"
    )]
    DeviceRsaSize {
        /// The modulus size found (0 when the key does not parse).
        bits: usize,
    },
    /// A key problem (unsupported device key, malformed PKCS#8, signing failure).
    #[error(transparent)]
    Key(#[from] lantrust_keys::Error),
    /// Malformed DER (certificate, CRL) with the byte offset when known.
    #[error("malformed {what} at byte offset {offset:?}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Byte offset of the problem, when the decoder knows it.
        offset: Option<usize>,
        /// The decoder's description.
        detail: String,
    },
    /// A PEM block with the wrong label, or no PEM block at all.
    #[error("expected a PEM block labelled \"{expected}\", found {found:?}")]
    PemLabel {
        /// The label required.
        expected: &'static str,
        /// The label found (empty if none).
        found: String,
    },
    /// The imported root's private key does not belong to its certificate.
    #[error("the private key does not match the root certificate's public key")]
    KeyMismatch,
    /// The imported certificate cannot serve as our root.
    #[error("not a usable root certificate: {0}")]
    NotARoot(&'static str),
    /// A rotation was given the old root's own key: draft §4.11 forbids reusing root key
    /// material.
    #[error("the new root must have a new key (draft §4.11: root key material is never reused)")]
    KeyReused,
    /// A subordinate CA certificate (`Root::from_subordinate`) is not what was requested; the
    /// text says what to fix.
    #[error("not a usable subordinate CA certificate: {0}")]
    NotASubordinate(String),
    /// Encoding failed (a length overflow; not caused by input).
    #[error("encoding failed: {0}")]
    Encoding(String),
}

impl Error {
    pub(crate) fn der(what: &'static str, err: der::Error) -> Self {
        Self::Malformed {
            what,
            offset: err.position().and_then(|p| usize::try_from(p).ok()),
            detail: alloc::format!("{}", err.kind()),
        }
    }

    pub(crate) fn encoding(err: impl core::fmt::Display) -> Self {
        Self::Encoding(alloc::format!("{err}"))
    }
}
