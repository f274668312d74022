//! Waking held polls when the network owner decides (draft §3.4.4). A device whose
//! authorization awaits approval polls it (RFC 8555 §7.5.1); `http.rs` holds such a poll for up
//! to [`LONG_POLL`] and answers as soon as a decision may have been made, instead of letting the
//! device sleep a human-sized `Retry-After` after the owner already approved.
//!
//! Decisions come from anywhere: `lantrust-server approve` (another process writing the same
//! database), the /admin endpoints, or a web console. So they are noticed at the store: a thread
//! looks at SQLite's `PRAGMA data_version` every [`CHECK_EVERY`] while a poll is held, and when
//! the database changed, at a digest of the decisions (`store::decisions_digest`), bumping a
//! generation counter when that changed; an in-process path that decides (the /admin endpoints)
//! also bumps it at once through [`ApprovalWake::notify`]. Nothing here knows who decided.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{self, StateDir};

/// Longest a poll of a resource awaiting approval is held: well under the HTTP timeouts of
/// common clients (lego 30 s, certbot 45 s, lantrust-device 30 s).
pub(crate) const LONG_POLL: Duration = Duration::from_secs(10);

/// How often the database is looked at while a poll is held.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(200);

/// The generation of owners' decisions: bumped whenever one may have been made.
#[derive(Debug)]
pub(crate) struct ApprovalWake {
    generation: watch::Sender<u64>,
}

impl ApprovalWake {
    /// Start watching the database of `state` (a thread that lives as long as the process and
    /// reads only while polls are held).
    pub(crate) fn spawn(state: StateDir) -> Arc<Self> {
        let wake = Arc::new(ApprovalWake {
            generation: watch::Sender::new(0),
        });
        let weak = Arc::downgrade(&wake);
        let spawned = std::thread::Builder::new()
            .name("approval-watch".into())
            .spawn(move || watch_db(&state, &weak));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the approval watcher; held polls wake at their deadline only");
        }
        wake
    }

    /// A decision was just made in this process: wake every held poll.
    pub(crate) fn notify(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A receiver that sees every decision made from now on (subscribe before handling the
    /// request whose answer may be held, so that none is missed in between).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

/// The watcher thread: while any poll is held, look at `data_version` every [`CHECK_EVERY`]
/// and at the decisions' digest when it moved. Ends when the [`ApprovalWake`] is dropped.
fn watch_db(state: &StateDir, wake: &std::sync::Weak<ApprovalWake>) {
    let conn = match state.open() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the approval watcher cannot open the database");
            return;
        }
    };
    // Taken before any poll is held, so that a decision made between a poll's handling and the
    // next look is seen as a change (a spurious wake costs a held poll one re-check).
    let mut version = store::data_version(&conn).ok().flatten();
    let mut digest = store::decisions_digest(&conn).ok();
    loop {
        std::thread::sleep(CHECK_EVERY);
        let Some(wake) = wake.upgrade() else {
            return;
        };
        if wake.generation.receiver_count() == 0 {
            continue;
        }
        // Without a version counter (PostgreSQL), the digest is read at every look.
        let v = match store::data_version(&conn) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "reading the database version failed");
                continue;
            }
        };
        if v.is_some() && version == v {
            continue;
        }
        version = v;
        match store::decisions_digest(&conn) {
            Ok(d) if digest != Some(d) => {
                tracing::debug!("an approval decision changed; waking held polls");
                wake.notify();
                digest = Some(d);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading the decisions failed"),
        }
    }
}
