//! The I/O half of lantrust-acme's sans-IO client, shared by the device, the load generator and
//! the test scaffolding: one ACME exchange over ureq, and an http-01 responder (RFC 8555 §8.3).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use lantrust_acme::{Method, Request, Response};

/// The largest answer body [`exchange`] reads (certificate chains and ACME objects are far smaller).
pub const MAX_BODY: u64 = 1 << 20;

/// An HTTP answer: status, headers (names lower-cased, in order) and body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The server stopped answering: the connection was refused, reset or cut off (a crashed or
/// stopped server, a replica killed in the middle of an exchange). Callers that discovered
/// several servers (RFC 2782 SRV targets) fail over to another on this error; find it with
/// `err.chain().any(|e| e.is::<Unreachable>())`.
#[derive(Debug)]
pub struct Unreachable {
    what: String,
    detail: String,
}

impl core::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "transport error ({}): {}", self.what, self.detail)
    }
}

impl std::error::Error for Unreachable {}

/// Whether `e` (or an error it wraps) is an [`Unreachable`] server.
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unreachable>())
}

/// Status, headers (names lower-cased) and body (at most `max_body` bytes) of a ureq call,
/// 4xx/5xx included (ureq returns those as `Err(Status)`).
///
/// # Errors
/// A transport error (refused connection, TLS failure, timeout) or a body cut short, with `what`
/// (say, the method and URL) as context.
pub fn read_answer(
    result: Result<ureq::Response, ureq::Error>,
    max_body: u64,
    what: &str,
) -> anyhow::Result<Answer> {
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t))
            if matches!(
                t.kind(),
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io
            ) =>
        {
            return Err(Unreachable {
                what: what.to_string(),
                detail: t.to_string(),
            }
            .into());
        }
        Err(e) => anyhow::bail!("transport error ({what}): {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.to_ascii_lowercase(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    resp.into_reader()
        .take(max_body)
        .read_to_end(&mut body)
        .with_context(|| format!("{what}: reading the response body"))?;
    Ok((status, headers, body))
}

/// Sends one of the ACME client's requests over `agent` and converts the answer (4xx/5xx
/// included: ACME problems are error bodies) into its [`Response`].
///
/// # Errors
/// Transport errors (connect, TLS, timeout, unreadable body), naming the method and URL.
pub fn exchange(agent: &ureq::Agent, req: &Request) -> anyhow::Result<Response> {
    let mut r = agent.request(req.method.as_str(), &req.url);
    for (n, v) in &req.headers {
        r = r.set(n, v);
    }
    let result = match req.method {
        Method::Post => r.send_bytes(&req.body),
        _ => r.call(),
    };
    let what = format!("{} {}", req.method.as_str(), req.url);
    let (status, headers, body) = read_answer(result, MAX_BODY, &what)?;
    tracing::debug!(url = %req.url, status, "ACME exchange");
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Reads an HTTP/1.1 request head from `reader`: returns the method and the target of the
/// request line and skips the header lines (up to the blank line or the end of the stream).
/// `None` when no request line could be read.
pub fn read_request_head<R: BufRead>(reader: &mut R) -> Option<(String, String)> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return None,
        Ok(_) => {}
    }
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    Some((method, target))
}

/// The path prefix of http-01 challenges (RFC 8555 §8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Token → key authorization, the table an [`Http01`] responder answers from.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

#[derive(Default)]
struct Counters {
    served: AtomicU64,
    missed: AtomicU64,
    stop: AtomicBool,
}

/// http-01 responder (RFC 8555 §8.3) on a plain TCP listener, one thread per connection:
/// `GET /.well-known/acme-challenge/TOKEN` answers the key authorization published for TOKEN,
/// anything else 404. A connection that sends no line within the read timeout is dropped.
/// Dropping the responder stops the listener and frees the port (unless [`Http01::detach`]ed).
pub struct Http01 {
    tokens: Tokens,
    counters: Arc<Counters>,
    addr: SocketAddr,
    stop_on_drop: bool,
}

impl core::fmt::Debug for Http01 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Http01")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Http01 {
    fn drop(&mut self) {
        if !self.stop_on_drop {
            return;
        }
        self.counters.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and drops the listener.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl Http01 {
    /// Binds `listen` (port 0 picks a free port) and serves from an empty token table.
    ///
    /// # Errors
    /// When the address cannot be bound or the thread cannot start.
    pub fn start(listen: SocketAddr, read_timeout: Duration) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .with_context(|| format!("binding the http-01 responder to {listen}"))?;
        Self::serve(listener, Tokens::default(), read_timeout)
    }

    /// Serves `tokens` on `listener` from a background thread (one thread per connection).
    ///
    /// # Errors
    /// When the listener has no address or the thread cannot start.
    pub fn serve(
        listener: TcpListener,
        tokens: Tokens,
        read_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let addr = listener
            .local_addr()
            .context("the http-01 listener has no address")?;
        let counters = Arc::new(Counters::default());
        let (c, t) = (counters.clone(), tokens.clone());
        std::thread::Builder::new()
            .name("http01-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if c.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (c, t) = (c.clone(), t.clone());
                    let _ = std::thread::Builder::new()
                        .name("http01-conn".into())
                        .spawn(move || answer(&c, &t, stream, read_timeout));
                }
            })
            .context("starting the http-01 responder thread")?;
        Ok(Self {
            tokens,
            counters,
            addr,
            stop_on_drop: true,
        })
    }

    /// The address the responder listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token table it answers from (shared: changes show at once).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Serve `key_authorization` at `/.well-known/acme-challenge/<token>`.
    pub fn publish(&self, token: &str, key_authorization: &str) {
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(token.to_string(), key_authorization.to_string());
        }
    }

    /// Stop serving `token`.
    pub fn withdraw(&self, token: &str) {
        if let Ok(mut t) = self.tokens.lock() {
            t.remove(token);
        }
    }

    /// Requests answered with a key authorization, and requests for unknown tokens.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counters.served.load(Ordering::Relaxed),
            self.counters.missed.load(Ordering::Relaxed),
        )
    }

    /// Keeps the responder running for the life of the process and returns its token table.
    pub fn detach(mut self) -> Tokens {
        self.stop_on_drop = false;
        self.tokens.clone()
    }
}

fn answer(c: &Counters, tokens: &Tokens, mut stream: TcpStream, read_timeout: Duration) {
    let _ = stream.set_read_timeout(Some(read_timeout));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let Some((method, path)) = read_request_head(&mut BufReader::new(read_half)) else {
        return;
    };
    let token = path.strip_prefix(CHALLENGE_PREFIX).unwrap_or_default();
    let body = if method == "GET" && !token.is_empty() {
        tokens.lock().ok().and_then(|t| t.get(token).cloned())
    } else {
        None
    };
    tracing::info!(path, found = body.is_some(), "http-01 request");
    let resp = match body {
        Some(b) => {
            c.served.fetch_add(1, Ordering::Relaxed);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            )
        }
        None => {
            c.missed.fetch_add(1, Ordering::Relaxed);
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
    };
    let _ = stream.write_all(resp.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    /// RFC 2782 failover keys on [`Unreachable`]: a refused connection and a connection cut
    /// off before the answer are; a request that never left (a bad URL) is not.
    #[test]
    fn a_server_that_stops_answering_is_unreachable() {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        let get = |url: String| Request {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        };
        // Nothing listens there any more.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = exchange(&agent, &get(format!("http://{closed}/"))).unwrap_err();
        assert!(is_unreachable(&e), "{e:#}");
        assert!(is_unreachable(&e.context("polling the order")));
        // Accepts, reads the request, and dies without a word (a replica killed mid-request).
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf);
        });
        let e = exchange(&agent, &get(format!("http://{addr}/acme/order/1"))).unwrap_err();
        t.join().unwrap();
        assert!(is_unreachable(&e), "{e:#}");
        assert!(format!("{e}").contains("/acme/order/1"), "{e}");
        // Not a server's failure: nothing to fail over for.
        let e = exchange(&agent, &get("ftp://127.0.0.1/".into())).unwrap_err();
        assert!(!is_unreachable(&e), "{e:#}");
    }

    #[test]
    fn request_head_parsing() {
        let mut r = &b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nrest"[..];
        assert_eq!(
            read_request_head(&mut r),
            Some(("GET".to_string(), "/x".to_string()))
        );
        assert_eq!(r, b"rest");
        assert_eq!(read_request_head(&mut &b""[..]), None);
    }

    #[test]
    fn serves_published_tokens_and_stops_on_drop() {
        let h = Http01::start("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5)).unwrap();
        let addr = h.addr();
        h.publish("tok", "tok.thumb");
        let ok = get(
            addr,
            "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: d\r\n\r\n",
        );
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\ntok.thumb"), "{ok}");
        let post = get(
            addr,
            "POST /.well-known/acme-challenge/tok HTTP/1.1\r\n\r\n",
        );
        assert!(post.starts_with("HTTP/1.1 404"), "{post}");
        h.withdraw("tok");
        let gone = get(addr, "GET /.well-known/acme-challenge/tok HTTP/1.1\r\n\r\n");
        assert!(gone.starts_with("HTTP/1.1 404"), "{gone}");
        assert_eq!(h.counts(), (1, 2));
        drop(h);
        // The port is free again once the accept loop has seen the stop flag.
        let mut rebound = None;
        for _ in 0..50 {
            if let Ok(l) = TcpListener::bind(addr) {
                rebound = Some(l);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(rebound.is_some(), "port {addr} still bound after drop");
    }
}
