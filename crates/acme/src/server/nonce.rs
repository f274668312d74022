//! Replay nonces (RFC 8555 §6.5, §7.2).

use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::String;
use core::time::Duration;

use rand_core::CryptoRngCore;

use crate::b64;

/// Where a server core keeps its outstanding nonces (RFC 8555 §6.5). [`NonceStore`], in the
/// process's memory, is the default. Servers that answer for one directory together (replicas
/// behind SRV records, sharing their records) can share a book through their database instead
/// ([`Server::with_nonce_book`](super::Server::with_nonce_book)), so that a nonce one of them
/// issued is good once at any of them, and never twice.
pub trait NonceBook: Send {
    /// Record `nonce`, issued at `now` in a response. A book that cannot record it (its
    /// database is down) drops it: the client then gets `badNonce` and retries (§6.5).
    fn insert(&mut self, nonce: &str, now: Duration);
    /// Consume `nonce` at `now`: true if it was outstanding, and false for it ever after.
    fn consume(&mut self, nonce: &str, now: Duration) -> bool;
    /// Outstanding nonces, where the book knows (for `Debug`).
    fn outstanding(&self) -> Option<usize> {
        None
    }
}

/// A fresh nonce: 128 random bits, base64url.
pub(super) fn fresh(rng: &mut impl CryptoRngCore) -> String {
    let mut raw = [0u8; 16];
    rng.fill_bytes(&mut raw);
    b64::encode(&raw)
}

/// Single-use nonces in a bounded store: issuing beyond capacity forgets the oldest (whose
/// owner then gets `badNonce` and retries, RFC 8555 §6.5).
#[derive(Clone, Debug)]
pub struct NonceStore {
    order: VecDeque<String>,
    live: BTreeSet<String>,
    capacity: usize,
}

impl NonceStore {
    /// A store holding at most `capacity` outstanding nonces.
    pub fn new(capacity: usize) -> Self {
        NonceStore {
            order: VecDeque::new(),
            live: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Issue a fresh nonce (128 random bits, base64url).
    pub fn issue(&mut self, rng: &mut impl CryptoRngCore) -> String {
        let n = fresh(rng);
        self.remember(n.clone());
        n
    }

    fn remember(&mut self, n: String) {
        while self.live.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(n.clone());
        self.live.insert(n);
    }

    /// Consume a nonce; true if it was outstanding.
    pub fn consume(&mut self, nonce: &str) -> bool {
        // The VecDeque entry stays until it ages out; `live` is the source of truth.
        self.live.remove(nonce)
    }

    /// Outstanding nonces.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no nonce is outstanding.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

impl NonceBook for NonceStore {
    fn insert(&mut self, nonce: &str, _now: Duration) {
        self.remember(nonce.into());
    }

    fn consume(&mut self, nonce: &str, _now: Duration) -> bool {
        NonceStore::consume(self, nonce)
    }

    fn outstanding(&self) -> Option<usize> {
        Some(self.len())
    }
}
