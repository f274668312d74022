#![doc = include_str!("../README.md")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // an I/O tool: std is the point

pub mod device;
pub mod floor;
pub mod http01;
pub mod load;
pub mod report;
pub mod spawn;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::device::Target;
use crate::http01::Responder;
use crate::load::LoadConfig;
use crate::report::{Report, StoreCheck};
use crate::spawn::{SpawnConfig, SpawnedServer};

/// Which server to load.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Start a `lantrust-server` child with a fresh state directory.
    Spawn {
        /// The server binary.
        server_bin: PathBuf,
        /// Keep the state here (None: a temporary directory, removed afterwards).
        state: Option<PathBuf>,
        /// Extra `serve` arguments.
        extra_args: Vec<String>,
        /// `RUST_LOG` for the server.
        log_filter: Option<String>,
        /// Keep the server's per-source abuse limits.
        keep_limits: bool,
    },
    /// An external server.
    Url {
        /// Its directory URL.
        directory_url: String,
        /// Its root (PEM text).
        root_pem: String,
        /// `--resolve` overrides for its host name.
        overrides: Vec<lantrust_cli::ResolveOverride>,
    },
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Which server.
    pub mode: Mode,
    /// The local domain (the server's `--domain`).
    pub domain: String,
    /// Where the shared http-01 responder listens.
    pub http01_listen: SocketAddr,
    /// The load.
    pub load: LoadConfig,
    /// Time per floor operation (None: no floor).
    pub floor_per_op: Option<Duration>,
    /// Threads for the floor (the machine's cores).
    pub floor_threads: usize,
    /// The command line, for the report.
    pub command: String,
}

/// CPU time (user + system) used so far by process `pid` (None: this process), from
/// `/proc/PID/stat` (Linux; `None` elsewhere). Resolution: 10 ms (USER_HZ = 100).
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // "pid (comm) state ppid …": the command may hold spaces, so split after the last ')'.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The number of cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs the load, then (in `--spawn` mode) checks the store, then measures the floor.
///
/// # Errors
/// Setup failures (server binary, ports, roots); failed enrollments are reported, not errors.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let responder = Responder::start(opts.http01_listen)?;
    let mut temp = None;
    let (server, target, mode, serve_args) = match &opts.mode {
        Mode::Spawn {
            server_bin,
            state,
            extra_args,
            log_filter,
            keep_limits,
        } => {
            let state = match state {
                Some(s) => s.clone(),
                None => {
                    let t = tempfile::Builder::new()
                        .prefix("lantrust-loadgen-")
                        .tempdir()
                        .context("creating a temporary state directory")?;
                    let p = t.path().join("state");
                    temp = Some(t);
                    p
                }
            };
            let server = SpawnedServer::start(&SpawnConfig {
                server_bin: server_bin.clone(),
                state,
                name: "loadgen".into(),
                domain: opts.domain.clone(),
                http01: responder.addr(),
                extra_args: extra_args.clone(),
                log_filter: log_filter.clone(),
                keep_limits: *keep_limits,
            })?;
            if !server.serve_args.is_empty() {
                eprintln!(
                    "loadgen: lantrust-server serve {}",
                    server.serve_args.join(" ")
                );
            }
            let target = Target {
                directory_url: server.directory_url.clone(),
                roots: lantrust_cli::pem_certs(server.root_pem.as_bytes())?,
                overrides: Vec::new(),
                domain: opts.domain.clone(),
            };
            let args = server.serve_args.clone();
            (Some(server), target, "spawn", args)
        }
        Mode::Url {
            directory_url,
            root_pem,
            overrides,
        } => (
            None,
            Target {
                directory_url: directory_url.clone(),
                roots: lantrust_cli::pem_certs(root_pem.as_bytes()).context("--root")?,
                overrides: overrides.clone(),
                domain: opts.domain.clone(),
            },
            "url",
            Vec::new(),
        ),
    };

    let cpu_before = cpu_secs(None);
    let outcome = load::run(&target, &responder, &opts.load);
    let client_cpu = cpu_secs(None).zip(cpu_before).map(|(a, b)| a - b);
    let server_cpu = server.as_ref().and_then(|s| cpu_secs(Some(s.pid())));
    let (served, missed) = responder.counts();
    drop(responder);

    let mut server = server;
    let store = match server.as_mut() {
        Some(s) => {
            let alive = s.is_running();
            let certs = s.store_certificates().with_context(|| {
                format!(
                    "counting the certificates in the store (server log: {})",
                    s.log.display()
                )
            })?;
            if !alive {
                eprintln!(
                    "loadgen: WARNING: the server exited during the run; end of its log:\n{}",
                    spawn::tail(&s.log, 30)
                );
            }
            let issued: HashSet<&str> = outcome
                .enrollments
                .iter()
                .map(|e| e.serial_hex.as_str())
                .collect();
            let stored: HashSet<&str> = certs.iter().map(|c| c.serial.as_str()).collect();
            let missing = issued.difference(&stored).count();
            let unknown = stored.difference(&issued).count();
            Some(StoreCheck {
                certificates: certs.len(),
                expected: outcome.enrollments.len(),
                missing_from_store: missing,
                unknown_in_store: unknown,
                ok: certs.len() == outcome.enrollments.len() && missing == 0 && unknown == 0,
            })
        }
        None => None,
    };
    // Stop the server before timing the floor, so that the floor has the machine to itself.
    drop(server);

    let ok = outcome.enrollments.len();
    let elapsed = outcome.elapsed.as_secs_f64();
    let rate = if elapsed > 0.0 {
        ok as f64 / elapsed
    } else {
        0.0
    };
    let (requests, signed, waits) = load::per_enrollment(&outcome.enrollments);
    let floor = match opts.floor_per_op {
        Some(per_op) if ok > 0 => Some(
            floor::measure(opts.floor_threads, signed, per_op, &opts.domain)
                .context("measuring the crypto floor")?,
        ),
        _ => None,
    };
    let ratio = floor
        .as_ref()
        .filter(|f| f.issuances_per_sec > 0.0)
        .map(|f| rate / f.issuances_per_sec);
    // CPU efficiency: the floor's CPU time per issuance over the CPU time client and server
    // really spent per issuance. Unlike the wall-clock ratio, other processes on a shared
    // machine barely move it.
    let cpu_per_issuance = match (client_cpu, server_cpu, ok) {
        (Some(c), Some(s), n) if n > 0 => Some((c + s) / n as f64),
        _ => None,
    };
    let cpu_ratio = floor
        .as_ref()
        .and_then(|f| f.cpu_secs_per_issuance)
        .zip(cpu_per_issuance)
        .filter(|(_, used)| *used > 0.0)
        .map(|(f, used)| f / used);
    let utilisation = match (client_cpu, server_cpu) {
        (Some(c), Some(s)) if elapsed > 0.0 => Some((c + s) / (elapsed * cores() as f64)),
        _ => None,
    };
    let latencies: Vec<Duration> = outcome.enrollments.iter().map(|e| e.latency).collect();
    let failed = outcome.failures.len();
    let passed = failed == 0 && ok == opts.load.devices && store.as_ref().is_none_or(|s| s.ok);
    drop(temp);
    Ok(Report {
        mode: mode.into(),
        directory_url: target.directory_url,
        command: opts.command.clone(),
        server_args: serve_args,
        cores: cores(),
        devices: opts.load.devices,
        concurrency: opts.load.concurrency,
        attempted: ok + failed,
        ok,
        failed,
        failures: outcome.failures,
        elapsed_secs: elapsed,
        issuances_per_sec: rate,
        latency_ms: load::Latency::of(&latencies),
        requests_per_enrollment: requests,
        signed_requests_per_enrollment: signed,
        waits_per_enrollment: waits,
        http01_served: served,
        http01_missed: missed,
        store,
        floor,
        ratio,
        client_cpu_secs: client_cpu,
        server_cpu_secs: server_cpu,
        cpu_secs_per_issuance: cpu_per_issuance,
        cpu_ratio,
        cpu_utilisation: utilisation,
        passed,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_of_this_process_grows_with_work() {
        let Some(before) = super::cpu_secs(None) else {
            lantrust_test_support::skip("no /proc/self/stat on this system");
            return;
        };
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(200) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        core::hint::black_box(x);
        let after = super::cpu_secs(None).unwrap();
        assert!(after - before >= 0.05, "{before} -> {after}");
        // A process that does not exist has no CPU time.
        assert!(super::cpu_secs(Some(u32::MAX)).is_none());
    }
}
