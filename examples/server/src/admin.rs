//! The §3.4.4 approval interface: `pending`, `list`, `approve`, `deny`, `revoke`. They work on the
//! SQLite database directly (WAL), so they take effect while `serve` runs: the server asks the
//! database on every poll of a waiting authorization.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::state::{self, StateDir};

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DecideArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The device ID (the leftmost label of its names, e.g. `thermostat-42`).
    id: String,
}

fn fmt_time(t: Option<u64>) -> String {
    t.map(|t| lantrust_acme::time::rfc3339(core::time::Duration::from_secs(t)))
        .unwrap_or_else(|| "-".into())
}

pub(crate) fn list(a: ListArgs, only_pending: bool) -> Result<ExitCode> {
    let st = StateDir::new(&a.state);
    let conn = st.open()?;
    let rows = state::approvals(&conn, only_pending)?;
    if a.json {
        if only_pending {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            let certs = state::certificates(&conn)?;
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"devices": rows, "certificates": certs})
                )?
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "{}",
            if only_pending {
                "no device is waiting for approval"
            } else {
                "no devices yet"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<9} {:<21} {:>5} {:>7}  NAMES",
        "DEVICE", "STATE", "REQUESTED", "CERTS", "REVOKED"
    );
    for r in &rows {
        println!(
            "{:<24} {:<9} {:<21} {:>5} {:>7}  {}",
            r.device_id,
            r.state,
            fmt_time(r.requested_at),
            r.certificates,
            r.revoked_certificates,
            r.names.join(",")
        );
    }
    if only_pending {
        println!(
            "approve with: lantrust-server approve --state {} DEVICE",
            a.state.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A device ID is a DNS label; an order for IP identifiers only is approved by the address text.
fn check_id(id: &str) -> Result<String> {
    if let Ok(ip) = id.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let id = id.to_ascii_lowercase();
    crate::check_label("device ID", &id)?;
    Ok(id)
}

pub(crate) fn decide(a: DecideArgs, decision: &str) -> Result<ExitCode> {
    let id = check_id(&a.id)?;
    let st = StateDir::new(&a.state);
    let conn = st.open()?;
    let before = state::decide(&conn, &id, decision)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"device_id": id, "state": decision, "previous": before})
        );
    } else {
        match (decision, before.as_deref()) {
            ("approved", None) => {
                println!(
                    "{id}: pre-approved (it has not asked yet; its first request will be issued)"
                )
            }
            ("approved", Some("pending")) => {
                println!(
                    "{id}: approved (the waiting client gets its certificate at its next poll)"
                )
            }
            (d, Some(b)) => println!("{id}: {b} -> {d}"),
            (d, None) => println!("{id}: {d}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn revoke(a: DecideArgs) -> Result<ExitCode> {
    let id = check_id(&a.id)?;
    let st = StateDir::new(&a.state);
    let mut conn = st.open()?;
    let n = state::revoke_device(&mut conn, &id)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"device_id": id, "state": "revoked", "certificates_revoked": n})
        );
    } else {
        println!(
            "{id}: approval revoked; {n} certificate(s) revoked (listed in /crl from now on); renewals are refused"
        );
    }
    Ok(ExitCode::SUCCESS)
}
