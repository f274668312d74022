//! Loopback ports: pick a free one, wait until a server listens on one.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// How long [`wait_for_port`] waits for a peer to start listening.
pub const PORT_TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind a TCP socket on 127.0.0.1: {e} (is loopback up?)"))
}

/// A port on 127.0.0.1 free for both UDP and TCP right now (what a DNS server binds).
pub fn free_udp_tcp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| {
            panic!("cannot bind a UDP socket on 127.0.0.1: {e} (is loopback up?)")
        });
        let port = udp
            .local_addr()
            .unwrap_or_else(|e| panic!("UDP socket without an address: {e}"))
            .port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, for up to [`PORT_TIMEOUT`].
pub fn wait_for_port(port: u16) {
    wait_for_port_within(port, PORT_TIMEOUT);
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; panics after `limit`.
pub fn wait_for_port_within(port: u16, limit: Duration) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < limit,
            "port {port} never opened within {limit:?} (the server did not start; see its log)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
