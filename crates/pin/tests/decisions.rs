//! Every decision path of `PinStore::decide`, with roots made by openssl (vectors/gen.sh).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_pin::{
    Decision, KeyKind, NetworkId, NetworkKind, Observation, PinStore, PublicKind, Refusal,
};

const NOW: u64 = 1_769_904_000; // 2026-02-01T00:00:00Z
const ROOT: &[u8] = include_bytes!("vectors/root-p384.der");
const ROOT2: &[u8] = include_bytes!("vectors/root2-p384.der");
const ROOT_P521: &[u8] = include_bytes!("vectors/root-p521.der");
const ROOT_RSA: &[u8] = include_bytes!("vectors/root-rsa3072.der");

/// The SPKI SHA-256 openssl computed for a root (vectors/spki-sha256.txt).
fn openssl_spki(name: &str) -> String {
    include_str!("vectors/spki-sha256.txt")
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap()
        .to_string()
}

fn home_wifi() -> NetworkId {
    NetworkId::builder()
        .interface("wlan0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .ssid(b"Home")
        .local_domain("example.test")
        .build()
        .unwrap()
}

fn home_ethernet() -> NetworkId {
    NetworkId::builder()
        .interface("eth0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .local_domain("example.test")
        .build()
        .unwrap()
}

fn obs<'a>(network: &'a NetworkId, root: &'a [u8], server: &'a str) -> Observation<'a> {
    Observation {
        network,
        kind: NetworkKind::Private,
        server_name: server,
        root_der: root,
        domains: &[],
    }
}

fn first_use(store: &mut PinStore, o: &Observation<'_>, now: u64) {
    match store.decide(o, now) {
        Decision::FirstUse(c) => {
            assert_eq!(store.accept(c, now).unwrap(), None);
        }
        other => panic!("expected FirstUse, got {other:?}"),
    }
}

fn refused(o: &Observation<'_>, now: u64) -> Refusal {
    match PinStore::new().decide(o, now) {
        Decision::Refused(r) => r,
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn first_use_then_trusted() {
    let net = home_wifi();
    let mut store = PinStore::new();
    let o = obs(&net, ROOT, "router-fdb531.local");
    let Decision::FirstUse(c) = store.decide(&o, NOW) else {
        panic!("not first use")
    };
    // The candidate carries what a UI shows.
    assert_eq!(c.root().key(), &KeyKind::P384);
    assert_eq!(c.root().subject(), "CN=router-fdb531 root");
    assert_eq!(c.root().not_after(), 1_893_456_000); // 2030-01-01
    assert_eq!(c.server_name(), "router-fdb531.local");
    assert_eq!(c.domains(), ["example.test"]);
    assert!(c.shared_with().is_empty());
    // Deciding changed nothing.
    assert!(store.pin(&net.fingerprint()).is_none());
    store.accept(c, NOW).unwrap();

    assert_eq!(
        store.decide(&o, NOW + 10),
        Decision::Trusted(net.fingerprint())
    );
    let pin = store.pin(&net.fingerprint()).unwrap();
    assert_eq!(pin.first_seen(), NOW);
    assert_eq!(
        hex::encode(pin.root_spki_sha256()),
        openssl_spki("root-p384")
    );
    assert_eq!(store.root_der(pin.root_spki_sha256()), Some(ROOT));
    assert!(store.mark_seen(&net.fingerprint(), NOW + 10));
    assert_eq!(store.pin(&net.fingerprint()).unwrap().last_seen(), NOW + 10);
}

#[test]
fn p521_and_rsa3072_roots_are_accepted() {
    let net = home_wifi();
    for (root, key, name) in [
        (ROOT_P521, KeyKind::P521, "root-p521"),
        (ROOT_RSA, KeyKind::Rsa { bits: 3072 }, "root-rsa3072"),
    ] {
        let Decision::FirstUse(c) =
            PinStore::new().decide(&obs(&net, root, "router-fdb531.local"), NOW)
        else {
            panic!("{name} not accepted")
        };
        assert_eq!(c.root().key(), &key);
        assert_eq!(hex::encode(c.root().spki_sha256()), openssl_spki(name));
    }
}

#[test]
fn two_networks_share_one_root() {
    let (wifi, eth) = (home_wifi(), home_ethernet());
    assert_ne!(wifi.fingerprint(), eth.fingerprint());
    let mut store = PinStore::new();
    first_use(&mut store, &obs(&wifi, ROOT, "router-fdb531.local"), NOW);
    // Ethernet discovery gives the other SAN of the same root (§3.5: extra SANs are allowed).
    let o = obs(&eth, ROOT, "router-fdb531.example.test");
    let Decision::FirstUse(c) = store.decide(&o, NOW + 1) else {
        panic!("second network")
    };
    assert_eq!(c.shared_with(), [wifi.fingerprint()]);
    store.accept(c, NOW + 1).unwrap();
    assert_eq!(store.root_count(), 1);
    let mut both =
        store.networks_with_root(store.pin(&wifi.fingerprint()).unwrap().root_spki_sha256());
    both.sort();
    let mut expected = vec![wifi.fingerprint(), eth.fingerprint()];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(
        store.decide(&o, NOW + 2),
        Decision::Trusted(eth.fingerprint())
    );
    // Forgetting one network keeps the root for the other.
    assert!(store.forget(&wifi.fingerprint()));
    assert_eq!(store.root_count(), 1);
    assert!(store.forget(&eth.fingerprint()));
    assert_eq!(store.root_count(), 0);
}

#[test]
fn root_change_is_surfaced_and_needs_explicit_accept() {
    let net = home_wifi();
    let mut store = PinStore::new();
    first_use(&mut store, &obs(&net, ROOT, "router-fdb531.local"), NOW);
    // A different root, valid for the name discovery now gives.
    let o = obs(&net, ROOT2, "other-router.local");
    let Decision::RootChanged { old, new } = store.decide(&o, NOW + 5) else {
        panic!("no change")
    };
    assert_eq!(hex::encode(old.spki_sha256()), openssl_spki("root-p384"));
    assert_eq!(
        hex::encode(new.root().spki_sha256()),
        openssl_spki("root2-p384")
    );
    assert_eq!(new.replaces(), Some(old.spki_sha256()));
    // Not accepted: the old pin stays, and the decision is repeated every time.
    assert!(matches!(
        store.decide(&o, NOW + 6),
        Decision::RootChanged { .. }
    ));
    assert_eq!(
        store.decide(&obs(&net, ROOT, "router-fdb531.local"), NOW + 6),
        Decision::Trusted(net.fingerprint())
    );
    // The user agreed: the pin is replaced and the old root dropped.
    let stale = new.clone();
    assert_eq!(
        store.accept(new, NOW + 7).unwrap(),
        Some(*old.spki_sha256())
    );
    assert_eq!(
        store.decide(&o, NOW + 8),
        Decision::Trusted(net.fingerprint())
    );
    assert_eq!(store.root_count(), 1);
    assert_eq!(store.pin(&net.fingerprint()).unwrap().first_seen(), NOW + 7);
    // A candidate decided against the old state cannot be applied twice.
    assert_eq!(
        store.accept(stale, NOW + 9),
        Err(lantrust_pin::Error::StaleCandidate)
    );
}

#[test]
fn public_networks_never_pin() {
    let net = home_wifi();
    for kind in [
        PublicKind::Cellular,
        PublicKind::OpenWifi,
        PublicKind::Untrusted,
    ] {
        let o = Observation {
            kind: NetworkKind::Public(kind),
            ..obs(&net, ROOT, "router-fdb531.local")
        };
        let mut store = PinStore::new();
        first_use(&mut store, &obs(&net, ROOT, "router-fdb531.local"), NOW);
        // Even with a pin under the same identity, a public network is refused.
        assert_eq!(
            store.decide(&o, NOW),
            Decision::Refused(Refusal::PublicNetwork(kind))
        );
        assert!(Refusal::PublicNetwork(kind).to_string().contains("public"));
    }
}

#[test]
fn discovered_name_must_be_in_root_sans() {
    let net = home_wifi();
    assert_eq!(
        refused(&obs(&net, ROOT, "evil-router.local"), NOW),
        Refusal::ServerNameNotInRoot("evil-router.local".into())
    );
    // The root of another network does not carry this network's server name.
    assert_eq!(
        refused(&obs(&net, ROOT2, "router-fdb531.local"), NOW),
        Refusal::ServerNameNotInRoot("router-fdb531.local".into())
    );
    // Any of the root's SANs matches, case and trailing dot aside, and IP SANs too.
    for ok in [
        "router-fdb531.local",
        "Router-FDB531.Example.Test.",
        "192.168.1.1",
        "::ffff:192.168.1.1",
    ] {
        assert!(
            matches!(
                PinStore::new().decide(&obs(&net, ROOT, ok), NOW),
                Decision::FirstUse(_)
            ),
            "{ok}"
        );
    }
    assert_eq!(
        refused(&obs(&net, ROOT, "192.168.1.2"), NOW),
        Refusal::ServerNameNotInRoot("192.168.1.2".into())
    );
    assert_eq!(
        refused(&obs(&net, ROOT, "bad name"), NOW),
        Refusal::InvalidServerName("bad name".into())
    );
    let bad_domain = Observation {
        domains: &["lan", "not a domain"],
        ..obs(&net, ROOT, "router-fdb531.local")
    };
    assert_eq!(
        refused(&bad_domain, NOW),
        Refusal::InvalidDomain("not a domain".into())
    );
}

#[test]
fn expired_and_not_yet_valid_roots() {
    let net = home_wifi();
    assert_eq!(
        refused(
            &obs(
                &net,
                include_bytes!("vectors/root-expired.der"),
                "router-fdb531.local"
            ),
            NOW
        ),
        Refusal::RootExpired {
            not_after: 1_672_531_200
        } // 2023-01-01
    );
    assert_eq!(
        refused(&obs(&net, ROOT, "router-fdb531.local"), 1_700_000_000),
        Refusal::RootNotYetValid {
            not_before: 1_735_689_600
        } // 2025-01-01
    );
}

#[test]
fn weak_or_improper_roots() {
    let net = home_wifi();
    let server = "router-fdb531.local";
    assert_eq!(
        refused(
            &obs(&net, include_bytes!("vectors/root-p256.der"), server),
            NOW
        ),
        Refusal::WeakKey(KeyKind::P256)
    );
    assert_eq!(
        refused(
            &obs(&net, include_bytes!("vectors/root-rsa2048.der"), server),
            NOW
        ),
        Refusal::WeakKey(KeyKind::Rsa { bits: 2048 })
    );
    assert_eq!(
        refused(
            &obs(&net, include_bytes!("vectors/root-notca.der"), server),
            NOW
        ),
        Refusal::NotACa
    );
    // A CA certificate issued by another root is not a self-signed root.
    assert_eq!(
        refused(
            &obs(&net, include_bytes!("vectors/sub-ca.der"), server),
            NOW
        ),
        Refusal::NotSelfSigned
    );
    // Flip a bit in the signature value (the last bytes of the certificate).
    let mut bad = ROOT.to_vec();
    let last = bad.len() - 3;
    bad[last] ^= 0x01;
    assert_eq!(
        refused(&obs(&net, &bad, server), NOW),
        Refusal::BadSelfSignature
    );
    // Change a byte inside the signed part (a SAN): the signature no longer covers it.
    let mut tampered = ROOT.to_vec();
    let at = tampered.windows(7).rposition(|w| w == b"example").unwrap();
    tampered[at] = b'R';
    assert_eq!(
        refused(&obs(&net, &tampered, server), NOW),
        Refusal::BadSelfSignature
    );
    // Truncated DER.
    match refused(&obs(&net, &ROOT[..100], server), NOW) {
        Refusal::MalformedRoot { reason, .. } => assert!(!reason.is_empty()),
        other => panic!("{other:?}"),
    }
    // A device (leaf) certificate offered as a root.
    assert_eq!(
        refused(
            &obs(
                &net,
                include_bytes!("vectors/dev1-by-p384.der"),
                "dev1.local"
            ),
            NOW
        ),
        Refusal::NotACa
    );
}

#[test]
fn managed_networks_use_configured_anchors_only() {
    let corp = NetworkId::builder()
        .interface("eth1")
        .router_mac("02:aa:bb:cc:dd:ee".parse().unwrap())
        .local_domain("corp.test")
        .build()
        .unwrap();
    let managed = |root, server| Observation {
        kind: NetworkKind::Managed,
        ..obs(&corp, root, server)
    };
    let mut store = PinStore::new();
    // Managed, nothing configured: no TOFU.
    assert_eq!(
        store.decide(&managed(ROOT2, "other-router.local"), NOW),
        Decision::Refused(Refusal::NoManagedAnchors)
    );
    store
        .set_managed(&corp, &[ROOT2], &["corp.test"], NOW)
        .unwrap();
    assert_eq!(
        store.managed(&corp.fingerprint()).unwrap().domains(),
        ["corp.test"]
    );
    assert_eq!(
        store.decide(&managed(ROOT2, "other-router.local"), NOW),
        Decision::Trusted(corp.fingerprint())
    );
    assert_eq!(
        store.decide(&managed(ROOT, "router-fdb531.local"), NOW),
        Decision::Refused(Refusal::NotAManagedAnchor)
    );
    // Configuration wins even if the OS calls the network private.
    assert_eq!(
        store.decide(&obs(&corp, ROOT, "router-fdb531.local"), NOW),
        Decision::Refused(Refusal::NotAManagedAnchor)
    );
    // A weak anchor is refused at configuration time.
    assert_eq!(
        store.set_managed(&corp, &[include_bytes!("vectors/root-p256.der")], &[], NOW),
        Err(lantrust_pin::Error::AnchorRefused(Refusal::WeakKey(
            KeyKind::P256
        )))
    );
    assert!(store.remove_managed(&corp.fingerprint()));
    assert_eq!(store.root_count(), 0);
}

#[test]
fn network_identity() {
    // Neither router MAC nor SSID: refused.
    assert!(matches!(
        NetworkId::builder().interface("eth0").build(),
        Err(lantrust_pin::Error::InvalidNetworkId { .. })
    ));
    assert!(NetworkId::builder().ssid(&[0u8; 33]).build().is_err());
    assert!(NetworkId::builder().ssid(b"").build().is_err());
    assert!(
        NetworkId::builder()
            .ssid(b"x")
            .local_domain("bad_domain")
            .build()
            .is_err()
    );
    assert!(
        "02:11:22:33:44"
            .parse::<lantrust_pin::MacAddress>()
            .is_err()
    );
    assert!(
        "02:11:22:33:44:55:66"
            .parse::<lantrust_pin::MacAddress>()
            .is_err()
    );
    assert!(
        "02:11:22:33:44:zz"
            .parse::<lantrust_pin::MacAddress>()
            .is_err()
    );
    // The local domain is normalised before hashing.
    let a = NetworkId::builder()
        .ssid(b"Home")
        .local_domain("Example.TEST.")
        .build()
        .unwrap();
    let b = NetworkId::builder()
        .ssid(b"Home")
        .local_domain("example.test")
        .build()
        .unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    // Every field counts.
    let c = NetworkId::builder()
        .ssid(b"Home2")
        .local_domain("example.test")
        .build()
        .unwrap();
    let d = NetworkId::builder().ssid(b"Home").build().unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_ne!(a.fingerprint(), d.fingerprint());
    // The encoding is length-prefixed: moving bytes between fields changes the fingerprint.
    let e = NetworkId::builder()
        .interface("ab")
        .ssid(b"c")
        .build()
        .unwrap();
    let f = NetworkId::builder()
        .interface("a")
        .ssid(b"bc")
        .build()
        .unwrap();
    assert_ne!(e.fingerprint(), f.fingerprint());
    // The fingerprint is SHA-256 of the documented canonical encoding, stable across releases.
    let mut expected = b"lantrust-pin/network-id/v1".to_vec();
    expected.extend_from_slice(&[1, 0, 2, 0, 3, 1, 0, 0, 0, 4]);
    expected.extend_from_slice(b"Home");
    expected.extend_from_slice(&[4, 1, 0, 0, 0, 12]);
    expected.extend_from_slice(b"example.test");
    assert_eq!(a.canonical_encoding(), expected);
    let digest = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&expected)?;
            child.wait_with_output()
        });
    match digest {
        Ok(out) => {
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(a.fingerprint().to_string(), text.split(' ').next().unwrap());
        }
        Err(e) => lantrust_test_support::skip(format_args!("openssl dgst not available ({e})")),
    }
    let parsed: lantrust_pin::NetworkFingerprint = a.fingerprint().to_string().parse().unwrap();
    assert_eq!(parsed, a.fingerprint());
}

/// A pin made before the client could read the SSID (interface + router MAC only) carries over
/// to the same Wi-Fi network once the SSID is part of its identity: the same root is trusted,
/// another root raises the §4.8 alert instead of a silent second trust on first use.
#[test]
fn a_pin_from_before_the_ssid_was_known_carries_over_to_the_wifi_identity() {
    let mac = "02:11:22:33:44:55".parse().unwrap();
    let id = |ssid: Option<&[u8]>| {
        let b = NetworkId::builder()
            .interface("wlan0")
            .router_mac(mac)
            .local_domain("example.test");
        match ssid {
            Some(s) => b.ssid(s).build().unwrap(),
            None => b.build().unwrap(),
        }
    };
    let (before, wifi) = (id(None), id(Some(b"Home")));
    let mut store = PinStore::new();
    first_use(&mut store, &obs(&before, ROOT, "router-fdb531.local"), NOW);

    // Without the carry-over the Wi-Fi identity is a first use: the root swap would go unseen.
    assert!(matches!(
        store.decide(&obs(&wifi, ROOT2, "other-router.local"), NOW),
        Decision::FirstUse(_)
    ));
    assert_eq!(
        store.adopt_pre_ssid_pin(&wifi, NOW + 60),
        Some(before.fingerprint())
    );
    // Now the same root is trusted there, another one is a change (§4.8).
    assert_eq!(
        store.decide(&obs(&wifi, ROOT, "router-fdb531.local"), NOW + 60),
        Decision::Trusted(wifi.fingerprint())
    );
    assert!(matches!(
        store.decide(&obs(&wifi, ROOT2, "other-router.local"), NOW + 60),
        Decision::RootChanged { .. }
    ));
    let pin = store.pin(&wifi.fingerprint()).unwrap();
    assert_eq!(pin.network(), &wifi);
    assert_eq!((pin.first_seen(), pin.last_seen()), (NOW, NOW + 60));
    // Copied, not moved: the identity without SSID (a wired network of the same router) keeps
    // its pin; a second call finds the Wi-Fi pin and does nothing.
    assert!(store.pin(&before.fingerprint()).is_some());
    assert_eq!(store.adopt_pre_ssid_pin(&wifi, NOW + 120), None);

    // Nothing to carry: another router, another interface, or no SSID in the new identity.
    let other_router = NetworkId::builder()
        .interface("wlan0")
        .router_mac("02:00:00:00:00:99".parse().unwrap())
        .ssid(b"Home")
        .local_domain("example.test")
        .build()
        .unwrap();
    let other_iface = NetworkId::builder()
        .interface("wlan1")
        .router_mac(mac)
        .ssid(b"Home")
        .local_domain("example.test")
        .build()
        .unwrap();
    for n in [&other_router, &other_iface, &before, &home_ethernet()] {
        assert_eq!(store.adopt_pre_ssid_pin(n, NOW), None, "{n:?}");
    }
}
