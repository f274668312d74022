//! `serve` follows ACME Renewal Information (RFC 9773): it asks the server when to renew its
//! certificate, on the server's `Retry-After` schedule kept between two bounds and jittered
//! (§4.3), and renews at a random time inside the suggested window (§4.2). A server whose
//! directory has no `renewalInfo` leaves the device on its own schedule (2/3 of the lifetime).

use std::time::Duration;

use anyhow::Context;
use lantrust_acme::Directory;
use lantrust_acme::ari::{RenewalAdvice, poll_interval, renewal_info_request};
use lantrust_acme::time::rfc3339;
use rand::RngCore;

use crate::state::State;

/// How often `serve` asks renewalInfo: the server's `Retry-After`, kept in `[min, max]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollBounds {
    /// Never more often than this (RFC 9773 §4.3 suggests not more than hourly in production).
    pub(crate) min: Duration,
    /// Never less often than this.
    pub(crate) max: Duration,
}

/// What the server said about the current certificate.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Renew at `renew_at` (unix seconds), picked in the window; ask again after `poll`.
    Renew {
        /// When to renew (unix seconds).
        renew_at: u64,
        /// When to ask again.
        poll: Duration,
    },
    /// The directory has no renewalInfo: keep the fixed schedule; look again after `poll`.
    NotOffered {
        /// When to look again (the server may gain ARI with an upgrade).
        poll: Duration,
    },
}

/// Ask the network `label`'s server about its current certificate, and log the decision.
/// `seed` (random, drawn once per `serve`) places the renewal time in the window, so that the
/// time stays put while the server keeps suggesting the same window.
pub(crate) fn ask(
    st: &State,
    label: &str,
    bounds: PollBounds,
    seed: u64,
) -> anyhow::Result<Answer> {
    let m = st.meta(label)?;
    let agent = crate::agent_for(st, label, &m)?;
    let dir: Directory = agent
        .get(&m.directory_url)
        .call()
        .context("fetching the ACME directory")?
        .into_json()
        .context("the ACME directory")?;
    let chain = std::fs::read_to_string(st.net_dir(label).join("chain.pem"))
        .context("reading chain.pem")?;
    let leaf = crate::chain_ders(&chain)?
        .into_iter()
        .next()
        .context("chain.pem holds no certificate")?;
    let mut rng = rand::rngs::OsRng;
    let Some(req) = renewal_info_request(&dir, &leaf).map_err(|e| anyhow::anyhow!("{e}"))? else {
        let poll = poll_interval(bounds.max, bounds.min, bounds.max, rng.next_u64());
        eprintln!(
            "ARI: the server offers no renewalInfo; renewing on the fixed schedule (2/3 of the lifetime)"
        );
        return Ok(Answer::NotOffered { poll });
    };
    let now = Duration::from_secs(lantrust_cli::unix_now());
    let resp = lantrust_cli::acme_http::exchange(&agent, &req)?;
    let advice = RenewalAdvice::from_response(&resp, now)
        .map_err(|e| anyhow::anyhow!("renewalInfo for serial {}: {e}", m.serial))?;
    let renew_at = advice.renew_at(seed);
    let poll = advice.poll_after(bounds.max, bounds.min, bounds.max, rng.next_u64());
    let when = if renew_at <= now {
        "now (the window has begun)".to_string()
    } else {
        rfc3339(renew_at)
    };
    eprintln!(
        "ARI: serial {} window {} .. {}{}; renewing at {when}; asking again in {}s",
        m.serial,
        rfc3339(advice.start),
        rfc3339(advice.end),
        advice
            .explanation_url
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default(),
        poll.as_secs()
    );
    Ok(Answer::Renew {
        renew_at: renew_at.as_secs(),
        poll,
    })
}
