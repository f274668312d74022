//! A tiny http-01 responder (RFC 8555 §8.3): `GET /.well-known/acme-challenge/<token>` answers
//! the key authorization stored for that token, anything else 404. A connection that sends no
//! request within [`READ_TIMEOUT`] is dropped (a validator killed mid-request holds no thread).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the responder waits for each line of a request before it drops the connection.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Token → key authorization, shared between the test (which fills it) and the responder.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Serves http-01 on `listener` from a background thread (one thread per connection) and returns
/// the token table it answers from.
pub fn serve_http01(listener: TcpListener) -> Tokens {
    let tokens = Tokens::default();
    let table = tokens.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let table = table.clone();
            std::thread::spawn(move || answer(stream, &table));
        }
    });
    tokens
}

/// [`serve_http01`] on a fresh port of 127.0.0.1; returns the port and the token table.
pub fn http01_responder() -> (u16, Tokens) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind the http-01 responder on 127.0.0.1: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("listener without an address: {e}"))
        .port();
    (port, serve_http01(listener))
}

fn answer(mut stream: TcpStream, tokens: &Tokens) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
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
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let token = path
        .strip_prefix("/.well-known/acme-challenge/")
        .unwrap_or("");
    let body = tokens
        .lock()
        .unwrap_or_else(|e| panic!("http-01 token table poisoned by a panicking test: {e}"))
        .get(token)
        .cloned();
    let resp = match body {
        Some(b) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        ),
        None => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
    };
    let _ = stream.write_all(resp.as_bytes());
}
