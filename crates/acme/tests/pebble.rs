//! Interop: our sans-IO client, driven by a real HTTP client (ureq + rustls), obtains a certificate from
//! Debian's Pebble (with its default 5% badNonce rejection left on), resolving the test names through
//! pebble-challtestsrv to 127.0.0.1 where this test serves http-01. Then it rolls the account key over
//! and revokes the certificate with the new key.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::time::Duration;

use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier};
use lantrust_test_support::acme::{agent, drive};
use lantrust_test_support::http01::{Tokens, http01_responder};
use lantrust_test_support::pebble::{PebbleOptions, start_pebble};
use lantrust_test_support::temp_dir;

/// Run a client to completion against Pebble; a failure is a panic. Returns its events and
/// counts the badNonce retries it absorbed.
fn drive_ok(
    client: &mut Client,
    agent: &ureq::Agent,
    tokens: &Tokens,
    bad_nonces: &mut u32,
) -> Vec<Event> {
    let driven = drive(client, agent, tokens, Duration::from_secs(90));
    if let Some(e) = driven.failure() {
        panic!("client failed: {e}");
    }
    *bad_nonces += driven.bad_nonces;
    driven.events
}

fn make_csr(names: &[&str]) -> Vec<u8> {
    use der::Encode;
    use std::str::FromStr;
    use x509_cert::builder::{Builder, RequestBuilder};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let key = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let subject = x509_cert::name::Name::from_str(&format!("CN={}", names[0])).unwrap();
    let mut b = RequestBuilder::new(subject, &key).unwrap();
    let sans = names
        .iter()
        .map(|n| GeneralName::DnsName(der::asn1::Ia5String::new(n).unwrap()))
        .collect();
    b.add_extension(&SubjectAltName(sans)).unwrap();
    let req = b.build::<p384::ecdsa::DerSignature>().unwrap();
    req.to_der().unwrap()
}

#[test]
fn pebble_issues_a_certificate_to_our_client() {
    let dir = temp_dir("acme-pebble");
    // The http-01 responder listens first, so that the port Pebble validates on is ours.
    let (http_port, tokens) = http01_responder();
    let options = PebbleOptions {
        http01_port: Some(http_port),
        alternate_roots: true,
    };
    let Some(pebble) = start_pebble(dir.path(), &options) else {
        return;
    };
    let agent = agent(pebble.ca_der.clone());
    let directory = pebble.directory;
    let names = [
        "lantrust-dev-12cd56.example.com",
        "www.lantrust-dev-12cd56.example.com",
    ];
    let csr = make_csr(&names);
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let mut bad_nonces = 0u32;

    let mut cfg = ClientConfig::new(&directory);
    cfg.default_poll_interval = Duration::from_millis(200);
    let op = Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der: csr,
        replaces: None,
    };
    let mut client = Client::new(cfg.clone(), key, op);
    let events = drive_ok(&mut client, &agent, &tokens, &mut bad_nonces);

    assert!(
        matches!(
            events.first(),
            Some(Event::AccountReady { created: true, .. })
        ),
        "{events:?}"
    );
    let served: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::ServeChallenges(l) = e {
                Some(l.len())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(served, vec![2], "one http-01 challenge per name");
    let chain = events
        .iter()
        .find_map(|e| {
            if let Event::Certificate(c) = e {
                Some(c.clone())
            } else {
                None
            }
        })
        .expect("certificate event");
    let certs = x509_cert::Certificate::load_pem_chain(chain.pem.as_bytes()).unwrap();
    assert!(certs.len() >= 2, "leaf + intermediate");
    let leaf = &certs[0];
    use der::Decode;
    let san_ext = leaf
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.17")
        .unwrap();
    let san =
        x509_cert::ext::pkix::SubjectAltName::from_der(san_ext.extn_value.as_bytes()).unwrap();
    let dns: Vec<String> = san
        .0
        .iter()
        .filter_map(|g| {
            if let x509_cert::ext::pkix::name::GeneralName::DnsName(d) = g {
                Some(d.to_string())
            } else {
                None
            }
        })
        .collect();
    for n in names {
        assert!(dns.contains(&n.to_string()), "{n} missing from {dns:?}");
    }
    assert!(
        !chain.alternates.is_empty(),
        "PEBBLE_ALTERNATE_ROOTS=1 must yield Link rel=alternate"
    );
    // RFC 9773 CertID of what Pebble issued is computable (Pebble sets the AKI).
    use der::Encode;
    let leaf_der = leaf.to_der().unwrap();
    let id = lantrust_acme::cert_id(&leaf_der).unwrap();
    assert!(id.contains('.'));

    // Key rollover to a P-256 key, then revoke with the new key (existing account lookup).
    let old_key = AccountKey::from_ec_bytes(
        Algorithm::Es384,
        &client.account_key().ec_secret_bytes().unwrap(),
    )
    .unwrap();
    let new_key = AccountKey::generate(Algorithm::Es256, &mut rand::rngs::OsRng).unwrap();
    let new_secret = new_key.ec_secret_bytes().unwrap();
    let mut kc = Client::new(cfg.clone(), old_key, Operation::KeyChange { new_key });
    let ev = drive_ok(&mut kc, &agent, &tokens, &mut bad_nonces);
    assert!(
        matches!(ev.first(), Some(Event::AccountReady { created: false, .. })),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::KeyChanged)));
    assert_eq!(kc.account_url(), client.account_url());

    let key = AccountKey::from_ec_bytes(Algorithm::Es256, &new_secret).unwrap();
    let mut rv = Client::new(
        cfg,
        key,
        Operation::Revoke {
            cert_der: leaf_der,
            reason: Some(4),
        },
    );
    let ev = drive_ok(&mut rv, &agent, &tokens, &mut bad_nonces);
    assert!(ev.iter().any(|e| matches!(e, Event::Revoked)), "{ev:?}");
    assert_eq!(
        rv.account_url(),
        client.account_url(),
        "the rolled-over key finds the same account"
    );
    eprintln!(
        "pebble interop: certificate with {} certs, {} alternates; {bad_nonces} badNonce retries absorbed",
        certs.len(),
        chain.alternates.len()
    );
}
