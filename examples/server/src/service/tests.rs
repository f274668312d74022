//! The service on a real SQLite state directory with a fixed clock and no network: the pending
//! caps, the §3.4.4 approval states, and storage failures — paths that otherwise only the process
//! tests reach. Challenge validation is reported directly with [`AcmeService::validation_result`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use lantrust_acme::jose::{self, AccountKey};
use lantrust_acme::server::{
    AccountRecord, AuthzRecord, CertificateRecord, OrderRecord, Server, ServerConfig, Store,
    StoreError,
};
use lantrust_acme::{
    Algorithm, Authorization, AuthorizationStatus, Method, Order, Problem, ProblemType, Request,
    Response,
};
use lantrust_ca::{IssuanceOptions, Root, RootConfig};
use rand::rngs::OsRng;

use super::admission::{Admission, LimitArgs};
use super::hooks::{CaIssuer, DbApproval};
use super::{AcmeService, Incoming};
use crate::store::{self, ApprovalState, Config, DbStore, StateDir};

const BASE: &str = "https://router.local:8443/acme";
/// The fixed clock of these tests (2026-05-28).
const NOW: Duration = Duration::from_secs(1_780_000_000);

#[derive(clap::Parser)]
struct Flags {
    #[command(flatten)]
    limits: LimitArgs,
    #[arg(long)]
    auto_approve: bool,
}

/// A service over a fresh state directory; `wrap` chooses the store around SQLite.
fn service<S: Store>(
    flags: &[&str],
    wrap: impl FnOnce(DbStore) -> S,
) -> (AcmeService<S>, StateDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let st = StateDir::new(dir.path());
    let config = Config {
        name: "router".into(),
        domains: vec!["home.arpa".into()],
        ips: vec![],
    };
    store::create_db(&st.db(), &config, NOW).unwrap();
    let root = Arc::new(
        Root::generate(
            &RootConfig::new("router", vec!["home.arpa".into()]),
            NOW,
            &mut OsRng,
        )
        .unwrap(),
    );
    let flags = Flags::parse_from(std::iter::once("t").chain(flags.iter().copied()));
    let policy = lantrust_csr::Policy::new("router", vec!["home.arpa".to_string()]);
    let issuer = CaIssuer::new(
        root.clone(),
        String::new(),
        policy.clone(),
        IssuanceOptions {
            validity: Duration::from_secs(30 * 86_400),
            ..Default::default()
        },
    );
    let approval = DbApproval::new(st.open_for_serve().unwrap(), flags.auto_approve, config);
    let cfg = ServerConfig::new(BASE);
    let admission = Admission::new(
        &flags.limits,
        flags.auto_approve,
        cfg.order_lifetime,
        st.open().unwrap(),
    );
    let core = Server::new(
        cfg.clone(),
        wrap(DbStore::new(st.open_for_serve().unwrap())),
        approval,
        issuer,
    );
    let svc = AcmeService::new(core, cfg, policy, admission, None, root, Some(st.clone()));
    (svc, st, dir)
}

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An ACME account talking to the service.
struct Device {
    key: AccountKey,
    kid: Option<String>,
    peer: SocketAddr,
}

impl Device {
    fn new<S: Store>(svc: &AcmeService<S>, from: &str) -> Self {
        let mut d = Device {
            key: AccountKey::generate(Algorithm::Es256, &mut OsRng).unwrap(),
            kid: None,
            peer: peer(from),
        };
        let r = d.post(
            svc,
            &format!("{BASE}/new-account"),
            Some(br#"{"termsOfServiceAgreed":true}"#),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        d.kid = Some(r.header("location").unwrap().to_string());
        d
    }

    fn nonce<S: Store>(&self, svc: &AcmeService<S>) -> String {
        let req = Request {
            method: Method::Head,
            url: format!("{BASE}/new-nonce"),
            headers: vec![],
            body: vec![],
        };
        let out = svc.handle(Incoming {
            req,
            peer: self.peer,
            now: NOW,
        });
        out.response.header("replay-nonce").unwrap().to_string()
    }

    fn post_full<S: Store>(
        &self,
        svc: &AcmeService<S>,
        url: &str,
        payload: Option<&[u8]>,
    ) -> super::Outcome {
        let n = self.nonce(svc);
        let jws = jose::sign(&self.key, self.kid.as_deref(), Some(&n), url, payload).unwrap();
        svc.handle(Incoming {
            req: Request {
                method: Method::Post,
                url: url.to_string(),
                headers: vec![("Content-Type".into(), "application/jose+json".into())],
                body: serde_json::to_vec(&jws).unwrap(),
            },
            peer: self.peer,
            now: NOW,
        })
    }

    fn post<S: Store>(&self, svc: &AcmeService<S>, url: &str, payload: Option<&[u8]>) -> Response {
        self.post_full(svc, url, payload).response
    }

    fn new_order<S: Store>(&self, svc: &AcmeService<S>, device: &str) -> Response {
        let payload = format!(
            r#"{{"identifiers":[{{"type":"dns","value":"{device}.local"}},{{"type":"dns","value":"{device}.home.arpa"}}]}}"#
        );
        self.post(svc, &format!("{BASE}/new-order"), Some(payload.as_bytes()))
    }

    /// newOrder for `device`, then validate its first authorization's http-01 challenge (the
    /// validation reported as passed); the authorization's URL.
    fn validated<S: Store>(&self, svc: &AcmeService<S>, device: &str) -> String {
        let r = self.new_order(svc, device);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let order: Order = lantrust_acme::from_json(&r.body).unwrap();
        let authz_url = order.authorizations[0].clone();
        let a: Authorization =
            lantrust_acme::from_json(&self.post(svc, &authz_url, None).body).unwrap();
        let out = self.post_full(svc, &a.challenges[0].url, Some(b"{}"));
        assert_eq!(out.response.status, 200);
        assert_eq!(out.validations.len(), 1, "one validation to perform");
        svc.validation_result(&out.validations[0], Ok(()), NOW);
        authz_url
    }

    fn authz_status<S: Store>(
        &self,
        svc: &AcmeService<S>,
        url: &str,
    ) -> (AuthorizationStatus, Authorization) {
        let a: Authorization = lantrust_acme::from_json(&self.post(svc, url, None).body).unwrap();
        (a.status, a)
    }
}

fn problem(r: &Response) -> Problem {
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    lantrust_acme::from_json(&r.body).unwrap()
}

#[test]
fn pending_caps_per_source_and_in_total() {
    let (svc, st, _dir) = service(
        &["--max-pending-per-source", "2", "--max-pending-total", "3"],
        |s| s,
    );
    let a = Device::new(&svc, "192.168.1.10:5000");
    assert_eq!(a.new_order(&svc, "dev-a1").status, 201);
    assert_eq!(a.new_order(&svc, "dev-a2").status, 201);
    // The third waiting order from one source: rateLimited, with Retry-After and a nonce.
    let r = a.new_order(&svc, "dev-a3");
    let p = problem(&r);
    assert_eq!((r.status, p.kind), (429, ProblemType::RateLimited));
    assert!(p.detail.unwrap().contains("--max-pending-per-source"));
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(r.header("replay-nonce").is_some());
    // IPv4-mapped IPv6 is the same source.
    let a6 = Device::new(&svc, "[::ffff:192.168.1.10]:5001");
    assert_eq!(a6.new_order(&svc, "dev-a4").status, 429);

    // Another source has its own count, until the total cap.
    let b = Device::new(&svc, "192.168.1.11:5000");
    assert_eq!(b.new_order(&svc, "dev-b1").status, 201);
    let r = b.new_order(&svc, "dev-b2");
    assert_eq!(r.status, 429);
    assert!(problem(&r).detail.unwrap().contains("--max-pending-total"));

    // An approved device's orders stop counting, and its renewal passes even over the caps.
    let conn = st.open().unwrap();
    store::decide(&conn, "dev-a1", ApprovalState::Approved, NOW).unwrap();
    assert_eq!(b.new_order(&svc, "dev-b2").status, 201);
    assert_eq!(
        a.new_order(&svc, "dev-a1").status,
        201,
        "renewal of an approved device"
    );
    // A denied device's orders stop counting too.
    store::decide(&conn, "dev-a2", ApprovalState::Denied, NOW).unwrap();
    assert_eq!(a.new_order(&svc, "dev-a5").status, 201);
}

#[test]
fn pending_caps_do_not_apply_with_auto_approve() {
    let (svc, _st, _dir) = service(&["--max-pending-per-source", "1", "--auto-approve"], |s| s);
    let a = Device::new(&svc, "10.0.0.2:5000");
    for n in 0..3 {
        assert_eq!(a.new_order(&svc, &format!("dev-{n}")).status, 201);
    }
}

/// Time to certificate (issue 18): a challenge POST answered after its validation shows the
/// outcome (valid, no Retry-After; still processing while the owner decides) with the nonce and
/// links of the original answer; what is
/// pending sets Retry-After: 1 s while validating, the human wait while awaiting approval.
#[test]
fn the_challenge_answer_shows_the_inline_outcome_and_retry_after_follows_what_is_pending() {
    use lantrust_acme::{Challenge, ChallengeStatus};
    let (svc, st, _dir) = service(&[], |s| s);
    let conn = st.open().unwrap();
    let d = Device::new(&svc, "192.168.1.40:5000");
    // Pre-approved: the device never waits for a human.
    store::decide(&conn, "dev-fast", ApprovalState::Approved, NOW).unwrap();
    for (device, approved) in [("dev-fast", true), ("dev-new", false)] {
        let r = d.new_order(&svc, device);
        let order: Order = lantrust_acme::from_json(&r.body).unwrap();
        let authz_url = order.authorizations[0].clone();
        let a: Authorization =
            lantrust_acme::from_json(&d.post(&svc, &authz_url, None).body).unwrap();
        let out = d.post_full(&svc, &a.challenges[0].url, Some(b"{}"));
        let answered = out.response;
        let c: Challenge = lantrust_acme::from_json(&answered.body).unwrap();
        assert_eq!(c.status, ChallengeStatus::Processing);
        assert_eq!(answered.header("retry-after"), Some("1"));
        // A poll while the validation runs: the machine wait.
        let polled = d.post(&svc, &authz_url, None);
        assert_eq!(polled.header("retry-after"), Some("1"), "{device}");

        let v = out.validations.first().unwrap();
        svc.validation_result(v, Ok(()), NOW);
        let r = svc.challenge_answer(v, answered.clone(), NOW);
        assert_eq!(r.status, 200);
        let c: Challenge = lantrust_acme::from_json(&r.body).unwrap();
        assert_eq!(c.url, a.challenges[0].url);
        if approved {
            assert_eq!(c.status, ChallengeStatus::Valid, "{device}");
            assert_eq!(r.header("retry-after"), None, "nothing left to wait for");
        } else {
            // Validated but waiting for the owner: shown processing with the human wait, so
            // that a client does not finalize an order that is not ready (lego would).
            assert_eq!(c.status, ChallengeStatus::Processing, "{device}");
            assert_eq!(r.header("retry-after"), Some("5"), "{device}");
        }
        assert_eq!(r.header("replay-nonce"), answered.header("replay-nonce"));
        let links = |r: &Response| {
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(links(&r), links(&answered));
        assert!(links(&r).iter().any(|l| l.contains("rel=\"up\"")));

        let (status, _) = d.authz_status(&svc, &authz_url);
        let polled = d.post(&svc, &authz_url, None);
        if approved {
            assert_eq!(status, AuthorizationStatus::Valid);
            assert_eq!(polled.header("retry-after"), None);
        } else {
            // Validated, waiting for the owner: the human wait (ServerConfig's default 5 s here;
            // `serve` sets 3 s), and the order says the same.
            assert_eq!(status, AuthorizationStatus::Pending);
            assert_eq!(polled.header("retry-after"), Some("5"));
            let o = d.post(&svc, &order_url(&order), None);
            assert_eq!(o.header("retry-after"), Some("5"));
        }
    }
}

/// An order's URL, from its finalize URL (`…/order/ID/finalize`).
fn order_url(order: &Order) -> String {
    order.finalize.trim_end_matches("/finalize").to_string()
}

#[test]
fn approval_states_pending_approved_denied_revoked_and_pre_approval() {
    let (svc, st, _dir) = service(&[], |s| s);
    let conn = st.open().unwrap();
    let d = Device::new(&svc, "192.168.1.20:5000");

    // First issuance waits for a human: pending, with Retry-After, and a pending row.
    let url = d.validated(&svc, "dev-1");
    let (status, _) = d.authz_status(&svc, &url);
    assert_eq!(status, AuthorizationStatus::Pending);
    assert_eq!(
        store::approval_state(&conn, "dev-1").unwrap(),
        Some(ApprovalState::Pending)
    );
    // Approved out of band: valid at the next poll.
    let before = store::decide(&conn, "dev-1", ApprovalState::Approved, NOW).unwrap();
    assert_eq!(before, Some(ApprovalState::Pending));
    assert_eq!(d.authz_status(&svc, &url).0, AuthorizationStatus::Valid);

    // Denied: invalid, and the challenge says why.
    let url = d.validated(&svc, "dev-2");
    store::decide(&conn, "dev-2", ApprovalState::Denied, NOW).unwrap();
    let (status, a) = d.authz_status(&svc, &url);
    assert_eq!(status, AuthorizationStatus::Invalid);
    let why = a.challenges[0]
        .error
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(why.contains("denied by the network administrator"), "{why}");

    // Revoked: a renewal is refused.
    store::revoke_device(&st.open().unwrap(), "dev-1", NOW).unwrap();
    let url = d.validated(&svc, "dev-1");
    let (status, a) = d.authz_status(&svc, &url);
    assert_eq!(status, AuthorizationStatus::Invalid);
    let why = a.challenges[0]
        .error
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(why.contains("its approval was revoked"), "{why}");

    // Pre-approval: approved before it ever asked, so no wait.
    assert_eq!(
        store::decide(&conn, "dev-3", ApprovalState::Approved, NOW).unwrap(),
        None
    );
    let url = d.validated(&svc, "dev-3");
    assert_eq!(d.authz_status(&svc, &url).0, AuthorizationStatus::Valid);
    let rows = store::approvals(&conn, false).unwrap();
    let states: Vec<_> = rows
        .iter()
        .map(|r| (r.device_id.as_str(), r.state))
        .collect();
    assert_eq!(
        states,
        [
            ("dev-1", ApprovalState::Revoked),
            ("dev-2", ApprovalState::Denied),
            ("dev-3", ApprovalState::Approved)
        ]
    );
    // The request time is the service's clock, not the machine's.
    assert_eq!(rows[1].requested_at, Some(NOW.as_secs()));
}

#[test]
fn foreign_names_are_refused_at_new_order_by_the_csr_scope_rule() {
    let (svc, _st, _dir) = service(&[], |s| s);
    let d = Device::new(&svc, "192.168.1.30:5000");
    let order = |ids: &str| {
        d.post(
            &svc,
            &format!("{BASE}/new-order"),
            Some(format!(r#"{{"identifiers":[{ids}]}}"#).as_bytes()),
        )
    };
    let r = order(r#"{"type":"dns","value":"dev-9.example.com"}"#);
    let p = problem(&r);
    assert_eq!((r.status, p.kind), (400, ProblemType::RejectedIdentifier));
    assert!(
        p.detail
            .unwrap()
            .contains("dev-9.example.com is not a name on this network")
    );
    let r = order(r#"{"type":"dns","value":"router.home.arpa"}"#);
    assert!(problem(&r).detail.unwrap().contains("is reserved"));
    let r = order(r#"{"type":"dns","value":"a.b.local"}"#);
    assert_eq!(problem(&r).kind, ProblemType::RejectedIdentifier);
    let r = order(r#"{"type":"ip","value":"8.8.8.8"}"#);
    assert_eq!(problem(&r).kind, ProblemType::RejectedIdentifier);
    // RFC 8555 §7.4: an IP address alone could never be finalized (a device certificate names
    // `<id>.local` and `<id>.home.arpa`, draft §3.4.3); with the device's names it is issued.
    let r = order(r#"{"type":"ip","value":"192.168.1.30"}"#);
    let p = problem(&r);
    assert_eq!((r.status, p.kind), (400, ProblemType::RejectedIdentifier));
    assert!(p.detail.unwrap().contains("could never be finalized"));
    let r = order(
        r#"{"type":"dns","value":"dev-9.local"},{"type":"dns","value":"dev-9.home.arpa"},{"type":"ip","value":"192.168.1.30"}"#,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// SQLite underneath, but every call fails while `fail` is set.
struct Failing {
    inner: DbStore,
    fail: Arc<AtomicBool>,
}

impl Failing {
    fn check(&self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            Err(StoreError::new("disk I/O error (test)"))
        } else {
            Ok(())
        }
    }
}

impl Store for Failing {
    fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.check()?;
        self.inner.account(id)
    }
    fn account_by_thumbprint(&self, t: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.check()?;
        self.inner.account_by_thumbprint(t)
    }
    fn put_account(&mut self, a: AccountRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_account(a)
    }
    fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.check()?;
        self.inner.order(id)
    }
    fn put_order(&mut self, o: OrderRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_order(o)
    }
    fn authz(&self, id: &str) -> Result<Option<AuthzRecord>, StoreError> {
        self.check()?;
        self.inner.authz(id)
    }
    fn put_authz(&mut self, a: AuthzRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_authz(a)
    }
    fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        self.check()?;
        self.inner.certificate(id)
    }
    fn certificate_by_serial(&self, s: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.check()?;
        self.inner.certificate_by_serial(s)
    }
    fn certificate_by_der(&self, der: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.check()?;
        self.inner.certificate_by_der(der)
    }
    fn put_certificate(&mut self, c: CertificateRecord, now: Duration) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_certificate(c, now)
    }
}

#[test]
fn a_storage_failure_is_a_server_error_not_a_missing_account() {
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let (svc, _st, _dir) = service(&[], move |inner| Failing { inner, fail: f });
    let d = Device::new(&svc, "192.168.1.40:5000");
    fail.store(true, Ordering::SeqCst);
    let r = d.new_order(&svc, "dev-1");
    let p = problem(&r);
    assert_eq!((r.status, p.kind), (500, ProblemType::ServerInternal));
    assert!(
        r.header("replay-nonce").is_some(),
        "the client can retry at once"
    );
    // And once the store is back, the same account works: nothing was forgotten.
    fail.store(false, Ordering::SeqCst);
    assert_eq!(d.new_order(&svc, "dev-1").status, 201);
}

#[test]
fn a_real_sqlite_failure_surfaces_as_a_server_error() {
    let (svc, st, _dir) = service(&[], |s| s);
    let d = Device::new(&svc, "192.168.1.41:5000");
    // Another connection drops the orders table under the running service.
    st.open()
        .unwrap()
        .execute_batch("DROP TABLE orders")
        .unwrap();
    let r = d.new_order(&svc, "dev-1");
    assert_eq!(
        (r.status, problem(&r).kind),
        (500, ProblemType::ServerInternal)
    );
}

impl Device {
    fn thumbprint(&self) -> String {
        self.key.jwk().thumbprint()
    }

    /// Roll the account over to `new_key` (RFC 8555 §7.3.5).
    fn key_change<S: Store>(&mut self, svc: &AcmeService<S>, new_key: AccountKey) -> Response {
        let url = format!("{BASE}/key-change");
        let kid = self.kid.clone().unwrap();
        let inner = jose::key_change_inner(&new_key, &self.key, &kid, &url).unwrap();
        let r = self.post(svc, &url, Some(&serde_json::to_vec(&inner).unwrap()));
        if r.status == 200 {
            self.key = new_key;
        }
        r
    }
}

fn pending(st: &StateDir) -> Vec<store::PendingRow> {
    store::pending_requests(&st.open().unwrap()).unwrap()
}

fn bound(st: &StateDir, device: &str) -> Option<String> {
    store::approvals(&st.open().unwrap(), false)
        .unwrap()
        .into_iter()
        .find(|r| r.device_id == device)
        .and_then(|r| r.account)
}

fn decide(
    st: &StateDir,
    device: &str,
    state: ApprovalState,
    account: Option<String>,
) -> store::Decided {
    let d = store::Decision {
        state,
        account,
        revoke_old: false,
    };
    store::decide_with(&st.open().unwrap(), device, &d, NOW).unwrap()
}

#[test]
fn approval_binds_the_first_key_and_another_key_is_a_key_change() {
    let (svc, st, _dir) = service(&[], |s| s);
    let owner = Device::new(&svc, "192.168.1.30:5000");
    let url = owner.validated(&svc, "cam-1");
    assert_eq!(
        owner.authz_status(&svc, &url).0,
        AuthorizationStatus::Pending
    );
    let p = pending(&st);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].kind.as_str(), p[0].requester.account.as_str()),
        ("first_request", owner.thumbprint().as_str())
    );
    assert_eq!(p[0].requester.ip.as_deref(), Some("192.168.1.30"));
    decide(&st, "cam-1", ApprovalState::Approved, None);
    assert_eq!(owner.authz_status(&svc, &url).0, AuthorizationStatus::Valid);
    assert_eq!(bound(&st, "cam-1"), Some(owner.thumbprint()));

    // Another account asking for cam-1 waits, flagged as a key change; nothing for it.
    let other = Device::new(&svc, "192.168.1.66:5000");
    let ourl = other.validated(&svc, "cam-1");
    assert_eq!(
        other.authz_status(&svc, &ourl).0,
        AuthorizationStatus::Pending
    );
    let p = pending(&st);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].kind, "key_change");
    assert_eq!(p[0].state, ApprovalState::Approved);
    assert_eq!(p[0].requester.account, other.thumbprint());
    assert_eq!(p[0].bound_account, Some(owner.thumbprint()));
    assert_eq!(p[0].requester.ip.as_deref(), Some("192.168.1.66"));
    assert!(
        p[0].message.contains("factory reset, or impostor"),
        "{}",
        p[0].message
    );
    // The bound key's renewal is automatic meanwhile.
    let renew = owner.validated(&svc, "cam-1");
    assert_eq!(
        owner.authz_status(&svc, &renew).0,
        AuthorizationStatus::Valid
    );

    // Denying the key change leaves the binding alone.
    let d = decide(&st, "cam-1", ApprovalState::Denied, None);
    assert_eq!(d.denied_accounts, vec![other.thumbprint()]);
    assert_eq!(d.state, ApprovalState::Approved);
    let (status, a) = other.authz_status(&svc, &ourl);
    assert_eq!(status, AuthorizationStatus::Invalid);
    let why = a.challenges[0]
        .error
        .as_ref()
        .unwrap()
        .detail
        .clone()
        .unwrap();
    assert!(why.contains("refused this account key"), "{why}");
    assert_eq!(bound(&st, "cam-1"), Some(owner.thumbprint()));
    let renew = owner.validated(&svc, "cam-1");
    assert_eq!(
        owner.authz_status(&svc, &renew).0,
        AuthorizationStatus::Valid
    );
    assert!(pending(&st).is_empty());

    // A third key (a factory-reset device): approving it moves the binding.
    let reset = Device::new(&svc, "192.168.1.31:5000");
    let rurl = reset.validated(&svc, "cam-1");
    assert_eq!(
        reset.authz_status(&svc, &rurl).0,
        AuthorizationStatus::Pending
    );
    let d = decide(&st, "cam-1", ApprovalState::Approved, None);
    assert_eq!(d.replaced_account, Some(owner.thumbprint()));
    assert_eq!(d.account, Some(reset.thumbprint()));
    assert_eq!(
        reset.authz_status(&svc, &rurl).0,
        AuthorizationStatus::Valid
    );
    // Now the old key is the stranger.
    let old = owner.validated(&svc, "cam-1");
    assert_eq!(
        owner.authz_status(&svc, &old).0,
        AuthorizationStatus::Pending
    );
    assert_eq!(pending(&st)[0].requester.account, owner.thumbprint());

    // Two keys waiting: a bare `approve` names them instead of guessing.
    let fourth = Device::new(&svc, "192.168.1.32:5000");
    fourth.validated(&svc, "cam-1");
    let d = store::Decision {
        state: ApprovalState::Approved,
        account: None,
        revoke_old: false,
    };
    let e = store::decide_with(&st.open().unwrap(), "cam-1", &d, NOW).unwrap_err();
    assert!(format!("{e:#}").contains("--account"), "{e:#}");
}

#[test]
fn pre_approval_for_a_given_key_and_for_the_first_asker() {
    let (svc, st, _dir) = service(&[], |s| s);
    let dev = Device::new(&svc, "10.0.0.5:5000");
    let stranger = Device::new(&svc, "10.0.0.6:5000");
    decide(
        &st,
        "dev-p",
        ApprovalState::Approved,
        Some(dev.thumbprint()),
    );
    let s = stranger.validated(&svc, "dev-p");
    assert_eq!(
        stranger.authz_status(&svc, &s).0,
        AuthorizationStatus::Pending
    );
    assert_eq!(pending(&st)[0].kind, "key_change");
    let u = dev.validated(&svc, "dev-p");
    assert_eq!(dev.authz_status(&svc, &u).0, AuthorizationStatus::Valid);

    // Without --account: the first account that asks.
    let d = decide(&st, "dev-q", ApprovalState::Approved, None);
    assert_eq!((d.previous, d.account), (None, None));
    let u = stranger.validated(&svc, "dev-q");
    assert_eq!(
        stranger.authz_status(&svc, &u).0,
        AuthorizationStatus::Valid
    );
    assert_eq!(bound(&st, "dev-q"), Some(stranger.thumbprint()));
    let u = dev.validated(&svc, "dev-q");
    assert_eq!(dev.authz_status(&svc, &u).0, AuthorizationStatus::Pending);
}

#[test]
fn key_rollover_keeps_the_binding_and_deactivation_drops_it() {
    let (svc, st, _dir) = service(&[], |s| s);
    let mut dev = Device::new(&svc, "10.0.0.7:5000");
    let u = dev.validated(&svc, "dev-r");
    decide(&st, "dev-r", ApprovalState::Approved, None);
    assert_eq!(dev.authz_status(&svc, &u).0, AuthorizationStatus::Valid);
    let old = dev.thumbprint();
    let r = dev.key_change(
        &svc,
        AccountKey::generate(Algorithm::Es384, &mut OsRng).unwrap(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_ne!(dev.thumbprint(), old);
    assert_eq!(bound(&st, "dev-r"), Some(dev.thumbprint()));
    let u = dev.validated(&svc, "dev-r");
    assert_eq!(dev.authz_status(&svc, &u).0, AuthorizationStatus::Valid);

    // Deactivation: the ID is released and waits for the owner again.
    let kid = dev.kid.clone().unwrap();
    let r = dev.post(&svc, &kid, Some(br#"{"status":"deactivated"}"#));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let row = store::approvals(&st.open().unwrap(), false).unwrap();
    assert_eq!(
        (row[0].state, row[0].account.clone()),
        (ApprovalState::Pending, None)
    );
    assert!(row[0].requesters.is_empty());
    let next = Device::new(&svc, "10.0.0.8:5000");
    let u = next.validated(&svc, "dev-r");
    assert_eq!(next.authz_status(&svc, &u).0, AuthorizationStatus::Pending);
    let p = pending(&st);
    assert_eq!((p.len(), p[0].kind.as_str()), (1, "first_request"));
}

#[test]
fn an_old_database_migrates_its_approvals_to_key_bindings() {
    let (svc, st, _dir) = service(&[], |s| s);
    let dev = Device::new(&svc, "10.0.0.9:5000");
    let u = dev.validated(&svc, "dev-m");
    decide(&st, "dev-m", ApprovalState::Approved, None);
    assert_eq!(dev.authz_status(&svc, &u).0, AuthorizationStatus::Valid);
    // Turn the database back into a version-1 one: no requesters table, user_version 0.
    {
        let conn = st.open().unwrap();
        conn.execute_batch("DROP TABLE requesters; PRAGMA user_version = 0;")
            .unwrap();
    }
    // Opening it migrates: the approval is bound to the key that first asked.
    let conn = st.open().unwrap();
    let v: i64 = conn
        .query_one("PRAGMA user_version", &[])
        .and_then(|r| r.get(0))
        .unwrap();
    assert_eq!(v, 2);
    let rows = store::approvals(&conn, false).unwrap();
    assert_eq!(rows[0].requesters.len(), 1);
    assert_eq!(rows[0].requesters[0].account, dev.thumbprint());
    assert_eq!(rows[0].requesters[0].status, "bound");
    assert_eq!(bound(&st, "dev-m"), Some(dev.thumbprint()));
    // A second open finds version 2 and leaves the rows alone.
    let rows2 = store::approvals(&st.open().unwrap(), false).unwrap();
    assert_eq!(rows2, rows);
}

#[test]
fn another_keys_orders_for_an_approved_device_count_toward_the_pending_caps() {
    let (svc, st, _dir) = service(&["--max-pending-per-source", "2"], |s| s);
    let owner = Device::new(&svc, "192.168.1.40:5000");
    owner.validated(&svc, "cam-9");
    decide(&st, "cam-9", ApprovalState::Approved, None);
    // A stranger's orders for the approved ID wait for the owner, so they are capped.
    let stranger = Device::new(&svc, "192.168.1.99:5000");
    assert_eq!(stranger.new_order(&svc, "cam-9").status, 201);
    assert_eq!(stranger.new_order(&svc, "cam-9").status, 201);
    assert_eq!(stranger.new_order(&svc, "cam-9").status, 429);
    // The bound key's renewals pass, however many.
    for _ in 0..3 {
        assert_eq!(owner.new_order(&svc, "cam-9").status, 201);
    }
}

/// Requests nobody decided are forgotten after `STALE_REQUEST` of silence (bounding what a LAN
/// host minting keys and IDs can store); every decision of the owner stays.
#[test]
fn stale_requests_are_forgotten_and_decisions_kept() {
    let (svc, st, _dir) = service(&[], |s| s);
    let db = st.open().unwrap();
    // A new device nobody decided; an approved one with a key change waiting; a denied one.
    let lost = Device::new(&svc, "192.168.1.40:5000");
    lost.validated(&svc, "cam-lost");
    let owner = Device::new(&svc, "192.168.1.41:5000");
    owner.validated(&svc, "cam-ok");
    decide(&st, "cam-ok", ApprovalState::Approved, None);
    let other = Device::new(&svc, "192.168.1.42:5000");
    other.validated(&svc, "cam-ok");
    let denied = Device::new(&svc, "192.168.1.43:5000");
    denied.validated(&svc, "cam-no");
    decide(&st, "cam-no", ApprovalState::Denied, None);
    assert_eq!(
        pending(&st).len(),
        2,
        "cam-lost and cam-ok's key change wait"
    );

    // Not yet stale: nothing goes.
    assert_eq!(store::forget_stale_requests(&db, NOW).unwrap(), 0);
    assert_eq!(pending(&st).len(), 2);
    // A month later: both requests nobody decided are gone, with cam-lost's pending ID.
    let later = NOW + store::STALE_REQUEST + Duration::from_secs(1);
    let cutoff = later - store::STALE_REQUEST;
    assert_eq!(store::forget_stale_requests(&db, cutoff).unwrap(), 2);
    assert!(pending(&st).is_empty());
    let states: Vec<(String, ApprovalState)> = store::approvals(&db, false)
        .unwrap()
        .into_iter()
        .map(|r| (r.device_id, r.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("cam-no".to_string(), ApprovalState::Denied),
            ("cam-ok".to_string(), ApprovalState::Approved),
        ]
    );
    assert_eq!(bound(&st, "cam-ok"), Some(owner.thumbprint()));
    // The approved key still renews without a human; the lost device asking again is a new
    // request for the owner.
    let renew = owner.validated(&svc, "cam-ok");
    assert_eq!(
        owner.authz_status(&svc, &renew).0,
        AuthorizationStatus::Valid
    );
    lost.validated(&svc, "cam-lost");
    assert_eq!(pending(&st).len(), 1);
}
