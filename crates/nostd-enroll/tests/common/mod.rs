//! The server side shared by the tests: lantrust-acme's server core in memory (MemoryStore,
//! AutoApprove) with a real lantrust-ca network root issuing.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc, dead_code)] // test harness

use std::collections::HashMap;
use std::time::Duration;

use lantrust_acme::client::ChallengeToServe;
use lantrust_acme::server::{
    AccountRecord, AutoApprove, Issued, Issuer, MemoryStore, OrderRecord, Server, ServerConfig,
};
use lantrust_acme::{Problem, ProblemType, Request, Response};
use lantrust_ca::{DeviceRequest, IssuanceOptions, Root, RootConfig};
use lantrust_nostd_enroll::Device;
use rand::rngs::OsRng;

pub(crate) const BASE: &str = "https://router-fdb531.local:8443/acme";
pub(crate) const SERVER: &str = "router-fdb531";
pub(crate) const DOMAIN: &str = "home.arpa";

/// The server binary's issuer in miniature: the draft's CSR policy, then the network root signs.
pub(crate) struct RootIssuer {
    pub(crate) root: Root,
    pub(crate) issued: u32,
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
pub(crate) struct InMemory {
    pub(crate) server: Server<MemoryStore, AutoApprove, RootIssuer>,
    pub(crate) now: Duration,
    pub(crate) served: HashMap<String, String>,
    pub(crate) requests: u32,
    pub(crate) sleeps: u32,
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
                .validation_result(&v.authz_id, &v.challenge_id, result, self.now)
                .expect("the in-memory store cannot fail");
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

pub(crate) fn network(now: Duration) -> InMemory {
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
