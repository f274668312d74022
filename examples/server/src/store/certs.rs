//! Issued certificates and revocations (RFC 5280 §5: what the CRL lists, and its number).

use super::db::{Db, Dialect, params};
use anyhow::Result;
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

pub(crate) fn certificates(db: &Db) -> Result<Vec<CertRow>> {
    db.query(
        "SELECT c.id, c.device_id, c.serial, c.not_after, r.cert_id IS NOT NULL
         FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id
         ORDER BY c.issued_at",
        &[],
    )?
    .iter()
    .map(|r| {
        let serial: Vec<u8> = r.get(2)?;
        Ok(CertRow {
            id: r.get(0)?,
            device_id: r.get(1)?,
            serial: serial.iter().map(|b| format!("{b:02x}")).collect(),
            not_after: r.get::<i64>(3)? as u64,
            revoked: r.get(4)?,
        })
    })
    .collect()
}

/// A revoked serial for the CRL: (serial bytes, reason code, revoked_at seconds).
pub(crate) type Revoked = (Vec<u8>, Option<u8>, u64);

/// Every revoked serial, oldest first.
pub(crate) fn revocations(db: &Db) -> Result<Vec<Revoked>> {
    let order = match db.dialect() {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "seq",
    };
    db.query(
        &format!("SELECT serial, reason, revoked_at FROM revocations ORDER BY {order}"),
        &[],
    )?
    .iter()
    .map(|r| {
        Ok((
            r.get::<Vec<u8>>(0)?,
            r.get::<Option<i64>>(1)?.map(|v| v as u8),
            r.get::<i64>(2)? as u64,
        ))
    })
    .collect()
}

/// Every revoked serial with its certificate (DER), oldest first: a rotated root's CRL lists
/// those it issued.
pub(crate) fn revocations_with_leaf(db: &Db) -> Result<Vec<(Revoked, Vec<u8>)>> {
    let order = match db.dialect() {
        Dialect::Sqlite => "r.rowid",
        Dialect::Postgres => "r.seq",
    };
    db.query(
        &format!(
            "SELECT r.serial, r.reason, r.revoked_at, c.leaf_der
             FROM revocations r JOIN certificates c ON c.id = r.cert_id ORDER BY {order}"
        ),
        &[],
    )?
    .iter()
    .map(|r| {
        Ok((
            (
                r.get::<Vec<u8>>(0)?,
                r.get::<Option<i64>>(1)?.map(|v| v as u8),
                r.get::<i64>(2)? as u64,
            ),
            r.get::<Vec<u8>>(3)?,
        ))
    })
    .collect()
}

/// An issued certificate: (id, device id, DER, not_after seconds).
pub(crate) type IssuedLeaf = (String, String, Vec<u8>, i64);

/// Every issued certificate, oldest first.
pub(crate) fn issued_leaves(db: &Db) -> Result<Vec<IssuedLeaf>> {
    db.query(
        "SELECT id, device_id, leaf_der, not_after FROM certificates ORDER BY issued_at",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    .collect()
}

/// The next CRL number (incremented in the database so it grows across restarts).
pub(crate) fn next_crl_number(db: &Db) -> Result<u64> {
    db.write(|tx| {
        let n: String = tx
            .query_one("SELECT value FROM config WHERE key = 'crl_number'", &[])?
            .get(0)?;
        let n = n.parse::<u64>().unwrap_or(0) + 1;
        tx.execute(
            "UPDATE config SET value = ?1 WHERE key = 'crl_number'",
            params![n.to_string()],
        )?;
        Ok(n)
    })
}
