//! The network root (draft §3.4.1): generation, import and export.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use const_oid::db::rfc4519;
use der::asn1::{BitString, Ia5String, OctetString};
use der::{Decode, Encode};
use lantrust_keys::{KeyAlgorithm, PrivateKey};
use rand_core::CryptoRngCore;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::constraints::name::{
    GeneralSubtree, NameConstraints as NameConstraintsExtension,
};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use zeroize::Zeroizing;

use crate::extensions::{ca_constraints, extension, key_identifier};
use crate::names::{
    PERMITTED_IP_RANGES, distinguished_name, dns_general_name, dns_name, ip_general_name,
};
use crate::time::{add_years, x509_time};
use crate::{Error, Result, encoding};

/// How far notBefore is set back from `now` to tolerate clock skew between machines.
pub(crate) const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// What the network root is made for (draft §3.4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootConfig {
    /// The ACME server's host name, one DNS label (e.g. `router-fdb531`).
    pub server_name: String,
    /// The local domains (e.g. `home.arpa`); the root gets `<server>.<domain>` for each and its
    /// name constraints permit each. May be empty (then only `.local` names are possible).
    pub domains: Vec<String>,
    /// Optional server IP addresses to put in the root's SANs.
    pub ip_addrs: Vec<IpAddr>,
    /// The root key's algorithm (P-384 by default).
    pub algorithm: KeyAlgorithm,
    /// Validity in whole calendar years, 1 to 10 inclusive.
    pub validity_years: u32,
    /// The network's name for the subject (`CN=<network> Local Root CA`); by default the first
    /// domain, or `<server>.local` when there is none.
    pub network_name: Option<String>,
    /// Whether the root carries its name constraints, and marked critical or not
    /// ([`NameConstraints::NonCritical`] by default; see there why).
    pub name_constraints: NameConstraints,
}

/// How the root's nameConstraints extension (RFC 5280 §4.2.1.10) is written.
///
/// The constraints permit only `local`, the configured domains and the private, link-local and
/// loopback address ranges, so a stolen root key cannot vouch for an Internet name in any verifier
/// that enforces them. RFC 5280 §4.2.1.10 says conforming CAs MUST mark the extension critical,
/// but a verifier must refuse a certificate with a critical extension it does not understand
/// (RFC 5280 §4.2), and Mbed TLS (the TLS stack of ESP-IDF, Zephyr and many RTOS SDKs)
/// implements no name constraints: it cannot even load a root whose constraints are critical
/// (Mbed-TLS/mbedtls#8759, open; the matrix shows it with Debian's Mbed TLS 2.28). The CA/Browser Forum Baseline Requirements (§7.1.2.10.8, and
/// §7.1.2.5.2 for technically constrained CAs) make the explicit exception: the extension "SHOULD
/// be marked critical, but MAY be marked non-critical if compatibility with certain legacy
/// applications that do not support Name Constraints is necessary".
///
/// The root compatibility matrix (`crates/ca/tests/matrix.rs`, table in the README) shows what
/// each choice does with Mbed TLS, wolfSSL, GnuTLS, OpenSSL, NSS, Go and rustls-webpki.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameConstraints {
    /// Marked critical, as RFC 5280 §4.2.1.10 asks. Verifiers without name-constraint support
    /// must refuse the root: Mbed TLS cannot load it at all.
    Critical,
    /// Marked non-critical (the default), as the CA/B Forum Baseline Requirements allow for
    /// compatibility: every stack in the matrix loads the root, and every one that implements
    /// name constraints (all but Mbed TLS) still enforces them — whether an extension is
    /// enforced depends on the verifier understanding it, not on the critical flag.
    #[default]
    NonCritical,
    /// No nameConstraints extension: the root can vouch for any name, Internet names included,
    /// in every verifier. Only for a verifier that misreads the extension.
    Off,
}

impl NameConstraints {
    /// Every choice, in the order `critical`, `non-critical`, `off`.
    pub const ALL: [Self; 3] = [Self::Critical, Self::NonCritical, Self::Off];

    /// The choice's name as a command line takes it: `critical`, `non-critical` or `off`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::NonCritical => "non-critical",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for NameConstraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl RootConfig {
    /// A configuration with the defaults: P-384, 10 years, no IP addresses, non-critical name
    /// constraints.
    pub fn new(server_name: impl Into<String>, domains: Vec<String>) -> Self {
        Self {
            server_name: server_name.into(),
            domains,
            ip_addrs: Vec::new(),
            algorithm: KeyAlgorithm::default(),
            validity_years: 10,
            network_name: None,
            name_constraints: NameConstraints::default(),
        }
    }
}

/// The network root: its self-signed certificate and private key.
///
/// Not `Clone` (it owns the key); `Debug` shows the subject, never the key.
pub struct Root {
    cert: Certificate,
    cert_der: Vec<u8>,
    key: PrivateKey,
    key_id: Vec<u8>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field(
                "subject",
                &alloc::format!("{}", self.cert.tbs_certificate.subject),
            )
            .field("key", &self.key)
            .finish()
    }
}

/// 16 random bytes with the top bit cleared: a positive 127-bit serial (RFC 5280 §4.1.2.2,
/// CA/B Forum BR 7.1: at least 64 random bits, at most 20 octets).
pub(crate) fn random_serial(rng: &mut impl CryptoRngCore) -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    rng.try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Encoding(alloc::format!("RNG failure: {e}")))?;
    if let Some(first) = bytes.first_mut() {
        *first &= 0x7f;
    }
    if bytes.iter().all(|b| *b == 0) {
        // Serials must be positive (non-zero); 2^-127 odds, but never emit zero.
        bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    }
    SerialNumber::new(&bytes).map_err(Error::encoding)
}

impl Root {
    /// Generates a fresh root key and self-signed certificate (draft §3.4.1).
    ///
    /// `now` is the current time as a duration since the Unix epoch (the crate reads no clock);
    /// notBefore is `now` minus five minutes, notAfter exactly `validity_years` calendar years
    /// after notBefore (minus one second: RFC 5280 validity is inclusive). The key is always new
    /// (draft §4.11).
    pub fn generate(
        config: &RootConfig,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self> {
        // Check the configuration before spending time on (possibly RSA) key generation.
        validate_config(config)?;
        let key = PrivateKey::generate(config.algorithm, rng)?;
        Self::generate_with_key(config, key, now, rng)
    }

    /// Like [`Root::generate`], with a key the caller generated moments ago with
    /// [`PrivateKey::generate`] — for example on a worker thread with a progress display, since
    /// RSA generation takes seconds. `config.algorithm` is ignored; the key's algorithm is used.
    ///
    /// The key **must** be fresh: draft §4.11 forbids reusing key material for a new root, so
    /// never pass a key loaded from storage or used for anything else.
    pub fn generate_with_key(
        config: &RootConfig,
        key: PrivateKey,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self> {
        let (server, domains) = validate_config(config)?;
        let spki = key.public_key_info();
        let key_id = key_identifier(&spki);

        let network = match &config.network_name {
            Some(n) => n.clone(),
            None => domains
                .first()
                .cloned()
                .unwrap_or_else(|| alloc::format!("{server}.local")),
        };
        let cn = alloc::format!("{network} Local Root CA");
        let subject = distinguished_name(&[(rfc4519::O, "lantrust"), (rfc4519::CN, &cn)])?;

        let not_before = now.saturating_sub(BACKDATE);
        let not_after =
            add_years(not_before, config.validity_years)?.saturating_sub(Duration::from_secs(1));

        // SANs: <server>.local and <server>.<domain> for each domain, plus the optional IPs.
        let mut sans = Vec::with_capacity(1 + domains.len() + config.ip_addrs.len());
        sans.push(dns_general_name(&alloc::format!("{server}.local"))?);
        for d in &domains {
            sans.push(dns_general_name(&alloc::format!("{server}.{d}"))?);
        }
        for ip in &config.ip_addrs {
            sans.push(ip_general_name(*ip)?);
        }

        let mut extensions = Vec::from(ca_constraints()?);
        extensions.extend([
            extension(
                false,
                &SubjectKeyIdentifier(OctetString::new(key_id.clone()).map_err(Error::encoding)?),
            )?,
            // Optional in a self-signed certificate (RFC 5280 §4.2.1.1), but the CA/B Forum
            // profile expects it on roots and some path builders use it.
            extension(
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(
                        OctetString::new(key_id.clone()).map_err(Error::encoding)?,
                    ),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
            // Non-critical: the subject is not empty (RFC 5280 §4.2.1.6).
            extension(false, &SubjectAltName(sans))?,
        ]);
        let critical = match config.name_constraints {
            NameConstraints::Critical => Some(true),
            NameConstraints::NonCritical => Some(false),
            NameConstraints::Off => None,
        };
        if let Some(critical) = critical {
            extensions.push(extension(critical, &name_constraints(&domains)?)?);
        }

        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(rng)?,
            signature: key.signature_algorithm(),
            issuer: subject.clone(),
            validity: Validity {
                not_before: x509_time(not_before)?,
                not_after: x509_time(not_after)?,
            },
            subject,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let cert = sign_certificate(tbs, &key)?;
        let cert_der = cert.to_der().map_err(Error::encoding)?;
        Ok(Self {
            cert,
            cert_der,
            key,
            key_id,
        })
    }

    /// Imports a stored root from its DER certificate and PKCS#8 DER key.
    ///
    /// Checks that the key belongs to the certificate, that the certificate verifies under it
    /// and that it is a CA allowed to sign certificates and CRLs.
    pub fn from_der(cert_der: &[u8], key_pkcs8_der: &[u8]) -> Result<Self> {
        let cert = encoding::certificate_from_der(cert_der)?;
        let key = PrivateKey::from_pkcs8_der(key_pkcs8_der)?;
        Self::from_parts(cert, key)
    }

    /// Imports a stored root from its PEM certificate and PEM PKCS#8 key (see [`Root::from_der`]).
    pub fn from_pem(cert_pem: &str, key_pkcs8_pem: &str) -> Result<Self> {
        let cert = encoding::certificate_from_pem(cert_pem)?;
        let key = PrivateKey::from_pkcs8_pem(key_pkcs8_pem)?;
        Self::from_parts(cert, key)
    }

    /// Assembles a root from a parsed certificate and its key (checked as in [`Root::from_der`]).
    pub fn from_parts(cert: Certificate, key: PrivateKey) -> Result<Self> {
        let tbs = &cert.tbs_certificate;
        if tbs.subject_public_key_info != key.public_key_info() {
            return Err(Error::KeyMismatch);
        }
        let tbs_der = tbs.to_der().map_err(Error::encoding)?;
        key.public_key()
            .verify(
                &cert.signature_algorithm,
                &tbs_der,
                cert.signature.raw_bytes(),
            )
            .map_err(|_| Error::NotARoot("its self-signature does not verify"))?;
        if tbs.issuer != tbs.subject {
            return Err(Error::NotARoot("it is not self-issued"));
        }
        Self::from_parts_unchecked_issuer(cert, key)
    }

    /// The checks of [`Root::from_parts`] that do not depend on who issued the certificate
    /// (the key, CA, keyUsage); the subordinate import checks its issuer chain itself.
    pub(crate) fn from_parts_unchecked_issuer(cert: Certificate, key: PrivateKey) -> Result<Self> {
        let tbs = &cert.tbs_certificate;
        if tbs.subject_public_key_info != key.public_key_info() {
            return Err(Error::KeyMismatch);
        }
        let mut is_ca = false;
        let mut can_sign = false;
        let mut key_id = None;
        for ext in tbs.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == <BasicConstraints as const_oid::AssociatedOid>::OID {
                is_ca = BasicConstraints::from_der(value)
                    .map_err(|e| Error::der("basicConstraints", e))?
                    .ca;
            } else if ext.extn_id == <KeyUsage as const_oid::AssociatedOid>::OID {
                let ku = KeyUsage::from_der(value).map_err(|e| Error::der("keyUsage", e))?;
                can_sign = ku.key_cert_sign() && ku.crl_sign();
            } else if ext.extn_id == <SubjectKeyIdentifier as const_oid::AssociatedOid>::OID {
                let ski = SubjectKeyIdentifier::from_der(value)
                    .map_err(|e| Error::der("subjectKeyIdentifier", e))?;
                key_id = Some(ski.0.as_bytes().to_vec());
            }
        }
        if !is_ca {
            return Err(Error::NotARoot("basicConstraints does not say CA"));
        }
        if !can_sign {
            return Err(Error::NotARoot("keyUsage lacks keyCertSign or cRLSign"));
        }
        let key_id = key_id.unwrap_or_else(|| key_identifier(&tbs.subject_public_key_info));
        let cert_der = cert.to_der().map_err(Error::encoding)?;
        Ok(Self {
            cert,
            cert_der,
            key,
            key_id,
        })
    }

    /// The root certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The root certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The root certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn certificate_pem(&self) -> Result<String> {
        encoding::certificate_to_pem(&self.cert)
    }

    /// The root's private key (to persist with [`PrivateKey::to_pkcs8_pem`]).
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// The root key as PKCS#8 PEM, in a zeroizing buffer.
    pub fn private_key_pem(&self) -> Result<Zeroizing<String>> {
        Ok(self.key.to_pkcs8_pem()?)
    }

    /// The root key as PKCS#8 DER, in a zeroizing buffer.
    pub fn private_key_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(self.key.to_pkcs8_der()?)
    }

    /// The subject (and issuer) name of the root.
    pub fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    /// The root's key identifier (its subjectKeyIdentifier; device certificates and CRLs carry
    /// it as authorityKeyIdentifier).
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_id
    }
}

/// Checks the root configuration; returns the lower-cased server name and deduplicated domains.
pub(crate) fn validate_config(config: &RootConfig) -> Result<(String, Vec<String>)> {
    if !(1..=10).contains(&config.validity_years) {
        return Err(Error::RootValidity {
            years: config.validity_years,
        });
    }
    let server = dns_name("server name", &config.server_name)?;
    if server.contains('.') {
        return Err(Error::InvalidName {
            what: "server name",
            value: config.server_name.clone(),
            reason: "must be a single DNS label; put the domain in `domains`",
        });
    }
    let mut domains = Vec::with_capacity(config.domains.len());
    for d in &config.domains {
        let d = dns_name("domain", d)?;
        if d == "local" || d.ends_with(".local") {
            return Err(Error::InvalidName {
                what: "domain",
                value: d,
                reason: "`.local` is always included; list only unicast DNS domains",
            });
        }
        if !domains.contains(&d) {
            domains.push(d);
        }
    }

    Ok((server, domains))
}

/// The root's name constraints (RFC 5280 §4.2.1.10): permitted subtrees `local`, each of
/// `domains`, and the private, link-local and loopback IP ranges; nothing else.
pub(crate) fn name_constraints(domains: &[String]) -> Result<NameConstraintsExtension> {
    let mut permitted = Vec::with_capacity(1 + domains.len() + PERMITTED_IP_RANGES.len());
    permitted.push(subtree(GeneralName::DnsName(
        Ia5String::new("local").map_err(Error::encoding)?,
    )));
    for d in domains {
        permitted.push(subtree(dns_general_name(d)?));
    }
    for (addr, mask) in PERMITTED_IP_RANGES {
        let mut bytes = Vec::with_capacity(addr.len() * 2);
        bytes.extend_from_slice(addr);
        bytes.extend_from_slice(mask);
        permitted.push(subtree(GeneralName::IpAddress(
            OctetString::new(bytes).map_err(Error::encoding)?,
        )));
    }

    Ok(NameConstraintsExtension {
        permitted_subtrees: Some(permitted),
        excluded_subtrees: None,
    })
}

fn subtree(base: GeneralName) -> GeneralSubtree {
    GeneralSubtree {
        base,
        minimum: 0,
        maximum: None,
    }
}

/// Signs a TBSCertificate with `key` and assembles the certificate.
pub(crate) fn sign_certificate(tbs: TbsCertificate, key: &PrivateKey) -> Result<Certificate> {
    let tbs_der = tbs.to_der().map_err(Error::encoding)?;
    let signature = key.sign(&tbs_der)?;
    Ok(Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(signature.as_bytes()).map_err(Error::encoding)?,
    })
}
