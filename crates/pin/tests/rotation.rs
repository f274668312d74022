//! Planned root rotation (§4.8, issue 15): every accept and refuse case of the link check, with
//! roots and link certificates made by lantrust-ca as the server makes them, and forged links
//! re-signed by hand.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::{Decode, Encode};
use lantrust_ca::{NameConstraints, Root, RootConfig, certificate_to_der};
use lantrust_pin::{
    Decision, LinkRefusal, NetworkId, NetworkKind, Observation, PinStore, check_rotation_links,
};
use x509_cert::Certificate;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn root(nc: NameConstraints) -> Root {
    let mut cfg = RootConfig::new("router", vec!["home.arpa".into()]);
    cfg.name_constraints = nc;
    Root::generate(
        &cfg,
        Duration::from_secs(now() - 86_400),
        &mut rand::rngs::OsRng,
    )
    .unwrap()
}

fn successor(old: &Root) -> Root {
    old.successor(Duration::from_secs(now()), &mut rand::rngs::OsRng)
        .unwrap()
}

fn link(old: &Root, new: &Root) -> Vec<u8> {
    certificate_to_der(&old.link_certificate(new, &mut rand::rngs::OsRng).unwrap()).unwrap()
}

/// `link` with its TBS changed by `edit`, re-signed by `signer` (a forged or altered link).
fn resign(
    link: &[u8],
    signer: &Root,
    edit: impl FnOnce(&mut x509_cert::TbsCertificate),
) -> Vec<u8> {
    let mut cert = Certificate::from_der(link).unwrap();
    edit(&mut cert.tbs_certificate);
    let sig = signer
        .private_key()
        .sign(&cert.tbs_certificate.to_der().unwrap())
        .unwrap();
    cert.signature = der::asn1::BitString::from_bytes(sig.as_bytes()).unwrap();
    cert.to_der().unwrap()
}

fn drop_extension(tbs: &mut x509_cert::TbsCertificate, oid: der::oid::ObjectIdentifier) {
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != oid);
    }
}

fn network() -> NetworkId {
    NetworkId::builder()
        .interface("wlan0")
        .router_mac("02:11:22:33:44:55".parse().unwrap())
        .ssid(b"Home")
        .build()
        .unwrap()
}

fn check(old: &Root, new: &Root, links: &[&[u8]]) -> Result<usize, LinkRefusal> {
    check_rotation_links(old.certificate_der(), new.certificate_der(), links, now())
}

#[test]
fn a_link_from_the_pinned_root_is_a_planned_rotation() {
    for nc in NameConstraints::ALL {
        let old = root(nc);
        let new = successor(&old);
        let l = link(&old, &new);
        assert_eq!(check(&old, &new, &[&l]), Ok(1), "{nc}");
    }
}

#[test]
fn chained_links_after_two_rotations_are_followed_in_any_order() {
    let a = root(NameConstraints::NonCritical);
    let b = successor(&a);
    let c = successor(&b);
    let (ab, bc) = (link(&a, &b), link(&b, &c));
    assert_eq!(check(&a, &c, &[&bc, &ab]), Ok(2));
    assert_eq!(check(&a, &c, &[&ab, &bc]), Ok(2));
    assert_eq!(check(&b, &c, &[&bc, &ab]), Ok(1));
    // A link from A to B alone does not reach C.
    assert_eq!(
        check(&a, &c, &[&ab]),
        Err(LinkRefusal::DoesNotCertifyNewRoot)
    );
}

#[test]
fn no_link_or_one_from_another_key_is_refused() {
    let old = root(NameConstraints::NonCritical);
    let new = successor(&old);
    assert_eq!(check(&old, &new, &[]), Err(LinkRefusal::NoLink));
    // An attacker's own root "links" its root: not signed by the pinned key.
    let attacker = root(NameConstraints::NonCritical);
    let forged = link(&attacker, &new);
    assert_eq!(
        check(&old, &new, &[&forged]),
        Err(LinkRefusal::NotSignedByPinnedRoot)
    );
    // Same issuer name, but the signature is the attacker's.
    let good = link(&old, &new);
    let forged_sig = resign(&good, &attacker, |_| {});
    assert_eq!(
        check(&old, &new, &[&forged_sig]),
        Err(LinkRefusal::NotSignedByPinnedRoot)
    );
    // A genuine link to another root does not certify the offered one.
    let other_new = successor(&old);
    assert_eq!(
        check(&old, &other_new, &[&good]),
        Err(LinkRefusal::DoesNotCertifyNewRoot)
    );
    // The link presented as the new root itself is not a root (checked by `decide`); garbage is
    // malformed.
    assert!(matches!(
        check(&old, &new, &[b"not a certificate"]),
        Err(LinkRefusal::Malformed { .. })
    ));
}

#[test]
fn a_link_that_is_not_a_ca_or_outside_its_validity_is_refused() {
    let old = root(NameConstraints::NonCritical);
    let new = successor(&old);
    let good = link(&old, &new);
    let not_ca = resign(&good, &old, |tbs| {
        drop_extension(tbs, const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
    });
    assert_eq!(check(&old, &new, &[&not_ca]), Err(LinkRefusal::NotACa));
    let expired = resign(&good, &old, |tbs| {
        tbs.validity.not_after = x509_cert::time::Time::UtcTime(
            der::asn1::UtcTime::from_unix_duration(Duration::from_secs(now() - 3600)).unwrap(),
        );
    });
    assert!(matches!(
        check(&old, &new, &[&expired]),
        Err(LinkRefusal::OutsideValidity { .. })
    ));
    // Valid in the future only.
    assert!(matches!(
        check_rotation_links(
            old.certificate_der(),
            new.certificate_der(),
            &[&good],
            now() - 2 * 86_400
        ),
        Err(LinkRefusal::OutsideValidity { .. })
    ));
}

#[test]
fn wider_name_constraints_are_refused() {
    let old = root(NameConstraints::NonCritical);
    let new = successor(&old);
    let good = link(&old, &new);
    // The link drops the constraints: it could vouch for any name.
    let unconstrained = resign(&good, &old, |tbs| {
        drop_extension(tbs, const_oid::db::rfc5280::ID_CE_NAME_CONSTRAINTS)
    });
    assert_eq!(
        check(&old, &new, &[&unconstrained]),
        Err(LinkRefusal::WiderConstraints { which: "link" })
    );
    // A new root without constraints, even with a genuine link from the constrained root.
    let mut cfg = RootConfig::new("router", vec!["home.arpa".into()]);
    cfg.name_constraints = NameConstraints::Off;
    let open = Root::generate(&cfg, Duration::from_secs(now()), &mut rand::rngs::OsRng).unwrap();
    let l = link(&old, &open);
    assert_eq!(
        check(&old, &open, &[&l]),
        Err(LinkRefusal::WiderConstraints { which: "new root" })
    );
    // A new root for an extra domain is wider too.
    let mut cfg = RootConfig::new("router", vec!["home.arpa".into(), "example.com".into()]);
    cfg.name_constraints = NameConstraints::NonCritical;
    let more = Root::generate(&cfg, Duration::from_secs(now()), &mut rand::rngs::OsRng).unwrap();
    let l = link(&old, &more);
    assert_eq!(
        check(&old, &more, &[&l]),
        Err(LinkRefusal::WiderConstraints { which: "new root" })
    );
    // Criticality is not breadth: critical → non-critical keeps the same names.
    let crit = root(NameConstraints::Critical);
    let mut cfg = RootConfig::new("router", vec!["home.arpa".into()]);
    cfg.name_constraints = NameConstraints::NonCritical;
    let nc = Root::generate(&cfg, Duration::from_secs(now()), &mut rand::rngs::OsRng).unwrap();
    let l = link(&crit, &nc);
    assert_eq!(check(&crit, &nc, &[&l]), Ok(1));
    // From an unconstrained root anything is no wider.
    let off = root(NameConstraints::Off);
    let next = successor(&off);
    let l = link(&off, &next);
    assert_eq!(check(&off, &next, &[&l]), Ok(1));
}

#[test]
fn the_store_re_pins_a_planned_rotation_and_alerts_on_an_unsigned_change() {
    let net = network();
    let old = root(NameConstraints::NonCritical);
    let new = successor(&old);
    let l = link(&old, &new);
    let t0 = now();
    let mut store = PinStore::new();
    let o = |der| Observation {
        network: &net,
        kind: NetworkKind::Private,
        server_name: "router.local",
        root_der: der,
        domains: &["home.arpa"],
    };
    match store.decide_with_links(&o(old.certificate_der()), &[], t0 - 60) {
        Decision::FirstUse(c) => {
            store.accept(c, t0 - 60).unwrap();
        }
        other => panic!("{other:?}"),
    }
    // Unchanged root: links change nothing.
    assert!(matches!(
        store.decide_with_links(&o(old.certificate_der()), &[&l], t0),
        Decision::Trusted(_)
    ));
    // A forged rotation (another root, no valid link) is the §4.8 alert.
    let attacker = root(NameConstraints::NonCritical);
    let forged = link(
        &attacker,
        &attacker
            .successor(Duration::from_secs(t0), &mut rand::rngs::OsRng)
            .unwrap(),
    );
    assert!(matches!(
        store.decide_with_links(&o(attacker.certificate_der()), &[&l, &forged], t0),
        Decision::RootChanged { .. }
    ));
    assert!(matches!(
        store.decide_with_links(&o(new.certificate_der()), &[], t0),
        Decision::RootChanged { .. }
    ));
    // Plain `decide` never looks at links.
    assert!(matches!(
        store.decide(&o(new.certificate_der()), t0),
        Decision::RootChanged { .. }
    ));
    let Decision::PlannedRotation {
        old: was,
        new: cand,
        links,
    } = store.decide_with_links(&o(new.certificate_der()), &[&l], t0)
    else {
        panic!("expected a planned rotation");
    };
    assert_eq!(links, 1);
    assert_eq!(was.der(), old.certificate_der());
    let fp = net.fingerprint();
    let replaced = store.accept_rotation(cand, t0).unwrap();
    assert_eq!(replaced.as_ref(), Some(was.spki_sha256()));
    let pin = store.pin(&fp).unwrap();
    assert_eq!(pin.first_seen(), t0 - 60, "the network's record is kept");
    assert_eq!(pin.domains(), ["home.arpa"]);
    assert_eq!(
        store.root_der(pin.root_spki_sha256()),
        Some(new.certificate_der())
    );
    assert_eq!(store.root_count(), 1, "the old root is no longer kept");
    // Now the new root is trusted, and the old one offered again is a change.
    assert!(matches!(
        store.decide_with_links(&o(new.certificate_der()), &[&l], t0),
        Decision::Trusted(_)
    ));
    assert!(matches!(
        store.decide_with_links(&o(old.certificate_der()), &[&l], t0),
        Decision::RootChanged { .. }
    ));
    // The store round-trips.
    let again = PinStore::from_bytes(&store.to_bytes()).unwrap();
    assert_eq!(again, store);
}
