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

mod builder;
mod error;
mod names;
mod oids;
mod parse;
mod policy;
mod scope;
mod verify;

pub use builder::{BuiltCsr, CsrBuilder};
pub use error::{ByteOffset, Error, Violations};
pub use parse::Csr;
pub use policy::{AcceptedCsr, KeyKind, Policy, Violation};
pub use verify::signature_violations;

/// Key algorithms for [`CsrBuilder::algorithm`] (re-exported from `lantrust-keys`).
pub use lantrust_keys::{KeyAlgorithm, PrivateKey};

/// Parses a CSR (DER, or PEM with the `CERTIFICATE REQUEST` label), verifies its self-signature and
/// judges it against `policy`.
///
/// Returns every rule the CSR breaks in [`Error::Rejected`], not just the first one, so a device
/// vendor can fix them all in one round.
pub fn validate(csr: &[u8], policy: &Policy) -> Result<AcceptedCsr, Error> {
    Csr::parse(csr)?.validate(policy)
}
