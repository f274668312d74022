//! Certificate extensions, each with the criticality RFC 5280 and the CA/B Forum expect.
//! (x509-cert's `Profile`s pick other criticalities and SHA-1 key identifiers, so we build them.)

use alloc::vec::Vec;

use const_oid::AssociatedOid;
use der::Encode;
use der::asn1::OctetString;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::Extension;

use crate::{Error, Result};

/// Wraps an extension value with an explicit criticality.
pub(crate) fn extension<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(Error::encoding)?)
            .map_err(Error::encoding)?,
    })
}

/// Key identifier: the leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT STRING
/// value (RFC 7093 §2 method 1; RFC 5280 §4.2.1.2 allows any method, this one avoids SHA-1).
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    digest.iter().take(20).copied().collect()
}

/// What makes a lantrust CA certificate (the self-signed root and the subordinate CA's request)
/// a CA that signs device certificates and CRLs only: basicConstraints CA:TRUE with pathLen 0
/// (no CA below it) and keyUsage keyCertSign, cRLSign, both critical (RFC 5280 §4.2.1.9,
/// §4.2.1.3).
pub(crate) fn ca_constraints() -> Result<[Extension; 2]> {
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
    Ok([
        extension(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
        )?,
        extension(true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
    ])
}
