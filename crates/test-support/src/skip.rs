//! Loud skipping when a peer is missing (a program, a Python module, or root for network
//! namespaces), and the switch that makes CI fail instead: every skip in the workspace's tests
//! goes through [`skip`] or [`skip_part`], so `LANTRUST_REQUIRE_PEERS=1` turns each of them into
//! a failure and a green CI proves that the peers really ran.

use std::cell::Cell;
use std::fmt::Display;

/// The environment variable that turns a skip into a failure. CI (`.ci/run`) sets it to `1`.
pub const REQUIRE_PEERS: &str = "LANTRUST_REQUIRE_PEERS";

thread_local! {
    /// [`with_peers_required`]'s setting for this thread, over the environment.
    static OVERRIDE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether a skip is a failure: [`REQUIRE_PEERS`] is set to something other than empty or `0`
/// (or [`with_peers_required`] says so on this thread).
pub fn peers_required() -> bool {
    OVERRIDE
        .get()
        .unwrap_or_else(|| required(std::env::var_os(REQUIRE_PEERS).as_deref()))
}

/// Runs `f` with skips failing (`true`) or not, whatever the environment says, on this thread
/// only: for tests of the skipping itself, which must behave the same under CI's setting.
pub fn with_peers_required<T>(required: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.set(self.0);
        }
    }
    let _restore = Restore(OVERRIDE.replace(Some(required)));
    f()
}

fn required(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The test cannot run because `reason` (name what is missing and what installs it). Prints
/// `SKIPPED: <reason>` and returns, so that the caller returns early instead of faking a pass;
/// with `LANTRUST_REQUIRE_PEERS=1` it panics with the same message instead.
#[track_caller]
pub fn skip(reason: impl Display) {
    eprintln!("{}", skip_line("SKIPPED", &reason, peers_required()));
}

/// As [`skip`], for a part of a test that cannot run (the rest of the test does): prints
/// `SKIPPED (part): <reason>`, or panics with `LANTRUST_REQUIRE_PEERS=1`.
#[track_caller]
pub fn skip_part(reason: impl Display) {
    eprintln!("{}", skip_line("SKIPPED (part)", &reason, peers_required()));
}

/// The one place every skip goes through: the line to print, or, when peers are `required`, a
/// panic with that line and the variable that made it a failure.
#[track_caller]
fn skip_line(tag: &str, reason: &dyn Display, required: bool) -> String {
    let line = format!("{tag}: {reason}");
    if required {
        panic!(
            "{line}\n{REQUIRE_PEERS}=1 makes a skipped test a failure (CI sets it so that a green \
             run proves every peer ran): install the peer (scripts/install-peers) or run as \
             root where the test needs it, or unset {REQUIRE_PEERS} to skip"
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn a_skip_is_a_message_unless_peers_are_required() {
        assert_eq!(
            skip_line("SKIPPED", &"`pebble` is not installed", false),
            "SKIPPED: `pebble` is not installed"
        );
        assert_eq!(
            skip_line("SKIPPED (part)", &"certutil missing", false),
            "SKIPPED (part): certutil missing"
        );
        // The public entry points, under both settings (whatever this run's environment says).
        with_peers_required(false, || {
            assert!(!peers_required());
            skip("`pebble` is not installed");
            skip_part("certutil missing");
        });
        type Entry = fn(&str);
        let entries: [(Entry, &str); 2] = [
            (|r| skip(r), "SKIPPED: "),
            (|r| skip_part(r), "SKIPPED (part): "),
        ];
        for (entry, tag) in entries {
            let panic = std::panic::catch_unwind(|| {
                with_peers_required(true, || entry("`pebble` is not installed"))
            })
            .expect_err("a required peer that is missing must fail the test");
            let message = panic
                .downcast_ref::<String>()
                .expect("the panic carries a formatted message");
            assert!(
                message.starts_with(&format!("{tag}`pebble` is not installed\n")),
                "{message}"
            );
            assert!(
                message.contains("LANTRUST_REQUIRE_PEERS=1 makes a skipped test a failure"),
                "{message}"
            );
        }
        // The setting is restored after a panic too.
        assert_eq!(OVERRIDE.get(), None);
    }

    #[test]
    fn the_variable_is_on_unless_unset_empty_or_zero() {
        assert!(!required(None));
        assert!(!required(Some(OsStr::new(""))));
        assert!(!required(Some(OsStr::new("0"))));
        assert!(required(Some(OsStr::new("1"))));
        assert!(required(Some(OsStr::new("yes"))));
    }
}
