//! Crash-safe files: a crash (`kill -9`, power loss) leaves either the old file or the new one,
//! never half of each, and a set of files that belong together (a key and its certificate) is
//! replaced all at once or not at all.
//!
//! - [`write_atomic`]: one file, by temp file in the same directory, `fsync`, `rename`, `fsync` of
//!   the directory.
//! - [`write_group`] + [`recover`]: several files of one directory, by staging each (atomically),
//!   then a commit marker naming them, then the renames. [`recover`], run at the next start,
//!   finishes a committed group (roll forward), throws away an uncommitted one (roll back), and
//!   removes the temp files that a killed writer left behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Who may read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Private keys and pin stores: 0600 (draft §4.4, §4.10).
    Secret,
    /// Certificates and status: 0644.
    Public,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::Secret => 0o600,
            Mode::Public => 0o644,
        }
    }
}

/// Suffix of the temp files [`write_atomic`] writes: `.NAME.tmp.PID`.
const TMP_MARK: &str = ".tmp.";
/// Suffix of the files [`write_group`] stages: `.NAME.PID.staged`.
const STAGED_SUFFIX: &str = ".staged";
/// The commit marker of [`write_group`]: first line the writer's PID, then one file name a line.
const COMMIT_FILE: &str = ".lantrust-commit";

/// The steps of an atomic write; a test can stop after any of them to play a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// The temp file holds the data and is synced.
    TempWritten,
    /// The temp file is renamed over the target.
    Renamed,
    /// Done (the directory is synced).
    All,
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// `fsync` a directory, so renames and new entries in it survive a power loss.
fn sync_dir(dir: &Path) {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `create_dir_all`, syncing the parent of every directory it creates (a new directory entry is
/// not durable until its parent is synced).
fn create_dirs(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = parent_dir(dir);
    if parent != dir {
        create_dirs(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        // Lost a race with another writer: fine.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    sync_dir(parent);
    Ok(())
}

/// Writes `data` to `path` atomically: a temporary file in the same directory (created with the
/// final permissions, so a key is never world-readable even briefly), `fsync`, `rename` over
/// `path`, then `fsync` of the directory so the rename itself is durable. Missing parent
/// directories are created (and synced).
///
/// A crash at any point leaves `path` either absent, with its old content, or with `data`; at
/// worst a `.NAME.tmp.PID` file stays behind, which [`recover`] removes.
///
/// # Errors
/// Any I/O error, with the path in the message.
pub fn write_atomic(path: &Path, data: &[u8], mode: Mode) -> anyhow::Result<()> {
    write_steps(path, data, mode, Step::All)
}

fn write_steps(path: &Path, data: &[u8], mode: Mode, until: Step) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    create_dirs(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()));
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode.bits());
    }
    let result = (|| -> anyhow::Result<()> {
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        #[cfg(unix)]
        {
            // The umask may have narrowed the mode; a pre-existing temp file may be wider.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode.bits()))?;
        }
        f.write_all(data)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        if until == Step::TempWritten {
            return Ok(());
        }
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        if until == Step::Renamed {
            return Ok(());
        }
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces the files `files` (name, content, mode) of directory `dir` together: after a crash,
/// and [`recover`] at the next start, either all of them have their new content or none has.
///
/// Each file is first written atomically to a staged name (`.NAME.PID.staged`), then a commit
/// marker listing the names is written atomically (the commit point), then the staged files are
/// renamed into place and the marker removed.
///
/// # Errors
/// A name that is not a plain file name (no `/`, no leading `.`), or any I/O error (the staged
/// files are removed then, the old files stay).
pub fn write_group(dir: &Path, files: &[(&str, &[u8], Mode)]) -> anyhow::Result<()> {
    group_steps(dir, files, usize::MAX)
}

/// [`write_group`] stopping after `renames` renames (a test's crash).
fn group_steps(dir: &Path, files: &[(&str, &[u8], Mode)], renames: usize) -> anyhow::Result<()> {
    for (name, _, _) in files {
        anyhow::ensure!(
            !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\n', '\\']),
            "{name:?} is not a plain file name"
        );
    }
    let pid = std::process::id();
    let staged = |name: &str| dir.join(format!(".{name}.{pid}{STAGED_SUFFIX}"));
    let stage = || -> anyhow::Result<()> {
        for (name, data, mode) in files {
            write_atomic(&staged(name), data, *mode)?;
        }
        let mut marker = format!("{pid}\n");
        for (name, _, _) in files {
            marker.push_str(name);
            marker.push('\n');
        }
        write_atomic(&dir.join(COMMIT_FILE), marker.as_bytes(), Mode::Secret)
    };
    if let Err(e) = stage() {
        for (name, _, _) in files {
            let _ = fs::remove_file(staged(name));
        }
        return Err(e);
    }
    // Committed: from here on `recover` rolls forward, so an error leaves a recoverable state.
    for (i, (name, _, _)) in files.iter().enumerate() {
        if i == renames {
            return Ok(());
        }
        let to = dir.join(name);
        fs::rename(staged(name), &to)
            .with_context(|| format!("renaming the new {} into place", to.display()))?;
    }
    sync_dir(dir);
    fs::remove_file(dir.join(COMMIT_FILE))
        .with_context(|| format!("removing {}", dir.join(COMMIT_FILE).display()))?;
    sync_dir(dir);
    Ok(())
}

/// What [`recover`] did in a directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files of a committed group that were renamed into place (roll forward).
    pub completed: Vec<String>,
    /// Staged files of an uncommitted group and leftover temp files that were removed.
    pub removed: Vec<String>,
}

impl Recovery {
    /// Whether nothing needed doing.
    pub fn is_clean(&self) -> bool {
        self.completed.is_empty() && self.removed.is_empty()
    }
}

/// A writer finishes a file or a commit within milliseconds; files older than this belong to a
/// dead writer even when its PID has been reused by another process since.
const STALE_AFTER: core::time::Duration = core::time::Duration::from_secs(60);

/// Whether the writer `pid` of `path` may still be at work (its files are left alone then).
fn writer_active(pid: u32, path: &Path) -> bool {
    let fresh = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age < STALE_AFTER);
    alive(pid) && fresh
}

/// Whether process `pid` is running.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        Path::new("/proc").join(pid.to_string()).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        // No cheap liveness test without unsafe code: assume dead (a concurrent writer then
        // fails its rename with an error, never leaving a half-written file).
        false
    }
}

/// The PID in a temp or staged file name written by this module, if `name` is one.
fn leftover_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    if let Some(s) = rest.strip_suffix(STAGED_SUFFIX) {
        return s.rsplit_once('.')?.1.parse().ok();
    }
    rest.rsplit_once(TMP_MARK)?.1.parse().ok()
}

/// Brings directory `dir` back to a consistent state after a crash (call it before reading
/// files written with [`write_atomic`] or [`write_group`]; a missing directory is fine):
/// finishes a committed [`write_group`], removes the staged files of an uncommitted one and the
/// temp files of dead writers.
///
/// # Errors
/// I/O errors other than "not found".
pub fn recover(dir: &Path) -> anyhow::Result<Recovery> {
    let mut out = Recovery::default();
    let marker = dir.join(COMMIT_FILE);
    match fs::read_to_string(&marker) {
        Ok(text) => {
            let mut lines = text.lines();
            let pid = lines.next().and_then(|l| l.parse::<u32>().ok());
            match pid {
                Some(pid) if pid != std::process::id() && writer_active(pid, &marker) => {
                    // Its writer is renaming right now.
                    return Ok(out);
                }
                Some(pid) => {
                    for name in lines.filter(|l| !l.is_empty() && !l.contains('/')) {
                        let from = dir.join(format!(".{name}.{pid}{STAGED_SUFFIX}"));
                        match fs::rename(&from, dir.join(name)) {
                            Ok(()) => out.completed.push(name.to_string()),
                            // Renamed before the crash.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => {
                                return Err(e).with_context(|| {
                                    format!(
                                        "completing the interrupted update of {}",
                                        from.display()
                                    )
                                });
                            }
                        }
                    }
                    sync_dir(dir);
                }
                // A marker is written atomically, so this cannot come from a crash; leave the
                // files alone rather than guess.
                None => anyhow::bail!(
                    "{} is damaged (no writer PID on its first line); inspect {} by hand",
                    marker.display(),
                    dir.display()
                ),
            }
            fs::remove_file(&marker).with_context(|| format!("removing {}", marker.display()))?;
            sync_dir(dir);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", marker.display())),
    }
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut removed_any = false;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(pid) = leftover_pid(&name) else {
            continue;
        };
        if writer_active(pid, &entry.path()) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => {
                removed_any = true;
                out.removed.push(name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing {}", entry.path().display()));
            }
        }
    }
    if removed_any {
        sync_dir(dir);
    }
    out.removed.sort();
    Ok(out)
}

/// Removes directory `dir` and everything in it so that a crash midway leaves either all of it
/// or none of it visible under its name: it is first renamed to a hidden sibling
/// (`.NAME.PID.removing`), then deleted. [`remove_leftover_dirs`] deletes what a crash left.
///
/// # Errors
/// I/O errors other than "not found".
pub fn remove_dir_atomic(dir: &Path) -> anyhow::Result<()> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        anyhow::bail!("{} has no directory name", dir.display());
    };
    let parent = parent_dir(dir);
    let doomed: PathBuf = parent.join(format!(".{name}.{}{REMOVING_SUFFIX}", std::process::id()));
    match fs::rename(dir, &doomed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("removing {}", dir.display())),
    }
    sync_dir(parent);
    fs::remove_dir_all(&doomed).with_context(|| format!("removing {}", doomed.display()))
}

/// Suffix of directories being removed by [`remove_dir_atomic`].
const REMOVING_SUFFIX: &str = ".removing";

/// Suffix of directories being built by [`create_dir_atomic`].
const CREATING_SUFFIX: &str = ".creating";

/// Creates directory `dir` whole, so that a crash midway leaves either no `dir` or a complete one:
/// `fill` writes into a private (0700) hidden sibling (`.NAME.PID.creating`), which is then renamed
/// to `dir` (an existing *empty* `dir` is replaced; a non-empty one makes the rename fail) and the
/// parent synced. On error the staging directory is removed; what a crash left is deleted by
/// [`remove_leftover_dirs`], which this calls first.
///
/// # Errors
/// `fill`'s error, or I/O errors.
pub fn create_dir_atomic<T>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        anyhow::bail!("{} has no directory name", dir.display());
    };
    let parent = parent_dir(dir);
    create_dirs(parent)?;
    remove_leftover_dirs(parent)?;
    let staging = parent.join(format!(".{name}.{}{CREATING_SUFFIX}", std::process::id()));
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(&staging)
        .with_context(|| format!("creating {}", staging.display()))?;
    let result = fill(&staging).and_then(|v| {
        fs::rename(&staging, dir).with_context(|| {
            format!(
                "moving {} into place as {}",
                staging.display(),
                dir.display()
            )
        })?;
        sync_dir(parent);
        Ok(v)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Deletes the directories that a [`remove_dir_atomic`] or [`create_dir_atomic`] killed midway
/// left in `parent`.
///
/// # Errors
/// I/O errors other than "not found".
pub fn remove_leftover_dirs(parent: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(parent) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", parent.display())),
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|s| {
                s.strip_suffix(REMOVING_SUFFIX)
                    .or_else(|| s.strip_suffix(CREATING_SUFFIX))
            })
            .and_then(|s| s.rsplit_once('.'))
            .and_then(|(_, p)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if writer_active(pid, &entry.path()) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        fs::remove_dir_all(entry.path())
            .with_context(|| format!("removing {}", entry.path().display()))?;
        out.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// A PID no process has: above the kernel's pid_max (at most 2^22).
    const DEAD: u32 = 4_194_400;

    #[test]
    fn replaces_content_and_sets_modes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/k.pem");
        write_atomic(&p, b"one", Mode::Public).unwrap();
        write_atomic(&p, b"two", Mode::Secret).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // No temp files left behind.
        assert_eq!(names(&dir.path().join("sub")), ["k.pem"]);
    }

    #[test]
    fn error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        // A path below a regular file cannot be created.
        let err = write_atomic(&file.join("k"), b"x", Mode::Secret).unwrap_err();
        assert!(format!("{err:#}").contains("creating"), "{err:#}");
    }

    #[test]
    fn crash_between_write_and_rename_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key.pem");
        write_atomic(&p, b"old key", Mode::Secret).unwrap();
        // The writer dies after syncing the temp file, before the rename.
        write_steps(&p, b"new key", Mode::Secret, Step::TempWritten).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"old key");
        let tmp = format!(".key.pem.tmp.{}", std::process::id());
        assert_eq!(names(dir.path()), [tmp.as_str(), "key.pem"]);
        // A leftover of a dead writer: the next start removes it (ours is a live PID, kept).
        let dead = format!(".key.pem.tmp.{DEAD}");
        fs::rename(dir.path().join(&tmp), dir.path().join(&dead)).unwrap();
        let r = recover(dir.path()).unwrap();
        assert_eq!(r.removed, [dead]);
        assert!(r.completed.is_empty());
        assert_eq!(names(dir.path()), ["key.pem"]);
        assert_eq!(fs::read(&p).unwrap(), b"old key");
        // Crash right after the rename: the new content is complete.
        write_steps(&p, b"new key", Mode::Secret, Step::Renamed).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new key");
        assert!(recover(dir.path()).unwrap().is_clean());
    }

    #[test]
    fn live_writers_temp_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = format!(".a.tmp.{}", std::process::id());
        fs::write(dir.path().join(&live), b"x").unwrap();
        // Files that merely look similar are not ours.
        fs::write(dir.path().join(".a.tmp.notapid"), b"x").unwrap();
        fs::write(dir.path().join("a.tmp.1"), b"x").unwrap();
        assert!(recover(dir.path()).unwrap().is_clean());
        assert_eq!(names(dir.path()).len(), 3);
    }

    fn group<'a>(key: &'a [u8], chain: &'a [u8]) -> [(&'a str, &'a [u8], Mode); 2] {
        [
            ("key.pem", key, Mode::Secret),
            ("chain.pem", chain, Mode::Public),
        ]
    }

    fn read(dir: &Path, name: &str) -> Vec<u8> {
        fs::read(dir.join(name)).unwrap()
    }

    #[test]
    fn group_replaces_all_files() {
        let dir = tempfile::tempdir().unwrap();
        write_group(dir.path(), &group(b"k1", b"c1")).unwrap();
        write_group(dir.path(), &group(b"k2", b"c2")).unwrap();
        assert_eq!(names(dir.path()), ["chain.pem", "key.pem"]);
        assert_eq!(read(dir.path(), "key.pem"), b"k2");
        assert_eq!(read(dir.path(), "chain.pem"), b"c2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |n: &str| {
                fs::metadata(dir.path().join(n))
                    .unwrap()
                    .permissions()
                    .mode()
            };
            assert_eq!(mode("key.pem") & 0o777, 0o600);
            assert_eq!(mode("chain.pem") & 0o777, 0o644);
        }
        let err = write_group(dir.path(), &[("../x", b"", Mode::Public)]).unwrap_err();
        assert!(err.to_string().contains("not a plain file name"), "{err}");
    }

    /// Hands the staged files and marker of writer `from` to writer `to` (to play another
    /// process that is still running, or that crashed).
    fn as_writer(dir: &Path, from: u32, to: u32) {
        let (a, b) = (
            format!(".{from}{STAGED_SUFFIX}"),
            format!(".{to}{STAGED_SUFFIX}"),
        );
        for n in names(dir) {
            if n.ends_with(&a) {
                fs::rename(dir.join(&n), dir.join(n.replace(&a, &b))).unwrap();
            }
        }
        let marker = dir.join(COMMIT_FILE);
        if let Ok(text) = fs::read_to_string(&marker) {
            let rest = text.split_once('\n').unwrap().1;
            fs::write(&marker, format!("{to}\n{rest}")).unwrap();
        }
    }

    fn as_dead_writer(dir: &Path) {
        as_writer(dir, std::process::id(), DEAD);
    }

    #[test]
    fn crash_after_commit_rolls_forward() {
        for renames in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            write_group(dir.path(), &group(b"k1", b"c1")).unwrap();
            group_steps(dir.path(), &group(b"k2", b"c2"), renames).unwrap();
            // Mid-commit, the files may disagree (new key, old chain)...
            assert_eq!(
                read(dir.path(), "key.pem"),
                if renames == 0 { b"k1" } else { b"k2" }
            );
            assert_eq!(read(dir.path(), "chain.pem"), b"c1");
            // ...while the writer lives (PID 1 always does), recovery leaves its files alone...
            as_writer(dir.path(), std::process::id(), 1);
            assert!(recover(dir.path()).unwrap().is_clean());
            // ...and once it is dead, recovery finishes the commit.
            as_writer(dir.path(), 1, DEAD);
            let r = recover(dir.path()).unwrap();
            let expect: &[&str] = if renames == 0 {
                &["key.pem", "chain.pem"]
            } else {
                &["chain.pem"]
            };
            assert_eq!(r.completed, expect);
            assert_eq!(names(dir.path()), ["chain.pem", "key.pem"]);
            assert_eq!(read(dir.path(), "key.pem"), b"k2");
            assert_eq!(read(dir.path(), "chain.pem"), b"c2");
            assert!(recover(dir.path()).unwrap().is_clean());
        }
    }

    #[test]
    fn an_old_marker_of_a_reused_pid_is_rolled_forward() {
        let dir = tempfile::tempdir().unwrap();
        write_group(dir.path(), &group(b"k1", b"c1")).unwrap();
        group_steps(dir.path(), &group(b"k2", b"c2"), 1).unwrap();
        // The writer died long ago and PID 1 (always running) now has its number.
        as_writer(dir.path(), std::process::id(), 1);
        let old = std::time::SystemTime::now() - STALE_AFTER * 2;
        File::options()
            .write(true)
            .open(dir.path().join(COMMIT_FILE))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(recover(dir.path()).unwrap().completed, ["chain.pem"]);
        assert_eq!(read(dir.path(), "key.pem"), b"k2");
        assert_eq!(read(dir.path(), "chain.pem"), b"c2");
    }

    #[test]
    fn crash_before_commit_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        write_group(dir.path(), &group(b"k1", b"c1")).unwrap();
        // Staged both files, died before the marker.
        let pid = std::process::id();
        for (name, data, mode) in group(b"k2", b"c2") {
            write_atomic(
                &dir.path().join(format!(".{name}.{pid}{STAGED_SUFFIX}")),
                data,
                mode,
            )
            .unwrap();
        }
        as_dead_writer(dir.path());
        let r = recover(dir.path()).unwrap();
        assert_eq!(
            r.removed,
            [
                format!(".chain.pem.{DEAD}.staged"),
                format!(".key.pem.{DEAD}.staged")
            ]
        );
        assert_eq!(names(dir.path()), ["chain.pem", "key.pem"]);
        assert_eq!(read(dir.path(), "key.pem"), b"k1");
        assert_eq!(read(dir.path(), "chain.pem"), b"c1");
    }

    #[test]
    fn damaged_marker_is_reported_not_guessed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(COMMIT_FILE), b"garbage\nkey.pem\n").unwrap();
        let err = recover(dir.path()).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(recover(&dir.path().join("missing")).unwrap().is_clean());
    }

    #[test]
    fn directory_removal_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let nets = dir.path().join("networks");
        write_atomic(&nets.join("a/key.pem"), b"k", Mode::Secret).unwrap();
        remove_dir_atomic(&nets).unwrap();
        assert!(names(dir.path()).is_empty());
        remove_dir_atomic(&nets).unwrap(); // already gone: fine
        // A removal killed after the rename: invisible under its name, deleted at the next start.
        let doomed = dir.path().join(format!(".networks.{DEAD}.removing"));
        write_atomic(&doomed.join("a/key.pem"), b"k", Mode::Secret).unwrap();
        assert_eq!(
            remove_leftover_dirs(dir.path()).unwrap(),
            [format!(".networks.{DEAD}.removing")]
        );
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn directory_creation_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        // A creation killed midway: only a hidden staging sibling, deleted by the next one.
        let dead = dir.path().join(format!(".state.{DEAD}.creating"));
        write_atomic(&dead.join("key.pem"), b"half", Mode::Secret).unwrap();
        // A failing fill leaves nothing behind.
        let err = create_dir_atomic::<()>(&state, |d| {
            write_atomic(&d.join("key.pem"), b"k", Mode::Secret)?;
            anyhow::bail!("no database")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "no database");
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
        // An empty directory is replaced by a complete, private one.
        fs::create_dir(&state).unwrap();
        let got = create_dir_atomic(&state, |d| {
            write_atomic(&d.join("key.pem"), b"k", Mode::Secret)?;
            Ok(7)
        })
        .unwrap();
        assert_eq!(got, 7);
        assert_eq!(names(dir.path()), ["state"]);
        assert_eq!(read(&state, "key.pem"), b"k");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&state).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // A directory with something in it is never replaced.
        assert!(create_dir_atomic(&state, |_| Ok(())).is_err());
        assert_eq!(read(&state, "key.pem"), b"k");
    }
}
