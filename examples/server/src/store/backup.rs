//! `backup` and `restore` of a state directory, safe to run while `serve` runs.
//!
//! The archive is a tar file: `manifest.json` first (format, creation time, and each file's
//! name, size, mode and SHA-256), then the files — a consistent copy of the database made with
//! SQLite's online backup API (a snapshot even while `serve` writes), the root and its key, the
//! admin token and any other file of the state directory. With a passphrase, the tar is
//! encrypted with age (scrypt passphrase recipient; `age -d` opens it). The archive is written
//! 0600, atomically.
//!
//! `restore` reads the whole archive, checks every file against the manifest, writes the state
//! into a private staging directory, opens the database (`PRAGMA integrity_check`) and loads
//! the root with its key there, and only then renames the directory into place: a damaged
//! archive or a wrong passphrase leaves no directory at all.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dir::{DB_FILE, ROOT_CERT_FILE, ROOT_KEY_FILE, StateDir};

/// The subordinate CA's certificate and chain (`crate::subca`).
const SUBCA_FILE: &str = "subca.pem";

/// The archive's format name and version (in its manifest).
const FORMAT: &str = "lantrust-server-backup";
const VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// Larger archives are refused before they are read into memory.
const MAX_ARCHIVE: u64 = 1 << 30;
/// The start of an age file (age-encryption.org/v1).
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

#[derive(clap::Args, Debug)]
pub(crate) struct BackupArgs {
    /// The state directory to back up (`serve` may be running on it).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Encrypt with the passphrase on the first line of FILE (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The archive to write (mode 0600; must not exist).
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RestoreArgs {
    /// The state directory to create (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The passphrase the archive was encrypted with, on the first line of FILE (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The archive `backup` wrote.
    archive: PathBuf,
}

#[derive(Serialize, Deserialize, Debug)]
struct Manifest {
    format: String,
    version: u32,
    /// Unix seconds.
    created: u64,
    files: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
struct FileEntry {
    name: String,
    size: u64,
    mode: u32,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_passphrase(file: &Path) -> Result<age::secrecy::SecretString> {
    let text = zeroize::Zeroizing::new(if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the passphrase from standard input")?;
        s
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("reading the passphrase from {}", file.display()))?
    });
    let line = text.lines().next().unwrap_or_default();
    ensure!(
        !line.is_empty(),
        "the passphrase in {} is empty",
        file.display()
    );
    Ok(age::secrecy::SecretString::from(line.to_string()))
}

/// A consistent copy of the database at `src` into the new file `dst` (mode 0600), through the
/// online backup API: one step copies every page under a single read transaction, so the copy
/// is a snapshot even while `serve` commits (WAL readers do not block the writer).
fn copy_database(src: &Path, dst: &Path) -> Result<()> {
    // Read-write (nothing is written): a read-only connection cannot remove the -wal and -shm
    // files it creates when `serve` is stopped, and an administrator running this as root would
    // leave root-owned files that lock the service user out. See also `keep_owner`.
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} to back it up", src.display()))?;
    from.busy_timeout(Duration::from_secs(10))?;
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dst)
            .with_context(|| format!("creating {}", dst.display()))?;
    }
    let mut to = Connection::open(dst)?;
    {
        let backup = Backup::new(&from, &mut to).context("starting the SQLite online backup")?;
        let mut waited = Duration::ZERO;
        loop {
            match backup.step(-1).context("copying the database")? {
                StepResult::Done => break,
                StepResult::More => {}
                // A writer holds a lock for a moment (a checkpoint): try again shortly.
                StepResult::Busy | StepResult::Locked => {
                    ensure!(
                        waited < Duration::from_secs(30),
                        "the database stayed locked for 30 s"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                }
                _ => bail!("unexpected SQLite backup step result"),
            }
        }
    }
    // One self-contained file: no -wal beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    check_database(&to)?;
    Ok(())
}

fn check_database(conn: &Connection) -> Result<()> {
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .context("checking the database")?;
    ensure!(
        ok == "ok",
        "the database copy fails its integrity check: {ok}"
    );
    Ok(())
}

/// The files of the state directory besides the database: every regular file whose name does
/// not start with `.` (temporary files) and is not the database or its -wal/-shm.
fn state_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let is_db = name == DB_FILE || name.starts_with(&format!("{DB_FILE}-"));
        if name.starts_with('.') || is_db || !e.file_type()?.is_file() {
            continue;
        }
        out.push(name);
    }
    out.sort();
    ensure!(
        out.iter().any(|n| n == ROOT_KEY_FILE),
        "{} has no {ROOT_KEY_FILE}: not a lantrust state directory",
        dir.display()
    );
    // The CA certificate: the self-signed root, or a subordinate CA's (issue 19).
    ensure!(
        out.iter().any(|n| n == ROOT_CERT_FILE || n == SUBCA_FILE),
        "{} has neither {ROOT_CERT_FILE} nor {SUBCA_FILE}: not a lantrust state directory (a subordinate CA must be imported with `import-ca` first)",
        dir.display()
    );
    Ok(out)
}

/// `backup` and `restore` copy the SQLite file; a PostgreSQL store is the database's to back up.
fn refuse_postgres(st: &StateDir, what: &str) -> Result<()> {
    if st.store_url_file().exists() {
        bail!(
            "{} keeps its records in PostgreSQL (its URL is in {}): {what} covers the SQLite store only. Back up the database with `pg_dump -Fc` (restore with `pg_restore`) and the state directory's files with it — the CA key {}, {}, the admin token, {} and any earlier roots (previous-root-*.pem) — e.g. `tar -C {} -cf state.tar .` while no `rotate-root` runs",
            st.dir.display(),
            st.store_url_file().display(),
            ROOT_KEY_FILE,
            ROOT_CERT_FILE,
            super::dir::STORE_URL_FILE,
            st.dir.display()
        );
    }
    Ok(())
}

pub(crate) fn backup(a: BackupArgs) -> Result<()> {
    let st = StateDir::new(&a.state);
    st.check_private()?;
    refuse_postgres(&st, "backup")?;
    ensure!(
        st.db().exists(),
        "{} is not a lantrust state directory (no {DB_FILE})",
        a.state.display()
    );
    ensure!(
        !a.out.exists(),
        "{} exists; not overwriting it",
        a.out.display()
    );
    let passphrase = a
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let scratch = tempfile::Builder::new()
        .prefix(".lantrust-backup-")
        .tempdir_in(
            a.out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .context("making a scratch directory beside the archive")?;
    let db_copy = scratch.path().join(DB_FILE);
    let sidecars = [suffixed(&st.db(), "-wal"), suffixed(&st.db(), "-shm")];
    let existed = sidecars.clone().map(|p| p.exists());
    let copied = copy_database(&st.db(), &db_copy);
    keep_owner(&st.db(), &sidecars, existed);
    copied?;

    let mut files: Vec<(String, u32, zeroize::Zeroizing<Vec<u8>>)> = Vec::new();
    files.push((
        DB_FILE.to_string(),
        0o600,
        zeroize::Zeroizing::new(std::fs::read(&db_copy)?),
    ));
    for name in state_files(&a.state)? {
        let path = a.state.join(&name);
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mode = file_mode(&name);
        files.push((name, mode, zeroize::Zeroizing::new(data)));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        created: super::now().as_secs(),
        files: files
            .iter()
            .map(|(name, mode, data)| FileEntry {
                name: name.clone(),
                size: data.len() as u64,
                mode: *mode,
                sha256: hex(&Sha256::digest(data.as_slice())),
            })
            .collect(),
    };
    let mut tar = tar::Builder::new(Vec::new());
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    append(&mut tar, MANIFEST, 0o600, &manifest_json)?;
    for (name, mode, data) in &files {
        append(&mut tar, name, *mode, data)?;
    }
    let plain = zeroize::Zeroizing::new(tar.into_inner().context("finishing the archive")?);
    let bytes = match passphrase {
        None => plain,
        Some(p) => {
            let enc = age::Encryptor::with_user_passphrase(p);
            let mut out = Vec::new();
            let mut w = enc
                .wrap_output(&mut out)
                .context("starting the encryption")?;
            w.write_all(&plain)?;
            w.finish().context("finishing the encryption")?;
            zeroize::Zeroizing::new(out)
        }
    };
    lantrust_cli::fs::write_atomic(&a.out, &bytes, lantrust_cli::fs::Mode::Secret)
        .with_context(|| format!("writing {}", a.out.display()))?;
    lantrust_cli::outln!(
        "backed up {} to {} ({} bytes{}; mode 0600)",
        a.state.display(),
        a.out.display(),
        bytes.len(),
        if a.passphrase_file.is_some() {
            ", encrypted with age"
        } else {
            ", NOT encrypted: it holds the root key"
        }
    );
    for f in &manifest.files {
        lantrust_cli::outln!("  {} ({} bytes, sha256 {})", f.name, f.size, f.sha256);
    }
    Ok(())
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// SQLite files this command created beside the database (when `serve` was stopped and the
/// connection could not remove them) get the database's owner, so that a backup run as root
/// does not lock the service user out of its own database.
fn keep_owner(db: &Path, sidecars: &[PathBuf; 2], existed: [bool; 2]) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(db) else {
        return;
    };
    for (path, existed) in sidecars.iter().zip(existed) {
        if !existed && path.exists() {
            if let Err(e) = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid())) {
                eprintln!(
                    "warning: {} is not owned by the database's owner ({e})",
                    path.display()
                );
            }
        }
    }
}

/// The mode a state file is restored with: the root certificate is public, the rest private.
fn file_mode(name: &str) -> u32 {
    if name == ROOT_CERT_FILE { 0o644 } else { 0o600 }
}

fn append(tar: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(super::now().as_secs());
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)
        .with_context(|| format!("adding {name} to the archive"))
}

/// File name → contents (zeroed on drop: the root key is among them).
type Files = BTreeMap<String, zeroize::Zeroizing<Vec<u8>>>;

/// The archive's files, each checked against the manifest (names, sizes, digests, nothing
/// missing, nothing extra).
fn read_archive(bytes: &[u8]) -> Result<(Manifest, Files)> {
    let mut ar = tar::Archive::new(bytes);
    let mut manifest: Option<Manifest> = None;
    let mut files = BTreeMap::new();
    for entry in ar.entries().context("the archive is not a tar file")? {
        let mut entry = entry.context("the archive is damaged (a tar header does not parse)")?;
        let name = entry
            .path()
            .context("an archive entry has no usable name")?
            .to_str()
            .map(str::to_string)
            .context("an archive entry's name is not UTF-8")?;
        ensure!(
            entry.header().entry_type() == tar::EntryType::Regular,
            "archive entry {name:?} is not a regular file"
        );
        ensure!(
            !name.is_empty()
                && !name.starts_with('.')
                && !name.contains('/')
                && !name.starts_with(&format!("{DB_FILE}-")),
            "archive entry {name:?} is not a plain state file name"
        );
        let size = entry.header().size()?;
        ensure!(size <= MAX_ARCHIVE, "archive entry {name:?} is too large");
        let mut data = zeroize::Zeroizing::new(Vec::new());
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("the archive is damaged (reading {name})"))?;
        ensure!(
            data.len() as u64 == size,
            "the archive is damaged: {name} is cut short"
        );
        if manifest.is_none() {
            ensure!(
                name == MANIFEST,
                "the archive does not start with {MANIFEST}"
            );
            let m: Manifest = serde_json::from_slice(&data)
                .context("the archive's manifest is damaged (not the expected JSON)")?;
            ensure!(
                m.format == FORMAT && m.version == VERSION,
                "not a lantrust-server backup this version can restore ({} version {})",
                m.format,
                m.version
            );
            manifest = Some(m);
            continue;
        }
        ensure!(
            files.insert(name.clone(), data).is_none(),
            "archive entry {name:?} appears twice"
        );
    }
    let manifest = manifest.context("the archive is empty")?;
    for f in &manifest.files {
        let data = files
            .get(&f.name)
            .with_context(|| format!("the archive is damaged: {} is missing", f.name))?;
        ensure!(
            data.len() as u64 == f.size && hex(&Sha256::digest(data.as_slice())) == f.sha256,
            "the archive is damaged: {} does not match its SHA-256 in the manifest",
            f.name
        );
    }
    ensure!(
        files.len() == manifest.files.len(),
        "the archive is damaged: it holds files its manifest does not list"
    );
    for needed in [DB_FILE, ROOT_KEY_FILE] {
        ensure!(
            files.contains_key(needed),
            "the archive has no {needed}: not a complete backup"
        );
    }
    ensure!(
        files.contains_key(ROOT_CERT_FILE) || files.contains_key(SUBCA_FILE),
        "the archive has neither {ROOT_CERT_FILE} nor {SUBCA_FILE}: not a complete backup"
    );
    Ok((manifest, files))
}

pub(crate) fn restore(a: RestoreArgs) -> Result<()> {
    if a.state.exists() {
        let empty = std::fs::read_dir(&a.state)
            .with_context(|| format!("reading {}", a.state.display()))?
            .next()
            .is_none();
        ensure!(
            empty,
            "{} is not empty; restore makes a new state directory (stop `serve` and move the old one away first)",
            a.state.display()
        );
    }
    let len = std::fs::metadata(&a.archive)
        .with_context(|| format!("reading {}", a.archive.display()))?
        .len();
    ensure!(len <= MAX_ARCHIVE, "{} is too large", a.archive.display());
    let raw =
        std::fs::read(&a.archive).with_context(|| format!("reading {}", a.archive.display()))?;
    let plain = if raw.starts_with(AGE_MAGIC) {
        let Some(file) = a.passphrase_file.as_deref() else {
            bail!(
                "{} is encrypted; give its passphrase with --passphrase-file FILE",
                a.archive.display()
            );
        };
        let identity = age::scrypt::Identity::new(read_passphrase(file)?);
        let dec = age::Decryptor::new(&raw[..])
            .context("the archive is damaged (its age header does not parse)")?;
        let mut r = dec
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .context("cannot decrypt the archive (wrong passphrase, or a damaged header)")?;
        let mut out = zeroize::Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)
            .context("the archive is damaged (decryption failed part-way)")?;
        out
    } else {
        zeroize::Zeroizing::new(raw)
    };
    let (manifest, files) = read_archive(&plain)?;
    let modes: BTreeMap<&str, u32> = manifest
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.mode & 0o644))
        .collect();
    let created = manifest.created;
    lantrust_cli::fs::create_dir_atomic(&a.state, |staging| {
        for (name, data) in &files {
            let mode = modes.get(name.as_str()).copied().unwrap_or(0o600);
            super::write_atomic(&staging.join(name), data, mode)?;
        }
        verify_staged(&StateDir::new(staging))
    })
    .with_context(|| format!("restoring into {}", a.state.display()))?;
    lantrust_cli::outln!(
        "restored {} from {} (backup made {}): {} files",
        a.state.display(),
        a.archive.display(),
        lantrust_acme::time::rfc3339(Duration::from_secs(created)),
        files.len()
    );
    lantrust_cli::outln!(
        "next: lantrust-server serve --state {} ... (devices keep their certificates)",
        a.state.display()
    );
    Ok(())
}

/// The staged state is usable: the database passes its integrity check and holds the network
/// configuration, the root certificate loads with its key, and so do the earlier roots and the
/// link certificates of a rotation.
fn verify_staged(st: &StateDir) -> Result<()> {
    let db = st.open()?;
    if let Some(conn) = db.as_sqlite() {
        check_database(conn)?;
    }
    st.config(&db)?;
    drop(db);
    // The CA with its key (the root, or the subordinate CA with its request and chain) and,
    // after a root rotation, the earlier roots (with their keys, for their CRLs) and the link
    // certificates (`rotate`), which are plain files of the state directory and so archived.
    crate::rotate::Roots::load(st)
        .context("the archive's CA certificates and keys do not load together")?;
    if st.admin_token().exists() {
        super::read_token(&st.admin_token())?;
    }
    st.check_private()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::dir::ADMIN_TOKEN_FILE;
    use super::*;

    #[test]
    fn file_modes() {
        assert_eq!(file_mode(ROOT_CERT_FILE), 0o644);
        assert_eq!(file_mode(ROOT_KEY_FILE), 0o600);
        assert_eq!(file_mode(ADMIN_TOKEN_FILE), 0o600);
    }
}
