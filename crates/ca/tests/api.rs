//! API behaviour: validity limits, serials, import/export, error paths.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::time::Duration;

use lantrust_ca::{
    DeviceRequest, Error, IssuanceOptions, KeyAlgorithm, MAX_DEVICE_VALIDITY, NameConstraints,
    PrivateKey, Root, RootConfig, certificate_from_der, certificate_from_pem, certificate_to_der,
    certificate_to_pem, certificates_from_pem,
};
use x509_cert::der::Encode;
use x509_cert::time::Time;

const NOW: Duration = Duration::from_secs(1_795_392_000);

fn rng() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

fn root() -> Root {
    Root::generate(
        &RootConfig::new("gw", vec!["lan.example".into()]),
        NOW,
        &mut rng(),
    )
    .unwrap()
}

fn request(key: &PrivateKey) -> DeviceRequest {
    DeviceRequest {
        device_id: "plug-1".into(),
        dns_names: vec!["plug-1.local".into()],
        ip_addrs: vec![],
        public_key: key.public_key_info(),
    }
}

#[test]
fn root_validity_must_be_one_to_ten_years() {
    for years in [0, 11, 100] {
        let mut c = RootConfig::new("gw", vec![]);
        c.validity_years = years;
        assert!(matches!(
            Root::generate(&c, NOW, &mut rng()),
            Err(Error::RootValidity { years: y }) if y == years
        ));
    }
    for years in [1, 10] {
        let mut c = RootConfig::new("gw", vec![]);
        c.validity_years = years;
        let root = Root::generate(&c, NOW, &mut rng()).unwrap();
        let v = &root.certificate().tbs_certificate.validity;
        let life = v.not_after.to_unix_duration() - v.not_before.to_unix_duration()
            + Duration::from_secs(1);
        let days = life.as_secs() / 86_400;
        assert!(
            days >= 365 * u64::from(years) && days <= 366 * u64::from(years),
            "{days}"
        );
        assert_eq!(life.as_secs() % 86_400, 0);
    }
}

#[test]
fn bad_names_are_refused() {
    for (server, domain) in [
        ("gw.lan", "lan"),
        ("", "lan"),
        ("gw", "local"),
        ("gw", "x.local"),
        ("g_w", "lan"),
        ("gw", "*.lan"),
    ] {
        let c = RootConfig::new(server, vec![domain.into()]);
        assert!(
            matches!(
                Root::generate(&c, NOW, &mut rng()),
                Err(Error::InvalidName { .. })
            ),
            "{server} {domain}"
        );
    }
    let root = root();
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let mut req = request(&key);
    req.dns_names = vec!["*.local".into()];
    assert!(matches!(
        root.issue(&req, &IssuanceOptions::default(), NOW, &mut rng()),
        Err(Error::InvalidName { .. })
    ));
    req.dns_names = vec![];
    assert!(matches!(
        root.issue(&req, &IssuanceOptions::default(), NOW, &mut rng()),
        Err(Error::NoSubjectAltNames)
    ));
    let mut req = request(&key);
    req.device_id = "x".repeat(65);
    assert!(matches!(
        root.issue(&req, &IssuanceOptions::default(), NOW, &mut rng()),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn device_validity_is_capped_at_90_days() {
    let root = root();
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let req = request(&key);
    for bad in [
        Duration::ZERO,
        MAX_DEVICE_VALIDITY + Duration::from_secs(1),
        Duration::from_secs(365 * 86_400),
    ] {
        let opts = IssuanceOptions {
            validity: bad,
            ..Default::default()
        };
        assert!(matches!(
            root.issue(&req, &opts, NOW, &mut rng()),
            Err(Error::DeviceValidity { .. })
        ));
    }
    let opts = IssuanceOptions {
        validity: MAX_DEVICE_VALIDITY,
        ..Default::default()
    };
    let cert = root.issue(&req, &opts, NOW, &mut rng()).unwrap();
    let v = &cert.tbs_certificate.validity;
    assert_eq!(
        v.not_before.to_unix_duration(),
        NOW - Duration::from_secs(300)
    );
    // Inclusive validity: notAfter - notBefore + 1 s = 90 days exactly.
    assert_eq!(
        v.not_after.to_unix_duration() - v.not_before.to_unix_duration() + Duration::from_secs(1),
        MAX_DEVICE_VALIDITY
    );
    assert!(matches!(v.not_before, Time::UtcTime(_)));
}

#[test]
fn times_after_2049_are_generalized_time() {
    // 2060-01-01: root and device certificate use GeneralizedTime (RFC 5280 §4.1.2.5).
    let now = Duration::from_secs(2_840_140_800);
    let root = Root::generate(&RootConfig::new("gw", vec![]), now, &mut rng()).unwrap();
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let cert = root
        .issue(&request(&key), &IssuanceOptions::default(), now, &mut rng())
        .unwrap();
    assert!(matches!(
        cert.tbs_certificate.validity.not_before,
        Time::GeneralTime(_)
    ));
    assert!(matches!(
        cert.tbs_certificate.validity.not_after,
        Time::GeneralTime(_)
    ));
}

#[test]
fn serials_are_random_positive_and_at_most_16_bytes() {
    let root = root();
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let cert = root
            .issue(&request(&key), &IssuanceOptions::default(), NOW, &mut rng())
            .unwrap();
        let serial = cert.tbs_certificate.serial_number.as_bytes().to_vec();
        assert!(serial.len() <= 16 && serial.len() >= 8, "{serial:?}");
        assert!(serial[0] & 0x80 == 0 || serial.len() < 16, "{serial:?}");
        assert!(seen.insert(serial));
    }
    let root_serial = root.certificate().tbs_certificate.serial_number.as_bytes();
    assert!(root_serial.len() <= 16 && root_serial.len() >= 8);
}

#[test]
fn regenerated_roots_never_share_keys() {
    let c = RootConfig::new("gw", vec![]);
    let a = Root::generate(&c, NOW, &mut rng()).unwrap();
    let b = Root::generate(&c, NOW, &mut rng()).unwrap();
    assert_ne!(
        a.certificate().tbs_certificate.subject_public_key_info,
        b.certificate().tbs_certificate.subject_public_key_info
    );
    assert_ne!(a.key_identifier(), b.key_identifier());
}

#[test]
fn root_round_trips_through_pem_and_der() {
    let root = root();
    let again = Root::from_pem(
        &root.certificate_pem().unwrap(),
        &root.private_key_pem().unwrap(),
    )
    .unwrap();
    assert_eq!(again.certificate_der(), root.certificate_der());
    assert_eq!(again.key_identifier(), root.key_identifier());
    let again = Root::from_der(root.certificate_der(), &root.private_key_der().unwrap()).unwrap();
    assert_eq!(again.certificate(), root.certificate());
    // The reloaded root issues certificates with the same authority key identifier.
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let cert = again
        .issue(&request(&key), &IssuanceOptions::default(), NOW, &mut rng())
        .unwrap();
    assert_eq!(cert.tbs_certificate.issuer, *root.subject());

    let dbg = format!("{root:?}");
    assert!(
        dbg.contains("[secret key elided]") && dbg.contains("Local Root CA"),
        "{dbg}"
    );
}

#[test]
fn root_import_refuses_mismatches_and_non_cas() {
    let root = root();
    let other = self::root();
    assert!(matches!(
        Root::from_der(root.certificate_der(), &other.private_key_der().unwrap()),
        Err(Error::KeyMismatch)
    ));
    // A device certificate with its own key is not a root.
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let cert = root
        .issue(&request(&key), &IssuanceOptions::default(), NOW, &mut rng())
        .unwrap();
    let err = Root::from_der(
        &certificate_to_der(&cert).unwrap(),
        &key.to_pkcs8_der().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotARoot(_)), "{err}");
}

#[test]
fn certificate_codecs() {
    let root = root();
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rng()).unwrap();
    let cert = root
        .issue(&request(&key), &IssuanceOptions::default(), NOW, &mut rng())
        .unwrap();
    let der = certificate_to_der(&cert).unwrap();
    assert_eq!(certificate_from_der(&der).unwrap(), cert);
    let pem = certificate_to_pem(&cert).unwrap();
    assert_eq!(certificate_from_pem(&pem).unwrap(), cert);
    let bundle = format!("{pem}{}", root.certificate_pem().unwrap());
    let chain = certificates_from_pem(&bundle).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1], *root.certificate());
    assert_eq!(chain[0].to_der().unwrap(), der);

    // Errors: truncated DER carries an offset; wrong PEM label is named.
    match certificate_from_der(&der[..der.len() - 1]).unwrap_err() {
        Error::Malformed { offset, .. } => assert!(offset.is_some()),
        e => panic!("{e}"),
    }
    assert!(matches!(
        certificate_from_der(&[]),
        Err(Error::Malformed { .. })
    ));
    let key_pem = key.to_pkcs8_pem().unwrap();
    match certificate_from_pem(&key_pem).unwrap_err() {
        Error::PemLabel { found, .. } => assert_eq!(found, "PRIVATE KEY"),
        e => panic!("{e}"),
    }
    assert!(matches!(
        certificates_from_pem(&key_pem),
        Err(Error::PemLabel { .. })
    ));
    assert!(certificates_from_pem("-----BEGIN CERTIFICATE-----\nAAAA").is_err());

    // Bundles with comments, other blocks and CRLF line endings.
    let crlf = pem.replace('\n', "\r\n");
    let mixed = format!(
        "# device\n{crlf}\n{}\nroot follows\n{}",
        key_pem.as_str(),
        root.certificate_pem().unwrap()
    );
    let chain = certificates_from_pem(&mixed).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0], cert);
    assert_eq!(chain[1], *root.certificate());
}

#[test]
fn name_constraints_choice_sets_criticality_or_omits_the_extension() {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::constraints::name::NameConstraints as Extension;
    use x509_cert::ext::pkix::name::GeneralName;

    assert_eq!(NameConstraints::default(), NameConstraints::NonCritical);
    assert_eq!(
        RootConfig::new("gw", vec![]).name_constraints,
        NameConstraints::NonCritical
    );
    for (choice, name, critical) in [
        (NameConstraints::Critical, "critical", Some(true)),
        (NameConstraints::NonCritical, "non-critical", Some(false)),
        (NameConstraints::Off, "off", None),
    ] {
        assert_eq!(choice.name(), name);
        assert_eq!(choice.to_string(), name);
        let mut c = RootConfig::new("gw", vec!["lan.example".into()]);
        c.name_constraints = choice;
        let root = Root::generate(&c, NOW, &mut rng()).unwrap();
        let exts = root
            .certificate()
            .tbs_certificate
            .extensions
            .clone()
            .unwrap();
        let nc: Vec<_> = exts
            .iter()
            .filter(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_NAME_CONSTRAINTS)
            .collect();
        assert_eq!(nc.first().map(|e| e.critical), critical, "{name}");
        assert!(nc.len() <= 1);
        if let Some(e) = nc.first() {
            // The same subtrees whatever the criticality: local, the domain, 8 IP ranges.
            let value = Extension::from_der(e.extn_value.as_bytes()).unwrap();
            assert!(value.excluded_subtrees.is_none());
            let permitted = value.permitted_subtrees.unwrap();
            assert_eq!(permitted.len(), 10, "{name}");
            let dns: Vec<String> = permitted
                .iter()
                .filter_map(|s| match &s.base {
                    GeneralName::DnsName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect();
            assert_eq!(dns, ["local", "lan.example"], "{name}");
        }
        // Every extension but the constraints is the same in all three.
        assert_eq!(exts.len(), if critical.is_some() { 6 } else { 5 }, "{name}");
    }
}
