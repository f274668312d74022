#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

mod algorithm;
mod error;
mod private;
mod public;
mod signature_der;

pub use algorithm::KeyAlgorithm;
pub use error::Error;
pub use private::PrivateKey;
pub use public::PublicKey;
pub use signature_der::DerSignature;

/// Re-exported so callers can name the SPKI and algorithm-identifier types without a direct
/// `spki` dependency.
pub use spki;

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;
