//! Properties: a damaged store never loads as something else, and network fingerprints are a
//! function of the identity alone.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use lantrust_pin::{Decision, NetworkId, NetworkKind, Observation, PinStore};
use proptest::prelude::*;

const NOW: u64 = 1_769_904_000;
const ROOT: &[u8] = include_bytes!("vectors/root-p384.der");

/// The sample store and its bytes, built once (root checks are slow in debug builds).
fn sample() -> &'static (PinStore, Vec<u8>) {
    static SAMPLE: std::sync::OnceLock<(PinStore, Vec<u8>)> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let store = build_sample();
        let bytes = store.to_bytes();
        (store, bytes)
    })
}

fn build_sample() -> PinStore {
    let mut store = PinStore::new();
    for ssid in ["Home", "Home-5G"] {
        let net = NetworkId::builder()
            .interface("wlan0")
            .ssid(ssid.as_bytes())
            .build()
            .unwrap();
        let o = Observation {
            network: &net,
            kind: NetworkKind::Private,
            server_name: "router-fdb531.local",
            root_der: ROOT,
            domains: &["example.test"],
        };
        let Decision::FirstUse(c) = store.decide(&o, NOW) else {
            panic!()
        };
        store.accept(c, NOW).unwrap();
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any one-byte change either fails to load or (a whitespace edit) loads the same store:
    /// never a different or empty store.
    #[test]
    fn one_byte_damage_is_never_silent(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (store, bytes) = sample();
        let mut bytes = bytes.clone();
        let at = pos.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        if let Ok(loaded) = PinStore::from_bytes(&bytes) {
            prop_assert_eq!(&loaded, store);
        }
    }

}

proptest! {
    // Each case pins a root: a signature check in a debug build, so keep the count small.
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The fingerprint depends on the identity only and survives a store round trip.
    #[test]
    fn fingerprint_is_stable(
        iface in "[a-z]{1,8}[0-9]?",
        ssid in prop::collection::vec(any::<u8>(), 1..=32),
        mac in any::<[u8; 6]>(),
        domain in "[a-z]{1,10}\\.(test|lan|example)",
    ) {
        let build = || NetworkId::builder()
            .interface(&iface)
            .ssid(&ssid)
            .router_mac(lantrust_pin::MacAddress(mac))
            .local_domain(&domain)
            .build()
            .unwrap();
        let (a, b) = (build(), build());
        prop_assert_eq!(a.fingerprint(), b.fingerprint());
        let o = Observation {
            network: &a,
            kind: NetworkKind::Private,
            server_name: "192.168.1.1",
            root_der: ROOT,
            domains: &[],
        };
        let mut store = PinStore::new();
        let Decision::FirstUse(c) = store.decide(&o, NOW) else { panic!() };
        store.accept(c, NOW).unwrap();
        let loaded = PinStore::from_bytes(&store.to_bytes()).unwrap();
        let pin = loaded.pin(&a.fingerprint()).unwrap();
        prop_assert_eq!(pin.network(), &a);
        prop_assert_eq!(pin.domains(), [domain.clone()]);
    }
}
