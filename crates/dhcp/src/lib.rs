#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod error;
pub mod hint;
pub mod name;
pub mod v4;
pub mod v6;
pub mod warning;
mod wire;

pub use error::{Error, FqdnError, Result};
pub use hint::{AcmeServerHint, DirectoryUrl, HintConfig, HintSource};
pub use name::{Fqdn, Name};
pub use warning::{OptionWarning, Warnings};
