//! A tiny http-01 responder (RFC 8555 §8.3): `GET /.well-known/acme-challenge/<token>` answers
//! the key authorization stored for that token, anything else 404. A connection that sends no
//! request within [`READ_TIMEOUT`] is dropped (a validator killed mid-request holds no thread).
//! It is lantrust-cli's [`Http01`], the device's own, left
//! running for the rest of the test process.

use std::net::TcpListener;
use std::time::Duration;

use lantrust_cli::acme_http::Http01;

/// How long the responder waits for each line of a request before it drops the connection.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Token → key authorization, shared between the test (which fills it) and the responder.
pub type Tokens = lantrust_cli::acme_http::Tokens;

/// Serves http-01 on `listener` from a background thread (one thread per connection) and returns
/// the token table it answers from.
pub fn serve_http01(listener: TcpListener) -> Tokens {
    Http01::serve(listener, Tokens::default(), READ_TIMEOUT)
        .unwrap_or_else(|e| panic!("cannot start the http-01 responder: {e:#}"))
        .detach()
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
