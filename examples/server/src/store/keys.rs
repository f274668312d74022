//! What the console shows about a requester's ACME account key (draft §3.4.4: the evidence the
//! owner decides on): its type, read from the stored JWK (RFC 7517, RFC 7518 §6).

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// The type of the account key with RFC 7638 thumbprint `thumbprint`: `EC P-256`, `RSA-2048`,
/// `OKP Ed25519`...; `None` when the account is gone.
pub(crate) fn account_key_type(conn: &Connection, thumbprint: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>, Option<String>, Option<i64>)> = conn
        .query_row(
            "SELECT json_extract(json, '$.jwk.kty'), json_extract(json, '$.jwk.crv'),
                    length(json_extract(json, '$.jwk.n'))
             FROM accounts WHERE thumbprint = ?1",
            params![thumbprint],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(
        row.map(|(kty, crv, n_len)| match (kty.as_deref(), crv, n_len) {
            // base64url without padding: 6 bits a character; the modulus has no leading zero octet.
            (Some("RSA"), _, Some(n)) => format!("RSA-{}", (n * 6 / 8) * 8),
            (Some(k), Some(c), _) => format!("{k} {c}"),
            (Some(k), None, _) => k.to_string(),
            (None, _, _) => "unknown".to_string(),
        }),
    )
}
