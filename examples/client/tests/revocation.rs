//! Revocation reaches the client (draft §4.5, §4.7; RFC 5280 §5), with the real binaries on
//! loopback: `join` fetches and caches the network's CRL, `verify` trusts the device; the owner
//! revokes it with `lantrust-server revoke`; `openssl verify -crl_check` with the server's /crl
//! refuses the certificate, and so does `lantrust-client verify` after its CRL is refreshed,
//! naming the serial and the revocation date.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::io::Read;
use std::process::Output;

use lantrust_test_support::bins::{Binaries, Endpoint, Network};
use lantrust_test_support::{output_text as text, require_programs, run};

const MAC: &str = "02:00:00:00:00:01";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_revoked_device_is_refused_by_verify_and_by_openssl() {
    if !require_programs(&["openssl"], "client revocation") {
        return;
    }
    let bin = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-client"),
        &["lantrust-server", "lantrust-device"],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (home, dev) = Network::start_with_device(&bin, d, "home", "device-12cd56");
    let client = bin.client(&d.join("client"));

    // join pins the root and caches the CRL (nothing revoked yet).
    let out = client.join(&home, MAC, &["--domain", "home.arpa"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("CRL of network") && stdout(&out).contains("0 revoked"),
        "{}",
        text(&out)
    );
    let endpoint = Endpoint::new("device-12cd56.local", dev.port);
    let out = client.verify(MAC, &[], &endpoint);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("revocation: not revoked (CRL current until"),
        "{}",
        text(&out)
    );

    // The device's certificate names the server's CRL.
    let chain = dev.state.join("networks/lantrust.local/chain.pem");
    let leaf = d.join("leaf.pem");
    let o = run(
        "openssl",
        &[
            "x509",
            "-in",
            chain.to_str().unwrap(),
            "-out",
            leaf.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = run(
        "openssl",
        &[
            "x509",
            "-in",
            leaf.to_str().unwrap(),
            "-noout",
            "-serial",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    let info = stdout(&o);
    let crl_url = format!("https://lantrust.local:{}/crl", home.port);
    assert!(info.contains(&format!("URI:{crl_url}")), "{info}");
    let serial = info
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap()
        .trim()
        .to_ascii_lowercase();

    // The owner revokes the device.
    let o = bin.run(
        "lantrust-server",
        &[
            "revoke",
            "--state",
            home.state.to_str().unwrap(),
            "device-12cd56",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));

    // openssl, with the CRL the server now serves, refuses the certificate.
    let root_pem = std::fs::read_to_string(home.state.join("root.pem")).unwrap();
    let root_der = lantrust_cli::pem_certs(root_pem.as_bytes()).unwrap();
    let resolve: lantrust_cli::ResolveOverride = home.resolve().parse().unwrap();
    let agent = lantrust_cli::tls::agent(&root_der, &[resolve]).unwrap();
    let mut crl = Vec::new();
    agent
        .get(&crl_url)
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut crl)
        .unwrap();
    std::fs::write(d.join("crl.der"), &crl).unwrap();
    let crl_pem = d.join("crl.pem");
    let o = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            d.join("crl.der").to_str().unwrap(),
            "-out",
            crl_pem.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let root_file = home.state.join("root.pem");
    let o = run(
        "openssl",
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            root_file.to_str().unwrap(),
            "-CRLfile",
            crl_pem.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("certificate revoked"),
        "{}",
        text(&o)
    );

    // The client refreshes its CRL (join, as on every network change) and refuses the device,
    // naming the serial and the revocation date.
    let out = client.join(&home, MAC, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("1 revoked"), "{}", text(&out));
    let out = client.verify(MAC, &[], &endpoint);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("NOT TRUSTED: device-12cd56.local")
            && said.contains(" was REVOKED on 20")
            && said.contains("privilegeWithdrawn"),
        "{}",
        text(&out)
    );
    // The serial named is the certificate's (compared as numbers: no leading zeros).
    let named = said
        .split("serial ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap();
    assert_eq!(
        named.trim_start_matches('0'),
        serial.trim_start_matches('0'),
        "{said}"
    );
}
