//! The device keys the CA issues for (draft §3.4.3): ECDSA P-384 and P-521, and RSA of 3072 to
//! 8192 bits as rsaEncryption or id-RSASSA-PSS (RFC 4055) keys — exactly what lantrust-csr's
//! policy accepts, so a CSR that passes `check-csr` is one the CA can issue for.

use der::asn1::UintRef;
use der::{Decode, Reader};
use lantrust_keys::PublicKey;
use spki::SubjectPublicKeyInfoOwned;

use crate::{Error, Result};

/// rsaEncryption (RFC 8017 Appendix A.1).
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-RSASSA-PSS (RFC 4055 §3.1): an RSA key restricted to PSS signatures.
const RSASSA_PSS: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The RSA sizes issued for.
const RSA_BITS: core::ops::RangeInclusive<usize> = 3072..=8192;

/// What kind of device key a certificate is issued for (it decides the key usages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceKey {
    /// ECDSA P-384 or P-521.
    Ec,
    /// An rsaEncryption key (may sign and, in TLS 1.2 RSA key exchange, decrypt).
    RsaEncryption,
    /// An id-RSASSA-PSS key (may only sign).
    RsaPss,
}

/// Check a device's public key.
pub(crate) fn check(spki: &SubjectPublicKeyInfoOwned) -> Result<DeviceKey> {
    let oid = spki.algorithm.oid;
    if oid != RSA_ENCRYPTION && oid != RSASSA_PSS {
        // EC keys: lantrust-keys checks the curve and the point.
        PublicKey::from_spki(spki.clone())?;
        return Ok(DeviceKey::Ec);
    }
    let bad = Error::DeviceRsaSize { bits: 0 };
    let bytes = spki.subject_public_key.as_bytes().ok_or(bad)?;
    // RFC 8017 Appendix A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
    let parse = || -> der::Result<(UintRef<'_>, UintRef<'_>)> {
        let mut r = der::SliceReader::new(bytes)?;
        let key = r.sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?)))?;
        r.finish(key)
    };
    let (modulus, exponent) = parse().map_err(|_| Error::DeviceRsaSize { bits: 0 })?;
    let n = modulus.as_bytes();
    let bits = match n.first() {
        Some(first) => n.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    let e = exponent.as_bytes();
    // An even or tiny exponent is no RSA key (RFC 8017 §3.1: 3 <= e, e odd).
    let e_ok = e.last().is_some_and(|b| b & 1 == 1) && (e.len() > 1 || e.first() >= Some(&3));
    if !RSA_BITS.contains(&bits) || !e_ok {
        return Err(Error::DeviceRsaSize { bits });
    }
    Ok(if oid == RSASSA_PSS {
        DeviceKey::RsaPss
    } else {
        DeviceKey::RsaEncryption
    })
}
