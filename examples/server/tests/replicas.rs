//! Issue 19, replicas: two `serve` processes behind two SRV records that dnsmasq serves from
//! `dns-records --replica` (RFC 2782, equal priority and weight), sharing their records:
//!
//! - on SQLite, one state directory (its database in WAL mode, which several processes on one
//!   host may write);
//! - on PostgreSQL (`init --store postgres://…`; a real PostgreSQL from Debian `postgresql`,
//!   started on a loopback port in a temporary data directory), each replica with its own copy of
//!   the state directory, as on two hosts.
//!
//! Devices discover them with `lantrust-device enroll --dns`, spread over both, and wait for
//! approval (§3.4.4). `approve --remote` sent to one replica releases a device held on the other
//! (the approval reaches it only through the store); then one replica is killed with SIGKILL
//! while devices wait on it (some of them just approved, in the middle of issuance): each of
//! them discovers again, passes over the dead target, and completes on the other replica with
//! the approval given before. No approval and no certificate is lost (on PostgreSQL also counted
//! with psql). A client then joins through the same records, passing over the dead replica.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lantrust_test_support::bins::{Binaries, resolve_args};
use lantrust_test_support::dns::start_dnsmasq;
use lantrust_test_support::output_text;
use lantrust_test_support::postgres::start_postgres;

/// Most devices started while waiting for both replicas to have two (the SRV choice is random).
const MAX_DEVICES: usize = 16;

/// A `serve` replica of `state` on 127.0.0.1:`port`, as `https://router.home.arpa:PORT`.
fn replica(dir: &Path, state: &Path, tag: &str, port: u16, devices: &[(String, u16)]) -> Proc {
    let mut args: Vec<String> = [
        "serve",
        "--state",
        state.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--url",
        &format!("https://router.home.arpa:{port}"),
        // Every device here comes from 127.0.0.1, and a device that fails over leaves its first
        // order waiting on the dead replica: the per-source pending cap is not under test.
        "--no-abuse-limits",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    for (id, http) in devices {
        args.extend(resolve_args(id, *http));
    }
    let log = std::fs::File::create(dir.join(format!("serve-{tag}.log"))).unwrap();
    let p = Proc::spawn(
        Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log),
    );
    wait_for_port(port);
    p
}

/// One enrolling device: its process, its log (stderr and stdout), its state.
struct Device {
    id: String,
    proc: Proc,
    log: PathBuf,
    state: PathBuf,
}

impl Device {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The replica port it enrolls with first (from its "ACME server … via" line), once known.
    fn first_port(&self) -> Option<u16> {
        let log = self.log();
        let line = log.lines().find(|l| l.starts_with("ACME server "))?;
        let url = line.split(['(', ')']).nth(1)?;
        url.strip_prefix("https://router.home.arpa:")?
            .split('/')
            .next()?
            .parse()
            .ok()
    }
}

fn state_of(state: &str, id: &str) -> Option<String> {
    device_states(state)
        .into_iter()
        .find(|(d, _)| d == id)
        .map(|(_, s)| s)
}

/// Copy the state directory `from` to `to` (`cp -a`: modes kept), as an operator sets up a
/// second replica host.
fn copy_state(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
}

/// The devices that completed, by the failover scenario of this file's doc: replica A on
/// `state`, replica B on `state_b` (the same directory on SQLite); `None` when dnsmasq is
/// missing (a failure under `LANTRUST_REQUIRE_PEERS=1`).
fn failover(
    bins: &Binaries,
    dir: &tempfile::TempDir,
    state: &Path,
    state_b: &Path,
) -> Option<Vec<Device>> {
    let s = state.to_str().unwrap().to_string();
    let sb = state_b.to_str().unwrap().to_string();
    let (pa, pb) = (free_port(), free_port());

    // The devices' http-01 ports, known to both replicas (`--resolve`).
    let devices: Vec<(String, u16)> = (0..MAX_DEVICES)
        .map(|i| (format!("cam-{i}"), free_port()))
        .collect();
    let mut a = replica(dir.path(), state, "a", pa, &devices);
    let _b = replica(dir.path(), state_b, "b", pb, &devices);

    // The SRV records as the operator gets them.
    let records = cli_ok(&[
        "dns-records",
        "--state",
        &s,
        "--format",
        "dnsmasq",
        "--replica",
        &format!("router:{pa}"),
        "--replica",
        &format!("router:{pb}"),
    ]);
    let mut opts: Vec<String> = records
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("--{l}"))
        .collect();
    assert_eq!(
        opts.iter().filter(|o| o.starts_with("--srv-host=")).count(),
        4,
        "{records}"
    );
    opts.push("--host-record=router.home.arpa,127.0.0.1".into());
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let dns = start_dnsmasq(&opts, "router.home.arpa")?;
    let dns_addr = dns.addr_arg();

    // Devices enroll until each replica holds two of them waiting for approval.
    let mut enrolling: Vec<Device> = Vec::new();
    let on =
        |list: &[Device], port: u16| list.iter().filter(|d| d.first_port() == Some(port)).count();
    for (id, http) in &devices {
        if enrolling.len() >= 6 && on(&enrolling, pa) >= 2 && on(&enrolling, pb) >= 2 {
            break;
        }
        let dev_state = dir.path().join(format!("dev-{id}"));
        let log = dir.path().join(format!("dev-{id}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let proc = Proc::spawn(
            Command::new(bins.path("lantrust-device"))
                .args([
                    "enroll",
                    "--state",
                    dev_state.to_str().unwrap(),
                    "--id",
                    id,
                    "--dns",
                    &dns_addr,
                    "--domain",
                    "home.arpa",
                    "--http01-listen",
                    &format!("127.0.0.1:{http}"),
                    "--timeout",
                    "90",
                ])
                .stdout(f.try_clone().unwrap())
                .stderr(f),
        );
        let d = Device {
            id: id.clone(),
            proc,
            log,
            state: dev_state,
        };
        wait_pending(&s, id, Duration::from_secs(30));
        let t = Instant::now();
        while d.first_port().is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "{}", d.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        enrolling.push(d);
    }
    let (na, nb) = (on(&enrolling, pa), on(&enrolling, pb));
    assert!(na >= 2 && nb >= 2, "{na} devices on A, {nb} on B");
    eprintln!(
        "{} devices waiting: {na} on replica A, {nb} on replica B",
        enrolling.len()
    );

    let root = state.join("root.pem");
    let token_file = state.join("admin-token");
    let approve_at = |port: u16, id: &str| {
        let url = format!("https://127.0.0.1:{port}");
        let out = cli(&[
            "approve",
            "--remote",
            &url,
            "--token-file",
            token_file.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            id,
        ]);
        assert!(
            out.status.success(),
            "approve {id} at {url}: {}",
            output_text(&out)
        );
    };
    let wait_done = |d: &mut Device, limit: Duration| {
        let t = Instant::now();
        while !d.proc.has_exited() {
            assert!(
                t.elapsed() < limit,
                "{} still enrolling after {limit:?}:\n{}",
                d.id,
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = d.proc.0.wait().unwrap();
        assert!(status.success(), "{}:\n{}", d.id, d.log());
        t.elapsed()
    };

    // An approval given at replica A releases a device held on replica B at once.
    let (i, _) = enrolling
        .iter()
        .enumerate()
        .find(|(_, d)| d.first_port() == Some(pb))
        .unwrap();
    let mut d = enrolling.remove(i);
    approve_at(pa, &d.id);
    let took = wait_done(&mut d, Duration::from_secs(30));
    let log = d.log();
    assert!(
        log.contains(&format!(
            "enrolled {}.local, {}.home.arpa on router.home.arpa",
            d.id, d.id
        )),
        "{log}"
    );
    assert!(!log.contains("stopped answering"), "{log}");
    eprintln!(
        "approved at A, {} completed on B {:.1} s later",
        d.id,
        took.as_secs_f32()
    );
    let mut done = vec![d];

    // Approve the first of A's devices at B, then kill A (SIGKILL) at once: that device is in
    // the middle of its issuance, the others are held in polls waiting for approval.
    let on_a: Vec<String> = enrolling
        .iter()
        .filter(|d| d.first_port() == Some(pa))
        .map(|d| d.id.clone())
        .collect();
    approve_at(pb, &on_a[0]);
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let killed = Instant::now();
    // The others: half at B over HTTPS, half with the local command on B's state directory
    // (the same as A's on SQLite; a copy sharing the database on PostgreSQL).
    for (n, d) in enrolling.iter().enumerate() {
        if d.id == on_a[0] {
            continue;
        }
        if n % 2 == 0 {
            approve_at(pb, &d.id);
        } else {
            let out = cli(&["approve", "--state", &sb, &d.id]);
            assert!(out.status.success(), "{}", output_text(&out));
        }
    }
    for mut d in enrolling {
        wait_done(&mut d, Duration::from_secs(60));
        let log = d.log();
        assert!(log.contains("on router.home.arpa"), "{log}");
        if on_a.contains(&d.id) && log.contains("stopped answering") {
            // It failed over: discovery passed over the dead replica, issuance ran on B.
            assert!(
                log.contains(&format!(
                    "https://router.home.arpa:{pa}/acme/directory does not answer"
                )) || log.contains(&format!(
                    "ACME server router.home.arpa (https://router.home.arpa:{pb}/acme/directory)"
                )),
                "{log}"
            );
        }
        done.push(d);
    }
    if let Some(d) = done.iter().find(|d| d.log().contains("stopped answering")) {
        let log = d.log();
        let story: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.starts_with("ACME server ")
                    || l.contains("stopped answering")
                    || l.contains("does not answer")
                    || l.starts_with("enrolled ")
            })
            .collect();
        eprintln!("{}:\n  {}", d.id, story.join("\n  "));
    }
    let failed_over: Vec<&str> = done
        .iter()
        .filter(|d| d.log().contains("stopped answering"))
        .map(|d| d.id.as_str())
        .collect();
    // Every device A held waiting (all but possibly the one approved just before the kill,
    // which may have finished first) failed over to B.
    assert!(
        failed_over.len() + 1 >= on_a.len(),
        "failed over: {failed_over:?}, on A: {on_a:?}"
    );
    eprintln!(
        "replica A killed; {} devices failed over and completed on B within {:.1} s",
        failed_over.len(),
        killed.elapsed().as_secs_f32()
    );

    // A client joins through the same records with replica A dead: RFC 2782 order is random
    // among equal priorities, so it joins until it has met the dead target first and passed
    // over it; every join succeeds, through B.
    let client = bins.client(&dir.path().join("client"));
    let mut passed_over = false;
    for n in 0..20 {
        if passed_over {
            break;
        }
        let out = client.run(
            "join",
            &[
                "--dns",
                &dns_addr,
                "--domain",
                "home.arpa",
                "--router-mac",
                "02:00:00:00:00:19",
            ],
        );
        let text = output_text(&out);
        assert!(out.status.success(), "join #{n}: {text}");
        assert!(
            text.contains(&format!("https://router.home.arpa:{pb}/acme/directory")),
            "join #{n}: {text}"
        );
        passed_over = text.contains(&format!(
            "ACME server https://router.home.arpa:{pa}/acme/directory does not answer"
        ));
    }
    assert!(passed_over, "20 joins never met the dead replica first");

    check_nothing_lost(&sb, state_b, &done);
    Some(done)
}

/// Every device in `done` is approved in the store seen through `state_b`, and the certificate
/// it holds is one the store lists.
fn check_nothing_lost(sb: &str, state_b: &Path, done: &[Device]) {
    // Nothing lost: every device is approved once, each has a certificate in the shared
    // database, and the certificate each device holds is one of them.
    let v: serde_json::Value =
        serde_json::from_str(&cli_ok(&["list", "--state", sb, "--json"])).unwrap();
    let certs = v["certificates"].as_array().unwrap();
    for d in done {
        assert_eq!(state_of(sb, &d.id).as_deref(), Some("approved"), "{v}");
        // The network directory is named for the server (DIR/networks/<server>/chain.pem).
        let net = std::fs::read_dir(d.state.join("networks"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("chain.pem").exists())
            .unwrap_or_else(|| panic!("{} holds no chain.pem", d.id));
        let serial = lantrust_test_support::openssl_stdout(
            &net,
            &["x509", "-in", "chain.pem", "-noout", "-serial"],
        );
        let serial = String::from_utf8_lossy(&serial)
            .trim()
            .trim_start_matches("serial=")
            .to_ascii_lowercase();
        assert!(
            certs.iter().any(|c| c["device_id"] == d.id.as_str()
                && c["serial"].as_str().map(|x| x.trim_start_matches('0'))
                    == Some(serial.trim_start_matches('0'))),
            "{}'s certificate (serial {serial}) is not in the database: {v}",
            d.id
        );
    }
    // The CRL copy the surviving replica keeps in its state directory is whole.
    lantrust_test_support::openssl(
        state_b,
        &["crl", "-inform", "DER", "-in", "crl.der", "-noout"],
    );
}

/// The two tests run one after the other: each starts a dozen processes with timing limits.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn devices_complete_through_the_other_replica_when_one_is_killed() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !lantrust_test_support::require_programs(&["openssl"], "replicas") {
        return;
    }
    let started = Instant::now();
    let bins = Binaries::build(BIN, &["lantrust-device", "lantrust-client"]);
    let dir = temp_dir("replicas");
    let state = init_state(dir.path());
    failover(&bins, &dir, &state, &state);
    eprintln!("whole test {:.1} s", started.elapsed().as_secs_f32());
}

#[test]
fn devices_complete_through_the_other_replica_on_postgres_when_one_is_killed() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !lantrust_test_support::require_programs(&["openssl"], "replicas on PostgreSQL") {
        return;
    }
    let Some(pg) = start_postgres() else {
        return;
    };
    pg.psql_ok("postgres", "CREATE DATABASE lantrust");
    let started = Instant::now();
    let bins = Binaries::build(BIN, &["lantrust-device", "lantrust-client"]);
    let dir = temp_dir("replicas-pg");
    // Replica A's state directory, made by `init --store`; replica B runs on a copy of it.
    let state = init_state_with(dir.path(), &["--store", &pg.url("lantrust")]);
    let state_b = dir.path().join("state-b");
    copy_state(&state, &state_b);
    let Some(done) = failover(&bins, &dir, &state, &state_b) else {
        return;
    };
    // Counted in PostgreSQL itself too.
    let ids: Vec<String> = done.iter().map(|d| format!("'{}'", d.id)).collect();
    let ids = ids.join(", ");
    assert_eq!(
        pg.psql_ok(
            "lantrust",
            &format!(
                "SELECT count(*) FROM approvals WHERE state = 'approved' AND device_id IN ({ids})"
            )
        ),
        done.len().to_string()
    );
    assert_eq!(
        pg.psql_ok(
            "lantrust",
            &format!(
                "SELECT count(DISTINCT device_id) FROM certificates WHERE device_id IN ({ids})"
            )
        ),
        done.len().to_string()
    );
    eprintln!(
        "PostgreSQL holds {} approvals and {} certificates",
        pg.psql_ok("lantrust", "SELECT count(*) FROM approvals"),
        pg.psql_ok("lantrust", "SELECT count(*) FROM certificates")
    );
    // Neither replica hit a database error or a panic (the PostgreSQL client runs on blocking
    // threads only).
    for tag in ["a", "b"] {
        let log = std::fs::read_to_string(dir.path().join(format!("serve-{tag}.log"))).unwrap();
        assert!(
            !log.contains("panicked") && !log.contains("database:") && !log.contains("SQLSTATE"),
            "replica {tag}:\n{log}"
        );
    }
    eprintln!("whole test {:.1} s", started.elapsed().as_secs_f32());
}
