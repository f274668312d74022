//! Scoped trust (§3.5): device chains made by openssl (vectors/gen.sh) against pinned roots.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_pin::{
    Decision, KeyKind, NetworkId, NetworkKind, Observation, PinStore, PublicKind, Refusal,
    ScopeRefusal, verify_scoped,
};

const NOW: u64 = 1_769_904_000; // 2026-02-01T00:00:00Z; device certs: 2026-01-01 .. 2026-04-01
const ROOT: &[u8] = include_bytes!("vectors/root-p384.der");
const ROOT2: &[u8] = include_bytes!("vectors/root2-p384.der");
const DEV1: &[u8] = include_bytes!("vectors/dev1-by-p384.der");
const DEV1_ROOT2: &[u8] = include_bytes!("vectors/dev1-by-root2.der");
const PUBLIC: &[u8] = include_bytes!("vectors/public-by-p384.der");

fn net(ssid: &[u8]) -> NetworkId {
    NetworkId::builder()
        .interface("wlan0")
        .ssid(ssid)
        .local_domain("example.test")
        .build()
        .unwrap()
}

/// A store with `root` pinned for `network` through the public API.
fn pinned(network: &NetworkId, root: &[u8], server: &str) -> PinStore {
    let mut store = PinStore::new();
    let o = Observation {
        network,
        kind: NetworkKind::Private,
        server_name: server,
        root_der: root,
        domains: &[],
    };
    let Decision::FirstUse(c) = store.decide(&o, NOW) else {
        panic!("not first use")
    };
    store.accept(c, NOW).unwrap();
    store
}

fn check(
    store: &PinStore,
    network: &NetworkId,
    chain: &[&[u8]],
    name: &str,
) -> Result<(), ScopeRefusal> {
    store.verify_device(network, NetworkKind::Private, chain, name, NOW)
}

#[test]
fn local_names_and_addresses_are_trusted() {
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    for name in [
        "dev1.local",
        "DEV1.local.",
        "dev1.example.test",
        "192.168.1.50",
        "fe80::1",
        "[fe80::1%wlan0]",
    ] {
        assert_eq!(check(&store, &home, &[DEV1], name), Ok(()), "{name}");
    }
    // The root may also be sent along in the chain.
    assert_eq!(check(&store, &home, &[DEV1, ROOT], "dev1.local"), Ok(()));
}

#[test]
fn p521_and_rsa3072_chains_verify() {
    let home = net(b"Home");
    for (root, dev) in [
        (
            &include_bytes!("vectors/root-p521.der")[..],
            &include_bytes!("vectors/dev1-by-p521.der")[..],
        ),
        (
            include_bytes!("vectors/root-rsa3072.der"),
            include_bytes!("vectors/dev1-by-rsa3072.der"),
        ),
    ] {
        let store = pinned(&home, root, "router-fdb531.local");
        assert_eq!(check(&store, &home, &[dev], "dev1.example.test"), Ok(()));
        // The P-384 root's device cert names an issuer with the same subject ("router-fdb531
        // root") but was signed by another key: the signature check against this root fails.
        assert_eq!(
            check(&store, &home, &[DEV1], "dev1.local"),
            Err(ScopeRefusal::BadSignature)
        );
    }
}

#[test]
fn public_names_are_refused_even_when_the_certificate_has_them() {
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    // public-by-p384 carries DNS:www.example.com and IP:8.8.8.8, signed by the pinned root.
    assert_eq!(
        check(&store, &home, &[PUBLIC], "www.example.com"),
        Err(ScopeRefusal::NameOutOfScope("www.example.com".into()))
    );
    assert_eq!(
        check(&store, &home, &[PUBLIC], "8.8.8.8"),
        Err(ScopeRefusal::AddressOutOfScope("8.8.8.8".into()))
    );
    assert_eq!(
        check(&store, &home, &[DEV1], "dev1.other.test"),
        Err(ScopeRefusal::NameOutOfScope("dev1.other.test".into()))
    );
    assert_eq!(
        check(&store, &home, &[DEV1], "local"),
        Err(ScopeRefusal::NameOutOfScope("local".into()))
    );
    assert_eq!(
        check(&store, &home, &[DEV1], "dev1.local:443"),
        Err(ScopeRefusal::InvalidName("dev1.local:443".into()))
    );
}

#[test]
fn name_must_be_in_the_device_certificate() {
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    assert_eq!(
        check(&store, &home, &[DEV1], "dev2.local"),
        Err(ScopeRefusal::NameNotInCertificate("dev2.local".into()))
    );
    assert_eq!(
        check(&store, &home, &[DEV1], "192.168.1.51"),
        Err(ScopeRefusal::NameNotInCertificate("192.168.1.51".into()))
    );
    // In scope, validly signed, but for another name.
    assert_eq!(
        check(&store, &home, &[PUBLIC], "dev1.local"),
        Err(ScopeRefusal::NameNotInCertificate("dev1.local".into()))
    );
}

#[test]
fn another_networks_root_does_not_vouch_here() {
    let (home, other) = (net(b"Home"), net(b"Other"));
    let mut store = pinned(&home, ROOT, "router-fdb531.local");
    let o = Observation {
        network: &other,
        kind: NetworkKind::Private,
        server_name: "other-router.local",
        root_der: ROOT2,
        domains: &[],
    };
    let Decision::FirstUse(c) = store.decide(&o, NOW) else {
        panic!()
    };
    store.accept(c, NOW).unwrap();
    // dev1.local is a valid name on both networks, but each cert only on its own network.
    assert_eq!(check(&store, &home, &[DEV1], "dev1.local"), Ok(()));
    assert_eq!(check(&store, &other, &[DEV1_ROOT2], "dev1.local"), Ok(()));
    assert_eq!(
        check(&store, &home, &[DEV1_ROOT2], "dev1.local"),
        Err(ScopeRefusal::NotIssuedByNetworkRoot)
    );
    assert_eq!(
        check(&store, &other, &[DEV1], "dev1.local"),
        Err(ScopeRefusal::NotIssuedByNetworkRoot)
    );
    // An unpinned network trusts nothing, and a public one neither.
    assert_eq!(
        check(&store, &net(b"Cafe"), &[DEV1], "dev1.local"),
        Err(ScopeRefusal::NoPinForNetwork)
    );
    assert_eq!(
        store.verify_device(
            &home,
            NetworkKind::Public(PublicKind::OpenWifi),
            &[DEV1],
            "dev1.local",
            NOW
        ),
        Err(ScopeRefusal::PublicNetwork(PublicKind::OpenWifi))
    );
    assert_eq!(
        store.verify_device(&home, NetworkKind::Managed, &[DEV1], "dev1.local", NOW),
        Err(ScopeRefusal::NoPinForNetwork)
    );
}

#[test]
fn validity_and_key_strength() {
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    let after = 1_775_100_000; // 2026-04-02
    assert_eq!(
        store.verify_device(&home, NetworkKind::Private, &[DEV1], "dev1.local", after),
        Err(ScopeRefusal::CertificateExpired)
    );
    assert_eq!(
        store.verify_device(
            &home,
            NetworkKind::Private,
            &[DEV1],
            "dev1.local",
            1_767_000_000
        ),
        Err(ScopeRefusal::CertificateNotYetValid)
    );
    // After the pinned root expires, nothing under it is trusted.
    assert_eq!(
        store.verify_device(
            &home,
            NetworkKind::Private,
            &[DEV1],
            "dev1.local",
            1_900_000_000
        ),
        Err(ScopeRefusal::PinnedRootUnusable(Refusal::RootExpired {
            not_after: 1_893_456_000
        }))
    );
    assert_eq!(
        check(
            &store,
            &home,
            &[include_bytes!("vectors/weakdev-by-p384.der")],
            "dev1.local"
        ),
        Err(ScopeRefusal::WeakDeviceKey(KeyKind::P256))
    );
}

#[test]
fn broken_chains() {
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    assert_eq!(
        check(&store, &home, &[], "dev1.local"),
        Err(ScopeRefusal::EmptyChain)
    );
    assert!(matches!(
        check(&store, &home, &[&DEV1[..200]], "dev1.local"),
        Err(ScopeRefusal::MalformedCertificate { index: 0, .. })
    ));
    // A corrupted signature on the device certificate.
    let mut bad = DEV1.to_vec();
    let last = bad.len() - 3;
    bad[last] ^= 0x01;
    assert_eq!(
        check(&store, &home, &[&bad], "dev1.local"),
        Err(ScopeRefusal::BadSignature)
    );
    // The root itself is not a valid end-entity for a device name.
    assert!(check(&store, &home, &[ROOT], "router-fdb531.local").is_err());
}

#[test]
fn verify_scoped_directly() {
    let domains = ["example.test".to_string()];
    assert_eq!(
        verify_scoped(ROOT, &domains, &[DEV1], "dev1.example.test", NOW),
        Ok(())
    );
    // Without the domain, only .local and addresses remain in scope.
    assert_eq!(
        verify_scoped(ROOT, &[], &[DEV1], "dev1.example.test", NOW),
        Err(ScopeRefusal::NameOutOfScope("dev1.example.test".into()))
    );
    assert_eq!(verify_scoped(ROOT, &[], &[DEV1], "dev1.local", NOW), Ok(()));
    assert!(matches!(
        verify_scoped(&ROOT[..50], &[], &[DEV1], "dev1.local", NOW),
        Err(ScopeRefusal::PinnedRootUnusable(
            Refusal::MalformedRoot { .. }
        ))
    ));
    assert!(
        ScopeRefusal::NameOutOfScope("x.com".into())
            .to_string()
            .contains("§3.5")
    );
}

#[test]
fn managed_network_scoped_trust() {
    let corp = net(b"Corp");
    let mut store = PinStore::new();
    store
        .set_managed(&corp, &[ROOT2, ROOT], &["corp.test"], NOW)
        .unwrap();
    assert_eq!(
        store.verify_device(&corp, NetworkKind::Managed, &[DEV1], "dev1.local", NOW),
        Ok(())
    );
    assert_eq!(
        store.verify_device(
            &corp,
            NetworkKind::Managed,
            &[DEV1_ROOT2],
            "dev1.local",
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        store.verify_device(&corp, NetworkKind::Managed, &[DEV1], "dev2.local", NOW),
        Err(ScopeRefusal::NameNotInCertificate("dev2.local".into()))
    );
    assert_eq!(
        store.verify_device(
            &corp,
            NetworkKind::Managed,
            &[PUBLIC],
            "www.example.com",
            NOW
        ),
        Err(ScopeRefusal::NameOutOfScope("www.example.com".into()))
    );
}

/// Cross-check with the openssl CLI: what we trust, `openssl verify` accepts with the same root,
/// time and host name.
#[test]
fn agrees_with_openssl_verify() {
    let dir = std::env::temp_dir().join(format!("lantrust-pin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = |name: &str, der: &[u8]| {
        let p = dir.join(name);
        let status = std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER", "-out"])
            .arg(&p)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(der)?;
                c.wait()
            });
        status.map(|s| (s.success(), p))
    };
    let (Ok((true, root)), Ok((true, dev))) = (pem("root.pem", ROOT), pem("dev.pem", DEV1)) else {
        lantrust_test_support::skip("openssl not available for the cross-check");
        return;
    };
    let verify = |host: &str| {
        std::process::Command::new("openssl")
            .args([
                "verify",
                "-attime",
                &NOW.to_string(),
                "-verify_hostname",
                host,
                "-CAfile",
            ])
            .arg(&root)
            .arg(&dev)
            .output()
            .unwrap()
            .status
            .success()
    };
    let home = net(b"Home");
    let store = pinned(&home, ROOT, "router-fdb531.local");
    for host in ["dev1.local", "dev1.example.test", "dev2.local"] {
        assert_eq!(
            verify(host),
            check(&store, &home, &[DEV1], host).is_ok(),
            "{host}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
