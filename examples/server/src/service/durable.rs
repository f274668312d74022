//! Group commit for the SQLite write-ahead log: what an ACME response reports (RFC 8555 §7.1
//! resources) is on disk before it leaves, at one disk flush for many requests.
//!
//! `synchronous=FULL` makes SQLite `fsync` the WAL on every commit: about 4.5 ms each on this
//! class of disk, taken while the server core's lock is held, and an issuance commits about ten
//! times, so FULL alone caps the server at a few dozen issuances per second whatever the number
//! of cores. `serve` therefore runs its connections with `synchronous=NORMAL` (commits are
//! written to the WAL, in order, without waiting for the disk: a `kill -9` loses nothing, since
//! the data is in the kernel's page cache) and makes them durable *before answering* through
//! [`Durability::wait`]: one `fsync` of the WAL file covers every commit written before it
//! started, so concurrent requests share one disk flush instead of queueing behind ten each.
//! The guarantee a client sees is the one FULL gives: what a response reports is on disk.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

/// Waits until the WAL holds every commit made before the call, sharing `fsync`s between callers.
pub(crate) struct Durability {
    wal: PathBuf,
    state: Mutex<Round>,
    done: Condvar,
}

#[derive(Default)]
struct Round {
    /// Tickets handed out (one per [`Durability::wait`] call).
    requested: u64,
    /// Every ticket up to this one is durable.
    synced: u64,
    /// A flush is running.
    syncing: bool,
    /// The directory entry of the WAL was synced (once: the file lives as long as `serve`).
    dir_synced: bool,
}

impl Durability {
    /// For the database at `db` (its WAL is `db` + `-wal`).
    pub(crate) fn new(db: PathBuf) -> Self {
        let mut wal = db.into_os_string();
        wal.push("-wal");
        Durability {
            wal: PathBuf::from(wal),
            state: Mutex::new(Round::default()),
            done: Condvar::new(),
        }
    }

    /// Block until a WAL flush that *started after this call* has completed, so every commit
    /// this thread made before calling is on disk. One caller flushes for everybody waiting.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let poisoned = || io::Error::other("durability state poisoned");
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        st.requested += 1;
        let ticket = st.requested;
        loop {
            if st.synced >= ticket {
                return Ok(());
            }
            if st.syncing {
                st = self.done.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            // Flush for every ticket handed out so far (their commits precede their tickets).
            st.syncing = true;
            let upto = st.requested;
            let dir_synced = st.dir_synced;
            drop(st);
            let result = self.flush(!dir_synced);
            st = self.state.lock().map_err(|_| poisoned())?;
            st.syncing = false;
            if result.is_ok() {
                st.synced = st.synced.max(upto);
                st.dir_synced = true;
            }
            self.done.notify_all();
            result?;
        }
    }

    fn flush(&self, with_dir: bool) -> io::Result<()> {
        match File::open(&self.wal) {
            // fsync through a read-only descriptor flushes the file's dirty pages all the same.
            Ok(f) => {
                f.sync_data()?;
                if with_dir {
                    // A WAL created by this run is reachable after a power loss only once its
                    // directory entry is on disk too.
                    let dir = self
                        .wal
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or_else(|| Path::new("."));
                    File::open(dir)?.sync_all()?;
                }
                Ok(())
            }
            // No WAL: every commit was checkpointed into the database, which SQLite syncs.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_waiters_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        std::fs::write(dir.path().join("state.db-wal"), b"frames").unwrap();
        let d = Arc::new(Durability::new(db));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        d.wait().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let st = d.state.lock().unwrap();
        assert_eq!(st.requested, 16 * 20);
        assert_eq!(
            st.synced, st.requested,
            "every ticket was covered by a flush"
        );
        assert!(!st.syncing);
    }

    #[test]
    fn a_missing_wal_is_nothing_to_flush_and_other_errors_surface() {
        let dir = tempfile::tempdir().unwrap();
        Durability::new(dir.path().join("none.db")).wait().unwrap();
        // A WAL that cannot be opened for another reason (here a symlink loop) is an error.
        let link = dir.path().join("loop.db-wal");
        std::os::unix::fs::symlink(&link, &link).unwrap();
        let d = Durability::new(dir.path().join("loop.db"));
        assert!(d.wait().is_err(), "a symlink loop is reported");
        assert_eq!(
            d.state.lock().unwrap().synced,
            0,
            "a failed flush covers nothing"
        );
    }
}
