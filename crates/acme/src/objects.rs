//! ACME resource objects (RFC 8555 §7.1) and their request payloads, with serde.
//!
//! Every object tolerates unknown fields on input (RFC 8555 §7.1: clients and servers "MUST ignore"
//! fields they do not understand); challenges and problems additionally keep them so that a proxy
//! or a later version can re-emit them.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Declare an enum of registered string values that keeps unregistered ones as `Other`.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this crate does not know, kept verbatim.
            Other(String),
        }
        impl $name {
            /// The wire string of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => $s,)*
                    $name::Other(s) => s,
                }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => $name::$var,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

/// Parse any ACME object from JSON bytes, with the failure's byte offset.
pub fn from_json<T: for<'de> Deserialize<'de>>(input: &[u8]) -> Result<T> {
    serde_json::from_slice(input).map_err(|e| Error::json(input, &e))
}

/// Serialise any ACME object to compact JSON bytes.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own types into a Vec cannot fail (no non-string map keys, no I/O).
    serde_json::to_vec(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Identifiers (RFC 8555 §9.7.7, RFC 8738)

string_enum! {
    /// Identifier type (RFC 8555 §9.7.7 registry).
    IdentifierType {
        /// A DNS name (RFC 8555).
        Dns = "dns",
        /// An IP address in textual form (RFC 8738).
        Ip = "ip",
    }
}

/// An identifier a certificate is requested for (RFC 8555 §7.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier type.
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The identifier value (a DNS name, or an IP address per RFC 8738 §3).
    pub value: String,
}

impl Identifier {
    /// A `dns` identifier.
    pub fn dns(name: &str) -> Self {
        Identifier {
            kind: IdentifierType::Dns,
            value: name.to_string(),
        }
    }
    /// An `ip` identifier (RFC 8738) from a parsed address, in its canonical textual form.
    pub fn ip(addr: core::net::IpAddr) -> Self {
        Identifier {
            kind: IdentifierType::Ip,
            value: addr.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Directory (RFC 8555 §7.1.1)

/// The directory object (RFC 8555 §7.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// URL of the newNonce resource.
    pub new_nonce: String,
    /// URL of the newAccount resource.
    pub new_account: String,
    /// URL of the newOrder resource.
    pub new_order: String,
    /// URL of the newAuthz resource, if the server supports pre-authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_authz: Option<String>,
    /// URL of the revokeCert resource.
    pub revoke_cert: String,
    /// URL of the keyChange resource.
    pub key_change: String,
    /// URL of the renewalInfo resource (RFC 9773).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_info: Option<String>,
    /// Server metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<DirectoryMeta>,
}

/// The directory's `meta` object (RFC 8555 §7.1.1, profiles per draft-ietf-acme-profiles).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    /// URL of the current terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    /// Website with information about the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Hostnames the server recognises as its own in CAA records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caa_identities: Vec<String>,
    /// Whether newAccount requires an external account binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_required: Option<bool>,
    /// Certificate profiles offered: name → human description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<BTreeMap<String, String>>,
}

// ---------------------------------------------------------------------------------------------
// Account (RFC 8555 §7.1.2, §7.3)

/// Account status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Usable.
    Valid,
    /// Deactivated by the client.
    Deactivated,
    /// Revoked by the server.
    Revoked,
}

/// An account object (RFC 8555 §7.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Account status.
    pub status: AccountStatus,
    /// Contact URIs; for IoT devices `https:` URIs, one per device FQDN (draft §3.4.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// Whether the client agreed to the terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_agreed: Option<bool>,
    /// External account binding (a JWS), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<Value>,
    /// URL of the account's orders list. Required by RFC 8555, but Pebble and others omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
}

/// The newAccount request payload (RFC 8555 §7.3), also used for account updates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    /// Contact URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// Agreement to the terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_agreed: Option<bool>,
    /// Only look up an existing account; never create one (§7.3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_return_existing: Option<bool>,
    /// External account binding JWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<Value>,
}

/// Contact URIs for an IoT device: `https://<fqdn>/` for each of its names (draft §3.4.2).
pub fn https_contacts<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| alloc::format!("https://{n}/"))
        .collect()
}

/// Account update / deactivation payload (RFC 8555 §7.3.2, §7.3.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    /// New contact list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Vec<String>>,
    /// `deactivated` to deactivate the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AccountStatus>,
}

// ---------------------------------------------------------------------------------------------
// Order (RFC 8555 §7.1.3, §7.4)

/// Order status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Authorizations not yet all valid.
    Pending,
    /// All authorizations valid; waiting for finalize.
    Ready,
    /// Finalize received; certificate being issued.
    Processing,
    /// Certificate issued.
    Valid,
    /// Failed, expired or refused.
    Invalid,
}

/// An order object (RFC 8555 §7.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Order status.
    pub status: OrderStatus,
    /// When the order expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Identifiers requested.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Requested notAfter (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Error that made the order invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Authorization URLs.
    pub authorizations: Vec<String>,
    /// Finalize URL.
    pub finalize: String,
    /// Certificate URL once valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// CertID (RFC 9773) of the certificate this order replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Requested profile (draft-ietf-acme-profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The newOrder request payload (RFC 8555 §7.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    /// Identifiers requested.
    pub identifiers: Vec<Identifier>,
    /// Requested notBefore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Requested notAfter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// CertID (RFC 9773 §5) of the certificate being renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Requested profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The orders-list object (RFC 8555 §7.1.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersList {
    /// Order URLs.
    pub orders: Vec<String>,
}

/// The finalize request payload (RFC 8555 §7.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finalize {
    /// base64url(DER CSR).
    pub csr: String,
}

impl Finalize {
    /// Build from a DER-encoded CSR.
    pub fn from_der(csr_der: &[u8]) -> Self {
        Finalize {
            csr: crate::b64::encode(csr_der),
        }
    }
    /// Decode the CSR DER.
    pub fn csr_der(&self) -> Result<Vec<u8>> {
        crate::b64::decode(&self.csr, "csr")
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization and challenges (RFC 8555 §7.1.4, §8)

/// Authorization status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizationStatus {
    /// Waiting for a challenge to be completed (or, here, for approval).
    Pending,
    /// Authorized.
    Valid,
    /// Failed.
    Invalid,
    /// Deactivated by the client.
    Deactivated,
    /// Expired.
    Expired,
    /// Revoked by the server.
    Revoked,
}

/// An authorization object (RFC 8555 §7.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The identifier being authorized.
    pub identifier: Identifier,
    /// Status.
    pub status: AuthorizationStatus,
    /// Expiry (RFC 3339); required for valid authorizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Challenges the client may fulfil.
    pub challenges: Vec<Challenge>,
    /// Whether this authorization was created for a wildcard identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
}

/// Authorization deactivation payload (RFC 8555 §7.5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationUpdate {
    /// `deactivated`.
    pub status: AuthorizationStatus,
}

/// The newAuthz payload (RFC 8555 §7.4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuthz {
    /// The identifier to pre-authorize.
    pub identifier: Identifier,
}

string_enum! {
    /// Challenge type (RFC 8555 §9.7.8 registry).
    ChallengeType {
        /// HTTP (RFC 8555 §8.3).
        Http01 = "http-01",
        /// DNS (RFC 8555 §8.4).
        Dns01 = "dns-01",
        /// TLS with ALPN (RFC 8737).
        TlsAlpn01 = "tls-alpn-01",
    }
}

/// Challenge status (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    /// Not yet attempted.
    Pending,
    /// Validation in progress.
    Processing,
    /// Validated.
    Valid,
    /// Failed.
    Invalid,
}

/// A challenge object (RFC 8555 §7.1.5, §8). Unknown challenge types and fields are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Challenge type.
    #[serde(rename = "type")]
    pub kind: ChallengeType,
    /// URL to POST to when ready.
    pub url: String,
    /// Status.
    pub status: ChallengeStatus,
    /// When it was validated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    /// Why validation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Token for http-01, dns-01 and tls-alpn-01 (RFC 8555 §8.3: base64url, ≥ 128 bits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Fields this crate does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// Revocation, key change (RFC 8555 §7.6, §7.3.5)

/// The revokeCert payload (RFC 8555 §7.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// base64url(DER certificate).
    pub certificate: String,
    /// CRL reason code (RFC 5280 §5.3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<u8>,
}

/// The inner payload of a keyChange request (RFC 8555 §7.3.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    /// The account URL.
    pub account: String,
    /// The old account key.
    pub old_key: crate::jose::Jwk,
}

// ---------------------------------------------------------------------------------------------
// Problem documents (RFC 7807, RFC 8555 §6.7)

string_enum! {
    /// Problem type URNs (RFC 8555 §6.7 and the ACME error registry, incl. RFC 9773).
    ProblemType {
        /// The request specified an account that does not exist.
        AccountDoesNotExist = "urn:ietf:params:acme:error:accountDoesNotExist",
        /// The request specified a predecessor certificate already replaced (RFC 9773).
        AlreadyReplaced = "urn:ietf:params:acme:error:alreadyReplaced",
        /// The certificate is already revoked.
        AlreadyRevoked = "urn:ietf:params:acme:error:alreadyRevoked",
        /// The CSR is unacceptable.
        BadCsr = "urn:ietf:params:acme:error:badCSR",
        /// The client sent an unacceptable anti-replay nonce.
        BadNonce = "urn:ietf:params:acme:error:badNonce",
        /// The JWS was signed by a public key the server does not support.
        BadPublicKey = "urn:ietf:params:acme:error:badPublicKey",
        /// The revocation reason is not allowed.
        BadRevocationReason = "urn:ietf:params:acme:error:badRevocationReason",
        /// The JWS was signed with an algorithm the server does not support.
        BadSignatureAlgorithm = "urn:ietf:params:acme:error:badSignatureAlgorithm",
        /// CAA records forbid issuance.
        Caa = "urn:ietf:params:acme:error:caa",
        /// Specific errors are in `subproblems`.
        Compound = "urn:ietf:params:acme:error:compound",
        /// The server could not connect to the validation target.
        Connection = "urn:ietf:params:acme:error:connection",
        /// DNS lookup failed during validation.
        Dns = "urn:ietf:params:acme:error:dns",
        /// The request must include an external account binding.
        ExternalAccountRequired = "urn:ietf:params:acme:error:externalAccountRequired",
        /// The response received did not match the challenge's requirements.
        IncorrectResponse = "urn:ietf:params:acme:error:incorrectResponse",
        /// A contact URL for an account was invalid.
        InvalidContact = "urn:ietf:params:acme:error:invalidContact",
        /// The request message was malformed.
        Malformed = "urn:ietf:params:acme:error:malformed",
        /// The request attempted to finalize an order that is not ready.
        OrderNotReady = "urn:ietf:params:acme:error:orderNotReady",
        /// The request exceeds a rate limit.
        RateLimited = "urn:ietf:params:acme:error:rateLimited",
        /// The server will not issue for the identifier.
        RejectedIdentifier = "urn:ietf:params:acme:error:rejectedIdentifier",
        /// The server experienced an internal error.
        ServerInternal = "urn:ietf:params:acme:error:serverInternal",
        /// The server received a TLS error during validation.
        Tls = "urn:ietf:params:acme:error:tls",
        /// The client lacks sufficient authorization.
        Unauthorized = "urn:ietf:params:acme:error:unauthorized",
        /// A contact URL for an account used an unsupported protocol scheme.
        UnsupportedContact = "urn:ietf:params:acme:error:unsupportedContact",
        /// An identifier is of an unsupported type.
        UnsupportedIdentifier = "urn:ietf:params:acme:error:unsupportedIdentifier",
        /// Visit the `instance` URL and take actions specified there.
        UserActionRequired = "urn:ietf:params:acme:error:userActionRequired",
    }
}

/// An RFC 7807 problem document with ACME's extensions (RFC 8555 §6.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Problem type URN.
    #[serde(rename = "type", default = "about_blank")]
    pub kind: ProblemType,
    /// Short summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// HTTP status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Human-readable explanation specific to this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// URI of this occurrence (e.g. for `userActionRequired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Per-identifier problems (RFC 8555 §6.7.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Subproblem>,
    /// Other members (e.g. `algorithms` for badSignatureAlgorithm).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn about_blank() -> ProblemType {
    ProblemType::Other("about:blank".to_string())
}

impl Problem {
    /// A problem of `kind` with an HTTP status and detail text.
    pub fn new(kind: ProblemType, status: u16, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            title: None,
            status: Some(status),
            detail: Some(detail.into()),
            instance: None,
            subproblems: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        for s in &self.subproblems {
            write!(f, "; {}", s.kind)?;
            if let Some(id) = &s.identifier {
                write!(f, " ({})", id.value)?;
            }
            if let Some(d) = &s.detail {
                write!(f, ": {d}")?;
            }
        }
        Ok(())
    }
}

/// A subproblem (RFC 8555 §6.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subproblem {
    /// Problem type URN.
    #[serde(rename = "type")]
    pub kind: ProblemType,
    /// Explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The identifier this subproblem is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
}

// ---------------------------------------------------------------------------------------------
// Renewal information (RFC 9773)

/// A suggested renewal window (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedWindow {
    /// Window start (RFC 3339).
    pub start: String,
    /// Window end (RFC 3339).
    pub end: String,
}

/// A RenewalInfo object (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    /// When to renew.
    pub suggested_window: SuggestedWindow,
    /// Why the window is what it is.
    #[serde(
        rename = "explanationURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub explanation_url: Option<String>,
}

/// The RFC 9773 §4.1 unique identifier of a certificate:
/// `base64url(AKI keyIdentifier) "." base64url(DER serial number value bytes)`.
pub fn cert_id(cert_der: &[u8]) -> Result<String> {
    use der::Decode;
    use x509_cert::ext::pkix::AuthorityKeyIdentifier;
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| Error::Certificate(alloc::format!("{e}")))?;
    let aki_oid = const_oid_aki();
    let ext = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == aki_oid))
        .ok_or_else(|| Error::Certificate("no authorityKeyIdentifier extension".to_string()))?;
    let aki = AuthorityKeyIdentifier::from_der(ext.extn_value.as_bytes())
        .map_err(|e| Error::Certificate(alloc::format!("authorityKeyIdentifier: {e}")))?;
    let key_id = aki.key_identifier.ok_or_else(|| {
        Error::Certificate("authorityKeyIdentifier has no keyIdentifier".to_string())
    })?;
    Ok(alloc::format!(
        "{}.{}",
        crate::b64::encode(key_id.as_bytes()),
        crate::b64::encode(cert.tbs_certificate.serial_number.as_bytes())
    ))
}

fn const_oid_aki() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.35")
}
