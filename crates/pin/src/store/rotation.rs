//! Planned root rotation in the pin store (§4.8): a root change vouched for by a link
//! certificate from the pinned root ([`crate::check_rotation_links`]) is re-pinned without the
//! attack alert; any other change stays [`Decision::RootChanged`].

use super::PinStore;
use super::decide::{Candidate, Decision, Observation};
use crate::Error;
use crate::link::check_rotation_links;

impl PinStore {
    /// [`PinStore::decide`], with the link certificates the network's server publishes
    /// (DER, e.g. from its `/roots/link.pem`). When the root changed and `links` lead from
    /// the pinned root to the offered one, the decision is [`Decision::PlannedRotation`];
    /// otherwise it is exactly what [`PinStore::decide`] says (an unsigned change stays
    /// [`Decision::RootChanged`]: call [`crate::check_rotation_links`] to say why). Pure.
    pub fn decide_with_links(&self, obs: &Observation<'_>, links: &[&[u8]], now: u64) -> Decision {
        match self.decide(obs, now) {
            Decision::RootChanged { old, new } => {
                match check_rotation_links(old.der(), new.root().der(), links, now) {
                    Ok(links) => Decision::PlannedRotation { old, new, links },
                    Err(_) => Decision::RootChanged { old, new },
                }
            }
            other => other,
        }
    }

    /// Re-pins a network after a [`Decision::PlannedRotation`]: the new root replaces the old
    /// one for the same network identity, which keeps its first-seen time (the network did not
    /// change, only its root). Returns the SPKI SHA-256 of the root it replaced.
    ///
    /// # Errors
    /// [`Error::StaleCandidate`] if the network's pin changed since the decision.
    pub fn accept_rotation(
        &mut self,
        candidate: Candidate,
        now: u64,
    ) -> Result<Option<[u8; 32]>, Error> {
        let fp = candidate.network().fingerprint();
        let first_seen = self.body.networks.get(&fp).map(|p| p.first_seen);
        let replaced = self.accept(candidate, now)?;
        if let (Some(first), Some(pin)) = (first_seen, self.body.networks.get_mut(&fp)) {
            pin.first_seen = first;
        }
        Ok(replaced)
    }
}
