//! A signature in the bytes X.509 puts in its `signatureValue` BIT STRING.

use alloc::boxed::Box;
use alloc::vec::Vec;

use der::asn1::BitString;

/// A signature as X.509 and PKCS#10 carry it: an ECDSA `Ecdsa-Sig-Value` DER SEQUENCE
/// (RFC 5480 §2.2.3 / RFC 3279 §2.2.3) or a raw RSA PKCS#1 v1.5 signature.
///
/// This is the `Signature` type parameter to give x509-cert's `Builder::build::<DerSignature>()`
/// when signing with a [`PrivateKey`](crate::PrivateKey).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerSignature(Box<[u8]>);

impl DerSignature {
    /// Wraps signature bytes (no validation: verification does that).
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        Self(bytes.into())
    }

    /// The signature bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The signature bytes, owned.
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into_vec()
    }
}

impl AsRef<[u8]> for DerSignature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&[u8]> for DerSignature {
    type Error = signature::Error;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Ok(Self(bytes.into()))
    }
}

impl From<DerSignature> for Box<[u8]> {
    fn from(sig: DerSignature) -> Self {
        sig.0
    }
}

impl signature::SignatureEncoding for DerSignature {
    type Repr = Box<[u8]>;
}

impl spki::SignatureBitStringEncoding for DerSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::new(0, self.0.to_vec())
    }
}
