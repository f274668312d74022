//! Planned root rotation (issue 15, §4.8): the link certificates a network's server publishes
//! at `/roots/link.pem` after `lantrust-server rotate-root`, fetched only when the root changed,
//! and the message the user gets when the change was signed by the root they trusted.

use std::io::Read;

use lantrust_cli::ResolveOverride;

/// The link certificates (DER) of the server at `directory_url` (`ORIGIN/roots/link.pem`); none
/// when it has none (404) or cannot be asked. Transport trust does not matter: each link is
/// checked against the pinned root's key by lantrust-pin.
pub(crate) fn fetch_links(
    directory_url: &str,
    server_root: &[u8],
    overrides: &[ResolveOverride],
) -> Vec<Vec<u8>> {
    let url = match lantrust_cli::tls::roots_url(directory_url) {
        Ok(u) => u.replace("/roots.pem", "/roots/link.pem"),
        Err(_) => return Vec::new(),
    };
    let fetched = lantrust_cli::tls::agent(&[server_root.to_vec()], overrides).and_then(|agent| {
        let resp = agent
            .get(&url)
            .timeout(std::time::Duration::from_secs(10))
            .call()?;
        let mut body = Vec::new();
        resp.into_reader().take(1 << 20).read_to_end(&mut body)?;
        lantrust_cli::pem_certs(&body)
    });
    match fetched {
        Ok(links) => links,
        Err(e) => {
            eprintln!("note: no link certificates from {url}: {e:#}");
            Vec::new()
        }
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (what the pin store pins), hex.
pub(crate) fn spki_hex(spki_sha256: &[u8; 32]) -> String {
    hex::encode(spki_sha256)
}

/// `verify`: if the device's chain reaches the pinned root only through link certificates (the
/// device renewed under the network's new root, this client has not re-joined yet), say so.
pub(crate) fn note_rotated_chain(pinned_root: &[u8], chain: &[&[u8]], now: u64) {
    let Some((_, rest)) = chain.split_first() else {
        return;
    };
    for candidate in rest {
        if let Ok(n) = lantrust_pin::check_rotation_links(pinned_root, candidate, rest, now) {
            lantrust_cli::outln!(
                "planned rotation: this device's certificate is from the network's new root, signed by the root you trusted ({n} link certificate(s)); run `lantrust-client join` to re-pin the new root"
            );
            return;
        }
    }
}
