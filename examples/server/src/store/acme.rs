//! The ACME server core's records in the database (RFC 8555 §7.1 resources), as lantrust-acme's
//! [`Store`].

use std::time::Duration;

use super::db::{Db, Row, Value, params};
use lantrust_acme::server::{
    AccountRecord, AuthzRecord, CertificateRecord, OrderRecord, Store, StoreError,
};
use lantrust_acme::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, Jwk,
    OrderStatus, Problem,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct AccountJson {
    jwk: Jwk,
    status: AccountStatus,
    contact: Vec<String>,
    tos: bool,
    orders: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct OrderJson {
    status: OrderStatus,
    expires: Duration,
    identifiers: Vec<Identifier>,
    authz_ids: Vec<String>,
    not_before: Option<String>,
    not_after: Option<String>,
    error: Option<Problem>,
    certificate_id: Option<String>,
    replaces: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ChallengeJson {
    id: String,
    kind: ChallengeType,
    token: String,
    status: ChallengeStatus,
    validated: Option<Duration>,
    error: Option<Problem>,
}

#[derive(Serialize, Deserialize)]
struct AuthzJson {
    identifier: Identifier,
    status: AuthorizationStatus,
    expires: Duration,
    challenges: Vec<ChallengeJson>,
    awaiting_approval: bool,
}

/// The database-backed [`Store`]. Each `put_*` is one committed statement (or transaction); on
/// SQLite a `synchronous=NORMAL` connection: written to the WAL in order, made durable before
/// the answer by the group flush (`durable.rs`). A failure is logged here with its cause and returned as a
/// [`StoreError`], which the core turns into a `serverInternal` problem for that request.
pub(crate) struct DbStore {
    db: Db,
}

/// Log a database failure (the detail stays in the operator's log) and wrap it.
fn store_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    tracing::error!(error = %e, "database: {what} failed");
    StoreError::new(format!("{what}: {e}"))
}

impl DbStore {
    pub(crate) fn new(db: Db) -> Self {
        DbStore { db }
    }

    fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        what: &str,
        sql: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let s: Option<String> = self
            .db
            .query_opt(sql, params![key])
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(|e| store_error(what, format!("{e:#}")))?;
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| store_error(&format!("{what} (corrupt record)"), e))
    }

    fn cert_from_row(r: &Row) -> anyhow::Result<CertificateRecord> {
        let alternates: String = r.get(4)?;
        let revoked = if r.get::<bool>(6)? {
            Some(r.get::<Option<i64>>(7)?.map(|v| v as u8))
        } else {
            None
        };
        Ok(CertificateRecord {
            id: r.get(0)?,
            account_id: r.get(1)?,
            order_id: r.get(2)?,
            pem_chain: r.get(3)?,
            alternates: serde_json::from_str(&alternates).unwrap_or_default(),
            leaf_der: r.get(5)?,
            revoked,
        })
    }

    fn cert_where(
        &self,
        clause: &str,
        key: Value,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.account_id, c.order_id, c.pem_chain, c.alternates, c.leaf_der,
                    r.cert_id IS NOT NULL, r.reason
             FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id WHERE {clause}"
        );
        self.db
            .query_opt(&sql, &[key])
            .and_then(|r| r.as_ref().map(Self::cert_from_row).transpose())
            .map_err(|e| store_error("reading a certificate", format!("{e:#}")))
    }

    /// Row `id` of `table` (`orders`, `authzs`): its account and its JSON body, decoded.
    fn owned_json<T: for<'de> Deserialize<'de>>(
        &self,
        table: &str,
        what: &str,
        id: &str,
    ) -> Result<Option<(String, T)>, StoreError> {
        let row: Option<(String, String)> = self
            .db
            .query_opt(
                &format!("SELECT account_id, json FROM {table} WHERE id = ?1"),
                params![id],
            )
            .and_then(|r| r.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose())
            .map_err(|e| store_error(what, format!("{e:#}")))?;
        row.map(|(account_id, json)| serde_json::from_str(&json).map(|j| (account_id, j)))
            .transpose()
            .map_err(|e| store_error(&format!("{what} (corrupt record)"), e))
    }
}

impl OrderJson {
    /// The order record of row `id`, owned by `account_id`.
    fn into_record(self, id: &str, account_id: String) -> OrderRecord {
        OrderRecord {
            id: id.to_string(),
            account_id,
            status: self.status,
            expires: self.expires,
            identifiers: self.identifiers,
            authz_ids: self.authz_ids,
            not_before: self.not_before,
            not_after: self.not_after,
            error: self.error,
            certificate_id: self.certificate_id,
            replaces: self.replaces,
        }
    }
}

impl AuthzJson {
    /// The authorization record of row `id`, owned by `account_id`.
    fn into_record(self, id: &str, account_id: String) -> AuthzRecord {
        AuthzRecord {
            id: id.to_string(),
            account_id,
            identifier: self.identifier,
            status: self.status,
            expires: self.expires,
            challenges: self
                .challenges
                .into_iter()
                .map(|c| lantrust_acme::server::ChallengeRecord {
                    id: c.id,
                    kind: c.kind,
                    token: c.token,
                    status: c.status,
                    validated: c.validated,
                    error: c.error,
                })
                .collect(),
            awaiting_approval: self.awaiting_approval,
        }
    }
}

fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| store_error(what, e))
}

impl Store for DbStore {
    fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let Some(j): Option<AccountJson> = self.get_json(
            "reading an account",
            "SELECT json FROM accounts WHERE id = ?1",
            id,
        )?
        else {
            return Ok(None);
        };
        let thumbprint = j.jwk.thumbprint();
        Ok(Some(AccountRecord {
            id: id.to_string(),
            jwk: j.jwk,
            thumbprint,
            status: j.status,
            contact: j.contact,
            terms_of_service_agreed: j.tos,
            orders: j.orders,
        }))
    }

    fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountRecord>, StoreError> {
        let id: Option<String> = self
            .db
            .query_opt(
                "SELECT id FROM accounts WHERE thumbprint = ?1",
                params![thumbprint],
            )
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(|e| store_error("looking up an account key", format!("{e:#}")))?;
        match id {
            Some(id) => self.account(&id),
            None => Ok(None),
        }
    }

    fn put_account(&mut self, a: AccountRecord) -> Result<(), StoreError> {
        let j = AccountJson {
            jwk: a.jwk,
            status: a.status,
            contact: a.contact,
            tos: a.terms_of_service_agreed,
            orders: a.orders,
        };
        let json = to_json("storing an account", &j)?;
        self.db
            .execute(
                "INSERT INTO accounts (id, thumbprint, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET thumbprint = ?2, json = ?3",
                params![a.id, a.thumbprint, json],
            )
            .map_err(|e| store_error("storing an account", format!("{e:#}")))?;
        Ok(())
    }

    fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self
            .owned_json::<OrderJson>("orders", "reading an order", id)?
            .map(|(account_id, j)| j.into_record(id, account_id)))
    }

    fn put_order(&mut self, o: OrderRecord) -> Result<(), StoreError> {
        let j = OrderJson {
            status: o.status,
            expires: o.expires,
            identifiers: o.identifiers,
            authz_ids: o.authz_ids,
            not_before: o.not_before,
            not_after: o.not_after,
            error: o.error,
            certificate_id: o.certificate_id,
            replaces: o.replaces,
        };
        let json = to_json("storing an order", &j)?;
        self.db
            .execute(
                "INSERT INTO orders (id, account_id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET json = ?3",
                params![o.id, o.account_id, json],
            )
            .map_err(|e| store_error("storing an order", format!("{e:#}")))?;
        Ok(())
    }

    fn authz(&self, id: &str) -> Result<Option<AuthzRecord>, StoreError> {
        Ok(self
            .owned_json::<AuthzJson>("authzs", "reading an authorization", id)?
            .map(|(account_id, j)| j.into_record(id, account_id)))
    }

    fn put_authz(&mut self, a: AuthzRecord) -> Result<(), StoreError> {
        let j = AuthzJson {
            identifier: a.identifier,
            status: a.status,
            expires: a.expires,
            challenges: a
                .challenges
                .into_iter()
                .map(|c| ChallengeJson {
                    id: c.id,
                    kind: c.kind,
                    token: c.token,
                    status: c.status,
                    validated: c.validated,
                    error: c.error,
                })
                .collect(),
            awaiting_approval: a.awaiting_approval,
        };
        let json = to_json("storing an authorization", &j)?;
        self.db
            .execute(
                "INSERT INTO authzs (id, account_id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET json = ?3",
                params![a.id, a.account_id, json],
            )
            .map_err(|e| store_error("storing an authorization", format!("{e:#}")))?;
        Ok(())
    }

    fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        self.cert_where("c.id = ?1", Value::Text(id.to_string()))
    }

    fn certificate_by_der(&self, der: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.cert_where("c.leaf_der = ?1", Value::Blob(der.to_vec()))
    }

    /// RFC 9773 §4.1: the certID's serial (indexed, `certificates_serial`).
    fn certificate_by_serial(
        &self,
        serial: &[u8],
    ) -> Result<Option<CertificateRecord>, StoreError> {
        self.cert_where("c.serial = ?1", Value::Blob(serial.to_vec()))
    }

    fn put_certificate(&mut self, c: CertificateRecord, now: Duration) -> Result<(), StoreError> {
        let device_id = self
            .order(&c.order_id)?
            .and_then(|o| o.identifiers.first().map(lantrust_acme::server::device_id))
            .unwrap_or_default();
        let cert = lantrust_ca::certificate_from_der(&c.leaf_der)
            .map_err(|e| store_error("parsing an issued certificate", e))?;
        let serial = cert.tbs_certificate.serial_number.as_bytes().to_vec();
        let not_after = cert
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs();
        let alternates = to_json("storing a certificate", &c.alternates)?;
        let now = now.as_secs() as i64;
        let r = self.db.write(|tx| {
            tx.execute(
                "INSERT INTO certificates (id, account_id, order_id, device_id, serial, not_after,
                                           issued_at, leaf_der, pem_chain, alternates)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    c.id,
                    c.account_id,
                    c.order_id,
                    device_id,
                    serial,
                    not_after as i64,
                    now,
                    c.leaf_der,
                    c.pem_chain,
                    alternates
                ],
            )?;
            if let Some(reason) = c.revoked {
                tx.execute(
                    "INSERT INTO revocations (cert_id, serial, reason, revoked_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (cert_id) DO NOTHING",
                    params![c.id, serial, reason.map(i64::from), now],
                )?;
            }
            Ok(())
        });
        r.map_err(|e| store_error("storing a certificate", format!("{e:#}")))
    }
}
