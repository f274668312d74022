//! Replay nonces (RFC 8555 §6.5, §7.2).

use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::String;

use rand_core::CryptoRngCore;

use crate::b64;

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
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        let n = b64::encode(&raw);
        while self.live.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(n.clone());
        self.live.insert(n.clone());
        n
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
