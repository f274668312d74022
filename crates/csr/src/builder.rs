//! CSRs for devices (draft §3.4.3), always from a fresh key (§4.11).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::oids::COMMON_NAME;
use der::asn1::{Any, BitString, Ia5String, OctetString, SetOfVec};
use der::{Encode, Tag, oid::AssociatedOid};
use lantrust_keys::{KeyAlgorithm, PrivateKey};
use rand_core::CryptoRngCore;
use x509_cert::attr::Attribute;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

use crate::error::Error;
use crate::names::{MAX_NAME_LEN, is_ldh_label, is_local_ip};
#[cfg(any(test, feature = "idna"))]
use crate::parse::Csr;
#[cfg(any(test, feature = "idna"))]
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

    /// Generates a fresh key from `rng`, builds and signs the CSR, and checks the result before
    /// returning it.
    ///
    /// Always checked: the inputs are ASCII DNS labels and names of legal length and the IP
    /// addresses local (before the key is made), and the self-signature verifies under the new
    /// key (RFC 2986 §4.2: a signing fault never leaves the device). With the `idna` feature (on by
    /// default) the encoded request is also decoded and judged by the server's whole policy, as
    /// the server will judge it; a device build without it leaves the A-label (`xn--`) checks to
    /// the server.
    pub fn build(&self, rng: &mut impl CryptoRngCore) -> Result<BuiltCsr, Error> {
        self.check()?;
        let key =
            PrivateKey::generate(self.algorithm, rng).map_err(|e| Error::Key(e.to_string()))?;
        let der = self.sign(&key)?;
        // Judge our own output exactly as the server will (the server's own name is unknown
        // here, so that one rule is left to the server).
        #[cfg(feature = "idna")]
        Csr::from_der(&der)?.validate(&Policy {
            device_id: Some(self.device_id.clone()),
            server_name: String::new(),
            domains: self.domains.clone(),
            allow_ip: true,
            generic_client_compat: false,
        })?;
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
        // RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 characters written.
        if self.dns_names().iter().any(|n| n.len() > MAX_NAME_LEN) {
            return Err(Error::Builder(
                "the device ID and a local domain together exceed the 253-character DNS name limit",
            ));
        }
        if self.ips.iter().any(|ip| !is_local_ip(*ip)) {
            return Err(Error::Builder(
                "IP addresses must be link-local, loopback or private (draft §4.2)",
            ));
        }
        Ok(())
    }

    fn sign(&self, key: &PrivateKey) -> Result<Vec<u8>, Error> {
        // Subject CN = device ID as a UTF8String (RFC 5280 §4.1.2.6, as x509-cert's
        // `Name::from_str("CN=…")` encodes it); `check` made it an LDH label, so nothing needs
        // escaping.
        let cn = AttributeTypeAndValue {
            oid: COMMON_NAME,
            value: Any::new(
                Tag::Utf8String,
                self.device_id.to_ascii_lowercase().into_bytes(),
            )
            .map_err(Error::Encode)?,
        };
        let subject = RdnSequence(alloc::vec![
            RelativeDistinguishedName::try_from(alloc::vec![cn]).map_err(Error::Encode)?
        ]);
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
        let info_der = info.to_der().map_err(Error::Encode)?;
        let signature = key.sign(&info_der).map_err(|e| Error::Key(e.to_string()))?;
        // Verify before use: a faulty signature (a glitch, a miscomputed nonce) never leaves the
        // device, where it could expose the key.
        key.public_key()
            .verify(&key.signature_algorithm(), &info_der, signature.as_bytes())
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
    #[cfg(feature = "rsa")]
    use std::process::Command;

    /// The builder of every build (the device's has P-384 and no IDNA) makes a CSR that this
    /// build's own policy accepts, for exactly the names asked for; an algorithm left out is
    /// refused before anything is signed, and a name over 253 characters before a key is made.
    #[test]
    fn builds_what_the_policy_accepts() {
        let mut rng = rand::rngs::OsRng;
        let builder =
            CsrBuilder::new("Thermostat-7", ["home.arpa."]).ip("192.168.1.9".parse().unwrap());
        let built = builder.build(&mut rng).unwrap();
        let ok = Csr::from_der(built.der())
            .unwrap()
            .validate(&Policy::new("lantrust", ["home.arpa"]).with_device_id("thermostat-7"))
            .unwrap();
        assert_eq!(
            ok.dns_names(),
            ["thermostat-7.local", "thermostat-7.home.arpa"]
        );
        assert_eq!(ok.key_kind(), crate::KeyKind::P384);
        assert_eq!(ok.public_key(), &built.key().public_key_info());
        if !KeyAlgorithm::P521.is_built() {
            assert!(matches!(
                CsrBuilder::new("cam-1", ["home.arpa"])
                    .algorithm(KeyAlgorithm::P521)
                    .build(&mut rng),
                Err(Error::Key(_))
            ));
        }
        let long = alloc::format!("{}.{}", "a".repeat(63), "b".repeat(63));
        let long = alloc::format!("{long}.{long}");
        assert!(matches!(
            CsrBuilder::new("a".repeat(60), [long]).build(&mut rng),
            Err(Error::Builder(_))
        ));
    }

    /// The RSA signing path with a key openssl generated (generating RSA-3072 ourselves takes
    /// minutes in a debug build; tests/builder.rs has that as an opt-in test).
    #[cfg(feature = "rsa")]
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
