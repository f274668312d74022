//! Routing and request authentication: the directory (RFC 8555 §7.1.1), the resource a URL
//! names, and the JWS checks every POST passes (§6.2–§6.5), including the signature check that
//! may run outside the core's lock ([`SignatureJob`]).

use alloc::string::ToString;
use alloc::vec::Vec;
use core::time::Duration;

use rand_core::CryptoRngCore;

use super::*;
use crate::error::Error;
use crate::http::{Method, Request, Response};
use crate::jose::{Jwk, JwsKind, KeyRef, ParsedJws, PublicKey};
use crate::objects::*;

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
                self.store.account(id)?.jwk
            }
        };
        Some(SignatureJob {
            key,
            allow_high_s: self.cfg.allow_high_s,
        })
    }

    /// [`Server::handle`] for a request whose signature was verified beforehand by
    pub(super) fn route(
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

    pub(super) fn directory(&self) -> Response {
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
    pub(super) fn verify(
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
}
