//! One http-01 responder (RFC 8555 §8.3) for every simulated device, keyed by token.
//!
//! The server reaches every device name through `--resolve '*=127.0.0.1:PORT'`, so a single
//! listener answers for thousands of devices; each device publishes its key authorizations
//! before it tells the server to validate, and withdraws them when it is done. The responder is
//! lantrust-cli's [`Http01`], the device's own.

use std::net::SocketAddr;
use std::time::Duration;

use lantrust_cli::acme_http::Http01;

/// A running responder (publish, withdraw, counts: see [`Http01`]); dropping it stops the
/// accept loop.
#[derive(Debug)]
pub struct Responder(Http01);

impl Responder {
    /// Binds `listen` (port 0 picks a free port) and serves on a background thread, one short
    /// thread per connection (the server opens one connection per validation).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn start(listen: SocketAddr) -> anyhow::Result<Self> {
        Http01::start(listen, Duration::from_secs(10)).map(Self)
    }
}

impl core::ops::Deref for Responder {
    type Target = Http01;

    fn deref(&self) -> &Http01 {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

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
