//! Certificate revocation lists (RFC 5280 §5).

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use der::asn1::{BitString, OctetString, Uint};
use der::pem::LineEnding;
use der::{Decode, Encode};
use x509_cert::certificate::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};
use x509_cert::serial_number::SerialNumber;

use crate::encoding::check_label;
use crate::extensions::extension;
use crate::time::x509_time;
use crate::{Error, Result, Root};

const CRL_LABEL: &str = "X509 CRL";

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// The certificate's serial number.
    pub serial: SerialNumber,
    /// When it was revoked, as a duration since the Unix epoch.
    pub revoked_at: Duration,
    /// Why; `Unspecified` is encoded by omitting the reasonCode (RFC 5280 §5.3.1).
    pub reason: CrlReason,
}

impl Root {
    /// Builds and signs a v2 CRL (RFC 5280 §5) listing `revoked`.
    ///
    /// `crl_number` must grow with every CRL the caller publishes (§5.2.3); thisUpdate is `now`,
    /// nextUpdate `now + next_update_in`. The CRL carries authorityKeyIdentifier and cRLNumber;
    /// entries carry a reasonCode unless it is `Unspecified`.
    pub fn crl(
        &self,
        revoked: &[RevokedCertificate],
        crl_number: u64,
        now: Duration,
        next_update_in: Duration,
    ) -> Result<CertificateList> {
        let mut entries = Vec::with_capacity(revoked.len());
        for r in revoked {
            let crl_entry_extensions = if r.reason == CrlReason::Unspecified {
                None
            } else {
                Some(alloc::vec![extension(false, &r.reason)?])
            };
            entries.push(RevokedCert {
                serial_number: r.serial.clone(),
                revocation_date: x509_time(r.revoked_at)?,
                crl_entry_extensions,
            });
        }
        let number = Uint::new(&crl_number.to_be_bytes()).map_err(Error::encoding)?;
        let crl_extensions = alloc::vec![
            extension(
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(
                        OctetString::new(self.key_identifier()).map_err(Error::encoding)?,
                    ),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
            extension(false, &CrlNumber(number))?,
        ];
        let tbs = TbsCertList {
            version: Version::V2,
            signature: self.private_key().signature_algorithm(),
            issuer: self.subject().clone(),
            this_update: x509_time(now)?,
            next_update: Some(x509_time(now.saturating_add(next_update_in))?),
            // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
            revoked_certificates: if entries.is_empty() {
                None
            } else {
                Some(entries)
            },
            crl_extensions: Some(crl_extensions),
        };
        let tbs_der = tbs.to_der().map_err(Error::encoding)?;
        let signature = self.private_key().sign(&tbs_der)?;
        Ok(CertificateList {
            signature_algorithm: tbs.signature.clone(),
            tbs_cert_list: tbs,
            signature: BitString::from_bytes(signature.as_bytes()).map_err(Error::encoding)?,
        })
    }
}

/// Parses a DER CRL.
pub fn crl_from_der(der: &[u8]) -> Result<CertificateList> {
    CertificateList::from_der(der).map_err(|e| Error::der("CRL", e))
}

/// Parses a PEM `-----BEGIN X509 CRL-----` block.
pub fn crl_from_pem(pem: &str) -> Result<CertificateList> {
    check_label(pem, CRL_LABEL)?;
    let (_, der) =
        der::pem::decode_vec(pem.as_bytes()).map_err(|e| Error::der("PEM CRL", e.into()))?;
    crl_from_der(&der)
}

/// Encodes a CRL as PEM (`-----BEGIN X509 CRL-----`).
pub fn crl_to_pem(crl: &CertificateList) -> Result<String> {
    let der = crl.to_der().map_err(Error::encoding)?;
    der::pem::encode_string(CRL_LABEL, LineEnding::LF, &der).map_err(Error::encoding)
}
