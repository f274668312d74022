//! Replay nonces (RFC 8555 §6.5) shared by the replicas of a PostgreSQL store: a nonce one
//! replica issued is good once at any of them, and never twice (issue 19). SQLite stores keep
//! lantrust-acme's in-memory book: one host, and a nonce from another replica is answered with
//! `badNonce`, which clients retry.

use std::time::Duration;

use lantrust_acme::server::NonceBook;

use super::db::{Db, params};

/// How long a shared nonce stays good: a client uses it in its next request, seconds later.
const NONCE_LIFETIME: Duration = Duration::from_secs(3600);

/// Expired nonces are deleted once every this many issued.
const PURGE_EVERY: u32 = 1000;

/// The `nonces` table as a [`NonceBook`], on a connection of its own.
pub(crate) struct SharedNonces {
    db: Db,
    issued: u32,
}

impl SharedNonces {
    pub(crate) fn new(db: Db) -> Self {
        SharedNonces { db, issued: 0 }
    }
}

impl NonceBook for SharedNonces {
    fn insert(&mut self, nonce: &str, now: Duration) {
        let expires = now.saturating_add(NONCE_LIFETIME).as_secs() as i64;
        if let Err(e) = self.db.execute(
            "INSERT INTO nonces (value, expires) VALUES (?1, ?2) ON CONFLICT (value) DO NOTHING",
            params![nonce, expires],
        ) {
            tracing::error!(error = %format!("{e:#}"), "database: recording a nonce failed (its client will get badNonce and retry)");
        }
        self.issued = self.issued.wrapping_add(1);
        if self.issued % PURGE_EVERY == 0
            && let Err(e) = self.db.execute(
                "DELETE FROM nonces WHERE expires <= ?1",
                params![now.as_secs() as i64],
            )
        {
            tracing::warn!(error = %format!("{e:#}"), "database: forgetting expired nonces failed");
        }
    }

    /// One statement deletes the nonce and says whether it was there: of two replicas given the
    /// same nonce at once, exactly one gets the row back.
    fn consume(&mut self, nonce: &str, now: Duration) -> bool {
        match self.db.query(
            "DELETE FROM nonces WHERE value = ?1 AND expires > ?2 RETURNING value",
            params![nonce, now.as_secs() as i64],
        ) {
            Ok(rows) => !rows.is_empty(),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "database: consuming a nonce failed (answered badNonce)");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pg_tests::pg_state;

    #[test]
    fn a_nonce_is_single_use_across_connections() {
        let Some((_pg, _dir, st)) = pg_state() else {
            return;
        };
        let now = Duration::from_secs(1_800_000_000);
        let (mut a, mut b) = (
            SharedNonces::new(st.open().unwrap()),
            SharedNonces::new(st.open().unwrap()),
        );
        a.insert("n1", now);
        assert!(b.consume("n1", now), "issued by A, good at B");
        assert!(!a.consume("n1", now), "and then nowhere");
        assert!(!b.consume("n1", now));
        assert!(!b.consume("never-issued", now));
        a.insert("n2", now);
        assert!(!b.consume("n2", now + NONCE_LIFETIME), "expired");

        // Two threads, each on its own connection, race for the same nonces: each is taken
        // exactly once.
        for i in 0..200 {
            a.insert(&format!("r{i}"), now);
        }
        let race = |mut n: SharedNonces| {
            std::thread::spawn(move || {
                (0..200)
                    .filter(|i| n.consume(&format!("r{i}"), now))
                    .count()
            })
        };
        let (ta, tb) = (race(a), race(b));
        assert_eq!(ta.join().unwrap() + tb.join().unwrap(), 200);
    }
}
