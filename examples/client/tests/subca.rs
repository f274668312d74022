//! The enterprise network (issue 19): `lantrust-server` as a subordinate CA under a company root
//! that openssl makes, with managed clients and devices (§3.5, §3.6 "unless otherwise
//! configured"), on loopback with the real binaries.
//!
//! `init --subordinate` → `serve` refuses until `import-ca` → openssl signs the CA request with the
//! company root keeping its extensions → `import-ca` refuses a certificate for another key and one
//! without the name constraints, then installs the right one → `serve` → `lantrust-device enroll
//! --root company-root.pem` (no TOFU) → the device certificate and the server's chain verified with
//! only the company root trusted by openssl, rustls-webpki, Go crypto/x509 and headless Chromium →
//! `lantrust-client manage --anchor company-root.pem` then `join` and `verify` trust both without a
//! TOFU prompt; the same client with a different anchor gets the §4.8 alert from both.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lantrust_test_support::bins::{Binaries, ClientCli, Endpoint};
use lantrust_test_support::chromium;
use lantrust_test_support::{
    Proc, company_root, free_port, openssl_output, output_text as text, p384_request,
    require_programs, sign_csr, wait_for_port,
};

const MAC: &str = "02:00:00:00:00:19";
const ID: &str = "dev1";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The PEM certificates of a bundle, one string each.
fn pem_blocks(text: &str) -> Vec<String> {
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(|b| b[b.find("-----BEGIN").unwrap()..].to_string())
        .collect()
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

#[test]
fn subordinate_ca_with_managed_clients_and_devices() {
    if !require_programs(&["openssl"], "subordinate CA mode") {
        return;
    }
    let bin = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-client"),
        &["lantrust-server", "lantrust-device"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    company_root(d, "company", "Example Corp Root CA");
    company_root(d, "other", "Other Corp Root CA");
    let company = d.join("company.pem");

    // init --subordinate: a key and a CA request; serve refuses until import-ca.
    let st = d.join("srv");
    let out = bin.run(
        "lantrust-server",
        &[
            "init",
            "--subordinate",
            "--state",
            s(&st),
            "--name",
            "lantrust",
            "--domain",
            "home.arpa",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ca-request.pem"), "{}", text(&out));
    assert!(!st.join("root.pem").exists());
    let out = bin.run(
        "lantrust-server",
        &["serve", "--state", s(&st), "--listen", "127.0.0.1:0"],
    );
    assert!(
        !out.status.success() && text(&out).contains("import-ca"),
        "{}",
        text(&out)
    );
    std::fs::copy(st.join("ca-request.pem"), d.join("ca.csr")).unwrap();
    let (ok, req_text) = openssl_output(d, &["req", "-in", "ca.csr", "-noout", "-text", "-verify"]);
    assert!(ok, "{req_text}");
    for want in [
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "X509v3 Name Constraints:",
        "DNS:local",
        "DNS:home.arpa",
        "IP:10.0.0.0/255.0.0.0",
    ] {
        assert!(req_text.contains(want), "{want}: {req_text}");
    }

    let import = |cert: &str| {
        bin.run(
            "lantrust-server",
            &[
                "import-ca",
                "--state",
                s(&st),
                s(&d.join(cert)),
                s(&company),
            ],
        )
    };
    // A certificate for another key (a CSR openssl made with its own key, correctly extended).
    p384_request(d, "wrong", "/CN=wrong");
    let full = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\nnameConstraints=permitted;DNS:local,permitted;DNS:home.arpa,permitted;IP:127.0.0.0/255.0.0.0\n";
    sign_csr(d, "company", "wrong.csr", "wrong-key-cert.pem", Some(full));
    let out = import("wrong-key-cert.pem");
    assert!(
        !out.status.success() && text(&out).contains("another key"),
        "{}",
        text(&out)
    );
    // Our key, but the company CA dropped the name constraints.
    sign_csr(
        d,
        "company",
        "ca.csr",
        "no-nc.pem",
        Some(
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\n",
        ),
    );
    let out = import("no-nc.pem");
    assert!(
        !out.status.success() && text(&out).contains("no nameConstraints"),
        "{}",
        text(&out)
    );
    assert!(
        !st.join("subca.pem").exists(),
        "a refused import installed something"
    );
    // The CSR's extensions kept: installed.
    sign_csr(d, "company", "ca.csr", "subca.pem", None);
    let out = import("subca.pem");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Example Corp Root CA"),
        "{}",
        text(&out)
    );
    // A subordinate state directory backs up and restores (the sub-CA reloads with its key).
    let archive = d.join("srv.backup");
    let out = bin.run(
        "lantrust-server",
        &["backup", "--state", s(&st), s(&archive)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let restored = d.join("srv-restored");
    let out = bin.run(
        "lantrust-server",
        &["restore", "--state", s(&restored), s(&archive)],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(restored.join("subca.pem")).unwrap(),
        std::fs::read(st.join("subca.pem")).unwrap()
    );

    // serve, reaching the device for http-01.
    let http01 = free_port();
    let port = free_port();
    let origin = format!("https://lantrust.local:{port}");
    let to = format!("127.0.0.1:{http01}");
    let _server = Proc::spawn(
        Command::new(bin.path("lantrust-server"))
            .args([
                "serve",
                "--state",
                s(&st),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--url",
                &origin,
                "--resolve",
                &format!("{ID}.local={to}"),
                "--resolve",
                &format!("{ID}.home.arpa={to}"),
                "--http01-port",
                &http01.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port);
    let directory = format!("{origin}/acme/directory");
    let resolve = format!("lantrust.local=127.0.0.1:{port}");

    // /roots.pem names the anchor: the company root.
    let served = ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(
            lantrust_cli::tls::client_config(
                &lantrust_cli::pem_certs(&std::fs::read(&company).unwrap()).unwrap(),
            )
            .unwrap(),
        ))
        .resolver(move |_: &str| Ok(vec![format!("127.0.0.1:{port}").parse().unwrap()]))
        .build()
        .get(&format!("{origin}/roots.pem"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(
        served.trim(),
        std::fs::read_to_string(&company).unwrap().trim()
    );

    // The device enrolls trusting the company root as configured anchor (no TOFU).
    let dev = d.join("dev");
    let mut child = Proc::spawn(
        Command::new(bin.path("lantrust-device"))
            .args([
                "enroll",
                "--state",
                s(&dev),
                "--id",
                ID,
                "--domain",
                "home.arpa",
                "--directory",
                &directory,
                "--resolve",
                &resolve,
                "--http01-listen",
                &to,
                "--timeout",
                "60",
                "--root",
                s(&company),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_secs(2));
    let out = bin.run("lantrust-server", &["approve", "--state", s(&st), ID]);
    assert!(out.status.success(), "{}", text(&out));
    let start = Instant::now();
    while !child.has_exited() {
        assert!(start.elapsed() < Duration::from_secs(60), "enroll hangs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configured anchor (no trust on first use)"),
        "{err}"
    );
    assert!(!err.contains("trust on first use: root"), "{err}");

    // The chain the ACME download gave: leaf → sub-CA (the anchor is not sent).
    let chain_path = find_file(&dev, "chain.pem").expect("the device's chain.pem");
    let chain_text = std::fs::read_to_string(&chain_path).unwrap();
    let blocks = pem_blocks(&chain_text);
    assert_eq!(blocks.len(), 2, "{chain_text}");
    std::fs::write(d.join("leaf.pem"), &blocks[0]).unwrap();
    std::fs::write(d.join("untrusted.pem"), &blocks[1]).unwrap();
    std::fs::write(d.join("chain.pem"), &chain_text).unwrap();
    for name in [format!("{ID}.local"), format!("{ID}.home.arpa")] {
        let (ok, out) = openssl_output(
            d,
            &[
                "verify",
                "-x509_strict",
                "-CAfile",
                "company.pem",
                "-untrusted",
                "untrusted.pem",
                "-verify_hostname",
                &name,
                "leaf.pem",
            ],
        );
        assert!(ok && out.contains("leaf.pem: OK"), "{name}: {out}");
    }
    // The other company's root does not verify it.
    let (ok, out) = openssl_output(
        d,
        &[
            "verify",
            "-CAfile",
            "other.pem",
            "-untrusted",
            "untrusted.pem",
            "leaf.pem",
        ],
    );
    assert!(!ok, "{out}");

    // The device serves it; the client-side verifiers see the chain it presents.
    let (_device, dport) = bin.serve_device(&dev, http01);
    let dres = lantrust_cli::ResolveOverride {
        name: format!("{ID}.local"),
        addr: format!("127.0.0.1:{dport}").parse().unwrap(),
    };
    let presented =
        lantrust_cli::tls::handshake_capture(&format!("{ID}.local"), dport, &[dres]).unwrap();
    assert_eq!(presented.len(), 2, "leaf and sub-CA");
    let anchors = lantrust_cli::pem_certs(&std::fs::read(&company).unwrap()).unwrap();
    let others = lantrust_cli::pem_certs(&std::fs::read(d.join("other.pem")).unwrap()).unwrap();
    // rustls-webpki (rustls' verifier), only the company root trusted.
    lantrust_cli::tls::chain_root(&presented, &anchors, &format!("{ID}.local")).unwrap();
    assert!(lantrust_cli::tls::chain_root(&presented, &others, &format!("{ID}.local")).is_err());
    // The server's own HTTPS chain: leaf → sub-CA, verified the same ways.
    let srv_chain =
        lantrust_cli::tls::handshake_capture("lantrust.local", port, &[resolve.parse().unwrap()])
            .unwrap();
    assert_eq!(srv_chain.len(), 2);
    lantrust_cli::tls::chain_root(&srv_chain, &anchors, "lantrust.local").unwrap();
    let srv_pem = lantrust_cli::certs_to_pem(&srv_chain);
    let srv_blocks = pem_blocks(&srv_pem);
    std::fs::write(d.join("srv-leaf.pem"), &srv_blocks[0]).unwrap();
    std::fs::write(d.join("srv-untrusted.pem"), &srv_blocks[1]).unwrap();
    std::fs::write(d.join("srv-chain.pem"), &srv_pem).unwrap();
    let (ok, out) = openssl_output(
        d,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "company.pem",
            "-untrusted",
            "srv-untrusted.pem",
            "-verify_hostname",
            "lantrust.local",
            "srv-leaf.pem",
        ],
    );
    assert!(ok, "server chain: {out}");

    // Go crypto/x509 (the matrix's helper), only the company root as root.
    if require_programs(&["go"], "subordinate CA under Go crypto/x509") {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../crates/ca/tests/matrix/x509verify.go");
        let exe = d.join("x509verify");
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .current_dir(d)
            .env("GOPROXY", "off")
            .env("GOCACHE", d.join("go-cache"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GO111MODULE", "off")
            .output()
            .unwrap();
        assert!(out.status.success(), "go build: {}", text(&out));
        for (chain, host) in [
            ("chain.pem", format!("{ID}.local")),
            ("chain.pem", format!("{ID}.home.arpa")),
            ("srv-chain.pem", "lantrust.local".to_string()),
        ] {
            let out = Command::new(&exe)
                .args([s(&company), s(&d.join(chain)), &host])
                .output()
                .unwrap();
            assert!(
                out.status.success() && text(&out).contains("OK"),
                "Go {chain} {host}: {}",
                text(&out)
            );
        }
        let out = Command::new(&exe)
            .args([
                s(&d.join("other.pem")),
                s(&d.join("chain.pem")),
                &format!("{ID}.local"),
            ])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "Go under the other root: {}",
            text(&out)
        );
    }

    // A client's `manage` under `anchor` and its `join` of this network.
    let manage = |c: &ClientCli, anchor: &Path| {
        c.run(
            "manage",
            &[
                "--router-mac",
                MAC,
                "--anchor",
                s(anchor),
                "--domain",
                "home.arpa",
            ],
        )
    };
    let join = |c: &ClientCli| {
        c.run(
            "join",
            &[
                "--directory",
                &directory,
                "--resolve",
                &resolve,
                "--router-mac",
                MAC,
            ],
        )
    };
    // A managed client: no TOFU prompt, trusted through the anchor.
    let client = bin.client(&d.join("client"));
    let out = manage(&client, &company);
    assert!(out.status.success(), "{}", text(&out));
    let out = join(&client);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("leads to the configured anchor"), "{t}");
    assert!(!t.contains("pinned (trust on first use)"), "{t}");
    assert!(
        t.contains("CRL of network"),
        "the sub-CA's CRL is accepted: {t}"
    );
    let device = Endpoint::new(&format!("{ID}.local"), dport);
    let out = client.verify(MAC, &[], &device);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("TRUSTED"), "{}", text(&out));
    // Scoped trust still applies under the anchor: a name the certificate lacks is refused.
    let evil = Endpoint::new("evil.local", dport);
    let out = client.verify(MAC, &[], &evil);
    assert!(!out.status.success(), "{}", text(&out));

    // A TOFU client (not managed) cannot pin the company root: it is not a self-signed root
    // naming the server, so TOFU networks stay self-signed-root-only.
    let tofu = bin.client(&d.join("client-tofu"));
    let out = join(&tofu);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("subjectAltNames do not include"),
        "{}",
        text(&out)
    );

    // The same client configured with a different anchor: the §4.8 alert, nothing trusted.
    let wrong = bin.client(&d.join("client-wrong"));
    let out = manage(&wrong, &d.join("other.pem"));
    assert!(out.status.success(), "{}", text(&out));
    let out = join(&wrong);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("ALERT") && text(&out).contains("§4.8"),
        "{}",
        text(&out)
    );
    let out = wrong.verify(MAC, &[], &device);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("ALERT") && text(&out).contains("NOT TRUSTED"),
        "{}",
        text(&out)
    );

    // Reconfiguring the first client with the other anchor replaces the company root (nothing of
    // it is left behind to trust): the server and the device are now refused there too.
    let company_b64 = pem_blocks(&std::fs::read_to_string(&company).unwrap())[0]
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let pins = std::fs::read_to_string(d.join("client/pins.json")).unwrap();
    assert!(pins.contains(&company_b64), "the anchor is stored: {pins}");
    let out = manage(&client, &d.join("other.pem"));
    assert!(out.status.success(), "{}", text(&out));
    let pins = std::fs::read_to_string(d.join("client/pins.json")).unwrap();
    assert!(
        !pins.contains(&company_b64),
        "the old anchor is still stored"
    );
    let out = client.verify(MAC, &[], &device);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Chromium with only the company root in its NSS database shows the device's page.
    chromium_check(d, &company, dport);
}

fn chromium_check(d: &Path, company: &Path, dport: u16) {
    if !chromium::have_chromium() {
        lantrust_test_support::skip_part("chromium or certutil missing: Chromium not exercised");
        return;
    }
    let home = d.join("home");
    chromium::nss_trust(&home, "Example Corp Root CA", company);
    let host = format!("{ID}.local");
    let page = chromium::load_page(&home, &[&host], &format!("https://{host}:{dport}/"));
    assert!(
        page.finished
            && page.dom.contains(&format!("<h1>{ID}</h1>"))
            && !page.log.contains("ERR_CERT"),
        "Chromium with only the company root: no device page ({})\n--- dom\n{}\n--- log\n{}",
        page.failure(),
        page.dom,
        page.log
    );
}
