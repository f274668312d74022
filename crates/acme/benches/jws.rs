//! Server-side verification of an ES384-signed ACME request versus a bare p384 verification of the
//! same signing input, in the same run (goal: ≤ 1.1x).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use lantrust_acme::jose::{self, JwsKind, ParsedJws};
use lantrust_acme::server::{
    AccountRecord, AutoApprove, Issued, Issuer, MemoryStore, OrderRecord, Server, ServerConfig,
};
use lantrust_acme::{AccountKey, Algorithm, Method, Problem, ProblemType, Request, b64};

struct NoIssuer;
impl Issuer for NoIssuer {
    fn issue(
        &mut self,
        _: &[u8],
        _: &OrderRecord,
        _: &AccountRecord,
        _: core::time::Duration,
    ) -> Result<Issued, Problem> {
        Err(Problem::new(ProblemType::BadCsr, 400, "bench"))
    }
}
use p384::ecdsa::signature::Verifier;

fn bench(c: &mut Criterion) {
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let payload = br#"{"identifiers":[{"type":"dns","value":"dev-12cd56.local"},{"type":"dns","value":"dev-12cd56.example.com"}]}"#;
    let jws = jose::sign(
        &key,
        Some("https://acme.local/acme/acct/Vx3d2bQ"),
        Some("oFvnlFP1wIhRlYS2jTaXbA"),
        "https://acme.local/acme/new-order",
        Some(payload),
    )
    .unwrap();
    let body = serde_json::to_vec(&jws).unwrap();
    let account_key = key.public_key();

    // The bare operation: verify r||s over the signing input with a decoded p384 key.
    let lantrust_acme::PublicKey::P384(vk) = account_key.clone() else {
        unreachable!()
    };
    let input = format!("{}.{}", jws.protected, jws.payload);
    let sig =
        p384::ecdsa::Signature::from_slice(&b64::decode(&jws.signature, "sig").unwrap()).unwrap();

    let mut g = c.benchmark_group("es384_request");
    g.bench_function("bare_p384_verify", |b| {
        b.iter(|| {
            vk.verify(black_box(input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    g.bench_function("acme_server_verify", |b| {
        b.iter(|| {
            let p = ParsedJws::parse(black_box(&body), JwsKind::Request).unwrap();
            p.verify(&account_key, false).unwrap();
            p
        })
    });
    // The overhead alone (JSON + base64 + header rules), to read the ratio independently of load.
    g.bench_function("acme_parse_only", |b| {
        b.iter(|| ParsedJws::parse(black_box(&body), JwsKind::Request).unwrap())
    });
    // The whole server core on a POST-as-GET to the account URL: routing, nonce store, account
    // lookup, JWK decoding, verification and the JSON answer. Requests are signed in untimed setup.
    let server = core::cell::RefCell::new(Server::new(
        ServerConfig::new("https://acme.local/acme"),
        MemoryStore::default(),
        AutoApprove,
        NoIssuer,
    ));
    let now = core::time::Duration::from_secs(1_700_000_000);
    let head = |s: &mut Server<MemoryStore, AutoApprove, NoIssuer>| {
        let r = Request {
            method: Method::Head,
            url: "https://acme.local/acme/new-nonce".into(),
            headers: vec![],
            body: vec![],
        };
        s.handle(&r, now, &mut rand::rngs::OsRng)
            .header("replay-nonce")
            .unwrap()
            .to_string()
    };
    let post = |url: &str, jws: &lantrust_acme::Jws| Request {
        method: Method::Post,
        url: url.into(),
        headers: vec![("Content-Type".into(), "application/jose+json".into())],
        body: lantrust_acme::to_json(jws),
    };
    let kid = {
        let mut s = server.borrow_mut();
        let n = head(&mut s);
        let url = "https://acme.local/acme/new-account";
        let jws = jose::sign(&key, None, Some(&n), url, Some(b"{}")).unwrap();
        let r = s.handle(&post(url, &jws), now, &mut rand::rngs::OsRng);
        assert_eq!(r.status, 201);
        r.header("location").unwrap().to_string()
    };
    g.bench_function("acme_server_handle", |b| {
        b.iter_batched(
            || {
                let n = head(&mut server.borrow_mut());
                let jws = jose::sign(&key, Some(&kid), Some(&n), &kid, None).unwrap();
                post(&kid, &jws)
            },
            |req| {
                let r = server
                    .borrow_mut()
                    .handle(black_box(&req), now, &mut rand::rngs::OsRng);
                assert_eq!(r.status, 200);
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
