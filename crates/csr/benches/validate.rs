// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(missing_docs)] // criterion_group! generates an undocumented fn
//! Validating a P-384 CSR (parse + key decode + self-signature + full policy) against the bare
//! p384 ECDSA verification of the same signature, in the same run. Goal: at most 1.15x.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use lantrust_csr::{Csr, Policy, validate};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};

const CSR: &[u8] = include_bytes!("../tests/vectors/good-p384-sha384.der");

fn bench(c: &mut Criterion) {
    let policy = Policy::new("lantrust", ["example.com"]);
    assert!(validate(CSR, &policy).is_ok());

    // The baseline: key and signature already decoded, only SHA-384 + ECDSA verify.
    let csr = Csr::parse(CSR).unwrap();
    let key =
        VerifyingKey::from_sec1_bytes(csr.public_key().subject_public_key.raw_bytes()).unwrap();
    let sig = Signature::from_der(csr.cert_req().signature.raw_bytes()).unwrap();
    let info = csr.info_der().to_vec();
    assert!(key.verify(&info, &sig).is_ok());

    let mut group = c.benchmark_group("p384_csr");
    group.bench_function("bare_p384_verify", |b| {
        b.iter(|| key.verify(black_box(&info), black_box(&sig)).is_ok())
    });
    group.bench_function("lantrust_csr_validate", |b| {
        b.iter(|| validate(black_box(CSR), black_box(&policy)).is_ok())
    });
    group.finish();

    // Where the difference goes (not part of the ratio).
    let mut parts = c.benchmark_group("p384_csr_parts");
    parts.bench_function("parse", |b| b.iter(|| Csr::parse(black_box(CSR)).is_ok()));
    parts.bench_function("key_decode", |b| {
        b.iter(|| {
            VerifyingKey::from_sec1_bytes(black_box(
                csr.public_key().subject_public_key.raw_bytes(),
            ))
            .is_ok()
        })
    });
    parts.bench_function("judge_parsed", |b| {
        b.iter(|| black_box(&csr).violations(black_box(&policy)).is_empty())
    });
    parts.finish();

    // On a shared machine the load changes between criterion's sequential groups, so also
    // time the two alternately and print the ratio of medians.
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = std::time::Instant::now();
        black_box(key.verify(black_box(&info), black_box(&sig)).is_ok());
        bare.push(t.elapsed());
        let t = std::time::Instant::now();
        black_box(validate(black_box(CSR), black_box(&policy)).is_ok());
        ours.push(t.elapsed());
    }
    bare.sort();
    ours.sort();
    let (b, o) = (bare[bare.len() / 2], ours[ours.len() / 2]);
    eprintln!(
        "interleaved medians: bare p384 verify {b:?}, lantrust-csr validate {o:?}, ratio {:.3}",
        o.as_secs_f64() / b.as_secs_f64()
    );
}

criterion_group!(benches, bench);

criterion_main!(benches);
