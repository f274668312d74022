//! Sans-IO ACME server core (RFC 8555 §6–§7) with the draft's manual approval (§3.4.4).
//!
//! The caller owns the HTTPS listener, the clock, the RNG, persistence (through [`Store`]),
//! challenge validation I/O (drain [`Server::poll_validation`], report with
//! [`Server::validation_result`]), human approval ([`ApprovalPolicy`]) and issuance ([`Issuer`],
//! implemented by the server binary with lantrust-csr and lantrust-ca).

// Problem documents are the natural error value of every handler and hook, and refusals are the
// cold path: boxing them would only make the hook signatures harder to implement.
#![allow(clippy::result_large_err)]

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use rand_core::CryptoRngCore;

use crate::b64;
use crate::error::Error;
use crate::http::{Method, Request, Response};
use crate::jose::{self, Jwk, JwsKind, KeyRef, ParsedJws, PublicKey};
use crate::objects::*;
use crate::time::rfc3339;

// ---------------------------------------------------------------------------------------------
// Records and the Store trait

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

// ---------------------------------------------------------------------------------------------
// Hooks

/// The approval decision for a device (draft §3.4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Issue (first approval given, or a renewal of an approved device).
    Approved,
    /// Wait for a human; the authorization stays `pending` with `Retry-After`.
    Pending,
    /// Refused (denied, or approval revoked); the text goes into the problem detail.
    Denied(String),
}

/// What the approval policy is asked about.
#[derive(Clone, Debug)]
pub struct ApprovalRequest<'a> {
    /// The device ID: the leftmost label of a DNS identifier (the CSR's CN per §3.4.3), or an IP.
    pub device_id: &'a str,
    /// The identifier being authorized.
    pub identifier: &'a Identifier,
    /// The requesting account.
    pub account: &'a AccountRecord,
}

/// The §3.4.4 approval hook: first issuance for a device waits for a human; renewals pass until the
/// approval is revoked. Called whenever a validated authorization is examined, so a decision made
/// out of band takes effect at the client's next poll.
pub trait ApprovalPolicy {
    /// Decide for one identifier.
    fn check(&mut self, request: &ApprovalRequest<'_>, now: Duration) -> Approval;

    /// Asked at newOrder, after the identifiers' syntax was checked and before anything is
    /// stored or validated: refuse names that are not this network's (draft §4.2: `<id>.local`
    /// and `<id>.<local domain>` only, no public names) with a `rejectedIdentifier` problem, so
    /// no challenge is ever sent toward them. The default accepts every identifier.
    fn check_order(&mut self, identifiers: &[Identifier]) -> Result<(), Problem> {
        let _ = identifiers;
        Ok(())
    }
}

/// Approve everything (tests and open networks).
#[derive(Clone, Copy, Debug, Default)]
pub struct AutoApprove;

impl ApprovalPolicy for AutoApprove {
    fn check(&mut self, _: &ApprovalRequest<'_>, _: Duration) -> Approval {
        Approval::Approved
    }
}

/// A certificate made by an [`Issuer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// PEM chain, leaf first.
    pub pem_chain: String,
    /// DER of the leaf.
    pub leaf_der: Vec<u8>,
    /// Alternate chains (PEM).
    pub alternates: Vec<String>,
}

/// CSR policy check and issuance (implemented by the server binary with lantrust-csr/lantrust-ca).
/// The core has already checked that the CSR parses and names exactly the order's identifiers.
pub trait Issuer {
    /// Check the CSR (signature, draft §3.4.3 policy) and issue; a refusal is a problem document,
    /// typically `badCSR` with every violation as a subproblem.
    fn issue(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        account: &AccountRecord,
        now: Duration,
    ) -> Result<Issued, Problem>;

    /// Told after a certificate was revoked (for CRLs).
    fn revoked(&mut self, _cert: &CertificateRecord, _now: Duration) {}
}

/// A challenge validation the caller must perform (HTTP fetch, TLS handshake, or DNS lookup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// Authorization id.
    pub authz_id: String,
    /// Challenge id.
    pub challenge_id: String,
    /// Type.
    pub kind: ChallengeType,
    /// What is being validated.
    pub identifier: Identifier,
    /// Token.
    pub token: String,
    /// Expected key authorization.
    pub key_authorization: String,
}

impl Validation {
    /// Compare an http-01 response body with the expected key authorization (RFC 8555 §8.3:
    /// surrounding whitespace is tolerated).
    pub fn check_http01_body(&self, body: &[u8]) -> Result<(), Problem> {
        let got = core::str::from_utf8(body)
            .unwrap_or("")
            .trim_matches(|c: char| c.is_ascii_whitespace());
        if got == self.key_authorization {
            Ok(())
        } else {
            Err(Problem::new(
                ProblemType::IncorrectResponse,
                403,
                "the http-01 response does not match the key authorization",
            ))
        }
    }

    /// Compare a tls-alpn-01 `acmeIdentifier` extension value (DER) with the expected one (RFC 8737 §3).
    pub fn check_tls_alpn01_extension(&self, extn_value: &[u8]) -> Result<(), Problem> {
        if extn_value == jose::tls_alpn01_extension_value(&self.key_authorization) {
            Ok(())
        } else {
            Err(Problem::new(
                ProblemType::IncorrectResponse,
                403,
                "the acmeIdentifier extension does not match",
            ))
        }
    }

    /// Check dns-01 TXT values at `_acme-challenge.<name>` (RFC 8555 §8.4).
    pub fn check_dns01_txt<'a>(
        &self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Problem> {
        let want = jose::dns01_txt_value(&self.key_authorization);
        if values.into_iter().any(|v| v == want) {
            Ok(())
        } else {
            Err(Problem::new(
                ProblemType::IncorrectResponse,
                403,
                "no TXT record matches the key authorization",
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nonces

/// Single-use nonces in a bounded store: issuing beyond capacity forgets the oldest (whose
/// owner then gets `badNonce` and retries, RFC 8555 §6.5).
#[derive(Clone, Debug)]
pub struct NonceStore {
    order: VecDeque<String>,
    live: BTreeSet<String>,
    capacity: usize,
}

impl NonceStore {
    /// A store holding at most `capacity` outstanding nonces.
    pub fn new(capacity: usize) -> Self {
        NonceStore {
            order: VecDeque::new(),
            live: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Issue a fresh nonce (128 random bits, base64url).
    pub fn issue(&mut self, rng: &mut impl CryptoRngCore) -> String {
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        let n = b64::encode(&raw);
        while self.live.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(n.clone());
        self.live.insert(n.clone());
        n
    }

    /// Consume a nonce; true if it was outstanding.
    pub fn consume(&mut self, nonce: &str) -> bool {
        // The VecDeque entry stays until it ages out; `live` is the source of truth.
        self.live.remove(nonce)
    }

    /// Outstanding nonces.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no nonce is outstanding.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Server

/// Server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Base URL of the ACME resources, without trailing slash, e.g. `https://router.local/acme`.
    /// The directory is `<base>/directory`.
    pub base_url: String,
    /// Accept high-S ECDSA signatures (Go's and OpenSSL's signers produce them: lego, certbot with EC).
    pub allow_high_s: bool,
    /// Outstanding nonce capacity.
    pub nonce_capacity: usize,
    /// Lifetime of orders.
    pub order_lifetime: Duration,
    /// Lifetime of authorizations.
    pub authz_lifetime: Duration,
    /// `Retry-After` while waiting for validation or approval.
    pub retry_after: Duration,
    /// Most identifiers per order.
    pub max_identifiers: usize,
    /// Directory `meta`.
    pub meta: Option<DirectoryMeta>,
}

impl ServerConfig {
    /// Defaults: strict low-S, 10 000 nonces, 1 h orders, 8 h authorizations, 5 s Retry-After,
    /// 20 identifiers per order.
    pub fn new(base_url: &str) -> Self {
        ServerConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            allow_high_s: false,
            nonce_capacity: 10_000,
            order_lifetime: Duration::from_secs(3600),
            authz_lifetime: Duration::from_secs(8 * 3600),
            retry_after: Duration::from_secs(5),
            max_identifiers: 20,
            meta: None,
        }
    }
}

/// The sans-IO server core.
pub struct Server<S, P, I> {
    cfg: ServerConfig,
    store: S,
    policy: P,
    issuer: I,
    nonces: NonceStore,
    validations: VecDeque<Validation>,
}

impl<S, P, I> core::fmt::Debug for Server<S, P, I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("base_url", &self.cfg.base_url)
            .field("nonces", &self.nonces.len())
            .finish_non_exhaustive()
    }
}

/// A refusal: problem + optional extra headers.
struct Refusal(Problem);

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal(p)
    }
}

fn problem(kind: ProblemType, status: u16, detail: impl Into<String>) -> Refusal {
    Refusal(Problem::new(kind, status, detail))
}

fn malformed(detail: impl Into<String>) -> Refusal {
    problem(ProblemType::Malformed, 400, detail)
}

/// A verified request.
struct Verified {
    payload: Vec<u8>,
    account: Option<AccountRecord>,
    jwk: Option<(Jwk, PublicKey)>,
    url: String,
}

type Handled = Result<Response, Refusal>;

/// The signature check of one request, to be run without the [`Server`] (e.g. outside the mutex
/// that guards it), so that a multi-threaded server verifies many requests in parallel and holds
/// its lock only for the state change. Made by [`Server::signature_job`]; run with
/// [`SignatureJob::run`]; the result goes to [`Server::handle_checked`].
///
/// ```
/// # use lantrust_acme::server::{AutoApprove, MemoryStore, Server, ServerConfig};
/// # use lantrust_acme::{Method, Request};
/// # struct NoIssuer;
/// # impl lantrust_acme::server::Issuer for NoIssuer {
/// #     fn issue(&mut self, _: &[u8], _: &lantrust_acme::server::OrderRecord,
/// #         _: &lantrust_acme::server::AccountRecord, _: core::time::Duration)
/// #         -> Result<lantrust_acme::server::Issued, lantrust_acme::Problem> { unimplemented!() }
/// # }
/// use std::sync::Mutex;
/// let core = Mutex::new(Server::new(
///     ServerConfig::new("https://router.local/acme"), MemoryStore::default(), AutoApprove, NoIssuer));
/// let request = Request { method: Method::Post, url: "https://router.local/acme/new-account".into(),
///     headers: vec![("Content-Type".into(), "application/jose+json".into())], body: b"{}".to_vec() };
/// let now = core::time::Duration::from_secs(1_800_000_000);
/// // 1. Under the lock, briefly: which key would verify this request?
/// let job = core.lock().unwrap().signature_job(&request);
/// // 2. Without the lock: the expensive signature verification.
/// let checked = job.and_then(|j| j.run(&request));
/// // 3. Under the lock: the state change (the core re-checks everything but the signature, and
/// //    verifies itself if `checked` does not match this request and key).
/// let response = core.lock().unwrap().handle_checked(&request, now, &mut rand::rngs::OsRng, checked.as_ref());
/// assert_eq!(response.status, 400); // `{}` is not a JWS
/// ```
#[derive(Clone, Debug)]
pub struct SignatureJob {
    key: Jwk,
    allow_high_s: bool,
}

impl SignatureJob {
    /// Verify the request's JWS signature with the key the server chose. `None` if the body is
    /// not a JWS or the signature does not verify (the core then refuses it with the reason).
    #[must_use]
    pub fn run(&self, request: &Request) -> Option<CheckedSignature> {
        let parsed = ParsedJws::parse(&request.body, JwsKind::Request).ok()?;
        let key = self.key.to_public_key().ok()?;
        parsed.verify(&key, self.allow_high_s).ok()?;
        Some(CheckedSignature {
            body_digest: body_digest(&request.body),
            thumbprint: self.key.thumbprint_bytes(),
        })
    }
}

/// Proof that a request body's JWS signature verified under one key: the SHA-256 of the body and
/// the key's RFC 7638 thumbprint. Only [`SignatureJob::run`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedSignature {
    body_digest: [u8; 32],
    thumbprint: [u8; 32],
}

impl CheckedSignature {
    fn covers(&self, body: &[u8], key: &Jwk) -> bool {
        self.thumbprint == key.thumbprint_bytes() && self.body_digest == body_digest(body)
    }
}

fn body_digest(body: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(body).into()
}

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    /// A server core.
    pub fn new(cfg: ServerConfig, store: S, policy: P, issuer: I) -> Self {
        let nonces = NonceStore::new(cfg.nonce_capacity);
        Server {
            cfg,
            store,
            policy,
            issuer,
            nonces,
            validations: VecDeque::new(),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
    /// The store, mutably (e.g. for an admin interface).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }
    /// The approval policy (e.g. to approve or revoke a device).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }
    /// The issuer.
    pub fn issuer_mut(&mut self) -> &mut I {
        &mut self.issuer
    }

    /// The directory URL.
    pub fn directory_url(&self) -> String {
        self.url("directory")
    }

    fn url(&self, path: &str) -> String {
        alloc::format!("{}/{path}", self.cfg.base_url)
    }

    /// The next challenge validation to perform.
    #[must_use]
    pub fn poll_validation(&mut self) -> Option<Validation> {
        self.validations.pop_front()
    }

    /// Handle one HTTP request. `request.url` must be the absolute URL the client used (scheme,
    /// host, port, path) so that it can be compared with the JWS `url` (RFC 8555 §6.4).
    pub fn handle(
        &mut self,
        request: &Request,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Response {
        self.handle_checked(request, now, rng, None)
    }

    /// The key that would verify `request`'s JWS: its embedded `jwk`, or the stored key of the
    /// account its `kid` names. Cheap (a parse and a store lookup); `None` when the request is not
    /// a signed ACME request of this server, which [`Server::handle_checked`] then refuses.
    #[must_use]
    pub fn signature_job(&self, request: &Request) -> Option<SignatureJob> {
        if request.method != Method::Post {
            return None;
        }
        let parsed = ParsedJws::parse(&request.body, JwsKind::Request).ok()?;
        let key = match &parsed.header.key {
            KeyRef::Jwk(jwk) => jwk.clone(),
            KeyRef::Kid(kid) => {
                let id = kid.strip_prefix(&self.url("acct/"))?;
                self.store.account(id)?.jwk
            }
        };
        Some(SignatureJob {
            key,
            allow_high_s: self.cfg.allow_high_s,
        })
    }

    /// [`Server::handle`] for a request whose signature was verified beforehand by
    /// [`SignatureJob::run`]. Everything else (nonce, URL, account status, key identity, payload)
    /// is checked here as usual; if `checked` does not cover this body and key, the signature is
    /// verified here too, so a stale or mismatched check can never let a request through.
    pub fn handle_checked(
        &mut self,
        request: &Request,
        now: Duration,
        rng: &mut impl CryptoRngCore,
        checked: Option<&CheckedSignature>,
    ) -> Response {
        let result = self.route(request, now, rng, checked);
        let mut resp = match result {
            Ok(r) => r,
            Err(Refusal(p)) => {
                let status = p.status.unwrap_or(400);
                Response {
                    status,
                    headers: alloc::vec![(
                        "Content-Type".into(),
                        "application/problem+json".into()
                    )],
                    body: to_json(&p),
                }
            }
        };
        // RFC 8555 §6.5: every response carries a fresh nonce; §7.1: Link to the directory.
        let n = self.nonces.issue(rng);
        resp.headers.push(("Replay-Nonce".into(), n));
        resp.headers
            .push(("Cache-Control".into(), "no-store".into()));
        resp.headers.push((
            "Link".into(),
            alloc::format!("<{}>;rel=\"index\"", self.directory_url()),
        ));
        resp
    }

    fn route(
        &mut self,
        req: &Request,
        now: Duration,
        rng: &mut impl CryptoRngCore,
        checked: Option<&CheckedSignature>,
    ) -> Handled {
        let path = req
            .url
            .strip_prefix(&self.cfg.base_url)
            .and_then(|p| p.strip_prefix('/'))
            .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such resource"))?
            .to_string();
        let segs: Vec<&str> = path.split('/').collect();
        match (req.method, segs.as_slice()) {
            (Method::Get, ["directory"]) => Ok(self.directory()),
            (Method::Head, ["new-nonce"]) => Ok(Response {
                status: 200,
                ..Default::default()
            }),
            (Method::Get, ["new-nonce"]) => Ok(Response {
                status: 204,
                ..Default::default()
            }),
            (Method::Post, _) => {
                let is_new_account = segs.as_slice() == ["new-account"];
                let is_revoke = segs.as_slice() == ["revoke-cert"];
                let v = self.verify(req, is_new_account || is_revoke, is_new_account, checked)?;
                match segs.as_slice() {
                    ["new-account"] => self.new_account(v, rng),
                    ["new-order"] => self.new_order(v, now, rng),
                    ["revoke-cert"] => self.revoke(v, now),
                    ["key-change"] => self.key_change(v),
                    ["acct", id] => self.account_post(v, id),
                    ["acct", id, "orders"] => self.orders_list(v, id),
                    ["order", id] => self.order_get(v, id, now),
                    ["order", id, "finalize"] => self.finalize(v, id, now, rng),
                    ["authz", id] => self.authz_post(v, id, now),
                    ["chall", authz, chall] => self.challenge_post(v, authz, chall, now),
                    ["cert", id] => self.cert_get(v, id, 0),
                    ["cert", id, n] => {
                        let n: usize = n.parse().map_err(|_| {
                            problem(ProblemType::Malformed, 404, "no such certificate")
                        })?;
                        self.cert_get(v, id, n.saturating_add(1))
                    }
                    _ => Err(problem(ProblemType::Malformed, 404, "no such resource")),
                }
            }
            _ => Err(problem(
                ProblemType::Malformed,
                405,
                "method not allowed for this resource",
            )),
        }
    }

    fn directory(&self) -> Response {
        let d = Directory {
            new_nonce: self.url("new-nonce"),
            new_account: self.url("new-account"),
            new_order: self.url("new-order"),
            new_authz: None,
            revoke_cert: self.url("revoke-cert"),
            key_change: self.url("key-change"),
            renewal_info: None,
            meta: self.cfg.meta.clone(),
        };
        json_response(200, &d)
    }

    /// RFC 8555 §6.2–§6.5: content type, JWS shape and algorithm, nonce, url, key, signature.
    fn verify(
        &mut self,
        req: &Request,
        jwk_allowed: bool,
        jwk_required: bool,
        checked: Option<&CheckedSignature>,
    ) -> Result<Verified, Refusal> {
        let allow_high_s = self.cfg.allow_high_s;
        let verify = |parsed: &ParsedJws, jwk: &Jwk, key: &PublicKey| -> Result<(), Refusal> {
            if checked.is_some_and(|c| c.covers(&req.body, jwk)) {
                return Ok(());
            }
            parsed
                .verify(key, allow_high_s)
                .map_err(|e| malformed(e.to_string()))
        };
        let ct = req.header("content-type").unwrap_or("");
        if !ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/jose+json")
        {
            return Err(problem(
                ProblemType::Malformed,
                415,
                "Content-Type must be application/jose+json",
            ));
        }
        let parsed = ParsedJws::parse(&req.body, JwsKind::Request).map_err(|e| match e {
            Error::UnsupportedAlgorithm(_) => {
                let mut p = Problem::new(ProblemType::BadSignatureAlgorithm, 400, e.to_string());
                p.extra.insert(
                    "algorithms".into(),
                    serde_json::json!(["ES256", "ES384", "ES512", "RS256"]),
                );
                Refusal(p)
            }
            other => malformed(other.to_string()),
        })?;
        // Nonce before anything that depends on the key, so a replay never reaches verification.
        let nonce = parsed.header.nonce.as_deref().unwrap_or("");
        if !self.nonces.consume(nonce) {
            return Err(problem(
                ProblemType::BadNonce,
                400,
                "the nonce is unknown, used or expired; retry with the Replay-Nonce of this response",
            ));
        }
        if parsed.header.url != req.url {
            return Err(problem(
                ProblemType::Unauthorized,
                401,
                "the JWS url does not match the request URL",
            ));
        }
        match &parsed.header.key {
            KeyRef::Jwk(jwk) => {
                if !jwk_allowed {
                    return Err(malformed(
                        "this resource needs `kid` (the account URL), not `jwk`",
                    ));
                }
                let key = jwk
                    .to_public_key()
                    .map_err(|e| problem(ProblemType::BadPublicKey, 400, e.to_string()))?;
                verify(&parsed, jwk, &key)?;
                Ok(Verified {
                    payload: parsed.payload,
                    account: None,
                    jwk: Some((jwk.clone(), key)),
                    url: req.url.clone(),
                })
            }
            KeyRef::Kid(kid) => {
                if jwk_required {
                    return Err(malformed("newAccount needs `jwk`, not `kid`"));
                }
                let prefix = self.url("acct/");
                let id = kid
                    .strip_prefix(&prefix)
                    .filter(|id| !id.is_empty() && !id.contains('/'));
                let account = id.and_then(|id| self.store.account(id)).ok_or_else(|| {
                    problem(
                        ProblemType::AccountDoesNotExist,
                        400,
                        "no account with this kid",
                    )
                })?;
                if account.status != AccountStatus::Valid {
                    return Err(problem(
                        ProblemType::Unauthorized,
                        401,
                        "the account is deactivated or revoked",
                    ));
                }
                let key = account
                    .jwk
                    .to_public_key()
                    .map_err(|e| problem(ProblemType::ServerInternal, 500, e.to_string()))?;
                verify(&parsed, &account.jwk, &key)?;
                Ok(Verified {
                    payload: parsed.payload,
                    account: Some(account),
                    jwk: None,
                    url: req.url.clone(),
                })
            }
        }
    }

    fn new_account(&mut self, v: Verified, rng: &mut impl CryptoRngCore) -> Handled {
        let (jwk, _) = v.jwk.ok_or_else(|| malformed("newAccount needs `jwk`"))?;
        let req: NewAccount = parse_payload(&v.payload)?;
        let thumbprint = jwk.thumbprint();
        if let Some(existing) = self.store.account_by_thumbprint(&thumbprint) {
            // §7.3.1: an existing account for this key is returned with 200.
            let mut r = json_response(200, &self.account_object(&existing));
            r.headers.push((
                "Location".into(),
                self.url(&alloc::format!("acct/{}", existing.id)),
            ));
            return Ok(r);
        }
        if req.only_return_existing == Some(true) {
            return Err(problem(
                ProblemType::AccountDoesNotExist,
                400,
                "no account exists for this key",
            ));
        }
        if req.external_account_binding.is_some() {
            return Err(malformed(
                "external account binding is not supported by this server",
            ));
        }
        for c in &req.contact {
            check_contact(c)?;
        }
        let account = AccountRecord {
            id: random_id(rng),
            jwk,
            thumbprint,
            status: AccountStatus::Valid,
            contact: req.contact,
            terms_of_service_agreed: req.terms_of_service_agreed.unwrap_or(false),
            orders: Vec::new(),
        };
        self.store.put_account(account.clone());
        let mut r = json_response(201, &self.account_object(&account));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("acct/{}", account.id)),
        ));
        Ok(r)
    }

    fn account_object(&self, a: &AccountRecord) -> Account {
        Account {
            status: a.status,
            contact: a.contact.clone(),
            terms_of_service_agreed: Some(a.terms_of_service_agreed),
            external_account_binding: None,
            orders: Some(self.url(&alloc::format!("acct/{}/orders", a.id))),
        }
    }

    fn account_post(&mut self, v: Verified, id: &str) -> Handled {
        let mut account = v.account.ok_or_else(|| malformed("needs kid"))?;
        if account.id != id {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "the kid does not match this account URL",
            ));
        }
        if !v.payload.is_empty() {
            let upd: AccountUpdate = parse_payload(&v.payload)?;
            if let Some(contact) = upd.contact {
                for c in &contact {
                    check_contact(c)?;
                }
                account.contact = contact;
            }
            match upd.status {
                None => {}
                Some(AccountStatus::Deactivated) => account.status = AccountStatus::Deactivated,
                Some(_) => return Err(malformed("clients may only set status to deactivated")),
            }
            self.store.put_account(account.clone());
        }
        Ok(json_response(200, &self.account_object(&account)))
    }

    fn orders_list(&mut self, v: Verified, id: &str) -> Handled {
        let account = v.account.ok_or_else(|| malformed("needs kid"))?;
        if account.id != id {
            return Err(problem(ProblemType::Unauthorized, 403, "not your account"));
        }
        let list = OrdersList {
            orders: account
                .orders
                .iter()
                .map(|o| self.url(&alloc::format!("order/{o}")))
                .collect(),
        };
        Ok(json_response(200, &list))
    }

    fn new_order(&mut self, v: Verified, now: Duration, rng: &mut impl CryptoRngCore) -> Handled {
        let mut account = v.account.ok_or_else(|| malformed("needs kid"))?;
        let req: NewOrder = parse_payload(&v.payload)?;
        if req.identifiers.is_empty() {
            return Err(malformed("the order has no identifiers"));
        }
        if req.identifiers.len() > self.cfg.max_identifiers {
            return Err(problem(
                ProblemType::RejectedIdentifier,
                400,
                alloc::format!("at most {} identifiers per order", self.cfg.max_identifiers),
            ));
        }
        let mut subproblems = Vec::new();
        for id in &req.identifiers {
            if let Err(sp) = check_identifier(id) {
                subproblems.push(sp);
            }
        }
        if !subproblems.is_empty() {
            let mut p = Problem::new(
                ProblemType::RejectedIdentifier,
                400,
                "some identifiers are not acceptable",
            );
            if subproblems.len() > 1 {
                p.kind = ProblemType::Compound;
            }
            p.subproblems = subproblems;
            return Err(Refusal(p));
        }
        self.policy.check_order(&req.identifiers).map_err(Refusal)?;
        let mut authz_ids = Vec::new();
        for ident in &req.identifiers {
            let mut challenges = Vec::new();
            let mut kinds = alloc::vec![ChallengeType::Http01, ChallengeType::TlsAlpn01];
            if ident.kind == IdentifierType::Dns {
                kinds.push(ChallengeType::Dns01);
            }
            for (n, kind) in kinds.into_iter().enumerate() {
                let mut t = [0u8; 24];
                rng.fill_bytes(&mut t);
                challenges.push(ChallengeRecord {
                    id: alloc::format!("{n}"),
                    kind,
                    token: b64::encode(&t),
                    status: ChallengeStatus::Pending,
                    validated: None,
                    error: None,
                });
            }
            let authz = AuthzRecord {
                id: random_id(rng),
                account_id: account.id.clone(),
                identifier: ident.clone(),
                status: AuthorizationStatus::Pending,
                expires: now + self.cfg.authz_lifetime,
                challenges,
                awaiting_approval: false,
            };
            authz_ids.push(authz.id.clone());
            self.store.put_authz(authz);
        }
        let order = OrderRecord {
            id: random_id(rng),
            account_id: account.id.clone(),
            status: OrderStatus::Pending,
            expires: now + self.cfg.order_lifetime,
            identifiers: req.identifiers,
            authz_ids,
            not_before: req.not_before,
            not_after: req.not_after,
            error: None,
            certificate_id: None,
            replaces: req.replaces,
        };
        self.store.put_order(order.clone());
        account.orders.push(order.id.clone());
        self.store.put_account(account);
        let mut r = json_response(201, &self.order_object(&order));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("order/{}", order.id)),
        ));
        Ok(r)
    }

    fn order_object(&self, o: &OrderRecord) -> Order {
        Order {
            status: o.status,
            expires: Some(rfc3339(o.expires)),
            identifiers: o.identifiers.clone(),
            not_before: o.not_before.clone(),
            not_after: o.not_after.clone(),
            error: o.error.clone(),
            authorizations: o
                .authz_ids
                .iter()
                .map(|a| self.url(&alloc::format!("authz/{a}")))
                .collect(),
            finalize: self.url(&alloc::format!("order/{}/finalize", o.id)),
            certificate: o
                .certificate_id
                .as_ref()
                .map(|c| self.url(&alloc::format!("cert/{c}"))),
            replaces: o.replaces.clone(),
            profile: None,
        }
    }

    fn owned_order(&self, v: &Verified, id: &str) -> Result<(AccountRecord, OrderRecord), Refusal> {
        let account = v.account.clone().ok_or_else(|| malformed("needs kid"))?;
        let order = self
            .store
            .order(id)
            .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such order"))?;
        if order.account_id != account.id {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "this order belongs to another account",
            ));
        }
        Ok((account, order))
    }

    /// Bring an order's status up to date with its authorizations and expiry (§7.1.6).
    fn refresh_order(&mut self, mut order: OrderRecord, now: Duration) -> OrderRecord {
        let before = order.status;
        if matches!(order.status, OrderStatus::Pending | OrderStatus::Ready) && now >= order.expires
        {
            order.status = OrderStatus::Invalid;
            order.error = Some(Problem::new(
                ProblemType::Malformed,
                403,
                "the order expired",
            ));
        } else if order.status == OrderStatus::Pending {
            let mut all_valid = true;
            for id in &order.authz_ids {
                let Some(a) = self.store.authz(id) else {
                    all_valid = false;
                    continue;
                };
                let a = self.refresh_authz(a, now);
                match a.status {
                    AuthorizationStatus::Valid => {}
                    AuthorizationStatus::Pending => all_valid = false,
                    _ => {
                        all_valid = false;
                        order.status = OrderStatus::Invalid;
                        order.error =
                            a.challenges
                                .iter()
                                .find_map(|c| c.error.clone())
                                .or_else(|| {
                                    Some(Problem::new(
                                        ProblemType::Unauthorized,
                                        403,
                                        alloc::format!(
                                            "authorization for {} failed",
                                            a.identifier.value
                                        ),
                                    ))
                                });
                    }
                }
            }
            if all_valid && order.status == OrderStatus::Pending {
                order.status = OrderStatus::Ready;
            }
        }
        if order.status != before {
            self.store.put_order(order.clone());
        }
        order
    }

    /// Re-ask the approval policy for a validated authorization; expire stale ones.
    fn refresh_authz(&mut self, mut a: AuthzRecord, now: Duration) -> AuthzRecord {
        let before = a.clone();
        if matches!(
            a.status,
            AuthorizationStatus::Pending | AuthorizationStatus::Valid
        ) && now >= a.expires
        {
            a.status = AuthorizationStatus::Expired;
        } else if a.status == AuthorizationStatus::Pending && a.awaiting_approval {
            self.apply_approval(&mut a, now);
        }
        if a != before {
            self.store.put_authz(a.clone());
        }
        a
    }

    fn apply_approval(&mut self, a: &mut AuthzRecord, now: Duration) {
        let Some(account) = self.store.account(&a.account_id) else {
            a.status = AuthorizationStatus::Invalid;
            return;
        };
        let device_id = device_id(&a.identifier);
        let decision = self.policy.check(
            &ApprovalRequest {
                device_id: &device_id,
                identifier: &a.identifier,
                account: &account,
            },
            now,
        );
        match decision {
            Approval::Approved => {
                a.status = AuthorizationStatus::Valid;
                a.awaiting_approval = false;
                a.expires = now + self.cfg.authz_lifetime;
            }
            Approval::Pending => a.awaiting_approval = true,
            Approval::Denied(why) => {
                a.status = AuthorizationStatus::Invalid;
                a.awaiting_approval = false;
                if let Some(c) = a
                    .challenges
                    .iter_mut()
                    .find(|c| c.status == ChallengeStatus::Valid)
                {
                    c.error = Some(Problem::new(
                        ProblemType::Unauthorized,
                        403,
                        alloc::format!("device {device_id} is not approved: {why}"),
                    ));
                }
            }
        }
    }

    fn order_get(&mut self, v: Verified, id: &str, now: Duration) -> Handled {
        if !v.payload.is_empty() {
            return Err(malformed(
                "orders are fetched with POST-as-GET (empty payload)",
            ));
        }
        let (_, order) = self.owned_order(&v, id)?;
        let order = self.refresh_order(order, now);
        let mut r = json_response(200, &self.order_object(&order));
        if matches!(order.status, OrderStatus::Pending | OrderStatus::Processing) {
            r.headers.push((
                "Retry-After".into(),
                self.cfg.retry_after.as_secs().to_string(),
            ));
        }
        Ok(r)
    }

    fn finalize(
        &mut self,
        v: Verified,
        id: &str,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Handled {
        let (account, order) = self.owned_order(&v, id)?;
        let mut order = self.refresh_order(order, now);
        if order.status != OrderStatus::Ready {
            return Err(problem(
                ProblemType::OrderNotReady,
                403,
                alloc::format!("the order is {:?}, not ready", order.status),
            ));
        }
        let f: Finalize = parse_payload(&v.payload)?;
        let csr = f
            .csr_der()
            .map_err(|e| problem(ProblemType::BadCsr, 400, e.to_string()))?;
        check_csr_names(&csr, &order.identifiers)?;
        let issued = self
            .issuer
            .issue(&csr, &order, &account, now)
            .map_err(Refusal)?;
        let cert = CertificateRecord {
            id: random_id(rng),
            account_id: account.id.clone(),
            order_id: order.id.clone(),
            pem_chain: issued.pem_chain,
            alternates: issued.alternates,
            leaf_der: issued.leaf_der,
            revoked: None,
        };
        self.store.put_certificate(cert.clone());
        order.status = OrderStatus::Valid;
        order.certificate_id = Some(cert.id);
        self.store.put_order(order.clone());
        let mut r = json_response(200, &self.order_object(&order));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("order/{}", order.id)),
        ));
        Ok(r)
    }

    fn owned_authz(&self, v: &Verified, id: &str) -> Result<AuthzRecord, Refusal> {
        let account = v.account.as_ref().ok_or_else(|| malformed("needs kid"))?;
        let a = self
            .store
            .authz(id)
            .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such authorization"))?;
        if a.account_id != account.id {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "this authorization belongs to another account",
            ));
        }
        Ok(a)
    }

    fn authz_object(&self, a: &AuthzRecord) -> Authorization {
        Authorization {
            identifier: a.identifier.clone(),
            status: a.status,
            expires: Some(rfc3339(a.expires)),
            challenges: a
                .challenges
                .iter()
                .map(|c| self.challenge_object(a, c))
                .collect(),
            wildcard: None,
        }
    }

    fn challenge_object(&self, a: &AuthzRecord, c: &ChallengeRecord) -> Challenge {
        Challenge {
            kind: c.kind.clone(),
            url: self.url(&alloc::format!("chall/{}/{}", a.id, c.id)),
            status: c.status,
            validated: c.validated.map(rfc3339),
            error: c.error.clone(),
            token: Some(c.token.clone()),
            extra: serde_json::Map::new(),
        }
    }

    fn authz_post(&mut self, v: Verified, id: &str, now: Duration) -> Handled {
        let a = self.owned_authz(&v, id)?;
        let mut a = self.refresh_authz(a, now);
        if !v.payload.is_empty() {
            let upd: AuthorizationUpdate = parse_payload(&v.payload)?;
            if upd.status != AuthorizationStatus::Deactivated {
                return Err(malformed(
                    "clients may only set an authorization to deactivated",
                ));
            }
            if matches!(
                a.status,
                AuthorizationStatus::Pending | AuthorizationStatus::Valid
            ) {
                a.status = AuthorizationStatus::Deactivated;
                self.store.put_authz(a.clone());
            }
        }
        let mut r = json_response(200, &self.authz_object(&a));
        if a.status == AuthorizationStatus::Pending {
            // Validation running or a human has yet to approve (§3.4.4): keep clients polling.
            r.headers.push((
                "Retry-After".into(),
                self.cfg.retry_after.as_secs().to_string(),
            ));
        }
        Ok(r)
    }

    fn challenge_post(
        &mut self,
        v: Verified,
        authz_id: &str,
        chall_id: &str,
        now: Duration,
    ) -> Handled {
        let a = self.owned_authz(&v, authz_id)?;
        let mut a = self.refresh_authz(a, now);
        let account = v.account.as_ref().ok_or_else(|| malformed("needs kid"))?;
        let idx = a
            .challenges
            .iter()
            .position(|c| c.id == chall_id)
            .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such challenge"))?;
        if !v.payload.is_empty() {
            // §7.5.1: the response is `{}`; any JSON object is accepted.
            let _: serde_json::Map<String, serde_json::Value> = parse_payload(&v.payload)?;
            let started = a
                .challenges
                .iter()
                .any(|c| c.status != ChallengeStatus::Pending);
            if a.status == AuthorizationStatus::Pending && !started {
                let c = a
                    .challenges
                    .get_mut(idx)
                    .ok_or_else(|| malformed("no such challenge"))?;
                c.status = ChallengeStatus::Processing;
                let ka = jose::key_authorization(&c.token, &account.jwk);
                self.validations.push_back(Validation {
                    authz_id: a.id.clone(),
                    challenge_id: c.id.clone(),
                    kind: c.kind.clone(),
                    identifier: a.identifier.clone(),
                    token: c.token.clone(),
                    key_authorization: ka,
                });
                self.store.put_authz(a.clone());
            }
        }
        let c = a
            .challenges
            .get(idx)
            .ok_or_else(|| malformed("no such challenge"))?;
        let mut r = json_response(200, &self.challenge_object(&a, c));
        r.headers.push((
            "Link".into(),
            alloc::format!(
                "<{}>;rel=\"up\"",
                self.url(&alloc::format!("authz/{}", a.id))
            ),
        ));
        if c.status == ChallengeStatus::Processing {
            r.headers.push((
                "Retry-After".into(),
                self.cfg.retry_after.as_secs().to_string(),
            ));
        }
        Ok(r)
    }

    /// Report the outcome of a [`Validation`]. On success the approval policy is consulted: the
    /// authorization becomes `valid`, stays `pending` awaiting a human, or becomes `invalid`.
    pub fn validation_result(
        &mut self,
        authz_id: &str,
        challenge_id: &str,
        result: Result<(), Problem>,
        now: Duration,
    ) {
        let Some(mut a) = self.store.authz(authz_id) else {
            return;
        };
        let Some(c) = a.challenges.iter_mut().find(|c| c.id == challenge_id) else {
            return;
        };
        if c.status != ChallengeStatus::Processing {
            return;
        }
        match result {
            Ok(()) => {
                c.status = ChallengeStatus::Valid;
                c.validated = Some(now);
                a.awaiting_approval = true;
                self.apply_approval(&mut a, now);
            }
            Err(p) => {
                c.status = ChallengeStatus::Invalid;
                c.error = Some(p);
                a.status = AuthorizationStatus::Invalid;
            }
        }
        self.store.put_authz(a);
    }

    fn cert_get(&mut self, v: Verified, id: &str, alternate: usize) -> Handled {
        let account = v.account.ok_or_else(|| malformed("needs kid"))?;
        let cert = self
            .store
            .certificate(id)
            .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such certificate"))?;
        if cert.account_id != account.id {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "this certificate belongs to another account",
            ));
        }
        let pem = if alternate == 0 {
            cert.pem_chain.clone()
        } else {
            cert.alternates
                .get(alternate - 1)
                .cloned()
                .ok_or_else(|| problem(ProblemType::Malformed, 404, "no such alternate chain"))?
        };
        let mut headers = alloc::vec![(
            "Content-Type".to_string(),
            "application/pem-certificate-chain".to_string()
        )];
        for n in 0..cert.alternates.len() {
            if n + 1 != alternate {
                headers.push((
                    "Link".into(),
                    alloc::format!(
                        "<{}>;rel=\"alternate\"",
                        self.url(&alloc::format!("cert/{}/{n}", cert.id))
                    ),
                ));
            }
        }
        if alternate != 0 {
            headers.push((
                "Link".into(),
                alloc::format!(
                    "<{}>;rel=\"alternate\"",
                    self.url(&alloc::format!("cert/{}", cert.id))
                ),
            ));
        }
        Ok(Response {
            status: 200,
            headers,
            body: pem.into_bytes(),
        })
    }

    fn revoke(&mut self, v: Verified, now: Duration) -> Handled {
        let r: Revocation = parse_payload(&v.payload)?;
        let der =
            b64::decode(&r.certificate, "certificate").map_err(|e| malformed(e.to_string()))?;
        // RFC 5280 §5.3.1 codes a subscriber may use (no certificateHold, removeFromCRL, unused 7).
        if let Some(code) = r.reason
            && !matches!(code, 0 | 1 | 3 | 4 | 5 | 9)
        {
            return Err(problem(
                ProblemType::BadRevocationReason,
                400,
                "allowed reasons: 0, 1, 3, 4, 5, 9",
            ));
        }
        let mut cert = self.store.certificate_by_der(&der).ok_or_else(|| {
            problem(
                ProblemType::Malformed,
                404,
                "this server did not issue that certificate",
            )
        })?;
        let authorized = match (&v.account, &v.jwk) {
            (Some(account), _) => account.id == cert.account_id,
            (None, Some((jwk, _))) => cert_public_jwk(&der).as_ref() == Some(jwk),
            (None, None) => false,
        };
        if !authorized {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "only the issuing account or the certificate's key may revoke it",
            ));
        }
        if cert.revoked.is_some() {
            return Err(problem(
                ProblemType::AlreadyRevoked,
                400,
                "the certificate is already revoked",
            ));
        }
        cert.revoked = Some(r.reason);
        self.store.put_certificate(cert.clone());
        self.issuer.revoked(&cert, now);
        Ok(Response {
            status: 200,
            ..Default::default()
        })
    }

    fn key_change(&mut self, v: Verified) -> Handled {
        let mut account = v.account.ok_or_else(|| malformed("keyChange needs kid"))?;
        let inner = ParsedJws::parse(&v.payload, JwsKind::KeyChangeInner)
            .map_err(|e| malformed(alloc::format!("inner JWS: {e}")))?;
        if inner.header.url != v.url {
            return Err(malformed("inner JWS url differs from the outer url"));
        }
        let new_key = inner
            .verify_embedded(self.cfg.allow_high_s)
            .map_err(|e| malformed(alloc::format!("inner JWS: {e}")))?;
        let KeyRef::Jwk(new_jwk) = &inner.header.key else {
            return Err(malformed("inner JWS needs jwk"));
        };
        let kc: KeyChange = parse_payload(&inner.payload)?;
        if kc.account != self.url(&alloc::format!("acct/{}", account.id)) {
            return Err(malformed("keyChange `account` is not the signer's account"));
        }
        if kc.old_key != account.jwk {
            return Err(malformed(
                "keyChange `oldKey` is not the account's current key",
            ));
        }
        let tp = new_key.to_jwk().thumbprint();
        if let Some(other) = self.store.account_by_thumbprint(&tp) {
            let mut p = Problem::new(
                ProblemType::Malformed,
                409,
                "the new key already belongs to an account",
            );
            p.instance = Some(self.url(&alloc::format!("acct/{}", other.id)));
            return Err(Refusal(p));
        }
        account.jwk = new_jwk.clone();
        account.thumbprint = tp;
        self.store.put_account(account.clone());
        Ok(json_response(200, &self.account_object(&account)))
    }
}

fn json_response<T: serde::Serialize>(status: u16, body: &T) -> Response {
    Response {
        status,
        headers: alloc::vec![("Content-Type".into(), "application/json".into())],
        body: to_json(body),
    }
}

fn parse_payload<T: for<'de> serde::Deserialize<'de>>(payload: &[u8]) -> Result<T, Refusal> {
    from_json(payload).map_err(|e| malformed(alloc::format!("payload: {e}")))
}

fn random_id(rng: &mut impl CryptoRngCore) -> String {
    let mut b = [0u8; 12];
    rng.fill_bytes(&mut b);
    b64::encode(&b)
}

/// The device ID for approval: the leftmost DNS label (draft §3.4.3: CN = device ID, SAN
/// `<id>.local`), or the address text for IP identifiers.
pub fn device_id(identifier: &Identifier) -> String {
    match identifier.kind {
        IdentifierType::Dns => identifier
            .value
            .split('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
        _ => identifier.value.clone(),
    }
}

fn check_contact(c: &str) -> Result<(), Refusal> {
    // Draft §3.4.2: devices use https: URIs; mailto: stays allowed for generic clients.
    if let Some(rest) = c.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || c.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(problem(
                ProblemType::InvalidContact,
                400,
                alloc::format!("invalid https contact {c:?}"),
            ));
        }
        Ok(())
    } else if let Some(addr) = c.strip_prefix("mailto:") {
        if !addr.contains('@') || addr.contains(',') || addr.contains('?') {
            return Err(problem(
                ProblemType::InvalidContact,
                400,
                alloc::format!("invalid mailto contact {c:?}"),
            ));
        }
        Ok(())
    } else {
        Err(problem(
            ProblemType::UnsupportedContact,
            400,
            alloc::format!("contact {c:?}: use https: (draft §3.4.2) or mailto:"),
        ))
    }
}

fn check_identifier(id: &Identifier) -> Result<(), Subproblem> {
    let bad = |kind: ProblemType, detail: &str| Subproblem {
        kind,
        detail: Some(detail.to_string()),
        identifier: Some(id.clone()),
    };
    match &id.kind {
        IdentifierType::Dns => {
            let v = &id.value;
            if v.starts_with("*.") {
                return Err(bad(
                    ProblemType::RejectedIdentifier,
                    "wildcards are not issued",
                ));
            }
            let ok = !v.is_empty()
                && v.len() <= 253
                && v.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if ok {
                Ok(())
            } else {
                Err(bad(
                    ProblemType::Malformed,
                    "not a valid DNS name (LDH labels, A-labels only)",
                ))
            }
        }
        IdentifierType::Ip => {
            let parsed: Result<core::net::IpAddr, _> = id.value.parse();
            match parsed {
                // RFC 8738 §3: the canonical textual form.
                Ok(ip) if ip.to_string() == id.value => Ok(()),
                _ => Err(bad(ProblemType::Malformed, "not a canonical IP address")),
            }
        }
        IdentifierType::Other(_) => Err(bad(
            ProblemType::UnsupportedIdentifier,
            "only dns and ip identifiers are supported",
        )),
    }
}

/// Check that a CSR parses and requests exactly the order's identifiers (RFC 8555 §7.4).
fn check_csr_names(csr_der: &[u8], identifiers: &[Identifier]) -> Result<(), Refusal> {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let bad = |d: String| problem(ProblemType::BadCsr, 400, d);
    let req = x509_cert::request::CertReq::from_der(csr_der)
        .map_err(|e| bad(alloc::format!("CSR does not parse: {e}")))?;
    let mut names: BTreeSet<Identifier> = BTreeSet::new();
    for attr in req.info.attributes.iter() {
        if attr.oid != const_oid_extension_request() {
            continue;
        }
        for value in attr.values.iter() {
            let exts: x509_cert::ext::Extensions = value
                .decode_as()
                .map_err(|e| bad(alloc::format!("extensionRequest: {e}")))?;
            for ext in exts
                .iter()
                .filter(|e| e.extn_id == der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17"))
            {
                let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| bad(alloc::format!("subjectAltName: {e}")))?;
                for gn in san.0 {
                    match gn {
                        GeneralName::DnsName(d) => {
                            names.insert(Identifier::dns(&d.to_string().to_ascii_lowercase()));
                        }
                        GeneralName::IpAddress(os) => {
                            let b = os.as_bytes();
                            let ip: Option<core::net::IpAddr> = match b.len() {
                                4 => <[u8; 4]>::try_from(b).ok().map(core::net::IpAddr::from),
                                16 => <[u8; 16]>::try_from(b).ok().map(core::net::IpAddr::from),
                                _ => None,
                            };
                            let ip = ip.ok_or_else(|| bad("IP SAN has a bad length".into()))?;
                            names.insert(Identifier::ip(ip));
                        }
                        _ => return Err(bad("the CSR has SAN types other than DNS and IP".into())),
                    }
                }
            }
        }
    }
    let want: BTreeSet<Identifier> = identifiers
        .iter()
        .map(|i| {
            if i.kind == IdentifierType::Dns {
                Identifier::dns(&i.value.to_ascii_lowercase())
            } else {
                i.clone()
            }
        })
        .collect();
    if names != want {
        return Err(bad(
            "the CSR's subjectAltNames differ from the order's identifiers".into(),
        ));
    }
    Ok(())
}

fn const_oid_extension_request() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14")
}

/// The JWK of a certificate's subject public key (for revocation by certificate key, §7.6).
fn cert_public_jwk(cert_der: &[u8]) -> Option<Jwk> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bits = spki.subject_public_key.as_bytes()?;
    let alg = spki.algorithm.oid.to_string();
    if alg == "1.2.840.10045.2.1" {
        let curve: der::asn1::ObjectIdentifier =
            spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
        let key = match curve.to_string().as_str() {
            "1.2.840.10045.3.1.7" => {
                PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(bits).ok()?)
            }
            "1.3.132.0.34" => {
                PublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(bits).ok()?)
            }
            "1.3.132.0.35" => PublicKey::P521(Box::new(
                ecdsa::VerifyingKey::<p521::NistP521>::from_sec1_bytes(bits).ok()?,
            )),
            _ => return None,
        };
        Some(key.to_jwk())
    } else if alg == "1.2.840.113549.1.1.1" {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let k = rsa::RsaPublicKey::from_pkcs1_der(bits).ok()?;
        Some(PublicKey::Rsa(Box::new(k)).to_jwk())
    } else {
        None
    }
}
