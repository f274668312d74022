//! Server-side verification of an ES384-signed ACME request versus a bare p384 verification of the
//! same signing input, in the same run (goal: ≤ 1.1x).
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use lantrust_acme::jose::{self, JwsKind, ParsedJws};
use lantrust_acme::{AccountKey, Algorithm, b64};
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
