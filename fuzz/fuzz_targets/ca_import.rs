//! Arbitrary bytes into lantrust-ca's certificate, CRL and root importers and lantrust-keys'
//! PKCS#8 importers: they must return errors, never panic. Whatever parses must re-encode and
//! parse back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

use lantrust_ca::{
    PrivateKey, Root, certificate_from_der, certificate_from_pem, certificate_to_der,
    certificate_to_pem, certificates_from_pem, crl_from_der, crl_from_pem,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = certificate_from_der(data) {
        let der = certificate_to_der(&cert).expect("a parsed certificate re-encodes");
        assert_eq!(
            certificate_from_der(&der).expect("re-encoded certificate parses"),
            cert
        );
        let pem = certificate_to_pem(&cert).expect("PEM encodes");
        assert_eq!(certificate_from_pem(&pem).expect("PEM parses"), cert);
    }
    let _ = crl_from_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);

    // A root is two documents: a 2-byte big-endian length, the certificate, then the key.
    if let [hi, lo, rest @ ..] = data {
        let at = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (cert, key) = rest.split_at(at);
        let _ = Root::from_der(cert, key);
    }

    if let Ok(text) = core::str::from_utf8(data) {
        let _ = certificate_from_pem(text);
        let _ = certificates_from_pem(text);
        let _ = crl_from_pem(text);
        let _ = PrivateKey::from_pkcs8_pem(text);
        if let Some((cert, key)) = text.split_once("\n\n") {
            let _ = Root::from_pem(cert, key);
        }
    }
});
