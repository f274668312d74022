//! Approvals (draft §3.4.4) and the sources of waiting orders (the pending-order caps).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A device's approval state (draft §3.4.4), as stored in `approvals.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ApprovalState {
    /// Asked, waiting for a human.
    Pending,
    /// Approved (also before it asked: pre-approval); renewals pass until revoked.
    Approved,
    /// Refused.
    Denied,
    /// Approval taken back; its certificates were revoked with it.
    Revoked,
}

impl ApprovalState {
    /// The stored (and printed) name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Revoked => "revoked",
        }
    }

    fn from_sql(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        use rusqlite::types::FromSqlError;
        match v.as_str()? {
            "pending" => Ok(ApprovalState::Pending),
            "approved" => Ok(ApprovalState::Approved),
            "denied" => Ok(ApprovalState::Denied),
            "revoked" => Ok(ApprovalState::Revoked),
            other => Err(FromSqlError::Other(
                format!("unknown approval state {other:?}").into(),
            )),
        }
    }
}

impl rusqlite::types::FromSql for ApprovalState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        ApprovalState::from_sql(v)
    }
}

impl rusqlite::ToSql for ApprovalState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// An approval row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ApprovalRow {
    pub(crate) device_id: String,
    pub(crate) state: ApprovalState,
    pub(crate) names: Vec<String>,
    pub(crate) account: Option<String>,
    pub(crate) requested_at: Option<u64>,
    pub(crate) decided_at: Option<u64>,
    pub(crate) certificates: u64,
    pub(crate) revoked_certificates: u64,
}

pub(crate) fn approvals(conn: &Connection, only_pending: bool) -> Result<Vec<ApprovalRow>> {
    let sql = format!(
        "SELECT a.device_id, a.state, a.names, a.account, a.requested_at, a.decided_at,
                (SELECT COUNT(*) FROM certificates c WHERE c.device_id = a.device_id),
                (SELECT COUNT(*) FROM certificates c JOIN revocations r ON r.cert_id = c.id
                 WHERE c.device_id = a.device_id)
         FROM approvals a {} ORDER BY a.device_id",
        if only_pending {
            "WHERE a.state = 'pending'"
        } else {
            ""
        }
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        let names: String = r.get(2)?;
        Ok(ApprovalRow {
            device_id: r.get(0)?,
            state: r.get(1)?,
            names: names
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            account: r.get(3)?,
            requested_at: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
            decided_at: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
            certificates: r.get::<_, i64>(6)? as u64,
            revoked_certificates: r.get::<_, i64>(7)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn approval_state(conn: &Connection, device_id: &str) -> Result<Option<ApprovalState>> {
    Ok(conn
        .query_row(
            "SELECT state FROM approvals WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Record that `device_id` asked (first time: pending). Returns the current state.
pub(crate) fn request_approval(
    conn: &Connection,
    device_id: &str,
    name: &str,
    account: &str,
    auto_approve: bool,
    now: Duration,
) -> Result<ApprovalState> {
    let now = now.as_secs() as i64;
    let initial = if auto_approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Pending
    };
    conn.execute(
        "INSERT INTO approvals (device_id, state, names, account, requested_at, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?2 = 'approved' THEN ?5 END)
         ON CONFLICT (device_id) DO UPDATE SET
            names = CASE WHEN instr(',' || names || ',', ',' || ?3 || ',') > 0 THEN names
                         WHEN names = '' THEN ?3 ELSE names || ',' || ?3 END,
            account = COALESCE(account, ?4),
            requested_at = COALESCE(requested_at, ?5)",
        params![device_id, initial, name, account, now],
    )?;
    Ok(approval_state(conn, device_id)?.unwrap_or(initial))
}

/// Set a decision (`approved`, `denied`, `revoked`), creating the row when the device has not
/// asked yet (pre-approval). Returns the previous state.
pub(crate) fn decide(
    conn: &Connection,
    device_id: &str,
    state: ApprovalState,
    now: Duration,
) -> Result<Option<ApprovalState>> {
    let before = approval_state(conn, device_id)?;
    conn.execute(
        "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET state = ?2, decided_at = ?3",
        params![device_id, state, now.as_secs() as i64],
    )?;
    Ok(before)
}

/// Revoke the approval and every unrevoked certificate of the device (one transaction).
/// Returns the number of certificates revoked now.
pub(crate) fn revoke_device(
    conn: &mut Connection,
    device_id: &str,
    now: Duration,
) -> Result<usize> {
    let tx = conn.transaction()?;
    let now = now.as_secs() as i64;
    tx.execute(
        "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, 'revoked', ?2)
         ON CONFLICT (device_id) DO UPDATE SET state = 'revoked', decided_at = ?2",
        params![device_id, now],
    )?;
    // Reason 9: privilegeWithdrawn (RFC 5280 §5.3.1), the approval was taken back.
    let n = tx.execute(
        "INSERT INTO revocations (cert_id, serial, reason, revoked_at)
         SELECT c.id, c.serial, 9, ?2 FROM certificates c
         WHERE c.device_id = ?1 AND c.id NOT IN (SELECT cert_id FROM revocations)",
        params![device_id, now],
    )?;
    tx.commit()?;
    Ok(n)
}

// -------------------------------------------------------------------------------------------
// Sources of orders (abuse limits)

/// Remember which source address created `order_id` (for the pending-order caps).
pub(crate) fn record_order_source(
    conn: &Connection,
    order_id: &str,
    source: IpAddr,
    device_id: &str,
    expires: u64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO order_sources (order_id, source, device_id, expires) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_id) DO NOTHING",
        params![order_id, source.to_string(), device_id, expires as i64],
    )?;
    Ok(())
}

/// Orders waiting for a human (§3.4.4): still `pending`, not expired, and their device neither
/// approved nor denied. Returns (from `source`, in total). Forgets expired rows on the way.
pub(crate) fn pending_orders(conn: &Connection, source: IpAddr, now: u64) -> Result<(u64, u64)> {
    conn.execute(
        "DELETE FROM order_sources WHERE expires <= ?1",
        [now as i64],
    )?;
    let (from, total): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(s.source = ?1), 0), COUNT(*)
         FROM order_sources s
         JOIN orders o ON o.id = s.order_id
         LEFT JOIN approvals a ON a.device_id = s.device_id
         WHERE s.expires > ?2
           AND json_extract(o.json, '$.status') = 'pending'
           AND (a.state IS NULL OR a.state = 'pending')",
        params![source.to_string(), now as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((from as u64, total as u64))
}
