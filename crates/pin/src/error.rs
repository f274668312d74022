//! The crate's error type.

use alloc::string::String;

/// Everything that can go wrong in lantrust-pin outside a trust decision (decisions are values:
/// [`crate::Decision`], [`crate::Refusal`], [`crate::ScopeRefusal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store file ends early (a partial write or a cut copy). Nothing was reset: restore the
    /// file from a backup or delete it deliberately to start over.
    #[error(
        "the pin store is truncated at byte {offset}; it was not reset — restore it from a backup, \
         or delete it on purpose to forget every pinned network"
    )]
    StoreTruncated {
        /// Where the input ended.
        offset: usize,
    },
    /// The store file is not valid JSON or does not have the expected shape.
    #[error(
        "the pin store is corrupt at byte {offset}: {reason}; it was not reset — restore it from a \
         backup, or delete it on purpose to forget every pinned network"
    )]
    StoreCorrupt {
        /// Byte offset of the problem.
        offset: usize,
        /// What the parser found.
        reason: String,
    },
    /// The file is JSON but not a lantrust pin store.
    #[error("not a lantrust pin store (format tag {found:?}, expected \"lantrust-pin-store\")")]
    WrongFormat {
        /// The `format` value found.
        found: String,
    },
    /// The store was written by a newer (or unknown) version of this library.
    #[error(
        "pin store format version {found} is not supported (this build reads versions 1 to {}); \
         upgrade lantrust-pin",
        crate::STORE_VERSION
    )]
    UnsupportedVersion {
        /// The `version` value found.
        found: u64,
    },
    /// The content does not match its SHA-256 checksum: the file was altered or damaged.
    #[error(
        "the pin store's checksum does not match its content: the file was damaged or edited by \
         hand; restore it from a backup"
    )]
    ChecksumMismatch,
    /// The store parsed but its records contradict each other (a fingerprint that does not match
    /// its network, a pin naming a missing root, …).
    #[error("the pin store is inconsistent: {reason}; restore it from a backup")]
    StoreInconsistent {
        /// Which record is wrong, and how.
        reason: String,
    },
    /// A network identity is missing data or holds an invalid value.
    #[error("invalid network identity: {reason}")]
    InvalidNetworkId {
        /// What to fix.
        reason: String,
    },
    /// A host name, domain or certificate given to the store is not acceptable.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What to fix.
        reason: String,
    },
    /// A certificate could not be parsed.
    #[error("invalid certificate at byte {offset}: {reason}")]
    InvalidCertificate {
        /// Byte offset of the problem in the DER.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A root given as a managed anchor fails the root checks.
    #[error("managed anchor refused: {0}")]
    AnchorRefused(crate::Refusal),
    /// The candidate was decided against an older state of the store (the network's pin changed
    /// in between); decide again.
    #[error("the store changed since this decision was made; run the decision again")]
    StaleCandidate,
}
