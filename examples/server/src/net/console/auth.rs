//! The console's sign-in: the owner's password (argon2id, a PHC string in
//! `STATE/console-password`, mode 0600), the sessions (256-bit random IDs in memory, idle
//! expiry), their cookie, the per-session CSRF token, and the login rate limit.

use std::collections::{HashMap, VecDeque};
use std::io::Read as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;

use crate::store::{self, StateDir};

/// The file under the state directory that holds the password's argon2id hash.
pub(crate) const PASSWORD_FILE: &str = "console-password";
/// Shortest password `passwd` and `init` accept.
pub(crate) const MIN_PASSWORD: usize = 10;
/// A session unused this long is gone (the owner signs in again).
pub(crate) const IDLE_EXPIRY: Duration = Duration::from_secs(30 * 60);
/// Most sessions held at once; the least recently used goes first beyond it.
const MAX_SESSIONS: usize = 64;
/// The session cookie's name.
pub(crate) const COOKIE: &str = "lantrust_console";
/// The cookie that carries the login form's CSRF token before there is a session.
pub(crate) const LOGIN_COOKIE: &str = "lantrust_login";

/// Where the password hash of `st` lives.
pub(crate) fn password_path(st: &StateDir) -> PathBuf {
    st.dir.join(PASSWORD_FILE)
}

/// The argon2id hasher (RFC 9106 §4's second recommended option: 19 MiB, 2 passes, 1 lane,
/// OWASP's minimum for argon2id).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`).
pub(crate) fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let h = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok(h.to_string())
}

/// Whether `password` matches the PHC string `phc` (argon2id only; anything else is refused).
pub(crate) fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc.trim()) else {
        return false;
    };
    if h.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    hasher().verify_password(password.as_bytes(), &h).is_ok()
}

/// Check a new password and store its hash in `st` (atomically, mode 0600).
pub(crate) fn set_password(st: &StateDir, password: &str) -> Result<()> {
    let password = password.trim_end_matches(['\r', '\n']);
    if password.trim().is_empty() {
        bail!("the console password is empty");
    }
    if password.chars().count() < MIN_PASSWORD {
        bail!("the console password is too short: at least {MIN_PASSWORD} characters");
    }
    let phc = hash_password(password)?;
    store::write_atomic(&password_path(st), format!("{phc}\n").as_bytes(), 0o600)
}

/// Read a password from `file`, or from stdin when `file` is `None` or `-` (the first line).
pub(crate) fn read_password(file: Option<&Path>) -> Result<zeroize::Zeroizing<String>> {
    let mut s = zeroize::Zeroizing::new(String::new());
    match file {
        Some(p) if p != Path::new("-") => {
            *s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
        }
    }
    let first = s.lines().next().unwrap_or("").to_string();
    Ok(zeroize::Zeroizing::new(first))
}

/// The stored hash, if a password was set (`None`: the console refuses every login and says how
/// to set one). A hash file others can read is refused like a missing one.
pub(crate) fn stored_hash(st: &StateDir) -> Result<Option<String>> {
    use std::os::unix::fs::PermissionsExt as _;
    let p = password_path(st);
    let meta = match std::fs::metadata(&p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        bail!("{} is readable by others; chmod 600 it", p.display());
    }
    let s = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// `lantrust-server passwd`: set the console password.
#[derive(clap::Args, Debug)]
pub(crate) struct PasswdArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Read the password from this file's first line (default: stdin's first line). Never give
    /// a password on the command line: other users see it in the process list.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// Run `passwd`.
pub(crate) fn passwd(a: PasswdArgs) -> Result<()> {
    let st = StateDir::new(&a.state);
    if !st.has_store() {
        bail!(
            "{} holds no lantrust state (run init first)",
            a.state.display()
        );
    }
    let pw = read_password(a.password_file.as_deref())?;
    set_password(&st, &pw)?;
    lantrust_cli::outln!(
        "console password set ({}, argon2id); sign in at https://SERVER/admin/",
        password_path(&st).display()
    );
    Ok(())
}

/// 32 random bytes, hex.
pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Equal in time independent of the content (lengths are not secret: both are 64 hex digits).
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// The `Set-Cookie` value that starts a session (or the login form's CSRF cookie): secure
/// only, invisible to scripts, never sent on cross-site requests, and only under /admin.
pub(crate) fn cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Secure; HttpOnly; SameSite=Strict; Path=/admin")
}

/// The `Set-Cookie` value that ends one.
pub(crate) fn cookie_clear(name: &str) -> String {
    format!("{name}=; Secure; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0")
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

struct Session {
    csrf: String,
    last_used: Instant,
}

/// The signed-in sessions, in memory (a restart signs everyone out).
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// A new session: its ID (the cookie value) and CSRF token.
    pub(crate) fn create(&self, now: Instant) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, s| now.saturating_duration_since(s.last_used) < IDLE_EXPIRY);
            if m.len() >= MAX_SESSIONS
                && let Some(oldest) = m
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
            m.insert(
                id.clone(),
                Session {
                    csrf: csrf.clone(),
                    last_used: now,
                },
            );
        }
        (id, csrf)
    }

    /// The CSRF token of the live session `id` (and marks it used), or `None`.
    pub(crate) fn touch(&self, id: &str, now: Instant) -> Option<String> {
        self.lookup(id, now, true)
    }

    /// As [`Sessions::touch`] without marking it used: the pending page's polling does not keep
    /// an unattended session alive.
    pub(crate) fn peek(&self, id: &str, now: Instant) -> Option<String> {
        self.lookup(id, now, false)
    }

    fn lookup(&self, id: &str, now: Instant, refresh: bool) -> Option<String> {
        let mut m = self.0.lock().ok()?;
        let key = m.keys().find(|k| constant_time_eq(k, id))?.clone();
        let s = m.get_mut(&key)?;
        if now.saturating_duration_since(s.last_used) >= IDLE_EXPIRY {
            m.remove(&key);
            return None;
        }
        if refresh {
            s.last_used = now;
        }
        Some(s.csrf.clone())
    }

    /// Forget session `id` (logout).
    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| !constant_time_eq(k, id));
        }
    }
}

/// Whether the form's CSRF token is the session's (constant time).
pub(crate) fn csrf_ok(session_csrf: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| constant_time_eq(session_csrf, p))
}

/// Failed logins allowed per source address within [`LoginLimiter::WINDOW`].
pub(crate) const PER_SOURCE: usize = 5;
/// Failed logins allowed from all sources together within the window.
pub(crate) const GLOBAL: usize = 20;

/// The login rate limit: failures per source address and in total over a sliding minute.
#[derive(Default)]
pub(crate) struct LoginLimiter(Mutex<Failures>);

#[derive(Default)]
struct Failures {
    by_source: HashMap<IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl LoginLimiter {
    /// The sliding window.
    pub(crate) const WINDOW: Duration = Duration::from_secs(60);

    /// `Err(wait)` when `ip` may not try now: too many failures from it, or from everyone.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut f) = self.0.lock() else {
            return Err(Self::WINDOW);
        };
        let expired = |q: &mut VecDeque<Instant>| {
            while q
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= Self::WINDOW)
            {
                q.pop_front();
            }
        };
        expired(&mut f.all);
        f.by_source.retain(|_, q| {
            expired(q);
            !q.is_empty()
        });
        let wait = |q: &VecDeque<Instant>| {
            q.front().map_or(Self::WINDOW, |t| {
                Self::WINDOW.saturating_sub(now.saturating_duration_since(*t))
            })
        };
        if let Some(q) = f.by_source.get(&ip)
            && q.len() >= PER_SOURCE
        {
            return Err(wait(q));
        }
        if f.all.len() >= GLOBAL {
            return Err(wait(&f.all));
        }
        Ok(())
    }

    /// Record a failed login from `ip`.
    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) {
        if let Ok(mut f) = self.0.lock() {
            // Bounded: the global cap stops a source flood long before this.
            if f.by_source.len() >= 4096 {
                f.by_source.clear();
            }
            let q = f.by_source.entry(ip).or_default();
            q.push_back(now);
            while q.len() > PER_SOURCE {
                q.pop_front();
            }
            f.all.push_back(now);
            while f.all.len() > GLOBAL {
                f.all.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hash_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterY"));
        assert!(!verify_password(&phc, ""));
        assert!(!verify_password(
            "not a phc string",
            "correct horse battery"
        ));
        // Same password, fresh salt: a different string.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
        // Another algorithm's PHC string is refused even with the right password.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(
                b"correct horse battery",
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .unwrap()
            .to_string();
        assert!(!verify_password(&argon2i, "correct horse battery"));
    }

    #[test]
    fn password_file_is_private_and_checked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let st = StateDir::new(dir.path());
        assert_eq!(stored_hash(&st).unwrap(), None);
        assert!(set_password(&st, "").is_err());
        assert!(set_password(&st, "   \n").is_err());
        assert!(set_password(&st, "short").is_err());
        set_password(&st, "a long enough one\n").unwrap();
        let mode = std::fs::metadata(password_path(&st))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let phc = stored_hash(&st).unwrap().unwrap();
        assert!(verify_password(&phc, "a long enough one"));
        std::fs::set_permissions(password_path(&st), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(stored_hash(&st).is_err());
    }

    #[test]
    fn cookie_attributes() {
        let c = cookie(COOKIE, "abc");
        assert_eq!(
            c,
            "lantrust_console=abc; Secure; HttpOnly; SameSite=Strict; Path=/admin"
        );
        let parts: Vec<&str> = c.split("; ").collect();
        for a in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(parts.contains(&a), "{a} missing in {c}");
        }
        assert!(cookie_clear(COOKIE).contains("Max-Age=0"));
        assert!(cookie_clear(COOKIE).contains("Secure; HttpOnly; SameSite=Strict"));
        let h = "a=1; lantrust_console=xyz; b=2";
        assert_eq!(cookie_value(h, COOKIE), Some("xyz"));
        assert_eq!(cookie_value(h, "lantrust"), None);
        assert_eq!(cookie_value("lantrust_console_x=1", COOKIE), None);
    }

    #[test]
    fn sessions_and_csrf() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (id, csrf) = s.create(t0);
        assert_eq!(id.len(), 64, "256-bit IDs");
        assert_ne!(id, csrf);
        assert_eq!(s.touch(&id, t0).as_deref(), Some(csrf.as_str()));
        assert!(csrf_ok(&csrf, Some(&csrf)));
        assert!(!csrf_ok(&csrf, None));
        assert!(!csrf_ok(&csrf, Some("")));
        let mut forged = csrf.clone().into_bytes();
        forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
        assert!(!csrf_ok(
            &csrf,
            Some(core::str::from_utf8(&forged).unwrap())
        ));
        assert!(!csrf_ok(&csrf, Some(&csrf[1..])));
        assert_eq!(s.touch("00", t0), None);
        // Idle expiry, counted from the last use.
        let t1 = t0 + IDLE_EXPIRY - Duration::from_secs(1);
        assert!(s.touch(&id, t1).is_some());
        assert!(
            s.touch(&id, t1 + IDLE_EXPIRY - Duration::from_secs(1))
                .is_some()
        );
        assert!(s.touch(&id, t1 + 3 * IDLE_EXPIRY).is_none());
        // Polling peeks: it does not extend the session.
        let t2 = t1 + IDLE_EXPIRY / 2;
        let (id3, _) = s.create(t2);
        assert!(s.peek(&id3, t2 + IDLE_EXPIRY / 2).is_some());
        assert!(s.peek(&id3, t2 + IDLE_EXPIRY).is_none());
        let (id2, _) = s.create(t0);
        s.remove(&id2);
        assert!(s.touch(&id2, t0).is_none());
    }

    #[test]
    fn login_rate_limit() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        let a: IpAddr = "192.168.1.10".parse().unwrap();
        let b: IpAddr = "192.168.1.11".parse().unwrap();
        for _ in 0..PER_SOURCE {
            assert!(l.check(a, t0).is_ok());
            l.failed(a, t0);
        }
        let wait = l.check(a, t0).unwrap_err();
        assert_eq!(wait, LoginLimiter::WINDOW);
        // Another source is not blocked by a's failures.
        assert!(l.check(b, t0).is_ok());
        // The window slides.
        let t1 = t0 + Duration::from_secs(20);
        assert_eq!(l.check(a, t1).unwrap_err(), Duration::from_secs(40));
        assert!(l.check(a, t0 + LoginLimiter::WINDOW).is_ok());
        // Global: many sources together.
        let g = LoginLimiter::default();
        for i in 0..GLOBAL {
            let ip = IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8]);
            g.failed(ip, t0);
        }
        assert!(g.check(b, t0).is_err(), "global limit");
    }
}
