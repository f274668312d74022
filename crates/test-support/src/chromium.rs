//! Headless Chromium (Debian's `chromium`) as the browser the tests show pages in. On Linux its
//! built-in verifier takes trust anchors from the user's NSS database, `$HOME/.pki/nssdb`: a test
//! gives each browser run a `home` of its own and fills that database with [`nss_trust`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the browser (`scripts/install-peers` installs `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest one page load may take before the browser is killed.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(40);

/// The flags of every headless run here: no sandbox (tests run as root), no GPU, no first-run
/// or background traffic (nothing may leave 127.0.0.1), no /dev/shm (small in containers).
pub const HEADLESS_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// Whether Chromium and `certutil` (libnss3-tools) are installed.
pub fn have_chromium() -> bool {
    Path::new(CHROMIUM).exists() && crate::have("certutil")
}

/// Makes `home/.pki/nssdb` (a fresh NSS database, no password) and imports the PEM certificate
/// `pem` under `nickname`, trusted to identify TLS servers (`certutil -t C,,`, what
/// `lantrust-client export --nss` does). Requires success.
pub fn nss_trust(home: &Path, nickname: &str, pem: &Path) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap_or_else(|e| panic!("creating {}: {e}", db.display()));
    let db = format!("sql:{}", db.display());
    let new = crate::run("certutil", &["-N", "-d", &db, "--empty-password"]);
    assert!(
        new.status.success(),
        "certutil -N: {}",
        crate::output_text(&new)
    );
    let pem = pem
        .to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", pem.display()));
    let add = crate::run(
        "certutil",
        &[
            "-A", "-d", &db, "-n", nickname, "-t", "C,,", "-a", "-i", pem,
        ],
    );
    assert!(
        add.status.success(),
        "certutil -A: {}",
        crate::output_text(&add)
    );
}

/// What one headless Chromium run left.
#[derive(Debug)]
pub struct Page {
    /// `--dump-dom` output: the DOM of the page that was shown (an error page's, when the load
    /// failed).
    pub dom: String,
    /// Chromium's log (`--enable-logging=stderr`), where network errors such as `ERR_CERT_…`
    /// show up.
    pub log: String,
    /// Whether the browser finished within [`PAGE_TIMEOUT`] (else it was killed).
    pub finished: bool,
}

impl Page {
    /// The reason a page was not shown, as Chromium logged it (`net::ERR_…`), for messages.
    pub fn failure(&self) -> &str {
        self.log
            .lines()
            .find_map(|l| l.split("Page load failed: ").nth(1))
            .or_else(|| self.dom.split_whitespace().find(|w| w.contains("ERR_")))
            .unwrap_or("page not shown")
            .trim()
    }
}

/// Loads `url` in a fresh headless Chromium whose `$HOME` is `home` (so its NSS database is
/// `home/.pki/nssdb`), with a new profile in `home`, resolving each of `hosts` to 127.0.0.1.
/// The browser and every helper process it starts run in a process group of their own, killed
/// when the page is dumped or at [`PAGE_TIMEOUT`].
pub fn load_page(home: &Path, hosts: &[&str], url: &str) -> Page {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(home).unwrap_or_else(|e| panic!("creating {}: {e}", home.display()));
    let run_dir = tempfile::tempdir_in(home).unwrap_or_else(|e| panic!("temp dir in home: {e}"));
    let (dom_file, log_file) = (
        run_dir.path().join("dom.html"),
        run_dir.path().join("log.txt"),
    );
    let file = |p: &Path| {
        std::fs::File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()))
    };
    let rules = hosts
        .iter()
        .map(|h| format!("MAP {h} 127.0.0.1"))
        .collect::<Vec<_>>()
        .join(",");
    let mut child = Command::new(CHROMIUM)
        .args(HEADLESS_ARGS)
        .args([
            "--disable-quic",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--host-resolver-rules={rules}"),
            &format!(
                "--user-data-dir={}",
                run_dir.path().join("profile").display()
            ),
            "--dump-dom",
            url,
        ])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(file(&dom_file))
        .stderr(file(&log_file))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let start = Instant::now();
    let mut finished = false;
    while start.elapsed() < PAGE_TIMEOUT {
        if matches!(child.try_wait(), Ok(Some(_))) {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The browser's helper processes are in its process group: end them all.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    Page {
        dom: std::fs::read_to_string(&dom_file).unwrap_or_default(),
        log: std::fs::read_to_string(&log_file).unwrap_or_default(),
        finished,
    }
}
