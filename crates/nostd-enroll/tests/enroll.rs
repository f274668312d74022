//! A whole enrollment through the `#![no_std]` crate: the device side (fresh P-384 keys, the CSR
//! builder, the ACME client core) against lantrust-acme's server core in memory, with a real
//! network root from lantrust-ca issuing, simulated time and a real RNG.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness

mod common;

use std::time::Duration;

use common::{BASE, DOMAIN, SERVER, network};
use lantrust_acme::ProblemType;
use lantrust_nostd_enroll::{Error, enroll};
use rand::rngs::OsRng;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

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
