//! One http-01 responder (RFC 8555 §8.3) for every simulated device, keyed by token.
//!
//! The server reaches every device name through `--resolve '*=127.0.0.1:PORT'`, so a single
//! listener answers for thousands of devices; each device publishes its key authorizations
//! before it tells the server to validate, and withdraws them when it is done.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

const PREFIX: &str = "/.well-known/acme-challenge/";

#[derive(Default)]
struct Shared {
    tokens: Mutex<HashMap<String, String>>,
    served: AtomicU64,
    missed: AtomicU64,
    stop: AtomicBool,
}

/// A running responder; dropping it stops the accept loop.
pub struct Responder {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl core::fmt::Debug for Responder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Responder")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// Binds `listen` (port 0 picks a free port) and serves on a background thread, one short
    /// thread per connection (the server opens one connection per validation).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn start(listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .with_context(|| format!("binding the http-01 responder to {listen}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::Builder::new()
            .name("http01-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let s = s.clone();
                    let _ = std::thread::Builder::new()
                        .name("http01-conn".into())
                        .spawn(move || serve_one(&s, stream));
                }
            })
            .context("starting the http-01 responder thread")?;
        Ok(Responder { shared, addr })
    }

    /// The address the responder listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve `body` at `/.well-known/acme-challenge/<token>`.
    pub fn publish(&self, token: &str, body: &str) {
        if let Ok(mut t) = self.shared.tokens.lock() {
            t.insert(token.to_string(), body.to_string());
        }
    }

    /// Stop serving `token`.
    pub fn withdraw(&self, token: &str) {
        if let Ok(mut t) = self.shared.tokens.lock() {
            t.remove(token);
        }
    }

    /// Requests answered with a key authorization, and requests for unknown tokens.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.served.load(Ordering::Relaxed),
            self.shared.missed.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and drops the listener.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

fn serve_one(s: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Skip the headers (a GET has no body).
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let token = path.strip_prefix(PREFIX).unwrap_or("");
    let body = if method == "GET" && !token.is_empty() {
        s.tokens.lock().ok().and_then(|t| t.get(token).cloned())
    } else {
        None
    };
    let resp = match body {
        Some(b) => {
            s.served.fetch_add(1, Ordering::Relaxed);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            )
        }
        None => {
            s.missed.fetch_add(1, Ordering::Relaxed);
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
    };
    let _ = stream.write_all(resp.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: dev-1.local\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_published_tokens_only() {
        let r = Responder::start("127.0.0.1:0".parse().unwrap()).unwrap();
        r.publish("tok_1", "tok_1.thumb");
        let ok = get(r.addr(), "/.well-known/acme-challenge/tok_1");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\ntok_1.thumb"), "{ok}");
        let miss = get(r.addr(), "/.well-known/acme-challenge/other");
        assert!(miss.starts_with("HTTP/1.1 404"), "{miss}");
        r.withdraw("tok_1");
        let gone = get(r.addr(), "/.well-known/acme-challenge/tok_1");
        assert!(gone.starts_with("HTTP/1.1 404"), "{gone}");
        assert_eq!(r.counts(), (1, 2));
    }
}
