//! CSRs from our builder: accepted by our policy and by `openssl req -verify`, with the names
//! openssl reads back, and a fresh key every time (§4.11).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use lantrust_csr::{CsrBuilder, Error, KeyAlgorithm, KeyKind, Policy, validate};
use rand::rngs::OsRng;

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `openssl req -verify -noout -text` on the PEM; returns the text on success.
fn openssl_verify(pem: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("req.pem");
    std::fs::write(&path, pem).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-verify", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl req -verify failed: {stderr}");
    // openssl 3 prints "Certificate request self-signature verify OK" on stderr.
    assert!(stderr.contains("verify OK"), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn policy() -> Policy {
    Policy::new("lantrust", ["example.com", "home.arpa"])
}

#[test]
fn p384_default_builds_compliant_csr_openssl_verifies() {
    let builder = CsrBuilder::new("device-12cd56", ["example.com", "home.arpa"])
        .ip("192.168.1.20".parse().unwrap())
        .ip("fe80::1".parse().unwrap());
    let built = builder.build(&mut OsRng).unwrap();
    let ok = validate(built.der(), &policy().with_device_id("device-12cd56")).unwrap();
    assert_eq!(ok.key_kind(), KeyKind::P384);
    assert_eq!(
        ok.dns_names(),
        [
            "device-12cd56.local",
            "device-12cd56.example.com",
            "device-12cd56.home.arpa"
        ]
    );
    assert_eq!(ok.ip_addrs().len(), 2);
    assert_eq!(ok.public_key(), &built.key().public_key_info());
    let pem = built.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    // PEM parses to the same verdict.
    assert_eq!(validate(pem.as_bytes(), &policy()).unwrap(), ok);
    if !openssl_available() {
        lantrust_test_support::skip("openssl not installed, openssl req -verify not run");
        return;
    }
    let text = openssl_verify(&pem);
    assert!(text.contains("Subject: CN = device-12cd56"), "{text}");
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");
    assert!(
        text.contains(
            "DNS:device-12cd56.local, DNS:device-12cd56.example.com, DNS:device-12cd56.home.arpa, IP Address:192.168.1.20, IP Address:FE80:0:0:0:0:0:0:1"
        ),
        "{text}"
    );
}

#[test]
fn p521_builds_and_openssl_verifies() {
    let built = CsrBuilder::new("cam-7", ["example.com"])
        .algorithm(KeyAlgorithm::P521)
        .build(&mut OsRng)
        .unwrap();
    let ok = validate(built.der(), &Policy::new("lantrust", ["example.com"])).unwrap();
    assert_eq!(ok.key_kind(), KeyKind::P521);
    if !openssl_available() {
        lantrust_test_support::skip("openssl not installed, openssl req -verify not run");
        return;
    }
    let text = openssl_verify(&built.to_pem().unwrap());
    assert!(text.contains("ecdsa-with-SHA512"), "{text}");
    assert!(text.contains("NIST CURVE: P-521"), "{text}");
}

/// The full path with RSA key generation (seconds, not minutes, since the workspace optimises the
/// bignum crates in test builds).
#[test]
fn rsa3072_builds_and_openssl_verifies() {
    let built = CsrBuilder::new("printer-1", Vec::<String>::new())
        .algorithm(KeyAlgorithm::Rsa3072)
        .build(&mut OsRng)
        .unwrap();
    let ok = validate(built.der(), &Policy::new("lantrust", Vec::<String>::new())).unwrap();
    assert_eq!(
        ok.key_kind(),
        KeyKind::Rsa {
            bits: 3072,
            pss_only: false
        }
    );
    assert_eq!(ok.dns_names(), ["printer-1.local"]);
    if !openssl_available() {
        lantrust_test_support::skip("openssl not installed, openssl req -verify not run");
        return;
    }
    let text = openssl_verify(&built.to_pem().unwrap());
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");
}

#[test]
fn every_build_has_a_fresh_key() {
    let builder = CsrBuilder::new("device-12cd56", ["example.com"]);
    let a = builder.build(&mut OsRng).unwrap();
    let b = builder.build(&mut OsRng).unwrap();
    assert_ne!(a.key().public_key_info(), b.key().public_key_info());
    assert_ne!(a.der(), b.der());
}

#[test]
fn builder_refuses_what_the_server_would_refuse() {
    let bad_id = CsrBuilder::new("my device", ["example.com"]).build(&mut OsRng);
    assert!(matches!(bad_id, Err(Error::Builder(_))), "{bad_id:?}");
    let bad_domain = CsrBuilder::new("d1", ["exa mple.com"]).build(&mut OsRng);
    assert!(matches!(bad_domain, Err(Error::Builder(_))));
    let public_ip = CsrBuilder::new("d1", ["example.com"])
        .ip("8.8.8.8".parse().unwrap())
        .build(&mut OsRng);
    let err = public_ip.unwrap_err();
    assert!(err.to_string().contains("private"), "{err}");
    // The device ID is normalised to lower case, as the server compares names.
    let built = CsrBuilder::new("Device-A", ["Example.COM."])
        .build(&mut OsRng)
        .unwrap();
    let ok = validate(built.der(), &Policy::new("lantrust", ["example.com"])).unwrap();
    assert_eq!(ok.device_id(), "device-a");
    assert_eq!(ok.dns_names(), ["device-a.local", "device-a.example.com"]);
}
