//! The database handle the rest of the server holds ([`Db`]), and the few primitives the store
//! runs its SQL through: statements with typed parameters, rows of typed values, and
//! transactions that run a closure.
//!
//! The store's SQL is written once, in SQLite's `?N` placeholder style, portable where it can
//! be; where the dialects differ (JSON access, row order of insertion) the store asks
//! [`Db::dialect`] for the fragment.

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
}

/// A connection to the store's database.
pub(crate) struct Db {
    backend: Backend,
    /// Transactions open on this connection: an inner [`Db::write`] or [`Db::read`] joins the
    /// outer one.
    depth: std::cell::Cell<u32>,
}

enum Backend {
    Sqlite(rusqlite::Connection),
}

impl Db {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Self {
        Db {
            backend: Backend::Sqlite(conn),
            depth: std::cell::Cell::new(0),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match &self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The SQLite connection, for what only SQLite has (`PRAGMA`s, the online backup).
    pub(crate) fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
        }
    }

    /// Run one statement; the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?)
            }
        }
    }

    /// Run several statements separated by `;` (no parameters).
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
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
        match &self.backend {
            Backend::Sqlite(c) => {
                c.execute_batch(if write { "BEGIN IMMEDIATE" } else { "BEGIN" })?;
            }
        }
        self.depth.set(1);
        let r = f(self);
        self.depth.set(0);
        match (&self.backend, &r) {
            (Backend::Sqlite(c), Ok(_)) => {
                if let Err(e) = c.execute_batch("COMMIT") {
                    let _ = c.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
            }
            (Backend::Sqlite(c), Err(_)) => {
                let _ = c.execute_batch("ROLLBACK");
            }
        }
        r
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
