//! Managed networks under a configured anchor (issue 19; §3.5 "unless otherwise configured"): a
//! lantrust subordinate CA signed by an openssl company intermediate under an openssl company
//! root. The server's chain is trusted under the anchor only; TOFU still refuses the company root;
//! the sub-CA's CRLs are accepted through the presented chain, survive a save/load, and revoke.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::time::Duration;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use lantrust_ca::{
    CrlReason, DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, RevokedCertificate, Root,
    RootConfig, ca_request, ca_request_to_pem, certificate_from_pem, certificate_to_der,
    certificates_from_pem,
};
use lantrust_pin::{
    Decision, NetworkId, NetworkKind, Observation, PinStore, Refusal, Revocation, ScopeRefusal,
};
use lantrust_test_support::{company_root, p384_request, sign_csr};
use x509_cert::der::Encode;

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

fn net() -> NetworkId {
    NetworkId::builder()
        .router_mac("02:00:00:00:00:19".parse().unwrap())
        .build()
        .unwrap()
}

#[test]
fn subordinate_server_under_a_configured_anchor() {
    if !lantrust_test_support::have("openssl") {
        lantrust_test_support::skip("openssl not installed");
        return;
    }
    let tmp = lantrust_test_support::temp_dir("managed-anchor");
    let d = tmp.path();
    company_root(d, "company", "Corp Root");
    company_root(d, "other", "Other Root");
    // A company intermediate between the root and lantrust's sub-CA.
    p384_request(d, "inter", "/CN=Corp Issuing");
    sign_csr(
        d,
        "company",
        "inter.csr",
        "inter.pem",
        Some("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"),
    );
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let req = ca_request(&RootConfig::new("acme", vec!["home.arpa".into()]), &key).unwrap();
    std::fs::write(d.join("sub.csr"), ca_request_to_pem(&req).unwrap()).unwrap();
    sign_csr(d, "inter", "sub.csr", "sub.pem", None);
    // After openssl signed (its notBefore is the second it signed).
    let now_d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(1);
    let now = now_d.as_secs();
    let mut chain = certificates_from_pem(&read(d, "inter.pem")).unwrap();
    chain.extend(certificates_from_pem(&read(d, "company.pem")).unwrap());
    let sub = Root::from_subordinate(
        certificate_from_pem(&read(d, "sub.pem")).unwrap(),
        key,
        chain,
        &req,
        now_d,
    )
    .unwrap();
    let ca = sub.issuer();
    let company = certificate_to_der(sub.anchor().unwrap()).unwrap();
    let inter = certificate_to_der(&sub.chain()[0]).unwrap();
    let other =
        certificate_to_der(&certificates_from_pem(&read(d, "other.pem")).unwrap()[0]).unwrap();

    let leaf_for = |names: &[&str]| {
        let k = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
        ca.issue(
            &DeviceRequest {
                device_id: names[0].split('.').next().unwrap().into(),
                dns_names: names.iter().map(|n| (*n).to_string()).collect(),
                ip_addrs: vec![],
                public_key: k.public_key_info(),
            },
            &IssuanceOptions {
                crl_distribution_point: Some("https://acme.local/crl".into()),
                ..Default::default()
            },
            now_d,
            &mut rand::rngs::OsRng,
        )
        .unwrap()
    };
    let server = certificate_to_der(&leaf_for(&["acme.local", "acme.home.arpa"])).unwrap();
    let device_cert = leaf_for(&["cam-1.local"]);
    let device = certificate_to_der(&device_cert).unwrap();
    let presented: Vec<&[u8]> = vec![&server, ca.certificate_der(), &inter];
    let dev_chain: Vec<&[u8]> = vec![&device, ca.certificate_der(), &inter];

    // Managed with the company root: the server's chain is trusted for its name, no TOFU.
    let mut store = PinStore::new();
    store
        .set_managed(&net(), &[&company], &["home.arpa"], now)
        .unwrap();
    let fp = net().fingerprint();
    assert_eq!(
        store.decide_managed(&net(), NetworkKind::Managed, "acme.local", &presented, now),
        Decision::Trusted(fp)
    );
    // Not for a name outside the certificate, and never on a public network.
    assert!(matches!(
        store.decide_managed(
            &net(),
            NetworkKind::Managed,
            "printer.local",
            &presented,
            now
        ),
        Decision::Refused(Refusal::NotUnderManagedAnchor(_))
    ));
    assert!(matches!(
        store.decide_managed(
            &net(),
            NetworkKind::Public(lantrust_pin::PublicKind::Cellular),
            "acme.local",
            &presented,
            now
        ),
        Decision::Refused(Refusal::PublicNetwork(_))
    ));
    // Without the intermediate there is no path.
    assert!(matches!(
        store.decide_managed(
            &net(),
            NetworkKind::Managed,
            "acme.local",
            &[&server, ca.certificate_der()],
            now
        ),
        Decision::Refused(Refusal::NotUnderManagedAnchor(_))
    ));

    // Another company's anchor: the §4.8 refusal.
    let mut wrong = PinStore::new();
    wrong
        .set_managed(&net(), &[&other], &["home.arpa"], now)
        .unwrap();
    let refusal = wrong.decide_managed(&net(), NetworkKind::Managed, "acme.local", &presented, now);
    assert!(
        matches!(&refusal, Decision::Refused(Refusal::NotUnderManagedAnchor(why)) if why.contains("not issued under")),
        "{refusal:?}"
    );
    assert_eq!(
        wrong.verify_device(&net(), NetworkKind::Managed, &dev_chain, "cam-1.local", now),
        Err(ScopeRefusal::NotIssuedByNetworkRoot)
    );

    // TOFU networks stay self-signed-root-only: the company root names no server.
    let tofu = PinStore::new();
    let obs = Observation {
        network: &net(),
        kind: NetworkKind::Private,
        server_name: "acme.local",
        root_der: &company,
        domains: &["home.arpa"],
    };
    assert!(matches!(
        tofu.decide(&obs, now),
        Decision::Refused(Refusal::ServerNameNotInRoot(_))
    ));

    // The device names a CRL distribution point: refused until the sub-CA's CRL is known.
    assert_eq!(
        store.verify_device(&net(), NetworkKind::Managed, &dev_chain, "cam-1.local", now),
        Err(ScopeRefusal::CrlMissing)
    );
    let crl0 = ca
        .crl(&[], 1, now_d, Duration::from_secs(7 * 86_400))
        .unwrap()
        .to_der()
        .unwrap();
    // Not acceptable through the anchor alone, nor through a chain that does not reach it.
    assert!(store.update_crl(&fp, &crl0, None, now).is_err());
    assert!(
        store
            .update_crl_via(&fp, &crl0, &[ca.certificate_der()], None, now)
            .is_err()
    );
    assert!(
        wrong
            .update_crl_via(&fp, &crl0, &dev_chain[1..], None, now)
            .is_err()
    );
    store
        .update_crl_via(
            &fp,
            &crl0,
            &dev_chain[1..],
            Some("https://acme.local/crl"),
            now,
        )
        .unwrap();
    assert!(matches!(
        store.verify_device_status(&net(), NetworkKind::Managed, &dev_chain, "cam-1.local", now),
        Ok(Revocation::Current { .. })
    ));
    // The stored signer path is re-checked on load.
    let mut store = PinStore::from_bytes(&store.to_bytes()).unwrap();
    assert!(matches!(
        store.verify_device_status(&net(), NetworkKind::Managed, &dev_chain, "cam-1.local", now),
        Ok(Revocation::Current { .. })
    ));

    // Revoked by the sub-CA's next CRL.
    let crl1 = ca
        .crl(
            &[RevokedCertificate {
                serial: device_cert.tbs_certificate.serial_number,
                revoked_at: now_d,
                reason: CrlReason::KeyCompromise,
            }],
            2,
            now_d + Duration::from_secs(1),
            Duration::from_secs(7 * 86_400),
        )
        .unwrap()
        .to_der()
        .unwrap();
    store
        .update_crl_via(&fp, &crl1, &dev_chain[1..], None, now + 1)
        .unwrap();
    assert!(matches!(
        store.verify_device_status(
            &net(),
            NetworkKind::Managed,
            &dev_chain,
            "cam-1.local",
            now + 1
        ),
        Err(ScopeRefusal::Revoked { .. })
    ));
    // An older CRL does not replace it.
    assert!(
        store
            .update_crl_via(&fp, &crl0, &dev_chain[1..], None, now + 2)
            .is_err()
    );
}
