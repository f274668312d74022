//! `--spawn`: a real `lantrust-server` child process on 127.0.0.1 with a fresh state directory,
//! and the count of certificates in its store afterwards.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Deserialize;

/// The default server binary: `lantrust-server` next to the running executable (the same
/// target directory).
pub fn default_server_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("lantrust-server")))
        .unwrap_or_else(|| PathBuf::from("lantrust-server"))
}

/// What to start.
#[derive(Clone, Debug)]
pub struct SpawnConfig {
    /// The `lantrust-server` binary.
    pub server_bin: PathBuf,
    /// State directory to create (must not exist yet or be empty).
    pub state: PathBuf,
    /// The server's name (`init --name`).
    pub name: String,
    /// The local domain (`init --domain`).
    pub domain: String,
    /// Where the http-01 responder listens (`--resolve '*=ADDR'`).
    pub http01: SocketAddr,
    /// Extra `serve` arguments (e.g. to raise abuse limits).
    pub extra_args: Vec<String>,
    /// `RUST_LOG` for the server (None: its default).
    pub log_filter: Option<String>,
    /// Keep the server's per-source abuse limits (otherwise lifted: every simulated device
    /// comes from 127.0.0.1, which the limits would rightly treat as one flooding host).
    pub keep_limits: bool,
}

/// The abuse limits a load run from one address must lift (`0` = no cap), when the server has
/// them: every simulated device shares 127.0.0.1.
pub const LIFTED_LIMITS: [&str; 5] = [
    "--new-accounts-per-minute",
    "--max-connections-per-source",
    "--max-connections",
    "--max-pending-per-source",
    "--max-pending-total",
];

/// The `serve` arguments that lift [`LIFTED_LIMITS`]: only flags that `serve --help` lists,
/// and none that `extra` already sets.
///
/// # Errors
/// When `serve --help` cannot run.
pub fn lift_limits(bin: &Path, extra: &[String]) -> anyhow::Result<Vec<String>> {
    let out = Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .with_context(|| format!("running {} serve --help", bin.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    Ok(limit_args(&help, extra))
}

fn limit_args(help: &str, extra: &[String]) -> Vec<String> {
    let known = |flag: &str| {
        help.split(|c: char| c.is_whitespace() || c == '=' || c == ',')
            .any(|w| w == flag)
    };
    let given = |flag: &str| {
        extra
            .iter()
            .any(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
    };
    LIFTED_LIMITS
        .iter()
        .filter(|f| known(f) && !given(f))
        .flat_map(|f| [(*f).to_string(), "0".to_string()])
        .collect()
}

/// A running server; killed on drop.
#[derive(Debug)]
pub struct SpawnedServer {
    child: Child,
    /// `https://127.0.0.1:PORT/acme/directory`.
    pub directory_url: String,
    /// The network root (PEM), from the state directory.
    pub root_pem: String,
    /// The server's log file.
    pub log: PathBuf,
    /// Every `serve` argument after the fixed ones (lifted limits, then the caller's extras).
    pub serve_args: Vec<String>,
    bin: PathBuf,
    state: PathBuf,
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .context("finding a free port on 127.0.0.1")?
        .local_addr()?
        .port())
}

fn check_bin(bin: &Path) -> anyhow::Result<()> {
    if !bin.is_file() {
        bail!(
            "server binary {} not found; build it with `cargo build --release -p lantrust-server` \
             (debug: `cargo build -p lantrust-server`), or pass --server-bin PATH",
            bin.display()
        );
    }
    Ok(())
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl SpawnedServer {
    /// `lantrust-server init` then `serve --auto-approve --resolve '*=HTTP01'`, waiting until
    /// the directory answers over HTTPS with the new root trusted.
    ///
    /// # Errors
    /// A missing binary, a failing `init`, or a server that exits or does not answer in 60 s
    /// (the message carries the end of its log).
    pub fn start(cfg: &SpawnConfig) -> anyhow::Result<Self> {
        check_bin(&cfg.server_bin)?;
        let state = cfg
            .state
            .to_str()
            .context("the state directory path is not UTF-8")?;
        let out = Command::new(&cfg.server_bin)
            .args(["init", "--state", state, "--name", &cfg.name, "--domain"])
            .arg(&cfg.domain)
            .args(["--ip", "127.0.0.1"])
            .output()
            .with_context(|| format!("running {} init", cfg.server_bin.display()))?;
        ensure!(
            out.status.success(),
            "lantrust-server init failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let root_pem = std::fs::read_to_string(cfg.state.join("root.pem"))
            .context("reading the network root from the new state directory")?;

        let mut serve_args = if cfg.keep_limits {
            Vec::new()
        } else {
            lift_limits(&cfg.server_bin, &cfg.extra_args)?
        };
        serve_args.extend(cfg.extra_args.iter().cloned());
        let port = free_port()?;
        let log = cfg.state.join("serve.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(&cfg.server_bin);
        cmd.args(["serve", "--state", state, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--auto-approve")
            .arg("--resolve")
            .arg(format!("*={}", cfg.http01))
            .arg("--http01-port")
            .arg(cfg.http01.port().to_string())
            .args(&serve_args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if let Some(f) = &cfg.log_filter {
            cmd.env("RUST_LOG", f);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", cfg.server_bin.display()))?;
        let mut server = SpawnedServer {
            child,
            directory_url: format!("https://127.0.0.1:{port}/acme/directory"),
            root_pem,
            log,
            serve_args,
            bin: cfg.server_bin.clone(),
            state: cfg.state.clone(),
        };
        server.wait_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let roots = lantrust_cli::pem_certs(self.root_pem.as_bytes())?;
        let cfg = lantrust_cli::tls::client_config(&roots)?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(std::sync::Arc::new(cfg))
            .timeout(Duration::from_secs(5))
            .build();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "lantrust-server serve exited ({status}) before answering; its log:\n{}",
                    tail(&self.log, 30)
                );
            }
            match agent.get(&self.directory_url).call() {
                Ok(r) if r.status() == 200 => return Ok(()),
                _ if start.elapsed() > limit => bail!(
                    "lantrust-server did not answer {} within {limit:?}; its log:\n{}",
                    self.directory_url,
                    tail(&self.log, 30)
                ),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The certificates in the server's store, via `lantrust-server list --state DIR --json`.
    ///
    /// # Errors
    /// When the command fails or prints something else than its JSON.
    pub fn store_certificates(&self) -> anyhow::Result<Vec<StoredCert>> {
        store_certificates(&self.bin, &self.state)
    }
}

/// One certificate row of `lantrust-server list --json`.
#[derive(Clone, Debug, Deserialize)]
pub struct StoredCert {
    /// The device it was issued to.
    pub device_id: String,
    /// Serial, lowercase hex.
    pub serial: String,
    /// Whether it was revoked.
    #[serde(default)]
    pub revoked: bool,
}

#[derive(Deserialize)]
struct ListJson {
    certificates: Vec<StoredCert>,
}

/// `lantrust-server list --state DIR --json` → the certificates.
///
/// # Errors
/// When the command fails or its output is not the expected JSON.
pub fn store_certificates(bin: &Path, state: &Path) -> anyhow::Result<Vec<StoredCert>> {
    let out = Command::new(bin)
        .arg("list")
        .arg("--state")
        .arg(state)
        .arg("--json")
        .output()
        .with_context(|| format!("running {} list", bin.display()))?;
    ensure!(
        out.status.success(),
        "lantrust-server list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: ListJson = serde_json::from_slice(&out.stdout)
        .context("lantrust-server list --json printed unexpected JSON")?;
    Ok(list.certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "      --new-accounts-per-minute <N>     New-account requests [default: 60]
      --max-connections <N>             Most open connections [default: 1024]
      --max-connections-per-source <N>  Most open connections from one source [default: 64]";

    #[test]
    fn lifts_only_known_and_not_given_limits() {
        assert_eq!(
            limit_args(HELP, &[]),
            [
                "--new-accounts-per-minute",
                "0",
                "--max-connections-per-source",
                "0",
                "--max-connections",
                "0"
            ]
        );
        let extra = ["--max-connections=10".to_string()];
        assert_eq!(
            limit_args(HELP, &extra),
            [
                "--new-accounts-per-minute",
                "0",
                "--max-connections-per-source",
                "0"
            ]
        );
        assert!(limit_args("--state <DIR>", &[]).is_empty());
    }
}
