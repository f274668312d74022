//! The 52 x509-limbo name-constraint cases (`rfc5280::nc::*`, `webpki::nc::*`; C2SP/x509-limbo,
//! regenerated with P-384 keys, in `shared/vectors/x509-limbo/`) through [`verify_scoped`], the
//! scoped verification a client runs on a device chain (§3.5).
//!
//! For each case: the peer certificate and the untrusted intermediates are the chain, each trusted
//! certificate in turn is the pinned root, and the name is the case's expected peer name. The
//! network's domains are set to that name's parent, so that §3.5's scope rule (names strictly
//! under `.local` or under the network's domains, and local addresses) admits it and the chain and
//! its name constraints decide. Cases that
//! name no DNS or IP peer (client certificates with email SANs, a DirName-only SAN) are run with
//! the probe name `example.com`, the domain their names live under: lantrust-pin only ever
//! verifies a server reached at a host name or address.
//!
//! Asserted: no expected FAILURE is accepted (a false accept) but the one deliberate exception
//! (a non-critical NameConstraints, see [`DELIBERATE_ACCEPTS`]), and the exact set of expected
//! SUCCESSes we refuse, each with its `ScopeRefusal`; the README ("Verification against public
//! vectors") says why each is by design.
//!
//! The cases are a copy of the shared vectors in `tests/vectors/x509-limbo/` (see its README).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use base64ct::{Base64, Encoding};
use lantrust_pin::{ScopeRefusal, verify_scoped};
use serde_json::Value;

/// Inside every case's validity (the limbo certificates run 1970 .. 2969): 2026-02-01.
const NOW: u64 = 1_769_904_000;

/// Expected SUCCESSes that lantrust-pin refuses, with the refusal (`Debug` of [`ScopeRefusal`]).
/// Why each is by design: README, "Verification against public vectors".
const REFUSED_SUCCESSES: &[(&str, &str)] = &[
    // 192.0.2.1 (TEST-NET-1) is not a private, link-local or loopback address (§4.2).
    (
        "rfc5280::nc::permitted-ipv4-match",
        "AddressOutOfScope(\"192.0.2.1\")",
    ),
    // The certificate has only a DirName SAN: no host name to verify (webpki also refuses
    // the DirectoryName constraint).
    ("rfc5280::nc::permitted-dn-match", "NameConstraintViolation"),
    // rustls-webpki does not implement RFC 5280 §4.2.1.10's exemption of self-issued
    // intermediates from name constraints; lantrust chains have no intermediates. The error shown
    // is webpki's pick among the paths it tried (the root alone did not sign the leaf).
    ("rfc5280::nc::permitted-self-issued", "BadSignature"),
    // Client certificates (clientAuth, email SANs): lantrust-pin verifies servers only.
    (
        "rfc5280::nc::nc-permits-email-exact",
        "InvalidChain(\"RequiredEkuNotFoundContext(RequiredEkuNotFoundContext { required: KeyPurposeId(1.3.6.1.5.5.7.3.1), present: [KeyPurposeId(1.3.6.1.5.5.7.3.2)] })\")",
    ),
    (
        "rfc5280::nc::nc-permits-email-domain",
        "InvalidChain(\"RequiredEkuNotFoundContext(RequiredEkuNotFoundContext { required: KeyPurposeId(1.3.6.1.5.5.7.3.1), present: [KeyPurposeId(1.3.6.1.5.5.7.3.2)] })\")",
    ),
    (
        "rfc5280::nc::nc-permits-email-literal-asterisk-exact-match",
        "InvalidChain(\"RequiredEkuNotFoundContext(RequiredEkuNotFoundContext { required: KeyPurposeId(1.3.6.1.5.5.7.3.1), present: [KeyPurposeId(1.3.6.1.5.5.7.3.2)] })\")",
    ),
    (
        "rfc5280::nc::nc-permits-email-literal-double-asterisk",
        "InvalidChain(\"RequiredEkuNotFoundContext(RequiredEkuNotFoundContext { required: KeyPurposeId(1.3.6.1.5.5.7.3.1), present: [KeyPurposeId(1.3.6.1.5.5.7.3.2)] })\")",
    ),
    (
        "rfc5280::nc::nc-permits-email-literal-mid-asterisk",
        "InvalidChain(\"RequiredEkuNotFoundContext(RequiredEkuNotFoundContext { required: KeyPurposeId(1.3.6.1.5.5.7.3.1), present: [KeyPurposeId(1.3.6.1.5.5.7.3.2)] })\")",
    ),
];

/// Expected FAILUREs that lantrust-pin accepts on purpose. Each is a chain whose names lie inside
/// the constraints; only a rule about the extension itself is relaxed.
const DELIBERATE_ACCEPTS: &[&str] = &[
    // A root whose NameConstraints are not marked critical. RFC 5280 §4.2.1.10 requires the flag;
    // the CA/B Forum BR (§7.1.2.10.8) allow it non-critical, and x509-limbo's
    // webpki::nc::permitted-dns-match-noncritical expects SUCCESS for this same chain. lantrust's
    // own root is non-critical by default (Mbed TLS cannot load a critical one), and the
    // constraints are enforced all the same.
    "rfc5280::nc::permitted-dns-match-noncritical",
];

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    Base64::decode_vec(&body).expect("PEM body is base64")
}

fn ders(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .expect("array of PEM")
        .iter()
        .map(|p| pem_to_der(p.as_str().expect("PEM string")))
        .collect()
}

/// What lantrust-pin says about one case: `Ok` if any trusted certificate, as the pinned root,
/// accepts the chain for the name; else the refusal of each root.
fn run(case: &Value) -> (String, Result<(), Vec<ScopeRefusal>>) {
    let name = match &case["expected_peer_name"] {
        Value::Null => "example.com".to_string(),
        peer => {
            let kind = peer["kind"].as_str().expect("kind");
            assert!(kind == "DNS" || kind == "IP", "unexpected peer kind {kind}");
            peer["value"].as_str().expect("value").to_string()
        }
    };
    assert!(
        case["validation_time"].is_null(),
        "a case with its own validation time"
    );
    // §3.5 scope covers names strictly under the network's domains: announce the name's parent
    // (`com` for `example.com`: no real network would, but then the chain alone decides).
    let domains = match name.split_once('.') {
        Some((_, parent)) if name.parse::<core::net::IpAddr>().is_err() => {
            vec![parent.to_string()]
        }
        _ => Vec::new(),
    };
    let leaf = pem_to_der(case["peer_certificate"].as_str().expect("peer"));
    let intermediates = ders(&case["untrusted_intermediates"]);
    let mut chain: Vec<&[u8]> = vec![&leaf];
    chain.extend(intermediates.iter().map(Vec::as_slice));
    let mut refusals = Vec::new();
    for root in ders(&case["trusted_certs"]) {
        match verify_scoped(&root, &domains, &chain, &name, NOW) {
            Ok(()) => return (name, Ok(())),
            Err(r) => refusals.push(r),
        }
    }
    (name, Err(refusals))
}

#[test]
fn limbo_name_constraints() {
    let doc: Value = serde_json::from_str(include_str!(
        "vectors/x509-limbo/name-constraints-p384.json"
    ))
    .expect("limbo JSON");
    let cases = doc["testcases"].as_array().expect("testcases");
    assert_eq!(cases.len(), 52);

    let (mut success, mut failure) = (0, 0);
    let mut false_accepts = Vec::new();
    let mut refused_successes: Vec<(String, String)> = Vec::new();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let expected_ok = match case["expected_result"].as_str() {
            Some("SUCCESS") => true,
            Some("FAILURE") => false,
            other => panic!("{id}: expected_result {other:?}"),
        };
        let (name, ours) = run(case);
        match (expected_ok, ours) {
            (true, Ok(())) => {
                success += 1;
                println!("limbo {id}: SUCCESS, accepted for {name}");
            }
            (true, Err(refusals)) => {
                success += 1;
                let why = format!("{:?}", refusals.first().expect("a refusal per root"));
                println!("limbo {id}: SUCCESS expected, REFUSED for {name}: {refusals:?}");
                refused_successes.push((id.to_string(), why));
            }
            (false, Ok(())) => {
                failure += 1;
                println!("limbo {id}: FAILURE expected, ACCEPTED for {name}: FALSE ACCEPT");
                false_accepts.push(id.to_string());
            }
            (false, Err(refusals)) => {
                failure += 1;
                println!("limbo {id}: FAILURE, refused for {name}: {refusals:?}");
            }
        }
    }
    println!(
        "x509-limbo name constraints: {} cases, {success} expect SUCCESS ({} refused), {failure} expect FAILURE ({} accepted)",
        cases.len(),
        refused_successes.len(),
        false_accepts.len()
    );
    assert_eq!((success, failure), (18, 34));
    assert_eq!(
        false_accepts, DELIBERATE_ACCEPTS,
        "FALSE ACCEPT of expected failures beyond the deliberate ones"
    );
    let expected: Vec<(String, String)> = REFUSED_SUCCESSES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        refused_successes, expected,
        "the expected successes lantrust-pin refuses changed"
    );
}
