//! The ACME service (RFC 8555 §6–§7 with draft-sweet-iot-acme-07 §3.4.4): lantrust-acme's core
//! with its hooks, admission and durability, as one synchronous object. No sockets, no async, no
//! clock: `net/` hands each request in with the `now` it read, and gets the response and the
//! challenge validations to perform back.
//!
//! Lock order for a request ([`AcmeService::handle`]): admission first (the newOrder gate and
//! the pending caps), the signature check and the finalize CSR's policy outside the core's lock,
//! the state change inside it, then the WAL flush (`durable.rs`) before the answer leaves.

// Problem documents are the natural error value of the hooks (as in lantrust-acme's core).
#![allow(clippy::result_large_err)]

pub(crate) mod admission;
pub(crate) mod durable;
pub(crate) mod hooks;
pub(crate) mod metrics;
pub(crate) mod neighbours;
pub(crate) mod renewal;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use lantrust_acme::server::{
    CheckedSignature, RequestKind, Server, ServerConfig, Store, Validation,
};
use lantrust_acme::{Method, Problem, ProblemType, Request, Response};
use lantrust_ca::Root;
use rand::rngs::OsRng;

use self::admission::{Admission, RateLimited};
use self::durable::Durability;
use self::hooks::{CaIssuer, DbApproval, PreparedCsr};
use crate::store::{self, DbStore, StateDir};

/// The core as the service runs it.
pub(crate) type Core<S = DbStore> = Server<S, DbApproval, CaIssuer>;

/// One ACME request as `net/` hands it in.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// The request, with the absolute URL the client used.
    pub(crate) req: Request,
    /// The TCP peer (abuse limits are per source address).
    pub(crate) peer: SocketAddr,
    /// The wall clock, read once for this request.
    pub(crate) now: Duration,
}

/// What the service answers.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The response to send.
    pub(crate) response: Response,
    /// Challenge validations to perform (report each with [`AcmeService::validation_result`]).
    pub(crate) validations: Vec<Validation>,
    /// The answer is not on disk yet: a challenge POST that started a validation, whose caller
    /// waits for the validation and then flushes once for both commits. Send it only through
    /// [`AcmeService::challenge_answer`] or [`AcmeService::make_durable`].
    pub(crate) unflushed: bool,
}

/// The CRL's nextUpdate is thisUpdate + 7 days (RFC 5280 §5.1.2.5).
pub(crate) const CRL_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// An unchanged CRL is re-signed after a day, six days before its nextUpdate.
pub(crate) const CRL_RESIGN: Duration = Duration::from_secs(24 * 3600);

/// A signed CRL: the revocations it lists, when it was signed, its DER.
type CachedCrl = (Vec<store::Revoked>, Duration, Vec<u8>);

/// The core, its hooks, admission and durability.
pub(crate) struct AcmeService<S = DbStore> {
    core: Mutex<Core<S>>,
    /// The core's configuration, for telling requests apart without its lock.
    acme_cfg: ServerConfig,
    /// The CSR policy, for validating finalize requests outside the core's lock.
    csr_policy: lantrust_csr::Policy,
    admission: Admission,
    /// Makes the core's commits durable before a response leaves (group commit); `None` for a
    /// store that is durable by itself (tests on an in-memory database).
    durability: Option<Durability>,
    /// For the CRL: the root that signs it and the state it lists.
    root: Arc<Root>,
    state: Option<StateDir>,
    crl_cache: Mutex<Option<CachedCrl>>,
    /// Who asked for each validation in flight (authorization id → source address), so the
    /// approval check that its result triggers records where the requester is (§3.4.4).
    validation_peers: Mutex<HashMap<String, IpAddr>>,
}

impl<S: Store> AcmeService<S> {
    /// Assemble the service.
    pub(crate) fn new(
        core: Core<S>,
        acme_cfg: ServerConfig,
        csr_policy: lantrust_csr::Policy,
        admission: Admission,
        durability: Option<Durability>,
        root: Arc<Root>,
        state: Option<StateDir>,
    ) -> Self {
        AcmeService {
            core: Mutex::new(core),
            acme_cfg,
            csr_policy,
            admission,
            durability,
            root,
            state,
            crl_cache: Mutex::new(None),
            validation_peers: Mutex::new(HashMap::new()),
        }
    }

    /// What a request is, from its method and absolute URL (no body needed).
    pub(crate) fn request_kind(&self, method: Method, url: &str) -> RequestKind {
        self.acme_cfg.request_kind(method, url)
    }

    /// The limits in force.
    pub(crate) fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The admission rules that run before the body is read (the newAccount rate, §7.3); a
    /// refusal is the finished `rateLimited` response.
    pub(crate) fn before_body(
        &self,
        kind: RequestKind,
        peer: SocketAddr,
        at: Instant,
        now: Duration,
    ) -> Result<(), Response> {
        self.admission
            .before_body(kind, peer.ip(), at)
            .map_err(|r| {
                tracing::info!(%peer, "new account refused: rate limit");
                self.rate_limited(&r, now)
            })
    }

    /// One ACME request. The expensive, stateless work runs without the core's lock, so
    /// requests use every core: the JWS signature check and, for finalize, the CSR's signature
    /// and policy. The lock is held for the state change (and the certificate signature); the
    /// answer waits until the WAL is on disk.
    pub(crate) fn handle(&self, incoming: Incoming) -> Outcome {
        let Incoming { req, peer, now } = incoming;
        let kind = self.request_kind(req.method, &req.url);
        let Some(job) = self.core.lock().map(|core| core.signature_job(&req)).ok() else {
            return self.poisoned();
        };
        let _gate = self.admission.gate(kind);
        if kind == RequestKind::NewOrder
            && let Some(r) = self.admission.over_pending_cap(
                peer.ip(),
                job.as_ref().and_then(|j| j.device_id()),
                job.as_ref().map(|j| j.account_thumbprint()).as_deref(),
                now,
            )
        {
            return Outcome {
                response: self.rate_limited(&r, now),
                validations: Vec::new(),
                unflushed: false,
            };
        }
        let checked = job.as_ref().and_then(|j| j.run(&req));
        // The finalize CSR's policy check, outside the lock, once the request is known genuine.
        let pre = checked
            .as_ref()
            .and(job.as_ref())
            .and_then(|j| j.csr_der())
            .and_then(|der| PreparedCsr::new(&self.csr_policy, der));
        let (response, validations) = {
            let Ok(mut core) = self.core.lock() else {
                return self.poisoned();
            };
            // The approval hook records where a requester asks from (draft §3.4.4).
            core.policy_mut().set_peer(Some(peer.ip()));
            let r = handle_locked(&mut core, &req, checked.as_ref(), &pre, now);
            core.policy_mut().set_peer(None);
            r
        };
        if kind == RequestKind::NewOrder {
            self.admission.record_order(peer.ip(), &response, now);
        }
        renewal::log_answer(kind, &req, &response);
        if !validations.is_empty()
            && let Ok(mut peers) = self.validation_peers.lock()
        {
            // Bounded: a validation whose result never comes must not leak.
            if peers.len() >= 4096 {
                peers.clear();
            }
            for v in &validations {
                peers.insert(v.authz_id.clone(), peer.ip());
            }
        }
        // A challenge POST that started a validation is flushed once, after the validation the
        // caller waits for (time to certificate: one disk flush fewer per authorization).
        let unflushed =
            kind == RequestKind::Challenge && !validations.is_empty() && self.durability.is_some();
        let response = if req.method == Method::Post && !unflushed {
            self.make_durable(response)
        } else {
            response
        };
        Outcome {
            response,
            validations,
            unflushed,
        }
    }

    /// Make every commit so far durable before `response` leaves (group commit, `durable.rs`);
    /// if the flush fails, a `serverInternal` problem replaces it (keeping nonce and links).
    pub(crate) fn make_durable(&self, response: Response) -> Response {
        if let Some(d) = &self.durability
            && let Err(e) = d.wait()
        {
            tracing::error!(error = %e, "flushing the database to disk failed");
            let p = Problem::new(
                ProblemType::ServerInternal,
                500,
                "the server could not store this request durably; retry later",
            );
            return replace_body(response, &p);
        }
        response
    }

    /// The outcome of a challenge validation (RFC 8555 §8), at `now`.
    pub(crate) fn validation_result(
        &self,
        v: &Validation,
        result: Result<(), Problem>,
        now: Duration,
    ) {
        let peer = self
            .validation_peers
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&v.authz_id));
        if let Ok(mut core) = self.core.lock() {
            core.policy_mut().set_peer(peer);
            let r = core.validation_result(&v.authz_id, &v.challenge_id, result, now);
            core.policy_mut().set_peer(None);
            if let Err(e) = r {
                tracing::error!(error = %e, "could not store a validation result");
            }
        }
    }

    /// The answer to a challenge POST whose validation `v` finished while the client waited
    /// (RFC 8555 §7.5.1 lets the server answer with the challenge's current state): `answered`,
    /// the `processing` answer [`AcmeService::handle`] made, with the challenge as it is now in
    /// its body and its `Retry-After` only if still processing. Its nonce and links are kept.
    /// Everything is flushed to disk before it returns ([`AcmeService::make_durable`]), so the
    /// answer reports nothing a crash could undo; if the challenge cannot be read, `answered`
    /// goes out.
    pub(crate) fn challenge_answer(
        &self,
        v: &Validation,
        answered: Response,
        now: Duration,
    ) -> Response {
        let current = match self.core.lock() {
            Ok(mut core) => core.challenge_resource(&v.authz_id, &v.challenge_id, now),
            Err(_) => return self.make_durable(answered),
        };
        let current = match current {
            Ok(Some(r)) => r,
            Ok(None) => return self.make_durable(answered),
            Err(e) => {
                tracing::error!(error = %e, "reading a challenge after its validation failed");
                return self.make_durable(answered);
            }
        };
        self.make_durable(with_current(answered, current))
    }

    /// Whether the authorization, challenge or order at `url` waits for the owner's approval
    /// (draft §3.4.4), so that `net/` may hold the poll that named it.
    pub(crate) fn awaits_approval(&self, url: &str) -> bool {
        let Ok(core) = self.core.lock() else {
            return false;
        };
        core.awaits_approval(url).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading whether a resource awaits approval failed");
            false
        })
    }

    /// A held poll of `url` looked at again after a decision may have been made (`net/`'s long
    /// poll): `answered`, the answer [`AcmeService::handle`] made, with the resource as it is
    /// now in its body and its `Retry-After` (the approval policy asked again, for `peer`), and
    /// whether it still awaits approval. Flushed to disk before it returns; if the resource
    /// cannot be read, `answered` as it was, not awaiting (so that it goes out).
    pub(crate) fn poll_again(
        &self,
        url: &str,
        answered: &Response,
        peer: IpAddr,
        now: Duration,
    ) -> (Response, bool) {
        let (current, awaiting) = {
            let Ok(mut core) = self.core.lock() else {
                return (answered.clone(), false);
            };
            core.policy_mut().set_peer(Some(peer));
            let current = core.resource_now(url, now);
            core.policy_mut().set_peer(None);
            let awaiting = core.awaits_approval(url).unwrap_or(false);
            (current, awaiting)
        };
        match current {
            Ok(Some(r)) => (
                self.make_durable(with_current(answered.clone(), r)),
                awaiting,
            ),
            Ok(None) => (answered.clone(), false),
            Err(e) => {
                tracing::error!(error = %e, "reading a held resource again failed");
                (answered.clone(), false)
            }
        }
    }

    /// A problem response for a refusal made outside the core (405, 408, 413), with a fresh
    /// nonce so the client can retry at once.
    pub(crate) fn refusal(&self, p: &Problem, now: Duration) -> Response {
        let mut r = problem_plain(p);
        if let Some(n) = self.fresh_nonce(now) {
            r.headers.push(("Replay-Nonce".into(), n));
        }
        r
    }

    /// RFC 8555 §6.6: `rateLimited` (429) with Retry-After.
    fn rate_limited(&self, r: &RateLimited, now: Duration) -> Response {
        metrics::METRICS.refused(metrics::Refusal::RateLimited);
        let p = Problem::new(ProblemType::RateLimited, 429, r.detail.clone());
        let mut resp = self.refusal(&p, now);
        let secs = r.retry_after.as_secs().max(1);
        resp.headers.push(("Retry-After".into(), secs.to_string()));
        resp
    }

    fn fresh_nonce(&self, now: Duration) -> Option<String> {
        let req = Request {
            method: Method::Head,
            url: format!("{}/new-nonce", self.acme_cfg.base_url),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let mut core = self.core.lock().ok()?;
        let r = core.handle(&req, now, &mut OsRng);
        r.header("replay-nonce").map(str::to_string)
    }

    fn poisoned(&self) -> Outcome {
        let p = Problem::new(ProblemType::ServerInternal, 500, "server state is poisoned");
        Outcome {
            response: problem_plain(&p),
            validations: Vec::new(),
            unflushed: false,
        }
    }

    /// When the CRL being served was signed (its thisUpdate), if one was signed yet.
    pub(crate) fn crl_signed_at(&self) -> Option<Duration> {
        self.crl_cache.lock().ok()?.as_ref().map(|(_, at, _)| *at)
    }

    /// A DER CRL of every revocation (RFC 5280 §5); re-signed when the list changes (so every
    /// revocation is in the next CRL served) or after [`CRL_RESIGN`] (1 day), well before its
    /// nextUpdate ([`CRL_VALIDITY`], 7 days: relying parties use a CRL up to 7 days past that,
    /// lantrust-pin's `CRL_GRACE`), with a cRLNumber that grows in the database.
    pub(crate) fn crl(&self, now: Duration) -> Result<Vec<u8>> {
        use lantrust_ca::{RevokedCertificate, SerialNumber};
        let st = self
            .state
            .as_ref()
            .ok_or_else(|| anyhow!("no state directory"))?;
        let db = st.open()?;
        let list = store::revocations(&db)?;
        let mut cache = self
            .crl_cache
            .lock()
            .map_err(|_| anyhow!("CRL cache poisoned"))?;
        if let Some((l, at, der)) = cache.as_ref()
            && *l == list
            && now.saturating_sub(*at) < CRL_RESIGN
        {
            return Ok(der.clone());
        }
        let revoked = list
            .iter()
            .map(|(serial, reason, at)| {
                Ok(RevokedCertificate {
                    serial: SerialNumber::new(serial).map_err(|e| anyhow!("stored serial: {e}"))?,
                    revoked_at: Duration::from_secs(*at),
                    reason: crl_reason(*reason),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let number = store::next_crl_number(&db)?;
        let crl = self.root.crl(&revoked, number, now, CRL_VALIDITY)?;
        let der = der::Encode::to_der(&crl).map_err(|e| anyhow!("encoding the CRL: {e}"))?;
        *cache = Some((list, now, der.clone()));
        Ok(der)
    }
}

/// The CRL reasonCode (RFC 5280 §5.3.1) of a stored revocation reason.
pub(crate) fn crl_reason(reason: Option<u8>) -> lantrust_ca::CrlReason {
    use lantrust_ca::CrlReason;
    match reason {
        Some(1) => CrlReason::KeyCompromise,
        Some(3) => CrlReason::AffiliationChanged,
        Some(4) => CrlReason::Superseded,
        Some(5) => CrlReason::CessationOfOperation,
        Some(9) => CrlReason::PrivilegeWithdrawn,
        _ => CrlReason::Unspecified,
    }
}

fn handle_locked<S: Store>(
    core: &mut Core<S>,
    req: &Request,
    checked: Option<&CheckedSignature>,
    prepared: &Option<PreparedCsr>,
    now: Duration,
) -> (Response, Vec<Validation>) {
    let resp = core.handle_prepared(req, now, &mut OsRng, checked, prepared);
    let mut validations = Vec::new();
    while let Some(v) = core.poll_validation() {
        validations.push(v);
    }
    if resp.status >= 400 {
        tracing::info!(
            method = req.method.as_str(),
            url = %req.url,
            status = resp.status,
            problem = %String::from_utf8_lossy(&resp.body),
            "request refused"
        );
    } else {
        tracing::debug!(method = req.method.as_str(), url = %req.url, status = resp.status);
    }
    (resp, validations)
}

/// `answered` (with its nonce and links) carrying `current`'s body and `Retry-After` instead of
/// its own: the resource as it is now, for a request answered later than it was handled.
fn with_current(answered: Response, current: Response) -> Response {
    let mut out = answered;
    out.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("retry-after"));
    out.headers.extend(
        current
            .headers
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("retry-after")),
    );
    out.body = current.body;
    out
}

fn problem_plain(p: &Problem) -> Response {
    Response {
        status: p.status.unwrap_or(400),
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: lantrust_acme::to_json(p),
    }
}

/// Keep the core's Replay-Nonce and Link headers, replace the rest with a problem document.
fn replace_body(resp: Response, p: &Problem) -> Response {
    let mut out = problem_plain(p);
    for (n, v) in resp.headers {
        if n.eq_ignore_ascii_case("replay-nonce")
            || n.eq_ignore_ascii_case("link")
            || n.eq_ignore_ascii_case("cache-control")
        {
            out.headers.push((n, v));
        }
    }
    out
}

#[cfg(test)]
mod tests;
