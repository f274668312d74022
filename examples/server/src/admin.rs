//! The §3.4.4 approval interface: `pending`, `list`, `approve`, `deny`, `revoke`. They work on the
//! SQLite database directly (WAL), so they take effect while `serve` runs: the server asks the
//! database on every poll of a waiting authorization. Local access to the state directory is the
//! authority (it must be private: see [`StateDir::check_private`]); with `--remote URL
//! --token-file FILE --root PEM` they use the server's token-protected /admin endpoints instead.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::store::{self, ApprovalRow, ApprovalState, CertRow, StateDir};

/// Where the approvals live: the state directory, or a server's /admin endpoints.
#[derive(clap::Args, Debug)]
pub(crate) struct Target {
    /// State directory (from `init`); it must be private (directory 0700, keys 0600).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "remote",
        conflicts_with = "remote"
    )]
    state: Option<PathBuf>,
    /// Use a running server's HTTP admin endpoints instead of the state directory, e.g.
    /// `https://router.home.arpa` (the origin `serve` answers on).
    #[arg(long, value_name = "URL", requires_all = ["token_file", "root"])]
    remote: Option<String>,
    /// File holding the admin token (a copy of the server's STATE/admin-token, mode 0600).
    #[arg(long, value_name = "FILE", requires = "remote")]
    token_file: Option<PathBuf>,
    /// The network root (PEM, e.g. the server's STATE/root.pem or /roots.pem) that the server's
    /// HTTPS certificate must chain to.
    #[arg(long, value_name = "PEM", requires = "remote")]
    root: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DecideArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The device ID (the leftmost label of its names, e.g. `thermostat-42`).
    id: String,
}

/// A server's /admin endpoints.
struct Remote {
    base: String,
    token: zeroize::Zeroizing<String>,
    agent: ureq::Agent,
}

impl Remote {
    fn new(t: &Target) -> Result<Option<Self>> {
        let (Some(url), Some(token_file), Some(root)) = (&t.remote, &t.token_file, &t.root) else {
            return Ok(None);
        };
        let token = store::read_token(token_file)?;
        let pem = std::fs::read(root).with_context(|| format!("reading {}", root.display()))?;
        let roots = lantrust_cli::pem_certs(&pem)
            .with_context(|| format!("{} holds no PEM certificate", root.display()))?;
        if roots.is_empty() {
            bail!("{} holds no PEM certificate", root.display());
        }
        let agent = lantrust_cli::tls::agent(&roots, &[])?;
        Ok(Some(Remote {
            base: url.trim_end_matches('/').to_string(),
            token,
            agent,
        }))
    }

    fn call(&self, method: &str, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = zeroize::Zeroizing::new(format!("Bearer {}", self.token.as_str()));
        let r = self
            .agent
            .request(method, &url)
            .set("Authorization", &auth)
            .call();
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                let why = body["error"].as_str().unwrap_or("no detail").to_string();
                if status == 401 {
                    bail!(
                        "{url}: the server refused the admin token (401: {why}); --token-file must hold a copy of the server's STATE/admin-token"
                    );
                }
                bail!("{url}: HTTP {status}: {why}");
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{method} {url}"))),
        };
        resp.into_json()
            .with_context(|| format!("{url}: the answer is not JSON"))
    }
}

/// The local state directory, after checking it is private.
fn local(t: &Target) -> Result<StateDir> {
    let Some(dir) = &t.state else {
        bail!("give --state DIR, or --remote URL --token-file FILE --root PEM");
    };
    let st = StateDir::new(dir);
    st.check_private()?;
    Ok(st)
}

fn state_hint(t: &Target) -> String {
    match (&t.state, &t.remote) {
        (Some(d), _) => format!("--state {}", d.display()),
        (None, Some(r)) => format!("--remote {r} --token-file FILE --root PEM"),
        (None, None) => String::new(),
    }
}

fn fmt_time(t: Option<u64>) -> String {
    t.map(|t| lantrust_acme::time::rfc3339(core::time::Duration::from_secs(t)))
        .unwrap_or_else(|| "-".into())
}

pub(crate) fn list(a: ListArgs, only_pending: bool) -> Result<ExitCode> {
    let (rows, certs): (Vec<ApprovalRow>, Vec<CertRow>) = match Remote::new(&a.target)? {
        Some(r) if only_pending => (
            serde_json::from_value(r.call("GET", "/admin/pending")?)?,
            vec![],
        ),
        Some(r) => {
            let v = r.call("GET", "/admin/devices")?;
            (
                serde_json::from_value(v["devices"].clone())?,
                serde_json::from_value(v["certificates"].clone())?,
            )
        }
        None => {
            let conn = local(&a.target)?.open()?;
            let rows = store::approvals(&conn, only_pending)?;
            let certs = if only_pending {
                vec![]
            } else {
                store::certificates(&conn)?
            };
            (rows, certs)
        }
    };
    if a.json {
        if only_pending {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
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
            "approve with: lantrust-server approve {} DEVICE",
            state_hint(&a.target)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A device ID is a DNS label; an order for IP identifiers only is approved by the address text.
pub(crate) fn check_id(id: &str) -> Result<String> {
    if let Ok(ip) = id.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let id = id.to_ascii_lowercase();
    crate::check_label("device ID", &id)?;
    Ok(id)
}

pub(crate) fn decide(a: DecideArgs, decision: ApprovalState) -> Result<ExitCode> {
    let id = check_id(&a.id)?;
    let before = match Remote::new(&a.target)? {
        Some(r) => {
            let action = match decision {
                ApprovalState::Approved => "approve",
                ApprovalState::Denied => "deny",
                other => bail!("unknown decision {other}"),
            };
            let v = r.call("POST", &format!("/admin/devices/{id}/{action}"))?;
            serde_json::from_value(v["previous"].clone())?
        }
        None => store::decide(&local(&a.target)?.open()?, &id, decision, store::now())?,
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({"device_id": id, "state": decision, "previous": before})
        );
    } else {
        match (decision, before) {
            (ApprovalState::Approved, None) => {
                println!(
                    "{id}: pre-approved (it has not asked yet; its first request will be issued)"
                )
            }
            (ApprovalState::Approved, Some(ApprovalState::Pending)) => {
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
    let n = match Remote::new(&a.target)? {
        Some(r) => {
            let v = r.call("POST", &format!("/admin/devices/{id}/revoke"))?;
            v["certificates_revoked"]
                .as_u64()
                .context("the server's answer lacks certificates_revoked")? as usize
        }
        None => store::revoke_device(&mut local(&a.target)?.open()?, &id, store::now())?,
    };
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
