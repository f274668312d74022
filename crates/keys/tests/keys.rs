//! Key generation, PKCS#8 round trips and signatures, checked against openssl.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use lantrust_keys::{DerSignature, Error, KeyAlgorithm, PrivateKey, PublicKey};
use rand::SeedableRng;
use signature::{Keypair, Signer};
use spki::DynSignatureAlgorithmIdentifier;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::asn1::UtcTime;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lantrust-keys-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// RSA generation takes minutes in unoptimised (test) builds, so the RSA cases use a fresh
/// RSA-3072 key made by openssl (real-world key material, made in a fraction of a second);
/// `rsa_generation` below covers our own RSA generation.
fn rsa3072() -> Option<&'static PrivateKey> {
    static KEY: OnceLock<Option<PrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        if !openssl_available() {
            lantrust_test_support::skip("RSA cases need openssl to make an RSA key quickly");
            return None;
        }
        let dir = tempdir("rsa-key");
        let (ok, out) = run_openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                "rsa.pem",
            ],
            &dir,
        );
        assert!(ok, "{out}");
        let pem = std::fs::read_to_string(dir.join("rsa.pem")).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        Some(PrivateKey::from_pkcs8_pem(&pem).unwrap())
    })
    .as_ref()
}

fn with_key(alg: KeyAlgorithm, f: impl FnOnce(&PrivateKey)) {
    match alg {
        KeyAlgorithm::Rsa3072 => {
            if let Some(key) = rsa3072() {
                f(key)
            }
        }
        _ => f(&PrivateKey::generate(alg, &mut rand::rngs::OsRng).unwrap()),
    }
}

/// Our own RSA generation (seconds, not minutes, since the workspace optimises the bignum crates in
/// test builds).
#[test]
fn rsa_generation() {
    for alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096] {
        let key = PrivateKey::generate(alg, &mut rand::rngs::OsRng).unwrap();
        assert_eq!(key.algorithm(), alg);
        let der = key.to_pkcs8_der().unwrap();
        let back = PrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(back.public_key_info(), key.public_key_info());
        let sig = key.sign(b"m").unwrap();
        back.public_key()
            .verify(&key.signature_algorithm(), b"m", sig.as_bytes())
            .unwrap();
        if openssl_available() {
            let dir = tempdir(alg.name());
            std::fs::write(dir.join("k.pem"), key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
            let (ok, out) = run_openssl(&["pkey", "-in", "k.pem", "-check", "-noout"], &dir);
            assert!(ok && out.contains("valid"), "{alg}: {out}");
            std::fs::remove_dir_all(&dir).ok();
        }
    }
}

const TESTED: [KeyAlgorithm; 3] = [
    KeyAlgorithm::P384,
    KeyAlgorithm::P521,
    KeyAlgorithm::Rsa3072,
];

#[test]
fn generate_round_trips_pkcs8() {
    for alg in TESTED {
        with_key(alg, |key| {
            assert_eq!(key.algorithm(), alg);
            let der = key.to_pkcs8_der().unwrap();
            let back = PrivateKey::from_pkcs8_der(&der).unwrap();
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.public_key_info(), key.public_key_info());
            assert_eq!(*back.to_pkcs8_der().unwrap(), *der);

            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let back = PrivateKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(back.public_key_info(), key.public_key_info());
        });
    }
}

#[test]
fn fresh_keys_differ_and_depend_only_on_the_rng() {
    let a = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let b = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    assert_ne!(a.public_key_info(), b.public_key_info());
    // Same seed, same key: all randomness comes from the caller's RNG.
    let c = PrivateKey::generate(
        KeyAlgorithm::P521,
        &mut rand::rngs::StdRng::seed_from_u64(7),
    )
    .unwrap();
    let d = PrivateKey::generate(
        KeyAlgorithm::P521,
        &mut rand::rngs::StdRng::seed_from_u64(7),
    )
    .unwrap();
    assert_eq!(c.public_key_info(), d.public_key_info());
}

#[test]
fn debug_elides_the_secret() {
    with_key(KeyAlgorithm::P384, |key| {
        assert_eq!(format!("{key:?}"), "PrivateKey(P-384, [secret key elided])");
    });
    if let Some(key) = rsa3072() {
        assert_eq!(
            format!("{key:?}"),
            "PrivateKey(RSA-3072, [secret key elided])"
        );
    }
}

#[test]
fn openssl_accepts_our_keys_and_signatures() {
    if !openssl_available() {
        lantrust_test_support::skip("openssl not installed");
        return;
    }
    let dir = tempdir("openssl");
    for alg in TESTED {
        with_key(alg, |key| {
            let name = alg.name();
            std::fs::write(
                dir.join(format!("{name}.pem")),
                key.to_pkcs8_pem().unwrap().as_bytes(),
            )
            .unwrap();
            let (ok, out) = run_openssl(
                &["pkey", "-in", &format!("{name}.pem"), "-check", "-noout"],
                &dir,
            );
            assert!(ok, "openssl pkey -check rejected {alg}: {out}");
            assert!(out.contains("valid"), "{out}");

            // The public key openssl derives equals ours.
            let (ok, out) = run_openssl(
                &[
                    "pkey",
                    "-in",
                    &format!("{name}.pem"),
                    "-pubout",
                    "-outform",
                    "DER",
                    "-out",
                    &format!("{name}.pub.der"),
                ],
                &dir,
            );
            assert!(ok, "{out}");
            let pub_der = std::fs::read(dir.join(format!("{name}.pub.der"))).unwrap();
            assert_eq!(pub_der, key.public_key().to_der().unwrap());

            // openssl verifies our signature.
            let msg = b"lantrust signs this";
            let sig = key.sign(msg).unwrap();
            std::fs::write(dir.join("msg"), msg).unwrap();
            std::fs::write(dir.join(format!("{name}.sig")), sig.as_bytes()).unwrap();
            let digest = match alg {
                KeyAlgorithm::P384 => "-sha384",
                KeyAlgorithm::P521 => "-sha512",
                _ => "-sha256",
            };
            let (ok, out) = run_openssl(
                &[
                    "dgst",
                    digest,
                    "-verify",
                    &format!("{name}.pub.der"),
                    "-keyform",
                    "DER",
                    "-signature",
                    &format!("{name}.sig"),
                    "msg",
                ],
                &dir,
            );
            assert!(
                ok && out.contains("Verified OK"),
                "openssl rejected our {alg} signature: {out}"
            );

            // And we verify ours; a flipped message fails.
            let sig_alg = key.signature_algorithm();
            key.public_key()
                .verify(&sig_alg, msg, sig.as_bytes())
                .unwrap();
            assert!(matches!(
                key.public_key()
                    .verify(&sig_alg, b"lantrust signs thiS", sig.as_bytes()),
                Err(Error::BadSignature)
            ));
        });
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn imports_openssl_generated_keys() {
    if !openssl_available() {
        lantrust_test_support::skip("openssl not installed");
        return;
    }
    let dir = tempdir("import");
    let cases: [(&[&str], Option<KeyAlgorithm>); 6] = [
        (
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                "k.pem",
            ],
            Some(KeyAlgorithm::P384),
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-521",
                "-out",
                "k.pem",
            ],
            Some(KeyAlgorithm::P521),
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                "k.pem",
            ],
            Some(KeyAlgorithm::Rsa3072),
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:4096",
                "-out",
                "k.pem",
            ],
            Some(KeyAlgorithm::Rsa4096),
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "k.pem",
            ],
            None,
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "k.pem",
            ],
            None,
        ),
    ];
    for (args, expect) in cases {
        let (ok, out) = run_openssl(args, &dir);
        assert!(ok, "{out}");
        let pem = std::fs::read_to_string(dir.join("k.pem")).unwrap();
        let got = PrivateKey::from_pkcs8_pem(&pem);
        match expect {
            Some(alg) => {
                let key = got.unwrap();
                assert_eq!(key.algorithm(), alg);
                let sig = key.sign(b"imported").unwrap();
                key.public_key()
                    .verify(&key.signature_algorithm(), b"imported", sig.as_bytes())
                    .unwrap();
                // Our public key matches openssl's.
                let (ok, out) = run_openssl(
                    &[
                        "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "k.pub",
                    ],
                    &dir,
                );
                assert!(ok, "{out}");
                assert_eq!(
                    std::fs::read(dir.join("k.pub")).unwrap(),
                    key.public_key().to_der().unwrap()
                );
            }
            None => {
                let err = got.unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::UnsupportedAlgorithm { .. }
                            | Error::UnsupportedRsaSize { bits: 2048 }
                    ),
                    "{err}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_refused_with_useful_errors() {
    let traditional = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n";
    match PrivateKey::from_pkcs8_pem(traditional).unwrap_err() {
        Error::PemLabel { found, .. } => assert_eq!(found, "EC PRIVATE KEY"),
        e => panic!("{e}"),
    }
    let der = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    // Truncated: a DER error with an offset.
    match PrivateKey::from_pkcs8_der(&der[..der.len() - 10]).unwrap_err() {
        Error::Malformed { offset, .. } => assert!(offset.is_some()),
        e => panic!("{e}"),
    }
    assert!(PrivateKey::from_pkcs8_der(&[]).is_err());
    assert!(PublicKey::from_public_key_der(&der).is_err());
}

#[test]
fn signs_x509_certificates_for_every_algorithm() {
    for alg in TESTED {
        with_key(alg, |key| {
            let t = Time::UtcTime(
                UtcTime::from_unix_duration(core::time::Duration::from_secs(1_800_000_000))
                    .unwrap(),
            );
            let t2 = Time::UtcTime(
                UtcTime::from_unix_duration(core::time::Duration::from_secs(1_900_000_000))
                    .unwrap(),
            );
            let cert = CertificateBuilder::new(
                Profile::Manual { issuer: None },
                SerialNumber::from(1u32),
                Validity {
                    not_before: t,
                    not_after: t2,
                },
                "CN=self".parse::<Name>().unwrap(),
                key.public_key_info(),
                key,
            )
            .unwrap()
            .build::<DerSignature>()
            .unwrap();
            let der = cert.to_der().unwrap();
            let cert = x509_cert::Certificate::from_der(&der).unwrap();
            assert_eq!(
                cert.signature_algorithm,
                key.signature_algorithm_identifier().unwrap()
            );
            key.verifying_key()
                .verify(
                    &cert.signature_algorithm,
                    &cert.tbs_certificate.to_der().unwrap(),
                    cert.signature.raw_bytes(),
                )
                .unwrap();
            // Signer<DerSignature> agrees with sign(): ECDSA is deterministic (RFC 6979).
            let s1: DerSignature = key.try_sign(b"x").unwrap();
            assert_eq!(s1, key.sign(b"x").unwrap());
        });
    }
}
