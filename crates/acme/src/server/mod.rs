//! Sans-IO ACME server core (RFC 8555 §6–§7) with the draft's manual approval (§3.4.4).
//!
//! The caller owns the HTTPS listener, the clock, the RNG, persistence (through [`Store`]),
//! challenge validation I/O (drain [`Server::poll_validation`], report with
//! [`Server::validation_result`]), human approval ([`ApprovalPolicy`]) and issuance ([`Issuer`],
//! implemented by the server binary with lantrust-csr and lantrust-ca).
//!
//! The modules follow RFC 8555's sections: `route` (§6, §7.1.1: which resource, which
//! key, is the JWS good), `account` (§7.3), `order` (§7.4), `authz` (§7.5, §8 and the draft's
//! §3.4.4 approval), `revoke` (§7.6), `nonce` (§6.5, §7.2) and `store` (the records of §7.1).

// Problem documents are the natural error value of every handler and hook, and refusals are the
// cold path: boxing them would only make the hook signatures harder to implement.
#![allow(clippy::result_large_err)]

mod account;
mod authz;
mod nonce;
mod order;
mod poll;
mod renewal;
mod revoke;
mod route;
mod store;

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::any::Any;
use core::time::Duration;

use rand_core::CryptoRngCore;

use crate::b64;
use crate::http::{Request, Response};
use crate::jose::{Jwk, PublicKey};
use crate::objects::*;

pub use authz::{Approval, ApprovalPolicy, ApprovalRequest, AutoApprove, Validation};
pub use nonce::{NonceBook, NonceStore};
pub use order::{Issued, Issuer};
pub use renewal::{CertIdParts, renew_now_window, spread_window};
pub use route::{CheckedSignature, RequestKind, SignatureJob};
pub use store::{
    AccountRecord, AuthzRecord, CertificateRecord, ChallengeRecord, MemoryStore, OrderRecord,
    Store, StoreError,
};

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
    /// `Retry-After` while a human decides (draft §3.4.4: the authorization is validated and
    /// waits for the network owner's approval).
    pub retry_after: Duration,
    /// `Retry-After` while only the machine is busy: a challenge validation in flight, or an
    /// order not yet ready for another reason. Sent in whole seconds (RFC 9110 §10.2.3), at
    /// least 1, so that no client is told to poll in a tight loop.
    pub retry_after_validating: Duration,
    /// Most identifiers per order.
    pub max_identifiers: usize,
    /// Directory `meta`.
    pub meta: Option<DirectoryMeta>,
    /// RFC 9773 §4.3: the `Retry-After` of a renewalInfo answer (capped at a twelfth of the
    /// certificate's lifetime, at least 1 s).
    pub renewal_retry_after: Duration,
    /// RFC 9773 §4.2: the `explanationURL` of renewalInfo answers, if any.
    pub renewal_explanation_url: Option<String>,
}

impl ServerConfig {
    /// Defaults: strict low-S, 10 000 nonces, 1 h orders, 8 h authorizations, 5 s Retry-After
    /// while a human decides and 1 s while validating, 20 identifiers per order,
    /// renewalInfo polled every 6 h.
    pub fn new(base_url: &str) -> Self {
        ServerConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            allow_high_s: false,
            nonce_capacity: 10_000,
            order_lifetime: Duration::from_secs(3600),
            authz_lifetime: Duration::from_secs(8 * 3600),
            retry_after: Duration::from_secs(5),
            retry_after_validating: Duration::from_secs(1),
            max_identifiers: 20,
            meta: None,
            renewal_retry_after: Duration::from_secs(6 * 3600),
            renewal_explanation_url: None,
        }
    }
}

/// The sans-IO server core: every ACME decision, no I/O, no clock, no threads.
///
/// # Call contract
///
/// Like quinn-proto's `Connection`, the core is driven by inputs and drained by polls; the caller
/// owns sockets, timers, the clock (`now`, read once per request) and the RNG.
///
/// 1. For each HTTP request, build a [`Request`] with the absolute URL the client used, then call
///    [`Server::handle`] — or, when the core sits behind a lock, the three-step form:
///    [`Server::signature_job`] (under the lock, cheap), [`SignatureJob::run`] (without the lock:
///    the signature verification), [`Server::handle_checked`] (under the lock: the state change;
///    [`Server::handle_prepared`] also hands the issuer what the caller prepared outside the lock).
///    The job also tells the caller what the request is ([`SignatureJob::kind`]) and, unverified
///    until `run` succeeds, the device ID of a newOrder and the CSR of a finalize, so the caller
///    never parses a JWS itself ([`ServerConfig::request_kind`] tells the kind before the body
///    is read). Send the returned [`Response`] as is: it carries a fresh
///    `Replay-Nonce` (§6.5) and the directory `Link` (§7.1).
/// 2. After every `handle*` call, drain [`Server::poll_validation`] until it returns `None` and
///    perform each [`Validation`] (HTTP fetch, TLS handshake, DNS lookup) outside the core.
/// 3. Report each outcome with [`Server::validation_result`], with the `now` of that moment; the
///    approval policy is asked then and at each later poll of the authorization.
/// 4. Every [`Store`] access happens inside `handle*`/`validation_result`; a [`StoreError`] makes
///    the request fail with a `serverInternal` (500) problem, never a "not found", and makes
///    `validation_result` return it. If the store defers durability (group commit), make it
///    durable before sending the response.
///
/// Decisions that need a human or a CA go through the [`ApprovalPolicy`] and [`Issuer`] hooks,
/// called synchronously from `handle*`.
pub struct Server<S, P, I> {
    cfg: ServerConfig,
    store: S,
    policy: P,
    issuer: I,
    nonces: Box<dyn NonceBook>,
    validations: VecDeque<Validation>,
}

impl<S, P, I> core::fmt::Debug for Server<S, P, I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("base_url", &self.cfg.base_url)
            .field("nonces", &self.nonces.outstanding())
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

/// RFC 8555 §6.7 `serverInternal`: the store failed. The detail stays in the operator's log;
/// the client learns only that it may retry.
impl From<StoreError> for Refusal {
    fn from(_: StoreError) -> Self {
        problem(
            ProblemType::ServerInternal,
            500,
            "the server could not read or store this request's data; retry later",
        )
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

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    /// A server core.
    pub fn new(cfg: ServerConfig, store: S, policy: P, issuer: I) -> Self {
        let nonces = Box::new(NonceStore::new(cfg.nonce_capacity));
        Server {
            cfg,
            store,
            policy,
            issuer,
            nonces,
            validations: VecDeque::new(),
        }
    }

    /// Keep the nonces in `book` instead of this process's memory (a [`NonceStore`] of
    /// `nonce_capacity`): replicas sharing a book accept each other's nonces, once (§6.5).
    #[must_use]
    pub fn with_nonce_book(mut self, book: Box<dyn NonceBook>) -> Self {
        self.nonces = book;
        self
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
        self.handle_prepared(request, now, rng, checked, &())
    }

    /// [`Server::handle_checked`] with a value the caller prepared for this request outside the
    /// lock, handed to the issuer ([`Issuer::issue_prepared`]) if the request is a finalize.
    /// The core itself never looks at it.
    pub fn handle_prepared(
        &mut self,
        request: &Request,
        now: Duration,
        rng: &mut impl CryptoRngCore,
        checked: Option<&CheckedSignature>,
        prepared: &dyn Any,
    ) -> Response {
        let result = self.route(request, now, rng, checked, prepared);
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
        let n = nonce::fresh(rng);
        self.nonces.insert(&n, now);
        resp.headers.push(("Replay-Nonce".into(), n));
        resp.headers
            .push(("Cache-Control".into(), "no-store".into()));
        resp.headers.push((
            "Link".into(),
            alloc::format!("<{}>;rel=\"index\"", self.directory_url()),
        ));
        resp
    }
}

/// A `Retry-After` header of `d` in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3:
/// delay-seconds; 0 would invite a client to poll without pause).
fn retry_after_header(d: Duration) -> (String, String) {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    ("Retry-After".into(), secs.max(1).to_string())
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
