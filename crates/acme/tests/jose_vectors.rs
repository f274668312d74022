//! RFC 7515 App. A, RFC 7638 §3.1 and RFC 8037 App. A vectors, plus ACME header rules.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_acme::jose::{self, JwsKind, ParsedJws};
use lantrust_acme::{AccountKey, Algorithm, Error, Jwk, b64};

const A_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

// RFC 7515 App. A.2.1 RSA key.
const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const A2_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
const A2_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
const A2_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
const A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 App. A.3 P-256 key and signature.
const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const A3_SIG: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

fn big(s: &str) -> rsa::BigUint {
    rsa::BigUint::from_bytes_be(&b64::decode(s, "test").unwrap())
}

fn a2_key() -> AccountKey {
    let key = rsa::RsaPrivateKey::from_components(
        big(A2_N),
        big("AQAB"),
        big(A2_D),
        vec![big(A2_P), big(A2_Q)],
    )
    .unwrap();
    AccountKey::from_rsa(key).unwrap()
}

#[test]
fn rfc7515_a2_rs256_exact_signature_bytes() {
    let key = a2_key();
    assert_eq!(key.algorithm(), Algorithm::Rs256);
    let input = format!("eyJhbGciOiJSUzI1NiJ9.{A_PAYLOAD}");
    let sig = key.sign(input.as_bytes()).unwrap();
    assert_eq!(b64::encode(&sig), A2_SIG);
    // And it verifies with the public JWK built from n/e.
    let jwk =
        Jwk::from_json(format!(r#"{{"kty":"RSA","n":"{A2_N}","e":"AQAB"}}"#).as_bytes()).unwrap();
    assert_eq!(key.jwk(), jwk);
    let pk = jwk.to_public_key().unwrap();
    pk.verify(Algorithm::Rs256, input.as_bytes(), &sig, false)
        .unwrap();
    // One flipped bit anywhere fails.
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(matches!(
        pk.verify(Algorithm::Rs256, input.as_bytes(), &bad, false),
        Err(Error::BadSignature)
    ));
    // Wrong alg for the key type.
    assert!(matches!(
        pk.verify(Algorithm::Es256, input.as_bytes(), &sig, false),
        Err(Error::KeyAlgMismatch(_))
    ));
}

#[test]
fn rfc7515_a3_es256_verifies() {
    let jwk = Jwk::from_json(A3_JWK.as_bytes()).unwrap();
    let pk = jwk.to_public_key().unwrap();
    let input = format!("eyJhbGciOiJFUzI1NiJ9.{A_PAYLOAD}");
    let sig = b64::decode(A3_SIG, "sig").unwrap();
    // The RFC's signature happens to be high-S or low-S; accept it in permissive mode always,
    // and in strict mode exactly when it is low-S.
    pk.verify(Algorithm::Es256, input.as_bytes(), &sig, true)
        .unwrap();
    let s = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    let strict = pk.verify(Algorithm::Es256, input.as_bytes(), &sig, false);
    match s.normalize_s() {
        None => strict.unwrap(),
        Some(low) => {
            assert!(matches!(strict, Err(Error::NonCanonicalSignature)));
            pk.verify(Algorithm::Es256, input.as_bytes(), &low.to_bytes(), false)
                .unwrap();
        }
    }
    // Tampered payload fails; truncated signature is malformed; ES384 with a P-256 key mismatches.
    let bad_input = format!("eyJhbGciOiJFUzI1NiJ9.{A_PAYLOAD}x");
    assert!(matches!(
        pk.verify(Algorithm::Es256, bad_input.as_bytes(), &sig, true),
        Err(Error::BadSignature)
    ));
    assert!(matches!(
        pk.verify(Algorithm::Es256, input.as_bytes(), &sig[..63], true),
        Err(Error::MalformedSignature)
    ));
    assert!(matches!(
        pk.verify(Algorithm::Es384, input.as_bytes(), &sig, true),
        Err(Error::KeyAlgMismatch(_))
    ));
}

#[test]
fn high_s_signature_is_rejected_unless_allowed() {
    use p384::elliptic_curve::ops::Neg;
    let mut rng = rand::rngs::OsRng;
    let key = AccountKey::generate(Algorithm::Es384, &mut rng).unwrap();
    let msg = b"header.payload";
    let sig = key.sign(msg).unwrap();
    let pk = key.public_key();
    pk.verify(Algorithm::Es384, msg, &sig, false).unwrap();
    // Build the other valid encoding (r, n - s).
    let s = p384::ecdsa::Signature::from_slice(&sig).unwrap();
    let (r, s_val) = s.split_scalars();
    let high =
        p384::ecdsa::Signature::from_scalars(r.to_bytes(), (*s_val).neg().to_bytes()).unwrap();
    let high = high.to_bytes();
    assert!(matches!(
        pk.verify(Algorithm::Es384, msg, &high, false),
        Err(Error::NonCanonicalSignature)
    ));
    pk.verify(Algorithm::Es384, msg, &high, true).unwrap();
}

#[test]
fn all_ec_algorithms_sign_and_verify() {
    let mut rng = rand::rngs::OsRng;
    for alg in [Algorithm::Es256, Algorithm::Es384, Algorithm::Es512] {
        let key = AccountKey::generate(alg, &mut rng).unwrap();
        let jws = jose::sign(
            &key,
            None,
            Some("bm9uY2U"),
            "https://example.com/acme/new-account",
            Some(b"{}"),
        )
        .unwrap();
        let body = serde_json::to_vec(&jws).unwrap();
        let parsed = ParsedJws::parse(&body, JwsKind::Request).unwrap();
        assert_eq!(parsed.header.alg, alg);
        let pk = parsed.verify_embedded(false).unwrap();
        assert_eq!(pk, key.public_key());
        // Deterministic signatures: same input → same bytes.
        assert_eq!(key.sign(b"x").unwrap(), key.sign(b"x").unwrap());
        // Secret round trip.
        let secret = key.ec_secret_bytes().unwrap();
        let again = AccountKey::from_ec_bytes(alg, &secret).unwrap();
        assert_eq!(again.jwk(), key.jwk());
        assert!(!format!("{key:?}").contains(&b64::encode(&secret)));
    }
}

#[test]
fn rfc7515_a5_unsecured_is_rejected() {
    let body =
        format!(r#"{{"protected":"eyJhbGciOiJub25lIn0","payload":"{A_PAYLOAD}","signature":""}}"#);
    match ParsedJws::parse(body.as_bytes(), JwsKind::Request) {
        Err(Error::UnsupportedAlgorithm(a)) => assert_eq!(a, "none"),
        other => panic!("expected rejection, got {other:?}"),
    }
    // HMAC (A.1) is refused the same way.
    let hs = r#"{"protected":"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9","payload":"e30","signature":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}"#;
    assert!(
        matches!(ParsedJws::parse(hs.as_bytes(), JwsKind::Request), Err(Error::UnsupportedAlgorithm(a)) if a == "HS256")
    );
}

fn jws_with_header(header: &str) -> Vec<u8> {
    format!(
        r#"{{"protected":"{}","payload":"e30","signature":"AAAA"}}"#,
        b64::encode(header.as_bytes())
    )
    .into_bytes()
}

#[test]
fn header_rules_of_rfc8555_6_2() {
    let jwk = A3_JWK;
    type Check = fn(&Error) -> bool;
    let cases: Vec<(String, Check)> = vec![
        (
            format!(
                r#"{{"alg":"ES256","jwk":{jwk},"kid":"https://x/acct/1","nonce":"AAAA","url":"https://x/"}}"#
            ),
            |e| matches!(e, Error::JwkAndKid),
        ),
        (
            r#"{"alg":"ES256","nonce":"AAAA","url":"https://x/"}"#.to_string(),
            |e| matches!(e, Error::NoKey),
        ),
        (
            r#"{"alg":"ES256","kid":"k","url":"https://x/"}"#.to_string(),
            |e| matches!(e, Error::MissingHeader("nonce")),
        ),
        (
            r#"{"alg":"ES256","kid":"k","nonce":"AAAA"}"#.to_string(),
            |e| matches!(e, Error::MissingHeader("url")),
        ),
        (
            r#"{"alg":"ES256","kid":"k","nonce":"AAAA","url":"u","b64":false,"crit":["b64"]}"#
                .to_string(),
            |e| matches!(e, Error::ForbiddenHeader(h) if h == "b64"),
        ),
        (
            r#"{"alg":"ES256","kid":"k","nonce":"AAAA","url":"u","crit":["exp"]}"#.to_string(),
            |e| matches!(e, Error::ForbiddenHeader(h) if h == "crit"),
        ),
        (
            r#"{"alg":"ES256","alg":"none","kid":"k","nonce":"AAAA","url":"u"}"#.to_string(),
            |e| matches!(e, Error::Json { .. }),
        ),
        (
            r#"{"alg":"ES256","kid":"k","nonce":"not base64!","url":"u"}"#.to_string(),
            |e| matches!(e, Error::Base64 { field: "nonce" }),
        ),
        (
            r#"{"alg":"RS512","kid":"k","nonce":"AAAA","url":"u"}"#.to_string(),
            |e| matches!(e, Error::UnsupportedAlgorithm(_)),
        ),
    ];
    for (h, check) in cases {
        let err = ParsedJws::parse(&jws_with_header(&h), JwsKind::Request).unwrap_err();
        assert!(check(&err), "{h} gave {err:?}");
    }
    // Unprotected header and general serialization are refused.
    let unprot = br#"{"protected":"e30","header":{"alg":"ES256"},"payload":"","signature":""}"#;
    assert!(matches!(
        ParsedJws::parse(unprot, JwsKind::Request),
        Err(Error::Json { .. })
    ));
    let general = br#"{"payload":"","signatures":[]}"#;
    assert!(matches!(
        ParsedJws::parse(general, JwsKind::Request),
        Err(Error::Json { .. })
    ));
    // RSA JWK with ES256 header: key type mismatch is detected at verification.
    let rsa = format!(
        r#"{{"alg":"ES256","jwk":{{"kty":"RSA","n":"{A2_N}","e":"AQAB"}},"nonce":"AAAA","url":"u"}}"#
    );
    let p = ParsedJws::parse(&jws_with_header(&rsa), JwsKind::Request).unwrap();
    assert!(matches!(
        p.verify_embedded(false),
        Err(Error::KeyAlgMismatch(_))
    ));
}

#[test]
fn rsa_keys_below_2048_bits_are_refused() {
    // 1024-bit modulus (RFC 7517 App. A.1 style size; content irrelevant beyond the size check).
    let n = b64::encode(&[0xC5u8; 128]);
    let jwk =
        Jwk::from_json(format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#).as_bytes()).unwrap();
    assert!(matches!(
        jwk.to_public_key(),
        Err(Error::RsaKeyTooSmall { bits: 1024 })
    ));
}

#[test]
fn rfc7638_thumbprint() {
    let v: serde_json::Value =
        serde_json::from_slice(include_bytes!("vectors/rfc7638-thumbprint.json")).unwrap();
    let jwk: Jwk = serde_json::from_value(v["jwk"].clone()).unwrap();
    assert_eq!(
        jwk.thumbprint(),
        v["thumbprint_sha256_b64url"].as_str().unwrap()
    );
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc8037_thumbprint() {
    // RFC 8037 App. A.3.
    let jwk = Jwk::from_json(
        br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    )
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    assert!(jwk.to_public_key().is_err());
}

#[test]
fn jwk_parse_rejects_private_and_malformed() {
    let with_d = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
    assert!(Jwk::from_json(with_d).is_err());
    let short_x = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    assert!(Jwk::from_json(short_x).is_err());
    let off_curve = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FFzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    assert!(Jwk::from_json(off_curve).unwrap().to_public_key().is_err());
    assert!(Jwk::from_json(br#"{"kty":"oct","k":"AAAA"}"#).is_err());
    // Extra members (alg, kid, use) are tolerated and not part of the thumbprint.
    let extra = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","kid":"1"}"#;
    assert_eq!(
        Jwk::from_json(extra).unwrap(),
        Jwk::from_json(A3_JWK.as_bytes()).unwrap()
    );
}

#[test]
fn key_authorization_and_challenge_values() {
    let v: serde_json::Value =
        serde_json::from_slice(include_bytes!("vectors/rfc7638-thumbprint.json")).unwrap();
    let jwk: Jwk = serde_json::from_value(v["jwk"].clone()).unwrap();
    let token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    let ka = jose::key_authorization(token, &jwk);
    assert_eq!(
        ka,
        format!("{token}.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    // dns-01: base64url(SHA-256(ka)), checked against an independent SHA-256.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(ka.as_bytes());
    assert_eq!(jose::dns01_txt_value(&ka), b64::encode(&digest));
    assert_eq!(jose::dns01_txt_value(&ka).len(), 43);
    // tls-alpn-01: DER OCTET STRING (04 20) of the same digest, decodable by der.
    let ext = jose::tls_alpn01_extension_value(&ka);
    use der::Decode;
    let os = der::asn1::OctetString::from_der(&ext).unwrap();
    assert_eq!(os.as_bytes(), &digest[..]);
    assert_eq!(
        jose::http01_path(token),
        format!("/.well-known/acme-challenge/{token}")
    );
    assert!(jose::token_is_valid(token));
    assert!(!jose::token_is_valid("short"));
}

#[test]
fn post_as_get_and_key_change_inner() {
    let mut rng = rand::rngs::OsRng;
    let old = AccountKey::generate(Algorithm::Es384, &mut rng).unwrap();
    let new = AccountKey::generate(Algorithm::Es256, &mut rng).unwrap();
    let get = jose::sign(
        &old,
        Some("https://x/acct/1"),
        Some("AAAA"),
        "https://x/order/1",
        None,
    )
    .unwrap();
    assert_eq!(get.payload, "");
    let p = ParsedJws::from_jws(&get, JwsKind::Request).unwrap();
    assert!(p.is_post_as_get());
    p.verify(&old.public_key(), false).unwrap();
    // A POST-as-GET signed by another key fails.
    assert!(matches!(
        p.verify(
            &AccountKey::generate(Algorithm::Es384, &mut rng)
                .unwrap()
                .public_key(),
            false
        ),
        Err(Error::BadSignature)
    ));

    let inner =
        jose::key_change_inner(&new, &old, "https://x/acct/1", "https://x/key-change").unwrap();
    let p = ParsedJws::from_jws(&inner, JwsKind::KeyChangeInner).unwrap();
    p.verify_embedded(false).unwrap();
    let kc: lantrust_acme::KeyChange = lantrust_acme::from_json(&p.payload).unwrap();
    assert_eq!(kc.old_key, old.jwk());
    // The inner JWS must not carry a nonce; an outer one must.
    assert!(ParsedJws::from_jws(&inner, JwsKind::Request).is_err());
    let with_nonce = jose::sign(
        &new,
        None,
        Some("AAAA"),
        "https://x/key-change",
        Some(b"{}"),
    )
    .unwrap();
    assert!(matches!(
        ParsedJws::from_jws(&with_nonce, JwsKind::KeyChangeInner),
        Err(Error::ForbiddenHeader(_))
    ));
}
