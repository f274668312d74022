//! Subordinate CA mode against a company root made by openssl: the CA request is what openssl
//! reads, the certificate openssl signs from it imports, device certificates issued under it verify
//! with openssl (company root trusted, sub-CA untrusted) and rustls-webpki, and certificates that
//! are not what was requested are refused with a message that says what to fix.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use core::time::Duration;

use lantrust_ca::{
    DeviceRequest, Error, IssuanceOptions, KeyAlgorithm, NameConstraints, PrivateKey, Root,
    RootConfig, ca_request, ca_request_from_pem, ca_request_to_pem, certificate_from_pem,
    certificate_to_der, certificate_to_pem, certificates_from_pem,
};
use lantrust_test_support::{company_root, openssl_output, sign_csr};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn setup(tag: &str) -> Option<PathBuf> {
    if !lantrust_test_support::have("openssl") {
        lantrust_test_support::skip("openssl not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("lantrust-subca-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The company root: openssl's own, P-384, self-signed.
    company_root(&dir, "company", "Example Corp Root CA");
    Some(dir)
}

fn config() -> RootConfig {
    let mut c = RootConfig::new("acme", vec!["corp.example".into()]);
    c.name_constraints = NameConstraints::Critical;
    c
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

#[test]
fn openssl_signed_subordinate_issues_devices_that_verify_under_the_company_root() {
    let Some(dir) = setup("ok") else { return };
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let req = ca_request(&config(), &key).unwrap();
    let pem = ca_request_to_pem(&req).unwrap();
    std::fs::write(dir.join("ca.csr"), &pem).unwrap();
    assert_eq!(ca_request_from_pem(&pem).unwrap(), req);
    // openssl reads the request, its signature, and the extensions asked for.
    let (ok, text) = openssl_output(
        &dir,
        &["req", "-in", "ca.csr", "-verify", "-noout", "-text"],
    );
    assert!(ok, "{text}");
    for want in [
        "verify OK",
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "X509v3 Name Constraints: critical",
        "DNS:local",
        "DNS:corp.example",
        "IP:192.168.0.0/255.255.0.0",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }

    sign_csr(&dir, "company", "ca.csr", "subca.pem", None);
    let cert = certificate_from_pem(&read(&dir, "subca.pem")).unwrap();
    let chain = certificates_from_pem(&read(&dir, "company.pem")).unwrap();
    let sub = Root::from_subordinate(cert, key, chain, &req, now()).unwrap();
    assert_eq!(sub.chain().len(), 1);

    // A device certificate from the sub-CA.
    let dev = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let leaf = sub
        .issuer()
        .issue(
            &DeviceRequest {
                device_id: "cam-1".into(),
                dns_names: vec!["cam-1.local".into(), "cam-1.corp.example".into()],
                ip_addrs: vec![],
                public_key: dev.public_key_info(),
            },
            &IssuanceOptions::default(),
            now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    std::fs::write(dir.join("leaf.pem"), certificate_to_pem(&leaf).unwrap()).unwrap();
    let (ok, text) = openssl_output(
        &dir,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "company.pem",
            "-untrusted",
            "subca.pem",
            "-verify_hostname",
            "cam-1.corp.example",
            "leaf.pem",
        ],
    );
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");
    // A name outside the constraints, signed with the sub-CA key as an attacker holding it would:
    // refused by openssl and rustls-webpki.
    let evil = sub
        .issuer()
        .issue(
            &DeviceRequest {
                device_id: "www".into(),
                dns_names: vec!["www.example.com".into()],
                ip_addrs: vec![],
                public_key: dev.public_key_info(),
            },
            &IssuanceOptions::default(),
            now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    std::fs::write(dir.join("evil.pem"), certificate_to_pem(&evil).unwrap()).unwrap();
    let (ok, text) = openssl_output(
        &dir,
        &[
            "verify",
            "-CAfile",
            "company.pem",
            "-untrusted",
            "subca.pem",
            "evil.pem",
        ],
    );
    assert!(
        !ok && text.contains("permitted subtree violation"),
        "{text}"
    );

    let anchor_der = certificate_to_der(sub.anchor().unwrap()).unwrap();
    let sub_der = CertificateDer::from(sub.issuer().certificate_der().to_vec());
    let verify = |leaf: &x509_cert::Certificate, name: &str| -> Result<(), webpki::Error> {
        let anchor_cert = CertificateDer::from(anchor_der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&anchor_cert)?;
        let leaf = CertificateDer::from(certificate_to_der(leaf).unwrap());
        let ee = webpki::EndEntityCert::try_from(&leaf)?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            core::slice::from_ref(&sub_der),
            UnixTime::since_unix_epoch(now()),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )?;
        ee.verify_is_valid_for_subject_name(&ServerName::try_from(name.to_string()).unwrap())
    };
    verify(&leaf, "cam-1.local").unwrap();
    verify(&leaf, "cam-1.corp.example").unwrap();
    assert_eq!(
        verify(&evil, "www.example.com"),
        Err(webpki::Error::NameConstraintViolation)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_refuses_what_was_not_requested() {
    let Some(dir) = setup("refuse") else { return };
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let req = ca_request(&config(), &key).unwrap();
    std::fs::write(dir.join("ca.csr"), ca_request_to_pem(&req).unwrap()).unwrap();
    let chain = || certificates_from_pem(&read(&dir, "company.pem")).unwrap();
    let import = |file: &str| {
        let cert = certificate_from_pem(&read(&dir, file)).unwrap();
        let key = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
        Root::from_subordinate(cert, key, chain(), &req, now()).map(|_| ())
    };

    // Another key's request, signed properly: the certificate is not for our key.
    let other = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let other_req = ca_request(&config(), &other).unwrap();
    std::fs::write(
        dir.join("other.csr"),
        ca_request_to_pem(&other_req).unwrap(),
    )
    .unwrap();
    sign_csr(&dir, "company", "other.csr", "other.pem", None);
    assert!(matches!(import("other.pem"), Err(Error::KeyMismatch)));

    let base = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\n";
    let cases = [
        // The company CA dropped the name constraints.
        (base.to_string(), "no nameConstraints"),
        // Wider constraints: an Internet domain.
        (
            format!(
                "{base}nameConstraints=critical,permitted;DNS:local,permitted;DNS:example.com,permitted;IP:192.168.0.0/255.255.0.0\n"
            ),
            "DNS:example.com",
        ),
        // No iPAddress subtree: every address would be allowed.
        (
            format!("{base}nameConstraints=critical,permitted;DNS:local\n"),
            "no iPAddress subtree",
        ),
        // No pathlen.
        (
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\nnameConstraints=critical,permitted;DNS:local,permitted;IP:10.0.0.0/255.0.0.0\n".to_string(),
            "pathlen:0",
        ),
        // EKU widened.
        (
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth,codeSigning\nnameConstraints=critical,permitted;DNS:local,permitted;IP:10.0.0.0/255.0.0.0\n".to_string(),
            "other than serverAuth",
        ),
        // Not a CA.
        ("basicConstraints=critical,CA:FALSE\n".to_string(), "CA:TRUE"),
    ];
    for (i, (ext, want)) in cases.iter().enumerate() {
        let out = format!("case{i}.pem");
        sign_csr(&dir, "company", "ca.csr", &out, Some(ext));
        let err = import(&out).unwrap_err().to_string();
        assert!(err.contains(want), "case {i}: {err}");
    }
    // Narrower constraints are fine (one domain, one private range).
    sign_csr(
        &dir,
        "company",
        "ca.csr",
        "narrow.pem",
        Some(&format!(
            "{base}nameConstraints=critical,permitted;DNS:local,permitted;IP:192.168.7.0/255.255.255.0\n"
        )),
    );
    import("narrow.pem").unwrap();
    // No chain, or the wrong one.
    let cert = certificate_from_pem(&read(&dir, "narrow.pem")).unwrap();
    let key2 = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    let err = Root::from_subordinate(cert.clone(), key2, vec![], &req, now()).unwrap_err();
    assert!(err.to_string().contains("no chain given"), "{err}");
    let key3 = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    let err = Root::from_subordinate(cert.clone(), key3, vec![cert], &req, now()).unwrap_err();
    assert!(err.to_string().contains("was issued by"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
