//! What the console shows about a requester's ACME account key (draft §3.4.4: the evidence the
//! owner decides on): its type, read from the stored JWK (RFC 7517, RFC 7518 §6).

use super::db::{Db, params};
use anyhow::Result;

/// The type of the account key with RFC 7638 thumbprint `thumbprint`: `EC P-256`, `RSA-2048`,
/// `OKP Ed25519`...; `None` when the account is gone.
pub(crate) fn account_key_type(db: &Db, thumbprint: &str) -> Result<Option<String>> {
    let Some(row) = db.query_opt(
        "SELECT json FROM accounts WHERE thumbprint = ?1",
        params![thumbprint],
    )?
    else {
        return Ok(None);
    };
    let json: String = row.get(0)?;
    let account: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let member = |m: &str| account["jwk"][m].as_str().map(str::to_string);
    let (kty, crv, n_len) = (
        member("kty"),
        member("crv"),
        member("n").map(|n| n.len() as i64),
    );
    Ok(Some(match (kty.as_deref(), crv, n_len) {
        // base64url without padding: 6 bits a character; the modulus has no leading zero octet.
        (Some("RSA"), _, Some(n)) => format!("RSA-{}", (n * 6 / 8) * 8),
        (Some(k), Some(c), _) => format!("{k} {c}"),
        (Some(k), None, _) => k.to_string(),
        (None, _, _) => "unknown".to_string(),
    }))
}
