//! Properties: signed requests verify exactly when untouched; objects survive emit → parse.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_acme::jose::{self, JwsKind, ParsedJws};
use lantrust_acme::{AccountKey, Algorithm, Identifier, NewOrder, from_json, to_json};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sign_verify_and_tamper(payload in proptest::collection::vec(any::<u8>(), 0..200),
                              path in "[a-z0-9/-]{1,40}", flip in any::<prop::sample::Index>()) {
        let key = AccountKey::from_ec_bytes(Algorithm::Es256, &[0x42; 32]).unwrap();
        let url = format!("https://acme.local/{path}");
        let jws = jose::sign(&key, Some("https://acme.local/acct/1"), Some("AAAAAAAAAAAAAAAAAAAAAA"), &url, Some(&payload)).unwrap();
        let body = to_json(&jws);
        let parsed = ParsedJws::parse(&body, JwsKind::Request).unwrap();
        prop_assert_eq!(&parsed.payload, &payload);
        prop_assert_eq!(&parsed.header.url, &url);
        parsed.verify(&key.public_key(), false).unwrap();
        // Flip one bit of the decoded payload: parsing may still succeed, verification must not.
        if !payload.is_empty() {
            let mut p2 = payload;
            let i = flip.index(p2.len());
            p2[i] ^= 1;
            let mut forged = jws;
            forged.payload = lantrust_acme::b64::encode(&p2);
            let parsed = ParsedJws::from_jws(&forged, JwsKind::Request).unwrap();
            prop_assert!(parsed.verify(&key.public_key(), true).is_err());
        }
    }

    #[test]
    fn new_order_round_trips(names in proptest::collection::vec("[a-z][a-z0-9-]{0,20}\\.(local|example\\.com)", 1..5),
                             ip in any::<[u8; 4]>()) {
        let mut identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::dns(n)).collect();
        identifiers.push(Identifier::ip(core::net::IpAddr::from(ip)));
        let o = NewOrder { identifiers, ..Default::default() };
        let back: NewOrder = from_json(&to_json(&o)).unwrap();
        prop_assert_eq!(back, o);
    }
}
