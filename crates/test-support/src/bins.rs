//! The workspace's own binaries (`lantrust-server`, `lantrust-device`, `lantrust-client`) run the
//! way a person would: build them, start a network (init + serve), enroll a device with
//! approval, serve it, join it from a client.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::net::{free_port, wait_for_port};
use crate::process::{Proc, output_text, run};

/// The directory holding the workspace's built binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Builds `packages` (incrementally, so they are never stale) into the target directory that
    /// holds `own_exe`, a binary Cargo built for this test (pass
    /// `env!("CARGO_BIN_EXE_<name>")`); a failed build is a panic.
    pub fn build(own_exe: &str, packages: &[&str]) -> Self {
        let dir = Path::new(own_exe)
            .parent()
            .unwrap_or_else(|| panic!("{own_exe} has no parent directory"))
            .to_path_buf();
        if !packages.is_empty() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut args = vec!["build", "-q"];
            for p in packages {
                args.extend(["-p", p]);
            }
            let status = Command::new(&cargo)
                .args(&args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap_or_else(|e| panic!("cannot run {cargo} {args:?}: {e}"));
            assert!(status.success(), "building {packages:?} failed");
        }
        Self { dir }
    }

    /// The path of binary `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs binary `name ARGS` to completion (the status is not checked).
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        run(self.path(name), args)
    }

    /// `lantrust-device serve --state STATE` on a free port of 127.0.0.1, answering http-01 on
    /// 127.0.0.1:`http`; returns the process and its HTTPS port once it listens.
    pub fn serve_device(&self, state: &Path, http: u16) -> (Proc, u16) {
        let port = free_port();
        let p = Proc::spawn(
            Command::new(self.path("lantrust-device"))
                .args([
                    "serve",
                    "--state",
                    path_str(state),
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--http01-listen",
                    &format!("127.0.0.1:{http}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(port);
        (p, port)
    }

    /// A `lantrust-client` with its state in `state`.
    pub fn client(&self, state: &Path) -> ClientCli {
        ClientCli {
            bin: self.path("lantrust-client"),
            state: path_str(state).to_string(),
        }
    }
}

/// A `lantrust-server` network (named `lantrust`, domain `home.arpa`) serving on 127.0.0.1.
#[derive(Debug)]
pub struct Network {
    /// Its state directory.
    pub state: PathBuf,
    /// Its HTTPS port on 127.0.0.1.
    pub port: u16,
    /// The host name in the origin clients use (`https://<url_host>:PORT`).
    pub url_host: String,
    bins: Binaries,
    _server: Proc,
}

impl Network {
    /// `init` a server named `lantrust` for `home.arpa` in `dir/srv-<tag>`, then `serve` it on a
    /// free port with origin `https://<url_host>:PORT`, reaching each of `devices` (ID, http-01
    /// port) for validation through `--resolve` of its `.local` and `home.arpa` names (the
    /// server has one http-01 port: the first device's).
    pub fn start(
        bins: &Binaries,
        dir: &Path,
        tag: &str,
        devices: &[(&str, u16)],
        url_host: &str,
    ) -> Self {
        Self::start_with_args(bins, dir, tag, devices, url_host, &[])
    }

    /// [`Network::start`] with `extra` arguments for `serve` (e.g. `--cert-days 1`).
    pub fn start_with_args(
        bins: &Binaries,
        dir: &Path,
        tag: &str,
        devices: &[(&str, u16)],
        url_host: &str,
        extra: &[&str],
    ) -> Self {
        let state = dir.join(format!("srv-{tag}"));
        let s = path_str(&state);
        let out = bins.run(
            "lantrust-server",
            &[
                "init",
                "--state",
                s,
                "--name",
                "lantrust",
                "--domain",
                "home.arpa",
            ],
        );
        assert!(out.status.success(), "{}", output_text(&out));
        let port = free_port();
        let mut args = vec![
            "serve".to_string(),
            "--state".into(),
            s.into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--url".into(),
            format!("https://{url_host}:{port}"),
        ];
        for (id, http) in devices {
            args.extend(resolve_args(id, *http));
        }
        // One http-01 port for the server (it takes the flag once): the first device's, so
        // several devices given here share it.
        if let Some((_, http)) = devices.first() {
            args.push("--http01-port".into());
            args.push(http.to_string());
        }
        args.extend(extra.iter().map(|a| (*a).to_string()));
        // The server's log, for a failing test's investigation: `dir/srv-<tag>.log`.
        let log = std::fs::File::create(dir.join(format!("srv-{tag}.log")))
            .map_or_else(|_| Stdio::null(), Stdio::from);
        let server = Proc::spawn(
            Command::new(bins.path("lantrust-server"))
                .args(&args)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log),
        );
        wait_for_port(port);
        Self {
            state,
            port,
            url_host: url_host.into(),
            bins: bins.clone(),
            _server: server,
        }
    }

    /// [`Network::start`] with one device `id`, then [`Network::enroll`] it and
    /// [`Binaries::serve_device`] it: the usual start of a client test.
    pub fn start_with_device(
        bins: &Binaries,
        dir: &Path,
        tag: &str,
        id: &str,
    ) -> (Self, ServingDevice) {
        let http01_port = free_port();
        let net = Self::start(bins, dir, tag, &[(id, http01_port)], "lantrust.local");
        let state = net.enroll(dir, id, http01_port);
        let (proc, port) = bins.serve_device(&state, http01_port);
        let device = ServingDevice {
            state,
            port,
            http01_port,
            _proc: proc,
        };
        (net, device)
    }

    /// Its ACME directory URL.
    pub fn directory(&self) -> String {
        format!("https://{}:{}/acme/directory", self.url_host, self.port)
    }

    /// The `--resolve` argument that maps its host name to 127.0.0.1:PORT.
    pub fn resolve(&self) -> String {
        format!("{}=127.0.0.1:{}", self.url_host, self.port)
    }

    /// `lantrust-server approve ID` on this network's state.
    pub fn approve(&self, id: &str) -> Output {
        self.bins.run(
            "lantrust-server",
            &["approve", "--state", path_str(&self.state), id],
        )
    }

    /// `lantrust-device enroll` device `id` (state in `dir/dev-<id>`, http-01 on
    /// 127.0.0.1:`http`) with this network, and the §3.4.4 approval: the device must still be
    /// waiting after 3 s, then it is approved and must finish, having said it pinned the root on
    /// first use and shown progress while waiting. Returns the device's state directory.
    pub fn enroll(&self, dir: &Path, id: &str, http: u16) -> PathBuf {
        let state = dir.join(format!("dev-{id}"));
        let mut child = Proc::spawn(
            Command::new(self.bins.path("lantrust-device"))
                .args([
                    "enroll",
                    "--state",
                    path_str(&state),
                    "--id",
                    id,
                    "--domain",
                    "home.arpa",
                    "--directory",
                    &self.directory(),
                    "--resolve",
                    &self.resolve(),
                    "--http01-listen",
                    &format!("127.0.0.1:{http}"),
                    "--timeout",
                    "60",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        // Not approved yet: the device must still be waiting after a few seconds.
        std::thread::sleep(Duration::from_secs(3));
        assert!(!child.has_exited(), "enroll finished before approval");
        let out = self.approve(id);
        assert!(out.status.success(), "{}", output_text(&out));
        let start = Instant::now();
        while !child.has_exited() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "enroll hangs after approval"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output();
        assert!(out.status.success(), "{}", output_text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("trust on first use"), "{err}");
        assert!(
            err.contains("waiting for the server to validate and approve"),
            "progress while waiting: {err}"
        );
        state
    }
}

/// The `lantrust-server serve` arguments that make it reach device `id` (its `.local` and
/// `home.arpa` names) for http-01 validation on 127.0.0.1:`http01_port`:
/// `--resolve ID.local=127.0.0.1:PORT --resolve ID.home.arpa=127.0.0.1:PORT`.
pub fn resolve_args(id: &str, http01_port: u16) -> [String; 4] {
    let to = format!("127.0.0.1:{http01_port}");
    [
        "--resolve".into(),
        format!("{id}.local={to}"),
        "--resolve".into(),
        format!("{id}.home.arpa={to}"),
    ]
}

/// An enrolled device serving HTTPS on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct ServingDevice {
    /// Its state directory.
    pub state: PathBuf,
    /// Its HTTPS port.
    pub port: u16,
    /// Where it answers http-01 (for renewals).
    pub http01_port: u16,
    _proc: Proc,
}

/// A device's HTTPS endpoint as a client reaches it: its URL and the `--resolve` mapping the
/// name to 127.0.0.1.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://NAME:PORT/`.
    pub url: String,
    /// `NAME=127.0.0.1:PORT`.
    pub resolve: String,
}

impl Endpoint {
    /// The endpoint `name` served on 127.0.0.1:`port`.
    pub fn new(name: &str, port: u16) -> Self {
        Self {
            url: format!("https://{name}:{port}/"),
            resolve: format!("{name}=127.0.0.1:{port}"),
        }
    }
}

/// `lantrust-client` with one state directory.
#[derive(Debug, Clone)]
pub struct ClientCli {
    bin: PathBuf,
    state: String,
}

impl ClientCli {
    /// `lantrust-client SUBCOMMAND --state STATE ARGS…` (the status is not checked).
    pub fn run(&self, subcommand: &str, args: &[&str]) -> Output {
        let mut cmd = self.command(subcommand, args);
        cmd.output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} {subcommand} {args:?}: {e} (is it built?)",
                self.bin.display()
            )
        })
    }

    /// The command `lantrust-client SUBCOMMAND --state STATE ARGS…`, not started yet (to spawn
    /// it and kill it mid-way, say).
    pub fn command(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args([subcommand, "--state", &self.state]).args(args);
        cmd
    }

    /// `join` network `net` (its directory, its name resolved to 127.0.0.1) behind the router
    /// with MAC `mac`, with `extra` arguments after.
    pub fn join(&self, net: &Network, mac: &str, extra: &[&str]) -> Output {
        let mut cmd = self.join_command(net, mac, extra);
        cmd.output().unwrap_or_else(|e| {
            panic!("cannot run {} join: {e} (is it built?)", self.bin.display())
        })
    }

    /// The [`ClientCli::join`] command, not started yet.
    pub fn join_command(&self, net: &Network, mac: &str, extra: &[&str]) -> Command {
        let (directory, resolve) = (net.directory(), net.resolve());
        let mut args = vec![
            "--directory",
            &directory,
            "--resolve",
            &resolve,
            "--router-mac",
            mac,
        ];
        args.extend_from_slice(extra);
        self.command("join", &args)
    }

    /// `verify` the device at `device` behind the router with MAC `mac` (`extra` arguments, such
    /// as `--cellular`, go before the device).
    pub fn verify(&self, mac: &str, extra: &[&str], device: &Endpoint) -> Output {
        let mut args = vec!["--router-mac", mac];
        args.extend_from_slice(extra);
        args.extend(["--resolve", &device.resolve, &device.url]);
        self.run("verify", &args)
    }
}

/// `certutil -L -d sql:DB` (libnss3-tools): the certificates in an NSS database with their trust
/// flags (the status is not checked).
pub fn nss_certificates(db: &Path) -> Output {
    run("certutil", &["-L", "-d", &format!("sql:{}", db.display())])
}

fn path_str(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8; use a UTF-8 TMPDIR", p.display()))
}
