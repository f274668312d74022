//! The crate's one error type.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::policy::Violation;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a DER-encoded PKCS#10 `CertificationRequest` (RFC 2986 §4).
    #[error(
        "the CSR is not a valid DER PKCS#10 CertificationRequest ({kind}) {offset}; \
         send the DER bytes or a PEM block labelled CERTIFICATE REQUEST"
    )]
    Der {
        /// Where in the DER input decoding stopped.
        offset: ByteOffset,
        /// What the DER decoder found wrong.
        kind: der::ErrorKind,
    },

    /// The input looked like PEM but its armour or base64 is broken.
    #[error(
        "the PEM CSR could not be decoded ({0}); check the BEGIN/END lines and the base64 body"
    )]
    Pem(der::pem::Error),

    /// A PEM block with a label other than `CERTIFICATE REQUEST`.
    #[error(
        "the PEM block is labelled {found:?}, not \"CERTIFICATE REQUEST\"; send the CSR, not a key or certificate"
    )]
    PemLabel {
        /// The label that was found.
        found: String,
    },

    /// The CSR was parsed but breaks the policy; every broken rule is listed.
    #[error("the CSR was rejected: {0}")]
    Rejected(Violations),

    /// The policy given to the builder cannot produce a compliant CSR.
    #[error("cannot build a compliant CSR: {0}")]
    Builder(&'static str),

    /// Generating the key or signing the CSR failed (from `lantrust-keys`).
    #[error("key generation or signing failed: {0}")]
    Key(String),

    /// Encoding the CSR failed.
    #[error("encoding the CSR failed ({0})")]
    Encode(der::Error),
}

impl Error {
    /// The policy violations, when the error is [`Error::Rejected`].
    pub fn violations(&self) -> &[Violation] {
        match self {
            Error::Rejected(v) => &v.0,
            _ => &[],
        }
    }

    pub(crate) fn der(err: der::Error, base: usize) -> Self {
        Error::Der {
            offset: ByteOffset(
                err.position()
                    .map(|p| usize::try_from(u32::from(p)).unwrap_or(usize::MAX))
                    .map(|p| p.saturating_add(base)),
            ),
            kind: err.kind(),
        }
    }
}

/// A byte offset into the input, when the decoder could tell one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteOffset(pub Option<usize>);

impl fmt::Display for ByteOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(o) => write!(f, "at byte {o}"),
            None => f.write_str("at an unknown byte offset"),
        }
    }
}

/// Every rule a CSR breaks, in a stable order: key and signature, extension requests (including
/// SAN kinds), subject, then required names, each requested DNS name and each IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// The violations as a slice.
    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        for (i, v) in self.0.iter().enumerate() {
            write!(f, "; ({}) {v}", i + 1)?;
        }
        Ok(())
    }
}
