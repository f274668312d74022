//! The server answers its own network only (draft-sweet-iot-acme-07 §4.1: the ACME server is a
//! service of the local network, and §3.4.4's approvals are that network owner's). By default
//! a connection whose source address is not a local one gets a `403 unauthorized` ACME problem
//! for every request, ACME and /admin alike; `serve --allow-public-clients` lifts it.
//!
//! Local sources: loopback (127.0.0.0/8, ::1), private (RFC 1918: 10/8, 172.16/12, 192.168/16),
//! link-local (169.254/16, fe80::/10) and unique-local (RFC 4193: fc00::/7); an IPv4-mapped IPv6
//! address (`::ffff:a.b.c.d`, what a dual-stack `[::]` listener reports for IPv4 peers) is judged
//! as its IPv4 address. Everything else is refused, on purpose including:
//! - CGNAT's shared address space (RFC 6598, 100.64.0.0/10): it lies on the ISP's side of the
//!   router, shared with the ISP's other customers, so a server listening on a WAN interface
//!   would take other subscribers for local devices (overlay VPNs that use it, such as Tailscale,
//!   need `--allow-public-clients`);
//! - NAT64 (64:ff9b::/96), 6to4 (2002::/16), the deprecated IPv4-compatible and site-local
//!   (fec0::/10) forms: their IPv4 or prefix part says nothing about this network;
//! - the unspecified and broadcast addresses, which are never a real peer.
//!
//! The refusal is made after the TLS handshake, as an HTTP answer (RFC 8555 §6.7 problem
//! `unauthorized`, status 403, with a detail that says what to do), rather than by closing the
//! connection: a misconfigured network (public addressing, a proxy in front) then shows its
//! administrator the reason instead of a bare reset. The connection caps still apply before
//! TLS, so a public flood costs what any other flood costs.

use std::net::IpAddr;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lantrust_acme::{Problem, ProblemType};

/// Whether `ip` is a source the server serves without `--allow-public-clients`.
pub(crate) fn is_local_source(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                // fe80::/10, link-local unicast (RFC 4291 §2.5.6)
                || first & 0xffc0 == 0xfe80
                // fc00::/7, unique local (RFC 4193)
                || first & 0xfe00 == 0xfc00
        }
    }
}

/// Which sources a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sources {
    /// Local sources only ([`is_local_source`]); the default.
    LocalOnly,
    /// Every source (`--allow-public-clients`).
    Any,
}

impl Sources {
    /// Whether a connection from `ip` is served.
    pub(crate) fn allows(self, ip: IpAddr) -> bool {
        self == Sources::Any || is_local_source(ip)
    }
}

/// The router a refused connection gets: every request answered with [`refusal`].
pub(crate) fn refused_router() -> Router {
    Router::new().fallback(refused)
}

async fn refused(
    axum::Extension(super::tls::Peer(peer)): axum::Extension<super::tls::Peer>,
) -> Response {
    refusal(peer.ip())
}

/// The answer to a request from a non-local source: RFC 8555 §6.7 `unauthorized`, 403, with a
/// detail naming the address and the flag; the connection is closed after it.
pub(crate) fn refusal(ip: IpAddr) -> Response {
    let ip = ip.to_canonical();
    let p = Problem::new(
        ProblemType::Unauthorized,
        403,
        format!(
            "this ACME server serves its local network only (draft-sweet-iot-acme-07 §4.1): \
             the source address {ip} is not loopback, private (RFC 1918), link-local or \
             unique-local (fc00::/7). Connect from the local network; if this network really \
             uses public or CGNAT addresses, its administrator can start the server with \
             --allow-public-clients"
        ),
    );
    let mut r = (
        StatusCode::FORBIDDEN,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        lantrust_acme::to_json(&p),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn local_sources() {
        for s in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.10",
            "169.254.3.4",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:192.168.1.2",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(is_local_source(ip(s)), "{s} must be local");
            assert!(Sources::LocalOnly.allows(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_and_special_sources_are_refused() {
        for s in [
            "203.0.113.7",
            "198.51.100.1",
            "192.0.2.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "11.0.0.1",
            // CGNAT (RFC 6598): the ISP's side, shared with other subscribers.
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::1",
            "2606:4700::1111",
            "fec0::1",
            "ff02::1",
            "::",
            "::ffff:203.0.113.7",
            "::ffff:100.64.0.1",
            // NAT64 and 6to4 wrapping a private IPv4 address are still not this network.
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            // IPv4-compatible (deprecated) is not the mapped form.
            "::10.0.0.1",
        ] {
            assert!(!is_local_source(ip(s)), "{s} must be refused");
            assert!(!Sources::LocalOnly.allows(ip(s)), "{s}");
            assert!(Sources::Any.allows(ip(s)), "{s}");
        }
    }

    #[test]
    fn the_refusal_is_an_acme_problem_that_says_what_to_do() {
        let r = refusal(ip("::ffff:203.0.113.7"));
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(r.headers()[header::CONNECTION], "close");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = rt.block_on(async {
            use http_body_util::BodyExt;
            r.into_body().collect().await.unwrap().to_bytes()
        });
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "urn:ietf:params:acme:error:unauthorized");
        assert_eq!(v["status"], 403);
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.contains("203.0.113.7 is not"), "{detail}");
        assert!(detail.contains("--allow-public-clients"), "{detail}");
    }
}
