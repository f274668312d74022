//! The database handle the rest of the server holds ([`Db`]), and the few primitives the store
//! runs its SQL through: statements with typed parameters, rows of typed values, and
//! transactions that run a closure.
//!
//! Two backends: SQLite (the default, one file in the state directory) and PostgreSQL
//! (`init --store postgres://…`, shared by several `serve` replicas, issue 19). The store's SQL
//! is written once, in SQLite's `?N` placeholder style (rewritten to `$N` for PostgreSQL),
//! portable where it can be; where the dialects differ (JSON access, row order of insertion)
//! the store asks [`Db::dialect`] for the fragment.
//!
//! The PostgreSQL client is the blocking `postgres` crate, which runs its own runtime: a [`Db`]
//! is used on blocking threads only (`spawn_blocking`, the watcher threads, the one-shot
//! commands), never on the async workers.

use std::cell::{Cell, RefCell};

use anyhow::{Context, Result, anyhow, bail};

use super::approvals::ApprovalState;

/// A value bound to a statement or read from a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER; booleans read as 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB).
    Blob(Vec<u8>),
}

/// A parameter of a statement ([`params!`] converts its arguments with this).
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for ApprovalState {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_string())
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// The parameters of a statement, as `&[Value]`: `params![device_id, now]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$p)),*][..]
    };
}
pub(crate) use params;

/// A column of a row read as a Rust value.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(*i),
            other => bail!("expected an integer, found {other:?}"),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => bail!("expected text, found {other:?}"),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            // SQLite hands back what was stored; a BLOB column may hold text.
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => bail!("expected bytes, found {other:?}"),
        }
    }
}
impl FromValue for ApprovalState {
    fn from_value(v: &Value) -> Result<Self> {
        match String::from_value(v)?.as_str() {
            "pending" => Ok(ApprovalState::Pending),
            "approved" => Ok(ApprovalState::Approved),
            "denied" => Ok(ApprovalState::Denied),
            "revoked" => Ok(ApprovalState::Revoked),
            other => bail!("unknown approval state {other:?}"),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row.
#[derive(Clone, Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Column `i` (from 0) as a `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| anyhow!("the query has no column {i}"))?;
        T::from_value(v).with_context(|| format!("column {i}"))
    }
}

/// Which SQL dialect a [`Db`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The advisory lock every PostgreSQL write transaction takes first (any constant: the
/// database belongs to lantrust). It serialises them as SQLite's `BEGIN IMMEDIATE` does: across
/// every replica and admin command, a read-then-write transaction (an approval decision, a CRL
/// number, a key rebinding, an issuance) sees the rows as no other writer is changing them.
const PG_WRITE_LOCK: i64 = 0x6c61_6e74_7275_7374;

/// A connection to the store's database.
pub(crate) struct Db {
    backend: Backend,
    /// Transactions open on this connection: an inner [`Db::write`] or [`Db::read`] joins the
    /// outer one.
    depth: Cell<u32>,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres {
        target: Box<super::pgtls::Target>,
        /// `None` after the connection was lost: the next statement reconnects.
        client: RefCell<Option<Box<postgres::Client>>>,
    },
}

impl Drop for Db {
    fn drop(&mut self) {
        // The postgres client's drop runs its own runtime to say goodbye, which panics on an
        // async worker (a Db held by the service is dropped there at shutdown). Inside a tokio
        // runtime, where this thread may be such a worker, it is dropped on a thread of its own.
        if let Backend::Postgres { client, .. } = &mut self.backend
            && tokio::runtime::Handle::try_current().is_ok()
            && let Some(c) = client.get_mut().take()
        {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(c));
        }
    }
}

impl Db {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Self {
        Db {
            backend: Backend::Sqlite(conn),
            depth: Cell::new(0),
        }
    }

    /// Connect to the PostgreSQL database at `url`
    /// (`postgres://USER[:PASSWORD]@HOST:PORT/DB[?sslmode=…&sslrootcert=…]`, TLS as
    /// [`super::pgtls`] describes).
    pub(crate) fn postgres(url: &str) -> Result<Self> {
        let target = super::pgtls::Target::parse(url)?;
        let client = pg_connect(&target)?;
        Ok(Db {
            backend: Backend::Postgres {
                target: Box::new(target),
                client: RefCell::new(Some(Box::new(client))),
            },
            depth: Cell::new(0),
        })
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match &self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (`PRAGMA`s, the online backup).
    pub(crate) fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres { .. } => None,
        }
    }

    /// Run `f` on the PostgreSQL client, connecting again when the connection was lost (the
    /// server restarted, a failover, an idle connection cut): outside a transaction, a statement
    /// that failed because the connection had closed is run once more on a new one, so that a
    /// replica's long-lived connections heal without failing a request. Inside a transaction
    /// the error stands (the transaction is gone with its connection).
    fn with_pg<T>(
        target: &super::pgtls::Target,
        client: &RefCell<Option<Box<postgres::Client>>>,
        in_transaction: bool,
        mut f: impl FnMut(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut slot = client
            .try_borrow_mut()
            .map_err(|_| anyhow!("the database connection is already in use"))?;
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            if in_transaction {
                bail!("the connection to PostgreSQL was lost in the middle of a transaction");
            }
            *slot = None;
            *slot = Some(Box::new(pg_connect(target)?));
        }
        let c = slot
            .as_mut()
            .ok_or_else(|| anyhow!("no PostgreSQL connection"))?;
        match f(c) {
            Ok(v) => Ok(v),
            Err(e) if !in_transaction && c.is_closed() => {
                tracing::warn!(error = %pg_error(&e), "the PostgreSQL connection was lost; connecting again");
                *slot = None;
                let c = slot.insert(Box::new(pg_connect(target)?));
                f(c).map_err(|e| anyhow!(pg_error(&e)))
            }
            Err(e) => Err(anyhow!(pg_error(&e))),
        }
    }

    /// Run one statement; the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?)
            }
            Backend::Postgres { target, client } => {
                let sql = pg_sql(sql);
                let refs = pg_params(params);
                let n = Self::with_pg(target, client, self.depth.get() > 0, |c| {
                    c.execute(sql.as_str(), &refs)
                })?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Run several statements separated by `;` (no parameters).
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres { target, client } => {
                Self::with_pg(target, client, self.depth.get() > 0, |c| {
                    c.batch_execute(sql)
                })
            }
        }
    }

    /// Every row of a query.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let mut rows =
                    st.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        row.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Value::Int(f as i64),
                            rusqlite::types::ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                        });
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
            Backend::Postgres { target, client } => {
                let sql = pg_sql(sql);
                let refs = pg_params(params);
                let rows = Self::with_pg(target, client, self.depth.get() > 0, |c| {
                    c.query(sql.as_str(), &refs)
                })?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query; an error when there is none.
    pub(crate) fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| anyhow!("the query returned no row"))
    }

    /// Run `f` in a transaction that reads and then writes, serialised with every other such
    /// transaction on the database (SQLite: `BEGIN IMMEDIATE`, which waits for the busy
    /// timeout instead of failing when a deferred transaction cannot be upgraded). Committed
    /// when `f` returns `Ok`, rolled back otherwise.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        self.transaction(true, f)
    }

    /// Run `f` in a read transaction: every query in it sees one snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        self.transaction(false, f)
    }

    fn transaction<T>(&self, write: bool, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        if self.depth.get() > 0 {
            return f(self);
        }
        let begin = match (&self.backend, write) {
            (Backend::Sqlite(_), true) => "BEGIN IMMEDIATE".to_string(),
            (Backend::Sqlite(_), false) => "BEGIN".to_string(),
            (Backend::Postgres { .. }, true) => {
                format!("BEGIN; SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
            }
            (Backend::Postgres { .. }, false) => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string()
            }
        };
        self.execute_batch(&begin)?;
        self.depth.set(1);
        let r = f(self);
        // Still inside: a COMMIT must not go to a fresh connection after the one holding the
        // transaction was lost (PostgreSQL would answer it with a mere warning).
        let end = self.execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" });
        self.depth.set(0);
        match (&r, end) {
            (Ok(_), Err(e)) => {
                let _ = self.execute_batch("ROLLBACK");
                Err(e)
            }
            _ => r,
        }
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn pg_connect(target: &super::pgtls::Target) -> Result<postgres::Client> {
    target.connect().map_err(|e| {
        let error = pg_error(&e);
        let hint = target
            .hint(&error)
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        anyhow!(
            "connecting to the PostgreSQL store {}: {error}{hint}",
            target.shown()
        )
    })
}

/// A PostgreSQL error with the server's message and SQLSTATE when there is one.
fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} (SQLSTATE {})", d.message(), d.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s
        }
    }
}

/// `url` with its password, if any, replaced by `***` (for messages and logs).
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The user information ends at the authority's last `@` (a path or query may hold more).
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N`.
fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// A PostgreSQL row as [`Value`]s: integers of any width and booleans as `Int`, text as
/// `Text`, `bytea` as `Blob`.
fn pg_row(r: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    let mut row = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *t == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME || *t == Type::BPCHAR
        {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else {
            bail!("column {} has the unexpected type {t}", col.name());
        };
        row.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(row))
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Int(i) if *ty == Type::TEXT || *ty == Type::VARCHAR => {
                i.to_string().to_sql(ty, out)
            }
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_passwords() {
        assert_eq!(
            pg_sql("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?10) AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $10) AND d = '?'"
        );
        assert_eq!(
            redact("postgres://u:secret@db:5432/lt"),
            "postgres://u:***@db:5432/lt"
        );
        assert_eq!(redact("postgres://u@db/lt"), "postgres://u@db/lt");
        assert_eq!(
            redact("postgres://u:p@ss@db/lt?sslmode=verify-full&sslrootcert=/a@b/ca.pem"),
            "postgres://u:***@db/lt?sslmode=verify-full&sslrootcert=/a@b/ca.pem"
        );
    }
}
