//! The state directory (draft §3.4.4: local access to it authorises the approval commands):
//! file names, the modes that make it private, the admin token, atomic file writes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// File names inside the state directory.
pub(crate) const DB_FILE: &str = "lantrust.db";
pub(crate) const ROOT_CERT_FILE: &str = "root.pem";
pub(crate) const ROOT_KEY_FILE: &str = "root-key.pem";
pub(crate) const ADMIN_TOKEN_FILE: &str = "admin-token";
/// Present when the store is PostgreSQL (`init --store postgres://…`): its URL, which may hold
/// a password (mode 0600). Without it the store is the SQLite file [`DB_FILE`].
pub(crate) const STORE_URL_FILE: &str = "store-url";

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
    /// The latest signed CRL, DER, kept by `serve` for a plain-HTTP distribution point.
    pub(crate) fn crl_copy(&self) -> PathBuf {
        self.dir.join("crl.der")
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
    pub(crate) fn store_url_file(&self) -> PathBuf {
        self.dir.join(STORE_URL_FILE)
    }

    /// The PostgreSQL store's URL, when the state directory has one (else the store is SQLite).
    pub(crate) fn store_url(&self) -> Result<Option<zeroize::Zeroizing<String>>> {
        let path = self.store_url_file();
        if !path.exists() {
            return Ok(None);
        }
        check_mode(&path, 0o077, "600")?;
        let s = zeroize::Zeroizing::new(
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
        );
        let url = s.trim();
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            bail!(
                "{} should hold the PostgreSQL store's URL (postgres://USER@HOST:PORT/DB)",
                path.display()
            );
        }
        Ok(Some(zeroize::Zeroizing::new(url.to_string())))
    }

    /// Whether the state directory was initialised (it has a database, or a store URL).
    pub(crate) fn has_store(&self) -> bool {
        self.db().exists() || self.store_url_file().exists()
    }

    /// Refuse a state directory that others could tamper with or read secrets from: the
    /// directory and the database must not be group/world-writable, the root key and the admin
    /// token not group/world-readable. Local access to this directory is what authorises the
    /// approval commands (issue 9), so its permissions are the access control.
    pub(crate) fn check_private(&self) -> Result<()> {
        check_mode(&self.dir, 0o022, "700")?;
        for f in [self.root_key(), self.admin_token(), self.store_url_file()] {
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
