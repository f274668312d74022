//! Drive lantrust-acme's sans-IO client over real HTTPS (ureq + rustls with the ring provider),
//! serving its challenges through an [`http01`](crate::http01) responder. Feature `acme`.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lantrust_acme::client::{ChallengeToServe, Client, Event};
use lantrust_acme::{Method, Request, Response};

use crate::http01::Tokens;
use crate::now;

/// A ureq agent (30 s timeout) whose TLS trusts only the certificate `root_der`.
pub fn agent(root_der: Vec<u8>) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(root_der))
        .unwrap_or_else(|e| panic!("the trust anchor is not a usable certificate: {e}"));
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("rustls ring provider without TLS 1.2/1.3: {e}"))
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .timeout(Duration::from_secs(30))
        .build()
}

/// Status, headers (names lower-cased) and body of a ureq call, 4xx/5xx included; a transport
/// error (refused connection, TLS failure) is a panic.
pub fn call(result: Result<ureq::Response, ureq::Error>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.to_ascii_lowercase(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .unwrap_or_else(|e| panic!("reading the response body: {e}"));
    (status, headers, body)
}

/// The first value of header `name` (give it lower-case, as [`call`] returns them).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Sends one of the client's requests and converts the answer (4xx/5xx included) into its
/// [`Response`].
pub fn exchange(agent: &ureq::Agent, req: &Request) -> Response {
    let mut r = agent.request(req.method.as_str(), &req.url);
    for (n, v) in &req.headers {
        r = r.set(n, v);
    }
    let result = match req.method {
        Method::Post => r.send_bytes(&req.body),
        _ => r.call(),
    };
    let (status, headers, body) = call(result);
    Response {
        status,
        headers,
        body,
    }
}

/// What [`drive`] saw.
#[derive(Debug)]
pub struct Driven {
    /// Every event the client emitted, in order.
    pub events: Vec<Event>,
    /// How many `badNonce` problems the server answered (and the client absorbed).
    pub bad_nonces: u32,
}

impl Driven {
    /// The failure the client reported, if any.
    pub fn failure(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Failed(err) => Some(err.to_string()),
            _ => None,
        })
    }
}

/// Runs `client` to completion (or failure) against the server over `agent`, putting the
/// challenges it asks for into `tokens` (see [`crate::http01`]) before telling it they are
/// ready. Sleeps until the client's timeouts, at most 500 ms at a time. Not finishing within
/// `limit` is a panic.
pub fn drive(client: &mut Client, agent: &ureq::Agent, tokens: &Tokens, limit: Duration) -> Driven {
    let mut events = Vec::new();
    let mut bad_nonces = 0;
    let deadline = Instant::now() + limit;
    while !client.is_done() {
        assert!(
            Instant::now() < deadline,
            "client did not finish within {limit:?}: {client:?}"
        );
        if let Some(req) = client.poll_request() {
            let resp = exchange(agent, &req);
            if resp.status == 400 && String::from_utf8_lossy(&resp.body).contains("badNonce") {
                bad_nonces += 1;
            }
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            if let Event::ServeChallenges(list) = &ev {
                let mut t = tokens
                    .lock()
                    .unwrap_or_else(|e| panic!("http-01 token table poisoned: {e}"));
                for ChallengeToServe { token, value, .. } in list {
                    t.insert(token.clone(), value.clone());
                }
                drop(t);
                client.challenges_ready();
            }
            events.push(ev);
        }
        if let Some(at) = client.poll_timeout() {
            let n = now();
            if at > n {
                std::thread::sleep((at - n).min(Duration::from_millis(500)));
            }
            client.handle_timeout(now());
        }
    }
    events.extend(core::iter::from_fn(|| client.poll_event()));
    Driven { events, bad_nonces }
}
