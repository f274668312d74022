//! Authorizations and challenges (RFC 8555 §7.5, §8) with the draft's manual approval step
//! (§3.4.4): the [`ApprovalPolicy`] hook, the [`Validation`]s the caller performs, and their
//! results.

use alloc::string::String;
use core::time::Duration;

use super::*;
use crate::jose;
use crate::objects::*;
use crate::time::rfc3339;

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

    /// RFC 9773: why the certificate `cert`, issued for `order` to `account`, should be renewed
    /// now rather than in its usual window, if it should (e.g. the device was re-approved for
    /// another key, or its approval was taken back). The renewalInfo answer then suggests a
    /// window that has already begun. The default: never.
    fn renew_early(
        &mut self,
        _cert: &CertificateRecord,
        _order: &OrderRecord,
        _account: &AccountRecord,
        _now: Duration,
    ) -> Option<String> {
        None
    }

    /// Told when `account` rolled over to a new key (RFC 8555 §7.3.5), before the account is
    /// stored with it: `account` carries the new key and thumbprint, `old_thumbprint` is the
    /// RFC 7638 thumbprint of the key it replaces. An approval bound to the old key (§3.4.4)
    /// moves to the new one here. An error fails the keyChange with `serverInternal` (the
    /// account keeps its old key, the client may retry). The default does nothing.
    fn key_changed(
        &mut self,
        account: &AccountRecord,
        old_thumbprint: &str,
        now: Duration,
    ) -> Result<(), StoreError> {
        let _ = (account, old_thumbprint, now);
        Ok(())
    }

    /// Told when `account` deactivated itself (RFC 8555 §7.3.6), before the deactivation is
    /// stored: approvals bound to its key (§3.4.4) are dropped here. An error fails the request
    /// with `serverInternal` (the account stays valid). The default does nothing.
    fn account_deactivated(
        &mut self,
        account: &AccountRecord,
        now: Duration,
    ) -> Result<(), StoreError> {
        let _ = (account, now);
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

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    pub(super) fn refresh_authz(
        &mut self,
        mut a: AuthzRecord,
        now: Duration,
    ) -> Result<AuthzRecord, StoreError> {
        let before = a.clone();
        if matches!(
            a.status,
            AuthorizationStatus::Pending | AuthorizationStatus::Valid
        ) && now >= a.expires
        {
            a.status = AuthorizationStatus::Expired;
        } else if a.status == AuthorizationStatus::Pending && a.awaiting_approval {
            self.apply_approval(&mut a, now)?;
        }
        if a != before {
            self.store.put_authz(a.clone())?;
        }
        Ok(a)
    }

    pub(super) fn apply_approval(
        &mut self,
        a: &mut AuthzRecord,
        now: Duration,
    ) -> Result<(), StoreError> {
        let Some(account) = self.store.account(&a.account_id)? else {
            a.status = AuthorizationStatus::Invalid;
            return Ok(());
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
        Ok(())
    }

    pub(super) fn owned_authz(&self, v: &Verified, id: &str) -> Result<AuthzRecord, Refusal> {
        let account = v.account.as_ref().ok_or_else(|| malformed("needs kid"))?;
        let a = self
            .store
            .authz(id)?
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

    pub(super) fn authz_object(&self, a: &AuthzRecord) -> Authorization {
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

    pub(super) fn challenge_object(&self, a: &AuthzRecord, c: &ChallengeRecord) -> Challenge {
        let status = shown_status(a, c);
        Challenge {
            kind: c.kind.clone(),
            url: self.url(&alloc::format!("chall/{}/{}", a.id, c.id)),
            status,
            validated: c
                .validated
                .filter(|_| status == ChallengeStatus::Valid)
                .map(rfc3339),
            error: c.error.clone(),
            token: Some(c.token.clone()),
            extra: serde_json::Map::new(),
        }
    }

    /// A challenge's answer (RFC 8555 §7.5.1): the object, `Link: rel="up"` to its
    /// authorization, and `Retry-After` while it is shown processing.
    fn challenge_response(&self, a: &AuthzRecord, c: &ChallengeRecord) -> Response {
        let mut r = json_response(200, &self.challenge_object(a, c));
        r.headers.push((
            "Link".into(),
            alloc::format!(
                "<{}>;rel=\"up\"",
                self.url(&alloc::format!("authz/{}", a.id))
            ),
        ));
        if shown_status(a, c) == ChallengeStatus::Processing {
            r.headers
                .push(retry_after_header(self.authz_retry_after(a)));
        }
        r
    }

    pub(super) fn authz_post(&mut self, v: Verified, id: &str, now: Duration) -> Handled {
        let a = self.owned_authz(&v, id)?;
        let mut a = self.refresh_authz(a, now)?;
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
                self.store.put_authz(a.clone())?;
            }
        }
        Ok(self.authz_response(&a))
    }

    /// An authorization's answer (RFC 8555 §7.5): the object, and `Retry-After` while pending.
    pub(super) fn authz_response(&self, a: &AuthzRecord) -> Response {
        let mut r = json_response(200, &self.authz_object(a));
        if a.status == AuthorizationStatus::Pending {
            // Validation running, or a human has yet to approve (§3.4.4): keep clients polling,
            // as often as what is pending warrants.
            r.headers
                .push(retry_after_header(self.authz_retry_after(a)));
        }
        r
    }

    pub(super) fn challenge_post(
        &mut self,
        v: Verified,
        authz_id: &str,
        chall_id: &str,
        now: Duration,
    ) -> Handled {
        let a = self.owned_authz(&v, authz_id)?;
        let mut a = self.refresh_authz(a, now)?;
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
                self.store.put_authz(a.clone())?;
            }
        }
        let c = a
            .challenges
            .get(idx)
            .ok_or_else(|| malformed("no such challenge"))?;
        Ok(self.challenge_response(&a, c))
    }

    /// How long a client should wait before polling a pending authorization again: the human
    /// wait ([`ServerConfig::retry_after`]) once it awaits approval (§3.4.4), the machine wait
    /// ([`ServerConfig::retry_after_validating`]) while a validation runs or none was asked for.
    pub(super) fn authz_retry_after(&self, a: &AuthzRecord) -> Duration {
        if a.awaiting_approval {
            self.cfg.retry_after
        } else {
            self.cfg.retry_after_validating
        }
    }

    /// The challenge resource as its owner would fetch it now (RFC 8555 §7.5.1): the challenge
    /// object, `Link: rel="up"` to its authorization, and `Retry-After` while it is processing,
    /// without a nonce or the directory link (the caller merges it into the answer of a request
    /// that went through [`Server::handle`], which carries those). For a caller that performed
    /// a [`Validation`] while the client's challenge POST waited, and answers that POST with the
    /// outcome instead of `processing`. `None` when there is no such challenge.
    pub fn challenge_resource(
        &mut self,
        authz_id: &str,
        challenge_id: &str,
        now: Duration,
    ) -> Result<Option<Response>, StoreError> {
        let Some(a) = self.store.authz(authz_id)? else {
            return Ok(None);
        };
        let a = self.refresh_authz(a, now)?;
        let Some(c) = a.challenges.iter().find(|c| c.id == challenge_id) else {
            return Ok(None);
        };
        Ok(Some(self.challenge_response(&a, c)))
    }

    /// Report the outcome of a [`Validation`]. On success the approval policy is consulted: the
    /// authorization becomes `valid`, stays `pending` awaiting a human, or becomes `invalid`.
    /// A [`StoreError`] means the outcome was not recorded (the client's next poll shows the
    /// challenge still `processing`).
    pub fn validation_result(
        &mut self,
        authz_id: &str,
        challenge_id: &str,
        result: Result<(), Problem>,
        now: Duration,
    ) -> Result<(), StoreError> {
        let Some(mut a) = self.store.authz(authz_id)? else {
            return Ok(());
        };
        let Some(c) = a.challenges.iter_mut().find(|c| c.id == challenge_id) else {
            return Ok(());
        };
        if c.status != ChallengeStatus::Processing {
            return Ok(());
        }
        match result {
            Ok(()) => {
                c.status = ChallengeStatus::Valid;
                c.validated = Some(now);
                a.awaiting_approval = true;
                self.apply_approval(&mut a, now)?;
            }
            Err(p) => {
                c.status = ChallengeStatus::Invalid;
                c.error = Some(p);
                a.status = AuthorizationStatus::Invalid;
            }
        }
        self.store.put_authz(a)
    }
}

/// The status a client is shown for challenge `c` of authorization `a`. A challenge that passed
/// validation while its authorization awaits the owner's approval (§3.4.4) is shown as
/// `processing`, not `valid`: for the client the server has not finished with it, and RFC 8555
/// §7.1.6 makes a valid challenge mean a valid authorization — clients such as lego stop polling
/// and finalize as soon as they see `valid`, and would then hit `orderNotReady`.
fn shown_status(a: &AuthzRecord, c: &ChallengeRecord) -> ChallengeStatus {
    if c.status == ChallengeStatus::Valid
        && a.status == AuthorizationStatus::Pending
        && a.awaiting_approval
    {
        ChallengeStatus::Processing
    } else {
        c.status
    }
}
