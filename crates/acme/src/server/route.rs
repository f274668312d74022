//! Routing and request authentication: the directory (RFC 8555 §7.1.1), the resource a URL
//! names, and the JWS checks every POST passes (§6.2–§6.5), including the signature check that
//! may run outside the core's lock ([`SignatureJob`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::any::Any;
use core::time::Duration;

use rand_core::CryptoRngCore;

use super::*;
use crate::error::Error;
use crate::http::{Method, Request, Response};
use crate::jose::{Jwk, JwsKind, KeyRef, ParsedJws, PublicKey};
use crate::objects::*;

/// What an ACME request asks for (the resources of RFC 8555 §7.1), told from its method and
/// URL alone by [`ServerConfig::request_kind`], before the body is read. Callers key their
/// admission rules on it (rate limits for newAccount, caps for newOrder) instead of on URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET` the directory (§7.1.1).
    Directory,
    /// `HEAD`/`GET` newNonce (§7.2).
    NewNonce,
    /// `POST` newAccount (§7.3).
    NewAccount,
    /// `POST` newOrder (§7.4).
    NewOrder,
    /// `POST` revokeCert (§7.6).
    RevokeCert,
    /// `POST` keyChange (§7.3.5).
    KeyChange,
    /// `POST` an account URL (§7.3.2, §7.3.6).
    Account,
    /// `POST` an account's orders list (§7.1.2.1).
    AccountOrders,
    /// `POST` an order URL (§7.4).
    Order,
    /// `POST` an order's finalize URL (§7.4).
    Finalize,
    /// `POST` an authorization URL (§7.5).
    Authz,
    /// `POST` a challenge URL (§7.5.1).
    Challenge,
    /// `POST` a certificate URL (§7.4.2).
    Certificate,
    /// `GET` a certificate's renewal information (RFC 9773 §4.1).
    RenewalInfo,
    /// Anything else (refused with 404 or 405).
    Unknown,
}

impl ServerConfig {
    /// The kind of request `method` on `url` is (no body needed, nothing verified).
    #[must_use]
    pub fn request_kind(&self, method: Method, url: &str) -> RequestKind {
        Route::parse(&self.base_url, method, url).kind()
    }
}

/// A POST resource with its path parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Post<'a> {
    NewAccount,
    NewOrder,
    RevokeCert,
    KeyChange,
    Account(&'a str),
    AccountOrders(&'a str),
    Order(&'a str),
    Finalize(&'a str),
    Authz(&'a str),
    Challenge(&'a str, &'a str),
    /// The certificate and which chain: 0 the default, n + 1 the alternate `n`; `None` when the
    /// alternate index is not a number.
    Certificate(&'a str, Option<usize>),
    Unknown,
}

/// The resource a request names: the one place URLs are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route<'a> {
    NotUnderBase,
    MethodNotAllowed,
    Directory,
    NewNonce(Method),
    /// RFC 9773 §4.1: `GET {renewalInfo}/{certID}`.
    RenewalInfo(&'a str),
    Post(Post<'a>),
}

impl<'a> Route<'a> {
    pub(super) fn parse(base_url: &str, method: Method, url: &'a str) -> Route<'a> {
        let Some(path) = url.strip_prefix(base_url).and_then(|p| p.strip_prefix('/')) else {
            return Route::NotUnderBase;
        };
        let segs: Vec<&'a str> = path.split('/').collect();
        match (method, segs.as_slice()) {
            (Method::Get, ["directory"]) => Route::Directory,
            (Method::Head | Method::Get, ["new-nonce"]) => Route::NewNonce(method),
            (Method::Get, ["renewal-info", cert_id]) => Route::RenewalInfo(cert_id),
            (Method::Post, segs) => Route::Post(match segs {
                ["new-account"] => Post::NewAccount,
                ["new-order"] => Post::NewOrder,
                ["revoke-cert"] => Post::RevokeCert,
                ["key-change"] => Post::KeyChange,
                ["acct", id] => Post::Account(id),
                ["acct", id, "orders"] => Post::AccountOrders(id),
                ["order", id] => Post::Order(id),
                ["order", id, "finalize"] => Post::Finalize(id),
                ["authz", id] => Post::Authz(id),
                ["chall", authz, chall] => Post::Challenge(authz, chall),
                ["cert", id] => Post::Certificate(id, Some(0)),
                ["cert", id, n] => {
                    Post::Certificate(id, n.parse::<usize>().ok().map(|n| n.saturating_add(1)))
                }
                _ => Post::Unknown,
            }),
            _ => Route::MethodNotAllowed,
        }
    }

    pub(super) fn kind(&self) -> RequestKind {
        match self {
            Route::NotUnderBase | Route::MethodNotAllowed => RequestKind::Unknown,
            Route::Directory => RequestKind::Directory,
            Route::NewNonce(_) => RequestKind::NewNonce,
            Route::RenewalInfo(_) => RequestKind::RenewalInfo,
            Route::Post(p) => match p {
                Post::NewAccount => RequestKind::NewAccount,
                Post::NewOrder => RequestKind::NewOrder,
                Post::RevokeCert => RequestKind::RevokeCert,
                Post::KeyChange => RequestKind::KeyChange,
                Post::Account(_) => RequestKind::Account,
                Post::AccountOrders(_) => RequestKind::AccountOrders,
                Post::Order(_) => RequestKind::Order,
                Post::Finalize(_) => RequestKind::Finalize,
                Post::Authz(_) => RequestKind::Authz,
                Post::Challenge(..) => RequestKind::Challenge,
                Post::Certificate(..) => RequestKind::Certificate,
                Post::Unknown => RequestKind::Unknown,
            },
        }
    }
}

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
    kind: RequestKind,
    device_id: Option<String>,
    csr_der: Option<Vec<u8>>,
}

impl SignatureJob {
    /// What the request asks for.
    #[must_use]
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// For a newOrder: the device ID of its first identifier ([`device_id`]), read from the
    /// payload. Unverified until [`SignatureJob::run`] succeeds; good enough for admission
    /// decisions that the core's own checks back up.
    #[must_use]
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The RFC 7638 thumbprint of the key that would verify the request: its embedded `jwk`, or
    /// the stored key of the account its `kid` names. Lets admission tell a renewal by the key
    /// an approval binds (draft §3.4.4) from another account's order for the same device.
    #[must_use]
    pub fn account_thumbprint(&self) -> String {
        self.key.thumbprint()
    }

    /// For a finalize: the CSR (DER) of the payload, so that its signature and policy can be
    /// checked outside the core's lock too. Unverified until [`SignatureJob::run`] succeeds.
    #[must_use]
    pub fn csr_der(&self) -> Option<&[u8]> {
        self.csr_der.as_deref()
    }

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
    pub(super) fn covers(&self, body: &[u8], key: &Jwk) -> bool {
        self.thumbprint == key.thumbprint_bytes() && self.body_digest == body_digest(body)
    }
}

pub(super) fn body_digest(body: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(body).into()
}

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
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
                self.store.account(id).ok()??.jwk
            }
        };
        let kind = self.cfg.request_kind(request.method, &request.url);
        let (mut device_id, mut csr_der) = (None, None);
        match kind {
            RequestKind::NewOrder => device_id = first_device_id(&parsed.payload),
            RequestKind::Finalize => {
                csr_der = from_json::<Finalize>(&parsed.payload)
                    .ok()
                    .and_then(|f| f.csr_der().ok());
            }
            _ => {}
        }
        Some(SignatureJob {
            key,
            allow_high_s: self.cfg.allow_high_s,
            kind,
            device_id,
            csr_der,
        })
    }

    pub(super) fn route(
        &mut self,
        req: &Request,
        now: Duration,
        rng: &mut impl CryptoRngCore,
        checked: Option<&CheckedSignature>,
        prepared: &dyn Any,
    ) -> Handled {
        let route = Route::parse(&self.cfg.base_url, req.method, &req.url);
        let kind = route.kind();
        match route {
            Route::NotUnderBase => Err(problem(ProblemType::Malformed, 404, "no such resource")),
            Route::MethodNotAllowed => Err(problem(
                ProblemType::Malformed,
                405,
                "method not allowed for this resource",
            )),
            Route::Directory => Ok(self.directory()),
            Route::NewNonce(Method::Head) => Ok(Response {
                status: 200,
                ..Default::default()
            }),
            Route::NewNonce(_) => Ok(Response {
                status: 204,
                ..Default::default()
            }),
            Route::RenewalInfo(cert_id) => self.renewal_info(cert_id, now),
            Route::Post(post) => {
                // §7.3 and §7.6: only newAccount and revokeCert may be signed with a `jwk`.
                let is_new_account = kind == RequestKind::NewAccount;
                let is_revoke = kind == RequestKind::RevokeCert;
                let v = self.verify(
                    req,
                    is_new_account || is_revoke,
                    is_new_account,
                    checked,
                    now,
                )?;
                match post {
                    Post::NewAccount => self.new_account(v, rng),
                    Post::NewOrder => self.new_order(v, now, rng),
                    Post::RevokeCert => self.revoke(v, now),
                    Post::KeyChange => self.key_change(v, now),
                    Post::Account(id) => self.account_post(v, id, now),
                    Post::AccountOrders(id) => self.orders_list(v, id),
                    Post::Order(id) => self.order_get(v, id, now),
                    Post::Finalize(id) => self.finalize(v, id, now, rng, prepared),
                    Post::Authz(id) => self.authz_post(v, id, now),
                    Post::Challenge(authz, chall) => self.challenge_post(v, authz, chall, now),
                    Post::Certificate(id, Some(alternate)) => self.cert_get(v, id, alternate),
                    Post::Certificate(_, None) => {
                        Err(problem(ProblemType::Malformed, 404, "no such certificate"))
                    }
                    Post::Unknown => Err(problem(ProblemType::Malformed, 404, "no such resource")),
                }
            }
        }
    }

    pub(super) fn directory(&self) -> Response {
        let d = Directory {
            new_nonce: self.url("new-nonce"),
            new_account: self.url("new-account"),
            new_order: self.url("new-order"),
            new_authz: None,
            revoke_cert: self.url("revoke-cert"),
            key_change: self.url("key-change"),
            renewal_info: Some(self.url("renewal-info")),
            meta: self.cfg.meta.clone(),
        };
        json_response(200, &d)
    }

    /// RFC 8555 §6.2–§6.5: content type, JWS shape and algorithm, nonce, url, key, signature.
    pub(super) fn verify(
        &mut self,
        req: &Request,
        jwk_allowed: bool,
        jwk_required: bool,
        checked: Option<&CheckedSignature>,
        now: Duration,
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
        if !self.nonces.consume(nonce, now) {
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
                let found = match id {
                    Some(id) => self.store.account(id)?,
                    None => None,
                };
                let account = found.ok_or_else(|| {
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
}

/// The device ID of a newOrder payload's first identifier (§7.4), read without verifying it.
fn first_device_id(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = from_json(payload).ok()?;
    let first = v.get("identifiers")?.get(0)?.clone();
    let ident: Identifier = serde_json::from_value(first).ok()?;
    Some(device_id(&ident))
}
