//! Drives the sans-IO ACME client over ureq, serves http-01, prints progress while waiting.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use lantrust_acme::client::{ChallengeToServe, Client, Event};
use lantrust_cli::acme_http::{self, exchange};

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// http-01 responder (RFC 8555 §8.3), the shared one of lantrust-cli. Dropping it stops the
/// listener and frees the port (renewals bind it again).
pub(crate) struct Http01(acme_http::Http01);

impl Http01 {
    pub(crate) fn start(listen: SocketAddr) -> anyhow::Result<Self> {
        acme_http::Http01::start(listen, Duration::from_secs(10))
            .map(Self)
            .context("starting the http-01 responder (use --http01-listen)")
    }

    fn publish(&self, list: &[ChallengeToServe]) {
        for c in list {
            self.0.publish(&c.token, &c.value);
        }
    }
}

/// Runs `client` to completion. Waits (Retry-After or the client's poll interval) are reported
/// on stderr, since the first issuance waits for a human to approve it (§3.4.4).
pub(crate) fn drive(
    client: &mut Client,
    agent: &ureq::Agent,
    http01: Option<&Http01>,
    limit: Duration,
) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let start = Instant::now();
    let mut challenges_out = false;
    let mut waits = 0u32;
    while !client.is_done() {
        if start.elapsed() > limit {
            bail!(
                "gave up after {:?} (still waiting: is the request approved on the server?)",
                limit
            );
        }
        if let Some(req) = client.poll_request() {
            let sent = Instant::now();
            let resp = exchange(agent, &req)?;
            // The server may hold a poll until the owner decides (issue 18: it answers as soon as
            // the approval is given): show that wait as the others are shown.
            if challenges_out && sent.elapsed() >= Duration::from_secs(1) {
                waits += 1;
                eprintln!(
                    "… waiting for the server to validate and approve (§3.4.4: an administrator runs `approve`); {}s elapsed, the server held the request {:.1}s (#{waits})",
                    start.elapsed().as_secs(),
                    sent.elapsed().as_secs_f32()
                );
            }
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            match &ev {
                Event::AccountReady { url, created } => {
                    eprintln!(
                        "account {} ({url})",
                        if *created { "created" } else { "found" }
                    );
                }
                Event::OrderCreated { url } => eprintln!("order created ({url})"),
                Event::ServeChallenges(list) => {
                    let Some(h) = http01 else {
                        bail!("the server asks for challenges but no http-01 responder is running");
                    };
                    h.publish(list);
                    for c in list {
                        eprintln!(
                            "serving {:?} challenge for {} on http://{}/.well-known/acme-challenge/{}",
                            c.kind,
                            c.identifier.value,
                            h.0.addr(),
                            c.token
                        );
                    }
                    challenges_out = true;
                    client.challenges_ready();
                }
                Event::Failed(e) => bail!("ACME failed: {e}"),
                _ => {}
            }
            events.push(ev);
        }
        if let Some(at) = client.poll_timeout() {
            let n = now();
            let wait = at.saturating_sub(n);
            waits += 1;
            let what = if challenges_out {
                "waiting for the server to validate and approve (§3.4.4: an administrator runs `approve`)"
            } else {
                "waiting for the server"
            };
            eprintln!(
                "… {what}; {}s elapsed, next check in {:.1}s (#{waits})",
                start.elapsed().as_secs(),
                wait.as_secs_f32()
            );
            std::thread::sleep(wait);
            client.handle_timeout(now());
        }
    }
    while let Some(ev) = client.poll_event() {
        if let Event::Failed(e) = &ev {
            bail!("ACME failed: {e}");
        }
        events.push(ev);
    }
    Ok(events)
}
