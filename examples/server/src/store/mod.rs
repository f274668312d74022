//! Storage: the state directory and its database. The only layer that runs SQL.
//!
//! - `db`: the database handle ([`Db`]) and the primitives every query goes through;
//! - `dir`: the directory, its file modes, the admin token (draft §3.4.4: local access to the
//!   state directory is what authorises approvals);
//! - `schema`: tables, migrations, connection settings, the network configuration (§4.2);
//! - `approvals`: the §3.4.4 approval states and the sources of waiting orders;
//! - `certs`: issued certificates, revocations, the CRL number (RFC 5280 §5);
//! - `renewal`: what the approvals say about renewing early (RFC 9773 renewalInfo);
//! - `acme`: lantrust-acme's [`lantrust_acme::server::Store`] (RFC 8555 §7.1 records).
//!
//! No function here reads the clock: each takes `now` from its caller (the request's, read once
//! in `net/`, or the admin command's).

mod acme;
mod approvals;
pub(crate) mod backup;
mod certs;
pub(crate) mod db;
mod dir;
mod keys;
mod nonces;
#[cfg(test)]
mod pg_tests;
pub(crate) mod pgtls;
mod renewal;
mod schema;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use acme::DbStore;
pub(crate) use approvals::{
    ApprovalRow, ApprovalState, Decided, Decision, PendingRow, Requester, RequesterRow,
    STALE_REQUEST, Verdict, approvals, data_version, decide_with, decisions_digest,
    forget_stale_requests, is_renewal, pending_orders, pending_requests, rebind_key,
    record_order_source, release_key, request_approval, revoke_device,
};
#[cfg(test)]
pub(crate) use approvals::{approval_state, decide};
pub(crate) use certs::{
    CertRow, Revoked, certificates, issued_leaves, next_crl_number, revocations,
    revocations_with_leaf,
};
pub(crate) use db::Db;
#[cfg(test)]
pub(crate) use db::params;
pub(crate) use dir::{ROOT_CERT_FILE, ROOT_KEY_FILE, StateDir, read_token, write_atomic};
pub(crate) use keys::account_key_type;
pub(crate) use nonces::SharedNonces;
pub(crate) use renewal::renew_early_reason;
#[cfg(test)]
pub(crate) use schema::create_db;
pub(crate) use schema::{Config, create_store};

/// The wall clock as time since the Unix epoch. Read by `net/` once per request (and by the
/// one-shot commands); everything below takes the value as an argument.
pub(crate) fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}
