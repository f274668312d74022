#![doc = include_str!("../README.md")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // an I/O crate: std is the point

pub mod acme_http;
pub mod config;
pub mod discover;
pub mod fs;
pub mod mdns;
pub mod network;
pub mod out;
pub mod ssid;
pub mod tls;

pub use discover::{Discovered, DiscoveryArgs};
pub use network::NetworkArgs;
pub use tls::{ResolveOverride, TofuRoots};

/// Seconds since the Unix epoch, from the system clock (the crates take `now` as a parameter).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Installs a `tracing` subscriber is the binaries' job; this helper sets up nothing but parses a
/// PEM bundle into DER certificates.
///
/// # Errors
/// When the text holds no `CERTIFICATE` block or a block is not valid base64.
pub fn pem_certs(pem: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        out.push(
            cert.map_err(|e| anyhow::anyhow!("bad PEM certificate: {e:?}"))?
                .to_vec(),
        );
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no CERTIFICATE block found in the PEM text"
    );
    Ok(out)
}

/// DER certificates as a PEM bundle.
pub fn certs_to_pem(ders: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64_encode(der);
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let ders = vec![vec![1u8, 2, 3, 4, 5], vec![0xff; 70]];
        let pem = certs_to_pem(&ders);
        assert_eq!(pem_certs(pem.as_bytes()).unwrap(), ders);
        assert!(pem_certs(b"nothing here").is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(i.as_bytes()), o);
        }
    }
}
