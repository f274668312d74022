//! JWS parse + header rules + verification (lantrust-acme): never panics, and anything that
//! verifies must have passed every RFC 8555 §6.2 rule.
#![no_main]
use lantrust_acme::jose::{JwsKind, KeyRef, ParsedJws};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lantrust_acme::Jwk::from_json(data).map(|j| {
        let _ = j.thumbprint();
        let _ = j.to_public_key();
    });
    for kind in [JwsKind::Request, JwsKind::KeyChangeInner] {
        let Ok(parsed) = ParsedJws::parse(data, kind) else {
            continue;
        };
        if kind == JwsKind::Request {
            assert!(parsed.header.nonce.is_some());
        }
        if let KeyRef::Jwk(jwk) = &parsed.header.key
            && let Ok(key) = jwk.to_public_key()
        {
            for allow_high_s in [false, true] {
                if parsed.verify(&key, allow_high_s).is_ok() {
                    assert!(key.supports(parsed.header.alg));
                }
            }
        }
    }
});
