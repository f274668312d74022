//! ECDSA P-521 with SHA-256, the digest openssl signs EC certificates with by default: a root
//! self-signed that way and a device certificate it issued must verify (draft §3.4.1 allows any
//! SHA-2 of 256 bits or more with P-521). FIPS 186-5 §6.4.1 takes the whole 256-bit digest as the
//! integer; the ecdsa crate refuses a prehash shorter than half the field, so `sig.rs` left-pads it.
//!
//! The vectors were made once by openssl 3.0 (a P-521 root, a P-384 device, both `-sha256`):
//!
//! ```sh
//! openssl ecparam -name secp521r1 -genkey -noout -out root.key
//! openssl req -x509 -new -key root.key -sha256 -days 3650 -set_serial 1 -out root.pem \
//!   -subj "/CN=lantrust test root P-521 SHA-256" -addext "basicConstraints=critical,CA:TRUE" \
//!   -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectAltName=DNS:router.local"
//! openssl ecparam -name secp384r1 -genkey -noout -out dev.key
//! openssl req -new -key dev.key -subj /CN=dev1.local -out dev.csr
//! openssl x509 -req -in dev.csr -CA root.pem -CAkey root.key -sha256 -days 3650 -set_serial 2 \
//!   -extfile dev.ext -out dev.pem   # dev.ext: CA:FALSE, digitalSignature, serverAuth, DNS:dev1.local
//! ```
//!
//! and `openssl verify -x509_strict -CAfile root.pem dev.pem` says OK.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_pin::{SIGNATURE_ALGORITHMS, ScopeRefusal, verify_scoped};
use pki_types::alg_id;

const ROOT: &[u8] = include_bytes!("vectors/root-p521-sha256.der");
const DEV1: &[u8] = include_bytes!("vectors/dev1-by-p521-sha256.der");
/// 2027-01-15; both certificates: 2026-12-01 .. 2036-11-28.
const NOW: u64 = 1_800_000_000;

#[test]
fn p521_sha256_root_and_device_verify() {
    assert_eq!(verify_scoped(ROOT, &[], &[DEV1], "dev1.local", NOW), Ok(()));
    assert_eq!(
        verify_scoped(ROOT, &[], &[DEV1], "dev2.local", NOW),
        Err(ScopeRefusal::NameNotInCertificate("dev2.local".into()))
    );
}

#[test]
fn p521_sha256_altered_signature_is_refused() {
    // The last byte of a certificate is the last byte of its signature's `s`.
    let mut altered = DEV1.to_vec();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(
        verify_scoped(ROOT, &[], &[&altered], "dev1.local", NOW),
        Err(ScopeRefusal::BadSignature)
    );
}

#[test]
fn p521_sha256_is_in_the_table() {
    assert!(
        SIGNATURE_ALGORITHMS
            .iter()
            .any(|a| a.public_key_alg_id() == alg_id::ECDSA_P521
                && a.signature_alg_id() == alg_id::ECDSA_SHA256)
    );
}
