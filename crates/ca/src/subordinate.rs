//! Subordinate CA mode (draft §3.5 and §3.6 "unless otherwise configured, for example in a managed
//! enterprise network"; §4.6 "a root X.509 certificate from a trusted, public CA"): the server's
//! CA key is certified by the company's PKI instead of signing itself.
//!
//! The request follows the CA/Browser Forum Baseline Requirements' *technically constrained*
//! subordinate CA (§7.1.2.5): basicConstraints CA:true with pathLenConstraint 0, keyUsage
//! keyCertSign and cRLSign, extKeyUsage serverAuth and clientAuth (no anyExtendedKeyUsage), and
//! name constraints permitting only `local`, the site domains and the private, link-local and
//! loopback address ranges — the same subtrees and criticality choice as a lantrust root.
//!
//! [`ca_request`] makes the PKCS#10 request (RFC 2986, extensions in an extensionRequest
//! attribute, RFC 2985 §5.4.2); [`Root::from_subordinate`] checks what the company CA signed
//! before it is used: the key, the CA flag and path length, the key usages, that the name
//! constraints are present and no wider than requested, the EKU, and the chain up to a
//! self-signed company root.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use const_oid::AssociatedOid;
use const_oid::db::rfc4519;
use const_oid::db::rfc5280::{ANY_EXTENDED_KEY_USAGE, ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use der::asn1::{BitString, SetOfVec};
use der::{Decode, Encode, EncodePem};
use lantrust_keys::{PrivateKey, PublicKey};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::constraints::name::NameConstraints as NameConstraintsExtension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version as CsrVersion};

use crate::extensions::{ca_constraints, extension};
use crate::names::distinguished_name;
use crate::root::{NameConstraints, name_constraints, validate_config};
use crate::{Error, Result, Root, RootConfig};

/// The PEM label of a PKCS#10 request.
const CSR_LABEL: &str = "CERTIFICATE REQUEST";

/// A subordinate CA: the certificate the company CA issued for the server's CA key, usable as
/// the issuer of device certificates and CRLs, and the chain above it.
#[derive(Debug)]
pub struct Subordinate {
    root: Root,
    chain: Vec<Certificate>,
}

impl Subordinate {
    /// The issuing CA (its certificate and key); issues device certificates and CRLs exactly
    /// as a self-signed root does.
    pub fn issuer(&self) -> &Root {
        &self.root
    }

    /// Gives up the chain and returns the issuing CA.
    pub fn into_issuer(self) -> Root {
        self.root
    }

    /// The certificates above the subordinate CA, in order: intermediates (if any), then the
    /// self-signed company root (the trust anchor).
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The company root: the last certificate of [`Subordinate::chain`].
    pub fn anchor(&self) -> Option<&Certificate> {
        self.chain.last()
    }
}

/// Makes the CA certificate request for `key` (draft §4.11: a fresh key), for the server and
/// domains of `config`: subject `O=lantrust, CN=<network> Local Issuing CA`, and the
/// extensions of a technically constrained subordinate CA (see the module documentation).
/// `config.validity_years` and `config.ip_addrs` are not part of a request (the company CA
/// chooses the validity; the server's addresses go in its HTTPS certificate).
///
/// # Errors
/// [`Error::InvalidName`] for a bad server name or domain; [`Error::NotASubordinate`] when
/// `config.name_constraints` is [`NameConstraints::Off`] (an unconstrained subordinate is not a
/// technically constrained CA and could vouch for any Internet name).
pub fn ca_request(config: &RootConfig, key: &PrivateKey) -> Result<CertReq> {
    let (server, domains) = validate_config(config)?;
    let critical = match config.name_constraints {
        NameConstraints::Critical => true,
        NameConstraints::NonCritical => false,
        NameConstraints::Off => {
            return Err(Error::NotASubordinate(String::from(
                "a subordinate CA must carry name constraints (choose critical or non-critical)",
            )));
        }
    };
    let network = match &config.network_name {
        Some(n) => n.clone(),
        None => domains
            .first()
            .cloned()
            .unwrap_or_else(|| alloc::format!("{server}.local")),
    };
    let cn = alloc::format!("{network} Local Issuing CA");
    let subject = distinguished_name(&[(rfc4519::O, "lantrust"), (rfc4519::CN, &cn)])?;
    let mut extensions = Vec::from(ca_constraints()?);
    extensions.extend([
        extension(
            false,
            &ExtendedKeyUsage(alloc::vec![ID_KP_SERVER_AUTH, ID_KP_CLIENT_AUTH]),
        )?,
        extension(critical, &name_constraints(&domains)?)?,
    ]);
    let attribute = Attribute::try_from(ExtensionReq(extensions)).map_err(Error::encoding)?;
    let mut attributes = SetOfVec::new();
    attributes.insert(attribute).map_err(Error::encoding)?;
    let info = CertReqInfo {
        version: CsrVersion::V1,
        subject,
        public_key: key.public_key_info(),
        attributes,
    };
    let info_der = info.to_der().map_err(Error::encoding)?;
    let signature = key.sign(&info_der)?;
    Ok(CertReq {
        info,
        algorithm: key.signature_algorithm(),
        signature: BitString::from_bytes(signature.as_bytes()).map_err(Error::encoding)?,
    })
}

/// A request as PEM (`-----BEGIN CERTIFICATE REQUEST-----`, LF line endings).
pub fn ca_request_to_pem(request: &CertReq) -> Result<String> {
    request
        .to_pem(der::pem::LineEnding::LF)
        .map_err(Error::encoding)
}

/// Parses a PEM request written by [`ca_request_to_pem`].
pub fn ca_request_from_pem(pem: &str) -> Result<CertReq> {
    crate::encoding::check_label(pem, CSR_LABEL)?;
    let (label, der) = der::pem::decode_vec(pem.as_bytes()).map_err(|e| Error::Malformed {
        what: "PEM certificate request",
        offset: None,
        detail: alloc::format!("{e}"),
    })?;
    if label != CSR_LABEL {
        return Err(Error::PemLabel {
            expected: CSR_LABEL,
            found: label.into(),
        });
    }
    CertReq::from_der(&der).map_err(|e| Error::der("certificate request", e))
}

impl Root {
    /// Imports a subordinate CA certificate the company CA signed for `key`, with `chain` (the
    /// certificates above it: intermediates, then the self-signed company root), after checking
    /// it against `request` (what [`ca_request`] asked for) at `now` (seconds since the Unix
    /// epoch, as a duration):
    ///
    /// - the certificate is for `key` (the request's key), and not self-issued;
    /// - basicConstraints CA:true with pathLenConstraint 0; keyUsage keyCertSign and cRLSign;
    /// - a nameConstraints extension whose permitted dNSName and iPAddress subtrees are each
    ///   inside one the request asked for, with at least one of each (RFC 5280 §4.2.1.10: a
    ///   type without a permitted subtree is unconstrained); excluded subtrees only narrow and
    ///   are accepted; the criticality is the company CA's choice;
    /// - an extKeyUsage within serverAuth and clientAuth, including serverAuth;
    /// - each certificate is signed by the next one's key (names chaining), every certificate
    ///   of the chain is a CA allowed to sign certificates, the last is self-signed, and all are
    ///   valid at `now` (notBefore with five minutes' tolerance for clock skew).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] when the certificate is for another key; [`Error::NotASubordinate`]
    /// naming what to fix otherwise.
    pub fn from_subordinate(
        cert: Certificate,
        key: PrivateKey,
        chain: Vec<Certificate>,
        request: &CertReq,
        now: Duration,
    ) -> Result<Subordinate> {
        let bad = |s: String| Err(Error::NotASubordinate(s));
        let tbs = &cert.tbs_certificate;
        if tbs.subject_public_key_info != key.public_key_info()
            || request.info.public_key != key.public_key_info()
        {
            return Err(Error::KeyMismatch);
        }
        if tbs.issuer == tbs.subject {
            return bad(String::from(
                "the certificate is self-issued; give the certificate the company CA signed for \
                 the request, and its chain",
            ));
        }
        let requested = requested_constraints(request)?;
        let mut path_len = None;
        let mut is_ca = false;
        let mut can_sign = false;
        let mut constraints = None;
        let mut eku = None;
        for ext in tbs.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == BasicConstraints::OID {
                let bc = BasicConstraints::from_der(value)
                    .map_err(|e| Error::der("basicConstraints", e))?;
                is_ca = bc.ca;
                path_len = bc.path_len_constraint;
            } else if ext.extn_id == KeyUsage::OID {
                let ku = KeyUsage::from_der(value).map_err(|e| Error::der("keyUsage", e))?;
                can_sign = ku.key_cert_sign() && ku.crl_sign();
            } else if ext.extn_id == NameConstraintsExtension::OID {
                constraints = Some(
                    NameConstraintsExtension::from_der(value)
                        .map_err(|e| Error::der("nameConstraints", e))?,
                );
            } else if ext.extn_id == ExtendedKeyUsage::OID {
                eku = Some(
                    ExtendedKeyUsage::from_der(value).map_err(|e| Error::der("extKeyUsage", e))?,
                );
            }
        }
        if !is_ca {
            return bad(String::from(
                "basicConstraints does not say CA:TRUE; sign with the CSR's extensions \
                 (openssl: -copy_extensions copy, or an -extfile with basicConstraints=critical,CA:TRUE,pathlen:0)",
            ));
        }
        if path_len != Some(0) {
            return bad(String::from(
                "basicConstraints must carry pathlen:0 as requested (this CA issues only device \
                 certificates)",
            ));
        }
        if !can_sign {
            return bad(String::from(
                "keyUsage must include keyCertSign and cRLSign as requested",
            ));
        }
        let Some(constraints) = constraints else {
            return bad(String::from(
                "the certificate has no nameConstraints: a subordinate CA without them could \
                 vouch for any name; sign keeping the CSR's nameConstraints extension",
            ));
        };
        check_constraints(&constraints, &requested)?;
        match eku {
            None => {
                return bad(String::from(
                    "the certificate has no extKeyUsage; keep the CSR's serverAuth, clientAuth",
                ));
            }
            Some(ExtendedKeyUsage(purposes)) => {
                if purposes
                    .iter()
                    .any(|p| *p != ID_KP_SERVER_AUTH && *p != ID_KP_CLIENT_AUTH)
                {
                    let extra = if purposes.contains(&ANY_EXTENDED_KEY_USAGE) {
                        "anyExtendedKeyUsage"
                    } else {
                        "a purpose other than serverAuth and clientAuth"
                    };
                    return bad(alloc::format!(
                        "extKeyUsage includes {extra}; the request asked for serverAuth, clientAuth only"
                    ));
                }
                if !purposes.contains(&ID_KP_SERVER_AUTH) {
                    return bad(String::from("extKeyUsage lacks serverAuth"));
                }
            }
        }
        check_chain(&cert, &chain, now)?;
        let root = Root::from_parts_unchecked_issuer(cert, key)?;
        Ok(Subordinate { root, chain })
    }
}

/// The name constraints the request asked for.
fn requested_constraints(request: &CertReq) -> Result<NameConstraintsExtension> {
    for attr in request.info.attributes.iter() {
        if attr.oid != ExtensionReq::OID {
            continue;
        }
        for value in attr.values.iter() {
            let req: ExtensionReq = value
                .decode_as()
                .map_err(|e| Error::der("extensionRequest", e))?;
            for ext in req.0 {
                if ext.extn_id == NameConstraintsExtension::OID {
                    return NameConstraintsExtension::from_der(ext.extn_value.as_bytes())
                        .map_err(|e| Error::der("nameConstraints", e));
                }
            }
        }
    }
    Err(Error::NotASubordinate(String::from(
        "the stored request has no nameConstraints; run init --subordinate again",
    )))
}

/// Every permitted dNSName/iPAddress subtree of `granted` lies inside one of `requested`, and
/// both types are constrained.
fn check_constraints(
    granted: &NameConstraintsExtension,
    requested: &NameConstraintsExtension,
) -> Result<()> {
    let empty = Vec::new();
    let asked = requested.permitted_subtrees.as_ref().unwrap_or(&empty);
    let permitted = granted.permitted_subtrees.as_ref().unwrap_or(&empty);
    let (mut dns, mut ip) = (false, false);
    for subtree in permitted {
        if subtree.minimum != 0 || subtree.maximum.is_some() {
            return Err(Error::NotASubordinate(String::from(
                "a nameConstraints subtree has minimum/maximum set (RFC 5280 §4.2.1.10 forbids it)",
            )));
        }
        let inside = match &subtree.base {
            GeneralName::DnsName(name) => {
                dns = true;
                let name = name.as_str().to_ascii_lowercase();
                asked.iter().any(|a| match &a.base {
                    GeneralName::DnsName(r) => {
                        let r = r.as_str().to_ascii_lowercase();
                        name == r || name.ends_with(&alloc::format!(".{r}"))
                    }
                    _ => false,
                })
            }
            GeneralName::IpAddress(range) => {
                ip = true;
                asked.iter().any(|a| match &a.base {
                    GeneralName::IpAddress(r) => ip_range_within(range.as_bytes(), r.as_bytes()),
                    _ => false,
                })
            }
            // Other name types only constrain themselves (narrower than unconstrained).
            _ => true,
        };
        if !inside {
            return Err(Error::NotASubordinate(alloc::format!(
                "the nameConstraints permit {}, which the request did not ask for; sign keeping the \
                 CSR's nameConstraints (or narrower ones)",
                describe(&subtree.base)
            )));
        }
    }
    if !dns || !ip {
        let missing = if dns { "iPAddress" } else { "dNSName" };
        return Err(Error::NotASubordinate(alloc::format!(
            "the nameConstraints permit no {missing} subtree, which leaves every {missing} allowed; \
             sign keeping the CSR's nameConstraints"
        )));
    }
    Ok(())
}

/// Whether the address range `inner` (address then mask) lies inside `outer`.
fn ip_range_within(inner: &[u8], outer: &[u8]) -> bool {
    if inner.len() != outer.len() || !matches!(inner.len(), 8 | 32) {
        return false;
    }
    let half = inner.len() / 2;
    let (ia, im) = inner.split_at(half);
    let (oa, om) = outer.split_at(half);
    ia.iter()
        .zip(im)
        .zip(oa.iter().zip(om))
        .all(|((a, m), (ra, rm))| m & rm == *rm && a & rm == *ra)
}

fn describe(name: &GeneralName) -> String {
    match name {
        GeneralName::DnsName(d) => alloc::format!("DNS:{}", d.as_str()),
        GeneralName::IpAddress(r) => alloc::format!("IP range {:02x?}", r.as_bytes()),
        _ => String::from("another name"),
    }
}

/// `cert` is signed by `chain[0]`, each by the next, the last is self-signed; every one of the
/// chain is a CA with keyCertSign; all valid at `now`.
fn check_chain(cert: &Certificate, chain: &[Certificate], now: Duration) -> Result<()> {
    let bad = |s: String| Err(Error::NotASubordinate(s));
    if chain.is_empty() {
        return bad(String::from(
            "no chain given: add the company CA's certificates (intermediates, then its \
             self-signed root) as the CHAIN file",
        ));
    }
    let mut child = cert;
    for (i, parent) in chain.iter().enumerate() {
        let what = if i + 1 == chain.len() {
            String::from("the company root")
        } else {
            alloc::format!("intermediate {}", i + 1)
        };
        if child.tbs_certificate.issuer != parent.tbs_certificate.subject {
            return bad(alloc::format!(
                "{} was issued by {}, not by {what} ({}); give the chain in order, from the CA \
                 that signed the certificate up to the self-signed root",
                child.tbs_certificate.subject,
                child.tbs_certificate.issuer,
                parent.tbs_certificate.subject
            ));
        }
        if !signed_by(child, parent) {
            return bad(alloc::format!(
                "the signature on {} does not verify with the key of {what}",
                child.tbs_certificate.subject
            ));
        }
        if !is_signing_ca(parent)? {
            return bad(alloc::format!(
                "{what} ({}) is not a CA allowed to sign certificates",
                parent.tbs_certificate.subject
            ));
        }
        child = parent;
    }
    // The last one must be a self-signed root (the anchor clients are configured with).
    if child.tbs_certificate.issuer != child.tbs_certificate.subject || !signed_by(child, child) {
        return bad(String::from(
            "the chain does not end at a self-signed root; append the company root certificate",
        ));
    }
    for c in core::iter::once(cert).chain(chain) {
        let validity = &c.tbs_certificate.validity;
        // Clock skew between this machine and the company CA's (the certificate may have been
        // signed moments ago): as much tolerance for notBefore as our own certificates' backdating.
        if now.saturating_add(crate::root::BACKDATE) < validity.not_before.to_unix_duration()
            || now > validity.not_after.to_unix_duration()
        {
            return bad(alloc::format!(
                "{} is not valid now (valid {} to {})",
                c.tbs_certificate.subject,
                validity.not_before,
                validity.not_after
            ));
        }
    }
    Ok(())
}

fn signed_by(child: &Certificate, parent: &Certificate) -> bool {
    let Ok(key) = PublicKey::from_spki(parent.tbs_certificate.subject_public_key_info.clone())
    else {
        return false;
    };
    let Ok(tbs) = child.tbs_certificate.to_der() else {
        return false;
    };
    key.verify(
        &child.signature_algorithm,
        &tbs,
        child.signature.raw_bytes(),
    )
    .is_ok()
}

fn is_signing_ca(cert: &Certificate) -> Result<bool> {
    let mut ca = false;
    let mut sign = true;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == BasicConstraints::OID {
            ca = BasicConstraints::from_der(value)
                .map_err(|e| Error::der("basicConstraints", e))?
                .ca;
        } else if ext.extn_id == KeyUsage::OID {
            sign = KeyUsage::from_der(value)
                .map_err(|e| Error::der("keyUsage", e))?
                .key_cert_sign();
        }
    }
    Ok(ca && sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges() {
        let outer = [192, 168, 0, 0, 255, 255, 0, 0];
        assert!(ip_range_within(&[192, 168, 4, 0, 255, 255, 255, 0], &outer));
        assert!(ip_range_within(&outer, &outer));
        assert!(!ip_range_within(&[192, 0, 0, 0, 255, 0, 0, 0], &outer));
        assert!(!ip_range_within(&[0, 0, 0, 0, 0, 0, 0, 0], &outer));
        assert!(!ip_range_within(&[10, 0, 0, 0, 255, 0, 0, 0], &outer));
    }
}
