//! Checked-in openssl CSRs (tests/vectors/make.sh) with their exact verdicts. These run even
//! where openssl is not installed.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use const_oid::ObjectIdentifier as Oid;
use lantrust_csr::{Csr, Error, KeyKind, Policy, Violation, validate};

fn policy() -> Policy {
    Policy::new("lantrust", ["example.com"])
}

fn violations(bytes: &[u8]) -> Vec<Violation> {
    match validate(bytes, &policy()) {
        Ok(_) => Vec::new(),
        Err(Error::Rejected(v)) => v.0,
        Err(e) => panic!("parse error: {e}"),
    }
}

#[test]
fn good_vectors_pass() {
    for (bytes, kind) in [
        (
            &include_bytes!("vectors/good-p384-sha384.der")[..],
            KeyKind::P384,
        ),
        (
            &include_bytes!("vectors/good-p384-sha384.pem")[..],
            KeyKind::P384,
        ),
        (
            &include_bytes!("vectors/good-p521-sha512.der")[..],
            KeyKind::P521,
        ),
        (
            &include_bytes!("vectors/good-rsa3072-sha256.der")[..],
            KeyKind::Rsa {
                bits: 3072,
                pss_only: false,
            },
        ),
        (
            &include_bytes!("vectors/good-rsapss3072-sha384.der")[..],
            KeyKind::Rsa {
                bits: 3072,
                pss_only: true,
            },
        ),
    ] {
        let ok = validate(bytes, &policy()).expect("accepted");
        assert_eq!(ok.key_kind(), kind);
        assert_eq!(ok.device_id(), "device-12cd56");
        assert_eq!(
            ok.dns_names(),
            ["device-12cd56.local", "device-12cd56.example.com"]
        );
    }
    let ok = validate(include_bytes!("vectors/good-p384-ips.der"), &policy()).expect("ok");
    assert_eq!(
        ok.ip_addrs(),
        [
            "192.168.1.20".parse::<core::net::IpAddr>().unwrap(),
            "fe80::1".parse().unwrap(),
            "::ffff:10.0.0.1".parse().unwrap()
        ]
    );
}

#[test]
fn p256_vector() {
    assert_eq!(
        violations(include_bytes!("vectors/bad-p256.der")),
        [Violation::CurveNotAllowed {
            curve: Oid::new_unwrap("1.2.840.10045.3.1.7")
        }]
    );
}

#[test]
fn everything_wrong_vector_lists_everything() {
    let got = violations(include_bytes!("vectors/bad-everything.der"));
    let ip = |s: &str| s.parse().unwrap();
    let name = |s: &str| s.to_owned();
    assert_eq!(
        got,
        [
            Violation::RsaKeyTooSmall { bits: 2048 },
            Violation::WeakHash { hash: "SHA-1" },
            Violation::UnsupportedSanKind {
                kind: "rfc822Name (e-mail address)"
            },
            Violation::CaRequested,
            Violation::UnknownCriticalExtension {
                oid: Oid::new_unwrap("1.2.3.4")
            },
            Violation::MissingCommonName,
            Violation::Wildcard {
                name: name("*.example.com")
            },
            Violation::ReservedLeftmostLabel {
                name: name("lantrust.local"),
                label: name("lantrust")
            },
            Violation::LocalhostName {
                name: name("localhost")
            },
            Violation::InvalidALabel {
                name: name("xn--zz.local"),
                label: name("xn--zz")
            },
            Violation::NotLdh {
                name: name("dev_ice.local")
            },
            Violation::IpNotPrivate { ip: ip("8.8.8.8") },
            Violation::IpNotPrivate {
                ip: ip("100.64.0.1")
            },
        ]
    );
    // With the device ID known, the two required names are reported missing as well.
    let with_id = Csr::parse(include_bytes!("vectors/bad-everything.der"))
        .unwrap()
        .violations(&policy().with_device_id("device-12cd56"));
    assert_eq!(with_id.len(), got.len() + 2);
}

#[test]
fn signed_bytes_are_the_received_bytes() {
    let der = include_bytes!("vectors/good-p384-sha384.der");
    let csr = Csr::parse(der).unwrap();
    assert_eq!(csr.as_der(), der);
    // certificationRequestInfo starts right after the outer SEQUENCE header (30 82 xx xx).
    assert_eq!(csr.info_der(), &der[4..4 + csr.info_der().len()]);
}

/// Flipping any one bit of the signed part never yields an accepted CSR: the DER no longer
/// decodes, the key is no longer an allowed one, or the signature check fails.
#[test]
fn tampering_with_the_signed_part_is_never_accepted() {
    let der = include_bytes!("vectors/good-p384-sha384.der");
    let csr = Csr::parse(der).unwrap();
    let info_len = csr.info_der().len();
    // Every 7th byte of certificationRequestInfo, a different bit each time.
    for (n, pos) in (4..4 + info_len).step_by(7).enumerate() {
        let mut bad = der.to_vec();
        bad[pos] ^= 1 << (n % 8);
        match validate(&bad, &policy()) {
            Ok(_) => panic!("tampered byte {pos} accepted"),
            Err(Error::Rejected(v)) => assert!(
                v.0.contains(&Violation::BadSignature)
                    || v.0.iter().any(|v| matches!(
                        v,
                        Violation::InvalidPublicKey { .. }
                            | Violation::KeyAlgorithmNotAllowed { .. }
                            | Violation::CurveNotAllowed { .. }
                    )),
                "byte {pos}: {v}"
            ),
            Err(_) => {} // no longer a CSR at all
        }
    }
}
