//! Shared test helpers for lantrust-device tests: peer processes, ports, openssl, Pebble. The
//! logic lives in lantrust-test-support; these are the names the device tests use.
#![allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

use std::path::Path;
use std::process::Output;

pub use lantrust_test_support::openssl;
pub use lantrust_test_support::pebble::Pebble;
pub use lantrust_test_support::{Proc, free_port, have, wait_for_port};

/// Status, stdout and stderr of a finished process, for assertion messages.
pub fn text(o: &Output) -> String {
    lantrust_test_support::output_text(o)
}

/// A throwaway P-256 CA and a localhost/127.0.0.1 leaf for Pebble's HTTPS (Debian ships none).
pub fn pebble_tls(dir: &Path) {
    lantrust_test_support::openssl::localhost_tls(dir);
}

/// Pebble + pebble-challtestsrv on 127.0.0.1 (every name resolves to 127.0.0.1), nonce
/// rejection left at its default. None (with a loud SKIPPED) when the peers are missing.
pub fn start_pebble(dir: &Path) -> Option<Pebble> {
    lantrust_test_support::pebble::start_pebble(dir, &Default::default())
}
