//! `lantrust-loadgen`: N simulated devices enrolling concurrently with a lantrust-server over
//! real ACME/HTTPS on 127.0.0.1, against the crypto floor measured in the same run.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a binary: std is the point

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use lantrust_benches::device::DeviceOptions;
use lantrust_benches::load::LoadConfig;
use lantrust_benches::{Mode, Options, cores, spawn};
use lantrust_cli::ResolveOverride;

/// Load generator for lantrust-server: N simulated devices, C at a time, each doing a real
/// enrollment over HTTPS (directory → newAccount with a fresh P-384 key → newOrder for
/// `<id>.local` + `<id>.<domain>` → http-01 → poll → finalize with a CSR for a fresh P-384
/// device key → download), then checking the chain (to the server's root, names, key).
///
/// Reports issuances/s, latency percentiles, requests per enrollment and, measured after the
/// load on every core, the crypto floor (the bare ECDSA work one issuance needs) and the ratio
/// achieved/floor. Exit status: 0 if every enrollment succeeded (and, with --spawn, the
/// server's store holds exactly the issued certificates), 1 if not, 2 on a setup error.
///
/// Default mode (--spawn): start `lantrust-server init` + `serve --auto-approve --resolve
/// '*=127.0.0.1:<responder>'` in a temporary state directory. Build the server first, in the
/// same profile: `cargo build --release -p lantrust-server -p lantrust-benches`, then run
/// `target/release/lantrust-loadgen --devices 1000`.
///
/// External server: `--url https://HOST:PORT/acme/directory --root root.pem --domain D`; that
/// server must be in auto-approve mode and send http-01 for every name to --http01-listen.
#[derive(Parser, Debug)]
#[command(
    name = "lantrust-loadgen",
    version,
    about,
    long_about,
    verbatim_doc_comment
)]
struct Cli {
    /// Number of simulated devices (enrollments).
    #[arg(long, short = 'n', default_value_t = 100)]
    devices: usize,
    /// Devices enrolling at the same time. Each waits the server's Retry-After while its
    /// challenges are validated, so keep this well above the core count.
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Start a lantrust-server child process (the default when --url is not given).
    #[arg(long, conflicts_with = "url")]
    spawn: bool,
    /// The lantrust-server binary for --spawn [default: lantrust-server next to this program].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Extra argument for `lantrust-server serve` (repeatable), e.g. to raise abuse limits:
    /// --server-arg=--some-limit=100000.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Keep the spawned server's per-source abuse limits. By default they are lifted (set to 0
    /// when `serve --help` lists them: --new-accounts-per-minute, --max-connections[-per-source],
    /// --max-pending-per-source, --max-pending-total), since every simulated device comes from
    /// 127.0.0.1. --server-arg values win over the lifted ones.
    #[arg(long)]
    keep_limits: bool,
    /// RUST_LOG for the spawned server [default: the server's own, info].
    #[arg(long, value_name = "FILTER")]
    server_log: Option<String>,
    /// Create the spawned server's state here and keep it (default: a temporary directory,
    /// removed at the end). Must not exist yet.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Load an external server: its ACME directory URL.
    #[arg(long, value_name = "URL", requires = "root")]
    url: Option<String>,
    /// The external server's root certificate (PEM), trusted for HTTPS and required at the top
    /// of every issued chain.
    #[arg(long, value_name = "FILE", requires = "url")]
    root: Option<PathBuf>,
    /// Reach NAME at IP:PORT (repeatable; for an external server's host name).
    #[arg(long = "resolve", value_name = "NAME=IP:PORT")]
    resolve: Vec<ResolveOverride>,
    /// The local domain: devices ask for `<id>.local` and `<id>.<DOMAIN>` (must be one of the
    /// server's domains).
    #[arg(long, default_value = "home.arpa")]
    domain: String,
    /// Device IDs are PREFIX followed by the index (dev-0, dev-1, …).
    #[arg(long, default_value = "dev-")]
    prefix: String,
    /// First device index (use a new range when loading the same external server again).
    #[arg(long, default_value_t = 0)]
    first_index: usize,
    /// Where the shared http-01 responder listens.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    http01_listen: SocketAddr,
    /// Cap on the server's Retry-After, milliseconds (lantrust-server answers a challenge once
    /// its validation is done, and asks for 1 s when a validation takes longer than 2 s).
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    max_poll_ms: u64,
    /// Give up on one enrollment after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    timeout: u64,
    /// Seconds spent timing each of the seven floor operations.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    floor_secs: f64,
    /// Threads for the floor [default: the machine's cores].
    #[arg(long, value_name = "N")]
    floor_threads: Option<usize>,
    /// Skip the crypto floor.
    #[arg(long)]
    no_floor: bool,
    /// Progress line every SECS seconds on stderr (0: none).
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    progress: u64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn options(cli: Cli) -> anyhow::Result<Options> {
    anyhow::ensure!(cli.devices > 0, "--devices must be at least 1");
    anyhow::ensure!(cli.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        cli.floor_secs.is_finite() && cli.floor_secs > 0.0,
        "--floor-secs must be a positive number of seconds"
    );
    let mode = match (&cli.url, &cli.root) {
        (Some(url), Some(root)) => {
            anyhow::ensure!(
                url.starts_with("https://"),
                "--url {url:?}: expected https://HOST[:PORT]/acme/directory"
            );
            let root_pem = std::fs::read_to_string(root)
                .with_context(|| format!("reading --root {}", root.display()))?;
            Mode::Url {
                directory_url: url.clone(),
                root_pem,
                overrides: cli.resolve.clone(),
            }
        }
        _ => {
            if let Some(s) = &cli.state {
                anyhow::ensure!(
                    !s.exists(),
                    "--state {} already exists; give a new directory",
                    s.display()
                );
            }
            Mode::Spawn {
                server_bin: cli
                    .server_bin
                    .clone()
                    .unwrap_or_else(spawn::default_server_bin),
                state: cli.state.clone(),
                extra_args: cli.server_args.clone(),
                log_filter: cli.server_log.clone(),
                keep_limits: cli.keep_limits,
            }
        }
    };
    Ok(Options {
        mode,
        domain: cli.domain.trim_end_matches('.').to_ascii_lowercase(),
        http01_listen: cli.http01_listen,
        load: LoadConfig {
            devices: cli.devices,
            concurrency: cli.concurrency,
            prefix: cli.prefix.clone(),
            first_index: cli.first_index,
            device: DeviceOptions {
                max_poll_interval: Duration::from_millis(cli.max_poll_ms),
                timeout: Duration::from_secs(cli.timeout),
            },
            progress: (cli.progress > 0).then(|| Duration::from_secs(cli.progress)),
        },
        floor_per_op: (!cli.no_floor).then(|| Duration::from_secs_f64(cli.floor_secs)),
        floor_threads: cli.floor_threads.unwrap_or_else(cores).max(1),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = options(cli).and_then(|o| lantrust_benches::run(&o));
    match result {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("lantrust-loadgen: error: encoding the report: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{}", report.to_text());
            }
            if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("lantrust-loadgen: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
