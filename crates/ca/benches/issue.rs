//! Issuing a device certificate vs one bare P-384 signature (goal: at most 1.1x).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use core::hint::black_box;
use core::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lantrust_ca::{DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, Root, RootConfig};
use x509_cert::der::Encode;

fn bench(c: &mut Criterion) {
    let mut rng = rand::rngs::OsRng;
    let now = Duration::from_secs(1_795_392_000);
    let root = Root::generate(
        &RootConfig::new("router", vec!["home.arpa".into()]),
        now,
        &mut rng,
    )
    .unwrap();
    let device = PrivateKey::generate(KeyAlgorithm::P384, &mut rng).unwrap();
    let request = DeviceRequest {
        device_id: "thermostat-42".into(),
        dns_names: vec![
            "thermostat-42.local".into(),
            "thermostat-42.home.arpa".into(),
        ],
        ip_addrs: vec!["192.168.1.42".parse().unwrap()],
        public_key: device.public_key_info(),
    };
    let options = IssuanceOptions::default();
    // A TBSCertificate-sized message for the bare signature.
    let cert = root.issue(&request, &options, now, &mut rng).unwrap();
    let tbs = cert.tbs_certificate.to_der().unwrap();

    let mut group = c.benchmark_group("p384");
    group.bench_function("bare_signature", |b| {
        b.iter(|| root.private_key().sign(black_box(&tbs)).unwrap())
    });
    group.bench_function("issue_device_certificate", |b| {
        b.iter(|| {
            let cert = root
                .issue(black_box(&request), &options, now, &mut rng)
                .unwrap();
            cert.to_der().unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
