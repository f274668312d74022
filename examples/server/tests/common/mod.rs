//! Shared helpers: run the built binary, an http-01 responder, a ureq agent trusting the root.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_lantrust-server");

/// A child process killed on drop.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

pub fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `lantrust-server ARGS`, returning the output (not checking the status).
pub fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Run `lantrust-server ARGS` and require success; returns stdout.
pub fn cli_ok(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "lantrust-server {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh, unique temporary directory.
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lantrust-server-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A running server on 127.0.0.1 with its state directory.
pub struct Served {
    pub state: PathBuf,
    pub port: u16,
    pub _proc: Proc,
}

impl Served {
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/acme/directory", self.port)
    }
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
    pub fn state_arg(&self) -> &str {
        self.state.to_str().unwrap()
    }
}

/// `init` a network `router` / `home.arpa` with 127.0.0.1 in `dir/state`, then `serve` it.
pub fn init_and_serve(dir: &Path, extra: &[&str]) -> Served {
    let state = dir.join("state");
    let s = state.to_str().unwrap();
    cli_ok(&[
        "init",
        "--state",
        s,
        "--name",
        "router",
        "--domain",
        "home.arpa",
        "--ip",
        "127.0.0.1",
    ]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut args = vec!["serve", "--state", s, "--listen", &listen];
    args.extend_from_slice(extra);
    let child = Command::new(BIN)
        .args(&args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let proc = Proc(child);
    wait_for_port(port);
    Served {
        state,
        port,
        _proc: proc,
    }
}

/// A tiny http-01 responder: GET /.well-known/acme-challenge/<token> → key authorization.
/// Returns the port and the token table.
pub fn http01_responder() -> (u16, Arc<Mutex<HashMap<String, String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let t2 = tokens.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let tokens = t2.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let token = path
                    .strip_prefix("/.well-known/acme-challenge/")
                    .unwrap_or("");
                let body = tokens.lock().unwrap().get(token).cloned();
                let resp = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    }
                };
                let _ = stream.write_all(resp.as_bytes());
            });
        }
    });
    (port, tokens)
}

/// A ureq agent trusting only `root_pem`.
pub fn agent(root_pem: &str) -> ureq::Agent {
    let root = lantrust_ca::certificate_from_pem(root_pem).unwrap();
    let der = lantrust_ca::certificate_to_der(&root).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .timeout(Duration::from_secs(30))
        .build()
}

/// Status, headers (lower-case names) and body of a ureq call, 4xx/5xx included.
pub fn call(result: Result<ureq::Response, ureq::Error>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.to_ascii_lowercase(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    (status, headers, body)
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Run `openssl ARGS` in `dir`, returning (success, stdout+stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Wait until `pending --json` lists `device`.
pub fn wait_pending(state: &str, device: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let out = cli_ok(&["pending", "--state", state, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if v.as_array()
            .unwrap()
            .iter()
            .any(|d| d["device_id"] == device)
        {
            return;
        }
        if start.elapsed() >= limit {
            let log = std::fs::read_to_string(Path::new(state).with_file_name("serve.log"))
                .unwrap_or_default();
            panic!("{device} never appeared in `pending`: {out}\nserver log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
