//! Planned root rotation: a successor root with a fresh key (draft §4.11) and the link
//! certificate by which the old root vouches for it.
//!
//! The successor copies the old root's profile exactly — subject, subjectAltNames,
//! basicConstraints, keyUsage and the nameConstraints choice (critical, non-critical or off) —
//! so nothing about what the network's root may vouch for changes; only the key (new, never
//! reused: §4.11), the serial and the validity period do.
//!
//! The link certificate is the successor's certificate re-signed by the old root: same subject
//! and public key as the successor, issuer and authorityKeyIdentifier of the old root, the same
//! extensions (CA, name constraints). Since subject and issuer names are equal it is a
//! *self-issued* certificate (RFC 5280 §3.2, §6.1), the key-rollover form of RFC 4210 §4.4
//! ("newWithOld"): it does not count against the old root's pathLenConstraint of 0 in verifiers
//! that follow RFC 5280 §4.2.1.9 (OpenSSL, rustls-webpki). A party that trusts the old root
//! reaches the successor's certificates through it; one that trusts the successor never needs it.

use alloc::vec::Vec;
use core::time::Duration;

use der::Encode;
use der::asn1::OctetString;
use lantrust_keys::PrivateKey;
use rand_core::CryptoRngCore;
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
use x509_cert::time::Validity;

use crate::extensions::{extension, key_identifier};
use crate::root::{BACKDATE, random_serial, sign_certificate};
use crate::time::{add_years, x509_time};
use crate::{Error, Result, Root};

/// Seconds in an average Gregorian year, to read a root's validity back as whole years.
const YEAR_SECS: u64 = 31_556_952;

impl Root {
    /// Generates the successor of this root for a planned rotation: a **new** key of the same
    /// algorithm (draft §4.11 forbids reusing root key material) in a self-signed certificate
    /// with this root's subject, subjectAltNames and name-constraint choice, valid from `now`
    /// (minus five minutes of clock skew) for as many whole years as this root was.
    pub fn successor(&self, now: Duration, rng: &mut impl CryptoRngCore) -> Result<Self> {
        let key = PrivateKey::generate(self.private_key().algorithm(), rng)?;
        self.successor_with_key(key, now, rng)
    }

    /// Like [`Root::successor`], with a key the caller generated moments ago (e.g. on a worker
    /// thread, RSA takes seconds). The key **must** be fresh; a key equal to this root's is
    /// refused ([`Error::KeyReused`]).
    pub fn successor_with_key(
        &self,
        key: PrivateKey,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self> {
        let spki = key.public_key_info();
        if spki == self.certificate().tbs_certificate.subject_public_key_info {
            return Err(Error::KeyReused);
        }
        let key_id = key_identifier(&spki);
        let old = &self.certificate().tbs_certificate;
        let old_from = old.validity.not_before.to_unix_duration().as_secs();
        let old_to = old.validity.not_after.to_unix_duration().as_secs();
        let years = u32::try_from((old_to.saturating_sub(old_from) + YEAR_SECS / 2) / YEAR_SECS)
            .unwrap_or(10)
            .clamp(1, 10);
        let not_before = now.saturating_sub(BACKDATE);
        let not_after = add_years(not_before, years)?.saturating_sub(Duration::from_secs(1));

        let mut tbs = old.clone();
        tbs.serial_number = random_serial(rng)?;
        tbs.signature = key.signature_algorithm();
        tbs.validity = Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        };
        tbs.subject_public_key_info = spki;
        tbs.extensions = Some(replace_key_ids(
            old.extensions.as_deref().unwrap_or_default(),
            &key_id,
            &key_id,
        )?);
        let cert = sign_certificate(tbs, &key)?;
        Self::from_parts(cert, key)
    }

    /// The link certificate for `successor` (see the module documentation): the successor's
    /// subject, public key and extensions, issued and signed by this root, valid from the
    /// successor's notBefore until the earlier of the two roots' notAfter.
    pub fn link_certificate(
        &self,
        successor: &Root,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Certificate> {
        let new = &successor.certificate().tbs_certificate;
        let old = &self.certificate().tbs_certificate;
        if new.subject_public_key_info == old.subject_public_key_info {
            return Err(Error::KeyReused);
        }
        let not_after = if new.validity.not_after.to_unix_duration()
            <= old.validity.not_after.to_unix_duration()
        {
            new.validity.not_after
        } else {
            old.validity.not_after
        };
        let mut tbs = new.clone();
        tbs.serial_number = random_serial(rng)?;
        tbs.signature = self.private_key().signature_algorithm();
        tbs.issuer = old.subject.clone();
        tbs.validity = Validity {
            not_before: new.validity.not_before,
            not_after,
        };
        tbs.extensions = Some(replace_key_ids(
            new.extensions.as_deref().unwrap_or_default(),
            successor.key_identifier(),
            self.key_identifier(),
        )?);
        sign_certificate(tbs, self.private_key())
    }
}

/// `extensions` with the subjectKeyIdentifier set to `subject_id` and the
/// authorityKeyIdentifier to `authority_id` (both kept in place, criticality unchanged).
fn replace_key_ids(
    extensions: &[x509_cert::ext::Extension],
    subject_id: &[u8],
    authority_id: &[u8],
) -> Result<Vec<x509_cert::ext::Extension>> {
    use const_oid::AssociatedOid;
    let mut out = Vec::with_capacity(extensions.len());
    for ext in extensions {
        let replaced = if ext.extn_id == SubjectKeyIdentifier::OID {
            extension(
                ext.critical,
                &SubjectKeyIdentifier(OctetString::new(subject_id).map_err(Error::encoding)?),
            )?
        } else if ext.extn_id == AuthorityKeyIdentifier::OID {
            extension(
                ext.critical,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(authority_id).map_err(Error::encoding)?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?
        } else {
            ext.clone()
        };
        out.push(replaced);
    }
    Ok(out)
}

/// Whether `link` is a link certificate from `old` to `new` as [`Root::link_certificate`]
/// makes it: `new`'s subject and key, issued by `old`, signature by `old`'s key.
pub fn is_link(link: &Certificate, old: &Certificate, new: &Certificate) -> bool {
    let tbs = &link.tbs_certificate;
    let Ok(tbs_der) = tbs.to_der() else {
        return false;
    };
    let Ok(old_key) =
        lantrust_keys::PublicKey::from_spki(old.tbs_certificate.subject_public_key_info.clone())
    else {
        return false;
    };
    tbs.issuer == old.tbs_certificate.subject
        && tbs.subject == new.tbs_certificate.subject
        && tbs.subject_public_key_info == new.tbs_certificate.subject_public_key_info
        && old_key
            .verify(
                &link.signature_algorithm,
                &tbs_der,
                link.signature.raw_bytes(),
            )
            .is_ok()
}
