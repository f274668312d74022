//! RFC 8555 example objects round-trip; unknown fields tolerated; RFC 9773 CertID.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_acme::*;
use serde_json::Value;

/// Parse, re-emit, and compare as JSON values: nothing lost, nothing invented.
fn round_trip<T: serde::Serialize + for<'de> serde::Deserialize<'de>>(json: &str) -> T {
    let obj: T = from_json(json.as_bytes()).unwrap();
    let again: Value = serde_json::from_slice(&to_json(&obj)).unwrap();
    let orig: Value = serde_json::from_str(json).unwrap();
    assert_eq!(again, orig, "round trip changed the object");
    obj
}

#[test]
fn rfc8555_7_1_1_directory() {
    let d: Directory = round_trip(
        r#"{
  "newNonce": "https://example.com/acme/new-nonce",
  "newAccount": "https://example.com/acme/new-account",
  "newOrder": "https://example.com/acme/new-order",
  "newAuthz": "https://example.com/acme/new-authz",
  "revokeCert": "https://example.com/acme/revoke-cert",
  "keyChange": "https://example.com/acme/key-change",
  "meta": {
    "termsOfService": "https://example.com/acme/terms/2017-5-30",
    "website": "https://www.example.com/",
    "caaIdentities": ["example.com"],
    "externalAccountRequired": false
  }
}"#,
    );
    assert_eq!(d.new_nonce, "https://example.com/acme/new-nonce");
    assert_eq!(
        d.meta.unwrap().caa_identities,
        vec!["example.com".to_string()]
    );
}

#[test]
fn directory_with_profiles_renewal_info_and_unknown_fields() {
    let json = r#"{"newNonce":"n","newAccount":"a","newOrder":"o","revokeCert":"r","keyChange":"k",
        "renewalInfo":"https://example.com/acme/renewal-info","xyz":1,
        "meta":{"profiles":{"classic":"The same profile you're accustomed to","tlsserver":"short"},"foo":[1]}}"#;
    let d: Directory = from_json(json.as_bytes()).unwrap();
    assert_eq!(
        d.renewal_info.as_deref(),
        Some("https://example.com/acme/renewal-info")
    );
    assert_eq!(d.meta.unwrap().profiles.unwrap().len(), 2);
}

#[test]
fn rfc8555_7_1_2_account() {
    let a: Account = round_trip(
        r#"{
  "status": "valid",
  "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
  "termsOfServiceAgreed": true,
  "orders": "https://example.com/acme/orders/rzGoeA"
}"#,
    );
    assert_eq!(a.status, AccountStatus::Valid);
    assert_eq!(
        https_contacts(["dev-12cd56.local", "dev-12cd56.example.com"]),
        vec![
            "https://dev-12cd56.local/".to_string(),
            "https://dev-12cd56.example.com/".to_string()
        ]
    );
}

#[test]
fn rfc8555_7_1_3_order() {
    let o: Order = round_trip(
        r#"{
  "status": "valid",
  "expires": "2016-01-20T14:09:07.99Z",
  "identifiers": [
    { "type": "dns", "value": "www.example.org" },
    { "type": "dns", "value": "example.org" }
  ],
  "notBefore": "2016-01-01T00:00:00Z",
  "notAfter": "2016-01-08T00:00:00Z",
  "authorizations": [
    "https://example.com/acme/authz/PAniVnsZcis",
    "https://example.com/acme/authz/r4HqLzrSrpI"
  ],
  "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
  "certificate": "https://example.com/acme/cert/mAt3xBGaobw"
}"#,
    );
    assert_eq!(o.status, OrderStatus::Valid);
    assert_eq!(o.identifiers[1], Identifier::dns("example.org"));
    // A newOrder with an RFC 8738 IP identifier and an RFC 9773 `replaces`.
    let n: NewOrder = round_trip(
        r#"{"identifiers":[{"type":"ip","value":"192.168.1.7"},{"type":"dns","value":"dev.local"}],"replaces":"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}"#,
    );
    assert_eq!(
        n.identifiers[0],
        Identifier::ip("192.168.1.7".parse().unwrap())
    );
    assert_eq!(Identifier::ip("fe80::1".parse().unwrap()).value, "fe80::1");
    // Unknown identifier types are kept.
    let u: Identifier = round_trip(r#"{"type":"permanent-identifier","value":"x"}"#);
    assert_eq!(u.kind, IdentifierType::Other("permanent-identifier".into()));
    // Unknown status is an error with a byte offset.
    match from_json::<Order>(
        br#"{"status":"weird","identifiers":[],"authorizations":[],"finalize":"f"}"#,
    ) {
        Err(Error::Json { offset, .. }) => assert!(offset > 0 && offset <= 20, "offset {offset}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc8555_7_1_4_authorization_and_challenges() {
    let a: Authorization = round_trip(
        r#"{
  "status": "valid",
  "expires": "2015-03-01T14:09:07.99Z",
  "identifier": { "type": "dns", "value": "www.example.org" },
  "challenges": [
    {
      "url": "https://example.com/acme/chall/prV_B7yEyA4",
      "type": "http-01",
      "status": "valid",
      "token": "DGyRejmCefe7v4NfDGDKfA",
      "validated": "2014-12-01T12:05:58.16Z"
    }
  ],
  "wildcard": false
}"#,
    );
    assert_eq!(a.challenges[0].kind, ChallengeType::Http01);
    // RFC 8555 §8.4 dns-01 and RFC 8737 §3 tls-alpn-01 challenge objects.
    let c: Challenge = round_trip(
        r#"{"type":"dns-01","url":"https://example.com/acme/chall/Rg5dV14Gh1Q","status":"pending","token":"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"}"#,
    );
    assert_eq!(c.kind, ChallengeType::Dns01);
    let t: Challenge = round_trip(
        r#"{"type":"tls-alpn-01","url":"https://example.com/acme/authz/1234/1","status":"pending","token":"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"}"#,
    );
    assert_eq!(t.kind, ChallengeType::TlsAlpn01);
    // Unknown challenge type with its own fields is kept verbatim.
    let x: Challenge = round_trip(
        r#"{"type":"device-attest-01","url":"https://e/c/1","status":"pending","token":"abc","attestationNonce":"xyz"}"#,
    );
    assert_eq!(x.kind.as_str(), "device-attest-01");
    assert_eq!(x.extra["attestationNonce"], "xyz");
}

#[test]
fn rfc8555_6_7_1_problem_with_subproblems() {
    let p: Problem = round_trip(
        r#"{
    "type": "urn:ietf:params:acme:error:malformed",
    "detail": "Some of the identifiers requested were rejected",
    "subproblems": [
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Invalid underscore in DNS name \"_example.org\"",
            "identifier": { "type": "dns", "value": "_example.org" }
        },
        {
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "This CA will not issue for \"example.net\"",
            "identifier": { "type": "dns", "value": "example.net" }
        }
    ]
}"#,
    );
    assert_eq!(p.kind, ProblemType::Malformed);
    assert_eq!(p.subproblems[1].kind, ProblemType::RejectedIdentifier);
    assert!(p.to_string().contains("example.net"));
    // Every registered URN maps to its own variant and back.
    let urns = [
        "accountDoesNotExist",
        "alreadyReplaced",
        "alreadyRevoked",
        "badCSR",
        "badNonce",
        "badPublicKey",
        "badRevocationReason",
        "badSignatureAlgorithm",
        "caa",
        "compound",
        "connection",
        "dns",
        "externalAccountRequired",
        "incorrectResponse",
        "invalidContact",
        "malformed",
        "orderNotReady",
        "rateLimited",
        "rejectedIdentifier",
        "serverInternal",
        "tls",
        "unauthorized",
        "unsupportedContact",
        "unsupportedIdentifier",
        "userActionRequired",
    ];
    for u in urns {
        let full = format!("urn:ietf:params:acme:error:{u}");
        let t = ProblemType::from(full.as_str());
        assert!(!matches!(t, ProblemType::Other(_)), "{u} not registered");
        assert_eq!(t.as_str(), full);
    }
    // badSignatureAlgorithm carries `algorithms`; kept in extra.
    let b: Problem = round_trip(
        r#"{"type":"urn:ietf:params:acme:error:badSignatureAlgorithm","algorithms":["ES256","ES384"]}"#,
    );
    assert_eq!(b.extra["algorithms"][1], "ES384");
}

#[test]
fn payloads_round_trip() {
    let _: NewAccount =
        round_trip(r#"{"contact":["https://dev.local/"],"termsOfServiceAgreed":true}"#);
    let _: NewAccount = round_trip(r#"{"onlyReturnExisting":true}"#);
    let f: Finalize = round_trip(r#"{"csr":"MIIBPTCBxAIBADBFMQ"}"#);
    assert_eq!(f.csr_der().unwrap()[..2], [0x30, 0x82]);
    let r: Revocation = round_trip(r#"{"certificate":"MIIEDTCCAvegAwIBAgIRAP8","reason":4}"#);
    assert_eq!(r.reason, Some(4));
    let _: AccountUpdate = round_trip(r#"{"status":"deactivated"}"#);
    let ri: RenewalInfo = round_trip(
        r#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},"explanationURL":"https://acme.example.com/docs/ari"}"#,
    );
    assert_eq!(ri.suggested_window.start, "2025-01-02T04:00:00Z");
}

/// RFC 9773 §4.1 example: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and
/// serial 0x0087654321 give `aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE`. openssl makes a certificate with
/// exactly that AKI (self-signed, explicit SKI copied into the AKI) and serial.
#[test]
fn rfc9773_cert_id_from_openssl_certificate() {
    let dir = std::env::temp_dir().join(format!("lantrust-acme-certid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=ari",
            "-days",
            "1",
            "-set_serial",
            "0x87654321",
            "-outform",
            "DER",
            "-addext",
            "subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4",
            "-addext",
            "authorityKeyIdentifier=keyid:always",
        ])
        .arg("-keyout")
        .arg(dir.join("k.pem"))
        .arg("-out")
        .arg(dir.join("c.der"))
        .output();
    let Ok(out) = out else {
        lantrust_test_support::skip("openssl not installed; RFC 9773 CertID test needs it");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let der = std::fs::read(dir.join("c.der")).unwrap();
    assert_eq!(
        cert_id(&der).unwrap(),
        "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    );
    assert!(matches!(
        cert_id(b"\x30\x03\x02\x01\x01"),
        Err(Error::Certificate(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Found by the `acme_objects` fuzz target: an unknown member holding a number too long for an
/// f64 (a 33-digit integer) re-emitted as `5e+32`, which serde_json's default fast float parser
/// read back as a different f64, so a second emission differed. lantrust-acme's `std` feature
/// turns on serde_json's `float_roundtrip` (correctly rounded parsing): emit → parse → emit is
/// stable. The no_std device build keeps serde_json's smaller fast parser (its code size is a
/// README figure); the enrollment does not re-emit what it parsed.
#[test]
fn unknown_long_number_member_re_emits_stably() {
    let input = br#"{"cermalson":499999999999999999999999999999999}"#;
    let p: Problem = from_json(input).unwrap();
    let once = to_json(&p);
    let again: Problem = from_json(&once).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&to_json(&again)),
        String::from_utf8_lossy(&once)
    );
}
