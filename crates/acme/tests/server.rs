//! The server core against the client core, in process, with simulated time: approval (§3.4.4),
//! renewal, denial, revocation, key change; and every refusal path of request verification.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use lantrust_acme::client::{CertificateChain, Client, ClientConfig, Event, Operation};
use lantrust_acme::jose::{self, AccountKey};
use lantrust_acme::server::{
    AccountRecord, Approval, ApprovalPolicy, ApprovalRequest, AuthzRecord, AutoApprove,
    CertificateRecord, Issued, Issuer, MemoryStore, NonceStore, OrderRecord, RequestKind, Server,
    ServerConfig, Store, StoreError,
};
use lantrust_acme::*;

const BASE: &str = "https://router-fdb531.local:8443/acme";

/// A throwaway P-384 CA built with x509-cert (the real one lives in lantrust-ca).
struct TestCa {
    key: p384::ecdsa::SigningKey,
    name: x509_cert::name::Name,
    serial: u32,
    revoked: Vec<Option<u8>>,
}

impl TestCa {
    fn new() -> Self {
        use std::str::FromStr;
        TestCa {
            key: p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng),
            name: x509_cert::name::Name::from_str("CN=lantrust test root").unwrap(),
            serial: 1,
            revoked: Vec::new(),
        }
    }
}

impl Issuer for TestCa {
    fn issue(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        _: &AccountRecord,
        _: Duration,
    ) -> std::result::Result<Issued, Problem> {
        use der::{Decode, Encode, EncodePem};
        use x509_cert::builder::{Builder, CertificateBuilder, Profile};
        use x509_cert::ext::pkix::name::GeneralName;
        let csr = x509_cert::request::CertReq::from_der(csr_der)
            .map_err(|e| Problem::new(ProblemType::BadCsr, 400, e.to_string()))?;
        self.serial += 1;
        let profile = Profile::Leaf {
            issuer: self.name.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
            include_subject_key_identifier: true,
        };
        let validity = x509_cert::time::Validity::from_now(Duration::from_secs(86_400)).unwrap();
        let mut b = CertificateBuilder::new(
            profile,
            x509_cert::serial_number::SerialNumber::from(self.serial),
            validity,
            csr.info.subject.clone(),
            csr.info.public_key,
            &self.key,
        )
        .unwrap();
        let sans = order
            .identifiers
            .iter()
            .map(|i| GeneralName::DnsName(der::asn1::Ia5String::new(&i.value).unwrap()))
            .collect();
        b.add_extension(&x509_cert::ext::pkix::SubjectAltName(sans))
            .unwrap();
        let cert = b.build::<p384::ecdsa::DerSignature>().unwrap();
        let pem = cert.to_pem(der::pem::LineEnding::LF).unwrap();
        Ok(Issued {
            pem_chain: pem.clone(),
            leaf_der: cert.to_der().unwrap(),
            alternates: vec![pem],
        })
    }

    fn revoked(&mut self, cert: &CertificateRecord, _: Duration) {
        self.revoked.push(cert.revoked.flatten());
    }
}

/// A human's approvals, keyed by device ID.
#[derive(Default)]
struct Approvals {
    approved: BTreeSet<String>,
    denied: BTreeSet<String>,
    asked: Vec<String>,
}

impl ApprovalPolicy for Approvals {
    fn check(&mut self, r: &ApprovalRequest<'_>, _: Duration) -> Approval {
        self.asked.push(r.device_id.to_string());
        if self.denied.contains(r.device_id) {
            Approval::Denied("approval revoked".into())
        } else if self.approved.contains(r.device_id) {
            Approval::Approved
        } else {
            Approval::Pending
        }
    }
}

fn csr(names: &[&str]) -> Vec<u8> {
    use der::Encode;
    use std::str::FromStr;
    use x509_cert::builder::{Builder, RequestBuilder};
    use x509_cert::ext::pkix::name::GeneralName;
    let key = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let device = names[0].split('.').next().unwrap();
    let mut b = RequestBuilder::new(
        x509_cert::name::Name::from_str(&format!("CN={device}")).unwrap(),
        &key,
    )
    .unwrap();
    let sans = names
        .iter()
        .map(|n| GeneralName::DnsName(der::asn1::Ia5String::new(n).unwrap()))
        .collect();
    b.add_extension(&x509_cert::ext::pkix::SubjectAltName(sans))
        .unwrap();
    b.build::<p384::ecdsa::DerSignature>()
        .unwrap()
        .to_der()
        .unwrap()
}

struct Run {
    events: Vec<Event>,
    sleeps: u32,
}

/// Drive client against server with simulated time; `on_sleep(n, server)` runs at each client wait.
fn run<P: ApprovalPolicy>(
    client: &mut Client,
    server: &mut Server<MemoryStore, P, TestCa>,
    now: &mut Duration,
    mut on_sleep: impl FnMut(u32, &mut Server<MemoryStore, P, TestCa>),
) -> Run {
    let mut rng = rand::rngs::OsRng;
    let mut served: HashMap<String, String> = HashMap::new();
    let mut events = Vec::new();
    let mut sleeps = 0;
    let mut requests = 0u32;
    for _ in 0..10_000 {
        if client.is_done() {
            break;
        }
        if let Some(req) = client.poll_request() {
            // Every other request takes the split path a multi-threaded server uses (signature
            // verified away from the core), so each flow covers both entry points.
            requests += 1;
            let resp = if requests % 2 == 0 {
                let checked = server.signature_job(&req).and_then(|j| j.run(&req));
                if req.method == Method::Post {
                    assert!(checked.is_some(), "a good request's signature checks");
                }
                server.handle_checked(&req, *now, &mut rng, checked.as_ref())
            } else {
                server.handle(&req, *now, &mut rng)
            };
            client.handle_response(resp, *now);
        }
        while let Some(ev) = client.poll_event() {
            if let Event::ServeChallenges(list) = &ev {
                for c in list {
                    assert_eq!(c.kind, ChallengeType::Http01);
                    served.insert(c.token.clone(), c.value.clone());
                }
                client.challenges_ready();
            }
            events.push(ev);
        }
        while let Some(v) = server.poll_validation() {
            // What a device's http-01 responder would return for this token.
            let body = served.get(&v.token).cloned().unwrap_or_default();
            let result = v.check_http01_body(format!("{body}\n").as_bytes());
            server
                .validation_result(&v.authz_id, &v.challenge_id, result, *now)
                .expect("the memory store does not fail");
        }
        if let Some(at) = client.poll_timeout() {
            assert!(at >= *now);
            *now = at;
            sleeps += 1;
            on_sleep(sleeps, server);
            client.handle_timeout(*now);
        }
    }
    assert!(client.is_done(), "client stuck: {client:?}");
    while let Some(ev) = client.poll_event() {
        events.push(ev);
    }
    Run { events, sleeps }
}

fn issue_op(names: &[&str], replaces: Option<String>) -> Operation {
    Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der: csr(names),
        replaces,
    }
}

fn certificate(r: &Run) -> CertificateChain {
    r.events
        .iter()
        .find_map(|e| {
            if let Event::Certificate(c) = e {
                Some(c.clone())
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("no certificate: {:?}", r.events))
}

fn failure(r: &Run) -> &Error {
    r.events
        .iter()
        .find_map(|e| {
            if let Event::Failed(e) = e {
                Some(e)
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("no failure: {:?}", r.events))
}

fn leaf_der(pem: &str) -> Vec<u8> {
    use der::Encode;
    x509_cert::Certificate::load_pem_chain(pem.as_bytes()).unwrap()[0]
        .to_der()
        .unwrap()
}

#[test]
fn approval_flow_first_issue_waits_renewal_passes_revoked_approval_denies() {
    let mut server = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        Approvals::default(),
        TestCa::new(),
    );
    let mut now = Duration::from_secs(1_700_000_000);
    let names = ["dev-12cd56.local", "dev-12cd56.example.com"];
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let secret = key.ec_secret_bytes().unwrap();
    let mut cfg = ClientConfig::new(&server.directory_url());
    cfg.contact = https_contacts(names);

    // 1. First issuance: held until a human approves after the third wait.
    let start = now;
    let mut client = Client::new(cfg.clone(), key, issue_op(&names, None));
    let r = run(&mut client, &mut server, &mut now, |n, s| {
        if n == 3 {
            s.policy_mut().approved.insert("dev-12cd56".into());
        }
    });
    let chain = certificate(&r);
    assert!(r.sleeps >= 3, "the client must have waited for approval");
    assert!(
        now - start >= Duration::from_secs(15),
        "Retry-After (5 s) honoured: waited {:?}",
        now - start
    );
    assert!(server.policy_mut().asked.iter().all(|d| d == "dev-12cd56"));
    assert_eq!(chain.alternates.len(), 1);
    assert!(chain.alternates[0].starts_with(BASE));
    assert!(matches!(
        r.events.first(),
        Some(Event::AccountReady { created: true, .. })
    ));
    let acct = server
        .store()
        .account_by_thumbprint(&client.account_key().jwk().thumbprint())
        .expect("the memory store does not fail")
        .unwrap();
    assert_eq!(
        acct.contact,
        vec![
            "https://dev-12cd56.local/",
            "https://dev-12cd56.example.com/"
        ]
    );

    // 2. Renewal (RFC 9773 `replaces`): approved automatically, no waiting.
    let replaces = cert_id(&leaf_der(&chain.pem)).unwrap();
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let mut client = Client::new(cfg.clone(), key, issue_op(&names, Some(replaces.clone())));
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    let renewed = certificate(&r);
    assert_eq!(r.sleeps, 0, "renewals pass without waiting");
    assert!(matches!(
        r.events.first(),
        Some(Event::AccountReady { created: false, .. })
    ));
    let order = server
        .store()
        .order(renewed.order_url.rsplit('/').next().unwrap())
        .expect("the memory store does not fail")
        .unwrap();
    assert_eq!(order.replaces.as_deref(), Some(replaces.as_str()));

    // 3. Approval revoked: the next order fails with `unauthorized`.
    server.policy_mut().denied.insert("dev-12cd56".into());
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let mut client = Client::new(cfg.clone(), key, issue_op(&names, None));
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    match failure(&r) {
        Error::Problem(p) => {
            assert_eq!(p.kind, ProblemType::Unauthorized);
            assert!(p.detail.as_deref().unwrap().contains("dev-12cd56"));
        }
        e => panic!("{e:?}"),
    }

    // 4. Revocation by the account, then again → alreadyRevoked.
    let der = leaf_der(&renewed.pem);
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let mut client = Client::new(
        cfg.clone(),
        key,
        Operation::Revoke {
            cert_der: der.clone(),
            reason: Some(4),
        },
    );
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(r.events.iter().any(|e| matches!(e, Event::Revoked)));
    assert_eq!(server.issuer_mut().revoked, vec![Some(4)]);
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let mut client = Client::new(
        cfg.clone(),
        key,
        Operation::Revoke {
            cert_der: der,
            reason: None,
        },
    );
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::AlreadyRevoked));

    // 5. Key change to ES512; the old key no longer finds the account, the new one does.
    let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let new_key = AccountKey::generate(Algorithm::Es512, &mut rand::rngs::OsRng).unwrap();
    let new_secret = new_key.ec_secret_bytes().unwrap();
    let mut client = Client::new(cfg.clone(), key, Operation::KeyChange { new_key });
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(
        r.events.iter().any(|e| matches!(e, Event::KeyChanged)),
        "{:?}",
        r.events
    );
    let mut lookup = cfg;
    lookup.only_return_existing = true;
    let old = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let mut client = Client::new(lookup.clone(), old, Operation::AccountOnly);
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::AccountDoesNotExist));
    let new = AccountKey::from_ec_bytes(Algorithm::Es512, &new_secret).unwrap();
    let mut client = Client::new(lookup, new, Operation::AccountOnly);
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(
        matches!(r.events.first(), Some(Event::AccountReady { created: false, url }) if url == &format!("{BASE}/acct/{}", acct.id))
    );
}

/// A GET of the core, as a caller hands one in.
fn get(s: &mut Server<MemoryStore, AutoApprove, TestCa>, url: &str, now: Duration) -> Response {
    let req = Request {
        method: Method::Get,
        url: url.to_string(),
        headers: vec![],
        body: vec![],
    };
    s.handle(&req, now, &mut rand::rngs::OsRng)
}

#[test]
fn renewal_info_spreads_windows_pulls_them_forward_on_revocation_and_checks_replaces() {
    use lantrust_acme::ari::{RenewalAdvice, renewal_info_request};
    let mut server = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        AutoApprove,
        TestCa::new(),
    );
    // TestCa dates its certificates from the real clock (one day of validity).
    let mut now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let cfg = ClientConfig::new(&format!("{BASE}/directory"));

    // RFC 9773 §3: the directory advertises renewalInfo.
    let r = get(&mut server, &format!("{BASE}/directory"), now);
    let dir: Directory = from_json(&r.body).unwrap();
    assert_eq!(
        dir.renewal_info.as_deref(),
        Some(format!("{BASE}/renewal-info").as_str())
    );
    assert_eq!(
        server.store().certificate_by_serial(&[1]).unwrap(),
        None,
        "the memory store finds certificates by serial"
    );

    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let secret = key.ec_secret_bytes().unwrap();
    let account = |_: u8| AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
    let issue = |server: &mut Server<MemoryStore, AutoApprove, TestCa>,
                 now: &mut Duration,
                 key: AccountKey,
                 names: &[&str],
                 replaces: Option<String>| {
        let mut client = Client::new(cfg.clone(), key, issue_op(names, replaces));
        run(&mut client, server, now, |_, _| {})
    };
    let one = leaf_der(
        &certificate(&issue(
            &mut server,
            &mut now,
            account(0),
            &["ari-1.local"],
            None,
        ))
        .pem,
    );
    let two = leaf_der(
        &certificate(&issue(
            &mut server,
            &mut now,
            account(0),
            &["ari-2.local"],
            None,
        ))
        .pem,
    );

    // §4.1–§4.3: an unauthenticated GET answers the window with Retry-After.
    let ask = |server: &mut Server<MemoryStore, AutoApprove, TestCa>, der: &[u8], now: Duration| {
        let req = renewal_info_request(&dir, der).unwrap().unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.url,
            format!("{BASE}/renewal-info/{}", cert_id(der).unwrap())
        );
        let resp = server.handle(&req, now, &mut rand::rngs::OsRng);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        RenewalAdvice::from_response(&resp, now).unwrap()
    };
    let validity = |der: &[u8]| {
        let c = <x509_cert::Certificate as der::Decode>::from_der(der).unwrap();
        let v = c.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration(),
            v.not_after.to_unix_duration(),
        )
    };
    let a1 = ask(&mut server, &one, now);
    let a2 = ask(&mut server, &two, now);
    for (a, der) in [(&a1, &one), (&a2, &two)] {
        let (nb, na) = validity(der);
        let life = na - nb;
        assert!(
            a.start >= nb + life * 2 / 3 - Duration::from_secs(1),
            "{a:?}"
        );
        assert!(a.end <= nb + life * 8 / 9 + Duration::from_secs(1), "{a:?}");
        assert!(a.start > now, "nothing calls for haste yet: {a:?}");
        // A day-long certificate is asked about every 2 h (a twelfth of its life), not 6 h.
        assert_eq!(a.retry_after, Some(Duration::from_secs(7200)));
    }
    assert_ne!(a1.start, a2.start, "two certificates, two windows");
    assert_eq!(
        ask(&mut server, &one, now),
        a1,
        "the window of a certificate is stable"
    );

    // Malformed certIDs are 400 `malformed`; well-formed unknown ones 404.
    for bad in [
        "nodot",
        "a.b.c",
        "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=",
        "%%.AA",
    ] {
        let r = get(&mut server, &format!("{BASE}/renewal-info/{bad}"), now);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(problem_of(&r).kind, ProblemType::Malformed);
    }
    let r = get(
        &mut server,
        &format!("{BASE}/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
        now,
    );
    assert_eq!(r.status, 404);
    let id1 = cert_id(&one).unwrap();
    let (aki, _) = id1.split_once('.').unwrap();
    let (_, serial2) = cert_id(&two)
        .unwrap()
        .split_once('.')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    // Another root's keyIdentifier with a serial of ours names no certificate of ours.
    let r = get(
        &mut server,
        &format!("{BASE}/renewal-info/AAAA.{serial2}"),
        now,
    );
    assert_eq!(r.status, 404);
    let r = get(&mut server, &format!("{BASE}/renewal-info/{aki}.AQ"), now);
    assert_eq!(r.status, 404, "our keyIdentifier, a serial we never issued");

    // §5: `replaces` from another account, or sharing no identifier, is refused.
    let other = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let r = issue(
        &mut server,
        &mut now,
        other,
        &["ari-1.local"],
        Some(id1.clone()),
    );
    assert!(
        matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::Malformed
            && p.detail.as_deref().unwrap().contains("another account")),
        "{:?}",
        r.events
    );
    let r = issue(
        &mut server,
        &mut now,
        account(0),
        &["ari-2.local"],
        Some(id1.clone()),
    );
    assert!(
        matches!(failure(&r), Error::Problem(p) if p.detail.as_deref().unwrap().contains("no identifier")),
        "{:?}",
        r.events
    );
    let r = issue(
        &mut server,
        &mut now,
        account(0),
        &["ari-1.local"],
        Some("AAAA.AAAA".into()),
    );
    assert!(matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::Malformed));
    // The renewal that replaces it passes; a second one is `alreadyReplaced` (409).
    let renewed = issue(
        &mut server,
        &mut now,
        account(0),
        &["ari-1.local"],
        Some(id1.clone()),
    );
    certificate(&renewed);
    let r = issue(
        &mut server,
        &mut now,
        account(0),
        &["ari-1.local"],
        Some(id1.clone()),
    );
    assert!(
        matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::AlreadyReplaced && p.status == Some(409)),
        "{:?}",
        r.events
    );

    // Revocation pulls the window forward: it ends now, so a client renews at once (§4.2).
    let mut client = Client::new(
        cfg.clone(),
        account(0),
        Operation::Revoke {
            cert_der: two.clone(),
            reason: Some(1),
        },
    );
    let r = run(&mut client, &mut server, &mut now, |_, _| {});
    assert!(r.events.iter().any(|e| matches!(e, Event::Revoked)));
    let later = now + Duration::from_secs(30);
    let pulled = ask(&mut server, &two, later);
    assert_eq!(pulled.end, Duration::from_secs(later.as_secs()));
    assert!(
        pulled.start < pulled.end && pulled.renew_at(u64::MAX) <= later,
        "{pulled:?}"
    );
    // The other certificate keeps its window.
    assert_eq!(ask(&mut server, &one, later).start, a1.start);
}

#[test]
fn failed_validation_invalidates_the_order() {
    let mut server = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        AutoApprove,
        TestCa::new(),
    );
    let mut now = Duration::from_secs(1_700_000_000);
    let key = AccountKey::generate(Algorithm::Es256, &mut rand::rngs::OsRng).unwrap();
    let mut client = Client::new(
        ClientConfig::new(&server.directory_url()),
        key,
        issue_op(&["dev-1.local"], None),
    );
    let mut rng = rand::rngs::OsRng;
    // Drive by hand and answer the validation with a wrong body.
    for _ in 0..200 {
        if client.is_done() {
            break;
        }
        if let Some(req) = client.poll_request() {
            let resp = server.handle(&req, now, &mut rng);
            client.handle_response(resp, now);
        }
        while let Some(ev) = client.poll_event() {
            if let Event::ServeChallenges(_) = ev {
                client.challenges_ready();
            }
            if let Event::Failed(Error::Problem(p)) = ev {
                assert_eq!(p.kind, ProblemType::IncorrectResponse);
                return;
            }
        }
        while let Some(v) = server.poll_validation() {
            let r = v.check_http01_body(b"not the key authorization");
            server
                .validation_result(&v.authz_id, &v.challenge_id, r, now)
                .expect("the memory store does not fail");
        }
        if let Some(at) = client.poll_timeout() {
            now = at;
            client.handle_timeout(now);
        }
    }
    panic!("the client did not fail");
}

// ------------------------------------------------------------------------------------------
// Request verification refusals, with hand-made requests.

type TestServer = Server<MemoryStore, AutoApprove, TestCa>;

fn server(cfg: ServerConfig) -> TestServer {
    Server::new(cfg, MemoryStore::default(), AutoApprove, TestCa::new())
}

fn nonce(s: &mut TestServer) -> String {
    let r = s.handle(
        &Request {
            method: Method::Head,
            url: format!("{BASE}/new-nonce"),
            headers: vec![],
            body: vec![],
        },
        Duration::ZERO,
        &mut rand::rngs::OsRng,
    );
    assert_eq!(r.status, 200);
    r.header("replay-nonce").unwrap().to_string()
}

fn post(s: &mut TestServer, url: &str, jws: &Jws) -> Response {
    let req = Request {
        method: Method::Post,
        url: url.to_string(),
        headers: vec![("Content-Type".into(), "application/jose+json".into())],
        body: serde_json::to_vec(jws).unwrap(),
    };
    s.handle(
        &req,
        Duration::from_secs(1_700_000_000),
        &mut rand::rngs::OsRng,
    )
}

fn problem_of(r: &Response) -> Problem {
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(
        r.header("replay-nonce").is_some(),
        "refusals carry a fresh nonce"
    );
    from_json(&r.body).unwrap()
}

fn new_account(s: &mut TestServer, key: &AccountKey) -> String {
    let n = nonce(s);
    let url = format!("{BASE}/new-account");
    let jws = jose::sign(
        key,
        None,
        Some(&n),
        &url,
        Some(br#"{"termsOfServiceAgreed":true}"#),
    )
    .unwrap();
    let r = post(s, &url, &jws);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.header("location").unwrap().to_string()
}

#[test]
fn refusals() {
    let mut s = server(ServerConfig::new(BASE));
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let kid = new_account(&mut s, &key);
    let order_url = format!("{BASE}/new-order");
    let order = br#"{"identifiers":[{"type":"dns","value":"dev-9.local"}]}"#;

    // Replayed nonce.
    let n = nonce(&mut s);
    let jws = jose::sign(&key, Some(&kid), Some(&n), &order_url, Some(order)).unwrap();
    assert_eq!(post(&mut s, &order_url, &jws).status, 201);
    let r = post(&mut s, &order_url, &jws);
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (400, ProblemType::BadNonce)
    );

    // url mismatch.
    let n = nonce(&mut s);
    let jws = jose::sign(
        &key,
        Some(&kid),
        Some(&n),
        &format!("{BASE}/new-account"),
        Some(order),
    )
    .unwrap();
    let r = post(&mut s, &order_url, &jws);
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (401, ProblemType::Unauthorized)
    );

    // jwk where kid is required; kid where jwk is required.
    let n = nonce(&mut s);
    let jws = jose::sign(&key, None, Some(&n), &order_url, Some(order)).unwrap();
    assert_eq!(
        problem_of(&post(&mut s, &order_url, &jws)).kind,
        ProblemType::Malformed
    );
    let n = nonce(&mut s);
    let na = format!("{BASE}/new-account");
    let jws = jose::sign(&key, Some(&kid), Some(&n), &na, Some(b"{}")).unwrap();
    assert_eq!(
        problem_of(&post(&mut s, &na, &jws)).kind,
        ProblemType::Malformed
    );

    // Unknown kid.
    let n = nonce(&mut s);
    let jws = jose::sign(
        &key,
        Some(&format!("{BASE}/acct/nope")),
        Some(&n),
        &order_url,
        Some(order),
    )
    .unwrap();
    assert_eq!(
        problem_of(&post(&mut s, &order_url, &jws)).kind,
        ProblemType::AccountDoesNotExist
    );

    // Signed by another key under this kid.
    let other = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let n = nonce(&mut s);
    let jws = jose::sign(&other, Some(&kid), Some(&n), &order_url, Some(order)).unwrap();
    let p = problem_of(&post(&mut s, &order_url, &jws));
    assert_eq!(p.kind, ProblemType::Malformed);
    assert!(p.detail.unwrap().contains("does not verify"));

    // alg none.
    let n = nonce(&mut s);
    let hdr = b64::encode(
        format!(r#"{{"alg":"none","kid":"{kid}","nonce":"{n}","url":"{order_url}"}}"#).as_bytes(),
    );
    let jws = Jws {
        protected: hdr,
        payload: b64::encode(order),
        signature: String::new(),
    };
    let p = problem_of(&post(&mut s, &order_url, &jws));
    assert_eq!(p.kind, ProblemType::BadSignatureAlgorithm);
    assert_eq!(p.extra["algorithms"][0], "ES256");

    // Wrong content type.
    let n = nonce(&mut s);
    let jws = jose::sign(&key, Some(&kid), Some(&n), &order_url, Some(order)).unwrap();
    let req = Request {
        method: Method::Post,
        url: order_url.clone(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: serde_json::to_vec(&jws).unwrap(),
    };
    assert_eq!(
        s.handle(&req, Duration::ZERO, &mut rand::rngs::OsRng)
            .status,
        415
    );

    // High-S signature: refused by default, accepted with allow_high_s.
    for allow in [false, true] {
        let mut cfg = ServerConfig::new(BASE);
        cfg.allow_high_s = allow;
        let mut s = server(cfg);
        let key = AccountKey::generate(Algorithm::Es256, &mut rand::rngs::OsRng).unwrap();
        let n = nonce(&mut s);
        let url = format!("{BASE}/new-account");
        let mut jws = jose::sign(&key, None, Some(&n), &url, Some(b"{}")).unwrap();
        let sig =
            p256::ecdsa::Signature::from_slice(&b64::decode(&jws.signature, "s").unwrap()).unwrap();
        let (r, sv) = sig.split_scalars();
        use p256::elliptic_curve::ops::Neg;
        let high =
            p256::ecdsa::Signature::from_scalars(r.to_bytes(), (*sv).neg().to_bytes()).unwrap();
        jws.signature = b64::encode(&high.to_bytes());
        let resp = post(&mut s, &url, &jws);
        if allow {
            assert_eq!(resp.status, 201);
        } else {
            assert!(problem_of(&resp).detail.unwrap().contains("not canonical"));
        }
    }

    // Contacts and identifiers.
    let other = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let n = nonce(&mut s);
    let jws = jose::sign(
        &other,
        None,
        Some(&n),
        &na,
        Some(br#"{"contact":["ftp://x"]}"#),
    )
    .unwrap();
    assert_eq!(
        problem_of(&post(&mut s, &na, &jws)).kind,
        ProblemType::UnsupportedContact
    );
    let n = nonce(&mut s);
    let bad = br#"{"identifiers":[{"type":"dns","value":"*.dev.local"},{"type":"dns","value":"bad_name.local"},{"type":"ip","value":"010.1.1.1"}]}"#;
    let jws = jose::sign(&key, Some(&kid), Some(&n), &order_url, Some(bad)).unwrap();
    let p = problem_of(&post(&mut s, &order_url, &jws));
    assert_eq!(p.kind, ProblemType::Compound);
    assert_eq!(p.subproblems.len(), 3);
    assert_eq!(p.subproblems[0].kind, ProblemType::RejectedIdentifier);

    // Finalize before ready; CSR with the wrong names once ready.
    let n = nonce(&mut s);
    let jws = jose::sign(&key, Some(&kid), Some(&n), &order_url, Some(order)).unwrap();
    let r = post(&mut s, &order_url, &jws);
    let o: Order = from_json(&r.body).unwrap();
    let n = nonce(&mut s);
    let fin = to_json(&Finalize::from_der(&csr(&["other.local"])));
    let jws = jose::sign(&key, Some(&kid), Some(&n), &o.finalize, Some(&fin)).unwrap();
    let r = post(&mut s, &o.finalize, &jws);
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (403, ProblemType::OrderNotReady)
    );

    // Another account cannot read this order.
    let other_kid = new_account(&mut s, &other);
    let order_loc = o.finalize.trim_end_matches("/finalize").to_string();
    let n = nonce(&mut s);
    let jws = jose::sign(&other, Some(&other_kid), Some(&n), &order_loc, None).unwrap();
    let r = post(&mut s, &order_loc, &jws);
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (403, ProblemType::Unauthorized)
    );
}

#[test]
fn a_signature_checked_outside_the_core_covers_only_its_own_body_and_key() {
    let mut s = server(ServerConfig::new(BASE));
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let kid = new_account(&mut s, &key);
    let url = format!("{BASE}/new-order");
    let request = |jws: &Jws| Request {
        method: Method::Post,
        url: url.clone(),
        headers: vec![("Content-Type".into(), "application/jose+json".into())],
        body: serde_json::to_vec(jws).unwrap(),
    };
    let now = Duration::from_secs(1_700_000_000);
    let order = br#"{"identifiers":[{"type":"dns","value":"dev-9.local"}]}"#;

    // Not signed requests: nothing to check.
    let get = Request {
        method: Method::Get,
        url: format!("{BASE}/directory"),
        headers: vec![],
        body: vec![],
    };
    assert!(s.signature_job(&get).is_none());
    let mut garbage =
        request(&jose::sign(&key, Some(&kid), Some(&nonce(&mut s)), &url, None).unwrap());
    garbage.body = b"{not json".to_vec();
    assert!(s.signature_job(&garbage).is_none());

    // A good request: checked outside, accepted inside.
    let good =
        request(&jose::sign(&key, Some(&kid), Some(&nonce(&mut s)), &url, Some(order)).unwrap());
    let check = s.signature_job(&good).unwrap().run(&good).unwrap();
    let r = s.handle_checked(&good, now, &mut rand::rngs::OsRng, Some(&check));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // The same check presented with a forged request (fresh nonce, signature of another
    // payload): the core notices the check does not cover this body and verifies it itself.
    let n = nonce(&mut s);
    let mut forged = jose::sign(&key, Some(&kid), Some(&n), &url, Some(order)).unwrap();
    let other = jose::sign(&key, Some(&kid), Some(&n), &url, Some(b"{}")).unwrap();
    forged.signature = other.signature;
    let forged = request(&forged);
    assert!(s.signature_job(&forged).unwrap().run(&forged).is_none());
    let r = s.handle_checked(&forged, now, &mut rand::rngs::OsRng, Some(&check));
    assert_eq!(r.status, 400);
    assert_eq!(problem_of(&r).kind, ProblemType::Malformed);

    // A check made with another account's key does not cover this account's request either.
    let key2 = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let kid2 = new_account(&mut s, &key2);
    let n = nonce(&mut s);
    let by_2 = request(&jose::sign(&key2, Some(&kid2), Some(&n), &url, Some(order)).unwrap());
    let check2 = s.signature_job(&by_2).unwrap().run(&by_2).unwrap();
    let mut claims_1 = jose::sign(&key2, Some(&kid), Some(&n), &url, Some(order)).unwrap();
    claims_1.signature = serde_json::from_slice::<Jws>(&by_2.body).unwrap().signature;
    let claims_1 = request(&claims_1);
    let r = s.handle_checked(&claims_1, now, &mut rand::rngs::OsRng, Some(&check2));
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
}

/// Only names under `home.arpa` are this network's.
struct HomeOnly;

impl ApprovalPolicy for HomeOnly {
    fn check(&mut self, _: &ApprovalRequest<'_>, _: Duration) -> Approval {
        Approval::Approved
    }
    fn check_order(&mut self, identifiers: &[Identifier]) -> std::result::Result<(), Problem> {
        match identifiers
            .iter()
            .find(|i| !i.value.ends_with(".home.arpa"))
        {
            Some(i) => Err(Problem::new(
                ProblemType::RejectedIdentifier,
                400,
                format!("{} is not a name on this network", i.value),
            )),
            None => Ok(()),
        }
    }
}

#[test]
fn the_policy_refuses_foreign_names_before_an_order_exists() {
    let mut s = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        HomeOnly,
        TestCa::new(),
    );
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut now = Duration::from_secs(1_700_000_000);
    let op = issue_op(&["dev-1.home.arpa", "www.example.com"], None);
    let mut client = Client::new(ClientConfig::new(&s.directory_url()), key, op);
    let r = run(&mut client, &mut s, &mut now, |_, _| {});
    assert!(
        matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::RejectedIdentifier
            && p.detail.as_deref() == Some("www.example.com is not a name on this network")),
        "{:?}",
        r.events
    );
    assert!(s.poll_validation().is_none(), "nothing is validated");
    let account = s
        .store()
        .account_by_thumbprint(&client.account_key().jwk().thumbprint())
        .expect("the memory store does not fail");
    assert_eq!(
        account.map(|a| a.orders.len()),
        Some(0),
        "no order was stored"
    );

    // The network's own names pass.
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let op = issue_op(&["dev-1.home.arpa"], None);
    let mut client = Client::new(ClientConfig::new(&s.directory_url()), key, op);
    let r = run(&mut client, &mut s, &mut now, |_, _| {});
    certificate(&r);
}

#[test]
fn csr_names_must_match_the_order() {
    let mut s = server(ServerConfig::new(BASE));
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut now = Duration::from_secs(1_700_000_000);
    let names = ["dev-7.local"];
    let op = Operation::Issue {
        identifiers: vec![Identifier::dns(names[0])],
        csr_der: csr(&["dev-8.local"]),
        replaces: None,
    };
    let mut client = Client::new(ClientConfig::new(&s.directory_url()), key, op);
    let r = run(&mut client, &mut s, &mut now, |_, _| {});
    assert!(matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::BadCsr));
}

#[test]
fn nonce_store_is_bounded_and_single_use() {
    let mut rng = rand::rngs::OsRng;
    let mut store = NonceStore::new(2);
    let a = store.issue(&mut rng);
    let b = store.issue(&mut rng);
    let c = store.issue(&mut rng);
    assert_eq!(store.len(), 2);
    assert!(!store.consume(&a), "oldest evicted");
    assert!(store.consume(&b));
    assert!(!store.consume(&b), "single use");
    assert!(store.consume(&c));
    assert!(store.is_empty());
    assert_eq!(b64::decode(&b, "n").unwrap().len(), 16);
}

#[test]
fn bad_nonce_is_retried_by_the_client() {
    // A tiny nonce store: nonces issued to the client are evicted by our own HEAD requests,
    // so its next request gets badNonce and must retry with the fresh one.
    let mut cfg = ServerConfig::new(BASE);
    cfg.nonce_capacity = 1;
    let mut s = server(cfg);
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut client = Client::new(
        ClientConfig::new(&s.directory_url()),
        key,
        Operation::AccountOnly,
    );
    let mut rng = rand::rngs::OsRng;
    let mut bad = 0;
    while !client.is_done() {
        let Some(req) = client.poll_request() else {
            break;
        };
        if req.method == Method::Post && bad == 0 {
            let _ = nonce(&mut s); // evicts the client's nonce
        }
        let resp = s.handle(&req, Duration::ZERO, &mut rng);
        if resp.status == 400 {
            bad += 1;
            assert_eq!(problem_of(&resp).kind, ProblemType::BadNonce);
        }
        client.handle_response(resp, Duration::ZERO);
    }
    assert_eq!(bad, 1);
    assert!(matches!(
        client.poll_event(),
        Some(Event::AccountReady { created: true, .. })
    ));
}

/// A [`MemoryStore`] whose reads or writes can be made to fail (a full disk, a broken database).
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_reads: bool,
    fail_writes: bool,
}

impl FlakyStore {
    fn read(&self) -> std::result::Result<(), StoreError> {
        if self.fail_reads {
            Err(StoreError::new("disk I/O error (test)"))
        } else {
            Ok(())
        }
    }
    fn write(&self) -> std::result::Result<(), StoreError> {
        if self.fail_writes {
            Err(StoreError::new("database or disk is full (test)"))
        } else {
            Ok(())
        }
    }
}

impl Store for FlakyStore {
    fn account(&self, id: &str) -> std::result::Result<Option<AccountRecord>, StoreError> {
        self.read()?;
        self.inner.account(id)
    }
    fn account_by_thumbprint(
        &self,
        t: &str,
    ) -> std::result::Result<Option<AccountRecord>, StoreError> {
        self.read()?;
        self.inner.account_by_thumbprint(t)
    }
    fn put_account(&mut self, a: AccountRecord) -> std::result::Result<(), StoreError> {
        self.write()?;
        self.inner.put_account(a)
    }
    fn order(&self, id: &str) -> std::result::Result<Option<OrderRecord>, StoreError> {
        self.read()?;
        self.inner.order(id)
    }
    fn certificate_by_serial(
        &self,
        serial: &[u8],
    ) -> std::result::Result<Option<CertificateRecord>, StoreError> {
        self.read()?;
        self.inner.certificate_by_serial(serial)
    }
    fn put_order(&mut self, o: OrderRecord) -> std::result::Result<(), StoreError> {
        self.write()?;
        self.inner.put_order(o)
    }
    fn authz(&self, id: &str) -> std::result::Result<Option<AuthzRecord>, StoreError> {
        self.read()?;
        self.inner.authz(id)
    }
    fn put_authz(&mut self, a: AuthzRecord) -> std::result::Result<(), StoreError> {
        self.write()?;
        self.inner.put_authz(a)
    }
    fn certificate(&self, id: &str) -> std::result::Result<Option<CertificateRecord>, StoreError> {
        self.read()?;
        self.inner.certificate(id)
    }
    fn certificate_by_der(
        &self,
        der: &[u8],
    ) -> std::result::Result<Option<CertificateRecord>, StoreError> {
        self.read()?;
        self.inner.certificate_by_der(der)
    }
    fn put_certificate(
        &mut self,
        c: CertificateRecord,
        now: Duration,
    ) -> std::result::Result<(), StoreError> {
        self.write()?;
        self.inner.put_certificate(c, now)
    }
}

#[test]
fn a_storage_failure_is_a_server_error_never_not_found() {
    let mut s = Server::new(
        ServerConfig::new(BASE),
        FlakyStore::default(),
        AutoApprove,
        TestCa::new(),
    );
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let now = Duration::from_secs(1_700_000_000);
    let fresh_nonce = |s: &mut Server<FlakyStore, AutoApprove, TestCa>| {
        let r = s.handle(
            &Request {
                method: Method::Head,
                url: format!("{BASE}/new-nonce"),
                headers: vec![],
                body: vec![],
            },
            now,
            &mut rand::rngs::OsRng,
        );
        r.header("replay-nonce").unwrap().to_string()
    };
    let send = |s: &mut Server<FlakyStore, AutoApprove, TestCa>, url: &str, jws: &Jws| {
        let req = Request {
            method: Method::Post,
            url: url.to_string(),
            headers: vec![("Content-Type".into(), "application/jose+json".into())],
            body: serde_json::to_vec(jws).unwrap(),
        };
        s.handle(&req, now, &mut rand::rngs::OsRng)
    };
    let new_acct = format!("{BASE}/new-account");
    let payload = br#"{"termsOfServiceAgreed":true}"#;

    // A failed write: newAccount is not reported as created.
    s.store_mut().fail_writes = true;
    let n = fresh_nonce(&mut s);
    let r = send(
        &mut s,
        &new_acct,
        &jose::sign(&key, None, Some(&n), &new_acct, Some(payload)).unwrap(),
    );
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (500, ProblemType::ServerInternal)
    );
    s.store_mut().fail_writes = false;
    let n = fresh_nonce(&mut s);
    let r = send(
        &mut s,
        &new_acct,
        &jose::sign(&key, None, Some(&n), &new_acct, Some(payload)).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let kid = r.header("location").unwrap().to_string();

    // A failed read of the account: a server error, not `accountDoesNotExist` (which would make
    // a client forget its account and register a new one).
    s.store_mut().fail_reads = true;
    let url = format!("{BASE}/new-order");
    let n = fresh_nonce(&mut s);
    let order = br#"{"identifiers":[{"type":"dns","value":"dev-7.local"}]}"#;
    let jws = jose::sign(&key, Some(&kid), Some(&n), &url, Some(order)).unwrap();
    let r = send(&mut s, &url, &jws);
    let p = problem_of(&r);
    assert_eq!((r.status, p.kind), (500, ProblemType::ServerInternal));
    assert!(
        !p.detail.unwrap_or_default().contains("disk"),
        "the store's detail stays in the operator's log"
    );
    // newAccount with onlyReturnExisting, the lookup failing: not "does not exist" either.
    let n = fresh_nonce(&mut s);
    let jws = jose::sign(
        &key,
        None,
        Some(&n),
        &new_acct,
        Some(br#"{"onlyReturnExisting":true}"#),
    )
    .unwrap();
    let r = send(&mut s, &new_acct, &jws);
    assert_eq!(
        (r.status, problem_of(&r).kind),
        (500, ProblemType::ServerInternal)
    );

    // A validation result that cannot be stored is reported to the caller.
    s.store_mut().fail_reads = false;
    let n = fresh_nonce(&mut s);
    let jws = jose::sign(&key, Some(&kid), Some(&n), &url, Some(order)).unwrap();
    let r = send(&mut s, &url, &jws);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let o: Order = from_json(&r.body).unwrap();
    let authz_url = o.authorizations[0].clone();
    let n = fresh_nonce(&mut s);
    let r = send(
        &mut s,
        &authz_url,
        &jose::sign(&key, Some(&kid), Some(&n), &authz_url, None).unwrap(),
    );
    let a: Authorization = from_json(&r.body).unwrap();
    let chall = a.challenges[0].url.clone();
    let n = fresh_nonce(&mut s);
    let r = send(
        &mut s,
        &chall,
        &jose::sign(&key, Some(&kid), Some(&n), &chall, Some(b"{}")).unwrap(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = s.poll_validation().unwrap();
    s.store_mut().fail_writes = true;
    let err = s
        .validation_result(&v.authz_id, &v.challenge_id, Ok(()), now)
        .unwrap_err();
    assert!(err.to_string().contains("disk is full"), "{err}");
}

#[test]
fn requests_are_told_apart_by_kind_and_the_job_carries_what_admission_needs() {
    let cfg = ServerConfig::new(BASE);
    let kind = |m: Method, path: &str| cfg.request_kind(m, &format!("{BASE}/{path}"));
    assert_eq!(kind(Method::Get, "directory"), RequestKind::Directory);
    assert_eq!(kind(Method::Head, "new-nonce"), RequestKind::NewNonce);
    assert_eq!(kind(Method::Post, "new-account"), RequestKind::NewAccount);
    assert_eq!(kind(Method::Post, "new-order"), RequestKind::NewOrder);
    assert_eq!(
        kind(Method::Post, "order/x/finalize"),
        RequestKind::Finalize
    );
    assert_eq!(kind(Method::Post, "chall/a/0"), RequestKind::Challenge);
    assert_eq!(kind(Method::Post, "cert/c/1"), RequestKind::Certificate);
    // The suffix is not enough: a path that merely ends like newOrder is not one.
    assert_eq!(kind(Method::Post, "acct/x/new-order"), RequestKind::Unknown);
    assert_eq!(kind(Method::Get, "new-order"), RequestKind::Unknown);
    assert_eq!(
        cfg.request_kind(Method::Post, "https://elsewhere/acme/new-order"),
        RequestKind::Unknown
    );

    let mut s = server(ServerConfig::new(BASE));
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let kid = new_account(&mut s, &key);
    let req = |url: &str, payload: &[u8], s: &mut TestServer| Request {
        method: Method::Post,
        url: url.to_string(),
        headers: vec![("Content-Type".into(), "application/jose+json".into())],
        body: serde_json::to_vec(
            &jose::sign(&key, Some(&kid), Some(&nonce(s)), url, Some(payload)).unwrap(),
        )
        .unwrap(),
    };
    let url = format!("{BASE}/new-order");
    let r = req(
        &url,
        br#"{"identifiers":[{"type":"dns","value":"Dev-42.local"},{"type":"dns","value":"x.local"}]}"#,
        &mut s,
    );
    let job = s.signature_job(&r).unwrap();
    assert_eq!(job.kind(), RequestKind::NewOrder);
    assert_eq!(job.device_id(), Some("dev-42"));
    assert_eq!(job.csr_der(), None);

    let csr = [0x30u8, 0x03, 0x02, 0x01, 0x01];
    let url = format!("{BASE}/order/abc/finalize");
    let payload = format!(r#"{{"csr":"{}"}}"#, b64::encode(&csr));
    let r = req(&url, payload.as_bytes(), &mut s);
    let job = s.signature_job(&r).unwrap();
    assert_eq!(job.kind(), RequestKind::Finalize);
    assert_eq!(job.csr_der(), Some(&csr[..]));
    assert_eq!(job.device_id(), None);
}

/// Retry-After says what is pending: 1 s while a validation runs, the configured human wait
/// (5 s) while the device awaits approval (§3.4.4); and the challenge resource a caller renders
/// after validating inline shows the outcome.
#[test]
fn retry_after_follows_what_is_pending_and_the_challenge_resource_shows_the_outcome() {
    let mut server = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        Approvals::default(),
        TestCa::new(),
    );
    let mut now = Duration::from_secs(1_700_000_000);
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut client = Client::new(
        ClientConfig::new(&server.directory_url()),
        key,
        issue_op(&["dev-7.local"], None),
    );
    let mut rng = rand::rngs::OsRng;
    let mut served: HashMap<String, String> = HashMap::new();
    let mut in_flight = Vec::new();
    let mut waits = Vec::new();
    let mut certificate = None;
    let mut order_url = None;
    let mut held = Vec::new();
    for _ in 0..10_000 {
        if client.is_done() {
            break;
        }
        if let Some(req) = client.poll_request() {
            let resp = server.handle(&req, now, &mut rng);
            client.handle_response(resp, now);
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::ServeChallenges(list) => {
                    for c in list {
                        served.insert(c.token.clone(), c.value.clone());
                    }
                    client.challenges_ready();
                }
                Event::Certificate(c) => certificate = Some(c),
                Event::OrderCreated { url } => order_url = Some(url),
                Event::Failed(e) => panic!("{e:?}"),
                _ => {}
            }
        }
        while let Some(v) = server.poll_validation() {
            in_flight.push(v);
        }
        if let Some(at) = client.poll_timeout() {
            waits.push(at - now);
            if waits.len() == 1 {
                // The validation is still running: the challenge is processing, 1 s.
                let v = in_flight.first().unwrap().clone();
                let r = server
                    .challenge_resource(&v.authz_id, &v.challenge_id, now)
                    .unwrap()
                    .unwrap();
                let c: Challenge = from_json(&r.body).unwrap();
                assert_eq!(c.status, ChallengeStatus::Processing);
                assert_eq!(r.header("retry-after"), Some("1"));
                assert!(r.header("link").unwrap().contains("rel=\"up\""));
                assert!(r.header("replay-nonce").is_none());
                for v in in_flight.drain(..) {
                    let body = served.get(&v.token).cloned().unwrap_or_default();
                    let result = v.check_http01_body(body.as_bytes());
                    server
                        .validation_result(&v.authz_id, &v.challenge_id, result, now)
                        .unwrap();
                }
                // Validated, but the authorization now waits for a human: the challenge is
                // still shown processing (a client seeing `valid` would finalize at once and
                // get orderNotReady), with the human wait, and no `validated` time yet.
                let r = server
                    .challenge_resource(&v.authz_id, &v.challenge_id, now)
                    .unwrap()
                    .unwrap();
                let c: Challenge = from_json(&r.body).unwrap();
                assert_eq!(c.status, ChallengeStatus::Processing);
                assert_eq!(c.validated, None);
                assert_eq!(r.header("retry-after"), Some("5"));
                assert!(
                    server
                        .challenge_resource(&v.authz_id, "no-such", now)
                        .unwrap()
                        .is_none()
                );
                // What a caller that holds polls asks (issue 18): the authorization, its
                // challenge and the order wait for a human; other URLs do not.
                held = vec![
                    format!("{BASE}/authz/{}", v.authz_id),
                    format!("{BASE}/chall/{}/{}", v.authz_id, v.challenge_id),
                    order_url.clone().unwrap(),
                ];
                for url in &held {
                    assert!(server.awaits_approval(url).unwrap(), "{url}");
                    let r = server.resource_now(url, now).unwrap().unwrap();
                    assert_eq!(r.header("retry-after"), Some("5"), "{url}");
                    assert!(r.header("replay-nonce").is_none());
                }
                for url in [server.directory_url(), format!("{BASE}/authz/no-such")] {
                    assert!(!server.awaits_approval(&url).unwrap(), "{url}");
                    assert!(server.resource_now(&url, now).unwrap().is_none(), "{url}");
                }
            }
            if waits.len() == 3 {
                server.policy_mut().approved.insert("dev-7".into());
                // Looked at again once the owner decided: valid, nothing waits any more.
                let authz: Authorization =
                    from_json(&server.resource_now(&held[0], now).unwrap().unwrap().body).unwrap();
                assert_eq!(authz.status, AuthorizationStatus::Valid);
                for url in &held {
                    assert!(!server.awaits_approval(url).unwrap(), "{url}");
                }
                let r = server.resource_now(&held[2], now).unwrap().unwrap();
                let order: Order = from_json(&r.body).unwrap();
                assert_eq!(order.status, OrderStatus::Ready);
                assert!(r.header("retry-after").is_none());
            }
            now = at;
            client.handle_timeout(now);
        }
    }
    assert!(certificate.is_some(), "no certificate");
    assert_eq!(waits.first(), Some(&Duration::from_secs(1)), "{waits:?}");
    assert!(
        waits.len() >= 3 && waits[1..].iter().all(|w| *w == Duration::from_secs(5)),
        "the human wait is 5 s: {waits:?}"
    );
}

/// Records what the core tells the approval policy about accounts (draft §3.4.4 key binding);
/// refuses key changes while `fail` is set.
#[derive(Default)]
struct Recorder {
    seen: Vec<String>,
    fail: bool,
}

impl ApprovalPolicy for Recorder {
    fn check(&mut self, req: &ApprovalRequest<'_>, _: Duration) -> Approval {
        self.seen.push(format!(
            "check {} {}",
            req.device_id, req.account.thumbprint
        ));
        Approval::Approved
    }

    fn key_changed(
        &mut self,
        account: &AccountRecord,
        old: &str,
        _: Duration,
    ) -> std::result::Result<(), StoreError> {
        if self.fail {
            return Err(StoreError::new("refused by the test"));
        }
        self.seen
            .push(format!("rollover {old} -> {}", account.thumbprint));
        Ok(())
    }

    fn account_deactivated(
        &mut self,
        account: &AccountRecord,
        _: Duration,
    ) -> std::result::Result<(), StoreError> {
        self.seen
            .push(format!("deactivated {}", account.thumbprint));
        Ok(())
    }
}

#[test]
fn the_policy_hears_of_key_rollover_and_deactivation_and_dns01_is_not_offered() {
    let mut s = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        Recorder::default(),
        TestCa::new(),
    );
    let mut now = Duration::from_secs(1_700_000_000);
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let old_tp = key.jwk().thumbprint();
    let cfg = ClientConfig::new(&s.directory_url());
    let mut client = Client::new(cfg.clone(), key, issue_op(&["dev-9.local"], None));
    let r = run(&mut client, &mut s, &mut now, |_, _| {});
    certificate(&r);
    assert_eq!(s.policy_mut().seen, vec![format!("check dev-9 {old_tp}")]);

    // Only http-01 and tls-alpn-01 are offered (dns-01 is never validated here).
    let id = s
        .store()
        .account_by_thumbprint(&old_tp)
        .unwrap()
        .unwrap()
        .orders[0]
        .clone();
    let o = s.store().order(&id).unwrap().unwrap();
    let a = s.store().authz(&o.authz_ids[0]).unwrap().unwrap();
    let kinds: Vec<_> = a.challenges.iter().map(|c| c.kind.clone()).collect();
    assert_eq!(kinds, vec![ChallengeType::Http01, ChallengeType::TlsAlpn01]);

    // A policy failure fails the key change with serverInternal: the account keeps its key.
    let new_key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let new_tp = new_key.jwk().thumbprint();
    s.policy_mut().fail = true;
    let old = client.into_account_key();
    let mut kc = Client::new(cfg.clone(), old, Operation::KeyChange { new_key });
    let r = run(&mut kc, &mut s, &mut now, |_, _| {});
    assert!(
        matches!(failure(&r), Error::Problem(p) if p.kind == ProblemType::ServerInternal),
        "{:?}",
        r.events
    );
    assert!(s.store().account_by_thumbprint(&old_tp).unwrap().is_some());
    assert!(s.store().account_by_thumbprint(&new_tp).unwrap().is_none());

    // Told with the old and the new thumbprint when it succeeds.
    s.policy_mut().fail = false;
    let old = kc.into_account_key();
    let new_key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let new_tp = new_key.jwk().thumbprint();
    let mut kc = Client::new(cfg, old, Operation::KeyChange { new_key });
    let r = run(&mut kc, &mut s, &mut now, |_, _| {});
    assert!(r.events.iter().any(|e| matches!(e, Event::KeyChanged)));
    assert_eq!(
        s.policy_mut().seen.last(),
        Some(&format!("rollover {old_tp} -> {new_tp}"))
    );

    // Deactivation (RFC 8555 §7.3.6), with the new key: told once.
    let key = kc.into_account_key();
    let id = s
        .store()
        .account_by_thumbprint(&new_tp)
        .unwrap()
        .unwrap()
        .id;
    let url = format!("{BASE}/acct/{id}");
    for _ in 0..2 {
        let n = {
            let r = s.handle(
                &Request {
                    method: Method::Head,
                    url: format!("{BASE}/new-nonce"),
                    headers: vec![],
                    body: vec![],
                },
                now,
                &mut rand::rngs::OsRng,
            );
            r.header("replay-nonce").unwrap().to_string()
        };
        let jws = jose::sign(
            &key,
            Some(&url),
            Some(&n),
            &url,
            Some(br#"{"status":"deactivated"}"#),
        )
        .unwrap();
        let req = Request {
            method: Method::Post,
            url: url.clone(),
            headers: vec![("Content-Type".into(), "application/jose+json".into())],
            body: serde_json::to_vec(&jws).unwrap(),
        };
        s.handle(&req, now, &mut rand::rngs::OsRng);
    }
    let deactivations = s
        .policy_mut()
        .seen
        .iter()
        .filter(|e| e.starts_with("deactivated"))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(deactivations, vec![format!("deactivated {new_tp}")]);
}

/// RFC 8555 §7.3.2: an account update carrying `status` other than `deactivated` (certbot's
/// `acme` library sends the whole account back) is applied, the status ignored.
#[test]
fn an_account_update_ignores_status_it_may_not_set() {
    let mut s = server(ServerConfig::new(BASE));
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let kid = new_account(&mut s, &key);
    for status in ["valid", "revoked"] {
        let payload = format!(r#"{{"status":"{status}","contact":["mailto:a@example.org"]}}"#);
        let n = nonce(&mut s);
        let jws = jose::sign(&key, Some(&kid), Some(&n), &kid, Some(payload.as_bytes())).unwrap();
        let r = post(&mut s, &kid, &jws);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let a: Account = from_json(&r.body).unwrap();
        assert_eq!(a.status, AccountStatus::Valid, "{status}");
        assert_eq!(a.contact, ["mailto:a@example.org"]);
    }
    let n = nonce(&mut s);
    let jws = jose::sign(
        &key,
        Some(&kid),
        Some(&n),
        &kid,
        Some(br#"{"status":"deactivated"}"#),
    )
    .unwrap();
    let a: Account = from_json(&post(&mut s, &kid, &jws).body).unwrap();
    assert_eq!(a.status, AccountStatus::Deactivated);
}
