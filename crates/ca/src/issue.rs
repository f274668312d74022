//! Device certificate issuance (draft §3.4.5).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;
use core::time::Duration;

use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use der::asn1::{Ia5String, OctetString};
use rand_core::CryptoRngCore;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage,
    KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::time::Validity;

use crate::extensions::{extension, key_identifier};
use crate::names::{common_name, dns_general_name, dns_name, ip_general_name};
use crate::root::{BACKDATE, random_serial, sign_certificate};
use crate::time::x509_time;
use crate::{Error, Result, Root};

/// The longest device certificate lifetime the draft allows: three months, taken as 90 days
/// (draft §3.4.5).
pub const MAX_DEVICE_VALIDITY: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The default device certificate lifetime: 30 days, so renewal is exercised often.
pub const DEFAULT_DEVICE_VALIDITY: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What a device certificate is issued for: the result of a CSR that lantrust-csr accepted
/// (the caller copies its device ID, names and key here; this crate does not re-check the
/// draft's CSR policy, only that the names are well-formed and the key is strong).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The device ID, which becomes the subject CN (at most 64 characters).
    pub device_id: String,
    /// DNS names for the subjectAltName extension, in order.
    pub dns_names: Vec<String>,
    /// IP addresses for the subjectAltName extension.
    pub ip_addrs: Vec<IpAddr>,
    /// The device's public key (P-384, P-521 or RSA-3072/4096).
    pub public_key: SubjectPublicKeyInfoOwned,
}

/// Knobs for issuance; [`Default`] is 30 days, serverAuth only, no CRL distribution point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuanceOptions {
    /// Lifetime from notBefore to notAfter; more than zero and at most [`MAX_DEVICE_VALIDITY`].
    pub validity: Duration,
    /// Also allow TLS client authentication (EKU clientAuth).
    pub client_auth: bool,
    /// Where relying parties fetch this root's CRL (draft §4.5, §4.7: revocation must reach
    /// them): an `http://` or `https://` URL put in a cRLDistributionPoints extension
    /// (RFC 5280 §4.2.1.13, one DistributionPoint with a fullName URI, non-critical). A plain
    /// `http://` URL is fine: the CRL is signed by the root. `None` omits the extension.
    pub crl_distribution_point: Option<String>,
}

impl Default for IssuanceOptions {
    fn default() -> Self {
        Self {
            validity: DEFAULT_DEVICE_VALIDITY,
            client_auth: false,
            crl_distribution_point: None,
        }
    }
}

impl Root {
    /// Issues a device certificate (draft §3.4.5) signed by this root.
    ///
    /// - notBefore is `now` minus five minutes (clock skew), notAfter is notBefore plus
    ///   `options.validity` minus one second (RFC 5280 validity is inclusive), so the lifetime
    ///   never exceeds the 90-day limit;
    /// - subject `CN=<device ID>`; subjectAltName (non-critical) with the DNS names then IPs;
    /// - keyUsage (critical) digitalSignature, plus keyEncipherment for RSA keys; extKeyUsage
    ///   (non-critical) serverAuth (+ clientAuth); basicConstraints CA:FALSE (critical);
    ///   subject and authority key identifiers; cRLDistributionPoints (non-critical) when
    ///   `options.crl_distribution_point` is set;
    /// - a random positive 127-bit serial from `rng`.
    ///
    /// `now` is a duration since the Unix epoch; the crate reads no clock.
    pub fn issue(
        &self,
        request: &DeviceRequest,
        options: &IssuanceOptions,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Certificate> {
        if options.validity.is_zero() || options.validity > MAX_DEVICE_VALIDITY {
            return Err(Error::DeviceValidity {
                seconds: options.validity.as_secs(),
            });
        }
        // Refuses weak or unsupported device keys (draft §3.4.3: P-384, P-521, RSA 3072–8192
        // with rsaEncryption or id-RSASSA-PSS, as lantrust-csr's policy accepts).
        let device_key = crate::device_key::check(&request.public_key)?;

        if request.dns_names.is_empty() && request.ip_addrs.is_empty() {
            return Err(Error::NoSubjectAltNames);
        }
        let crl_dp = match &options.crl_distribution_point {
            Some(url) => Some(crl_distribution_points(url)?),
            None => None,
        };
        let mut sans = Vec::with_capacity(request.dns_names.len() + request.ip_addrs.len());
        for name in &request.dns_names {
            sans.push(dns_general_name(&dns_name("DNS name", name)?)?);
        }
        for ip in &request.ip_addrs {
            sans.push(ip_general_name(*ip)?);
        }
        let subject = common_name(&request.device_id).map_err(|_| Error::InvalidName {
            what: "device ID",
            value: request.device_id.clone(),
            reason: "must have 1 to 64 characters",
        })?;

        let mut usages = KeyUsages::DigitalSignature.into();
        if device_key == crate::device_key::DeviceKey::RsaEncryption {
            // TLS 1.2 RSA key exchange encrypts to the certificate key. An id-RSASSA-PSS key
            // may only sign (RFC 4055 §1.2), so it gets digitalSignature alone.
            usages |= KeyUsages::KeyEncipherment;
        }
        let mut purposes = alloc::vec![ID_KP_SERVER_AUTH];
        if options.client_auth {
            purposes.push(ID_KP_CLIENT_AUTH);
        }

        let not_before = now.saturating_sub(BACKDATE);
        let not_after = not_before
            .saturating_add(options.validity)
            .saturating_sub(Duration::from_secs(1));

        let mut extensions = alloc::vec![
            extension(
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            extension(true, &KeyUsage(usages))?,
            extension(false, &ExtendedKeyUsage(purposes))?,
            extension(
                false,
                &SubjectKeyIdentifier(
                    OctetString::new(key_identifier(&request.public_key))
                        .map_err(Error::encoding)?,
                ),
            )?,
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
            extension(false, &SubjectAltName(sans))?,
        ];
        if let Some(dp) = crl_dp {
            extensions.push(extension(false, &dp)?);
        }

        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(rng)?,
            signature: self.private_key().signature_algorithm(),
            issuer: self.subject().clone(),
            validity: Validity {
                not_before: x509_time(not_before)?,
                not_after: x509_time(not_after)?,
            },
            subject,
            subject_public_key_info: request.public_key.clone(),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        sign_certificate(tbs, self.private_key())
    }
}

/// The cRLDistributionPoints extension value for `url` (RFC 5280 §4.2.1.13): one
/// DistributionPoint whose fullName is the URI, no reasons (the CRL covers every reason), no
/// cRLIssuer (the root issues its own CRL).
fn crl_distribution_points(url: &str) -> Result<CrlDistributionPoints> {
    let invalid = |reason| Error::InvalidName {
        what: "CRL distribution point",
        value: url.into(),
        reason,
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| invalid("must be an http:// or https:// URL"))?;
    // RFC 5280 §4.2.1.13 / §7.4: an IA5String URI; no spaces or control characters.
    if rest.is_empty() || rest.starts_with('/') || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "must be an absolute URL with a host, ASCII, no spaces",
        ));
    }
    let uri = Ia5String::new(url).map_err(|_| invalid("must be ASCII"))?;
    Ok(CrlDistributionPoints(alloc::vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(alloc::vec![
            GeneralName::UniformResourceIdentifier(uri)
        ])),
        reasons: None,
        crl_issuer: None,
    }]))
}
