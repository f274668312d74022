//! NSS databases (Chromium's `$HOME/.pki/nssdb`, Firefox profiles' `cert9.db`) through
//! `certutil` (Debian package libnss3-tools).
//!
//! draft-sweet-iot-acme-07 §3.5: a client "MUST NOT use the root on other networks". A browser
//! has no notion of networks, so [`sync`] makes its database follow the network instead: it holds
//! the root pinned for the current network and no other lantrust root. lantrust's certificates are
//! recognised by their nickname alone ([`PREFIX`]: `sync-nss`'s and `export --nss`'s); no other
//! certificate is ever touched.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::Context;
use lantrust_cli::fs::{Mode, write_atomic};

/// The nickname prefix of lantrust's certificates: `sync-nss` installs
/// `lantrust net=<network> root=<root> <server>`, `export --nss` `lantrust <server>` (a root
/// trusted on every network, so `sync-nss` removes it too). No `:` (NSS reads `TOKEN:NAME`).
pub(crate) const PREFIX: &str = "lantrust ";

/// One root the database should hold.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    /// Its nickname (see [`nickname`]).
    pub(crate) nickname: String,
    /// The certificate, DER.
    pub(crate) der: Vec<u8>,
}

/// The nickname of `server`'s root (SPKI SHA-256 `spki`) pinned for network `network` (its
/// fingerprint): both shortened to 16 hex digits, so a changed root or another network gets
/// another nickname.
pub(crate) fn nickname(network: &[u8; 32], spki: &[u8; 32], server: &str) -> String {
    let short = |b: &[u8; 32]| hex::encode(b.get(..8).unwrap_or_default());
    format!(
        "{PREFIX}net={} root={} {server}",
        short(network),
        short(spki)
    )
}

/// Whether a certificate with this nickname is lantrust's to add and remove.
pub(crate) fn is_ours(nickname: &str) -> bool {
    nickname.starts_with(PREFIX)
}

/// What [`sync`] changed in one database.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Nicknames added (or whose trust was restored to `C,,`).
    pub(crate) added: Vec<String>,
    /// Nicknames removed.
    pub(crate) removed: Vec<String>,
    /// Nicknames already there as wanted.
    pub(crate) kept: Vec<String>,
    /// Wanted roots NSS already holds under a nickname that is not lantrust's (NSS keeps one
    /// nickname per certificate): trusted or not as that entry says, and left alone.
    pub(crate) foreign: Vec<String>,
}

fn db_arg(dir: &Path) -> String {
    format!("sql:{}", dir.display())
}

fn certutil(args: &[&str]) -> anyhow::Result<Output> {
    Command::new("certutil")
        .args(args)
        .output()
        .context("running certutil (Debian package libnss3-tools)")
}

fn ensure(out: &Output, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Creates the database in `dir` (and `dir`) with an empty password unless it exists.
///
/// # Errors
/// When the directory cannot be created or `certutil -N` fails.
pub(crate) fn ensure_db(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if dir.join("cert9.db").exists() {
        return Ok(());
    }
    // Two syncs started by network events in a row must not run `certutil -N` on one directory
    // at once (it spins forever): each builds the database aside and hard-links its files into
    // place, the existence marker cert9.db last; a link never replaces a file another made.
    let tmp = dir.join(format!(".lantrust-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let made = (|| {
        let out = certutil(&["-N", "-d", &db_arg(&tmp), "--empty-password"])?;
        ensure(&out, &format!("certutil -N for {}", dir.display()))?;
        for f in ["key4.db", "pkcs11.txt", "cert9.db"] {
            let from = tmp.join(f);
            if !from.exists() {
                continue;
            }
            match std::fs::hard_link(&from, dir.join(f)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("linking {} into place", from.display()));
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    made
}

/// Parses `certutil -L` output: (nickname, trust attributes) of each certificate.
pub(crate) fn parse_listing(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (nick, trust) = l.trim_end().rsplit_once(char::is_whitespace)?;
            let nick = nick.trim_end();
            // The two header lines have no trust triple (`x,y,z`).
            (!nick.is_empty() && trust.matches(',').count() == 2)
                .then(|| (nick.to_string(), trust.to_string()))
        })
        .filter(|(n, _)| n != "Certificate Nickname")
        .collect()
}

/// The certificates in the database at `dir`: (nickname, trust attributes).
///
/// # Errors
/// When `certutil -L` fails.
pub(crate) fn list(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let out = certutil(&["-L", "-d", &db_arg(dir)])?;
    ensure(&out, &format!("certutil -L for {}", dir.display()))?;
    Ok(parse_listing(&String::from_utf8_lossy(&out.stdout)))
}

/// Adds `pem` as a CA trusted for TLS servers (`C,,`) under `nickname`.
///
/// # Errors
/// When the database cannot be created or `certutil -A` fails.
pub(crate) fn add(dir: &Path, nickname: &str, pem: &str) -> anyhow::Result<()> {
    ensure_db(dir)?;
    let file = dir.join(".lantrust-root.pem");
    write_atomic(&file, pem.as_bytes(), Mode::Public)?;
    let out = Command::new("certutil")
        .args(["-A", "-d", &db_arg(dir), "-t", "C,,", "-n", nickname, "-i"])
        .arg(&file)
        .output()
        .context("running certutil -A (Debian package libnss3-tools)");
    let _ = std::fs::remove_file(&file);
    ensure(&out?, &format!("certutil -A {nickname:?}"))
}

/// A lock file in the database directory, removed when dropped.
struct Lock(std::path::PathBuf);

impl Lock {
    fn take(dir: &Path) -> anyhow::Result<Self> {
        use std::time::{Duration, Instant};
        let p = dir.join(".lantrust-sync-nss.lock");
        let start = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(_) => return Ok(Self(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Left by a sync that was killed: a sync takes well under this.
                    let stale = std::fs::metadata(&p)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(120));
                    if stale {
                        let _ = std::fs::remove_file(&p);
                        continue;
                    }
                    anyhow::ensure!(
                        start.elapsed() < Duration::from_secs(150),
                        "{} is held by another sync-nss",
                        p.display()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Makes the database at `dir` (created if missing) hold exactly `wanted` among lantrust's
/// certificates ([`is_ours`]): every other lantrust certificate is deleted, each wanted one is
/// added (or its trust reset to `C,,`). Certificates of anyone else are left alone. Running it
/// twice changes nothing the second time.
///
/// # Errors
/// When `certutil` fails.
pub(crate) fn sync(dir: &Path, wanted: &[Root]) -> anyhow::Result<Changes> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Syncs started by network events in a row, for different networks, must not interleave
    // (each would delete the other's root before adding its own, leaving both).
    let _lock = Lock::take(dir)?;
    ensure_db(dir)?;
    let mut changes = Changes::default();
    let db = db_arg(dir);
    // Remove first: NSS gives every certificate with one subject the same nickname, so an old
    // copy of a wanted root under another nickname must be gone before it is added.
    let mut present = list(dir)?;
    for (nick, _) in &present {
        if !is_ours(nick) || wanted.iter().any(|w| &w.nickname == nick) {
            continue;
        }
        if changes.removed.contains(nick) {
            continue;
        }
        // `certutil -D` deletes one certificate per call; several may share the nickname. A
        // sync running at the same time (two network events in a row) may have deleted it
        // first: what counts is that it is gone.
        for _ in 0..16 {
            let out = certutil(&["-D", "-d", &db, "-n", nick])?;
            let gone = !list(dir)?.iter().any(|(n, _)| n == nick);
            if gone {
                break;
            }
            ensure(&out, &format!("certutil -D {nick:?}"))?;
        }
        changes.removed.push(nick.clone());
    }
    if !changes.removed.is_empty() {
        present = list(dir)?;
    }
    for w in wanted {
        match present.iter().find(|(n, _)| n == &w.nickname) {
            Some((_, trust)) if trust.starts_with('C') => changes.kept.push(w.nickname.clone()),
            Some(_) => {
                let out = certutil(&["-M", "-d", &db, "-n", &w.nickname, "-t", "C,,"])?;
                ensure(&out, &format!("certutil -M {:?}", w.nickname))?;
                changes.added.push(w.nickname.clone());
            }
            None => {
                let pem = lantrust_cli::certs_to_pem(std::slice::from_ref(&w.der));
                let added = add(dir, &w.nickname, &pem);
                // As above, a concurrent sync may have added it; NSS may also hold the same
                // certificate under a nickname that is not ours, and then keeps that one.
                match list(dir)?.iter().find(|(n, _)| n == &w.nickname) {
                    Some(_) => changes.added.push(w.nickname.clone()),
                    None => {
                        added?;
                        changes.foreign.push(w.nickname.clone());
                    }
                }
            }
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_parsed_by_its_last_column() {
        let text = "\nCertificate Nickname                                         Trust Attributes\n\
                    \x20                                                            SSL,S/MIME,JAR/XPI\n\n\
                    lantrust lantrust.local                                      C,,  \n\
                    lantrust net=0011223344556677 root=8899aabbccddeeff lantrust.local CT,C,C\n\
                    Some Other CA                                                c,,\n";
        assert_eq!(
            parse_listing(text),
            [
                ("lantrust lantrust.local".to_string(), "C,,".to_string()),
                (
                    "lantrust net=0011223344556677 root=8899aabbccddeeff lantrust.local".into(),
                    "CT,C,C".into()
                ),
                ("Some Other CA".into(), "c,,".into()),
            ]
        );
    }

    #[test]
    fn nicknames_name_network_root_and_server() {
        let n = nickname(&[0x11; 32], &[0xab; 32], "lantrust.local");
        assert_eq!(
            n,
            "lantrust net=1111111111111111 root=abababababababab lantrust.local"
        );
        assert!(is_ours(&n));
        assert!(is_ours("lantrust lantrust.local"));
        assert!(!is_ours("lantrustee CA"));
        assert!(!is_ours("Some Other CA"));
        assert_ne!(n, nickname(&[0x12; 32], &[0xab; 32], "lantrust.local"));
        assert_ne!(n, nickname(&[0x11; 32], &[0xac; 32], "lantrust.local"));
    }
}
