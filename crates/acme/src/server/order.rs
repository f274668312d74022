//! Orders (RFC 8555 §7.4): newOrder with the identifier checks (§7.1.4, draft §4.2), the order's
//! status (§7.1.6), finalize with the CSR's names and the [`Issuer`] hook, and the certificate
//! download (§7.4.2).

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::any::Any;
use core::time::Duration;

use rand_core::CryptoRngCore;

use super::*;
use crate::b64;
use crate::http::Response;
use crate::objects::*;
use crate::time::rfc3339;

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

    /// [`Issuer::issue`] with what the caller prepared for this request outside the core's lock
    /// and passed to [`Server::handle_prepared`] (e.g. the CSR's policy verdict, reached in
    /// parallel with other requests). `prepared` is `&()` when nothing was prepared; an issuer
    /// that downcasts it must still judge the CSR itself when the value is not what it expects
    /// or does not cover `csr_der`. The default ignores it.
    fn issue_prepared(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        account: &AccountRecord,
        now: Duration,
        prepared: &dyn Any,
    ) -> Result<Issued, Problem> {
        let _ = prepared;
        self.issue(csr_der, order, account, now)
    }

    /// Told after a certificate was revoked (for CRLs).
    fn revoked(&mut self, _cert: &CertificateRecord, _now: Duration) {}

    /// RFC 9773: why `cert` should be renewed now rather than in its usual window, if it
    /// should (e.g. it was signed by a root that has since been rotated out). The renewalInfo
    /// answer then suggests a window that has already begun. The default: never.
    fn renew_early(&mut self, _cert: &CertificateRecord, _now: Duration) -> Option<String> {
        None
    }
}

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    pub(super) fn new_order(
        &mut self,
        v: Verified,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Handled {
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
        if let Some(replaces) = &req.replaces {
            self.check_replaces(&account, &req.identifiers, replaces)?;
        }
        let mut authz_ids = Vec::new();
        for ident in &req.identifiers {
            let mut challenges = Vec::new();
            // http-01 (RFC 8555 §8.3) and tls-alpn-01 (RFC 8737) only: both are validated
            // toward the device itself. dns-01 (§8.4) is not offered: `.local` names (draft
            // §3.4.3) have no DNS zone to publish `_acme-challenge` in, and a challenge the
            // server does not validate must not be offered.
            let kinds = [ChallengeType::Http01, ChallengeType::TlsAlpn01];
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
            self.store.put_authz(authz)?;
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
        self.store.put_order(order.clone())?;
        account.orders.push(order.id.clone());
        self.store.put_account(account)?;
        let mut r = json_response(201, &self.order_object(&order));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("order/{}", order.id)),
        ));
        Ok(r)
    }

    pub(super) fn order_object(&self, o: &OrderRecord) -> Order {
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

    pub(super) fn owned_order(
        &self,
        v: &Verified,
        id: &str,
    ) -> Result<(AccountRecord, OrderRecord), Refusal> {
        let account = v.account.clone().ok_or_else(|| malformed("needs kid"))?;
        let order = self
            .store
            .order(id)?
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
    pub(super) fn refresh_order(
        &mut self,
        mut order: OrderRecord,
        now: Duration,
    ) -> Result<OrderRecord, StoreError> {
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
                let Some(a) = self.store.authz(id)? else {
                    all_valid = false;
                    continue;
                };
                let a = self.refresh_authz(a, now)?;
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
            self.store.put_order(order.clone())?;
        }
        Ok(order)
    }

    /// Re-ask the approval policy for a validated authorization; expire stale ones.
    pub(super) fn order_get(&mut self, v: Verified, id: &str, now: Duration) -> Handled {
        if !v.payload.is_empty() {
            return Err(malformed(
                "orders are fetched with POST-as-GET (empty payload)",
            ));
        }
        let (_, order) = self.owned_order(&v, id)?;
        let order = self.refresh_order(order, now)?;
        Ok(self.order_response(&order)?)
    }

    /// An order's answer (RFC 8555 §7.4): the object, and `Retry-After` while pending or
    /// processing.
    pub(super) fn order_response(&self, order: &OrderRecord) -> Result<Response, StoreError> {
        let mut r = json_response(200, &self.order_object(order));
        if matches!(order.status, OrderStatus::Pending | OrderStatus::Processing) {
            r.headers
                .push(retry_after_header(self.order_retry_after(order)?));
        }
        Ok(r)
    }

    /// How long a client should wait before polling a pending or processing order again: the
    /// human wait when one of its authorizations awaits approval (§3.4.4), the machine wait
    /// otherwise (validations in flight; finalize itself issues before it answers).
    fn order_retry_after(&self, order: &OrderRecord) -> Result<Duration, StoreError> {
        if order.status == OrderStatus::Pending {
            for id in &order.authz_ids {
                if let Some(a) = self.store.authz(id)?
                    && a.status == AuthorizationStatus::Pending
                    && a.awaiting_approval
                {
                    return Ok(self.cfg.retry_after);
                }
            }
        }
        Ok(self.cfg.retry_after_validating)
    }

    pub(super) fn finalize(
        &mut self,
        v: Verified,
        id: &str,
        now: Duration,
        rng: &mut impl CryptoRngCore,
        prepared: &dyn Any,
    ) -> Handled {
        let (account, order) = self.owned_order(&v, id)?;
        let mut order = self.refresh_order(order, now)?;
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
            .issue_prepared(&csr, &order, &account, now, prepared)
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
        self.store.put_certificate(cert.clone(), now)?;
        order.status = OrderStatus::Valid;
        order.certificate_id = Some(cert.id);
        self.store.put_order(order.clone())?;
        let mut r = json_response(200, &self.order_object(&order));
        r.headers.push((
            "Location".into(),
            self.url(&alloc::format!("order/{}", order.id)),
        ));
        Ok(r)
    }

    pub(super) fn cert_get(&mut self, v: Verified, id: &str, alternate: usize) -> Handled {
        let account = v.account.ok_or_else(|| malformed("needs kid"))?;
        let cert = self
            .store
            .certificate(id)?
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
}

pub(super) fn check_identifier(id: &Identifier) -> Result<(), Subproblem> {
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
                // A well-formed request for a name this server will not issue (§6.7:
                // rejectedIdentifier), not a malformed one.
                Err(bad(
                    ProblemType::RejectedIdentifier,
                    "not a valid DNS name (LDH labels, A-labels only)",
                ))
            }
        }
        IdentifierType::Ip => {
            let parsed: Result<core::net::IpAddr, _> = id.value.parse();
            match parsed {
                // RFC 8738 §3: the canonical textual form.
                Ok(ip) if ip.to_string() == id.value => Ok(()),
                _ => Err(bad(
                    ProblemType::RejectedIdentifier,
                    "not an IP address in its canonical form (RFC 8738 §3)",
                )),
            }
        }
        IdentifierType::Other(_) => Err(bad(
            ProblemType::UnsupportedIdentifier,
            "only dns and ip identifiers are supported",
        )),
    }
}

/// Check that a CSR parses and requests exactly the order's identifiers (RFC 8555 §7.4).
pub(super) fn check_csr_names(csr_der: &[u8], identifiers: &[Identifier]) -> Result<(), Refusal> {
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

pub(super) fn const_oid_extension_request() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14")
}
