//! Issued certificates and revocations (RFC 5280 §5: what the CRL lists, and its number).

use anyhow::Result;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// A certificate row (for `list --json` and tests).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CertRow {
    pub(crate) id: String,
    pub(crate) device_id: String,
    pub(crate) serial: String,
    pub(crate) not_after: u64,
    pub(crate) revoked: bool,
}

pub(crate) fn certificates(conn: &Connection) -> Result<Vec<CertRow>> {
    let mut st = conn.prepare(
        "SELECT c.id, c.device_id, c.serial, c.not_after, r.cert_id IS NOT NULL
         FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id
         ORDER BY c.issued_at",
    )?;
    let rows = st.query_map([], |r| {
        let serial: Vec<u8> = r.get(2)?;
        Ok(CertRow {
            id: r.get(0)?,
            device_id: r.get(1)?,
            serial: serial.iter().map(|b| format!("{b:02x}")).collect(),
            not_after: r.get::<_, i64>(3)? as u64,
            revoked: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A revoked serial for the CRL: (serial bytes, reason code, revoked_at seconds).
pub(crate) type Revoked = (Vec<u8>, Option<u8>, u64);

/// Every revoked serial, oldest first.
pub(crate) fn revocations(conn: &Connection) -> Result<Vec<Revoked>> {
    let mut st =
        conn.prepare("SELECT serial, reason, revoked_at FROM revocations ORDER BY rowid")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Option<i64>>(1)?.map(|v| v as u8),
            r.get::<_, i64>(2)? as u64,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next CRL number (incremented in the database so it grows across restarts).
pub(crate) fn next_crl_number(conn: &mut Connection) -> Result<u64> {
    let tx = conn.transaction()?;
    let n: String = tx.query_row(
        "SELECT value FROM config WHERE key = 'crl_number'",
        [],
        |r| r.get(0),
    )?;
    let n = n.parse::<u64>().unwrap_or(0) + 1;
    tx.execute(
        "UPDATE config SET value = ?1 WHERE key = 'crl_number'",
        [n.to_string()],
    )?;
    tx.commit()?;
    Ok(n)
}
