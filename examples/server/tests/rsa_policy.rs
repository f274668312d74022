//! The CSR policy and the CA agree on RSA (draft §3.4.3): what `check-csr` accepts — RSA of 3072
//! to 8192 bits, as rsaEncryption or RSA-PSS keys — the built server issues, and what it cannot
//! issue (9216 bits) `check-csr` refuses. All CSRs are made by OpenSSL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lantrust_acme::client::{Client, ClientConfig, Event, Operation};
use lantrust_acme::{AccountKey, Algorithm, Identifier};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");

/// An OpenSSL CSR for `id` with a fresh key made by `genpkey ALG OPTS`; the PEM's path.
fn openssl_csr(dir: &Path, id: &str, alg: &str, bits: &str) -> String {
    let key = format!("{id}.key");
    let (ok, out) = openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            alg,
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            &key,
        ],
    );
    assert!(ok, "{out}");
    let csr = format!("{id}.csr.pem");
    let san = format!("subjectAltName=DNS:{id}.local,DNS:{id}.home.arpa");
    let (ok, out) = openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-sha256",
            "-subj",
            &format!("/CN={id}"),
            "-addext",
            &san,
            "-out",
            &csr,
        ],
    );
    assert!(ok, "{out}");
    dir.join(csr).to_str().unwrap().to_string()
}

fn check_csr(file: &str) -> (bool, String) {
    let out = cli(&[
        "check-csr",
        "--name",
        "router",
        "--domain",
        "home.arpa",
        file,
    ]);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_csr_accepts_only_rsa_the_ca_issues() {
    if !have("openssl") {
        lantrust_test_support::skip(
            "openssl is not installed; the RSA policy test needs OpenSSL-made CSRs",
        );
        return;
    }
    let dir = temp_dir("rsa");
    let d = dir.path();
    let accepted = [
        (
            "rsa3k",
            openssl_csr(d, "rsa3k", "RSA", "3072"),
            "RSA-3072",
            "rsaEncryption",
        ),
        (
            "pss3k",
            openssl_csr(d, "pss3k", "RSA-PSS", "3072"),
            "RSA-PSS-3072",
            "rsassaPss",
        ),
        (
            "rsa8k",
            format!("{VECTORS}/csr-rsa8k.pem"),
            "RSA-8192",
            "rsaEncryption",
        ),
    ];
    // Too large for the CA: refused by check-csr, with the reason.
    let (ok, out) = check_csr(&format!("{VECTORS}/csr-rsa9k.pem"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("9216 bits") && out.contains("3072 to 8192"),
        "{out}"
    );
    // Too small.
    let small = openssl_csr(d, "rsa2k", "RSA", "2048");
    let (ok, out) = check_csr(&small);
    assert!(!ok && out.contains("2048 bits"), "{out}");

    let mut resolve = Vec::new();
    let (h_port, tokens) = http01_responder();
    for (id, ..) in &accepted {
        resolve.push(format!("{id}.local=127.0.0.1:{h_port}"));
        resolve.push(format!("{id}.home.arpa=127.0.0.1:{h_port}"));
    }
    let mut args = vec!["--auto-approve"];
    for r in &resolve {
        args.extend(["--resolve", r.as_str()]);
    }
    let srv = init_and_serve(d, &args);
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    std::fs::write(d.join("roots.pem"), &root).unwrap();
    let agent = agent(&root);
    for (id, csr, kind, spki_alg) in accepted {
        let (ok, out) = check_csr(&csr);
        assert!(ok, "{id}: {out}");
        // What check-csr accepts, the server issues.
        let der_file = format!("{id}.csr.der");
        let (ok, out) = openssl(
            d,
            &["req", "-in", &csr, "-outform", "DER", "-out", &der_file],
        );
        assert!(ok, "{out}");
        let der = std::fs::read(d.join(der_file)).unwrap();
        let mut cfg = ClientConfig::new(&srv.directory());
        cfg.default_poll_interval = Duration::from_millis(200);
        let op = Operation::Issue {
            identifiers: vec![
                Identifier::dns(&format!("{id}.local")),
                Identifier::dns(&format!("{id}.home.arpa")),
            ],
            csr_der: der,
            replaces: None,
        };
        let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
        let mut c = Client::new(cfg, key, op);
        let events =
            lantrust_test_support::acme::drive(&mut c, &agent, &tokens, Duration::from_secs(60))
                .events;
        let pem = events
            .iter()
            .find_map(|e| match e {
                Event::Certificate(c) => Some(c.pem.clone()),
                _ => None,
            })
            .unwrap_or_else(|| {
                panic!("{id}: check-csr accepted it but the CA did not issue: {events:?}")
            });
        let leaf = lantrust_ca::certificates_from_pem(&pem).unwrap();
        std::fs::write(
            d.join(format!("{id}.crt")),
            lantrust_ca::certificate_to_pem(&leaf[0]).unwrap(),
        )
        .unwrap();
        let crt = format!("{id}.crt");
        let (ok, out) = openssl(
            d,
            &[
                "verify",
                "-CAfile",
                "roots.pem",
                "-purpose",
                "sslserver",
                &crt,
            ],
        );
        assert!(ok && out.contains(": OK"), "{id}: {out}");
        let (ok, text) = openssl(d, &["x509", "-in", &crt, "-noout", "-text"]);
        assert!(ok);
        assert!(text.contains(spki_alg), "{id}: {text}");
        let bits = kind.rsplit('-').next().unwrap();
        assert!(text.contains(&format!("({bits} bit)")), "{id}: {text}");
        // An RSA-PSS key may only sign (RFC 4055): no keyEncipherment for it.
        assert_eq!(
            text.contains("Key Encipherment"),
            spki_alg == "rsaEncryption",
            "{id}: {text}"
        );
        // `list --json` reports the CSR's key type.
        let v: serde_json::Value =
            serde_json::from_str(&cli_ok(&["list", "--state", srv.state_arg(), "--json"])).unwrap();
        let dev = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device_id"] == id)
            .unwrap();
        assert_eq!(dev["requesters"][0]["csr_key_type"], kind, "{dev}");
    }
}
