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

mod crl;
mod device_key;
mod encoding;
mod error;
mod extensions;
mod issue;
mod link;
mod names;
mod root;
mod subordinate;
mod time;

pub use crl::{RevokedCertificate, crl_from_der, crl_from_pem, crl_to_pem};
pub use encoding::{
    certificate_from_der, certificate_from_pem, certificate_to_der, certificate_to_pem,
    certificates_from_pem,
};
pub use error::Error;
pub use issue::{DEFAULT_DEVICE_VALIDITY, DeviceRequest, IssuanceOptions, MAX_DEVICE_VALIDITY};
pub use link::is_link;
pub use names::is_private_ip;
pub use root::{NameConstraints, Root, RootConfig};
pub use subordinate::{Subordinate, ca_request, ca_request_from_pem, ca_request_to_pem};
/// Re-exported: the PKCS#10 request type [`ca_request`] returns.
pub use x509_cert::request::CertReq;

/// Re-exported: the key types roots are made of.
pub use lantrust_keys::{KeyAlgorithm, PrivateKey};
/// Re-exported: the certificate, CRL and SPKI types this crate returns and takes.
pub use x509_cert::{
    Certificate, crl::CertificateList, ext::pkix::CrlReason, serial_number::SerialNumber,
    spki::SubjectPublicKeyInfoOwned,
};

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;
