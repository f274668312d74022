//! Planned root rotation (issue 15): the successor root keeps the old root's profile with a new
//! key (draft §4.11), and the link certificate lets a party that trusts only the old root reach
//! the successor's certificates — checked with the openssl CLI and rustls-webpki.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lantrust_ca::{
    DeviceRequest, Error, IssuanceOptions, KeyAlgorithm, NameConstraints, PrivateKey, Root,
    RootConfig, certificate_to_der, certificate_to_pem, is_link,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn old_root(nc: NameConstraints) -> Root {
    let mut cfg = RootConfig::new("router", vec!["home.arpa".into()]);
    cfg.name_constraints = nc;
    cfg.validity_years = 5;
    cfg.ip_addrs = vec!["192.168.1.1".parse().unwrap()];
    Root::generate(
        &cfg,
        now() - Duration::from_secs(86_400),
        &mut rand::rngs::OsRng,
    )
    .unwrap()
}

fn leaf(root: &Root, name: &str) -> Vec<u8> {
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let req = DeviceRequest {
        device_id: "cam".into(),
        dns_names: vec![name.into()],
        ip_addrs: vec![],
        public_key: key.public_key_info(),
    };
    let cert = root
        .issue(
            &req,
            &IssuanceOptions::default(),
            now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    certificate_to_der(&cert).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn webpki(anchor: &Root, intermediates: &[Vec<u8>], leaf: &[u8], name: &str) -> bool {
    let root_der = CertificateDer::from(anchor.certificate_der().to_vec());
    let anchor = webpki::anchor_from_trusted_cert(&root_der).unwrap();
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let leaf = CertificateDer::from(leaf.to_vec());
    let ee = webpki::EndEntityCert::try_from(&leaf).unwrap();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &inter,
        UnixTime::since_unix_epoch(now()),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .is_ok()
        && ee
            .verify_is_valid_for_subject_name(&ServerName::try_from(name.to_string()).unwrap())
            .is_ok()
}

#[test]
fn successor_keeps_the_profile_with_a_new_key() {
    for nc in NameConstraints::ALL {
        let old = old_root(nc);
        let new = old.successor(now(), &mut rand::rngs::OsRng).unwrap();
        let (o, n) = (
            &old.certificate().tbs_certificate,
            &new.certificate().tbs_certificate,
        );
        assert_ne!(o.subject_public_key_info, n.subject_public_key_info);
        assert_eq!(o.subject, n.subject);
        assert_ne!(o.serial_number, n.serial_number);
        assert_ne!(old.key_identifier(), new.key_identifier());
        // Same extensions but the key identifiers: SANs, CA, KU, name constraints (and their
        // criticality, or their absence).
        let strip = |c: &x509_cert::Certificate| {
            c.tbs_certificate
                .extensions
                .clone()
                .unwrap()
                .into_iter()
                .filter(|e| {
                    e.extn_id != const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER
                        && e.extn_id != const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(old.certificate()), strip(new.certificate()), "{nc}");
        // Five years, like the old one.
        let years = (n.validity.not_after.to_unix_duration()
            - n.validity.not_before.to_unix_duration())
        .as_secs()
            / 86_400
            / 365;
        assert_eq!(years, 5);
        // The same key again is refused (§4.11).
        let again = PrivateKey::from_pkcs8_der(&old.private_key_der().unwrap()).unwrap();
        assert!(matches!(
            old.successor_with_key(again, now(), &mut rand::rngs::OsRng),
            Err(Error::KeyReused)
        ));
        assert!(matches!(
            old.link_certificate(&old, &mut rand::rngs::OsRng),
            Err(Error::KeyReused)
        ));
    }
}

#[test]
fn the_link_chains_new_certificates_to_the_old_root() {
    let old = old_root(NameConstraints::NonCritical);
    let new = old.successor(now(), &mut rand::rngs::OsRng).unwrap();
    let link = old.link_certificate(&new, &mut rand::rngs::OsRng).unwrap();
    assert!(is_link(&link, old.certificate(), new.certificate()));
    assert!(!is_link(&link, new.certificate(), old.certificate()));
    let other = old_root(NameConstraints::NonCritical);
    assert!(!is_link(&link, other.certificate(), new.certificate()));
    let link_der = certificate_to_der(&link).unwrap();
    let leaf = leaf(&new, "cam.local");

    // rustls-webpki: the old root alone reaches the new leaf through the link; without it,
    // not; the new root needs no link. An Internet name stays out of reach.
    assert!(webpki(
        &old,
        std::slice::from_ref(&link_der),
        &leaf,
        "cam.local"
    ));
    assert!(!webpki(&old, &[], &leaf, "cam.local"));
    assert!(webpki(&new, &[], &leaf, "cam.local"));
    assert!(webpki(
        &new,
        std::slice::from_ref(&link_der),
        &leaf,
        "cam.local"
    ));
    let evil = self::leaf(&new, "bank.example.com");
    assert!(!webpki(
        &old,
        std::slice::from_ref(&link_der),
        &evil,
        "bank.example.com"
    ));

    // openssl verify: new leaf → new root, and new leaf → link → old root.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pem =
        |der: &[u8]| certificate_to_pem(&lantrust_ca::certificate_from_der(der).unwrap()).unwrap();
    std::fs::write(d.join("old.pem"), old.certificate_pem().unwrap()).unwrap();
    std::fs::write(d.join("new.pem"), new.certificate_pem().unwrap()).unwrap();
    std::fs::write(d.join("link.pem"), pem(&link_der)).unwrap();
    std::fs::write(d.join("leaf.pem"), pem(&leaf)).unwrap();
    let Some((ok, out)) = openssl(
        d,
        &["verify", "-x509_strict", "-CAfile", "new.pem", "leaf.pem"],
    ) else {
        lantrust_test_support::skip("openssl not installed");
        return;
    };
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-x509_strict",
            "-show_chain",
            "-CAfile",
            "old.pem",
            "-untrusted",
            "link.pem",
            "leaf.pem",
        ],
    )
    .unwrap();
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
    assert!(
        out.contains("depth=2"),
        "three certificates in the path: {out}"
    );
    let (ok, out) = openssl(d, &["verify", "-CAfile", "old.pem", "leaf.pem"]).unwrap();
    assert!(
        !ok,
        "without the link the old root must not reach the new leaf: {out}"
    );
    // The link itself verifies under the old root and is a CA.
    let (ok, out) = openssl(
        d,
        &["verify", "-x509_strict", "-CAfile", "old.pem", "link.pem"],
    )
    .unwrap();
    assert!(ok, "{out}");
    let (_, text) = openssl(d, &["x509", "-in", "link.pem", "-noout", "-text"]).unwrap();
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Name Constraints"), "{text}");
}
