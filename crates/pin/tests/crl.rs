//! Revocation in scoped trust (draft §4.5, §4.7; RFC 5280 §5, §6.3): CRLs made by lantrust-ca
//! (as the server makes them) and by `openssl ca -gencrl`, checked through the pin store and
//! `verify_scoped_with_crl`, with `openssl verify -crl_check` as the independent verdict; the
//! stale-CRL policy on both sides of its grace period; the store's CRL cache on disk.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::time::Duration;
use std::path::Path;
use std::process::Command;

use lantrust_ca::{
    CrlReason, DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, RevokedCertificate, Root,
    RootConfig,
};
use lantrust_pin::{
    CRL_GRACE, CrlRefusal, Decision, NetworkId, NetworkKind, Observation, PinStore, Revocation,
    ScopeRefusal, verify_crl, verify_scoped_with_crl,
};
use x509_cert::der::Encode;

/// 2026-11-23T00:00:00Z.
const NOW: u64 = 1_795_392_000;
const DAY: u64 = 86_400;
const SERVER: &str = "router-fdb531";
/// Where `LANTRUST_WRITE_VECTORS=1` saves the real CRLs of these tests: the fuzz seeds (a
/// selector byte, 0 = lantrust's root, 1 = openssl's, then the CRL) and the roots and device
/// certificates the `crl_check` fuzz target checks them against.
const SEEDS: &str = "../../fuzz/seeds/crl_check";
const FUZZ_VECTORS: &str = "../../fuzz/fuzz_targets/crl_check";

fn net(ssid: &str) -> NetworkId {
    NetworkId::builder()
        .interface("wlan0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .ssid(ssid.as_bytes())
        .local_domain("home.arpa")
        .build()
        .unwrap()
}

fn new_root() -> Root {
    Root::generate(
        &RootConfig::new(SERVER, vec!["home.arpa".into()]),
        Duration::from_secs(NOW - DAY),
        &mut rand::rngs::OsRng,
    )
    .unwrap()
}

/// A device certificate for `<id>.local` naming the server's CRL, as `serve` issues them.
fn device(root: &Root, id: &str) -> Vec<u8> {
    let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
    let req = DeviceRequest {
        device_id: id.into(),
        dns_names: vec![format!("{id}.local")],
        ip_addrs: vec![],
        public_key: key.public_key_info(),
    };
    let opts = IssuanceOptions {
        crl_distribution_point: Some(format!("http://{SERVER}.local/crl")),
        ..Default::default()
    };
    root.issue(
        &req,
        &opts,
        Duration::from_secs(NOW - 60),
        &mut rand::rngs::OsRng,
    )
    .unwrap()
    .to_der()
    .unwrap()
}

fn serial_of(der: &[u8]) -> x509_cert::serial_number::SerialNumber {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .serial_number
}

/// A CRL of `root` listing `revoked`, signed at `at`, valid 7 days (the server's nextUpdate).
fn crl(root: &Root, revoked: &[&[u8]], number: u64, at: u64) -> Vec<u8> {
    let list: Vec<RevokedCertificate> = revoked
        .iter()
        .map(|d| RevokedCertificate {
            serial: serial_of(d),
            revoked_at: Duration::from_secs(at - 10),
            reason: CrlReason::Superseded,
        })
        .collect();
    root.crl(
        &list,
        number,
        Duration::from_secs(at),
        Duration::from_secs(7 * DAY),
    )
    .unwrap()
    .to_der()
    .unwrap()
}

fn pinned(network: &NetworkId, root: &Root) -> PinStore {
    let mut store = PinStore::new();
    let o = Observation {
        network,
        kind: NetworkKind::Private,
        server_name: &format!("{SERVER}.local"),
        root_der: root.certificate_der(),
        domains: &["home.arpa"],
    };
    let Decision::FirstUse(c) = store.decide(&o, NOW) else {
        panic!("not first use")
    };
    store.accept(c, NOW).unwrap();
    store
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_revoked_device_is_refused_by_the_store_and_the_free_function() {
    let root = new_root();
    let network = net("Home");
    let (lost, kept) = (device(&root, "cam-1"), device(&root, "cam-2"));
    let mut store = pinned(&network, &root);
    let fp = network.fingerprint();
    assert_eq!(
        lantrust_pin::crl_distribution_points(&lost),
        [format!("http://{SERVER}.local/crl")]
    );
    let verify = |store: &PinStore, der: &[u8], host: &str, now: u64| {
        store.verify_device_status(&network, NetworkKind::Private, &[der], host, now)
    };

    // Certificates name a CRL distribution point: with no CRL fetched, refuse (fail closed).
    assert_eq!(
        verify(&store, &kept, "cam-2.local", NOW),
        Err(ScopeRefusal::CrlMissing)
    );
    assert!(store.crl_needs_refresh(&fp, NOW, 3600));

    let der = crl(&root, &[&lost], 1, NOW);
    let facts = store
        .update_crl(&fp, &der, Some("https://router-fdb531.local/crl"), NOW)
        .unwrap();
    assert_eq!(facts.next_update(), NOW + 7 * DAY);
    assert_eq!(facts.revoked().len(), 1);
    assert!(!store.crl_needs_refresh(&fp, NOW + 60, 3600));
    assert!(store.crl_needs_refresh(&fp, NOW + 3601, 3600));

    let serial = hex(serial_of(&lost).as_bytes());
    let refusal = verify(&store, &lost, "cam-1.local", NOW + 60).unwrap_err();
    assert_eq!(
        refusal,
        ScopeRefusal::Revoked {
            serial: serial.clone(),
            revoked_at: NOW - 10,
            reason: Some(4),
        }
    );
    let text = refusal.to_string();
    assert!(
        text.contains(&serial) && text.contains("REVOKED on 2026-11-22T23:59:50Z"),
        "{text}"
    );
    assert!(text.contains("superseded"), "{text}");
    // verify_device (no status) refuses it too.
    assert!(
        store
            .verify_device(
                &network,
                NetworkKind::Private,
                &[&lost],
                "cam-1.local",
                NOW + 60
            )
            .is_err()
    );
    assert_eq!(
        verify(&store, &kept, "cam-2.local", NOW + 60),
        Ok(Revocation::Current {
            next_update: NOW + 7 * DAY
        })
    );

    // The same decisions without a store.
    let domains = vec!["home.arpa".to_string()];
    let free = |cert: &[u8], host: &str, crl: Option<&[u8]>| {
        verify_scoped_with_crl(
            root.certificate_der(),
            &domains,
            &[cert],
            host,
            crl,
            NOW + 60,
        )
    };
    assert!(matches!(
        free(&lost, "cam-1.local", Some(&der)),
        Err(ScopeRefusal::Revoked { .. })
    ));
    assert!(matches!(
        free(&kept, "cam-2.local", Some(&der)),
        Ok(Revocation::Current { .. })
    ));
    assert_eq!(
        free(&kept, "cam-2.local", None),
        Err(ScopeRefusal::CrlMissing)
    );
    let mut bad = der.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(matches!(
        free(&kept, "cam-2.local", Some(&bad)),
        Err(ScopeRefusal::CrlUnusable(_))
    ));
}

#[test]
fn stale_crl_policy_both_sides_of_the_grace_period() {
    let root = new_root();
    let network = net("Home");
    let fp = network.fingerprint();
    let kept = device(&root, "cam-2");
    let lost = device(&root, "cam-1");
    let mut store = pinned(&network, &root);
    store
        .update_crl(&fp, &crl(&root, &[&lost], 1, NOW), None, NOW)
        .unwrap();
    let next = NOW + 7 * DAY;
    let verify = |now: u64, der: &[u8], host: &str| {
        store.verify_device_status(&network, NetworkKind::Private, &[der], host, now)
    };
    // Up to nextUpdate: current.
    assert_eq!(
        verify(next, &kept, "cam-2.local"),
        Ok(Revocation::Current { next_update: next })
    );
    // Past nextUpdate, within the grace period: accepted, flagged stale.
    let stale = verify(next + 1, &kept, "cam-2.local").unwrap();
    assert_eq!(
        stale,
        Revocation::Stale {
            next_update: next,
            refused_from: next + CRL_GRACE
        }
    );
    assert!(stale.to_string().contains("STALE"), "{stale}");
    assert!(matches!(
        verify(next + CRL_GRACE, &kept, "cam-2.local"),
        Ok(Revocation::Stale { .. })
    ));
    // Past the grace period: refused.
    let refusal = verify(next + CRL_GRACE + 1, &kept, "cam-2.local").unwrap_err();
    assert_eq!(
        refusal,
        ScopeRefusal::CrlTooOld {
            next_update: next,
            refused_from: next + CRL_GRACE
        }
    );
    assert!(
        refusal.to_string().contains("fetch a fresh CRL"),
        "{refusal}"
    );
    // A revoked certificate stays refused however stale the CRL.
    assert!(matches!(
        verify(next + 1, &lost, "cam-1.local"),
        Err(ScopeRefusal::Revoked { .. })
    ));
    // A newer CRL restores trust.
    let later = next + CRL_GRACE + 10;
    store
        .update_crl(&fp, &crl(&root, &[&lost], 2, later), None, later)
        .unwrap();
    assert!(matches!(
        store.verify_device_status(
            &network,
            NetworkKind::Private,
            &[&kept],
            "cam-2.local",
            later
        ),
        Ok(Revocation::Current { .. })
    ));
}

#[test]
fn crls_that_must_not_be_cached() {
    let root = new_root();
    let other = new_root();
    let network = net("Home");
    let fp = network.fingerprint();
    let lost = device(&root, "cam-1");
    let mut store = pinned(&network, &root);
    // A root with the same name but another key (an impostor's): the signature fails.
    assert_eq!(
        store.update_crl(&fp, &crl(&other, &[], 1, NOW), None, NOW),
        Err(CrlRefusal::BadSignature)
    );
    // Another network's root: not this network's issuer.
    let elsewhere = Root::generate(
        &RootConfig::new("other-router", vec![]),
        Duration::from_secs(NOW - DAY),
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    assert_eq!(
        store.update_crl(&fp, &crl(&elsewhere, &[], 1, NOW), None, NOW),
        Err(CrlRefusal::WrongIssuer)
    );
    // Not pinned.
    assert_eq!(
        store.update_crl(
            &net("Elsewhere").fingerprint(),
            &crl(&root, &[], 1, NOW),
            None,
            NOW
        ),
        Err(CrlRefusal::NoPinForNetwork)
    );
    // Dated in the future (beyond the clock skew).
    assert!(matches!(
        store.update_crl(&fp, &crl(&root, &[], 1, NOW + 3600), None, NOW),
        Err(CrlRefusal::NotYetValid { .. })
    ));
    // A damaged signature.
    let mut bad = crl(&root, &[], 1, NOW);
    let n = bad.len();
    bad[n - 3] ^= 0x40;
    assert!(store.update_crl(&fp, &bad, None, NOW).is_err());
    assert!(store.update_crl(&fp, &bad[..n - 10], None, NOW).is_err());
    // Newest wins; a replay of an older CRL cannot un-revoke.
    let newer = crl(&root, &[&lost], 5, NOW);
    store.update_crl(&fp, &newer, None, NOW).unwrap();
    let older = crl(&root, &[], 4, NOW - 100);
    assert!(matches!(
        store.update_crl(&fp, &older, None, NOW),
        Err(CrlRefusal::OlderThanCached { .. })
    ));
    let lower_number = crl(&root, &[], 3, NOW);
    assert!(store.update_crl(&fp, &lower_number, None, NOW).is_err());
    assert_eq!(store.crl(&fp).unwrap().der(), newer.as_slice());
    // The same CRL again refreshes only the fetch time.
    store.update_crl(&fp, &newer, None, NOW + 50).unwrap();
    assert_eq!(store.crl(&fp).unwrap().fetched_at(), NOW + 50);
}

#[test]
fn the_crl_cache_survives_a_restart_and_old_files_still_load() {
    let root = new_root();
    let network = net("Home");
    let fp = network.fingerprint();
    let lost = device(&root, "cam-1");
    let mut store = pinned(&network, &root);
    let before = store.to_bytes();
    // A store without CRLs is written exactly as before CRLs existed (no "crls" key).
    assert!(!String::from_utf8_lossy(&before).contains("crls"));
    assert_eq!(PinStore::from_bytes(&before).unwrap(), store);

    store
        .update_crl(
            &fp,
            &crl(&root, &[&lost], 1, NOW),
            Some("http://x.local/crl"),
            NOW,
        )
        .unwrap();
    let bytes = store.to_bytes();
    let back = PinStore::from_bytes(&bytes).unwrap();
    assert_eq!(back, store);
    assert_eq!(back.crl(&fp).unwrap().url(), Some("http://x.local/crl"));
    assert!(matches!(
        back.verify_device_status(&network, NetworkKind::Private, &[&lost], "cam-1.local", NOW),
        Err(ScopeRefusal::Revoked { .. })
    ));

    // A root change drops the old root's CRL; forgetting the network drops it too.
    let mut changed = back.clone();
    let replacement = new_root();
    let o = Observation {
        network: &network,
        kind: NetworkKind::Private,
        server_name: &format!("{SERVER}.local"),
        root_der: replacement.certificate_der(),
        domains: &["home.arpa"],
    };
    let Decision::RootChanged { new, .. } = changed.decide(&o, NOW) else {
        panic!("expected a root change")
    };
    changed.accept(new, NOW).unwrap();
    assert!(changed.crl(&fp).is_none());
    let mut forgotten = back;
    forgotten.forget(&fp);
    assert!(forgotten.crl(&fp).is_none());
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        lantrust_test_support::skip("openssl not installed");
    }
    ok
}

/// A CA run entirely by openssl (`openssl ca`, `-revoke`, `-gencrl`): lantrust-pin accepts its
/// CRL under the pinned root and refuses the revoked certificate exactly when
/// `openssl verify -crl_check -CRLfile` does. Also lantrust-ca's CRL checked by openssl the
/// same way, so both CRL producers agree with both verifiers.
#[test]
fn openssl_gencrl_and_openssl_verify_agree() {
    if !openssl_available() {
        return;
    }
    let tmp = lantrust_test_support::temp_dir("pin-crl-openssl");
    let d = tmp.path();
    std::fs::create_dir_all(d.join("newcerts")).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "1000\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        "[ca]\ndefault_ca = CA\n[CA]\ndir = .\ndatabase = index.txt\nnew_certs_dir = newcerts\n\
         certificate = root.pem\nprivate_key = root.key\nserial = serial\ncrlnumber = crlnumber\n\
         default_md = sha384\ndefault_days = 30\ndefault_crl_days = 7\npolicy = any\n\
         unique_subject = no\ncopy_extensions = copy\n\
         [any]\ncommonName = supplied\n\
         [root_ext]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\nsubjectAltName = DNS:router-fdb531.local\n\
         [leaf_ext]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nauthorityKeyIdentifier = keyid\n\
         crlDistributionPoints = URI:http://router-fdb531.local/crl\n",
    )
    .unwrap();
    std::fs::write(d.join("serial"), "1A2B3C4D5E6F7081\n").unwrap();
    let run = |args: &[&str]| {
        let (ok, text) = openssl(d, args);
        assert!(ok, "openssl {args:?}: {text}");
        text
    };
    run(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        "root.key",
    ]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "root.key",
        "-sha384",
        "-days",
        "3650",
        "-subj",
        "/O=lantrust/CN=openssl Local Root CA",
        "-config",
        "ca.cnf",
        "-extensions",
        "root_ext",
        "-out",
        "root.pem",
    ]);
    for id in ["cam-1", "cam-2"] {
        run(&[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            &format!("{id}.key"),
        ]);
        run(&[
            "req",
            "-new",
            "-key",
            &format!("{id}.key"),
            "-subj",
            &format!("/CN={id}"),
            "-addext",
            &format!("subjectAltName=DNS:{id}.local"),
            "-out",
            &format!("{id}.csr"),
        ]);
        run(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-extensions",
            "leaf_ext",
            "-in",
            &format!("{id}.csr"),
            "-out",
            &format!("{id}.pem"),
            "-notext",
        ]);
    }
    run(&[
        "ca",
        "-config",
        "ca.cnf",
        "-revoke",
        "cam-1.pem",
        "-crl_reason",
        "superseded",
    ]);
    run(&["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"]);

    let der = |pem: &str, kind: &str| -> Vec<u8> {
        let out = Command::new("openssl")
            .args([kind, "-in", pem, "-outform", "DER"])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let root_der = der("root.pem", "x509");
    let crl_der = der("crl.pem", "crl");
    let cam1 = der("cam-1.pem", "x509");
    let cam2 = der("cam-2.pem", "x509");
    // Keep a real openssl-made CRL and its root where the fuzz seeds come from.
    lantrust_test_support::save_vector(SEEDS, "openssl-crl", &[&[1u8][..], &crl_der].concat());
    lantrust_test_support::save_vector(FUZZ_VECTORS, "openssl-root.der", &root_der);
    lantrust_test_support::save_vector(FUZZ_VECTORS, "openssl-cam-1.der", &cam1);

    let now = lantrust_test_support::now().as_secs();
    let facts = verify_crl(&root_der, &crl_der, now).unwrap();
    assert_eq!(facts.revoked().len(), 1);
    assert_eq!(facts.revoked()[0].reason(), Some(4));
    assert_eq!(facts.number(), Some(&[0x10, 0x00][..]));

    let domains: Vec<String> = vec![];
    let ours = |cert: &[u8], host: &str| {
        verify_scoped_with_crl(&root_der, &domains, &[cert], host, Some(&crl_der), now)
    };
    let theirs = |cert: &str| {
        openssl(
            d,
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                "root.pem",
                "-CRLfile",
                "crl.pem",
                cert,
            ],
        )
    };
    let (ok1, t1) = theirs("cam-1.pem");
    let (ok2, t2) = theirs("cam-2.pem");
    assert!(!ok1 && t1.contains("certificate revoked"), "{t1}");
    assert!(ok2, "{t2}");
    let serial = hex(serial_of(&cam1).as_bytes());
    assert!(
        matches!(ours(&cam1, "cam-1.local"), Err(ScopeRefusal::Revoked { serial: s, reason: Some(4), .. }) if s == serial)
    );
    assert!(matches!(
        ours(&cam2, "cam-2.local"),
        Ok(Revocation::Current { .. })
    ));

    // lantrust-ca's CRL, judged by openssl as well.
    let lroot = new_root();
    let (l1, l2) = (device(&lroot, "cam-1"), device(&lroot, "cam-2"));
    let lcrl = crl(&lroot, &[&l1], 7, now);
    let pem = |label: &str, der: &[u8]| {
        use base64ct::Encoding as _;
        let b = base64ct::Base64::encode_string(der);
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|c| core::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    std::fs::write(
        d.join("lroot.pem"),
        pem("CERTIFICATE", lroot.certificate_der()),
    )
    .unwrap();
    std::fs::write(d.join("lcrl.pem"), pem("X509 CRL", &lcrl)).unwrap();
    std::fs::write(d.join("l1.pem"), pem("CERTIFICATE", &l1)).unwrap();
    std::fs::write(d.join("l2.pem"), pem("CERTIFICATE", &l2)).unwrap();
    lantrust_test_support::save_vector(SEEDS, "lantrust-crl", &[&[0u8][..], &lcrl].concat());
    lantrust_test_support::save_vector(FUZZ_VECTORS, "lantrust-root.der", lroot.certificate_der());
    lantrust_test_support::save_vector(FUZZ_VECTORS, "lantrust-cam-1.der", &l1);
    let lverify = |cert: &str| {
        openssl(
            d,
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                "lroot.pem",
                "-CRLfile",
                "lcrl.pem",
                cert,
            ],
        )
    };
    let (ok1, t1) = lverify("l1.pem");
    let (ok2, t2) = lverify("l2.pem");
    assert!(!ok1 && t1.contains("certificate revoked"), "{t1}");
    assert!(ok2, "{t2}");
    let lours = |cert: &[u8], host: &str| {
        verify_scoped_with_crl(
            lroot.certificate_der(),
            &["home.arpa".to_string()],
            &[cert],
            host,
            Some(&lcrl),
            now,
        )
    };
    assert!(matches!(
        lours(&l1, "cam-1.local"),
        Err(ScopeRefusal::Revoked { .. })
    ));
    assert!(matches!(
        lours(&l2, "cam-2.local"),
        Ok(Revocation::Current { .. })
    ));
    // An openssl CRL is not a CRL of lantrust's root, and vice versa.
    assert_eq!(
        verify_crl(lroot.certificate_der(), &crl_der, now),
        Err(CrlRefusal::WrongIssuer)
    );
}
