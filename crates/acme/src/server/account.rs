//! Accounts (RFC 8555 §7.3): newAccount, account update and deactivation, the orders list
//! (§7.1.2.1) and key rollover (§7.3.5); contacts per draft §3.4.2.

use alloc::vec::Vec;
use core::time::Duration;

use rand_core::CryptoRngCore;

use super::*;
use crate::jose::{JwsKind, KeyRef, ParsedJws};
use crate::objects::*;

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    pub(super) fn new_account(&mut self, v: Verified, rng: &mut impl CryptoRngCore) -> Handled {
        let (jwk, _) = v.jwk.ok_or_else(|| malformed("newAccount needs `jwk`"))?;
        let req: NewAccount = parse_payload(&v.payload)?;
        let thumbprint = jwk.thumbprint();
        if let Some(existing) = self.store.account_by_thumbprint(&thumbprint)? {
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
        self.store.put_account(account.clone())?;
        let mut r = json_response(201, &self.account_object(&account));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("acct/{}", account.id)),
        ));
        Ok(r)
    }

    pub(super) fn account_object(&self, a: &AccountRecord) -> Account {
        Account {
            status: a.status,
            contact: a.contact.clone(),
            terms_of_service_agreed: Some(a.terms_of_service_agreed),
            external_account_binding: None,
            orders: Some(self.url(&alloc::format!("acct/{}/orders", a.id))),
        }
    }

    pub(super) fn account_post(&mut self, v: Verified, id: &str, now: Duration) -> Handled {
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
            // §7.3.2: the server MUST ignore updates to `status` other than the deactivation
            // of §7.3.6 (clients such as certbot's `acme` library send the whole account back,
            // `"status": "valid"` included).
            match upd.status {
                None | Some(AccountStatus::Valid | AccountStatus::Revoked) => {}
                Some(AccountStatus::Deactivated) => {
                    if account.status == AccountStatus::Valid {
                        // Draft §3.4.4: an approval bound to this key ends with the account.
                        self.policy.account_deactivated(&account, now)?;
                    }
                    account.status = AccountStatus::Deactivated;
                }
            }
            self.store.put_account(account.clone())?;
        }
        Ok(json_response(200, &self.account_object(&account)))
    }

    pub(super) fn orders_list(&mut self, v: Verified, id: &str) -> Handled {
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

    pub(super) fn key_change(&mut self, v: Verified, now: Duration) -> Handled {
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
        if let Some(other) = self.store.account_by_thumbprint(&tp)? {
            let mut p = Problem::new(
                ProblemType::Malformed,
                409,
                "the new key already belongs to an account",
            );
            p.instance = Some(self.url(&alloc::format!("acct/{}", other.id)));
            return Err(Refusal(p));
        }
        let old_thumbprint = core::mem::replace(&mut account.thumbprint, tp);
        account.jwk = new_jwk.clone();
        // Draft §3.4.4: the approval was for this account's key; it follows the rollover.
        self.policy.key_changed(&account, &old_thumbprint, now)?;
        self.store.put_account(account.clone())?;
        Ok(json_response(200, &self.account_object(&account)))
    }
}

pub(super) fn check_contact(c: &str) -> Result<(), Refusal> {
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
