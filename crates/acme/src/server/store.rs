//! Persistence for the server core: the records it keeps and the [`Store`] it keeps them in
//! (RFC 8555 §7.1: the account, order, authorization, challenge and certificate resources).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::jose::Jwk;
use crate::objects::*;

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    /// Opaque id (the last path segment of the account URL).
    pub id: String,
    /// The account's public key.
    pub jwk: Jwk,
    /// RFC 7638 thumbprint of `jwk` (lookup key for newAccount and keyChange).
    pub thumbprint: String,
    /// Status.
    pub status: AccountStatus,
    /// Contact URIs.
    pub contact: Vec<String>,
    /// Whether the terms of service were agreed to.
    pub terms_of_service_agreed: bool,
    /// Order ids, oldest first.
    pub orders: Vec<String>,
}

/// A stored order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// Opaque id.
    pub id: String,
    /// Owning account id.
    pub account_id: String,
    /// Status.
    pub status: OrderStatus,
    /// Expiry (since the Unix epoch).
    pub expires: Duration,
    /// Identifiers.
    pub identifiers: Vec<Identifier>,
    /// Authorization ids, one per identifier.
    pub authz_ids: Vec<String>,
    /// Requested notBefore / notAfter, passed through to the issuer.
    pub not_before: Option<String>,
    /// Requested notAfter.
    pub not_after: Option<String>,
    /// Error that invalidated the order.
    pub error: Option<Problem>,
    /// Certificate id once issued.
    pub certificate_id: Option<String>,
    /// RFC 9773 `replaces`.
    pub replaces: Option<String>,
}

/// A stored challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// Opaque id, unique within the authorization.
    pub id: String,
    /// Type.
    pub kind: ChallengeType,
    /// Token.
    pub token: String,
    /// Status.
    pub status: ChallengeStatus,
    /// When validated.
    pub validated: Option<Duration>,
    /// Why it failed.
    pub error: Option<Problem>,
}

/// A stored authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthzRecord {
    /// Opaque id.
    pub id: String,
    /// Owning account id.
    pub account_id: String,
    /// The identifier.
    pub identifier: Identifier,
    /// Status.
    pub status: AuthorizationStatus,
    /// Expiry.
    pub expires: Duration,
    /// Challenges offered.
    pub challenges: Vec<ChallengeRecord>,
    /// Validation succeeded, but the approval policy (§3.4.4) has not yet approved the device.
    pub awaiting_approval: bool,
}

/// A stored certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Opaque id.
    pub id: String,
    /// Owning account id.
    pub account_id: String,
    /// Order id.
    pub order_id: String,
    /// PEM chain, leaf first.
    pub pem_chain: String,
    /// Alternate PEM chains.
    pub alternates: Vec<String>,
    /// DER of the leaf (for revocation lookup).
    pub leaf_der: Vec<u8>,
    /// Revocation reason once revoked (`Some(None)` = revoked without reason code).
    pub revoked: Option<Option<u8>>,
}

/// A [`Store`] could not read or write a record (database error, corrupt record, full disk).
///
/// The core answers the request with a `serverInternal` (500) problem: a failed read is never
/// taken for "no such account/order", and a failed write never for success.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {detail}")]
pub struct StoreError {
    /// What failed, for the operator's log (never sent to the client).
    pub detail: String,
}

impl StoreError {
    /// A storage failure described by `detail`.
    pub fn new(detail: impl Into<String>) -> Self {
        StoreError {
            detail: detail.into(),
        }
    }
}

/// Persistence for the server core. Implementations must make each `put_*` durable before
/// returning, or before the caller sends the response (the core answers the client right after).
/// `Ok(None)` is "no such record"; `Err` is a storage failure.
pub trait Store {
    /// Look up an account by id.
    fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Look up an account by key thumbprint.
    fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Insert or replace an account (the thumbprint index follows `jwk`).
    fn put_account(&mut self, account: AccountRecord) -> Result<(), StoreError>;
    /// Look up an order.
    fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError>;
    /// Insert or replace an order.
    fn put_order(&mut self, order: OrderRecord) -> Result<(), StoreError>;
    /// Look up an authorization.
    fn authz(&self, id: &str) -> Result<Option<AuthzRecord>, StoreError>;
    /// Insert or replace an authorization.
    fn put_authz(&mut self, authz: AuthzRecord) -> Result<(), StoreError>;
    /// Look up a certificate.
    fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError>;
    /// Look up a certificate by its leaf DER.
    fn certificate_by_der(&self, der: &[u8]) -> Result<Option<CertificateRecord>, StoreError>;
    /// Look up a certificate by the DER content bytes of its serial number (RFC 9773 §4.1: the
    /// certID's second half). The default refuses, so a store that does not implement it makes
    /// renewalInfo and `replaces` answer `serverInternal` rather than "no such certificate".
    fn certificate_by_serial(
        &self,
        serial: &[u8],
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let _ = serial;
        Err(StoreError::new(
            "this store cannot look certificates up by serial number (RFC 9773)",
        ))
    }
    /// Insert or replace a certificate; `now` is when it was issued, or revoked if
    /// `cert.revoked` is set (the CRL's revocationDate, RFC 5280 §5.3).
    fn put_certificate(&mut self, cert: CertificateRecord, now: Duration)
    -> Result<(), StoreError>;
}

/// An in-memory [`Store`] (tests, demos, and a reference for real implementations).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    accounts: BTreeMap<String, AccountRecord>,
    by_thumbprint: BTreeMap<String, String>,
    orders: BTreeMap<String, OrderRecord>,
    authzs: BTreeMap<String, AuthzRecord>,
    certs: BTreeMap<String, CertificateRecord>,
}

impl Store for MemoryStore {
    fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self.accounts.get(id).cloned())
    }
    fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self
            .by_thumbprint
            .get(thumbprint)
            .and_then(|id| self.accounts.get(id).cloned()))
    }
    fn put_account(&mut self, account: AccountRecord) -> Result<(), StoreError> {
        if let Some(old) = self.accounts.get(&account.id) {
            self.by_thumbprint.remove(&old.thumbprint);
        }
        self.by_thumbprint
            .insert(account.thumbprint.clone(), account.id.clone());
        self.accounts.insert(account.id.clone(), account);
        Ok(())
    }
    fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.orders.get(id).cloned())
    }
    fn put_order(&mut self, order: OrderRecord) -> Result<(), StoreError> {
        self.orders.insert(order.id.clone(), order);
        Ok(())
    }
    fn authz(&self, id: &str) -> Result<Option<AuthzRecord>, StoreError> {
        Ok(self.authzs.get(id).cloned())
    }
    fn put_authz(&mut self, authz: AuthzRecord) -> Result<(), StoreError> {
        self.authzs.insert(authz.id.clone(), authz);
        Ok(())
    }
    fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        Ok(self.certs.get(id).cloned())
    }
    fn certificate_by_der(&self, der: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        Ok(self.certs.values().find(|c| c.leaf_der == der).cloned())
    }
    fn certificate_by_serial(
        &self,
        serial: &[u8],
    ) -> Result<Option<CertificateRecord>, StoreError> {
        Ok(self
            .certs
            .values()
            .find(|c| leaf_serial(&c.leaf_der).as_deref() == Some(serial))
            .cloned())
    }
    fn put_certificate(&mut self, cert: CertificateRecord, _: Duration) -> Result<(), StoreError> {
        self.certs.insert(cert.id.clone(), cert);
        Ok(())
    }
}

/// The DER content bytes of a certificate's serial number.
fn leaf_serial(leaf_der: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(leaf_der).ok()?;
    Some(cert.tbs_certificate.serial_number.as_bytes().to_vec())
}
