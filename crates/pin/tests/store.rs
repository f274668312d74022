//! The persisted store: round trip, determinism, damage detection, migration, purge, and the
//! device-side certificate tracking.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_pin::{Decision, Error, NetworkId, NetworkKind, Observation, PinStore, STORE_VERSION};
use sha2::{Digest, Sha256};

const NOW: u64 = 1_769_904_000;
const ROOT: &[u8] = include_bytes!("vectors/root-p384.der");
const ROOT2: &[u8] = include_bytes!("vectors/root2-p384.der");
const DEV1: &[u8] = include_bytes!("vectors/dev1-by-p384.der");
const DEV1_ROOT2: &[u8] = include_bytes!("vectors/dev1-by-root2.der");

fn net(ssid: &str) -> NetworkId {
    NetworkId::builder()
        .interface("wlan0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .ssid(ssid.as_bytes())
        .local_domain("example.test")
        .build()
        .unwrap()
}

fn pin(store: &mut PinStore, network: &NetworkId, root: &[u8], server: &str, now: u64) {
    let o = Observation {
        network,
        kind: NetworkKind::Private,
        server_name: server,
        root_der: root,
        domains: &["lan"],
    };
    let Decision::FirstUse(c) = store.decide(&o, now) else {
        panic!("not first use")
    };
    store.accept(c, now).unwrap();
}

fn sample() -> PinStore {
    let mut store = PinStore::new();
    pin(&mut store, &net("Home"), ROOT, "router-fdb531.local", NOW);
    pin(
        &mut store,
        &net("Home-5G"),
        ROOT,
        "router-fdb531.example.test",
        NOW + 1,
    );
    pin(
        &mut store,
        &net("Office"),
        ROOT2,
        "other-router.local",
        NOW + 2,
    );
    store
        .set_managed(&net("Corp"), &[ROOT2], &["corp.test"], NOW)
        .unwrap();
    store.track_device_cert(&net("Home"), "dev1", DEV1).unwrap();
    store
}

/// Rewrites the `sha256` field so that only the structural checks see an edit. (serde_json's
/// `Value` sorts keys, and so does the store's own encoding, so the two agree.)
fn reseal(json: &mut serde_json::Value) -> Vec<u8> {
    let compact = serde_json::to_vec(&json["store"]).unwrap();
    json["sha256"] = hex::encode(Sha256::digest(&compact)).into();
    serde_json::to_vec_pretty(json).unwrap()
}

#[test]
fn round_trip_is_exact_and_deterministic() {
    let store = sample();
    let bytes = store.to_bytes();
    let back = PinStore::from_bytes(&bytes).unwrap();
    assert_eq!(back, store);
    // Keys are sorted everywhere: re-encoding through serde_json's sorted map changes nothing.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut resealed = reseal(&mut json);
    resealed.push(b'\n');
    assert!(resealed == bytes, "keys are not in sorted order");
    assert_eq!(back.to_bytes(), bytes);
    // Built in another order, the same content gives the same bytes.
    let mut other = PinStore::new();
    other
        .set_managed(&net("Corp"), &[ROOT2], &["corp.test"], NOW)
        .unwrap();
    pin(
        &mut other,
        &net("Office"),
        ROOT2,
        "other-router.local",
        NOW + 2,
    );
    pin(
        &mut other,
        &net("Home-5G"),
        ROOT,
        "router-fdb531.example.test",
        NOW + 1,
    );
    pin(&mut other, &net("Home"), ROOT, "router-fdb531.local", NOW);
    other.track_device_cert(&net("Home"), "dev1", DEV1).unwrap();
    assert_eq!(other.to_bytes(), bytes);

    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["format"], "lantrust-pin-store");
    assert_eq!(json["version"], STORE_VERSION);
    // Two distinct roots, each stored once under its SPKI SHA-256.
    assert_eq!(json["store"]["roots"].as_object().unwrap().len(), 2);
    let home = &json["store"]["networks"][net("Home").fingerprint().to_string()];
    assert_eq!(home["server_name"], "router-fdb531.local");
    assert_eq!(home["domains"], serde_json::json!(["example.test", "lan"]));
    assert_eq!(home["network"]["ssid"], hex::encode("Home"));
    assert_eq!(home["network"]["router_mac"], "02:11:22:33:44:55");
    // The stored decision still holds after reload.
    let o = Observation {
        network: &net("Home"),
        kind: NetworkKind::Private,
        server_name: "router-fdb531.local",
        root_der: ROOT,
        domains: &[],
    };
    assert_eq!(
        back.decide(&o, NOW),
        Decision::Trusted(net("Home").fingerprint())
    );
    let verify = |name| back.verify_device(&net("Home"), NetworkKind::Private, &[DEV1], name, NOW);
    assert_eq!(verify("dev1.example.test"), Ok(()));
    // "lan" was announced, so dev1.lan is in scope, but the certificate does not name it.
    assert_eq!(
        verify("dev1.lan"),
        Err(lantrust_pin::ScopeRefusal::NameNotInCertificate(
            "dev1.lan".into()
        ))
    );
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().to_bytes();
    // The trailing newline is whitespace; every shorter prefix must fail, never give a store.
    for len in 0..bytes.len() - 1 {
        match PinStore::from_bytes(&bytes[..len]) {
            Err(Error::StoreTruncated { offset }) => assert_eq!(offset, len),
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
    assert!(
        Error::StoreTruncated { offset: 3 }
            .to_string()
            .contains("not reset")
    );
}

#[test]
fn corruption_is_detected_with_an_offset() {
    let bytes = sample().to_bytes();
    // Syntax damage.
    let mut broken = bytes.clone();
    let at = broken.iter().position(|b| *b == b':').unwrap();
    broken[at] = b'=';
    match PinStore::from_bytes(&broken) {
        Err(Error::StoreCorrupt { offset, reason }) => {
            assert_eq!(offset, at);
            assert!(reason.contains("expected `:`"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Damage that is still valid JSON: a changed timestamp digit.
    let text = String::from_utf8(bytes).unwrap();
    let edited = text.replacen(
        &format!("\"last_seen\": {NOW}"),
        &format!("\"last_seen\": {}", NOW + 9),
        1,
    );
    assert_ne!(edited, text);
    assert_eq!(
        PinStore::from_bytes(edited.as_bytes()),
        Err(Error::ChecksumMismatch)
    );
    // Binary garbage and empty input.
    assert!(matches!(
        PinStore::from_bytes(b"\x00\xff garbage"),
        Err(Error::StoreCorrupt { offset: 0, .. })
    ));
    assert_eq!(
        PinStore::from_bytes(b""),
        Err(Error::StoreTruncated { offset: 0 })
    );
    assert!(matches!(
        PinStore::from_bytes(b"[]"),
        Err(Error::StoreCorrupt { .. })
    ));
}

#[test]
fn format_and_version_are_checked() {
    assert_eq!(
        PinStore::from_bytes(br#"{"format":"something-else","version":2}"#),
        Err(Error::WrongFormat {
            found: "something-else".into()
        })
    );
    let err = PinStore::from_bytes(br#"{"format":"lantrust-pin-store","version":3}"#).unwrap_err();
    assert_eq!(err, Error::UnsupportedVersion { found: 3 });
    assert!(err.to_string().contains("upgrade"));
    // Unknown fields are refused rather than dropped on the next save.
    let mut json: serde_json::Value = serde_json::from_slice(&sample().to_bytes()).unwrap();
    json["store"]["extra"] = 1.into();
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreCorrupt { .. })
    ));
}

#[test]
fn inconsistent_records_are_refused() {
    let bytes = sample().to_bytes();
    let home = net("Home").fingerprint().to_string();
    let office = net("Office").fingerprint().to_string();

    // A pin filed under another network's fingerprint.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let networks = json["store"]["networks"].as_object_mut().unwrap();
    let moved = networks.remove(&home).unwrap();
    networks.insert("00".repeat(32), moved);
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreInconsistent { .. })
    ));

    // A pin naming a root that is not stored.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["store"]["networks"][&office]["root"] = "11".repeat(32).into();
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreInconsistent { .. })
    ));

    // A root stored under the wrong SPKI hash.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let roots = json["store"]["roots"].as_object_mut().unwrap();
    let keys: Vec<String> = roots.keys().cloned().collect();
    let (a, b) = (roots[&keys[0]].clone(), roots[&keys[1]].clone());
    roots.insert(keys[0].clone(), b);
    roots.insert(keys[1].clone(), a);
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreInconsistent { .. })
    ));

    // A root certificate that no longer parses.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["store"]["roots"][&keys[0]]["der"] = "AAAA".into();
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreInconsistent { .. })
    ));

    // A root whose content was altered (a SAN renamed): same key, so the same SPKI hash, but
    // its self-signature no longer verifies.
    use base64ct::{Base64, Encoding};
    let mut tampered = ROOT.to_vec();
    let at = tampered.windows(7).rposition(|w| w == b"example").unwrap();
    tampered[at] = b'E';
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let home_root = json["store"]["networks"][&home]["root"]
        .as_str()
        .unwrap()
        .to_string();
    json["store"]["roots"][&home_root]["der"] = Base64::encode_string(&tampered).into();
    match PinStore::from_bytes(&reseal(&mut json)) {
        Err(Error::StoreInconsistent { reason }) => {
            assert!(reason.contains("self-signature"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // first_seen after last_seen.
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["store"]["networks"][&office]["first_seen"] = (NOW + 100).into();
    assert!(matches!(
        PinStore::from_bytes(&reseal(&mut json)),
        Err(Error::StoreInconsistent { .. })
    ));
}

#[test]
fn version_1_is_migrated() {
    use base64ct::{Base64, Encoding};
    let v1 = format!(
        r#"{{
  "format": "lantrust-pin-store",
  "version": 1,
  "networks": {{
    "home wifi": {{
      "interface": "wlan0", "router_mac": "02:11:22:33:44:55", "ssid": "Home",
      "domain": "Example.Test", "root_der": "{root}", "server": "router-fdb531.local",
      "first_seen": 1769000000, "last_seen": 1769900000
    }},
    "home ethernet": {{
      "interface": "eth0", "router_mac": "02:11:22:33:44:55", "ssid": null,
      "domain": "example.test", "root_der": "{root}", "server": "192.168.1.1",
      "first_seen": 1769000001, "last_seen": 1769000002
    }}
  }}
}}"#,
        root = Base64::encode_string(ROOT)
    );
    let store = PinStore::from_bytes(v1.as_bytes()).unwrap();
    // The shared root is now stored once.
    assert_eq!(store.root_count(), 1);
    let wifi = store.pin(&net("Home").fingerprint()).unwrap();
    assert_eq!(wifi.domains(), ["example.test"]);
    assert_eq!(
        (wifi.first_seen(), wifi.last_seen()),
        (1_769_000_000, 1_769_900_000)
    );
    assert_eq!(store.root_der(wifi.root_spki_sha256()), Some(ROOT));
    let eth = NetworkId::builder()
        .interface("eth0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .local_domain("example.test")
        .build()
        .unwrap();
    assert_eq!(
        store.pin(&eth.fingerprint()).unwrap().server_name(),
        "192.168.1.1"
    );
    // Saving writes version 2, which reads back identically.
    let v2 = store.to_bytes();
    assert!(String::from_utf8_lossy(&v2).contains("\"version\": 2"));
    assert_eq!(PinStore::from_bytes(&v2).unwrap(), store);

    // A damaged version 1 file is an error too.
    let broken = v1.replace(
        "02:11:22:33:44:55\", \"ssid\": \"Home\"",
        "zz\", \"ssid\": \"Home\"",
    );
    assert!(matches!(
        PinStore::from_bytes(broken.as_bytes()),
        Err(Error::StoreInconsistent { .. })
    ));
}

#[test]
fn purge_drops_least_recently_seen() {
    let mut store = PinStore::new();
    pin(&mut store, &net("A"), ROOT, "router-fdb531.local", NOW);
    pin(&mut store, &net("B"), ROOT2, "other-router.local", NOW + 10);
    pin(&mut store, &net("C"), ROOT, "router-fdb531.local", NOW + 20);
    store
        .track_device_cert(&net("B"), "dev1", DEV1_ROOT2)
        .unwrap();
    // A was seen again most recently: B is now the oldest.
    assert!(store.mark_seen(&net("A").fingerprint(), NOW + 30));
    assert_eq!(store.purge_lru(2), vec![net("B").fingerprint()]);
    assert!(store.pin(&net("B").fingerprint()).is_none());
    assert!(store.device_certs(&net("B").fingerprint()).is_empty());
    // B's root is no longer referenced and is gone; the shared one stays.
    assert_eq!(store.root_count(), 1);
    assert!(store.purge_lru(2).is_empty());
    assert_eq!(
        store.purge_lru(0),
        vec![net("C").fingerprint(), net("A").fingerprint()]
    );
    assert_eq!(store.root_count(), 0);
    assert!(!store.mark_seen(&net("A").fingerprint(), NOW));
}

#[test]
fn device_rename_revokes_only_on_the_current_network() {
    let (home, office) = (net("Home"), net("Office"));
    let mut store = PinStore::new();
    store.track_device_cert(&home, "dev1", DEV1).unwrap();
    store.track_device_cert(&home, "dev1", DEV1).unwrap(); // idempotent
    store
        .track_device_cert(&office, "dev1", DEV1_ROOT2)
        .unwrap();
    assert_eq!(store.device_certs(&home.fingerprint()).len(), 1);
    let tracked = &store.device_certs(&home.fingerprint())[0];
    assert_eq!(tracked.names(), ["dev1.local", "dev1.example.test"]);
    assert_eq!(tracked.not_after(), 1_775_001_600); // 2026-04-01

    // mDNS collision on the home network: the device becomes dev1-2 there (§4.7).
    let revoke = store.device_rename(&home, "dev1-2").unwrap();
    assert_eq!(revoke.len(), 1);
    assert_eq!(revoke[0].der(), DEV1);
    assert!(store.device_certs(&home.fingerprint())[0].revoke_pending());
    assert_eq!(store.device_hostname(&home.fingerprint()), Some("dev1-2"));
    // The office network keeps its name and certificate.
    assert_eq!(store.device_hostname(&office.fingerprint()), Some("dev1"));
    assert!(!store.device_certs(&office.fingerprint())[0].revoke_pending());
    // Renaming again does not ask twice; confirming the revocation stops tracking it.
    assert!(store.device_rename(&home, "dev1-2").unwrap().is_empty());
    let serial = revoke[0].serial().to_vec();
    assert!(store.device_revoked(&home.fingerprint(), &serial));
    assert!(store.device_certs(&home.fingerprint()).is_empty());
    assert!(!store.device_revoked(&home.fingerprint(), &serial));
    // Tracking under the old name is refused after the rename; bad input is refused.
    assert!(matches!(
        store.track_device_cert(&home, "dev1", DEV1),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        store.device_rename(&home, "a.b"),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        store.track_device_cert(&home, "dev1-2", &DEV1[..40]),
        Err(Error::InvalidCertificate { .. })
    ));
    // All of it survives a save.
    assert_eq!(PinStore::from_bytes(&store.to_bytes()).unwrap(), store);
}

#[test]
fn reconfiguring_a_managed_network_drops_its_old_anchor() {
    // Replacing a managed network's anchors must not leave the old anchor stored: a root no
    // network uses makes `from_bytes` refuse the file, so the store could not be read back.
    let corp = net("Corp");
    let mut store = PinStore::new();
    store.set_managed(&corp, &[ROOT2], &[], NOW).unwrap();
    store.set_managed(&corp, &[ROOT], &[], NOW).unwrap();
    assert_eq!(store.root_count(), 1);
    // The SPKI SHA-256 values openssl computed (vectors/spki-sha256.txt).
    let spki = |name: &str| -> [u8; 32] {
        let line = include_str!("vectors/spki-sha256.txt")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap();
        hex::decode(line).unwrap().try_into().unwrap()
    };
    assert!(store.root_der(&spki("root2-p384")).is_none());
    assert_eq!(store.root_der(&spki("root-p384")), Some(ROOT));
    let anchors: Vec<_> = store
        .managed(&corp.fingerprint())
        .unwrap()
        .anchors()
        .collect();
    assert_eq!(anchors, [&spki("root-p384")]);
    assert_eq!(PinStore::from_bytes(&store.to_bytes()).unwrap(), store);
}

#[test]
fn inconsistent_device_records_are_refused() {
    // The device record drives §4.7 revocation: a rename revokes the certificates whose names
    // start with the old host label. A record that does not match its certificate (or a label
    // that is not in normal form) would silently skip that revocation, so loading refuses it.
    let bytes = sample().to_bytes();
    let home = net("Home").fingerprint().to_string();
    let edits: [(&str, serde_json::Value); 4] = [
        ("hostname", "DEV1".into()),
        ("names", serde_json::json!(["other.local"])),
        ("serial", "01".into()),
        ("not_after", (NOW + 1).into()),
    ];
    for (field, value) in edits {
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let record = &mut json["store"]["device"][&home];
        if field == "hostname" {
            record[field] = value;
        } else {
            record["certs"][0][field] = value;
        }
        match PinStore::from_bytes(&reseal(&mut json)) {
            Err(Error::StoreInconsistent { reason }) => {
                assert!(reason.contains("device record"), "{field}: {reason}")
            }
            Err(other) => panic!("{field}: {other}"),
            Ok(_) => panic!("{field}: an inconsistent device record was loaded"),
        }
    }
    // The untouched record loads, and a rename then revokes its certificate.
    let mut store = PinStore::from_bytes(&bytes).unwrap();
    assert_eq!(
        store.device_rename(&net("Home"), "dev1-2").unwrap().len(),
        1
    );
}
