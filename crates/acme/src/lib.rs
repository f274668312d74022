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

pub mod b64;
pub mod error;
pub mod jose;
pub mod objects;

pub use error::{Error, Result};
pub use jose::{AccountKey, Algorithm, Jwk, Jws, PublicKey};
pub use objects::*;
