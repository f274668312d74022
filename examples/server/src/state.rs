//! The state directory: root certificate and key files, and the SQLite database (WAL) holding the
//! configuration, ACME accounts/orders/authorizations, approvals, certificates and revocations.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use lantrust_acme::server::{
    AccountRecord, AuthzRecord, CertificateRecord, OrderRecord, Store, StoreError,
};
use lantrust_acme::{
    AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, Jwk,
    OrderStatus, Problem,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// File names inside the state directory.
pub(crate) const DB_FILE: &str = "lantrust.db";
pub(crate) const ROOT_CERT_FILE: &str = "root.pem";
pub(crate) const ROOT_KEY_FILE: &str = "root-key.pem";
pub(crate) const ADMIN_TOKEN_FILE: &str = "admin-token";

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
";

/// Seconds since the Unix epoch (the binaries own the clock).
pub(crate) fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

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

/// Paths of a state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    pub(crate) dir: PathBuf,
}

impl StateDir {
    pub(crate) fn new(dir: &Path) -> Self {
        StateDir {
            dir: dir.to_path_buf(),
        }
    }
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }
    pub(crate) fn root_cert(&self) -> PathBuf {
        self.dir.join(ROOT_CERT_FILE)
    }
    pub(crate) fn root_key(&self) -> PathBuf {
        self.dir.join(ROOT_KEY_FILE)
    }
    pub(crate) fn admin_token(&self) -> PathBuf {
        self.dir.join(ADMIN_TOKEN_FILE)
    }

    /// Refuse a state directory that others could tamper with or read secrets from: the
    /// directory and the database must not be group/world-writable, the root key and the admin
    /// token not group/world-readable. Local access to this directory is what authorises the
    /// approval commands (issue 9), so its permissions are the access control.
    pub(crate) fn check_private(&self) -> Result<()> {
        check_mode(&self.dir, 0o022, "700")?;
        for f in [self.root_key(), self.admin_token()] {
            check_mode(&f, 0o077, "600")?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut db = self.db().into_os_string();
            db.push(suffix);
            check_mode(Path::new(&db), 0o022, "600")?;
        }
        Ok(())
    }

    /// Create the admin token (256 random bits, hex, mode 0600) unless it exists; older state
    /// directories get theirs at the first `serve`.
    pub(crate) fn ensure_admin_token(&self) -> Result<bool> {
        if self.admin_token().exists() {
            return Ok(false);
        }
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut());
        let mut hex = zeroize::Zeroizing::new(String::with_capacity(65));
        for b in raw.iter() {
            hex.push_str(&format!("{b:02x}"));
        }
        hex.push('\n');
        lantrust_cli::fs::write_atomic(
            &self.admin_token(),
            hex.as_bytes(),
            lantrust_cli::fs::Mode::Secret,
        )?;
        Ok(true)
    }
}

/// Refuse `path` when its mode has any of the `forbidden` bits (a missing file is fine).
fn check_mode(path: &Path, forbidden: u32, fix: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("checking {}", path.display())),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & forbidden != 0 {
        let who = if forbidden & 0o044 != 0 {
            "readable or writable"
        } else {
            "writable"
        };
        bail!(
            "{} has mode {mode:04o}: it is {who} by other users, who could then approve devices or take the network's keys; fix it with `chmod {fix} {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Read an admin token file (trimmed); refuses one readable by other users.
pub(crate) fn read_token(path: &Path) -> Result<zeroize::Zeroizing<String>> {
    check_mode(path, 0o077, "600")?;
    let s = zeroize::Zeroizing::new(
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let t = s.trim();
    if t.is_empty() {
        bail!(
            "{} is empty; it should hold the admin token",
            path.display()
        );
    }
    Ok(zeroize::Zeroizing::new(t.to_string()))
}

impl StateDir {
    /// Open the database of an initialised state directory.
    pub(crate) fn open(&self) -> Result<Connection> {
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
        Ok(conn)
    }

    /// Load the configuration.
    pub(crate) fn config(&self, conn: &Connection) -> Result<Config> {
        let v: String = conn
            .query_row("SELECT value FROM config WHERE key = 'network'", [], |r| {
                r.get(0)
            })
            .context("reading the network configuration from the database")?;
        serde_json::from_str(&v).context("the stored network configuration is corrupt")
    }
}

/// WAL, a busy timeout so the CLI and `serve` can share the database, foreign keys.
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
        .context("upgrading the database schema")
}

/// Create the database with its schema and configuration (in one transaction). The file is
/// created 0600 first: SQLite gives its -wal and -shm files the database file's mode.
pub(crate) fn create_db(path: &Path, config: &Config) -> Result<()> {
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
    tx.execute(
        "INSERT INTO config (key, value) VALUES ('network', ?1), ('created', ?2), ('crl_number', '0')",
        params![serde_json::to_string(config)?, now().as_secs().to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Write `data` to `path` atomically with `mode`: a temporary file in the same directory,
/// fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("lantrust")
    ));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

// -------------------------------------------------------------------------------------------
// Approvals

/// An approval row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ApprovalRow {
    pub(crate) device_id: String,
    pub(crate) state: String,
    pub(crate) names: Vec<String>,
    pub(crate) account: Option<String>,
    pub(crate) requested_at: Option<u64>,
    pub(crate) decided_at: Option<u64>,
    pub(crate) certificates: u64,
    pub(crate) revoked_certificates: u64,
}

pub(crate) fn approvals(conn: &Connection, only_pending: bool) -> Result<Vec<ApprovalRow>> {
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
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        let names: String = r.get(2)?;
        Ok(ApprovalRow {
            device_id: r.get(0)?,
            state: r.get(1)?,
            names: names
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            account: r.get(3)?,
            requested_at: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
            decided_at: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
            certificates: r.get::<_, i64>(6)? as u64,
            revoked_certificates: r.get::<_, i64>(7)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn approval_state(conn: &Connection, device_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT state FROM approvals WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Record that `device_id` asked (first time: pending). Returns the current state.
pub(crate) fn request_approval(
    conn: &Connection,
    device_id: &str,
    name: &str,
    account: &str,
    auto_approve: bool,
) -> Result<String> {
    let now = now().as_secs() as i64;
    let initial = if auto_approve { "approved" } else { "pending" };
    conn.execute(
        "INSERT INTO approvals (device_id, state, names, account, requested_at, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?2 = 'approved' THEN ?5 END)
         ON CONFLICT (device_id) DO UPDATE SET
            names = CASE WHEN instr(',' || names || ',', ',' || ?3 || ',') > 0 THEN names
                         WHEN names = '' THEN ?3 ELSE names || ',' || ?3 END,
            account = COALESCE(account, ?4),
            requested_at = COALESCE(requested_at, ?5)",
        params![device_id, initial, name, account, now],
    )?;
    Ok(approval_state(conn, device_id)?.unwrap_or_else(|| initial.to_string()))
}

/// Set a decision (`approved`, `denied`, `revoked`), creating the row when the device has not
/// asked yet (pre-approval). Returns the previous state.
pub(crate) fn decide(conn: &Connection, device_id: &str, state: &str) -> Result<Option<String>> {
    let before = approval_state(conn, device_id)?;
    conn.execute(
        "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET state = ?2, decided_at = ?3",
        params![device_id, state, now().as_secs() as i64],
    )?;
    Ok(before)
}

/// Revoke the approval and every unrevoked certificate of the device (one transaction).
/// Returns the number of certificates revoked now.
pub(crate) fn revoke_device(conn: &mut Connection, device_id: &str) -> Result<usize> {
    let tx = conn.transaction()?;
    let now = now().as_secs() as i64;
    tx.execute(
        "INSERT INTO approvals (device_id, state, decided_at) VALUES (?1, 'revoked', ?2)
         ON CONFLICT (device_id) DO UPDATE SET state = 'revoked', decided_at = ?2",
        params![device_id, now],
    )?;
    // Reason 9: privilegeWithdrawn (RFC 5280 §5.3.1), the approval was taken back.
    let n = tx.execute(
        "INSERT INTO revocations (cert_id, serial, reason, revoked_at)
         SELECT c.id, c.serial, 9, ?2 FROM certificates c
         WHERE c.device_id = ?1 AND c.id NOT IN (SELECT cert_id FROM revocations)",
        params![device_id, now],
    )?;
    tx.commit()?;
    Ok(n)
}

// -------------------------------------------------------------------------------------------
// Sources of orders (abuse limits)

/// Remember which source address created `order_id` (for the pending-order caps).
pub(crate) fn record_order_source(
    conn: &Connection,
    order_id: &str,
    source: IpAddr,
    device_id: &str,
    expires: u64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO order_sources (order_id, source, device_id, expires) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_id) DO NOTHING",
        params![order_id, source.to_string(), device_id, expires as i64],
    )?;
    Ok(())
}

/// Orders waiting for a human (§3.4.4): still `pending`, not expired, and their device neither
/// approved nor denied. Returns (from `source`, in total). Forgets expired rows on the way.
pub(crate) fn pending_orders(conn: &Connection, source: IpAddr, now: u64) -> Result<(u64, u64)> {
    conn.execute(
        "DELETE FROM order_sources WHERE expires <= ?1",
        [now as i64],
    )?;
    let (from, total): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(s.source = ?1), 0), COUNT(*)
         FROM order_sources s
         JOIN orders o ON o.id = s.order_id
         LEFT JOIN approvals a ON a.device_id = s.device_id
         WHERE s.expires > ?2
           AND json_extract(o.json, '$.status') = 'pending'
           AND (a.state IS NULL OR a.state = 'pending')",
        params![source.to_string(), now as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((from as u64, total as u64))
}

/// A certificate row (for `list --json` and tests).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CertRow {
    pub(crate) id: String,
    pub(crate) device_id: String,
    pub(crate) serial: String,
    pub(crate) not_after: u64,
    pub(crate) revoked: bool,
}

pub(crate) fn certificates(conn: &Connection) -> Result<Vec<CertRow>> {
    let mut st = conn.prepare(
        "SELECT c.id, c.device_id, c.serial, c.not_after, r.cert_id IS NOT NULL
         FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id
         ORDER BY c.issued_at",
    )?;
    let rows = st.query_map([], |r| {
        let serial: Vec<u8> = r.get(2)?;
        Ok(CertRow {
            id: r.get(0)?,
            device_id: r.get(1)?,
            serial: serial.iter().map(|b| format!("{b:02x}")).collect(),
            not_after: r.get::<_, i64>(3)? as u64,
            revoked: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A revoked serial for the CRL: (serial bytes, reason code, revoked_at seconds).
pub(crate) type Revoked = (Vec<u8>, Option<u8>, u64);

/// Every revoked serial, oldest first.
pub(crate) fn revocations(conn: &Connection) -> Result<Vec<Revoked>> {
    let mut st =
        conn.prepare("SELECT serial, reason, revoked_at FROM revocations ORDER BY rowid")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Option<i64>>(1)?.map(|v| v as u8),
            r.get::<_, i64>(2)? as u64,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next CRL number (incremented in the database so it grows across restarts).
pub(crate) fn next_crl_number(conn: &mut Connection) -> Result<u64> {
    let tx = conn.transaction()?;
    let n: String = tx.query_row(
        "SELECT value FROM config WHERE key = 'crl_number'",
        [],
        |r| r.get(0),
    )?;
    let n = n.parse::<u64>().unwrap_or(0) + 1;
    tx.execute(
        "UPDATE config SET value = ?1 WHERE key = 'crl_number'",
        [n.to_string()],
    )?;
    tx.commit()?;
    Ok(n)
}

// -------------------------------------------------------------------------------------------
// The ACME store

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

/// The SQLite-backed [`Store`]. Each `put_*` is one committed statement (or transaction) on a
/// `synchronous=NORMAL` connection: written to the WAL in order, made durable before the answer
/// by the group flush (`durable.rs`). A failure is logged here with its cause and returned as a
/// [`StoreError`], which the core turns into a `serverInternal` problem for that request.
pub(crate) struct SqliteStore {
    conn: Connection,
}

/// Log a database failure (the detail stays in the operator's log) and wrap it.
fn store_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    tracing::error!(error = %e, "database: {what} failed");
    StoreError::new(format!("{what}: {e}"))
}

impl SqliteStore {
    pub(crate) fn new(conn: Connection) -> Self {
        SqliteStore { conn }
    }

    fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        what: &str,
        sql: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let s: Option<String> = self
            .conn
            .query_row(sql, [key], |r| r.get(0))
            .optional()
            .map_err(|e| store_error(what, e))?;
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| store_error(&format!("{what} (corrupt record)"), e))
    }

    fn cert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertificateRecord> {
        let alternates: String = r.get(4)?;
        let revoked = if r.get::<_, bool>(6)? {
            Some(r.get::<_, Option<i64>>(7)?.map(|v| v as u8))
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
        key: &dyn rusqlite::ToSql,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.account_id, c.order_id, c.pem_chain, c.alternates, c.leaf_der,
                    r.cert_id IS NOT NULL, r.reason
             FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id WHERE {clause}"
        );
        self.conn
            .query_row(&sql, [key], Self::cert_from_row)
            .optional()
            .map_err(|e| store_error("reading a certificate", e))
    }

    fn account_id_of(&self, table: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT account_id FROM {table} WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| store_error(&format!("reading {table}"), e))
    }
}

fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| store_error(what, e))
}

impl Store for SqliteStore {
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
            .conn
            .query_row(
                "SELECT id FROM accounts WHERE thumbprint = ?1",
                [thumbprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| store_error("looking up an account key", e))?;
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
        self.conn
            .execute(
                "INSERT INTO accounts (id, thumbprint, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET thumbprint = ?2, json = ?3",
                params![a.id, a.thumbprint, json],
            )
            .map_err(|e| store_error("storing an account", e))?;
        Ok(())
    }

    fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let Some(account_id) = self.account_id_of("orders", id)? else {
            return Ok(None);
        };
        let Some(j): Option<OrderJson> = self.get_json(
            "reading an order",
            "SELECT json FROM orders WHERE id = ?1",
            id,
        )?
        else {
            return Ok(None);
        };
        Ok(Some(OrderRecord {
            id: id.to_string(),
            account_id,
            status: j.status,
            expires: j.expires,
            identifiers: j.identifiers,
            authz_ids: j.authz_ids,
            not_before: j.not_before,
            not_after: j.not_after,
            error: j.error,
            certificate_id: j.certificate_id,
            replaces: j.replaces,
        }))
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
        self.conn
            .execute(
                "INSERT INTO orders (id, account_id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET json = ?3",
                params![o.id, o.account_id, json],
            )
            .map_err(|e| store_error("storing an order", e))?;
        Ok(())
    }

    fn authz(&self, id: &str) -> Result<Option<AuthzRecord>, StoreError> {
        let Some(account_id) = self.account_id_of("authzs", id)? else {
            return Ok(None);
        };
        let Some(j): Option<AuthzJson> = self.get_json(
            "reading an authorization",
            "SELECT json FROM authzs WHERE id = ?1",
            id,
        )?
        else {
            return Ok(None);
        };
        Ok(Some(AuthzRecord {
            id: id.to_string(),
            account_id,
            identifier: j.identifier,
            status: j.status,
            expires: j.expires,
            challenges: j
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
            awaiting_approval: j.awaiting_approval,
        }))
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
        self.conn
            .execute(
                "INSERT INTO authzs (id, account_id, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET json = ?3",
                params![a.id, a.account_id, json],
            )
            .map_err(|e| store_error("storing an authorization", e))?;
        Ok(())
    }

    fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        self.cert_where("c.id = ?1", &id)
    }

    fn certificate_by_der(&self, der: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.cert_where("c.leaf_der = ?1", &der)
    }

    fn put_certificate(&mut self, c: CertificateRecord) -> Result<(), StoreError> {
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
        let now = now().as_secs() as i64;
        let r = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
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
            tx.commit()
        })();
        r.map_err(|e| store_error("storing a certificate", e))
    }
}
