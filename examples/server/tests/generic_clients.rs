//! Real generic ACME clients (Debian's lego, certbot and uacme) against the built server with
//! `--generic-clients`: each gets a certificate for a `.local` name after `approve` (run while it
//! waits), which `openssl verify` accepts against the served /roots.pem, and each is refused for a
//! public name. A missing client binary skips its test loudly.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// Serve a generic-client network whose device `dev` answers http-01 on `http_port`.
fn serve_for(dir: &Path, dev: &str, http_port: u16) -> Served {
    let r1 = format!("{dev}.local=127.0.0.1:{http_port}");
    let r2 = format!("{dev}.home.arpa=127.0.0.1:{http_port}");
    init_and_serve(
        dir,
        &["--generic-clients", "--resolve", &r1, "--resolve", &r2],
    )
}

/// Fetch /roots.pem over HTTPS (trusting the file init wrote) into `dir/roots.pem`.
fn fetch_roots(srv: &Served, dir: &Path) {
    let root = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let (status, _, body) = call(agent(&root).get(&srv.url("/roots.pem")).call());
    assert_eq!(status, 200);
    std::fs::write(dir.join("roots.pem"), body).unwrap();
}

/// Start the client, approve `dev` once it is pending, wait for the client to exit.
fn run_with_approval(srv: &Served, dev: &str, mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_pending(srv.state_arg(), dev, Duration::from_secs(60));
    cli_ok(&["approve", "--state", srv.state_arg(), dev]);
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `openssl verify` the leaf (first PEM block of `cert`) against roots.pem; check its names.
fn verify_leaf(dir: &Path, cert: &Path, dev: &str) {
    let pem = std::fs::read_to_string(cert).unwrap();
    let certs = lantrust_ca::certificates_from_pem(&pem).unwrap();
    let leaf = lantrust_ca::certificate_to_pem(certs.first().unwrap()).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf).unwrap();
    let (ok, out) = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "roots.pem",
            "-purpose",
            "sslserver",
            "leaf.pem",
        ],
    );
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
    let (ok, out) = openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(ok);
    assert!(
        out.contains(&format!("DNS:{dev}.local, DNS:{dev}.home.arpa")),
        "{out}"
    );
    assert!(out.contains("NIST CURVE: P-384"), "{out}");
}

fn skip_unless(bins: &[&str]) -> bool {
    for b in bins {
        if !have(b) {
            lantrust_test_support::skip(format_args!(
                "`{b}` is not installed (scripts/install-peers installs it); this interop test did not run"
            ));
            return true;
        }
    }
    false
}

#[test]
fn lego_gets_a_local_certificate_after_approval_and_is_refused_a_public_name() {
    if skip_unless(&["lego", "openssl"]) {
        return;
    }
    let dir = temp_dir("lego");
    let d = dir.path();
    let http_port = free_port();
    let srv = serve_for(d, "lego1", http_port);
    fetch_roots(&srv, d);
    let lego = |domains: &[&str]| {
        let mut c = Command::new("lego");
        c.env("LEGO_CA_CERTIFICATES", d.join("roots.pem"))
            .args(["--path", d.join("lego").to_str().unwrap()])
            .args(["--server", &srv.directory()])
            .args(["--email", "admin@example.org", "--accept-tos"])
            .args(["--key-type", "ec384", "--http"])
            .args(["--http.port", &format!("127.0.0.1:{http_port}")]);
        for dom in domains {
            c.args(["--domains", dom]);
        }
        c.arg("run");
        c
    };
    let out = run_with_approval(&srv, "lego1", lego(&["lego1.local", "lego1.home.arpa"]));
    assert!(out.status.success(), "lego failed: {}", text(&out));
    verify_leaf(d, &d.join("lego/certificates/lego1.local.crt"), "lego1");

    let out = lego(&["lego2.example.com"]).output().unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "lego got a public name: {t}");
    assert!(t.contains("rejectedIdentifier"), "{t}");
}

#[test]
fn certbot_gets_a_local_certificate_after_approval_and_is_refused_a_public_name() {
    if skip_unless(&["certbot", "openssl"]) {
        return;
    }
    let dir = temp_dir("certbot");
    let d = dir.path();
    let http_port = free_port();
    let srv = serve_for(d, "cb1", http_port);
    fetch_roots(&srv, d);
    let certbot = |domains: &[&str]| {
        let mut c = Command::new("certbot");
        c.env("REQUESTS_CA_BUNDLE", d.join("roots.pem"))
            .args([
                "certonly",
                "--standalone",
                "--non-interactive",
                "--agree-tos",
            ])
            .args(["--http-01-port", &http_port.to_string()])
            .args(["--http-01-address", "127.0.0.1"])
            .args(["--server", &srv.directory()])
            .args(["--key-type", "ecdsa", "--elliptic-curve", "secp384r1"])
            .args(["--config-dir", d.join("c").to_str().unwrap()])
            .args(["--work-dir", d.join("w").to_str().unwrap()])
            .args(["--logs-dir", d.join("l").to_str().unwrap()])
            .arg("--register-unsafely-without-email");
        for dom in domains {
            c.args(["-d", dom]);
        }
        c
    };
    let out = run_with_approval(&srv, "cb1", certbot(&["cb1.local", "cb1.home.arpa"]));
    assert!(out.status.success(), "certbot failed: {}", text(&out));
    verify_leaf(d, &d.join("c/live/cb1.local/fullchain.pem"), "cb1");

    let out = certbot(&["cb2.example.com"]).output().unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "certbot got a public name: {t}");
    // Debian's certbot 2.1 on Python 3.11 prints "AttributeError: can't set attribute" for every
    // ACME error (josepy's immutable exception vs contextlib setting __traceback__); the problem
    // document it received is in its log.
    let log = std::fs::read_to_string(d.join("l/letsencrypt.log")).unwrap_or_default();
    assert!(
        format!("{t}{log}").contains("urn:ietf:params:acme:error:rejectedIdentifier")
            && format!("{t}{log}").contains("cb2.example.com is not a name on this network"),
        "{t}"
    );
}

#[test]
fn uacme_gets_a_local_certificate_after_approval_and_is_refused_a_public_name() {
    if skip_unless(&["uacme", "unshare", "python3", "openssl"]) {
        return;
    }
    // uacme (libcurl-gnutls) has no CA option: give it a private mount namespace in which
    // /etc/ssl/certs holds only our root. Needs CAP_SYS_ADMIN (root in CI).
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !probe {
        lantrust_test_support::skip(
            "`unshare -m` is not permitted here; uacme's CA trust cannot be redirected, uacme interop did not run",
        );
        return;
    }
    let dir = temp_dir("uacme");
    let d = dir.path();
    let http_port = free_port();
    let srv = serve_for(d, "ua1", http_port);
    fetch_roots(&srv, d);
    let certs = d.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(d.join("roots.pem"), certs.join("ca-certificates.crt")).unwrap();
    let (ok, hash) = openssl(d, &["x509", "-hash", "-noout", "-in", "roots.pem"]);
    assert!(ok);
    std::fs::copy(
        d.join("roots.pem"),
        certs.join(format!("{}.0", hash.trim())),
    )
    .unwrap();
    let www = d.join("www");
    std::fs::create_dir_all(www.join(".well-known/acme-challenge")).unwrap();
    let hook = d.join("hook.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\n# uacme hook: METHOD TYPE IDENT TOKEN AUTH\n[ \"$2\" = http-01 ] || exit 1\n\
         case \"$1\" in\n  begin) printf '%s' \"$5\" > \"$WEBROOT/.well-known/acme-challenge/$4\" ;;\n  \
         *) rm -f \"$WEBROOT/.well-known/acme-challenge/$4\" ;;\nesac\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _web = Proc(
        Command::new("python3")
            .args(["-m", "http.server", &http_port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(http_port);
    let uacme = |args: &str| {
        let conf = d.join("conf");
        let script = format!(
            "mount --bind '{}' /etc/ssl/certs && uacme -v -y -c '{}' -a '{}' -t EC -b 384 -h '{}' {args}",
            certs.display(),
            conf.display(),
            srv.directory(),
            hook.display()
        );
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c", &script]).env("WEBROOT", &www);
        c
    };
    let out = uacme("new").output().unwrap();
    assert!(out.status.success(), "uacme new failed: {}", text(&out));
    let out = run_with_approval(&srv, "ua1", uacme("issue ua1.local ua1.home.arpa"));
    assert!(out.status.success(), "uacme issue failed: {}", text(&out));
    verify_leaf(d, &d.join("conf/ua1.local/cert.pem"), "ua1");

    let out = uacme("issue ua2.example.com").output().unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "uacme got a public name: {t}");
    assert!(t.contains("rejectedIdentifier"), "{t}");
}

#[test]
fn lego_tls_alpn01_with_auto_approve() {
    if skip_unless(&["lego", "openssl"]) {
        return;
    }
    let dir = temp_dir("lego-alpn");
    let d = dir.path();
    let tls_port = free_port();
    // The --resolve entries give the device's IP; tls-alpn-01 uses --tls-alpn-port with it.
    let srv = init_and_serve(
        d,
        &[
            "--generic-clients",
            "--auto-approve",
            "--tls-alpn-port",
            &tls_port.to_string(),
            "--resolve",
            "alpn1.local=127.0.0.1:9",
            "--resolve",
            "alpn1.home.arpa=127.0.0.1:9",
        ],
    );
    fetch_roots(&srv, d);
    let out = Command::new("lego")
        .env("LEGO_CA_CERTIFICATES", d.join("roots.pem"))
        .args(["--path", d.join("lego").to_str().unwrap()])
        .args(["--server", &srv.directory()])
        .args(["--email", "admin@example.org", "--accept-tos"])
        .args(["--key-type", "ec384", "--tls"])
        .args(["--tls.port", &format!("127.0.0.1:{tls_port}")])
        .args([
            "--domains",
            "alpn1.local",
            "--domains",
            "alpn1.home.arpa",
            "run",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "lego failed: {}", text(&out));
    verify_leaf(d, &d.join("lego/certificates/alpn1.local.crt"), "alpn1");
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert!(
        log.contains("challenge valid name=alpn1.local kind=TlsAlpn01"),
        "{log}"
    );
}
