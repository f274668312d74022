//! The §3.4.4 approval interface: `pending`, `list`, `approve`, `deny`, `revoke`. They work on the
//! SQLite database directly (WAL), so they take effect while `serve` runs: the server asks the
//! database on every poll of a waiting authorization. Local access to the state directory is the
//! authority (it must be private: see [`StateDir::check_private`]); with `--remote URL
//! --token-file FILE --root PEM` they use the server's token-protected /admin endpoints instead.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::store::{
    self, ApprovalRow, ApprovalState, CertRow, Decided, Decision, PendingRow, StateDir,
};

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

/// `approve`: what the approval binds (draft §3.4.4: the owner approves a device, which is
/// the ACME account key that asks for the ID).
#[derive(clap::Args, Debug)]
#[command(after_help = "What an approval binds:\n  \
  - a device that already asked: the account key that asked (shown by `pending`); renewals by\n    \
    that key are automatic, any other key asking for the ID waits as a key change;\n  \
  - `approve ID` before the device asks (pre-approval): the FIRST account that then asks;\n  \
  - `approve ID --account THUMBPRINT`: only that account key (before or after it asks);\n  \
  - a waiting key change (a different key asks for an approved ID: factory reset, or impostor):\n    \
    `approve ID` moves the binding to it when it is the only one waiting, `--account` picks one\n    \
    when several wait; `--revoke-old` also revokes the certificates issued to the old key.")]
pub(crate) struct ApproveArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Bind the approval to this account key only (its RFC 7638 JWK thumbprint, as `pending`
    /// shows it). Without it a pre-approval binds the first account that asks.
    #[arg(long, value_name = "THUMBPRINT", allow_hyphen_values = true)]
    pub(crate) account: Option<String>,
    /// When the binding moves to a new key, revoke every certificate issued for the ID so far
    /// (the old device's; reason superseded, listed in /crl).
    #[arg(long)]
    revoke_old: bool,
    /// The device ID (the leftmost label of its names, e.g. `thermostat-42`).
    id: String,
}

/// `deny`.
#[derive(clap::Args, Debug)]
pub(crate) struct DenyArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Refuse only this account key (RFC 7638 thumbprint). Without it: the waiting key changes
    /// of an approved ID are refused and its approved key keeps it; any other ID is denied.
    #[arg(long, value_name = "THUMBPRINT", allow_hyphen_values = true)]
    pub(crate) account: Option<String>,
    /// The device ID.
    id: String,
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
    if only_pending {
        let rows: Vec<PendingRow> = match Remote::new(&a.target)? {
            Some(r) => serde_json::from_value(r.call("GET", "/admin/pending")?)?,
            None => store::pending_requests(&local(&a.target)?.open()?)?,
        };
        return print_pending(&a, &rows);
    }
    let (rows, certs): (Vec<ApprovalRow>, Vec<CertRow>) = match Remote::new(&a.target)? {
        Some(r) => {
            let v = r.call("GET", "/admin/devices")?;
            (
                serde_json::from_value(v["devices"].clone())?,
                serde_json::from_value(v["certificates"].clone())?,
            )
        }
        None => {
            let conn = local(&a.target)?.open()?;
            (store::approvals(&conn, false)?, store::certificates(&conn)?)
        }
    };
    if a.json {
        lantrust_cli::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"devices": rows, "certificates": certs})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        lantrust_cli::outln!("no devices yet");
        return Ok(ExitCode::SUCCESS);
    }
    lantrust_cli::outln!(
        "{:<24} {:<9} {:<21} {:>5} {:>7}  NAMES",
        "DEVICE",
        "STATE",
        "REQUESTED",
        "CERTS",
        "REVOKED"
    );
    for r in &rows {
        lantrust_cli::outln!(
            "{:<24} {:<9} {:<21} {:>5} {:>7}  {}",
            r.device_id,
            r.state,
            fmt_time(r.requested_at),
            r.certificates,
            r.revoked_certificates,
            r.names.join(",")
        );
        if r.binding == "first_asker" {
            lantrust_cli::outln!("    bound to: the first account that asks (pre-approved)");
        }
        for q in &r.requesters {
            print_requester("    ", q);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn print_requester(indent: &str, q: &store::RequesterRow) {
    lantrust_cli::outln!("{indent}account {} ({})", q.account, q.status);
    lantrust_cli::outln!(
        "{indent}  from {} mac {}  first seen {}  last seen {}",
        opt(&q.ip),
        opt(&q.mac),
        fmt_time(Some(q.first_seen)),
        fmt_time(Some(q.last_seen))
    );
    if q.csr_key_type.is_some() {
        lantrust_cli::outln!(
            "{indent}  CSR key {}  SPKI SHA-256 {}",
            opt(&q.csr_key_type),
            opt(&q.csr_spki_sha256)
        );
    }
}

fn print_pending(a: &ListArgs, rows: &[PendingRow]) -> Result<ExitCode> {
    if a.json {
        lantrust_cli::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        lantrust_cli::outln!("no device is waiting for approval");
        return Ok(ExitCode::SUCCESS);
    }
    for r in rows {
        let tag = if r.kind == "key_change" {
            "KEY CHANGE"
        } else {
            "NEW DEVICE"
        };
        lantrust_cli::outln!("{} [{tag}] {}", r.device_id, r.message);
        lantrust_cli::outln!("  names: {}", r.requester.names.join(", "));
        print_requester("  ", &r.requester);
        if let Some(b) = &r.bound_account {
            lantrust_cli::outln!("  bound key now: {b}");
        }
        let hint = state_hint(&a.target);
        if r.kind == "key_change" {
            lantrust_cli::outln!(
                "  approve (moves the binding): lantrust-server approve {hint} {} --account {} [--revoke-old]",
                r.device_id,
                r.requester.account
            );
            lantrust_cli::outln!(
                "  refuse (the bound key keeps it): lantrust-server deny {hint} {} --account {}",
                r.device_id,
                r.requester.account
            );
        } else {
            lantrust_cli::outln!(
                "  approve with: lantrust-server approve {hint} {} --account {}",
                r.device_id,
                r.requester.account
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An RFC 7638 thumbprint as printed: 43 base64url characters (SHA-256).
pub(crate) fn check_thumbprint(t: &str) -> Result<String> {
    let ok = t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        bail!(
            "{t:?} is not an account key thumbprint (RFC 7638: 43 base64url characters, as `pending` shows it)"
        );
    }
    Ok(t.to_string())
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

pub(crate) fn approve(a: ApproveArgs) -> Result<ExitCode> {
    let d = Decision {
        state: ApprovalState::Approved,
        account: a.account.as_deref().map(check_thumbprint).transpose()?,
        revoke_old: a.revoke_old,
    };
    decide(&a.target, a.json, &a.id, &d)
}

pub(crate) fn deny(a: DenyArgs) -> Result<ExitCode> {
    let d = Decision {
        state: ApprovalState::Denied,
        account: a.account.as_deref().map(check_thumbprint).transpose()?,
        revoke_old: false,
    };
    decide(&a.target, a.json, &a.id, &d)
}

/// The /admin path of a decision: `/admin/devices/ID/ACTION[/account/T][/revoke-old]`.
pub(crate) fn decision_path(id: &str, d: &Decision) -> Result<String> {
    let action = match d.state {
        ApprovalState::Approved => "approve",
        ApprovalState::Denied => "deny",
        other => bail!("unknown decision {other}"),
    };
    let mut p = format!("/admin/devices/{id}/{action}");
    if let Some(t) = &d.account {
        p.push_str(&format!("/account/{t}"));
    }
    if d.revoke_old {
        p.push_str("/revoke-old");
    }
    Ok(p)
}

fn decide(target: &Target, json: bool, id: &str, d: &Decision) -> Result<ExitCode> {
    let id = check_id(id)?;
    let done: Decided = match Remote::new(target)? {
        Some(r) => serde_json::from_value(r.call("POST", &decision_path(&id, d)?)?)?,
        None => store::decide_with(&local(target)?.open()?, &id, d, store::now())?,
    };
    if json {
        let mut v = serde_json::to_value(&done)?;
        v["device_id"] = Value::String(id);
        lantrust_cli::outln!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    let key = |k: &Option<String>| match k {
        Some(k) => format!("account key {k}"),
        None => "the first account that asks".to_string(),
    };
    match (d.state, done.previous) {
        _ if !done.denied_accounts.is_empty() => lantrust_cli::outln!(
            "{id}: refused the key change from {}; {} keeps it",
            done.denied_accounts.join(", "),
            key(&done.account)
        ),
        _ if done.replaced_account.is_some() => {
            lantrust_cli::outln!(
                "{id}: approved; the binding moved from {} to {} (the new key gets its certificate at its next poll; the old key's renewals are refused)",
                key(&done.replaced_account),
                key(&done.account)
            );
            if d.revoke_old {
                lantrust_cli::outln!(
                    "{id}: {} certificate(s) of the old key revoked (listed in /crl)",
                    done.certificates_revoked
                );
            }
        }
        (ApprovalState::Approved, None) => lantrust_cli::outln!(
            "{id}: pre-approved for {} (it has not asked yet; that request will be issued)",
            key(&done.account)
        ),
        (ApprovalState::Approved, Some(ApprovalState::Pending)) => lantrust_cli::outln!(
            "{id}: approved for {} (the waiting client gets its certificate at its next poll)",
            key(&done.account)
        ),
        (s, Some(b)) => lantrust_cli::outln!("{id}: {b} -> {s}"),
        (s, None) => lantrust_cli::outln!("{id}: {s}"),
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
        None => store::revoke_device(&local(&a.target)?.open()?, &id, store::now())?,
    };
    if a.json {
        lantrust_cli::outln!(
            "{}",
            serde_json::json!({"device_id": id, "state": "revoked", "certificates_revoked": n})
        );
    } else {
        lantrust_cli::outln!(
            "{id}: approval revoked; {n} certificate(s) revoked (listed in /crl from now on); renewals are refused"
        );
    }
    Ok(ExitCode::SUCCESS)
}
