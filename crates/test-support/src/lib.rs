#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Test scaffolding: processes, sockets, files and clocks are the point, so `std` paths are too.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[cfg(feature = "acme")]
pub mod acme;
pub mod bins;
pub mod chromium;
pub mod dns;
pub mod http01;
pub mod net;
pub mod netns;
pub mod openssl;
pub mod pebble;
pub mod postgres;
pub mod process;
mod skip;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use net::{free_port, free_udp_tcp_port, wait_for_port, wait_for_port_within};
pub use openssl::{company_root, openssl, openssl_output, openssl_stdout, p384_request, sign_csr};
pub use process::{Proc, find_program, have, kill_at, output_text, require_programs, run};
pub use skip::{REQUIRE_PEERS, peers_required, skip, skip_part, with_peers_required};

/// The wall clock as a duration since the Unix epoch (the `now` the sans-IO crates take).
pub fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("the system clock is before 1970 ({e}); fix the clock"))
}

/// The seed of a randomised test's schedule (crash tests kill at random points):
/// `LANTRUST_CRASH_SEED` when set to a number, else the clock. Printed with `test`'s name, so
/// that a failing schedule can be rerun exactly.
pub fn crash_seed(test: &str) -> u64 {
    let seed = std::env::var("LANTRUST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            // The low 64 bits of the nanoseconds: what varies from run to run.
            now().as_nanos() as u64
        });
    eprintln!("{test}: seed {seed} (rerun with LANTRUST_CRASH_SEED={seed})");
    seed
}

/// A fresh, unique temporary directory named `lantrust-<tag>-…`, removed when dropped.
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lantrust-{tag}-"))
        .tempdir()
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a temporary directory in {}: {e} (set TMPDIR to a writable directory)",
                std::env::temp_dir().display()
            )
        })
}

/// Writes `bytes` to `dir/name` when the environment variable `LANTRUST_WRITE_VECTORS` is set,
/// so that interop tests can (re)capture the real answers they check into test vectors.
pub fn save_vector(dir: impl AsRef<std::path::Path>, name: &str, bytes: &[u8]) {
    if std::env::var_os("LANTRUST_WRITE_VECTORS").is_some() {
        let path = dir.as_ref().join(name);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("cannot write test vector {}: {e}", path.display()));
    }
}
