//! Approvals (draft §3.4.4) and the sources of waiting orders (the pending-order caps).

use std::net::IpAddr;
use std::time::Duration;

use super::db::{Db, Dialect, params};
use anyhow::{Result, bail};
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
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A device's approval (one row per device ID), with everyone who asked for it. Serialised as
/// one entry of `list --json`'s `devices` (and `GET /admin/devices`); the field names are a
/// stable interface (examples/server/README.md, "JSON output").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ApprovalRow {
    /// The device ID (leftmost label of its names).
    pub(crate) device_id: String,
    /// `pending`, `approved`, `denied` or `revoked`.
    pub(crate) state: ApprovalState,
    /// Every name asked for under this ID.
    pub(crate) names: Vec<String>,
    /// The bound account key's RFC 7638 thumbprint (draft §3.4.4): the key whose requests the
    /// approval covers. `null` when no key is bound (pre-approved for the first account that
    /// asks, or released by an account deactivation).
    pub(crate) account: Option<String>,
    /// When the device first asked (seconds since the Unix epoch).
    pub(crate) requested_at: Option<u64>,
    /// When the owner last decided.
    pub(crate) decided_at: Option<u64>,
    /// Certificates issued for the ID.
    pub(crate) certificates: u64,
    /// Of those, revoked.
    pub(crate) revoked_certificates: u64,
    /// What the approval binds: `key` (the account in `account`), `first_asker` (approved
    /// before any key asked: the first account that asks gets it) or `none` (nothing bound).
    #[serde(default)]
    pub(crate) binding: String,
    /// Every account key that asked for the ID.
    #[serde(default)]
    pub(crate) requesters: Vec<RequesterRow>,
}

/// One account key that asked for a device ID, and what the server knows about it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RequesterRow {
    /// RFC 7638 JWK thumbprint of the account key.
    pub(crate) account: String,
    /// The ACME account (the last segment of its account URL), if it still exists.
    pub(crate) account_id: Option<String>,
    /// `bound` (the approval's key), `pending` (a key change waiting for the owner), `denied`
    /// (the owner refused this key) or `replaced` (was bound; the binding moved to another key).
    pub(crate) status: String,
    /// The names it asked for.
    pub(crate) names: Vec<String>,
    /// The address it last asked from.
    pub(crate) ip: Option<String>,
    /// The MAC address of `ip` (neighbour table or DHCP leases), where the server could know it.
    pub(crate) mac: Option<String>,
    /// Key type of its last CSR (`P-384`, `P-521`, `RSA-3072`, `RSA-PSS-4096`, ...). ACME sends
    /// the CSR at finalize, after approval, so this is `null` until a certificate was issued.
    pub(crate) csr_key_type: Option<String>,
    /// SHA-256 of its last CSR's SubjectPublicKeyInfo (hex), `null` like `csr_key_type`.
    pub(crate) csr_spki_sha256: Option<String>,
    /// First request (seconds since the Unix epoch).
    pub(crate) first_seen: u64,
    /// Latest request.
    pub(crate) last_seen: u64,
}

/// One request waiting for the owner: an entry of `pending --json` (and `GET /admin/pending`).
/// The field names are a stable interface (examples/server/README.md, "JSON output").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PendingRow {
    /// The device ID.
    pub(crate) device_id: String,
    /// The device's approval state (`pending` for a first request, `approved` when a key change
    /// waits on an approved device).
    pub(crate) state: ApprovalState,
    /// `first_request` (nobody holds the ID yet) or `key_change` (a different key asks for an
    /// ID another key holds or asked for first: a factory reset, or an impostor).
    pub(crate) kind: String,
    /// What the owner is asked, in words.
    pub(crate) message: String,
    /// The key bound to the ID now (`null` for a first request).
    pub(crate) bound_account: Option<String>,
    /// When the device first asked.
    pub(crate) requested_at: Option<u64>,
    /// The requesting key and what is known about it (its `account` is the thumbprint to give
    /// `approve --account`).
    #[serde(flatten)]
    pub(crate) requester: RequesterRow,
}

/// Key type and SPKI SHA-256 (hex) of a certificate's public key (the CSR's: the CA copies it).
fn key_facts(leaf_der: &[u8]) -> Option<(String, String)> {
    use der::{Decode, Encode};
    use sha2::Digest;
    let cert = x509_cert::Certificate::from_der(leaf_der).ok()?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let fp = sha2::Sha256::digest(spki.to_der().ok()?)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let oid = spki.algorithm.oid.to_string();
    let rsa_bits = || {
        let bits = spki.subject_public_key.raw_bytes();
        let mut r = der::SliceReader::new(bits).ok()?;
        let n = der::Reader::sequence(&mut r, |r| {
            let n = der::asn1::UintRef::decode(r)?;
            let _e = der::asn1::UintRef::decode(r)?;
            Ok(n.as_bytes().to_vec())
        })
        .ok()?;
        let lead = n.first().map_or(0, |b| b.leading_zeros() as usize);
        Some(n.len() * 8 - lead)
    };
    let kind = match oid.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|c| c.to_string());
            match curve.as_deref() {
                Some("1.3.132.0.34") => "P-384".to_string(),
                Some("1.3.132.0.35") => "P-521".to_string(),
                Some("1.2.840.10045.3.1.7") => "P-256".to_string(),
                Some(c) => format!("EC {c}"),
                None => "EC".to_string(),
            }
        }
        "1.2.840.113549.1.1.1" => format!("RSA-{}", rsa_bits()?),
        "1.2.840.113549.1.1.10" => format!("RSA-PSS-{}", rsa_bits()?),
        other => other.to_string(),
    };
    Some((kind, fp))
}

fn split_names(names: &str) -> Vec<String> {
    names
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every requester of `device_id` (bound one first), with `bound` the bound thumbprint.
fn requesters(db: &Db, device_id: &str, bound: Option<&str>) -> Result<Vec<RequesterRow>> {
    let rows = db.query(
        "SELECT thumbprint, account_id, state, names, ip, mac, first_seen, last_seen,
                (SELECT c.leaf_der FROM certificates c
                 WHERE c.device_id = q.device_id AND c.account_id = q.account_id
                 ORDER BY c.issued_at DESC LIMIT 1)
         FROM requesters q WHERE device_id = ?1 ORDER BY first_seen, thumbprint",
        params![device_id],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let thumbprint: String = r.get(0)?;
        let state: String = r.get(2)?;
        let leaf: Option<Vec<u8>> = r.get(8)?;
        let facts = leaf.as_deref().and_then(key_facts);
        let status = if Some(thumbprint.as_str()) == bound {
            "bound".to_string()
        } else {
            state
        };
        out.push(RequesterRow {
            account: thumbprint,
            account_id: r.get(1)?,
            status,
            names: split_names(&r.get::<String>(3)?),
            ip: r.get(4)?,
            mac: r.get(5)?,
            csr_key_type: facts.as_ref().map(|f| f.0.clone()),
            csr_spki_sha256: facts.map(|f| f.1),
            first_seen: r.get::<i64>(6)? as u64,
            last_seen: r.get::<i64>(7)? as u64,
        });
    }
    out.sort_by_key(|r| r.status != "bound");
    Ok(out)
}

pub(crate) fn approvals(db: &Db, only_pending: bool) -> Result<Vec<ApprovalRow>> {
    // One read transaction: the devices and their requesters from one snapshot. Read apart,
    // `serve` could bind a pre-approved ID between the two reads and its requester would show
    // as a key change against the binding read before.
    db.read(|db| {
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
        let mut out = Vec::new();
        for r in db.query(&sql, &[])? {
            let names: String = r.get(2)?;
            let state: ApprovalState = r.get(1)?;
            let account: Option<String> = r.get(3)?;
            let binding = match (&account, state) {
                (Some(_), _) => "key",
                (None, ApprovalState::Approved) => "first_asker",
                (None, _) => "none",
            };
            let device_id: String = r.get(0)?;
            let requesters = requesters(db, &device_id, account.as_deref())?;
            out.push(ApprovalRow {
                device_id,
                state,
                names: split_names(&names),
                account,
                requested_at: r.get::<Option<i64>>(4)?.map(|v| v as u64),
                decided_at: r.get::<Option<i64>>(5)?.map(|v| v as u64),
                certificates: r.get::<i64>(6)? as u64,
                revoked_certificates: r.get::<i64>(7)? as u64,
                binding: binding.to_string(),
                requesters,
            });
        }
        Ok(out)
    })
}

/// Every request waiting for the owner (draft §3.4.4): first requests of pending devices, and
/// key changes (another key asking for a pending or approved ID), oldest first.
pub(crate) fn pending_requests(db: &Db) -> Result<Vec<PendingRow>> {
    let mut out = Vec::new();
    for dev in approvals(db, false)? {
        if !matches!(dev.state, ApprovalState::Pending | ApprovalState::Approved) {
            continue;
        }
        for r in &dev.requesters {
            let kind = match (r.status.as_str(), dev.state) {
                ("bound", ApprovalState::Pending) => "first_request",
                ("pending", _) => "key_change",
                _ => continue,
            };
            let message = if kind == "first_request" {
                format!(
                    "a new device asks for {}: approve it if it is yours",
                    dev.device_id
                )
            } else if dev.state == ApprovalState::Approved {
                format!(
                    "a different key asks for {}: factory reset, or impostor; the approved key keeps renewing until you approve this one",
                    dev.device_id
                )
            } else {
                format!(
                    "a different key asks for {} while its first request waits: factory reset, or impostor",
                    dev.device_id
                )
            };
            out.push(PendingRow {
                device_id: dev.device_id.clone(),
                state: dev.state,
                kind: kind.to_string(),
                message,
                bound_account: dev.account.clone(),
                requested_at: dev.requested_at,
                requester: r.clone(),
            });
        }
    }
    out.sort_by_key(|p| (p.requester.first_seen, p.device_id.clone()));
    Ok(out)
}

#[cfg(test)]
pub(crate) fn approval_state(db: &Db, device_id: &str) -> Result<Option<ApprovalState>> {
    db.query_opt(
        "SELECT state FROM approvals WHERE device_id = ?1",
        params![device_id],
    )?
    .map(|r| r.get(0))
    .transpose()
}

/// Whether an order by `thumbprint` for `device_id` is a renewal: the ID is approved for that
/// key, or pre-approved for the first key that asks.
pub(crate) fn is_renewal(db: &Db, device_id: &str, thumbprint: &str) -> Result<bool> {
    Ok(db
        .query_opt(
            "SELECT state = 'approved' AND (account IS NULL OR account = ?2)
             FROM approvals WHERE device_id = ?1",
            params![device_id, thumbprint],
        )?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(false))
}

/// The state and bound thumbprint of `device_id`.
fn approval(db: &Db, device_id: &str) -> Result<Option<(ApprovalState, Option<String>)>> {
    db.query_opt(
        "SELECT state, account FROM approvals WHERE device_id = ?1",
        params![device_id],
    )?
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .transpose()
}

/// The account key asking for a device ID, and where it asks from.
#[derive(Clone, Debug)]
pub(crate) struct Requester<'a> {
    /// RFC 7638 thumbprint of the account key.
    pub(crate) thumbprint: &'a str,
    /// The ACME account id.
    pub(crate) account_id: &'a str,
    /// The request's source address, when the check runs for a client request.
    pub(crate) ip: Option<IpAddr>,
    /// Its MAC address, where known.
    pub(crate) mac: Option<String>,
}

/// The answer for one requester (draft §3.4.4 with the key binding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its key holds the approval: issue.
    Approved,
    /// Wait for the owner; `key_change` when another key holds or first asked for the ID.
    Pending {
        /// A different key than the bound one asks.
        key_change: bool,
    },
    /// Refused, with why.
    Denied(String),
}

/// Record that `req` asked for `device_id` (with the name `name`) and decide: the first key to
/// ask binds the ID (pending until approved, or at once with `auto_approve`); the bound key is
/// approved while the ID is; any other key gets its own pending key-change request (approved at
/// once, moving the binding, only with `auto_approve`). One transaction.
pub(crate) fn request_approval(
    db: &Db,
    device_id: &str,
    name: &str,
    req: &Requester<'_>,
    auto_approve: bool,
    now: Duration,
) -> Result<Verdict> {
    db.write(|tx| request_approval_in(tx, device_id, name, req, auto_approve, now))
}

fn request_approval_in(
    tx: &Db,
    device_id: &str,
    name: &str,
    req: &Requester<'_>,
    auto_approve: bool,
    now: Duration,
) -> Result<Verdict> {
    let now = now.as_secs() as i64;
    // `names` of `table` with ?3 added (once). Qualified: in an upsert PostgreSQL would not
    // know the table's column from the proposed row's.
    let append = |table: &str| {
        format!(
            "CASE WHEN instr(',' || {table}.names || ',', ',' || ?3 || ',') > 0 THEN {table}.names
                  WHEN {table}.names = '' THEN ?3 ELSE {table}.names || ',' || ?3 END"
        )
    };
    tx.execute(
        &format!(
            "INSERT INTO requesters (device_id, thumbprint, account_id, names, ip, mac,
                                     first_seen, last_seen)
             VALUES (?1, ?2, ?4, ?3, ?5, ?6, ?7, ?7)
             ON CONFLICT (device_id, thumbprint) DO UPDATE SET
                account_id = ?4, names = {}, ip = COALESCE(?5, requesters.ip),
                mac = CASE WHEN ?5 IS NULL THEN requesters.mac ELSE ?6 END, last_seen = ?7",
            append("requesters")
        ),
        params![
            device_id,
            req.thumbprint,
            name,
            req.account_id,
            req.ip.map(|i| i.to_string()),
            req.mac,
            now
        ],
    )?;
    let verdict = match approval(tx, device_id)? {
        None => {
            let state = if auto_approve {
                ApprovalState::Approved
            } else {
                ApprovalState::Pending
            };
            tx.execute(
                "INSERT INTO approvals (device_id, state, names, account, requested_at, decided_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?2 = 'approved' THEN CAST(?5 AS BIGINT) END)",
                params![device_id, state, name, req.thumbprint, now],
            )?;
            if auto_approve {
                Verdict::Approved
            } else {
                Verdict::Pending { key_change: false }
            }
        }
        Some((state, bound)) => {
            tx.execute(
                &format!(
                    "UPDATE approvals SET names = {}, requested_at = COALESCE(requested_at, ?2)
                     WHERE device_id = ?1",
                    append("approvals")
                ),
                params![device_id, now, name],
            )?;
            match (state, bound) {
                (ApprovalState::Denied, _) => {
                    Verdict::Denied("denied by the network administrator".into())
                }
                (ApprovalState::Revoked, _) => Verdict::Denied("its approval was revoked".into()),
                // Nothing bound: pre-approved for the first asker, or released by a
                // deactivation (then a human decides again).
                (state, None) => {
                    tx.execute(
                        "UPDATE approvals SET account = ?2 WHERE device_id = ?1",
                        params![device_id, req.thumbprint],
                    )?;
                    if state == ApprovalState::Approved {
                        Verdict::Approved
                    } else {
                        Verdict::Pending { key_change: false }
                    }
                }
                (ApprovalState::Approved, Some(b)) if b == req.thumbprint => Verdict::Approved,
                (ApprovalState::Pending, Some(b)) if b == req.thumbprint => {
                    Verdict::Pending { key_change: false }
                }
                (_, Some(old)) if auto_approve => {
                    tracing::warn!(
                        device = device_id,
                        old = %old,
                        new = req.thumbprint,
                        "a different key asks for {device_id}; --auto-approve moves the approval to it"
                    );
                    move_binding(tx, device_id, req.thumbprint, now)?;
                    Verdict::Approved
                }
                (_, Some(_)) => {
                    let mine: String = tx
                        .query_one(
                            "SELECT state FROM requesters WHERE device_id = ?1 AND thumbprint = ?2",
                            params![device_id, req.thumbprint],
                        )?
                        .get(0)?;
                    if mine == "denied" {
                        Verdict::Denied(
                            "the network administrator refused this account key for this device ID; the key already approved for it keeps it".into(),
                        )
                    } else {
                        if mine != "pending" {
                            tx.execute(
                                "UPDATE requesters SET state = 'pending'
                                 WHERE device_id = ?1 AND thumbprint = ?2",
                                params![device_id, req.thumbprint],
                            )?;
                        }
                        Verdict::Pending { key_change: true }
                    }
                }
            }
        }
    };
    Ok(verdict)
}

/// Bind `device_id` to `thumbprint`, approved; the previously bound key becomes `replaced`.
fn move_binding(db: &Db, device_id: &str, thumbprint: &str, now: i64) -> Result<()> {
    db.execute(
        "UPDATE requesters SET state = 'replaced'
         WHERE device_id = ?1
           AND thumbprint = (SELECT account FROM approvals WHERE device_id = ?1)
           AND thumbprint <> ?2",
        params![device_id, thumbprint],
    )?;
    db.execute(
        "UPDATE requesters SET state = 'pending' WHERE device_id = ?1 AND thumbprint = ?2",
        params![device_id, thumbprint],
    )?;
    db.execute(
        "INSERT INTO approvals (device_id, state, account, decided_at) VALUES (?1, 'approved', ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET state = 'approved', account = ?2, decided_at = ?3",
        params![device_id, thumbprint, now],
    )?;
    Ok(())
}

/// An owner's decision on a device ID (`approve` / `deny`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// `Approved` or `Denied` (`Revoked` goes through [`revoke_device`]).
    pub(crate) state: ApprovalState,
    /// The key the decision is about (`approve|deny --account THUMBPRINT`); `None` decides for
    /// the one waiting request, or the ID as a whole.
    pub(crate) account: Option<String>,
    /// When the binding moves to a new key: revoke the certificates issued for the ID so far.
    pub(crate) revoke_old: bool,
}

/// What a decision did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Decided {
    /// The ID's state before.
    pub(crate) previous: Option<ApprovalState>,
    /// Its state now.
    pub(crate) state: ApprovalState,
    /// The key bound now (`null`: the first account that asks binds it).
    pub(crate) account: Option<String>,
    /// The key the binding moved from, when it moved.
    pub(crate) replaced_account: Option<String>,
    /// Keys whose key-change requests were refused (a `deny` that left the binding alone).
    pub(crate) denied_accounts: Vec<String>,
    /// Certificates revoked by `--revoke-old`.
    pub(crate) certificates_revoked: usize,
}

/// Apply an owner's decision (draft §3.4.4) in one transaction.
///
/// `approve` without an account: pre-approves an unknown ID for the first key that asks;
/// approves a pending ID's first request; moves the binding of an approved ID to the one key
/// asking for it (a key change). When several keys wait, it names them and asks for
/// `--account`. `approve --account T` binds the ID to T (before T asks, too).
///
/// `deny` without an account: refuses waiting key changes of an approved ID and leaves its
/// binding alone; otherwise denies the ID. `deny --account T` refuses only T (the whole ID
/// when T is its bound key).
pub(crate) fn decide_with(
    db: &Db,
    device_id: &str,
    d: &Decision,
    now: Duration,
) -> Result<Decided> {
    db.write(|tx| decide_in(tx, device_id, d, now))
}

fn decide_in(tx: &Db, device_id: &str, d: &Decision, now: Duration) -> Result<Decided> {
    let secs = now.as_secs() as i64;
    let before = approval(tx, device_id)?;
    let (previous, bound) = match &before {
        Some((s, b)) => (Some(*s), b.clone()),
        None => (None, None),
    };
    let waiting: Vec<String> = tx
        .query(
            "SELECT thumbprint FROM requesters
             WHERE device_id = ?1 AND state = 'pending' AND thumbprint IS DISTINCT FROM ?2
             ORDER BY first_seen",
            params![device_id, bound],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    let mut out = Decided {
        previous,
        state: d.state,
        account: bound.clone(),
        replaced_account: None,
        denied_accounts: Vec::new(),
        certificates_revoked: 0,
    };
    match d.state {
        ApprovalState::Approved => {
            let target = match (&d.account, previous) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(ApprovalState::Approved)) if waiting.len() == 1 => {
                    waiting.first().cloned()
                }
                (None, Some(ApprovalState::Pending)) if bound.is_none() && waiting.len() == 1 => {
                    waiting.first().cloned()
                }
                (None, Some(ApprovalState::Approved | ApprovalState::Pending))
                    if !waiting.is_empty() =>
                {
                    let mut keys = waiting;
                    if let Some(b) = &bound {
                        keys.insert(0, format!("{b} (bound)"));
                    }
                    bail!(
                        "several account keys ask for {device_id}: {}; choose one with `approve {device_id} --account THUMBPRINT` (see `pending`)",
                        keys.join(", ")
                    );
                }
                (None, _) => bound.clone(),
            };
            match target {
                Some(t) if bound.as_deref() != Some(t.as_str()) => {
                    move_binding(tx, device_id, &t, secs)?;
                    out.replaced_account = bound.clone();
                    out.account = Some(t);
                    if d.revoke_old && bound.is_some() {
                        // Reason 4: superseded (RFC 5280 §5.3.1), a new key holds the ID.
                        out.certificates_revoked = tx.execute(
                            "INSERT INTO revocations (cert_id, serial, reason, revoked_at)
                             SELECT c.id, c.serial, 4, CAST(?2 AS BIGINT) FROM certificates c
                             WHERE c.device_id = ?1
                               AND c.id NOT IN (SELECT cert_id FROM revocations)",
                            params![device_id, secs],
                        )?;
                    }
                }
                _ => {
                    tx.execute(
                        "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, 'approved', ?2)
                         ON CONFLICT (device_id) DO UPDATE SET state = 'approved', decided_at = ?2",
                        params![device_id, secs],
                    )?;
                }
            }
        }
        ApprovalState::Denied => {
            let refuse: Vec<String> = match (&d.account, previous) {
                (Some(t), _) if bound.as_deref() != Some(t.as_str()) => vec![t.clone()],
                (None, Some(ApprovalState::Approved)) if !waiting.is_empty() => waiting,
                _ => Vec::new(),
            };
            if refuse.is_empty() {
                tx.execute(
                    "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, 'denied', ?2)
                     ON CONFLICT (device_id) DO UPDATE SET state = 'denied', decided_at = ?2",
                    params![device_id, secs],
                )?;
            } else {
                for t in &refuse {
                    tx.execute(
                        "INSERT INTO requesters (device_id, thumbprint, state, first_seen, last_seen)
                         VALUES (?1, ?2, 'denied', ?3, ?3)
                         ON CONFLICT (device_id, thumbprint) DO UPDATE SET state = 'denied'",
                        params![device_id, t, secs],
                    )?;
                }
                out.state = previous.unwrap_or(ApprovalState::Denied);
                out.denied_accounts = refuse;
            }
        }
        other => bail!("unknown decision {other}"),
    }
    Ok(out)
}

/// Set a decision (`approved`, `denied`) with [`decide_with`]'s defaults, creating the row when
/// the device has not asked yet (pre-approval). Returns the previous state.
#[cfg(test)]
pub(crate) fn decide(
    db: &Db,
    device_id: &str,
    state: ApprovalState,
    now: Duration,
) -> Result<Option<ApprovalState>> {
    let d = Decision {
        state,
        account: None,
        revoke_old: false,
    };
    Ok(decide_with(db, device_id, &d, now)?.previous)
}

/// Key rollover (RFC 8555 §7.3.5): approvals and requests bound to `old` now belong to `new`.
pub(crate) fn rebind_key(db: &Db, old: &str, new: &str) -> Result<()> {
    db.write(|tx| {
        tx.execute(
            "UPDATE approvals SET account = ?2 WHERE account = ?1",
            params![old, new],
        )?;
        // A request `new` already made for a device that `old` asked for too gives way to the
        // moved one (SQLite's UPDATE OR REPLACE, written so that PostgreSQL runs it as well).
        tx.execute(
            "DELETE FROM requesters WHERE thumbprint = ?2
               AND device_id IN (SELECT device_id FROM requesters WHERE thumbprint = ?1)",
            params![old, new],
        )?;
        tx.execute(
            "UPDATE requesters SET thumbprint = ?2 WHERE thumbprint = ?1",
            params![old, new],
        )?;
        Ok(())
    })
}

/// Account deactivation (RFC 8555 §7.3.6): the key's bindings are dropped. An approved ID it
/// held goes back to `pending` with no key bound: the next key to ask waits for the owner.
pub(crate) fn release_key(db: &Db, thumbprint: &str) -> Result<usize> {
    db.write(|tx| {
        let n = tx.execute(
            "UPDATE approvals SET account = NULL,
                    state = CASE WHEN state = 'approved' THEN 'pending' ELSE state END
             WHERE account = ?1",
            params![thumbprint],
        )?;
        tx.execute(
            "DELETE FROM requesters WHERE thumbprint = ?1",
            params![thumbprint],
        )?;
        Ok(n)
    })
}

/// How long a request nobody decided is kept after its key last asked. A device waiting for
/// approval asks again whenever it polls or restarts, so a month of silence means it is gone;
/// without a bound, a LAN host minting fresh keys and IDs would grow the table without end (the
/// pending-order caps bound how fast, not how much).
pub(crate) const STALE_REQUEST: Duration = Duration::from_secs(30 * 86_400);

/// Forgets the requests nobody decided whose key last asked before `cutoff`: pending requests
/// for a new device ID (and that ID's pending approval once no request for it is left) and
/// pending key changes of a decided ID. What the owner decided stays: approved, denied and
/// revoked IDs with the keys they bind, and denied requests. One transaction; returns how many
/// requests were forgotten.
pub(crate) fn forget_stale_requests(db: &Db, cutoff: Duration) -> Result<usize> {
    let cutoff = cutoff.as_secs() as i64;
    db.write(|tx| {
        let n = tx.execute(
            "DELETE FROM requesters WHERE state = 'pending' AND last_seen < ?1
               AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.device_id = requesters.device_id
                               AND a.account = requesters.thumbprint AND a.state <> 'pending')",
            params![cutoff],
        )?;
        tx.execute(
            "DELETE FROM approvals WHERE state = 'pending'
               AND device_id NOT IN (SELECT device_id FROM requesters)",
            params![],
        )?;
        Ok(n)
    })
}

/// Revoke the approval and every unrevoked certificate of the device (one transaction).
/// Returns the number of certificates revoked now.
pub(crate) fn revoke_device(db: &Db, device_id: &str, now: Duration) -> Result<usize> {
    let now = now.as_secs() as i64;
    db.write(|tx| {
        tx.execute(
            "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, 'revoked', ?2)
             ON CONFLICT (device_id) DO UPDATE SET state = 'revoked', decided_at = ?2",
            params![device_id, now],
        )?;
        // Reason 9: privilegeWithdrawn (RFC 5280 §5.3.1), the approval was taken back.
        tx.execute(
            "INSERT INTO revocations (cert_id, serial, reason, revoked_at)
             SELECT c.id, c.serial, 9, CAST(?2 AS BIGINT) FROM certificates c
             WHERE c.device_id = ?1 AND c.id NOT IN (SELECT cert_id FROM revocations)",
            params![device_id, now],
        )
    })
}

// -------------------------------------------------------------------------------------------
// Sources of orders (abuse limits)

/// Remember which source address created `order_id` (for the pending-order caps).
pub(crate) fn record_order_source(
    db: &Db,
    order_id: &str,
    source: IpAddr,
    device_id: &str,
    expires: u64,
) -> Result<()> {
    db.execute(
        "INSERT INTO order_sources (order_id, source, device_id, expires) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_id) DO NOTHING",
        params![order_id, source.to_string(), device_id, expires as i64],
    )?;
    Ok(())
}

/// Orders waiting for a human (§3.4.4): still `pending`, not expired, and their device neither
/// approved nor denied, or approved for another account key (a key change waits too). Returns (from `source`, in total). Forgets expired rows on the way.
pub(crate) fn pending_orders(db: &Db, source: IpAddr, now: u64) -> Result<(u64, u64)> {
    db.execute(
        "DELETE FROM order_sources WHERE expires <= ?1",
        params![now as i64],
    )?;
    let status = match db.dialect() {
        Dialect::Sqlite => "json_extract(o.json, '$.status')",
        Dialect::Postgres => "(o.json::jsonb ->> 'status')",
    };
    let r = db.query_one(
        &format!(
            "SELECT COALESCE(SUM(CASE WHEN s.source = ?1 THEN 1 ELSE 0 END), 0), COUNT(*)
             FROM order_sources s
             JOIN orders o ON o.id = s.order_id
             LEFT JOIN approvals a ON a.device_id = s.device_id
             WHERE s.expires > ?2
               AND {status} = 'pending'
               AND (a.state IS NULL OR a.state = 'pending'
                    OR (a.state = 'approved' AND a.account IS NOT NULL AND a.account IS DISTINCT FROM
                        (SELECT t.thumbprint FROM accounts t WHERE t.id = o.account_id)))"
        ),
        params![source.to_string(), now as i64],
    )?;
    let (from, total): (i64, i64) = (r.get(0)?, r.get(1)?);
    Ok((from as u64, total as u64))
}

/// SQLite's `PRAGMA data_version`: it changes whenever another connection (another process,
/// such as `lantrust-server approve`, or another connection of this one) committed to the
/// database since the last look, and costs no table read. `None` where the database has no such
/// counter (then a watcher reads [`decisions_digest`] each time).
pub(crate) fn data_version(db: &Db) -> Result<Option<i64>> {
    match db.as_sqlite() {
        Some(c) => Ok(Some(c.query_row("PRAGMA data_version", [], |r| r.get(0))?)),
        None => Ok(None),
    }
}

/// A digest of every owner's decision (draft §3.4.4): each device's approval state and bound
/// key, and each key's own state (a key change approved or denied). It changes when a decision
/// is made, by whatever means, and not when a device merely asks again (the names and times a
/// poll records are left out), so that a held poll wakes for decisions only.
pub(crate) fn decisions_digest(db: &Db) -> Result<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    db.read(|db| {
        for r in db.query(
            "SELECT device_id, state, account FROM approvals ORDER BY device_id",
            &[],
        )? {
            (
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<String>>(2)?,
            )
                .hash(&mut h);
        }
        for r in db.query(
            "SELECT device_id, thumbprint, state FROM requesters ORDER BY device_id, thumbprint",
            &[],
        )? {
            (
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
            )
                .hash(&mut h);
        }
        Ok(())
    })?;
    Ok(h.finish())
}
