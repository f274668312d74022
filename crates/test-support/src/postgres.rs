//! A real PostgreSQL (Debian `postgresql`) for the tests of the server's shared store: a fresh
//! cluster in a temporary directory, listening on a free port of 127.0.0.1 only, killed and
//! removed when dropped.
//!
//! `initdb` and `postgres` refuse to run as root, and CI runs as root: then the cluster belongs
//! to `nobody` (its directory is chowned to it) and both programs run under `setpriv` as that
//! user, with no supplementary groups.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::net::free_port;
use crate::process::{Proc, find_program, output_text};

/// How long a started server has to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The database role the cluster is created with (trust authentication, loopback only).
pub const USER: &str = "lantrust";

/// A PostgreSQL server on 127.0.0.1:[`Postgres::port`], killed when dropped.
#[derive(Debug)]
pub struct Postgres {
    /// The port it listens on (127.0.0.1 only).
    pub port: u16,
    bin: PathBuf,
    // Field order: the server is killed before its directory is removed.
    _server: Proc,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// `postgres://lantrust@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `psql` on database `db` with `sql` (`-v ON_ERROR_STOP=1`, unaligned tuples only);
    /// the status is not checked.
    pub fn psql(&self, db: &str, sql: &str) -> Output {
        let psql = self.bin.join("psql");
        Command::new(&psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()))
    }

    /// [`Postgres::psql`] that must succeed; returns its trimmed output.
    pub fn psql_ok(&self, db: &str, sql: &str) -> String {
        let out = self.psql(db, sql);
        assert!(out.status.success(), "psql {sql:?}: {}", output_text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The directory holding `initdb`, `postgres` and `psql`: Debian's newest
/// `/usr/lib/postgresql/<version>/bin`, else where `initdb` is on the path.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .or_else(|| find_program("initdb").and_then(|p| p.parent().map(Path::to_path_buf)))
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` as a command: directly, or as `nobody` under `setpriv` when running as root.
fn command(program: &Path, as_nobody: Option<(u32, u32)>) -> Command {
    match as_nobody {
        None => Command::new(program),
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(program);
            c
        }
    }
}

/// The uid and gid of `nobody` (`id -u nobody`, `id -g nobody`).
fn nobody() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = crate::process::run("id", &[flag, "nobody"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no user nobody: {}", output_text(&out)))
    };
    (id("-u"), id("-g"))
}

/// Starts a fresh PostgreSQL cluster (role [`USER`], trust authentication, listening on
/// 127.0.0.1 only, its Unix socket in its own directory) and waits until it accepts
/// connections. `None`, after a loud `SKIPPED` (a failure with `LANTRUST_REQUIRE_PEERS=1`), when
/// PostgreSQL is not installed.
pub fn start_postgres() -> Option<Postgres> {
    start_postgres_with(&Options::default())
}

/// How [`start_postgres_with`] sets the cluster up beyond [`start_postgres`]'s defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// TLS on (`ssl=on`) with this certificate (chain, PEM) and key (PEM): both are copied into
    /// the cluster's directory, the key mode 0600 and owned by the server's user as PostgreSQL
    /// requires.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Only TLS connections over TCP (`hostssl` alone in `pg_hba.conf`): a client without TLS is
    /// refused by the server ("no pg_hba.conf entry … no encryption"). Needs `tls`.
    pub ssl_only: bool,
    /// `pg_hba.conf` lines put before the others (the first line that matches decides): e.g.
    /// `hostssl all alice 127.0.0.1/32 scram-sha-256` for a role that must give its password.
    pub hba_first: Vec<String>,
}

/// [`start_postgres`] with TLS and authentication [`Options`].
pub fn start_postgres_with(options: &Options) -> Option<Postgres> {
    let Some(bin) = bin_dir() else {
        crate::skip(
            "PostgreSQL interop: initdb not found (scripts/install-peers installs Debian postgresql)",
        );
        return None;
    };
    let as_nobody = is_root().then(nobody);
    if as_nobody.is_some() && !crate::have("setpriv") {
        crate::skip("PostgreSQL interop: running as root and setpriv (util-linux) is missing");
        return None;
    }
    let dir = crate::temp_dir("postgres");
    if let Some((uid, gid)) = as_nobody {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("cannot chown {} to nobody: {e}", dir.path().display()));
    }
    let data = dir.path().join("data");
    let out = command(&bin.join("initdb"), as_nobody)
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
    assert!(out.status.success(), "initdb: {}", output_text(&out));
    let mut tls_args: Vec<String> = Vec::new();
    if let Some((cert, key)) = &options.tls {
        let (c, k) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        for (from, to, mode) in [(cert, &c, 0o644), (key, &k, 0o600)] {
            std::fs::copy(from, to).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {e}", from.display(), to.display())
            });
            std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", to.display()));
            if let Some((uid, gid)) = as_nobody {
                std::os::unix::fs::chown(to, Some(uid), Some(gid))
                    .unwrap_or_else(|e| panic!("cannot chown {} to nobody: {e}", to.display()));
            }
        }
        tls_args.extend([
            "-c".to_string(),
            "ssl=on".to_string(),
            "-c".to_string(),
            format!("ssl_cert_file={}", c.display()),
            "-c".to_string(),
            format!("ssl_key_file={}", k.display()),
        ]);
    }
    if options.ssl_only || !options.hba_first.is_empty() {
        let hba = data.join("pg_hba.conf");
        let rest = if options.ssl_only {
            assert!(
                options.tls.is_some(),
                "Options::ssl_only needs Options::tls"
            );
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n".to_string()
        } else {
            std::fs::read_to_string(&hba)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", hba.display()))
        };
        let mut text: String = options.hba_first.iter().map(|l| format!("{l}\n")).collect();
        text.push_str(&rest);
        std::fs::write(&hba, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", hba.display()));
    }
    // The port can be taken between probing and binding: try a few.
    for _ in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(dir.path().join(format!("postgres-{port}.log")))
            .unwrap_or_else(|e| panic!("cannot create the PostgreSQL log: {e}"));
        let mut server = Proc::spawn(
            command(&bin.join("postgres"), as_nobody)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.path().display()))
                // A test cluster: no flush to disk (the server processes under test are
                // what gets killed, never PostgreSQL or the machine).
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "max_connections=200"])
                .args(&tls_args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        );
        let started = Instant::now();
        loop {
            if server.has_exited() {
                break;
            }
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", USER])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Some(Postgres {
                    port,
                    bin,
                    _server: server,
                    _dir: dir,
                });
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "PostgreSQL on 127.0.0.1:{port} did not accept connections within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(dir.path().join(format!("postgres-{port}.log")))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let logs: String = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    panic!("PostgreSQL exited at start three times:\n{logs}");
}
