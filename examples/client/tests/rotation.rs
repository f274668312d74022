//! Planned root rotation with continuity (issue 15), with the real binaries on loopback:
//! a device enrolled under the old root and lego (a generic ACME client) keep renewing after
//! `lantrust-server rotate-root` (the server presents its new certificate with the link, so
//! parties that trust the old root still reach it) and get certificates of the new root; the
//! client re-pins quietly with the planned-rotation message and verifies the device; the old
//! root keeps signing the CRL of its certificates; a forged rotation raises the §4.8 alert.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use lantrust_test_support::bins::{Binaries, Endpoint};
use lantrust_test_support::{
    Proc, free_port, output_text as text, require_programs, wait_for_port,
};

const MAC: &str = "02:00:00:00:00:01";
/// lego cannot resolve `.local` names: the server is reached at its IP (a root SAN, `init --ip`).
const HOST: &str = "127.0.0.1";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `init` a server named `lantrust` for home.arpa in `state`.
fn init(bin: &Binaries, state: &Path) {
    let out = bin.run(
        "lantrust-server",
        &[
            "init",
            "--state",
            s(state),
            "--name",
            "lantrust",
            "--domain",
            "home.arpa",
            "--ip",
            "127.0.0.1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// `serve` `state` on 127.0.0.1:`port` as https://lantrust.local:PORT, approving every device
/// at once, accepting generic clients, reaching each (device, http-01 port) by `--resolve`.
fn serve(bin: &Binaries, state: &Path, port: u16, devices: &[(&str, u16)], log: &Path) -> Proc {
    let mut args = vec![
        "serve".to_string(),
        "--state".into(),
        s(state).into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--url".into(),
        format!("https://{HOST}:{port}"),
        "--auto-approve".into(),
        "--generic-clients".into(),
    ];
    for (id, http) in devices {
        args.extend(lantrust_test_support::bins::resolve_args(id, *http));
    }
    let p = Proc::spawn(
        Command::new(bin.path("lantrust-server"))
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap()),
    );
    wait_for_port(port);
    p
}

/// GET `path` from the server, trusting only `roots` (DER).
fn get(port: u16, roots: &[Vec<u8>], path: &str) -> (u16, Vec<u8>) {
    let resolve: lantrust_cli::ResolveOverride =
        format!("{HOST}=127.0.0.1:{port}").parse().unwrap();
    let agent = lantrust_cli::tls::agent(roots, &[resolve]).unwrap();
    match agent.get(&format!("https://{HOST}:{port}{path}")).call() {
        Ok(resp) => {
            let status = resp.status();
            let mut body = Vec::new();
            resp.into_reader().read_to_end(&mut body).unwrap();
            (status, body)
        }
        Err(ureq::Error::Status(code, _)) => (code, Vec::new()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

fn pem_file(path: &Path) -> Vec<Vec<u8>> {
    lantrust_cli::pem_certs(&std::fs::read(path).unwrap()).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    lantrust_test_support::openssl_output(dir, args)
}

/// The first certificate of PEM file `from` written alone to `to`.
fn first_cert(dir: &Path, from: &Path, to: &str) {
    let der = pem_file(from).remove(0);
    std::fs::write(dir.join(to), lantrust_cli::certs_to_pem(&[der])).unwrap();
}

fn client_join(client: &lantrust_test_support::bins::ClientCli, port: u16) -> Output {
    client.run(
        "join",
        &[
            "--directory",
            &format!("https://{HOST}:{port}/acme/directory"),
            "--resolve",
            &format!("{HOST}=127.0.0.1:{port}"),
            "--router-mac",
            MAC,
            "--domain",
            "home.arpa",
        ],
    )
}

fn lego(d: &Path, trust: &Path, port: u16, http: u16, action: &[&str]) -> Output {
    Command::new("lego")
        .env("LEGO_CA_CERTIFICATES", trust)
        .args(["--path", s(&d.join("lego"))])
        .args(["--server", &format!("https://{HOST}:{port}/acme/directory")])
        .args(["--email", "admin@example.org", "--accept-tos"])
        .args(["--key-type", "ec384", "--http"])
        .args(["--http.port", &format!("127.0.0.1:{http}")])
        .args(["--domains", "lego1.local", "--domains", "lego1.home.arpa"])
        .args(action)
        .output()
        .unwrap()
}

#[test]
fn devices_clients_and_lego_follow_a_planned_root_rotation() {
    if !require_programs(&["openssl", "lego", "certutil"], "planned root rotation") {
        return;
    }
    let bin = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-client"),
        &["lantrust-server", "lantrust-device"],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("srv");
    init(&bin, &state);
    let port = free_port();
    let (dev_http, lego_http) = (free_port(), free_port());
    let devices = [("cam-1", dev_http), ("lego1", lego_http)];
    let server = serve(&bin, &state, port, &devices, &d.join("serve1.log"));
    let old_root = pem_file(&state.join("root.pem"));
    std::fs::copy(state.join("root.pem"), d.join("old.pem")).unwrap();

    // Before: the device enrolls (trust on first use of the old root), the client joins and
    // verifies it, lego gets a certificate trusting the old root.
    let dev = d.join("dev");
    let out = bin.run(
        "lantrust-device",
        &[
            "enroll",
            "--state",
            s(&dev),
            "--id",
            "cam-1",
            "--domain",
            "home.arpa",
            "--directory",
            &format!("https://{HOST}:{port}/acme/directory"),
            "--resolve",
            &format!("{HOST}=127.0.0.1:{port}"),
            "--http01-listen",
            &format!("127.0.0.1:{dev_http}"),
            "--timeout",
            "60",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let chain = std::fs::read_dir(dev.join("networks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("chain.pem");
    assert!(chain.exists(), "{}", chain.display());
    let client = bin.client(&d.join("client"));
    let out = client_join(&client, port);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("pinned (trust on first use)"),
        "{}",
        text(&out)
    );
    // Browsers: sync-nss trusts the pinned (old) root in an NSS database.
    let nssdb = d.join("nssdb");
    let sync = || {
        let out = client.run("sync-nss", &["--router-mac", MAC, "--nss-db", s(&nssdb)]);
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out)
    };
    let said = sync();
    assert!(said.contains("added lantrust net="), "{said}");
    let (dev_proc, dev_port) = bin.serve_device(&dev, dev_http);
    let endpoint = Endpoint::new("cam-1.local", dev_port);
    let out = client.verify(MAC, &[], &endpoint);
    assert!(out.status.success(), "{}", text(&out));
    drop(dev_proc);
    let out = lego(d, &d.join("old.pem"), port, lego_http, &["run"]);
    assert!(out.status.success(), "lego run: {}", text(&out));
    let lego_crt = d.join("lego/certificates/lego1.local.crt");
    first_cert(d, &lego_crt, "lego-old.pem");

    // Rotate while serve runs: the running server keeps the old root until restarted.
    let out = bin.run("lantrust-server", &["rotate-root", "--state", s(&state)]);
    assert!(out.status.success(), "{}", text(&out));
    let said = stdout(&out);
    assert!(said.contains("rotated the root"), "{said}");
    assert!(
        said.contains("2 unexpired certificate(s) of the old root"),
        "{said}"
    );
    let (status, body) = get(port, &old_root, "/roots.pem");
    assert_eq!(status, 200);
    assert_eq!(lantrust_cli::pem_certs(&body).unwrap(), old_root);
    let new_root = pem_file(&state.join("root.pem"));
    assert_ne!(new_root, old_root);
    std::fs::copy(state.join("root.pem"), d.join("new.pem")).unwrap();
    let old_key_id = said
        .split("/crl/")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(
        state
            .join(format!("previous-root-{old_key_id}-key.pem"))
            .exists()
    );

    // The backup carries the old root (and its key) and the link; restore brings them back.
    let out = bin.run(
        "lantrust-server",
        &["backup", "--state", s(&state), s(&d.join("backup.tar"))],
    );
    assert!(out.status.success(), "{}", text(&out));
    let restored = d.join("restored");
    let out = bin.run(
        "lantrust-server",
        &["restore", "--state", s(&restored), s(&d.join("backup.tar"))],
    );
    assert!(out.status.success(), "{}", text(&out));
    for f in [
        "root.pem".to_string(),
        "root-key.pem".into(),
        "root-links.pem".into(),
        format!("previous-root-{old_key_id}.pem"),
        format!("previous-root-{old_key_id}-key.pem"),
    ] {
        assert_eq!(
            std::fs::read(state.join(&f)).unwrap(),
            std::fs::read(restored.join(&f)).unwrap(),
            "{f}"
        );
    }

    // Restart serve: new root, link published, HTTPS certificate from the new root with the
    // link in its chain, so a party trusting only the OLD root still reaches it.
    drop(server);
    let _server = serve(&bin, &state, port, &devices, &d.join("serve2.log"));
    let (status, body) = get(port, &old_root, "/roots.pem");
    assert_eq!(
        status, 200,
        "the old root reaches the server through the link"
    );
    assert_eq!(lantrust_cli::pem_certs(&body).unwrap(), new_root);
    let (status, link) = get(port, &new_root, "/roots/link.pem");
    assert_eq!(status, 200);
    std::fs::write(d.join("link.pem"), &link).unwrap();
    // openssl: the link verifies under the old root; it is a CA for the new root's key.
    let (ok, out) = openssl(
        d,
        &["verify", "-x509_strict", "-CAfile", "old.pem", "link.pem"],
    );
    assert!(ok, "{out}");
    let pubkey = |f: &str| openssl(d, &["x509", "-in", f, "-noout", "-pubkey"]).1;
    assert_eq!(pubkey("link.pem"), pubkey("new.pem"));

    // The device renews, still trusting only the old root; its new certificate is the new
    // root's, and its chain carries the link.
    let out = bin.run(
        "lantrust-device",
        &[
            "renew",
            "--state",
            s(&dev),
            "--http01-listen",
            &format!("127.0.0.1:{dev_http}"),
        ],
    );
    assert!(out.status.success(), "device renew: {}", text(&out));
    first_cert(d, &chain, "dev-new.pem");
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "new.pem",
            "dev-new.pem",
        ],
    );
    assert!(
        ok && out.contains("dev-new.pem: OK"),
        "new leaf → new root: {out}"
    );
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-x509_strict",
            "-show_chain",
            "-CAfile",
            "old.pem",
            "-untrusted",
            "link.pem",
            "dev-new.pem",
        ],
    );
    assert!(
        ok && out.contains("depth=2"),
        "new leaf → link → old root: {out}"
    );
    let (ok, out) = openssl(d, &["verify", "-CAfile", "old.pem", "dev-new.pem"]);
    assert!(
        !ok,
        "without the link the old root does not reach the new leaf: {out}"
    );
    // Its CRL distribution point names the new root's CRL.
    let new_key_id = {
        let (_, t) = openssl(
            d,
            &[
                "x509",
                "-in",
                "new.pem",
                "-noout",
                "-ext",
                "subjectKeyIdentifier",
            ],
        );
        t.lines()
            .nth(1)
            .unwrap()
            .trim()
            .replace(':', "")
            .to_ascii_lowercase()
    };
    let (_, t) = openssl(
        d,
        &[
            "x509",
            "-in",
            "dev-new.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(t.contains(&format!("/crl/{new_key_id}")), "{t}");

    // Before re-joining, the client still trusts the device (through the link) and says why.
    let (_dev_proc, dev_port) = bin.serve_device(&dev, dev_http);
    let endpoint = Endpoint::new("cam-1.local", dev_port);
    let out = client.verify(MAC, &[], &endpoint);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out)
            .contains("planned rotation: this device's certificate is from the network's new root"),
        "{}",
        text(&out)
    );

    // join: a planned rotation, re-pinned quietly, old → new fingerprints.
    let out = client_join(&client, port);
    assert!(out.status.success(), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("planned rotation, signed by the root you trusted"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("ALERT"), "{}", text(&out));
    let spki = |f: &str| {
        let (_, pem) = openssl(d, &["x509", "-in", f, "-noout", "-pubkey"]);
        std::fs::write(d.join("k.pem"), pem).unwrap();
        openssl(
            d,
            &[
                "pkey", "-pubin", "-in", "k.pem", "-outform", "DER", "-out", "k.der",
            ],
        );
        let (_, h) = openssl(d, &["dgst", "-sha256", "-r", "k.der"]);
        h.split_whitespace().next().unwrap().to_string()
    };
    assert!(
        said.contains(&format!("old root SPKI SHA-256 {}", spki("old.pem"))),
        "{said}"
    );
    assert!(
        said.contains(&format!("new root SPKI SHA-256 {}", spki("new.pem"))),
        "{said}"
    );
    let out = client.run("list", &["--json"]);
    assert!(stdout(&out).contains(&spki("new.pem")), "{}", text(&out));
    // sync-nss follows the re-pin: the old root leaves the NSS database, the new one enters.
    let (old16, new16) = (
        spki("old.pem")[..16].to_string(),
        spki("new.pem")[..16].to_string(),
    );
    let said = sync();
    assert!(
        said.lines()
            .any(|l| l.contains(": removed lantrust") && l.contains(&format!("root={old16}"))),
        "{said}"
    );
    assert!(
        said.lines()
            .any(|l| l.contains(": added lantrust") && l.contains(&format!("root={new16}"))),
        "{said}"
    );
    let listing = lantrust_test_support::bins::nss_certificates(&nssdb);
    let listing = stdout(&listing);
    assert!(
        listing.contains(&format!("root={new16}")) && !listing.contains(&format!("root={old16}")),
        "{listing}"
    );
    let out = client.verify(MAC, &[], &endpoint);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("TRUSTED"), "{}", text(&out));
    let out = client_join(&client, port);
    assert!(stdout(&out).contains("root unchanged"), "{}", text(&out));

    // lego across the rotation. Go counts the self-issued link against the old root's
    // pathLenConstraint 0, so lego needs the new root in its trust file: fetched over HTTPS
    // trusting only the old root (through the link), as an operator would.
    let (status, roots) = get(port, &old_root, "/roots.pem");
    assert_eq!(status, 200);
    std::fs::write(d.join("roots-new.pem"), &roots).unwrap();
    let out = lego(d, &d.join("old.pem"), port, lego_http, &["run"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("too many intermediates for path length constraint"),
        "Go refuses the link path under the old root's pathLen 0: {}",
        text(&out)
    );
    // `lego run` again (a new order and certificate): `lego renew` adds the certificate's
    // subject CN (the device ID, not a DNS name of the network) to its order, which the server
    // rightly refuses as rejectedIdentifier.
    let out = lego(d, &d.join("roots-new.pem"), port, lego_http, &["run"]);
    assert!(
        out.status.success(),
        "lego run after the rotation: {}",
        text(&out)
    );
    first_cert(d, &lego_crt, "lego-new.pem");
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "new.pem",
            "lego-new.pem",
        ],
    );
    assert!(ok, "lego's new certificate is the new root's: {out}");
    let (ok, _) = openssl(d, &["verify", "-CAfile", "new.pem", "lego-old.pem"]);
    assert!(!ok);

    // The old root keeps signing the CRL of its certificates: revoke lego's, and the old
    // root's CRL at /crl/<old key id> lists it, signed by the old root.
    let out = bin.run(
        "lantrust-server",
        &["revoke", "--state", s(&state), "lego1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (status, crl) = get(port, &new_root, &format!("/crl/{old_key_id}"));
    assert_eq!(status, 200);
    std::fs::write(d.join("old-crl.der"), &crl).unwrap();
    let (ok, out) = openssl(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "old-crl.der",
            "-out",
            "old-crl.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        d,
        &["crl", "-in", "old-crl.pem", "-noout", "-CAfile", "old.pem"],
    );
    assert!(
        ok && out.contains("verify OK"),
        "signed by the old root: {out}"
    );
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "old.pem",
            "-CRLfile",
            "old-crl.pem",
            "lego-old.pem",
        ],
    );
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // The new root's CRL, at its own distribution point, covers the new certificate.
    let (status, crl) = get(port, &new_root, &format!("/crl/{new_key_id}"));
    assert_eq!(status, 200);
    std::fs::write(d.join("new-crl.der"), &crl).unwrap();
    openssl(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "new-crl.der",
            "-out",
            "new-crl.pem",
        ],
    );
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "new.pem",
            "-CRLfile",
            "new-crl.pem",
            "lego-new.pem",
        ],
    );
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (status, _) = get(port, &new_root, "/crl/00112233");
    assert_eq!(status, 404);
    drop(_server);

    // A forged rotation: another server under the same name, itself "rotated" (its link is
    // signed by its own first root, not by the one this client pinned): the §4.8 alert.
    let forged = d.join("forged");
    init(&bin, &forged);
    let out = bin.run("lantrust-server", &["rotate-root", "--state", s(&forged)]);
    assert!(out.status.success(), "{}", text(&out));
    let _forged = serve(&bin, &forged, port, &devices, &d.join("serve3.log"));
    let out = client_join(&client, port);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("ALERT: THE ROOT CERTIFICATE OF THIS NETWORK HAS CHANGED"),
        "{t}"
    );
    assert!(
        t.contains(
            "not a planned rotation: no link certificate is signed by the root this client trusted"
        ),
        "{t}"
    );
    assert!(!t.contains("planned rotation, signed"), "{t}");
    // The pin is unchanged.
    let out = client.run("list", &["--json"]);
    assert!(stdout(&out).contains(&spki("new.pem")), "{}", text(&out));
}
