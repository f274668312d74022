//! What the database says about renewing a certificate early (RFC 9773 renewalInfo): the
//! device's approval (draft §3.4.4) as it stands now, compared with the key that holds the
//! certificate.

use super::db::{Db, params};
use anyhow::Result;

/// Why the certificate of `device_id` held by the account key `thumbprint` should be renewed
/// now, if the approval says so: the approval was taken back or refused since, or the device ID
/// is now bound to another key (the device was reset and re-approved). `None` when there is no
/// approval row (auto-approved networks keep none until a human acts) or it still binds this key.
pub(crate) fn renew_early_reason(
    db: &Db,
    device_id: &str,
    thumbprint: &str,
) -> Result<Option<&'static str>> {
    let row: Option<(String, Option<String>)> = db
        .query_opt(
            "SELECT state, account FROM approvals WHERE device_id = ?1",
            params![device_id],
        )?
        .map(|r| Ok::<_, anyhow::Error>((r.get(0)?, r.get(1)?)))
        .transpose()?;
    Ok(match row {
        Some((state, _)) if state == "revoked" => Some("the device's approval was revoked"),
        Some((state, _)) if state == "denied" => Some("the device's approval was refused"),
        Some((state, Some(bound))) if state == "approved" && bound != thumbprint => {
            Some("the device ID is now approved for another account key (device reset)")
        }
        _ => None,
    })
}
