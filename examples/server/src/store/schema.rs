//! The database: schema, migrations, connection settings, and the network configuration
//! written by `init` (the names and addresses of draft §4.2). SQLite by default; PostgreSQL
//! with `init --store postgres://…` (the same tables in [`PG_SCHEMA`]).
//!
//! Every connection runs in WAL mode. The admin commands commit with `synchronous=FULL`; `serve`
//! opens its connections with `synchronous=NORMAL` ([`StateDir::open_for_serve`]) and makes its
//! commits durable before answering with one group flush of the WAL (`service/durable.rs`).

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::db::Db;
use super::dir::{DB_FILE, StateDir};

const SCHEMA: &str = "
CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (id TEXT PRIMARY KEY, thumbprint TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
CREATE TABLE orders (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE authzs (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE approvals (
    device_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'revoked')),
    names TEXT NOT NULL DEFAULT '',
    account TEXT,
    requested_at INTEGER,
    decided_at INTEGER
);
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    serial BLOB NOT NULL,
    not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    leaf_der BLOB NOT NULL,
    pem_chain TEXT NOT NULL,
    alternates TEXT NOT NULL
);
CREATE INDEX certificates_device ON certificates (device_id);
CREATE INDEX certificates_der ON certificates (leaf_der);
CREATE TABLE revocations (
    cert_id TEXT PRIMARY KEY REFERENCES certificates (id),
    serial BLOB NOT NULL,
    reason INTEGER,
    revoked_at INTEGER NOT NULL
);
";

/// Schema additions since the first release, applied to every database on open (older state
/// directories gain them at their first `serve` or admin command). Each statement is idempotent.
const MIGRATIONS: &str = "
CREATE TABLE IF NOT EXISTS order_sources (
    order_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    device_id TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS order_sources_expires ON order_sources (expires);
CREATE INDEX IF NOT EXISTS certificates_serial ON certificates (serial);
";

/// Schema version 2 (`PRAGMA user_version`): approvals bind an account key (draft §3.4.4).
/// `approvals.account`, which always held the first requester's key thumbprint, is the bound
/// key; `requesters` keeps every key that asked for a device ID. Databases from before get the
/// table, filled with each device's first requester (the key its approval was given for), once,
/// in one transaction.
const SCHEMA_VERSION: i64 = 2;
const MIGRATION_2: &str = "
CREATE TABLE IF NOT EXISTS requesters (
    device_id TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    account_id TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'denied', 'replaced')),
    names TEXT NOT NULL DEFAULT '',
    ip TEXT,
    mac TEXT,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (device_id, thumbprint)
);
CREATE INDEX IF NOT EXISTS requesters_thumbprint ON requesters (thumbprint);
INSERT OR IGNORE INTO requesters (device_id, thumbprint, account_id, names, first_seen, last_seen)
    SELECT a.device_id, a.account, (SELECT t.id FROM accounts t WHERE t.thumbprint = a.account),
           a.names, COALESCE(a.requested_at, a.decided_at, 0),
           COALESCE(a.requested_at, a.decided_at, 0)
    FROM approvals a WHERE a.account IS NOT NULL;
PRAGMA user_version = 2;
";

/// The PostgreSQL schema: [`SCHEMA`] with its migrations and the replicas' shared replay nonces, in PostgreSQL's types (BIGINT for
/// INTEGER, BYTEA for BLOB), `revocations.seq` for SQLite's rowid (the CRL lists revocations
/// in the order they were made), a hash index on the certificates' DER (a B-tree entry is
/// limited in size), and `instr` (SQLite's, which the store's SQL uses).
const PG_SCHEMA: &str = "
CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (id TEXT PRIMARY KEY, thumbprint TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
CREATE TABLE orders (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE authzs (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE approvals (
    device_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'revoked')),
    names TEXT NOT NULL DEFAULT '',
    account TEXT,
    requested_at BIGINT,
    decided_at BIGINT
);
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    serial BYTEA NOT NULL,
    not_after BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    leaf_der BYTEA NOT NULL,
    pem_chain TEXT NOT NULL,
    alternates TEXT NOT NULL
);
CREATE INDEX certificates_device ON certificates (device_id);
CREATE INDEX certificates_der ON certificates USING hash (leaf_der);
CREATE INDEX certificates_serial ON certificates (serial);
CREATE TABLE revocations (
    seq BIGSERIAL NOT NULL UNIQUE,
    cert_id TEXT PRIMARY KEY REFERENCES certificates (id),
    serial BYTEA NOT NULL,
    reason BIGINT,
    revoked_at BIGINT NOT NULL
);
CREATE TABLE order_sources (
    order_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    device_id TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX order_sources_expires ON order_sources (expires);
CREATE TABLE requesters (
    device_id TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    account_id TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'denied', 'replaced')),
    names TEXT NOT NULL DEFAULT '',
    ip TEXT,
    mac TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (device_id, thumbprint)
);
CREATE INDEX requesters_thumbprint ON requesters (thumbprint);
CREATE TABLE nonces (value TEXT PRIMARY KEY, expires BIGINT NOT NULL);
CREATE INDEX nonces_expires ON nonces (expires);
CREATE FUNCTION instr(text, text) RETURNS integer
    AS 'SELECT strpos($1, $2)' LANGUAGE sql IMMUTABLE;
";

/// The tables of [`PG_SCHEMA`]: a database holding any of them already has a lantrust store.
const PG_TABLES: &[&str] = &[
    "config",
    "accounts",
    "orders",
    "authzs",
    "approvals",
    "certificates",
    "revocations",
    "order_sources",
    "requesters",
    "nonces",
];

/// The network configuration written by `init`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Config {
    /// The server's host name (one label).
    pub(crate) name: String,
    /// The local domains.
    pub(crate) domains: Vec<String>,
    /// The server's IP addresses (in its root and HTTPS certificate).
    pub(crate) ips: Vec<IpAddr>,
}

impl StateDir {
    /// Open the database of an initialised state directory.
    pub(crate) fn open(&self) -> Result<Db> {
        if let Some(url) = self.store_url()? {
            let db = Db::postgres(&url)?;
            let has_config = db
                .query_one("SELECT to_regclass('config') IS NOT NULL", &[])
                .and_then(|r| r.get::<bool>(0))?;
            if !has_config {
                bail!(
                    "the PostgreSQL store {} named in {} has no lantrust tables; was the database dropped or restored empty? (`pg_restore` a dump of it, or `init` a new state directory)",
                    super::db::redact(&url),
                    self.store_url_file().display()
                );
            }
            return Ok(db);
        }
        let path = self.db();
        if !path.exists() {
            bail!(
                "{} is not a lantrust state directory (no {DB_FILE}); create one with `lantrust-server init --state {} --name NAME --domain DOMAIN`",
                self.dir.display(),
                self.dir.display()
            );
        }
        let conn = Connection::open(&path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        configure(&conn)?;
        migrate(&conn)?;
        Ok(Db::sqlite(conn))
    }

    /// Open the database for `serve`: `synchronous=NORMAL`, with the service's group flush
    /// (`service/durable.rs`) making each answer's commits durable before it leaves.
    pub(crate) fn open_for_serve(&self) -> Result<Db> {
        let db = self.open()?;
        if let Some(conn) = db.as_sqlite() {
            conn.pragma_update(None, "synchronous", "NORMAL")
                .context("setting synchronous=NORMAL")?;
        }
        Ok(db)
    }

    /// Load the configuration.
    pub(crate) fn config(&self, db: &Db) -> Result<Config> {
        let v: String = db
            .query_one("SELECT value FROM config WHERE key = 'network'", &[])
            .and_then(|r| r.get(0))
            .context("reading the network configuration from the database")?;
        serde_json::from_str(&v).context("the stored network configuration is corrupt")
    }
}

/// WAL, a busy timeout so the CLI and `serve` can share the database, foreign keys, and
/// `synchronous=FULL` (each admin commit is durable on its own; `serve` lowers it to NORMAL).
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Bring an existing database up to the current schema.
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(MIGRATIONS)
        .context("upgrading the database schema")?;
    let version = |c: &Connection| -> Result<i64> {
        Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    };
    if version(conn)? >= SCHEMA_VERSION {
        return Ok(());
    }
    // BEGIN IMMEDIATE: `serve` and an admin command may open an old database at once; the
    // second one waits (busy timeout), then sees the new version and does nothing.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    if version(&tx)? < SCHEMA_VERSION {
        tx.execute_batch(MIGRATION_2)
            .context("upgrading the database schema to version 2 (approvals bind a key)")?;
    }
    tx.commit()?;
    Ok(())
}

/// Create the store of the state directory `st`: the SQLite file, or with `store` (a
/// `postgres://` URL) the schema in that PostgreSQL database and the URL in `st` (mode 0600).
pub(crate) fn create_store(
    st: &StateDir,
    store: Option<&str>,
    config: &Config,
    now: Duration,
) -> Result<()> {
    let Some(url) = store else {
        return create_db(&st.db(), config, now);
    };
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        bail!(
            "--store {}: only PostgreSQL URLs are supported (postgres://USER[:PASSWORD]@HOST:PORT/DB); leave --store out for the SQLite file in the state directory",
            super::db::redact(url)
        );
    }
    let target = super::pgtls::Target::parse(url).context("--store")?;
    if let Some(w) = target.weakness() {
        eprintln!("lantrust-server: warning: --store {}: {w}", target.shown());
    }
    let db = Db::postgres(url).context("--store")?;
    db.write(|tx| {
        let existing: Vec<String> = tx
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() ORDER BY table_name",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?;
        let ours: Vec<&String> = existing
            .iter()
            .filter(|t| PG_TABLES.contains(&t.as_str()))
            .collect();
        if !ours.is_empty() {
            bail!(
                "the PostgreSQL database {} already has lantrust tables ({}): it is another network's store. Give init an empty database (`createdb NEWDB`), or to start over drop that database; replicas of one network share one state directory copy instead of running init again",
                super::db::redact(url),
                ours.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        tx.execute_batch(PG_SCHEMA)
            .context("creating the lantrust tables in PostgreSQL")?;
        tx.execute(
            "INSERT INTO config (key, value) VALUES ('network', ?1), ('created', ?2), ('crl_number', '0')",
            super::db::params![serde_json::to_string(config)?, now.as_secs().to_string()],
        )?;
        Ok(())
    })?;
    super::dir::write_atomic(&st.store_url_file(), format!("{url}\n").as_bytes(), 0o600)
}

/// Create the database with its schema and configuration (in one transaction). The file is
/// created 0600 first: SQLite gives its -wal and -shm files the database file's mode.
pub(crate) fn create_db(path: &Path, config: &Config, now: Duration) -> Result<()> {
    {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
    }
    let mut conn =
        Connection::open(path).with_context(|| format!("creating {}", path.display()))?;
    configure(&conn)?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(MIGRATIONS)?;
    tx.execute_batch(MIGRATION_2)?;
    tx.execute(
        "INSERT INTO config (key, value) VALUES ('network', ?1), ('created', ?2), ('crl_number', '0')",
        params![serde_json::to_string(config)?, now.as_secs().to_string()],
    )?;
    tx.commit()?;
    Ok(())
}
