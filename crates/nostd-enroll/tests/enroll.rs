//! A whole enrollment through the `#![no_std]` crate: the device side (fresh P-384 keys, the CSR
//! builder, the ACME client core) against lantrust-acme's server core in memory, with a real
//! network root from lantrust-ca issuing, simulated time and a real RNG.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness

use std::collections::HashMap;
use std::time::Duration;

use lantrust_acme::client::ChallengeToServe;
use lantrust_acme::server::{
    AccountRecord, AutoApprove, Issued, Issuer, MemoryStore, OrderRecord, Server, ServerConfig,
};
use lantrust_acme::{Problem, ProblemType, Request, Response};
use lantrust_ca::{DeviceRequest, IssuanceOptions, Root, RootConfig};
use lantrust_nostd_enroll::{Device, Error, enroll};
use rand::rngs::OsRng;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const BASE: &str = "https://router-fdb531.local:8443/acme";
const SERVER: &str = "router-fdb531";
const DOMAIN: &str = "home.arpa";

/// The server binary's issuer in miniature: the draft's CSR policy, then the network root signs.
struct RootIssuer {
    root: Root,
    issued: u32,
}

impl Issuer for RootIssuer {
    fn issue(
        &mut self,
        csr_der: &[u8],
        order: &OrderRecord,
        _: &AccountRecord,
        now: Duration,
    ) -> Result<Issued, Problem> {
        let bad = |e: String| Problem::new(ProblemType::BadCsr, 400, e);
        let id = lantrust_acme::server::device_id(&order.identifiers[0]);
        let policy = lantrust_csr::Policy::new(SERVER, [DOMAIN]).with_device_id(id);
        let ok = lantrust_csr::validate(csr_der, &policy).map_err(|e| bad(e.to_string()))?;
        let request = DeviceRequest {
            device_id: ok.device_id().to_string(),
            dns_names: ok.dns_names().to_vec(),
            ip_addrs: ok.ip_addrs().to_vec(),
            public_key: ok.public_key().clone(),
        };
        let cert = self
            .root
            .issue(&request, &IssuanceOptions::default(), now, &mut OsRng)
            .map_err(|e| bad(e.to_string()))?;
        self.issued += 1;
        let leaf = lantrust_ca::certificate_to_pem(&cert).unwrap();
        Ok(Issued {
            pem_chain: format!("{leaf}{}", self.root.certificate_pem().unwrap()),
            leaf_der: lantrust_ca::certificate_to_der(&cert).unwrap(),
            alternates: Vec::new(),
        })
    }
}

/// The device's I/O, answered in memory by the server core; the clock only moves when the client
/// waits.
struct InMemory {
    server: Server<MemoryStore, AutoApprove, RootIssuer>,
    now: Duration,
    served: HashMap<String, String>,
    requests: u32,
    sleeps: u32,
}

impl Device for InMemory {
    type Error = std::convert::Infallible;

    fn send(&mut self, request: &Request) -> Result<Response, Self::Error> {
        self.requests += 1;
        let response = self.server.handle(request, self.now, &mut OsRng);
        // The server's http-01 fetch, answered by what the device published (RFC 8555 §8.3).
        while let Some(v) = self.server.poll_validation() {
            let body = self.served.get(&v.token).cloned().unwrap_or_default();
            let result = v.check_http01_body(body.as_bytes());
            self.server
                .validation_result(&v.authz_id, &v.challenge_id, result, self.now);
        }
        Ok(response)
    }

    fn serve_challenges(&mut self, challenges: &[ChallengeToServe]) {
        for c in challenges {
            self.served.insert(c.token.clone(), c.value.clone());
        }
    }

    fn now(&mut self) -> Duration {
        self.now
    }

    fn sleep_until(&mut self, until: Duration) {
        assert!(until >= self.now, "the client asked to wait for the past");
        self.now = until;
        self.sleeps += 1;
    }
}

fn network(now: Duration) -> InMemory {
    let root = Root::generate(
        &RootConfig::new(SERVER, vec![DOMAIN.to_string()]),
        now,
        &mut OsRng,
    )
    .unwrap();
    InMemory {
        server: Server::new(
            ServerConfig::new(BASE),
            MemoryStore::default(),
            AutoApprove,
            RootIssuer { root, issued: 0 },
        ),
        now,
        served: HashMap::new(),
        requests: 0,
        sleeps: 0,
    }
}

#[test]
fn enrolls_and_the_chain_certifies_the_fresh_key_for_the_device_names() {
    let mut device = network(Duration::from_secs(1_800_000_000));
    let directory = device.server.directory_url();
    let enrolled = enroll(
        &mut device,
        &mut OsRng,
        &directory,
        "device-12cd56",
        &[DOMAIN],
    )
    .unwrap();

    // Directory, nonce, account, order, authorizations, challenges, finalize, certificate.
    assert!(device.requests >= 8, "{} requests", device.requests);
    assert_eq!(device.server.issuer_mut().issued, 1);
    assert_eq!(device.served.len(), 2, "one http-01 challenge per name");
    assert!(
        enrolled.account_url.starts_with(BASE),
        "{}",
        enrolled.account_url
    );

    let chain = x509_cert::Certificate::load_pem_chain(enrolled.chain_pem.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2, "leaf and network root");
    let (leaf, root) = (&chain[0], &chain[1]);

    // The leaf certifies the device key the CSR was made with (and no other).
    assert_eq!(
        leaf.tbs_certificate.subject_public_key_info,
        enrolled.key.public_key_info()
    );
    assert_eq!(enrolled.key.algorithm(), lantrust_keys::KeyAlgorithm::P384);
    // Names: CN = device ID, SANs exactly <id>.local and <id>.<domain>.
    assert_eq!(leaf.tbs_certificate.subject.to_string(), "CN=device-12cd56");
    let (_, san) = leaf
        .tbs_certificate
        .get::<SubjectAltName>()
        .unwrap()
        .expect("a SAN extension");
    let names: Vec<String> = san
        .0
        .iter()
        .map(|n| match n {
            GeneralName::DnsName(d) => d.to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    assert_eq!(names, ["device-12cd56.local", "device-12cd56.home.arpa"]);

    // The leaf is signed by the network root that came with it.
    assert_eq!(leaf.tbs_certificate.issuer, root.tbs_certificate.subject);
    let root_key =
        lantrust_keys::PublicKey::from_spki(root.tbs_certificate.subject_public_key_info.clone())
            .unwrap();
    use der::Encode;
    root_key
        .verify(
            &leaf.signature_algorithm,
            &leaf.tbs_certificate.to_der().unwrap(),
            leaf.signature.raw_bytes(),
        )
        .unwrap();
}

#[test]
fn a_refused_csr_is_the_servers_problem_document() {
    // A device ID the server's name policy refuses (draft §4.2: not the server's own name).
    let mut device = network(Duration::from_secs(1_800_000_000));
    let directory = device.server.directory_url();
    let err = enroll(&mut device, &mut OsRng, &directory, SERVER, &[DOMAIN]).unwrap_err();
    match err {
        Error::Acme(lantrust_acme::Error::Problem(p)) => {
            assert_eq!(p.kind, ProblemType::BadCsr, "{p}")
        }
        other => panic!("expected the server's badCSR problem, got {other}"),
    }
    assert_eq!(device.server.issuer_mut().issued, 0);
}
