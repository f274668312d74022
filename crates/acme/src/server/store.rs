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

/// Persistence for the server core. Implementations must make each `put_*` durable before
/// returning (the core answers the client right after).
pub trait Store {
    /// Look up an account by id.
    fn account(&self, id: &str) -> Option<AccountRecord>;
    /// Look up an account by key thumbprint.
    fn account_by_thumbprint(&self, thumbprint: &str) -> Option<AccountRecord>;
    /// Insert or replace an account (the thumbprint index follows `jwk`).
    fn put_account(&mut self, account: AccountRecord);
    /// Look up an order.
    fn order(&self, id: &str) -> Option<OrderRecord>;
    /// Insert or replace an order.
    fn put_order(&mut self, order: OrderRecord);
    /// Look up an authorization.
    fn authz(&self, id: &str) -> Option<AuthzRecord>;
    /// Insert or replace an authorization.
    fn put_authz(&mut self, authz: AuthzRecord);
    /// Look up a certificate.
    fn certificate(&self, id: &str) -> Option<CertificateRecord>;
    /// Look up a certificate by its leaf DER.
    fn certificate_by_der(&self, der: &[u8]) -> Option<CertificateRecord>;
    /// Insert or replace a certificate.
    fn put_certificate(&mut self, cert: CertificateRecord);
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
    fn account(&self, id: &str) -> Option<AccountRecord> {
        self.accounts.get(id).cloned()
    }
    fn account_by_thumbprint(&self, thumbprint: &str) -> Option<AccountRecord> {
        self.by_thumbprint
            .get(thumbprint)
            .and_then(|id| self.account(id))
    }
    fn put_account(&mut self, account: AccountRecord) {
        if let Some(old) = self.accounts.get(&account.id) {
            self.by_thumbprint.remove(&old.thumbprint);
        }
        self.by_thumbprint
            .insert(account.thumbprint.clone(), account.id.clone());
        self.accounts.insert(account.id.clone(), account);
    }
    fn order(&self, id: &str) -> Option<OrderRecord> {
        self.orders.get(id).cloned()
    }
    fn put_order(&mut self, order: OrderRecord) {
        self.orders.insert(order.id.clone(), order);
    }
    fn authz(&self, id: &str) -> Option<AuthzRecord> {
        self.authzs.get(id).cloned()
    }
    fn put_authz(&mut self, authz: AuthzRecord) {
        self.authzs.insert(authz.id.clone(), authz);
    }
    fn certificate(&self, id: &str) -> Option<CertificateRecord> {
        self.certs.get(id).cloned()
    }
    fn certificate_by_der(&self, der: &[u8]) -> Option<CertificateRecord> {
        self.certs.values().find(|c| c.leaf_der == der).cloned()
    }
    fn put_certificate(&mut self, cert: CertificateRecord) {
        self.certs.insert(cert.id.clone(), cert);
    }
}
