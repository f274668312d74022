//! PEM and DER import/export of certificates.

use alloc::string::String;
use alloc::vec::Vec;

use der::pem::LineEnding;
use der::{Decode, DecodePem, Encode, EncodePem};
use x509_cert::Certificate;

use crate::{Error, Result};

pub(crate) const CERT_LABEL: &str = "CERTIFICATE";

/// Parses one DER certificate; trailing bytes are an error.
pub fn certificate_from_der(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| Error::der("certificate", e))
}

/// Parses one PEM `-----BEGIN CERTIFICATE-----` block (text around it is ignored only if it
/// precedes the block; use [`certificates_from_pem`] for bundles).
pub fn certificate_from_pem(pem: &str) -> Result<Certificate> {
    check_label(pem, CERT_LABEL)?;
    Certificate::from_pem(pem).map_err(|e| Error::der("PEM certificate", e))
}

/// Parses every `CERTIFICATE` block of a PEM bundle, in order (other blocks are skipped).
pub fn certificates_from_pem(pem: &str) -> Result<Vec<Certificate>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block_and_after = rest.get(start..).unwrap_or("");
        let Some(end_marker) = block_and_after.find("-----END ") else {
            return Err(Error::PemLabel {
                expected: CERT_LABEL,
                found: String::from("an unterminated PEM block"),
            });
        };
        let after_end = block_and_after.get(end_marker..).unwrap_or("");
        let block_len = end_marker
            + after_end
                .get(9..)
                .and_then(|s| s.find("-----"))
                .map_or(after_end.len(), |i| 9 + i + 5);
        let block = block_and_after.get(..block_len).unwrap_or("");
        if block.starts_with("-----BEGIN CERTIFICATE-----") {
            out.push(Certificate::from_pem(block).map_err(|e| Error::der("PEM certificate", e))?);
        }
        rest = block_and_after.get(block_len..).unwrap_or("");
    }
    if out.is_empty() {
        return Err(Error::PemLabel {
            expected: CERT_LABEL,
            found: first_label(pem),
        });
    }
    Ok(out)
}

/// Encodes a certificate as DER.
pub fn certificate_to_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der().map_err(Error::encoding)
}

/// Encodes a certificate as PEM (`-----BEGIN CERTIFICATE-----`, LF line endings).
pub fn certificate_to_pem(cert: &Certificate) -> Result<String> {
    cert.to_pem(LineEnding::LF).map_err(Error::encoding)
}

pub(crate) fn first_label(pem: &str) -> String {
    pem.lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .unwrap_or("")
        .into()
}

pub(crate) fn check_label(pem: &str, expected: &'static str) -> Result<()> {
    let found = first_label(pem);
    if found == expected {
        Ok(())
    } else {
        Err(Error::PemLabel { expected, found })
    }
}
