//! The server core's hooks: the §3.4.4 approval decision from the database, the §4.2 name scope
//! at newOrder, and CSR policy (§3.4.3, lantrust-csr) plus issuance (lantrust-ca) at finalize
//! (RFC 8555 §7.4).

// Problem documents are the natural error value of the hooks (as in lantrust-acme's core).
#![allow(clippy::result_large_err)]

use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lantrust_acme::server::{
    AccountRecord, Approval, ApprovalPolicy, ApprovalRequest, CertificateRecord, Issued, Issuer,
    OrderRecord, StoreError,
};
use lantrust_acme::{IdentifierType, Problem, ProblemType, Subproblem};
use lantrust_ca::{DeviceRequest, IssuanceOptions, Root};
use rand::rngs::OsRng;

use super::neighbours::Neighbours;
use crate::store::{self, Config, Verdict};

/// Approval decisions from the database (so `approve` in another process takes effect at the
/// client's next poll). An approval binds the account key that asked first (draft §3.4.4; RFC
/// 7638 thumbprint); other keys asking for the same ID wait as key-change requests.
pub(crate) struct DbApproval {
    db: store::Db,
    auto_approve: bool,
    /// The network's names (§4.2), for refusing foreign identifiers at newOrder.
    scope: lantrust_csr::Policy,
    /// The source address of the request being handled, if the check runs for one (a poll);
    /// `None` when it runs for a validation result.
    peer: Option<IpAddr>,
    neighbours: Neighbours,
}

impl DbApproval {
    /// Decisions from `db`; every device approved at once with `auto_approve`.
    pub(crate) fn new(db: store::Db, auto_approve: bool, config: Config) -> Self {
        DbApproval {
            db,
            auto_approve,
            scope: lantrust_csr::Policy::new(config.name, config.domains),
            peer: None,
            neighbours: Neighbours::default(),
        }
    }

    /// Look requesters' MAC addresses up in `neighbours` (a leases file, the neighbour table).
    pub(crate) fn with_neighbours(mut self, neighbours: Neighbours) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// The source address of the request about to be handled (`None` after it).
    pub(crate) fn set_peer(&mut self, peer: Option<IpAddr>) {
        self.peer = peer.map(|p| p.to_canonical());
    }
}

impl ApprovalPolicy for DbApproval {
    fn check_order(&mut self, identifiers: &[lantrust_acme::Identifier]) -> Result<(), Problem> {
        match out_of_scope(&self.scope, identifiers) {
            Some(p) => {
                tracing::info!(detail = ?p.detail, "order refused");
                Err(p)
            }
            None => Ok(()),
        }
    }

    fn check(&mut self, req: &ApprovalRequest<'_>, now: Duration) -> Approval {
        // The request's span (net/http.rs) learns which device it is about.
        tracing::Span::current().record("device", req.device_id);
        let mac = self.peer.and_then(|ip| self.neighbours.mac(ip));
        let requester = store::Requester {
            thumbprint: &req.account.thumbprint,
            account_id: &req.account.id,
            ip: self.peer,
            mac,
        };
        let r = store::request_approval(
            &self.db,
            req.device_id,
            &req.identifier.value,
            &requester,
            self.auto_approve,
            now,
        );
        match r {
            Ok(Verdict::Approved) => Approval::Approved,
            Ok(Verdict::Pending { key_change: false }) => {
                tracing::info!(
                    device = req.device_id,
                    name = %req.identifier.value,
                    account = %req.account.thumbprint,
                    "waiting for approval: run `lantrust-server approve {}`",
                    req.device_id
                );
                Approval::Pending
            }
            Ok(Verdict::Pending { key_change: true }) => {
                tracing::warn!(
                    device = req.device_id,
                    name = %req.identifier.value,
                    account = %req.account.thumbprint,
                    "a different key asks for {}: factory reset, or impostor; nothing is issued to it unless you run `lantrust-server approve {} --account {}`",
                    req.device_id,
                    req.device_id,
                    req.account.thumbprint
                );
                Approval::Pending
            }
            Ok(Verdict::Denied(why)) => Approval::Denied(why),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "approval lookup failed; keeping the device waiting");
                Approval::Pending
            }
        }
    }

    fn key_changed(
        &mut self,
        account: &AccountRecord,
        old_thumbprint: &str,
        _now: Duration,
    ) -> Result<(), StoreError> {
        store::rebind_key(&self.db, old_thumbprint, &account.thumbprint).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "moving approvals to a rolled-over key failed");
            StoreError::new(format!("{e:#}"))
        })?;
        tracing::info!(account = %account.id, old = old_thumbprint, new = %account.thumbprint, "account key rolled over; its approvals follow it");
        Ok(())
    }

    /// RFC 9773: a device reset or a withdrawn approval pulls the renewal window forward.
    fn renew_early(
        &mut self,
        _cert: &CertificateRecord,
        order: &OrderRecord,
        account: &AccountRecord,
        _now: Duration,
    ) -> Option<String> {
        super::renewal::approval_reason(&self.db, order, account)
    }

    fn account_deactivated(
        &mut self,
        account: &AccountRecord,
        _now: Duration,
    ) -> Result<(), StoreError> {
        let n = store::release_key(&self.db, &account.thumbprint).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "dropping a deactivated account's approvals failed");
            StoreError::new(format!("{e:#}"))
        })?;
        tracing::info!(account = %account.id, devices = n, "account deactivated; the approvals bound to its key are dropped");
        Ok(())
    }
}

/// CSR policy (lantrust-csr) and issuance (lantrust-ca).
pub(crate) struct CaIssuer {
    root: Arc<Root>,
    root_pem: String,
    policy: lantrust_csr::Policy,
    options: IssuanceOptions,
    /// After a root rotation: the tail of the alternate chain (RFC 8555 §7.4.2), the root.
    alternate_tail: Option<String>,
}

/// A finalize request's CSR validated (signature and policy) outside the core's lock, for the
/// device ID it names ([`PreparedCsr::new`]); handed to the core with the request
/// (`Server::handle_prepared`) and reused by the issuer when the CSR bytes and the order's device
/// ID match.
pub(crate) struct PreparedCsr {
    der: Vec<u8>,
    accepted: lantrust_csr::AcceptedCsr,
}

impl PreparedCsr {
    /// Validate a CSR the way `issue` would, before the order is known: with the device ID read
    /// from the CSR itself. If the order turns out to be for that same device, `issue` with the
    /// order's device ID would reach the same verdict (the ID is only compared), so the result
    /// can stand in for it. `None` when it does not pass (then `issue` reports why, under lock).
    pub(crate) fn new(policy: &lantrust_csr::Policy, csr_der: &[u8]) -> Option<Self> {
        Some(PreparedCsr {
            accepted: lantrust_csr::validate(csr_der, policy).ok()?,
            der: csr_der.to_vec(),
        })
    }
}

impl CaIssuer {
    /// Issue from `root` (chain: leaf + `root_pem`) under `policy`.
    pub(crate) fn new(
        root: Arc<Root>,
        root_pem: String,
        policy: lantrust_csr::Policy,
        options: IssuanceOptions,
    ) -> Self {
        CaIssuer {
            root,
            root_pem,
            policy,
            options,
            alternate_tail: None,
        }
    }

    /// Also offer leaf + `tail` as an alternate chain (RFC 8555 §7.4.2).
    pub(crate) fn with_alternate_tail(mut self, tail: Option<String>) -> Self {
        self.alternate_tail = tail;
        self
    }
}

fn bad_csr(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadCsr, 400, detail)
}

impl Issuer for CaIssuer {
    fn issue(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        account: &AccountRecord,
        now: Duration,
    ) -> Result<Issued, Problem> {
        self.issue_prepared(csr_der, order, account, now, &())
    }

    /// RFC 9773: a certificate of a root rotated out is renewed now.
    fn renew_early(&mut self, cert: &CertificateRecord, _now: Duration) -> Option<String> {
        super::renewal::root_reason(&self.root, cert)
    }

    /// `prepared` is the service's `Option<PreparedCsr>` for this request.
    fn issue_prepared(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        account: &AccountRecord,
        now: Duration,
        prepared: &dyn Any,
    ) -> Result<Issued, Problem> {
        let device_id = order
            .identifiers
            .iter()
            .find(|i| i.kind == IdentifierType::Dns)
            .map(lantrust_acme::server::device_id);
        let pre = prepared
            .downcast_ref::<Option<PreparedCsr>>()
            .and_then(Option::as_ref)
            .filter(|p| p.der == csr_der && device_id.as_deref() == Some(p.accepted.device_id()))
            .map(|p| p.accepted.clone());
        let mut policy = self.policy.clone();
        if let Some(id) = &device_id {
            policy = policy.with_device_id(id.clone());
        }
        let validated = match pre {
            Some(accepted) => Ok(accepted),
            None => lantrust_csr::validate(csr_der, &policy),
        };
        let accepted = validated.map_err(|e| {
            let mut p = bad_csr(format!("the CSR does not meet the device policy: {e}"));
            p.subproblems = e
                .violations()
                .iter()
                .map(|v| Subproblem {
                    kind: ProblemType::BadCsr,
                    detail: Some(v.to_string()),
                    identifier: None,
                })
                .collect();
            super::metrics::METRICS.refused(super::metrics::Refusal::RejectedCsr);
            tracing::info!(account = %account.id, "CSR refused: {e}");
            p
        })?;
        let request = DeviceRequest {
            device_id: super::renewal::subject_cn(&self.policy, csr_der, &accepted),
            dns_names: accepted.dns_names().to_vec(),
            ip_addrs: accepted.ip_addrs().to_vec(),
            public_key: accepted.public_key().clone(),
        };
        let cert = self
            .root
            .issue(&request, &self.options, now, &mut OsRng)
            .map_err(|e| bad_csr(format!("cannot issue: {e}")))?;
        let leaf_pem = lantrust_ca::certificate_to_pem(&cert)
            .map_err(|e| Problem::new(ProblemType::ServerInternal, 500, e.to_string()))?;
        let leaf_der = lantrust_ca::certificate_to_der(&cert)
            .map_err(|e| Problem::new(ProblemType::ServerInternal, 500, e.to_string()))?;
        super::metrics::METRICS.issued();
        tracing::Span::current().record("device", accepted.device_id());
        tracing::info!(
            device = accepted.device_id(),
            names = ?accepted.dns_names(),
            "issued a certificate"
        );
        Ok(Issued {
            pem_chain: format!("{leaf_pem}{}", self.root_pem),
            leaf_der,
            alternates: self
                .alternate_tail
                .iter()
                .map(|tail| format!("{leaf_pem}{tail}"))
                .collect(),
        })
    }
}

/// The configured local domains as the CSR policy reads them: lower case, no trailing dot,
/// `local` left out (it is always required), each once.
fn normalized_domains(policy: &lantrust_csr::Policy) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in &policy.domains {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        if !d.is_empty() && d != "local" && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The names every certificate of device `id` carries (draft §3.4.3): `<id>.local`, then
/// `<id>.<domain>` for each local domain.
fn required_names(policy: &lantrust_csr::Policy, id: &str) -> Vec<String> {
    let mut names = vec![format!("{id}.local")];
    names.extend(
        normalized_domains(policy)
            .iter()
            .map(|d| format!("{id}.{d}")),
    );
    names
}

/// What newOrder refuses (RFC 8555 §7.4: what the server will not or cannot issue), with one
/// `rejectedIdentifier` subproblem per name (§6.7.1): identifiers outside the network's scope,
/// by lantrust-csr's §4.2 rule (the one finalize applies to the CSR) — DNS names other than
/// `<id>.local` and `<id>.<domain>`, the server's own name, `localhost`, public IPs —; several
/// device IDs in one order; and each name finalize requires that the order lacks (`<id>.local`
/// and `<id>.<domain>` for every local domain, draft §3.4.3), named in its subproblem's
/// `identifier`, so a client learns exactly which names its order must carry.
pub(crate) fn out_of_scope(
    policy: &lantrust_csr::Policy,
    identifiers: &[lantrust_acme::Identifier],
) -> Option<Problem> {
    use lantrust_csr::Violation;
    let mut subs = Vec::new();
    let mut ids = Vec::new();
    for ident in identifiers {
        let bad = match ident.kind {
            IdentifierType::Dns => {
                let v = ident.value.to_ascii_lowercase();
                let label = v.split('.').next().unwrap_or("").to_string();
                if !ids.contains(&label) {
                    ids.push(label.clone());
                }
                let violations = policy.name_scope_violations(&v, Some(&label));
                match violations.first() {
                    None => None,
                    Some(Violation::ReservedLeftmostLabel { label, .. }) => {
                        Some(format!("{v}: the name {label:?} is reserved"))
                    }
                    Some(_) => {
                        let mut allowed = vec!["<id>.local".to_string()];
                        allowed.extend(policy.domains.iter().map(|d| format!("<id>.{d}")));
                        Some(format!(
                            "{v} is not a name on this network; this server issues only {}",
                            allowed.join(", ")
                        ))
                    }
                }
            }
            IdentifierType::Ip => match ident.value.parse::<IpAddr>() {
                Ok(ip) if lantrust_csr::Policy::ip_in_scope(ip) => None,
                _ => Some(format!(
                    "{} is not a private, link-local or loopback address",
                    ident.value
                )),
            },
            _ => Some(format!("unsupported identifier {}", ident.value)),
        };
        if let Some(detail) = bad {
            subs.push(Subproblem {
                kind: ProblemType::RejectedIdentifier,
                detail: Some(detail),
                identifier: Some(ident.clone()),
            });
        }
    }
    if subs.is_empty() && ids.len() > 1 {
        return Some(Problem::new(
            ProblemType::RejectedIdentifier,
            400,
            format!(
                "one order is for one device; these names belong to {} devices ({})",
                ids.len(),
                ids.join(", ")
            ),
        ));
    }
    // RFC 8555 §7.4: refuse now what finalize would refuse whatever the CSR says. Finalize
    // wants the CSR's names to be exactly the order's (§7.4) and the device policy wants every
    // certificate to name `<id>.local` and `<id>.<domain>` for each local domain (draft
    // §3.4.3, `lantrust_csr::Violation::MissingName`), with the device ID taken from the order's
    // first DNS name (`CaIssuer`): so an order lacking one of those names can never be finalized.
    if ids.len() <= 1 {
        match identifiers.iter().find(|i| i.kind == IdentifierType::Dns) {
            Some(first) => {
                let id = lantrust_acme::server::device_id(first);
                let required = required_names(policy, &id);
                let all = required.join(", ");
                for name in &required {
                    let carried = identifiers.iter().any(|i| {
                        i.kind == IdentifierType::Dns && i.value.eq_ignore_ascii_case(name)
                    });
                    if !carried {
                        subs.push(Subproblem {
                            kind: ProblemType::RejectedIdentifier,
                            detail: Some(format!(
                                "the order must also carry {name}: a certificate for device {id} names {all} (draft §3.4.3), so without it the order could never be finalized"
                            )),
                            identifier: Some(lantrust_acme::Identifier::dns(name)),
                        });
                    }
                }
            }
            None if subs.is_empty() => {
                let mut names = vec!["<id>.local".to_string()];
                names.extend(
                    normalized_domains(policy)
                        .iter()
                        .map(|d| format!("<id>.{d}")),
                );
                return Some(Problem::new(
                    ProblemType::RejectedIdentifier,
                    400,
                    format!(
                        "an order for IP addresses only could never be finalized: a device certificate names {} (draft §3.4.3); add them to the order, IP addresses may go with them",
                        names.join(", ")
                    ),
                ));
            }
            None => {}
        }
    }
    if subs.is_empty() {
        return None;
    }
    let detail = subs
        .iter()
        .filter_map(|s| s.detail.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let mut p = Problem::new(ProblemType::RejectedIdentifier, 400, detail);
    p.subproblems = subs;
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantrust_acme::Order;

    #[test]
    fn scope_refuses_public_and_reserved_names() {
        let cfg = lantrust_csr::Policy::new("router", vec!["home.arpa".to_string()]);
        let order = |names: &[&str]| -> Order {
            let ids: Vec<_> = names
                .iter()
                .map(|n| serde_json::json!({"type": "dns", "value": n}))
                .collect();
            let v = serde_json::json!({"status": "pending", "identifiers": ids,
                "authorizations": [], "finalize": "https://x/f"});
            lantrust_acme::from_json(v.to_string().as_bytes()).unwrap()
        };
        assert!(
            out_of_scope(&cfg, &order(&["dev1.local", "dev1.home.arpa"]).identifiers).is_none()
        );
        let p = out_of_scope(
            &cfg,
            &order(&["dev1.local", "dev1.example.com"]).identifiers,
        )
        .unwrap();
        assert_eq!(p.kind, ProblemType::RejectedIdentifier);
        // The foreign name, and the name finalize would require that the order lacks.
        let named: Vec<_> = p
            .subproblems
            .iter()
            .map(|s| s.identifier.as_ref().unwrap().value.as_str())
            .collect();
        assert_eq!(named, ["dev1.example.com", "dev1.home.arpa"], "{p:?}");
        assert!(
            p.detail
                .unwrap()
                .contains("dev1.example.com is not a name on this network")
        );
        // RFC 8555 §7.4: an order that could never be finalized is refused at newOrder, each
        // missing name in a subproblem of its own.
        for (names, missing) in [
            (&["dev1.home.arpa"][..], &["dev1.local"][..]),
            (&["dev1.local"][..], &["dev1.home.arpa"][..]),
            (&["dev1.local", "192.168.1.5"][..], &["dev1.home.arpa"][..]),
        ] {
            let ids: Vec<_> = names
                .iter()
                .map(|n| match n.parse::<IpAddr>() {
                    Ok(ip) => lantrust_acme::Identifier::ip(ip),
                    Err(_) => lantrust_acme::Identifier::dns(n),
                })
                .collect();
            let p = out_of_scope(&cfg, &ids).unwrap();
            assert_eq!(p.kind, ProblemType::RejectedIdentifier);
            let named: Vec<_> = p
                .subproblems
                .iter()
                .map(|s| {
                    assert_eq!(s.kind, ProblemType::RejectedIdentifier);
                    s.identifier.as_ref().unwrap().value.as_str()
                })
                .collect();
            assert_eq!(named, missing, "{names:?}: {p:?}");
            assert!(p.detail.unwrap().contains("could never be finalized"));
        }
        let ip_only = [lantrust_acme::Identifier::ip(
            "192.168.1.5".parse().unwrap(),
        )];
        let p = out_of_scope(&cfg, &ip_only).unwrap();
        assert!(p.detail.unwrap().contains("<id>.local, <id>.home.arpa"),);
        let mut complete = order(&["dev1.local", "dev1.home.arpa"]).identifiers;
        complete.push(lantrust_acme::Identifier::ip(
            "192.168.1.5".parse().unwrap(),
        ));
        assert!(out_of_scope(&cfg, &complete).is_none());
        // With no domain configured, `<id>.local` alone is complete.
        let bare = lantrust_csr::Policy::new("router", Vec::<String>::new());
        assert!(out_of_scope(&bare, &order(&["dev1.local"]).identifiers).is_none());
        assert!(out_of_scope(&cfg, &order(&["router.local"]).identifiers).is_some());
        assert!(out_of_scope(&cfg, &order(&["a.b.local"]).identifiers).is_some());
        assert!(out_of_scope(&cfg, &order(&["dev1.local", "dev2.local"]).identifiers).is_some());
    }
}
