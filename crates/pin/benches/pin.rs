//! Scoped trust against the same validation done by rustls-webpki with ring, plus root decisions
//! and store (de)serialisation.
//!
//! `cargo bench -p lantrust-pin --bench pin -- --warm-up-time 1 --measurement-time 3`

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use core::time::Duration;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use lantrust_pin::{Decision, NetworkId, NetworkKind, Observation, PinStore, verify_scoped};
use pki_types::{CertificateDer, ServerName, UnixTime};

const NOW: u64 = 1_769_904_000;
const ROOT: &[u8] = include_bytes!("../tests/vectors/root-p384.der");
const DEV1: &[u8] = include_bytes!("../tests/vectors/dev1-by-p384.der");
const ROOT_RSA: &[u8] = include_bytes!("../tests/vectors/root-rsa3072.der");
const DEV1_RSA: &[u8] = include_bytes!("../tests/vectors/dev1-by-rsa3072.der");

/// The peer: rustls-webpki + ring, chain and name only (no root self-check, no scope rules).
fn webpki_ring(root: &[u8], leaf: &[u8], name: &str) -> bool {
    let root = CertificateDer::from(root);
    let Ok(anchor) = webpki::anchor_from_trusted_cert(&root) else {
        return false;
    };
    let leaf = CertificateDer::from(leaf);
    let Ok(ee) = webpki::EndEntityCert::try_from(&leaf) else {
        return false;
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
    let ok = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            time,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .is_ok();
    ok && ServerName::try_from(name).is_ok_and(|n| ee.verify_is_valid_for_subject_name(&n).is_ok())
}

fn scoped_trust(c: &mut Criterion) {
    let domains = ["example.test".to_string()];
    let mut g = c.benchmark_group("scoped_trust");
    for (alg, root, dev) in [("p384", ROOT, DEV1), ("rsa3072", ROOT_RSA, DEV1_RSA)] {
        assert!(verify_scoped(root, &domains, &[dev], "dev1.local", NOW).is_ok());
        assert!(webpki_ring(root, dev, "dev1.local"));
        g.bench_function(format!("lantrust_pin/{alg}"), |b| {
            b.iter(|| {
                verify_scoped(
                    black_box(root),
                    &domains,
                    &[black_box(dev)],
                    "dev1.local",
                    NOW,
                )
            })
        });
        g.bench_function(format!("webpki_ring/{alg}"), |b| {
            b.iter(|| webpki_ring(black_box(root), black_box(dev), "dev1.local"))
        });
    }
    // Through the store: the root's self-signature was checked when it was pinned.
    let net = NetworkId::builder().ssid(b"Home").build().unwrap();
    let mut pinned = PinStore::new();
    let seen = Observation {
        network: &net,
        kind: NetworkKind::Private,
        server_name: "router-fdb531.local",
        root_der: ROOT,
        domains: &[],
    };
    let Decision::FirstUse(cand) = pinned.decide(&seen, NOW) else {
        panic!()
    };
    pinned.accept(cand, NOW).unwrap();
    g.bench_function("lantrust_pin/p384_verify_device", |b| {
        b.iter(|| {
            pinned.verify_device(
                &net,
                NetworkKind::Private,
                &[black_box(DEV1)],
                "dev1.local",
                NOW,
            )
        })
    });
    // Scope refusal happens before any signature work.
    g.bench_function("lantrust_pin/refuse_public_name", |b| {
        b.iter(|| verify_scoped(ROOT, &domains, &[black_box(DEV1)], "www.example.com", NOW))
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let mut store = PinStore::new();
    for i in 0..16u8 {
        let net = NetworkId::builder().ssid(&[b'n', i]).build().unwrap();
        let seen = Observation {
            network: &net,
            kind: NetworkKind::Private,
            server_name: "router-fdb531.local",
            root_der: ROOT,
            domains: &["example.test"],
        };
        let Decision::FirstUse(cand) = store.decide(&seen, NOW) else {
            panic!()
        };
        store.accept(cand, NOW).unwrap();
    }
    let bytes = store.to_bytes();
    let net = NetworkId::builder().ssid(&[b'n', 3]).build().unwrap();
    let seen = Observation {
        network: &net,
        kind: NetworkKind::Private,
        server_name: "router-fdb531.local",
        root_der: ROOT,
        domains: &["example.test"],
    };
    let mut g = c.benchmark_group("store");
    g.bench_function("decide_trusted", |b| {
        b.iter(|| store.decide(black_box(&seen), NOW))
    });
    g.bench_function("to_bytes_16_networks", |b| {
        b.iter(|| black_box(&store).to_bytes())
    });
    g.bench_function("from_bytes_16_networks", |b| {
        b.iter(|| PinStore::from_bytes(black_box(&bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, scoped_trust, store);
criterion_main!(benches);
