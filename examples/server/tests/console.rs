//! The owner's web console (issue 18), end to end in a real browser: `lantrust-server` with a
//! console password set at `init`, real `lantrust-device enroll` processes asking for approval,
//! and Debian's headless Chromium driven over the DevTools protocol (a websocket, CDP).
//!
//! Shown: a wrong password is refused and the right one signs in; a device that asks appears on
//! the open pending page without a reload (with its MAC's vendor from Debian's ieee-data);
//! approving it in the page lets the waiting enroll finish; denying another ends its enroll; a
//! second key asking for an approved ID shows the key-change warning; revoking in the devices
//! page revokes; the root page shows the root's SHA-256 fingerprint and its QR code. Outside
//! the browser: a forged CSRF token with a valid session cookie gets 403, every console response
//! carries the CSP, the JSON admin API still answers its token, the webhook is called once per
//! waiting request, and the login rate limit answers 429 with Retry-After. A screenshot of each
//! page is written under `target/tmp/console-screens/`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use lantrust_test_support::bins::{Binaries, resolve_args};
use lantrust_test_support::chromium::{CHROMIUM, HEADLESS_ARGS};
use lantrust_test_support::{Proc, free_port, output_text, temp_dir, wait_for_port};
use serde_json::{Value, json};
use sha2::Digest as _;

const PASSWORD: &str = "correct horse battery staple";
/// The MAC address the leases file gives 127.0.0.1: a Raspberry Pi Foundation OUI.
const MAC: &str = "b8:27:eb:12:34:56";

/// A child that leads its own process group; dropping it kills the whole group (Chromium and
/// its helper processes).
struct Group(Child);
impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// A minimal DevTools-protocol client: one page target attached in flat mode.
struct Cdp {
    ws: Ws,
    next: u64,
    session: String,
    _browser: Group,
}

impl Cdp {
    /// Start headless Chromium with a fresh profile in `profile` and open a blank page.
    fn start(profile: &Path) -> Self {
        let mut child = Command::new(CHROMIUM)
            .args(HEADLESS_ARGS)
            .args([
                // The server's certificate comes from the network root, which this fresh
                // profile does not trust (examples/client/tests/chromium.rs shows the trust).
                "--ignore-certificate-errors",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1100,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let browser = Group(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining stderr so Chromium never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium printed no DevTools URL");
        let (ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut cdp = Cdp {
            ws,
            next: 1,
            session: String::new(),
            _browser: browser,
        };
        let target = cdp.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = cdp.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        cdp.session = attached["sessionId"].as_str().unwrap().to_string();
        cdp.call("Page.enable", json!({}));
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        cdp
    }

    /// One command; its result (events in between are skipped). A CDP error is a panic.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == json!(id) {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluate `expr` in the page; its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r["exceptionDetails"].is_null(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Wait until `expr` is true in the page (polled), or panic with `what`.
    fn wait_for(&mut self, expr: &str, limit: Duration, what: &str) {
        let start = Instant::now();
        loop {
            let r = self.call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true }),
            );
            if r["result"]["value"] == json!(true) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: `{expr}` still false after {limit:?}; page: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Load `url` and wait for the document to be complete.
    fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_loaded();
    }

    fn wait_loaded(&mut self) {
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            Duration::from_secs(30),
            "page load",
        );
    }

    /// Run `action` (which submits a form or navigates) and wait for the new page.
    fn submit(&mut self, action: &str) {
        self.eval("window.__before_submit = true");
        self.eval(action);
        self.wait_for(
            "window.__before_submit === undefined && document.readyState === 'complete'",
            Duration::from_secs(30),
            "the page after a form",
        );
    }

    fn text(&mut self) -> String {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": "document.body ? document.body.innerText : ''", "returnByValue": true }),
        );
        r["result"]["value"].as_str().unwrap_or("").to_string()
    }

    fn path(&mut self) -> String {
        self.eval("location.pathname").as_str().unwrap().to_string()
    }

    /// Write a PNG of the page to `path`.
    fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64ct::Base64::decode_vec(r["data"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// The browser's cookie `name` for the console.
    fn cookie(&mut self, origin: &str, name: &str) -> Option<String> {
        let r = self.call(
            "Network.getCookies",
            json!({ "urls": [format!("{origin}/admin/")] }),
        );
        r["cookies"].as_array().unwrap().iter().find_map(|c| {
            (c["name"] == name).then(|| {
                assert_eq!(c["secure"], true, "{c}");
                assert_eq!(c["httpOnly"], true, "{c}");
                assert_eq!(c["sameSite"], "Strict", "{c}");
                assert_eq!(c["path"], "/admin", "{c}");
                c["value"].as_str().unwrap().to_string()
            })
        })
    }
}

use base64ct::Encoding as _;

/// A tiny HTTP server that records the bodies POSTed to it (the `--notify-url` webhook).
fn webhook() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let got2 = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            let mut first = true;
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if first {
                    assert!(line.starts_with("POST "), "{line}");
                    first = false;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            got2.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap());
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

/// Wait until the webhook was called `n` times (the owner was told before deciding).
fn wait_hooks(hooks: &Mutex<Vec<Value>>, n: usize) {
    let start = Instant::now();
    while hooks.lock().unwrap().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "webhook calls: {:?}",
            hooks.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `lantrust-device enroll` of `id` with state in `state`, started (not awaited).
fn enroll(bins: &Binaries, state: &Path, id: &str, port: u16, http01: u16) -> Proc {
    Proc::spawn(
        Command::new(bins.path("lantrust-device"))
            .args(["enroll", "--state"])
            .arg(state)
            .args([
                "--id",
                id,
                "--domain",
                "home.arpa",
                "--directory",
                &format!("https://lantrust.local:{port}/acme/directory"),
                "--resolve",
                &format!("lantrust.local=127.0.0.1:{port}"),
                "--http01-listen",
                &format!("127.0.0.1:{http01}"),
                "--timeout",
                "90",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// Wait for `p` to exit (at most 60 s); whether it succeeded, and what it said.
fn finish(mut p: Proc) -> (bool, String) {
    let start = Instant::now();
    while !p.has_exited() {
        assert!(start.elapsed() < Duration::from_secs(60), "enroll hangs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = p.wait_with_output();
    (out.status.success(), output_text(&out))
}

fn agent() -> ureq::Agent {
    // The server's certificate is checked elsewhere; here only the console's answers matter.
    #[derive(Debug)]
    struct Any;
    impl rustls::client::danger::ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(Any))
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

/// Status, headers and body of a request (no redirect followed).
fn http(r: Result<ureq::Response, ureq::Error>) -> (u16, Vec<(String, String)>, String) {
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let headers = r
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = r.all(&n).join(", ");
            (n, v)
        })
        .collect();
    (r.status(), headers, r.into_string().unwrap_or_default())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn screens() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screens");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_owner_approves_denies_and_revokes_in_the_browser() {
    if !Path::new(CHROMIUM).exists() {
        lantrust_test_support::skip("chromium is not installed (scripts/install-peers)");
        return;
    }
    let bins = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-server"),
        &["lantrust-server", "lantrust-device"],
    );
    let dir = temp_dir("console");
    let state = dir.path().join("srv");
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let out = bins.run(
        "lantrust-server",
        &[
            "init",
            "--state",
            state.to_str().unwrap(),
            "--name",
            "lantrust",
            "--domain",
            "home.arpa",
            "--console-password-file",
            pw_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(output_text(&out).contains("console password: set"));

    // The requesters' MAC comes from a dnsmasq leases file (loopback has no neighbour entry).
    let leases = dir.path().join("leases");
    std::fs::write(&leases, format!("1999999999 {MAC} 127.0.0.1 dev1 *\n")).unwrap();
    let (hook_port, hooks) = webhook();
    let port = free_port();
    let http01 = free_port();
    // The browser and the raw requests use the address; the devices the server's name.
    let origin = format!("https://127.0.0.1:{port}");
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--state".into(),
        state.to_str().unwrap().into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--url".into(),
        format!("https://lantrust.local:{port}"),
        "--http01-port".into(),
        http01.to_string(),
        "--dhcp-leases".into(),
        leases.to_str().unwrap().into(),
        "--notify-url".into(),
        format!("http://127.0.0.1:{hook_port}/hook"),
    ];
    for id in ["dev1", "dev2"] {
        args.extend(resolve_args(id, http01));
    }
    let log = dir.path().join("server.log");
    let _server = Proc::spawn(
        Command::new(bins.path("lantrust-server"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    wait_for_port(port);
    let shots = screens();

    let profile = tempfile::tempdir_in(dir.path()).unwrap();
    let mut b = Cdp::start(profile.path());

    // Signed out, every page leads to the sign-in form.
    b.goto(&format!("{origin}/admin/ui/pending"));
    assert_eq!(b.path(), "/admin/login");
    b.screenshot(&shots.join("login.png"));

    // A wrong password is refused.
    b.submit(
        "document.querySelector('#password').value = 'not the password'; \
         document.querySelector('form.login').submit()",
    );
    assert_eq!(b.path(), "/admin/login");
    assert!(b.text().contains("Wrong password."), "{}", b.text());
    assert_eq!(b.cookie(&origin, "lantrust_console"), None);

    // The right one signs in.
    b.submit(&format!(
        "document.querySelector('#password').value = '{PASSWORD}'; \
         document.querySelector('form.login').submit()"
    ));
    assert_eq!(b.path(), "/admin/ui/pending");
    assert!(b.text().contains("Nobody is waiting."), "{}", b.text());
    let session = b
        .cookie(&origin, "lantrust_console")
        .expect("session cookie");
    assert_eq!(session.len(), 64);

    // A device asks while the page is open: it appears without a reload.
    b.eval("window.__no_reload = 42");
    let dev1 = enroll(&bins, &dir.path().join("dev1-a"), "dev1", port, http01);
    b.wait_for(
        "document.querySelector('section.request[data-device=\"dev1\"]') !== null",
        Duration::from_secs(30),
        "dev1 on the pending page",
    );
    assert_eq!(
        b.eval("window.__no_reload"),
        json!(42),
        "the page was reloaded"
    );
    let text = b.text();
    for want in [
        "dev1.local",
        "127.0.0.1",
        MAC,
        "First seen",
        "Account thumbprint",
    ] {
        assert!(text.contains(want), "{want} missing: {text}");
    }
    if Path::new("/usr/share/ieee-data/oui.txt").exists() {
        assert!(text.contains("Raspberry Pi"), "vendor: {text}");
    } else {
        lantrust_test_support::skip_part("Debian's ieee-data is not installed: no vendor names");
    }
    assert!(!text.contains("Key change"), "{text}");
    assert_eq!(
        b.eval("document.querySelector('#pending-count').textContent"),
        json!("1")
    );
    b.screenshot(&shots.join("pending.png"));

    // A forged CSRF token with the real session cookie is refused, and decides nothing.
    let agent = agent();
    let cookie = format!("lantrust_console={session}");
    let thumbprint = b
        .eval("document.querySelector('section.request[data-device=\"dev1\"] input[name=account]').value")
        .as_str()
        .unwrap()
        .to_string();
    for csrf in ["0".repeat(64), String::new()] {
        let (status, h, body) = http(
            agent
                .post(&format!("{origin}/admin/ui/decide"))
                .set("Cookie", &cookie)
                .send_form(&[
                    ("csrf", &csrf),
                    ("device", "dev1"),
                    ("account", &thumbprint),
                    ("action", "approve"),
                ]),
        );
        assert_eq!(status, 403, "{body}");
        assert!(header(&h, "content-security-policy").is_some());
    }
    let (status, _, body) = http(
        agent
            .post(&format!("{origin}/admin/ui/revoke"))
            .set("Cookie", &cookie)
            .send_form(&[("csrf", &"f".repeat(64)), ("device", "dev1")]),
    );
    assert_eq!(status, 403, "{body}");
    // Without a session, a form is refused whatever its token.
    let (status, _, _) = http(
        agent
            .post(&format!("{origin}/admin/ui/revoke"))
            .send_form(&[("csrf", &"f".repeat(64)), ("device", "dev1")]),
    );
    assert_eq!(status, 401);
    assert!(b.text().contains("dev1"), "still waiting");

    // Every console response carries the CSP and its companions.
    for path in [
        "/admin/",
        "/admin/login",
        "/admin/ui/pending",
        "/admin/ui/pending/list",
        "/admin/ui/devices",
        "/admin/ui/root",
        "/admin/ui/root.pem",
        "/admin/ui/root-qr.svg",
        "/admin/ui/static/console.js",
        "/admin/ui/static/console.css",
        "/admin/ui/nonexistent",
    ] {
        for with_session in [true, false] {
            let mut r = agent.get(&format!("{origin}{path}"));
            if with_session {
                r = r.set("Cookie", &cookie);
            }
            let (status, h, _) = http(r.call());
            assert!(status < 500, "{path}: {status}");
            assert_eq!(
                header(&h, "content-security-policy"),
                Some(
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                ),
                "{path}"
            );
            assert_eq!(header(&h, "x-frame-options"), Some("DENY"), "{path}");
            assert_eq!(
                header(&h, "x-content-type-options"),
                Some("nosniff"),
                "{path}"
            );
            assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"), "{path}");
        }
    }

    // Approve in the page (the webhook told of it first): the waiting enroll finishes.
    wait_hooks(&hooks, 1);
    b.submit(
        "document.querySelector('section.request[data-device=\"dev1\"] button.approve').click()",
    );
    assert_eq!(b.path(), "/admin/ui/pending");
    let (ok, said) = finish(dev1);
    assert!(ok, "dev1 enroll after approval: {said}");

    // Another device asks; denied in the page, its enroll ends.
    let dev2 = enroll(&bins, &dir.path().join("dev2"), "dev2", port, http01);
    b.wait_for(
        "document.querySelector('section.request[data-device=\"dev2\"]') !== null",
        Duration::from_secs(30),
        "dev2 on the pending page",
    );
    wait_hooks(&hooks, 2);
    b.submit("document.querySelector('section.request[data-device=\"dev2\"] button.deny').click()");
    let (ok, said) = finish(dev2);
    assert!(!ok, "dev2 was denied: {said}");
    assert!(b.text().contains("Nobody is waiting."), "{}", b.text());

    // A second key asks for the approved dev1 (a factory reset, or an impostor): the warning.
    b.eval("window.__no_reload = 43");
    let dev1b = enroll(&bins, &dir.path().join("dev1-b"), "dev1", port, http01);
    b.wait_for(
        "document.querySelector('section.request.key-change[data-device=\"dev1\"]') !== null",
        Duration::from_secs(30),
        "dev1's key change on the pending page",
    );
    assert_eq!(b.eval("window.__no_reload"), json!(43));
    let text = b.text();
    assert!(
        text.contains("a known device ID arrived with a new key: factory reset, or impostor"),
        "{text}"
    );
    b.screenshot(&shots.join("pending-key-change.png"));
    // Refused: the new key gets nothing, the approved device keeps its ID.
    wait_hooks(&hooks, 3);
    b.submit("document.querySelector('section.request[data-device=\"dev1\"] button.deny').click()");
    let (ok, said) = finish(dev1b);
    assert!(!ok, "the second key was refused: {said}");

    // The devices page: dev1 approved with its certificate; revoke it.
    b.goto(&format!("{origin}/admin/ui/devices"));
    let text = b.text();
    assert!(
        text.contains("dev1") && text.contains("approved") && text.contains("expires"),
        "{text}"
    );
    assert!(text.contains("dev2") && text.contains("denied"), "{text}");
    b.screenshot(&shots.join("devices.png"));
    b.eval("window.confirm = function () { return true; }");
    b.submit("document.querySelector('tr[data-device=\"dev1\"] button.deny').click()");
    assert_eq!(b.path(), "/admin/ui/devices");
    assert!(
        b.eval("document.querySelector('tr[data-device=\"dev1\"] .state').textContent")
            == json!("revoked"),
        "{}",
        b.text()
    );
    assert!(b.text().contains("revoked"));

    // The JSON admin API for scripts is unchanged, and agrees.
    let token = std::fs::read_to_string(state.join("admin-token")).unwrap();
    let (status, _, body) = http(
        agent
            .get(&format!("{origin}/admin/devices"))
            .set("Authorization", &format!("Bearer {}", token.trim()))
            .call(),
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let dev1_row = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == "dev1")
        .unwrap();
    assert_eq!(dev1_row["state"], "revoked");
    assert!(
        v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["device_id"] != "dev1" || c["revoked"] == true)
    );

    // The root page: the fingerprint of the real root, its QR code, the PEM.
    b.goto(&format!("{origin}/admin/ui/root"));
    let pem = std::fs::read_to_string(state.join("root.pem")).unwrap();
    let der = lantrust_test_support::acme::certificate_der_from_pem(&pem);
    let fp = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(
        b.eval("document.querySelector('#root-fingerprint').textContent"),
        json!(fp)
    );
    b.wait_for(
        "document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0",
        Duration::from_secs(10),
        "the QR code",
    );
    b.screenshot(&shots.join("root.png"));
    let downloaded =
        b.eval("fetch('/admin/ui/root.pem', { credentials: 'same-origin' }).then(r => r.text())");
    assert_eq!(downloaded, json!(pem));

    // Sign out: the session is gone.
    b.submit("document.querySelector('form.logout button').click()");
    assert_eq!(b.path(), "/admin/login");
    let (status, _, _) = http(
        agent
            .get(&format!("{origin}/admin/ui/pending/list"))
            .set("Cookie", &cookie)
            .call(),
    );
    assert_eq!(status, 401, "the old session still works after sign-out");
    drop(b);

    // The webhook: once per waiting request (dev1, dev2, dev1's second key), never again for
    // one still waiting (dev1 waited through several scans before its approval).
    std::thread::sleep(Duration::from_secs(2));
    let got = hooks.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    let ids: Vec<(&str, bool)> = got
        .iter()
        .map(|v| (v["device_id"].as_str().unwrap(), v["key_change"] == true))
        .collect();
    assert_eq!(
        ids,
        [("dev1", false), ("dev2", false), ("dev1", true)],
        "{got:?}"
    );
    for v in &got {
        assert_eq!(v["ip"], "127.0.0.1");
        assert_eq!(v["mac"], MAC);
        assert!(
            v["names"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().ends_with(".local"))
        );
    }

    // The login rate limit: 5 failures a minute from one address, then 429 with Retry-After.
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (_, h, body) = http(agent.get(&format!("{origin}/admin/login")).call());
        let set = header(&h, "set-cookie").unwrap().to_string();
        let token = set
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("lantrust_login=")
            .to_string();
        assert!(body.contains(&token));
        let (status, h, _) = http(
            agent
                .post(&format!("{origin}/admin/login"))
                .set("Cookie", &format!("lantrust_login={token}"))
                .send_form(&[("csrf", &token), ("password", "guess")]),
        );
        codes.push(status);
        if status == 429 {
            let secs: u64 = header(&h, "retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&secs), "{secs}");
        }
    }
    // The wrong password typed in the browser counts too if it is less than a minute old.
    assert!(codes[..4].iter().all(|c| *c == 401), "{codes:?}");
    assert!(matches!(codes[4], 401 | 429), "{codes:?}");
    assert_eq!(codes[5], 429, "{codes:?}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("console login refused: rate limit"), "{log}");
}

#[test]
fn no_password_set_means_no_sign_in_and_passwd_sets_one() {
    let bins = Binaries::build(env!("CARGO_BIN_EXE_lantrust-server"), &[]);
    let dir = temp_dir("console-nopw");
    let state = dir.path().join("srv");
    let s = state.to_str().unwrap();
    let out = bins.run(
        "lantrust-server",
        &["init", "--state", s, "--name", "lantrust"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    // With --admin-listen, the console moves with the JSON admin API to that address.
    let (port, admin_port) = (free_port(), free_port());
    let origin = format!("https://127.0.0.1:{admin_port}");
    let _server = Proc::spawn(
        Command::new(bins.path("lantrust-server"))
            .args([
                "serve",
                "--state",
                s,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port);
    wait_for_port(admin_port);
    let agent = agent();
    for path in ["/admin/", "/admin/login", "/admin/ui/static/console.js"] {
        let (status, _, _) = http(agent.get(&format!("https://127.0.0.1:{port}{path}")).call());
        assert_eq!(status, 404, "{path} on --listen");
    }
    let (status, _, body) = http(agent.get(&format!("{origin}/admin/login")).call());
    assert_eq!(status, 403);
    assert!(body.contains("No console password is set"), "{body}");
    assert!(body.contains("lantrust-server passwd --state"), "{body}");
    assert!(!body.contains("<form class=\"login\""), "{body}");

    // passwd refuses an empty or short password, from stdin.
    let passwd = |input: &str| {
        let mut c = Command::new(bins.path("lantrust-server"))
            .args(["passwd", "--state", s])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    for bad in ["", "\n", "short\n"] {
        let out = passwd(bad);
        assert!(!out.status.success(), "{bad:?}: {}", output_text(&out));
    }
    assert!(!state.join("console-password").exists());
    let out = passwd(&format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", output_text(&out));
    let hash = std::fs::read_to_string(state.join("console-password")).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(state.join("console-password"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The running server takes it at once: the form is there, and the password signs in.
    let (status, h, body) = http(agent.get(&format!("{origin}/admin/login")).call());
    assert_eq!(status, 200, "{body}");
    let token = header(&h, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("lantrust_login=")
        .to_string();
    // The login form's token must match its cookie.
    let (status, _, _) = http(
        agent
            .post(&format!("{origin}/admin/login"))
            .set("Cookie", &format!("lantrust_login={}", "0".repeat(64)))
            .send_form(&[("csrf", &token), ("password", PASSWORD)]),
    );
    assert_eq!(status, 403);
    let (status, h, _) = http(
        agent
            .post(&format!("{origin}/admin/login"))
            .set("Cookie", &format!("lantrust_login={token}"))
            .send_form(&[("csrf", &token), ("password", PASSWORD)]),
    );
    assert_eq!(status, 303);
    assert_eq!(header(&h, "location"), Some("/admin/ui/pending"));
    let set = header(&h, "set-cookie").unwrap();
    assert!(
        set.contains("lantrust_console=")
            && set.contains("Secure; HttpOnly; SameSite=Strict; Path=/admin"),
        "{set}"
    );
}
