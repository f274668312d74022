//! The CRL path of scoped trust (lantrust-pin, draft §4.5, §4.7; RFC 5280 §5): arbitrary bytes as
//! a network's CRL. Input: a selector byte (0: a root made by lantrust-ca, 1: one made by
//! `openssl req`, both with a device certificate they issued: `crl_check/*.der`, written by
//! `LANTRUST_WRITE_VECTORS=1 cargo test -p lantrust-pin --test crl`), then the CRL DER.
//!
//! Checks: `verify_crl` and the store never panic; a CRL the store caches verified under the
//! pinned root, survives a store round trip, and decides revocation consistently — the device is
//! refused as `Revoked` exactly when the CRL lists its serial, and otherwise the answer follows
//! the nextUpdate + grace policy at three times.
#![no_main]
use libfuzzer_sys::fuzz_target;

use lantrust_pin::{
    CRL_GRACE, Decision, NetworkId, NetworkKind, Observation, PinStore, Revocation, ScopeRefusal,
    verify_crl, verify_scoped_with_crl,
};

const ROOTS: [&[u8]; 2] = [
    include_bytes!("crl_check/lantrust-root.der"),
    include_bytes!("crl_check/openssl-root.der"),
];
const DEVICES: [&[u8]; 2] = [
    include_bytes!("crl_check/lantrust-cam-1.der"),
    include_bytes!("crl_check/openssl-cam-1.der"),
];
/// 2026-12-02T01:13:20Z: the vectors' certificates are valid, their CRLs current.
const NOW: u64 = 1_796_174_000;

fn serial(der: &[u8]) -> Vec<u8> {
    lantrust_ca::certificate_from_der(der)
        .map(|c| c.tbs_certificate.serial_number.as_bytes().to_vec())
        .unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, crl_der)) = data.split_first() else {
        return;
    };
    let i = usize::from(*sel & 1);
    let (root, device) = (ROOTS[i], DEVICES[i]);

    let free = verify_crl(root, crl_der, NOW);
    let _ = verify_scoped_with_crl(root, &[], &[device], "cam-1.local", Some(crl_der), NOW);

    let network = NetworkId::builder()
        .router_mac("02:00:00:00:00:01".parse().expect("MAC"))
        .build()
        .expect("network");
    let mut store = PinStore::new();
    let obs = Observation {
        network: &network,
        kind: NetworkKind::Private,
        server_name: "router-fdb531.local",
        root_der: root,
        domains: &[],
    };
    let Decision::FirstUse(c) = store.decide(&obs, NOW) else {
        panic!("the vector root must be pinnable");
    };
    store.accept(c, NOW).expect("accept");
    let fp = network.fingerprint();
    let cached = store.update_crl(&fp, crl_der, Some("http://x.local/crl"), NOW);
    assert_eq!(
        cached.is_ok(),
        free.is_ok(),
        "store and verify_crl disagree"
    );
    let Ok(crl) = cached else {
        return;
    };
    assert!(crl.next_update() >= crl.this_update());
    let back = PinStore::from_bytes(&store.to_bytes()).expect("a cached CRL reloads");
    assert_eq!(back, store);

    let listed = crl.revocation_of(&serial(device)).is_some();
    let next = crl.next_update();
    for now in [
        NOW,
        next.saturating_add(1),
        next.saturating_add(CRL_GRACE).saturating_add(1),
    ] {
        let r = store.verify_device_status(
            &network,
            NetworkKind::Private,
            &[device],
            "cam-1.local",
            now,
        );
        if listed {
            assert!(matches!(r, Err(ScopeRefusal::Revoked { .. })), "{r:?}");
            continue;
        }
        match r {
            Ok(Revocation::Current { .. }) => assert!(now <= next),
            Ok(Revocation::Stale { .. }) => {
                assert!(now > next && now <= next.saturating_add(CRL_GRACE))
            }
            Err(ScopeRefusal::CrlTooOld { .. }) => assert!(now > next.saturating_add(CRL_GRACE)),
            Ok(Revocation::NotChecked) | Err(ScopeRefusal::Revoked { .. }) => {
                panic!("{r:?} with a cached CRL that does not list the device")
            }
            // The device's own validity at a later time, or the CRL's issuer not being the
            // device's (another name under the same key): not this target's concern.
            _ => {}
        }
    }
});
