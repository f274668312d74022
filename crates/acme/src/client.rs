//! Sans-IO ACME client (RFC 8555 §7): a state machine that says which HTTP request to send next and
//! consumes the responses. The caller owns sockets, clocks and the challenge responder.
//!
//! Drive it like quinn-proto: loop { send every [`Client::poll_request`], feed each answer to
//! [`Client::handle_response`], drain [`Client::poll_event`], and when nothing is left to send sleep
//! until [`Client::poll_timeout`] and call [`Client::handle_timeout`] }. `now` is always the time
//! since the Unix epoch (so that HTTP-date `Retry-After` values can be honoured).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use crate::error::{Error, Result};
use crate::http::{Method, Request, Response};
use crate::jose::{self, AccountKey};
use crate::objects::*;

/// What the client should achieve once it has an account.
#[derive(Debug)]
#[non_exhaustive]
pub enum Operation {
    /// Obtain a certificate for `identifiers` by finalizing with `csr_der` (RFC 8555 §7.4).
    Issue {
        /// Identifiers to order; must match the CSR's names.
        identifiers: Vec<Identifier>,
        /// The caller's DER-encoded PKCS#10 CSR (made from a fresh key, draft §4.11).
        csr_der: Vec<u8>,
        /// RFC 9773 CertID of the certificate this one renews, if any.
        replaces: Option<String>,
    },
    /// Revoke a certificate the account owns (RFC 8555 §7.6).
    Revoke {
        /// DER certificate.
        cert_der: Vec<u8>,
        /// CRL reason code (RFC 5280 §5.3.1), if any.
        reason: Option<u8>,
    },
    /// Roll the account over to a new key (RFC 8555 §7.3.5).
    KeyChange {
        /// The new key.
        new_key: AccountKey,
    },
    /// Only create or find the account.
    AccountOnly,
}

/// Client configuration.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The directory URL (from discovery, draft §3.3).
    pub directory_url: String,
    /// Contact URIs (`https:` URIs for IoT devices, draft §3.4.2; see [`https_contacts`]).
    pub contact: Vec<String>,
    /// Agree to the terms of service.
    pub terms_of_service_agreed: bool,
    /// Only look up an existing account (never create one).
    pub only_return_existing: bool,
    /// Challenge types to use, most preferred first.
    pub challenge_preference: Vec<ChallengeType>,
    /// How often to retry a request that failed with `badNonce` (RFC 8555 §6.5).
    pub max_bad_nonce_retries: u32,
    /// Poll interval when the server sends no `Retry-After`.
    pub default_poll_interval: Duration,
    /// Longest `Retry-After` honoured (protects against a server asking for a day).
    pub max_poll_interval: Duration,
    /// Give up after this many polls of one resource (authorizations waiting for approval poll long).
    pub max_polls: u32,
}

impl ClientConfig {
    /// Defaults: http-01 then tls-alpn-01 then dns-01, 5 badNonce retries, 1 s default poll,
    /// 60 s cap, 600 polls.
    pub fn new(directory_url: &str) -> Self {
        ClientConfig {
            directory_url: directory_url.to_string(),
            contact: Vec::new(),
            terms_of_service_agreed: true,
            only_return_existing: false,
            challenge_preference: alloc::vec![
                ChallengeType::Http01,
                ChallengeType::TlsAlpn01,
                ChallengeType::Dns01
            ],
            max_bad_nonce_retries: 5,
            default_poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(60),
            max_polls: 600,
        }
    }
}

/// A challenge the caller must make available before calling [`Client::challenges_ready`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeToServe {
    /// The identifier being validated.
    pub identifier: Identifier,
    /// Challenge type.
    pub kind: ChallengeType,
    /// The token.
    pub token: String,
    /// The key authorization (RFC 8555 §8.1): the http-01 body.
    pub key_authorization: String,
    /// What to publish: the http-01 body, the dns-01 TXT value, or (tls-alpn-01) the key
    /// authorization from which [`jose::tls_alpn01_extension_value`] is computed.
    pub value: String,
}

/// A downloaded certificate chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateChain {
    /// `application/pem-certificate-chain`: leaf first.
    pub pem: String,
    /// Alternate chains offered with `Link: <…>;rel="alternate"` (RFC 8555 §7.4.2).
    pub alternates: Vec<String>,
    /// The order URL (for the caller's records).
    pub order_url: String,
}

/// What happened; drain with [`Client::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The account exists; `url` is its `kid`.
    AccountReady {
        /// The account URL.
        url: String,
        /// True if the server created it now (201).
        created: bool,
    },
    /// The order was created.
    OrderCreated {
        /// The order URL.
        url: String,
    },
    /// Serve these challenges, then call [`Client::challenges_ready`].
    ServeChallenges(Vec<ChallengeToServe>),
    /// The certificate is ready.
    Certificate(CertificateChain),
    /// The certificate was revoked.
    Revoked,
    /// The account key was replaced; [`Client::account_key`] is now the new one.
    KeyChanged,
    /// Terminal failure; the client does nothing more.
    Failed(Error),
}

/// A request the client sends (each preceded by a HEAD newNonce when no nonce is held, RFC 8555
/// §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Directory,
    Account,
    NewOrder,
    FetchAuthz(usize),
    RespondChallenge(usize),
    PollAuthz(usize),
    /// POST-as-GET of the order; `finalized` once the finalize request succeeded, so that a
    /// `ready` order is polled again rather than finalized twice (RFC 8555 §7.4).
    PollOrder {
        finalized: bool,
    },
    Finalize,
    Certificate,
    Revoke,
    KeyChange,
}

/// Where the client is: exactly one of these at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// This request is the next [`Client::poll_request`] returns.
    Ready(Step),
    /// The request for this step is outstanding.
    Awaiting(Step),
    /// A HEAD newNonce is outstanding; this step, which needs the nonce, follows it.
    AwaitingNonce(Step),
    /// Polling (RFC 8555 §7.5.1): this step is sent again once the clock reaches `until`.
    Sleeping {
        /// The step to send on waking.
        step: Step,
        /// Time since the Unix epoch to wake at.
        until: Duration,
    },
    /// [`Event::ServeChallenges`] was emitted; waiting for [`Client::challenges_ready`].
    ChallengeSetup,
    /// Finished, successfully or with [`Event::Failed`]; nothing more is sent.
    Done,
}

struct AuthzState {
    url: String,
    identifier: Option<Identifier>,
    challenge: Option<Challenge>,
    valid: bool,
}

/// The sans-IO ACME client.
pub struct Client {
    cfg: ClientConfig,
    key: AccountKey,
    op: Operation,
    directory: Option<Directory>,
    nonce: Option<String>,
    kid: Option<String>,
    phase: Phase,
    events: VecDeque<Event>,
    order_url: Option<String>,
    order: Option<Order>,
    authzs: Vec<AuthzState>,
    bad_nonce_retries: u32,
    polls: u32,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("directory_url", &self.cfg.directory_url)
            .field("kid", &self.kid)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

const JOSE: &str = "application/jose+json";

impl Client {
    /// A client that will run `op` with account key `key`.
    pub fn new(cfg: ClientConfig, key: AccountKey, op: Operation) -> Self {
        Client {
            cfg,
            key,
            op,
            directory: None,
            nonce: None,
            kid: None,
            phase: Phase::Ready(Step::Directory),
            events: VecDeque::new(),
            order_url: None,
            order: None,
            authzs: Vec::new(),
            bad_nonce_retries: 0,
            polls: 0,
        }
    }

    /// The account key in use (the new one after a successful key change).
    pub fn account_key(&self) -> &AccountKey {
        &self.key
    }

    /// The account key, once the client is no longer needed (keep it to renew or revoke).
    pub fn into_account_key(self) -> AccountKey {
        self.key
    }

    /// The account URL, once known.
    pub fn account_url(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether the operation has finished (successfully or not).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next HTTP request to send, if any. One request is outstanding at a time: send it and
    /// pass its response to [`Client::handle_response`] before polling again.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        let Phase::Ready(step) = self.phase else {
            return None;
        };
        match self.build(step) {
            Ok(req) => {
                self.phase = if req.method == Method::Head {
                    Phase::AwaitingNonce(step)
                } else {
                    Phase::Awaiting(step)
                };
                Some(req)
            }
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] should be called next (time since the Unix epoch).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Sleeping { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Advance timers.
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Phase::Sleeping { step, until } = self.phase
            && now >= until
        {
            self.phase = Phase::Ready(step);
        }
    }

    /// Tell the client the challenges from [`Event::ServeChallenges`] are being served.
    pub fn challenges_ready(&mut self) {
        if self.phase == Phase::ChallengeSetup {
            // `offer_challenges` only waits when some authorization has a challenge to answer.
            self.phase = Phase::Ready(
                self.authzs
                    .iter()
                    .position(|a| a.challenge.is_some() && !a.valid)
                    .map_or(Step::PollOrder { finalized: false }, Step::RespondChallenge),
            );
        }
    }

    fn directory(&self) -> Result<&Directory> {
        self.directory
            .as_ref()
            .ok_or_else(|| Error::Protocol("no directory yet".into()))
    }

    fn build(&mut self, step: Step) -> Result<Request> {
        if step == Step::Directory {
            return Ok(Request {
                method: Method::Get,
                url: self.cfg.directory_url.clone(),
                headers: Vec::new(),
                body: Vec::new(),
            });
        }
        let Some(nonce) = self.nonce.take() else {
            let url = self.directory()?.new_nonce.clone();
            return Ok(Request {
                method: Method::Head,
                url,
                headers: Vec::new(),
                body: Vec::new(),
            });
        };
        let (url, payload, use_jwk): (String, Option<Vec<u8>>, bool) = match step {
            Step::Directory => {
                return Err(Error::Protocol("internal: directory step".into()));
            }
            Step::Account => {
                let na = NewAccount {
                    contact: self.cfg.contact.clone(),
                    terms_of_service_agreed: self.cfg.terms_of_service_agreed.then_some(true),
                    only_return_existing: (self.cfg.only_return_existing
                        || !matches!(self.op, Operation::Issue { .. } | Operation::AccountOnly))
                    .then_some(true),
                    external_account_binding: None,
                };
                (
                    self.directory()?.new_account.clone(),
                    Some(to_json(&na)),
                    true,
                )
            }
            Step::NewOrder => {
                let Operation::Issue {
                    identifiers,
                    replaces,
                    ..
                } = &self.op
                else {
                    return Err(Error::Protocol("internal: order without issue".into()));
                };
                let no = NewOrder {
                    identifiers: identifiers.clone(),
                    replaces: replaces.clone(),
                    ..Default::default()
                };
                (
                    self.directory()?.new_order.clone(),
                    Some(to_json(&no)),
                    false,
                )
            }
            Step::FetchAuthz(i) | Step::PollAuthz(i) => (self.authz(i)?.url.clone(), None, false),
            Step::RespondChallenge(i) => {
                let url = self
                    .authz(i)?
                    .challenge
                    .as_ref()
                    .map(|c| c.url.clone())
                    .ok_or_else(|| Error::Protocol("no challenge".into()))?;
                (url, Some(b"{}".to_vec()), false)
            }
            Step::PollOrder { .. } => (
                self.order_url
                    .clone()
                    .ok_or_else(|| Error::Protocol("no order URL".into()))?,
                None,
                false,
            ),
            Step::Finalize => {
                let Operation::Issue { csr_der, .. } = &self.op else {
                    return Err(Error::Protocol("internal: finalize without issue".into()));
                };
                let f = Finalize::from_der(csr_der);
                let url = self
                    .order
                    .as_ref()
                    .map(|o| o.finalize.clone())
                    .ok_or_else(|| Error::Protocol("no order".into()))?;
                (url, Some(to_json(&f)), false)
            }
            Step::Certificate => {
                let url = self
                    .order
                    .as_ref()
                    .and_then(|o| o.certificate.clone())
                    .ok_or_else(|| Error::Protocol("valid order without certificate URL".into()))?;
                (url, None, false)
            }
            Step::Revoke => {
                let Operation::Revoke { cert_der, reason } = &self.op else {
                    return Err(Error::Protocol("internal: revoke".into()));
                };
                let r = Revocation {
                    certificate: crate::b64::encode(cert_der),
                    reason: *reason,
                };
                (
                    self.directory()?.revoke_cert.clone(),
                    Some(to_json(&r)),
                    false,
                )
            }
            Step::KeyChange => {
                let Operation::KeyChange { new_key } = &self.op else {
                    return Err(Error::Protocol("internal: key change".into()));
                };
                let url = self.directory()?.key_change.clone();
                let kid = self
                    .kid
                    .clone()
                    .ok_or_else(|| Error::Protocol("no account".into()))?;
                let inner = jose::key_change_inner(new_key, &self.key, &kid, &url)?;
                (url, Some(to_json(&inner)), false)
            }
        };
        let kid = if use_jwk {
            None
        } else {
            Some(
                self.kid
                    .clone()
                    .ok_or_else(|| Error::Protocol("no account URL".into()))?,
            )
        };
        let jws = jose::sign(
            &self.key,
            kid.as_deref(),
            Some(&nonce),
            &url,
            payload.as_deref(),
        )?;
        let mut headers = alloc::vec![("Content-Type".to_string(), JOSE.to_string())];
        if step == Step::Certificate {
            headers.push((
                "Accept".to_string(),
                "application/pem-certificate-chain".to_string(),
            ));
        }
        Ok(Request {
            method: Method::Post,
            url,
            headers,
            body: to_json(&jws),
        })
    }

    fn authz(&self, i: usize) -> Result<&AuthzState> {
        self.authzs
            .get(i)
            .ok_or_else(|| Error::Protocol("authorization index out of range".into()))
    }

    fn fail(&mut self, e: Error) {
        self.phase = Phase::Done;
        self.events.push_back(Event::Failed(e));
    }

    fn sleep(&mut self, step: Step, resp: &Response, now: Duration) -> Result<Phase> {
        self.polls += 1;
        if self.polls > self.cfg.max_polls {
            return Err(Error::Protocol(alloc::format!(
                "gave up after {} polls",
                self.cfg.max_polls
            )));
        }
        let delay = resp
            .retry_after(now)
            .unwrap_or(self.cfg.default_poll_interval)
            .min(self.cfg.max_poll_interval);
        Ok(Phase::Sleeping {
            step,
            until: now + delay,
        })
    }

    /// Feed the response to the request last returned by [`Client::poll_request`].
    pub fn handle_response(&mut self, resp: Response, now: Duration) {
        let (Phase::Awaiting(step) | Phase::AwaitingNonce(step)) = self.phase else {
            return;
        };
        if let Some(n) = resp.header("replay-nonce") {
            // RFC 8555 §6.5.1: keep only syntactically valid nonces.
            if crate::b64::decode(n.trim(), "Replay-Nonce").is_ok() {
                self.nonce = Some(n.trim().to_string());
            }
        }
        let next = if self.phase == Phase::AwaitingNonce(step) {
            self.on_nonce(&resp, step)
        } else {
            self.on_response(step, &resp, now)
        };
        match next {
            Ok(phase) => self.phase = phase,
            Err(e) => self.fail(e),
        }
    }

    /// The answer to a HEAD newNonce sent before `step` (RFC 8555 §7.2).
    fn on_nonce(&self, resp: &Response, step: Step) -> Result<Phase> {
        if !(200..300).contains(&resp.status) || self.nonce.is_none() {
            return Err(Error::Protocol(alloc::format!(
                "newNonce answered {} without Replay-Nonce",
                resp.status
            )));
        }
        Ok(Phase::Ready(step))
    }

    /// The answer to the request for `step`; returns the phase that follows.
    fn on_response(&mut self, step: Step, resp: &Response, now: Duration) -> Result<Phase> {
        if resp.status >= 400 {
            let problem: Problem = from_json(&resp.body).unwrap_or_else(|_| {
                Problem::new(
                    ProblemType::Other("about:blank".into()),
                    resp.status,
                    String::from_utf8_lossy(&resp.body).into_owned(),
                )
            });
            if problem.kind == ProblemType::BadNonce
                && step != Step::Directory
                && self.bad_nonce_retries < self.cfg.max_bad_nonce_retries
            {
                // RFC 8555 §6.5: retry with the fresh nonce from this response.
                self.bad_nonce_retries += 1;
                return Ok(Phase::Ready(step));
            }
            return Err(Error::Problem(Box::new(problem)));
        }
        self.bad_nonce_retries = 0;
        let next = match step {
            Step::Directory => {
                self.directory = Some(from_json(&resp.body)?);
                Phase::Ready(Step::Account)
            }
            Step::Account => {
                let url = resp
                    .header("location")
                    .ok_or_else(|| Error::Protocol("newAccount response has no Location".into()))?;
                let acct: Account = from_json(&resp.body)?;
                if acct.status != AccountStatus::Valid {
                    return Err(Error::Protocol(alloc::format!(
                        "account status is {:?}",
                        acct.status
                    )));
                }
                self.kid = Some(url.to_string());
                self.events.push_back(Event::AccountReady {
                    url: url.to_string(),
                    created: resp.status == 201,
                });
                match self.op {
                    Operation::Issue { .. } => Phase::Ready(Step::NewOrder),
                    Operation::Revoke { .. } => Phase::Ready(Step::Revoke),
                    Operation::KeyChange { .. } => Phase::Ready(Step::KeyChange),
                    Operation::AccountOnly => Phase::Done,
                }
            }
            Step::NewOrder => {
                let url = resp
                    .header("location")
                    .ok_or_else(|| Error::Protocol("newOrder response has no Location".into()))?;
                let order: Order = from_json(&resp.body)?;
                self.order_url = Some(url.to_string());
                self.events.push_back(Event::OrderCreated {
                    url: url.to_string(),
                });
                self.authzs = order
                    .authorizations
                    .iter()
                    .map(|u| AuthzState {
                        url: u.clone(),
                        identifier: None,
                        challenge: None,
                        valid: false,
                    })
                    .collect();
                let fetch = order.status == OrderStatus::Pending && !self.authzs.is_empty();
                self.order = Some(order);
                if fetch {
                    Phase::Ready(Step::FetchAuthz(0))
                } else {
                    self.after_order(now, resp, false)?
                }
            }
            Step::FetchAuthz(i) => {
                let a: Authorization = from_json(&resp.body)?;
                if let Some(s) = self.authzs.get_mut(i) {
                    s.identifier = Some(a.identifier.clone());
                }
                match a.status {
                    AuthorizationStatus::Valid => {
                        if let Some(s) = self.authzs.get_mut(i) {
                            s.valid = true;
                        }
                    }
                    AuthorizationStatus::Pending => {
                        let ch = self
                            .cfg
                            .challenge_preference
                            .iter()
                            .find_map(|k| {
                                a.challenges
                                    .iter()
                                    .find(|c| &c.kind == k && c.token.is_some())
                            })
                            .ok_or_else(|| {
                                Error::Protocol(alloc::format!(
                                    "no acceptable challenge for {}",
                                    a.identifier.value
                                ))
                            })?;
                        if let Some(s) = self.authzs.get_mut(i) {
                            s.challenge = Some(ch.clone());
                        }
                    }
                    other => {
                        return Err(Error::Protocol(alloc::format!(
                            "authorization for {} is {other:?}",
                            a.identifier.value
                        )));
                    }
                }
                if i + 1 < self.authzs.len() {
                    Phase::Ready(Step::FetchAuthz(i + 1))
                } else {
                    self.offer_challenges()?
                }
            }
            Step::RespondChallenge(i) => {
                let _c: Challenge = from_json(&resp.body)?;
                let more = self
                    .authzs
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .find(|(_, a)| a.challenge.is_some() && !a.valid)
                    .map(|(j, _)| j);
                Phase::Ready(match more {
                    Some(j) => Step::RespondChallenge(j),
                    None => self.first_unvalidated_or_order(),
                })
            }
            Step::PollAuthz(i) => {
                let a: Authorization = from_json(&resp.body)?;
                match a.status {
                    AuthorizationStatus::Valid => {
                        if let Some(s) = self.authzs.get_mut(i) {
                            s.valid = true;
                        }
                        self.polls = 0;
                        Phase::Ready(self.first_unvalidated_or_order())
                    }
                    AuthorizationStatus::Pending => self.sleep(Step::PollAuthz(i), resp, now)?,
                    _ => {
                        let err = a.challenges.iter().find_map(|c| c.error.clone());
                        return Err(match err {
                            Some(p) => Error::Problem(Box::new(p)),
                            None => Error::Protocol(alloc::format!(
                                "authorization for {} is {:?}",
                                a.identifier.value,
                                a.status
                            )),
                        });
                    }
                }
            }
            Step::PollOrder { finalized } => {
                let order: Order = from_json(&resp.body)?;
                self.order = Some(order);
                self.after_order(now, resp, finalized)?
            }
            Step::Finalize => {
                self.polls = 0;
                let order: Order = from_json(&resp.body)?;
                self.order = Some(order);
                self.after_order(now, resp, true)?
            }
            Step::Certificate => {
                let pem = String::from_utf8(resp.body.clone())
                    .map_err(|_| Error::Protocol("certificate is not UTF-8 PEM".into()))?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(Error::Protocol(
                        "certificate response is not a PEM chain".into(),
                    ));
                }
                self.events.push_back(Event::Certificate(CertificateChain {
                    pem,
                    alternates: resp.links("alternate"),
                    order_url: self.order_url.clone().unwrap_or_default(),
                }));
                Phase::Done
            }
            Step::Revoke => {
                self.events.push_back(Event::Revoked);
                Phase::Done
            }
            Step::KeyChange => {
                if let Operation::KeyChange { new_key } =
                    core::mem::replace(&mut self.op, Operation::AccountOnly)
                {
                    self.key = new_key;
                }
                self.events.push_back(Event::KeyChanged);
                Phase::Done
            }
        };
        Ok(next)
    }

    /// Poll the first authorization not yet valid, or the order once all are.
    fn first_unvalidated_or_order(&self) -> Step {
        self.authzs
            .iter()
            .position(|a| !a.valid)
            .map_or(Step::PollOrder { finalized: false }, Step::PollAuthz)
    }

    /// Emits [`Event::ServeChallenges`] for the chosen challenges, or polls the order when every
    /// authorization is already valid.
    fn offer_challenges(&mut self) -> Result<Phase> {
        let jwk = self.key.jwk();
        let mut list = Vec::new();
        for a in &self.authzs {
            if a.valid {
                continue;
            }
            let Some(c) = &a.challenge else { continue };
            let token = c.token.clone().unwrap_or_default();
            if !jose::token_is_valid(&token) {
                return Err(Error::Protocol(alloc::format!(
                    "server sent an invalid challenge token {token:?}"
                )));
            }
            let ka = jose::key_authorization(&token, &jwk);
            let value = if c.kind == ChallengeType::Dns01 {
                jose::dns01_txt_value(&ka)
            } else {
                ka.clone()
            };
            let identifier = a.identifier.clone().unwrap_or_else(|| Identifier::dns(""));
            list.push(ChallengeToServe {
                identifier,
                kind: c.kind.clone(),
                token,
                key_authorization: ka,
                value,
            });
        }
        if list.is_empty() {
            Ok(Phase::Ready(Step::PollOrder { finalized: false }))
        } else {
            self.events.push_back(Event::ServeChallenges(list));
            Ok(Phase::ChallengeSetup)
        }
    }

    /// What follows an order object (RFC 8555 §7.1.6 status); `finalized` once finalize succeeded.
    fn after_order(&mut self, now: Duration, resp: &Response, finalized: bool) -> Result<Phase> {
        let order = self
            .order
            .as_ref()
            .ok_or_else(|| Error::Protocol("no order".into()))?;
        let poll = Step::PollOrder { finalized };
        match order.status {
            OrderStatus::Pending => self.sleep(poll, resp, now),
            OrderStatus::Ready if !finalized => {
                self.polls = 0;
                Ok(Phase::Ready(Step::Finalize))
            }
            OrderStatus::Ready | OrderStatus::Processing => self.sleep(poll, resp, now),
            OrderStatus::Valid => Ok(Phase::Ready(Step::Certificate)),
            OrderStatus::Invalid => Err(match order.error.clone() {
                Some(p) => Error::Problem(Box::new(p)),
                None => Error::Protocol("order became invalid".into()),
            }),
        }
    }
}
