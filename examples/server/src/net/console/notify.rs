//! `serve --notify-url URL`: a webhook called once for each request that starts waiting for the
//! owner (draft §3.4.4), so the owner learns of it without watching the console.
//!
//! A watcher task looks at the waiting requests every [`SCAN`]; each new (device ID, account
//! key) pair is POSTed as a small JSON object, fire-and-forget with a [`TIMEOUT`]. It runs beside
//! the ACME path and never in it: a slow or dead webhook delays no request.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Console;
use crate::store::{self, PendingRow};

/// How often the waiting requests are looked at.
pub(crate) const SCAN: Duration = Duration::from_secs(1);
/// The longest one webhook call may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// The webhook's body for one waiting request.
pub(crate) fn body(row: &PendingRow, vendor: Option<String>) -> Value {
    let q = &row.requester;
    json!({
        "event": "approval_pending",
        "device_id": row.device_id,
        "names": q.names,
        "ip": q.ip,
        "mac": q.mac,
        "vendor": vendor,
        "key_change": row.kind == "key_change",
        "account": q.account,
        "first_seen": q.first_seen,
    })
}

/// Check `--notify-url`.
pub(crate) fn check_url(url: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "--notify-url {url:?}: must be an http:// or https:// URL"
    );
    Ok(())
}

/// Start the watcher that calls `url` for each new waiting request. The requests already
/// waiting when it starts were announced before (or will be seen in the console): not again.
pub(crate) fn spawn_watcher(console: Arc<Console>, url: String) {
    tokio::spawn(async move {
        let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
        let mut known: Option<HashSet<(String, String)>> = None;
        loop {
            let c = console.clone();
            let scan = tokio::task::spawn_blocking(move || {
                let conn = c.state.open()?;
                let rows = store::pending_requests(&conn)?;
                Ok::<_, anyhow::Error>(
                    rows.into_iter()
                        .map(|r| {
                            let v = r.requester.mac.as_deref().map(|m| c.oui.lookup(m).label());
                            (r, v)
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .await;
            match scan {
                Ok(Ok(rows)) => {
                    let now: HashSet<(String, String)> = rows
                        .iter()
                        .map(|(r, _)| (r.device_id.clone(), r.requester.account.clone()))
                        .collect();
                    if let Some(before) = &known {
                        for (r, vendor) in &rows {
                            let key = (r.device_id.clone(), r.requester.account.clone());
                            if before.contains(&key) {
                                continue;
                            }
                            let (agent, url, b) =
                                (agent.clone(), url.clone(), body(r, vendor.clone()));
                            let device = r.device_id.clone();
                            // Fire and forget: the scan goes on while the call runs.
                            tokio::task::spawn_blocking(move || {
                                match agent.post(&url).send_json(b) {
                                    Ok(_) => {
                                        tracing::info!(device = %device, "notified the webhook of a waiting device")
                                    }
                                    Err(e) => {
                                        tracing::warn!(device = %device, error = %e, "the --notify-url webhook failed")
                                    }
                                }
                            });
                        }
                    } else if !now.is_empty() {
                        tracing::info!(
                            waiting = now.len(),
                            "requests already waiting at start: not notified again"
                        );
                    }
                    known = Some(now);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %format!("{e:#}"), "reading the waiting requests failed");
                }
                Err(e) => tracing::error!(error = %e, "the notify scan failed"),
            }
            tokio::time::sleep(SCAN).await;
        }
    });
}
