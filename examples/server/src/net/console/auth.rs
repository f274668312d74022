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
/// The cookie of a browser that signed in before (a random token, a year): its sign-ins are not
/// held back by failures from other addresses, so a LAN host guessing passwords cannot lock the
/// owner out.
pub(crate) const KNOWN_COOKIE: &str = "lantrust_known";
/// How long a browser stays known.
pub(crate) const KNOWN_MAX_AGE: Duration = Duration::from_secs(365 * 86_400);
/// Known browsers remembered (the oldest is forgotten first).
const MAX_KNOWN: usize = 32;

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

/// The `Set-Cookie` value of a cookie kept `max_age` (across browser restarts).
pub(crate) fn cookie_kept(name: &str, value: &str, max_age: Duration) -> String {
    format!("{}; Max-Age={}", cookie(name, value), max_age.as_secs())
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

/// The login rate limit: failures per source address and in total over a sliding minute. A
/// browser that signed in before ([`KNOWN_COOKIE`]) is held back only by its own address's
/// failures: the global cap bounds how fast the LAN as a whole can guess, and must not let a host
/// that keeps guessing lock the owner out.
#[derive(Default)]
pub(crate) struct LoginLimiter(Mutex<Failures>);

#[derive(Default)]
struct Failures {
    by_source: HashMap<IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
    /// Tokens of browsers that signed in, with when they last did (in memory: after a restart
    /// the owner is held to the global cap until the next sign-in).
    known: Vec<(String, Instant)>,
}

/// Why a sign-in must wait, and how long.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Too many failures from this address.
    Source(Duration),
    /// Too many failures from all addresses together; `worst` failed most among them.
    Everyone {
        wait: Duration,
        worst: Option<IpAddr>,
    },
}

impl Held {
    /// How long to wait.
    pub(crate) fn wait(&self) -> Duration {
        match self {
            Held::Source(w) | Held::Everyone { wait: w, .. } => *w,
        }
    }
}

impl LoginLimiter {
    /// The sliding window.
    pub(crate) const WINDOW: Duration = Duration::from_secs(60);

    /// `Err` when `ip` may not try now: too many failures from it, or from everyone (unless the
    /// browser presented the `known` token of an earlier sign-in).
    pub(crate) fn check(&self, ip: IpAddr, known: Option<&str>, now: Instant) -> Result<(), Held> {
        let Ok(mut f) = self.0.lock() else {
            return Err(Held::Source(Self::WINDOW));
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
            return Err(Held::Source(wait(q)));
        }
        let is_known = known.is_some_and(|t| {
            f.known.iter().any(|(k, at)| {
                constant_time_eq(k, t) && now.saturating_duration_since(*at) < KNOWN_MAX_AGE
            })
        });
        if f.all.len() >= GLOBAL && !is_known {
            let worst = f
                .by_source
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(ip, _)| *ip);
            return Err(Held::Everyone {
                wait: wait(&f.all),
                worst,
            });
        }
        Ok(())
    }

    /// A sign-in succeeded: the token that makes this browser known from now on (a presented
    /// `known` token is kept, with its time renewed).
    pub(crate) fn signed_in(&self, known: Option<&str>, now: Instant) -> String {
        let Ok(mut f) = self.0.lock() else {
            return random_token();
        };
        if let Some(t) = known
            && let Some(entry) = f.known.iter_mut().find(|(k, _)| constant_time_eq(k, t))
        {
            entry.1 = now;
            return entry.0.clone();
        }
        let token = random_token();
        if f.known.len() >= MAX_KNOWN
            && let Some(oldest) = f
                .known
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(i, _)| i)
        {
            f.known.swap_remove(oldest);
        }
        f.known.push((token.clone(), now));
        token
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
            assert!(l.check(a, None, t0).is_ok());
            l.failed(a, t0);
        }
        let held = l.check(a, None, t0).unwrap_err();
        assert_eq!(held, Held::Source(LoginLimiter::WINDOW));
        // Another source is not blocked by a's failures.
        assert!(l.check(b, None, t0).is_ok());
        // The window slides.
        let t1 = t0 + Duration::from_secs(20);
        assert_eq!(
            l.check(a, None, t1).unwrap_err().wait(),
            Duration::from_secs(40)
        );
        assert!(l.check(a, None, t0 + LoginLimiter::WINDOW).is_ok());
        // Global: many sources together.
        let g = LoginLimiter::default();
        let owner = g.signed_in(None, t0);
        let worst: IpAddr = "10.9.9.9".parse().unwrap();
        for i in 0..GLOBAL {
            let ip = if i < 3 {
                worst
            } else {
                IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8])
            };
            g.failed(ip, t0);
        }
        assert_eq!(
            g.check(b, None, t0).unwrap_err(),
            Held::Everyone {
                wait: LoginLimiter::WINDOW,
                worst: Some(worst)
            },
            "global limit"
        );
        // The owner's browser, known from an earlier sign-in, still gets in; a made-up token
        // does not.
        assert!(g.check(b, Some(&owner), t0).is_ok());
        assert!(g.check(b, Some("0123abcd"), t0).is_err());
        // Its own address's failures still count for it, and a year later it is a stranger.
        for _ in 0..PER_SOURCE {
            g.failed(b, t0);
        }
        assert!(matches!(g.check(b, Some(&owner), t0), Err(Held::Source(_))));
        let c: IpAddr = "192.168.1.12".parse().unwrap();
        let year = t0 + KNOWN_MAX_AGE;
        for i in 0..GLOBAL {
            g.failed(IpAddr::from([10, 1, 0, i as u8]), year);
        }
        assert!(g.check(c, Some(&owner), year).is_err());
        // Signing in again keeps the token and renews it.
        assert_eq!(g.signed_in(Some(&owner), year), owner);
        assert!(g.check(c, Some(&owner), year).is_ok());
    }
}
