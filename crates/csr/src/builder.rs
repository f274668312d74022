//! CSRs for devices (draft §3.4.3), always from a fresh key (§4.11).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;
use core::str::FromStr;

use der::asn1::{BitString, Ia5String, OctetString, SetOfVec};
use der::{Encode, oid::AssociatedOid};
use lantrust_keys::{KeyAlgorithm, PrivateKey};
use rand_core::CryptoRngCore;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

use crate::error::Error;
use crate::names::{is_ldh_label, is_local_ip};
use crate::parse::Csr;
use crate::policy::Policy;

/// Makes the CSR a device sends to the local ACME server: commonName = device ID, SANs
/// `<id>.local`, `<id>.<domain>` for each local domain, and optionally the device's private IP
/// addresses; signed by a key generated for this request only.
///
/// There is deliberately no way to pass an existing key: the draft forbids reusing key material
/// for a new request (§4.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrBuilder {
    device_id: String,
    domains: Vec<String>,
    ips: Vec<IpAddr>,
    algorithm: KeyAlgorithm,
}

/// A freshly built request and the new private key that signed it.
#[derive(Debug)]
pub struct BuiltCsr {
    key: PrivateKey,
    der: Vec<u8>,
}

impl BuiltCsr {
    /// The CSR as DER (what ACME's finalize `csr` field carries, base64url-encoded).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The CSR as PEM (`CERTIFICATE REQUEST`).
    pub fn to_pem(&self) -> Result<String, Error> {
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &self.der)
            .map_err(|e| Error::Encode(e.into()))
    }

    /// The new private key; keep it to use the certificate.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Splits into the key and the DER CSR.
    pub fn into_parts(self) -> (PrivateKey, Vec<u8>) {
        (self.key, self.der)
    }
}

impl CsrBuilder {
    /// A builder for `device_id` on a network with local `domains` (may be empty: then only
    /// `<id>.local` is requested). The key defaults to P-384.
    pub fn new<S: Into<String>>(
        device_id: impl Into<String>,
        domains: impl IntoIterator<Item = S>,
    ) -> Self {
        CsrBuilder {
            device_id: device_id.into(),
            domains: domains.into_iter().map(Into::into).collect(),
            ips: Vec::new(),
            algorithm: KeyAlgorithm::P384,
        }
    }

    /// Chooses the key algorithm (P-384, P-521, RSA-3072 or RSA-4096).
    #[must_use]
    pub fn algorithm(mut self, algorithm: KeyAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Adds an IP address SAN (must be link-local, loopback or private, §4.2).
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ips.push(ip);
        self
    }

    /// The DNS names the request will carry, in order.
    pub fn dns_names(&self) -> Vec<String> {
        let id = self.device_id.to_ascii_lowercase();
        let mut names = alloc::vec![format!("{id}.local")];
        for d in &self.domains {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let name = format!("{id}.{d}");
            if d != "local" && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Generates a fresh key from `rng`, builds and signs the CSR, and checks the result against
    /// the server's policy before returning it.
    pub fn build(&self, rng: &mut impl CryptoRngCore) -> Result<BuiltCsr, Error> {
        self.check()?;
        let key =
            PrivateKey::generate(self.algorithm, rng).map_err(|e| Error::Key(e.to_string()))?;
        let der = self.sign(&key)?;
        // Judge our own output exactly as the server will (the server's own name is unknown
        // here, so that one rule is left to the server).
        let policy = Policy {
            device_id: Some(self.device_id.clone()),
            server_name: String::new(),
            domains: self.domains.clone(),
            allow_ip: true,
            generic_client_compat: false,
        };
        Csr::from_der(&der)?.validate(&policy)?;
        Ok(BuiltCsr { key, der })
    }

    fn check(&self) -> Result<(), Error> {
        if !is_ldh_label(self.device_id.as_bytes()) {
            return Err(Error::Builder(
                "the device ID must be one DNS label: letters, digits and inner hyphens, 1-63 characters",
            ));
        }
        for d in &self.domains {
            let d = d.trim_end_matches('.');
            if d.is_empty() || !d.split('.').all(|l| is_ldh_label(l.as_bytes())) {
                return Err(Error::Builder(
                    "each local domain must be a DNS name of LDH labels (use A-labels for IDNs)",
                ));
            }
        }
        if self.ips.iter().any(|ip| !is_local_ip(*ip)) {
            return Err(Error::Builder(
                "IP addresses must be link-local, loopback or private (draft §4.2)",
            ));
        }
        Ok(())
    }

    fn sign(&self, key: &PrivateKey) -> Result<Vec<u8>, Error> {
        let subject = Name::from_str(&format!("CN={}", self.device_id.to_ascii_lowercase()))
            .map_err(Error::Encode)?;
        let mut names = Vec::new();
        for name in self.dns_names() {
            names.push(GeneralName::DnsName(
                Ia5String::new(&name).map_err(Error::Encode)?,
            ));
        }
        for ip in &self.ips {
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(GeneralName::IpAddress(
                OctetString::new(octets).map_err(Error::Encode)?,
            ));
        }
        // PKCS#10 (RFC 2986 §4.1) assembled by hand rather than with x509-cert's RequestBuilder,
        // which needs `std`: the same CertificationRequestInfo (version 0, subject, SPKI, one
        // extensionRequest attribute, RFC 2985 §5.4.2, holding a non-critical SAN since the subject
        // is not empty, RFC 5280 §4.2.1.6), signed over its DER.
        let san = Extension {
            extn_id: SubjectAltName::OID,
            critical: false,
            extn_value: OctetString::new(SubjectAltName(names).to_der().map_err(Error::Encode)?)
                .map_err(Error::Encode)?,
        };
        let mut attributes = SetOfVec::new();
        attributes
            .insert(Attribute::try_from(ExtensionReq(alloc::vec![san])).map_err(Error::Encode)?)
            .map_err(Error::Encode)?;
        let info = CertReqInfo {
            version: Version::V1,
            subject,
            public_key: key.public_key_info(),
            attributes,
        };
        let signature = key
            .sign(&info.to_der().map_err(Error::Encode)?)
            .map_err(|e| Error::Key(e.to_string()))?;
        let req = CertReq {
            info,
            algorithm: key.signature_algorithm(),
            signature: BitString::from_bytes(signature.as_bytes()).map_err(Error::Encode)?,
        };
        req.to_der().map_err(Error::Encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The RSA signing path with a key openssl generated (generating RSA-3072 ourselves takes
    /// minutes in a debug build; tests/builder.rs has that as an opt-in test).
    #[test]
    fn rsa3072_signing_path_openssl_verifies() {
        if Command::new("openssl").arg("version").output().is_err() {
            lantrust_test_support::skip("openssl not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("rsa.pem");
        let status = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
            ])
            .arg(&key_path)
            .output()
            .unwrap();
        assert!(status.status.success());
        let pem = std::fs::read_to_string(&key_path).unwrap();
        let key = PrivateKey::from_pkcs8_pem(&pem).unwrap();
        let builder = CsrBuilder::new("printer-1", ["example.com"])
            .algorithm(KeyAlgorithm::Rsa3072)
            .ip("10.0.0.7".parse().unwrap());
        let der = builder.sign(&key).unwrap();
        let ok = Csr::from_der(&der)
            .unwrap()
            .validate(&Policy::new("lantrust", ["example.com"]))
            .unwrap();
        assert_eq!(
            ok.key_kind(),
            crate::KeyKind::Rsa {
                bits: 3072,
                pss_only: false
            }
        );
        assert_eq!(ok.dns_names(), ["printer-1.local", "printer-1.example.com"]);

        let req_path = dir.path().join("req.der");
        std::fs::write(&req_path, &der).unwrap();
        let out = Command::new("openssl")
            .args(["req", "-verify", "-noout", "-text", "-inform", "DER", "-in"])
            .arg(&req_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.contains("verify OK"),
            "{stderr}"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("sha256WithRSAEncryption"), "{text}");
        assert!(text.contains("IP Address:10.0.0.7"), "{text}");
    }
}
