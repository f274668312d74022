//! PKCS#10 decoding (RFC 2986 §4) from DER or PEM.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use der::{Decode, Header, Reader, SliceReader, Tag};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::request::{CertReq, CertReqInfo};

use crate::error::Error;
use crate::policy::{AcceptedCsr, Policy, Violation};

/// A decoded PKCS#10 certification request whose signature has not been judged yet.
///
/// Keeps the exact bytes of `certificationRequestInfo` as received: the signature covers those,
/// and the decoder sorts `SET OF` attributes, so re-encoding is not guaranteed to reproduce them.
#[derive(Clone, Debug)]
pub struct Csr {
    der: Vec<u8>,
    info_range: Range<usize>,
    req: CertReq,
}

impl Csr {
    /// Decodes a CSR given as DER, or as PEM when the input starts (after whitespace) with `-----BEGIN`.
    pub fn parse(input: &[u8]) -> Result<Self, Error> {
        let start = input
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(input.len());
        if input
            .get(start..)
            .is_some_and(|rest| rest.starts_with(b"-----BEGIN"))
        {
            Self::from_pem(input)
        } else {
            Self::from_der(input)
        }
    }

    /// Decodes a PEM CSR (`CERTIFICATE REQUEST`, or the legacy `NEW CERTIFICATE REQUEST` label).
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let (label, der) = der::pem::decode_vec(pem).map_err(Error::Pem)?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(Error::PemLabel {
                found: String::from(label),
            });
        }
        Self::from_der_vec(der)
    }

    /// Decodes a DER CSR.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        Self::from_der_vec(der.to_vec())
    }

    fn from_der_vec(der: Vec<u8>) -> Result<Self, Error> {
        let (info_range, algorithm, signature) = {
            let mut reader = SliceReader::new(&der).map_err(|e| Error::der(e, 0))?;
            let parts = (|| {
                let header = Header::decode(&mut reader)?;
                header.tag.assert_eq(Tag::Sequence)?;
                let start = usize::try_from(reader.position())?;
                reader.read_nested(header.length, |r| {
                    let info = r.tlv_bytes()?;
                    let algorithm = AlgorithmIdentifierOwned::decode(r)?;
                    let signature = der::asn1::BitString::decode(r)?;
                    Ok((
                        start..start.saturating_add(info.len()),
                        algorithm,
                        signature,
                    ))
                })
            })()
            .map_err(|e| Error::der(e, 0))?;
            reader.finish(()).map_err(|e| Error::der(e, 0))?;
            parts
        };
        let info_bytes = der.get(info_range.clone()).unwrap_or_default();
        let info =
            CertReqInfo::from_der(info_bytes).map_err(|e| Error::der(e, info_range.start))?;
        Ok(Csr {
            req: CertReq {
                info,
                algorithm,
                signature,
            },
            info_range,
            der,
        })
    }

    /// The whole CSR as DER.
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part, `certificationRequestInfo`, exactly as received.
    pub fn info_der(&self) -> &[u8] {
        self.der.get(self.info_range.clone()).unwrap_or_default()
    }

    /// The decoded request.
    pub fn cert_req(&self) -> &CertReq {
        &self.req
    }

    /// The subject public key.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.req.info.public_key
    }

    /// Every rule of `policy` this CSR breaks (empty when it passes).
    pub fn violations(&self, policy: &Policy) -> Vec<Violation> {
        crate::policy::judge(self, policy).err().unwrap_or_default()
    }

    /// Verifies the signature and applies `policy`; on success returns what the CA may certify.
    pub fn validate(&self, policy: &Policy) -> Result<AcceptedCsr, Error> {
        crate::policy::judge(self, policy).map_err(|v| Error::Rejected(crate::error::Violations(v)))
    }
}
