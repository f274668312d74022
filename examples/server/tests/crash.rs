//! Crash safety of `lantrust-server` (issue 9): the real binary on 127.0.0.1 is killed with
//! SIGKILL at random points while several simulated devices enroll concurrently (lantrust-acme's
//! client core over HTTPS, one account per device, http-01 answered by one responder that
//! `--resolve '*=…'` points every name at), and restarted on the same state directory and port;
//! the devices retry. Between rounds, and while the server is down, approvals are decided and
//! devices revoked with the admin CLI; a second phase runs a manual-approval server and decides
//! waiting devices across kills.
//!
//! At the end: every certificate a device received is in the store (same DER, same device), every
//! decision the CLI acknowledged is intact, every certificate of a revoked device is revoked and
//! listed in /crl, and SQLite's `PRAGMA integrity_check` says `ok` on the database as a final
//! kill left it. The random schedule's seed is printed; rerun one with `LANTRUST_CRASH_SEED=N`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BIN, Proc, call, cli_ok, free_port, http01_responder, init_state, now, temp_dir};
use der::Decode;
use lantrust_acme::client::{Client, ClientConfig, Event};
use lantrust_acme::{AccountKey, Algorithm};
use lantrust_test_support::acme::{
    DeviceOrder, Timeouts, agent_with, certificate_der_from_pem, try_drive,
};
use lantrust_test_support::crash_seed as seed;
use lantrust_test_support::http01::Tokens;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustls_pki_types::pem::PemObject;

/// The server process, killed with SIGKILL and restarted on the same state and port.
struct Server {
    state: PathBuf,
    port: u16,
    responder: u16,
    log: PathBuf,
    child: Option<Proc>,
    starts: usize,
}

impl Server {
    /// An initialised state directory in `dir` (see [`init_state`]), served on a free port of
    /// 127.0.0.1 (not started yet), every name it validates resolved to one http-01 responder.
    /// Returns the server, the root certificate (PEM) and the responder's token table.
    fn init(dir: &Path) -> (Self, String, Tokens) {
        let state = init_state(dir);
        let root_pem = std::fs::read_to_string(state.join("root.pem")).unwrap();
        let (responder, tokens) = http01_responder();
        let srv = Server {
            state,
            port: free_port(),
            responder,
            log: dir.join("serve.log"),
            child: None,
            starts: 0,
        };
        (srv, root_pem, tokens)
    }

    fn state(&self) -> &str {
        self.state.to_str().unwrap()
    }

    fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/acme/directory", self.port)
    }

    fn spawn(&mut self, auto_approve: bool) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let listen = format!("127.0.0.1:{}", self.port);
        let resolve = format!("*=127.0.0.1:{}", self.responder);
        let mut args = vec![
            "serve",
            "--state",
            self.state.to_str().unwrap(),
            "--listen",
            &listen,
            "--resolve",
            &resolve,
        ];
        if auto_approve {
            args.push("--auto-approve");
        }
        self.starts += 1;
        self.child = Some(Proc::spawn(
            Command::new(BIN)
                .args(&args)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log),
        ));
    }

    /// Start and wait until it accepts connections (restarting it if the port is not free yet).
    fn start(&mut self, auto_approve: bool) {
        let begin = Instant::now();
        self.spawn(auto_approve);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().0.try_wait().unwrap() {
                assert!(
                    begin.elapsed() < Duration::from_secs(20),
                    "the server keeps exiting ({status}) after a kill:\n{}",
                    self.log_tail()
                );
                self.child = None;
                std::thread::sleep(Duration::from_millis(200));
                self.spawn(auto_approve);
            }
            assert!(
                begin.elapsed() < Duration::from_secs(30),
                "the server never listened again:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (dropping the [`Proc`] kills and reaps it), no chance to clean up.
    fn kill9(&mut self) {
        self.child = None;
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// A ureq agent trusting the server's root; a short connect timeout so that a device retries
/// soon after a kill.
fn agent(root_pem: &str) -> ureq::Agent {
    agent_with(
        certificate_der_from_pem(root_pem),
        Timeouts {
            connect: Some(Duration::from_secs(2)),
            overall: Duration::from_secs(20),
        },
    )
}

/// How an enrollment ended.
#[derive(Debug)]
enum Outcome {
    /// The leaf certificate (DER).
    Certificate(Vec<u8>),
    /// The server refused the device (denied or revoked).
    Refused(String),
    /// Asked to stop before it finished.
    Stopped,
}

/// Enroll `device` (names `<device>.local`, `<device>.home.arpa`) until it gets a certificate or
/// is refused, starting over after every transport error (the server was killed) or retryable
/// failure. One account key per device, as a real device keeps its key across retries.
fn enroll(
    directory: &str,
    agent: &ureq::Agent,
    tokens: &Tokens,
    device: &str,
    stop: &AtomicBool,
    retries: &AtomicUsize,
) -> Outcome {
    let key = AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng).unwrap();
    let secret = key.ec_secret_bytes().unwrap().to_vec();
    let order = DeviceOrder::new(device);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            Instant::now() < deadline,
            "{device} got no certificate in 90 s"
        );
        if stop.load(Ordering::Relaxed) {
            return Outcome::Stopped;
        }
        let mut cfg = ClientConfig::new(directory);
        cfg.default_poll_interval = Duration::from_millis(200);
        cfg.max_poll_interval = Duration::from_secs(1);
        cfg.contact = vec![format!("https://{device}.local/")];
        let key = AccountKey::from_ec_bytes(Algorithm::Es384, &secret).unwrap();
        let mut client = Client::new(cfg, key, order.issue());
        let left = deadline.saturating_duration_since(Instant::now());
        match try_drive(&mut client, agent, tokens, left) {
            Ok(driven) => {
                for ev in driven.events {
                    match ev {
                        Event::Certificate(c) => {
                            let leaf =
                                rustls_pki_types::CertificateDer::pem_slice_iter(c.pem.as_bytes())
                                    .next()
                                    .expect("a certificate in the chain")
                                    .unwrap();
                            return Outcome::Certificate(leaf.to_vec());
                        }
                        Event::Failed(e) => {
                            let e = e.to_string();
                            if e.contains("denied") || e.contains("revoked") {
                                return Outcome::Refused(e);
                            }
                            // E.g. rateLimited after a burst of retries: try again.
                            eprintln!("{device}: {e}; retrying");
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                if std::env::var_os("LANTRUST_CRASH_VERBOSE").is_some() {
                    eprintln!("{:?} {device}: {e}; retrying", now());
                }
            }
        }
        retries.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What the devices received and what the CLI acknowledged.
#[derive(Default)]
struct Ledger {
    /// device → leaf DERs it received.
    received: Mutex<BTreeMap<String, Vec<Vec<u8>>>>,
    /// device → the last decision the CLI acknowledged (`approved`, `denied`, `revoked`).
    decided: Mutex<BTreeMap<String, &'static str>>,
}

impl Ledger {
    fn decide(&self, state: &str, cmd: &str, device: &str, expect: &'static str) {
        let out = cli_ok(&[cmd, "--state", state, "--json", device]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["state"], expect, "{out}");
        self.decided.lock().unwrap().insert(device.into(), expect);
    }
    /// How many certificates the devices received.
    fn count(&self) -> usize {
        self.received.lock().unwrap().values().map(Vec::len).sum()
    }
    /// A device that received a certificate and is not revoked yet.
    fn unrevoked(&self, rng: &mut StdRng) -> Option<String> {
        let decided = self.decided.lock().unwrap();
        let v: Vec<String> = self
            .received
            .lock()
            .unwrap()
            .keys()
            .filter(|d| !decided.contains_key(*d))
            .cloned()
            .collect();
        (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())].clone())
    }
}

fn pending(state: &str) -> HashSet<String> {
    let out = cli_ok(&["pending", "--state", state, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap().to_string())
        .collect()
}

fn serial_of(der: &[u8]) -> Vec<u8> {
    x509_cert::Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec()
}

#[test]
fn kill_9_under_load_loses_nothing() {
    let mut rng = StdRng::seed_from_u64(seed("kill_9_under_load_loses_nothing"));
    let dir = temp_dir("crash");
    let (mut srv, root_pem, tokens) = Server::init(dir.path());
    let state = srv.state.clone();
    let st = srv.state().to_string();
    let directory = srv.directory();
    let ledger = Arc::new(Ledger::default());
    let retries = Arc::new(AtomicUsize::new(0));

    // Phase 1: auto-approval under load, killed at random points.
    srv.start(true);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let (directory, root_pem, tokens) =
                (directory.clone(), root_pem.clone(), tokens.clone());
            let (ledger, stop, retries) = (ledger.clone(), stop.clone(), retries.clone());
            std::thread::spawn(move || {
                let agent = agent(&root_pem);
                for k in 0.. {
                    let device = format!("load-{t}-{k}");
                    match enroll(&directory, &agent, &tokens, &device, &stop, &retries) {
                        Outcome::Certificate(der) => ledger
                            .received
                            .lock()
                            .unwrap()
                            .entry(device)
                            .or_default()
                            .push(der),
                        Outcome::Refused(e) => panic!("{device} refused under auto-approval: {e}"),
                        Outcome::Stopped => break,
                    }
                }
            })
        })
        .collect();
    let rounds: u32 = std::env::var("LANTRUST_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut got = 0;
    for round in 0..rounds {
        // Now and then a kill right after the start (opening the database, binding).
        if rng.gen_ratio(1, 4) {
            srv.kill9();
            srv.spawn(true);
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..60)));
        }
        // An enrollment takes about a second here: most rounds let some finish. A round that
        // saw none waits for one (the restarted server must let retries through), then kills
        // at a random point of the others' enrollments.
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..3000)));
        let waited = Instant::now();
        while ledger.count() <= got {
            assert!(
                waited.elapsed() < Duration::from_secs(30),
                "no enrollment succeeded for 30 s after restart {}:\n{}",
                srv.starts,
                srv.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..400)));
        // Decisions while the server is under load...
        if let Some(d) = ledger.unrevoked(&mut rng) {
            ledger.decide(&st, "revoke", &d, "revoked");
        }
        ledger.decide(&st, "approve", &format!("pre-{round}"), "approved");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        srv.kill9();
        // ...and while it is down.
        ledger.decide(&st, "deny", &format!("denied-{round}"), "denied");
        if let Some(d) = ledger.unrevoked(&mut rng) {
            ledger.decide(&st, "revoke", &d, "revoked");
        }
        srv.start(true);
        got = ledger.count();
    }
    // Let the load settle on a live server, then stop it.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let loaded = ledger.count();
    eprintln!(
        "phase 1: {loaded} certificates received over {} server starts, {} client restarts",
        srv.starts,
        retries.load(Ordering::Relaxed)
    );
    assert!(
        loaded >= 6,
        "too little load got through: {loaded} certificates"
    );

    // Phase 2: manual approval, decisions across kills.
    srv.kill9();
    srv.start(false);
    let manual = ["man-a", "man-b", "man-c", "pre-0"];
    let stop = Arc::new(AtomicBool::new(false));
    let waiting: Vec<_> = manual
        .iter()
        .map(|device| {
            let (directory, root_pem, tokens) =
                (directory.clone(), root_pem.clone(), tokens.clone());
            let (stop, retries, device) = (stop.clone(), retries.clone(), device.to_string());
            std::thread::spawn(move || {
                let agent = agent(&root_pem);
                (
                    device.clone(),
                    enroll(&directory, &agent, &tokens, &device, &stop, &retries),
                )
            })
        })
        .collect();
    let begin = Instant::now();
    loop {
        let p = pending(&st);
        if ["man-a", "man-b", "man-c"].iter().all(|d| p.contains(*d)) {
            // pre-0 was approved in phase 1 before it ever asked: it never waits.
            assert!(!p.contains("pre-0"), "the pre-approval was lost: {p:?}");
            break;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "the manual devices never became pending: {p:?}\n{}",
            srv.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..800)));
    srv.kill9();
    ledger.decide(&st, "approve", "man-a", "approved");
    ledger.decide(&st, "deny", "man-b", "denied");
    srv.start(false);
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..1000)));
    srv.kill9();
    srv.start(false);
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..500)));
    ledger.decide(&st, "approve", "man-c", "approved");
    let mut outcomes = BTreeMap::new();
    for w in waiting {
        let (device, outcome) = w.join().unwrap();
        outcomes.insert(device, outcome);
    }
    for device in ["man-a", "man-c", "pre-0"] {
        match outcomes.remove(device) {
            Some(Outcome::Certificate(der)) => ledger
                .received
                .lock()
                .unwrap()
                .entry(device.into())
                .or_default()
                .push(der),
            other => panic!("{device}: {other:?}\n{}", srv.log_tail()),
        }
    }
    match outcomes.remove("man-b") {
        Some(Outcome::Refused(e)) => assert!(e.contains("denied"), "{e}"),
        other => panic!("man-b was denied but ended {other:?}"),
    }
    ledger.decide(&st, "revoke", "man-a", "revoked");
    // One last crash, then read everything back from the restarted server.
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
    srv.kill9();
    srv.start(false);

    let received = ledger.received.lock().unwrap().clone();
    let decided = ledger.decided.lock().unwrap().clone();
    let states: HashMap<String, String> = common::device_states(&st).into_iter().collect();
    // Every acknowledged decision is intact; every device that got a certificate stays approved
    // unless it was revoked afterwards.
    for (device, want) in &decided {
        assert_eq!(
            states.get(device).map(String::as_str),
            Some(*want),
            "{device}"
        );
    }
    for device in received.keys() {
        let want = decided.get(device).copied().unwrap_or("approved");
        assert_eq!(
            states.get(device).map(String::as_str),
            Some(want),
            "{device}"
        );
    }

    // The CRL from the restarted server.
    let agent = agent(&root_pem);
    let resp = agent
        .get(&format!("https://127.0.0.1:{}/crl", srv.port))
        .call()
        .unwrap();
    let mut crl_der = Vec::new();
    resp.into_reader().read_to_end(&mut crl_der).unwrap();
    let crl = x509_cert::crl::CertificateList::from_der(&crl_der).unwrap();
    let crl_serials: HashSet<Vec<u8>> = crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .map(|r| r.serial_number.as_bytes().to_vec())
        .collect();

    // The database as a crash leaves it, opened afresh (WAL recovery included).
    srv.kill9();
    let conn = rusqlite::Connection::open(state.join("lantrust.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let fk: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0, "dangling revocations");
    let mut stored: HashMap<Vec<u8>, (String, bool)> = HashMap::new();
    let mut q = conn
        .prepare(
            "SELECT c.leaf_der, c.device_id, r.cert_id IS NOT NULL
             FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id",
        )
        .unwrap();
    let rows = q
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    let mut by_device: HashMap<String, Vec<(Vec<u8>, bool)>> = HashMap::new();
    for row in rows {
        let (der, device, revoked): (Vec<u8>, String, bool) = row.unwrap();
        by_device
            .entry(device.clone())
            .or_default()
            .push((serial_of(&der), revoked));
        assert!(
            stored.insert(der, (device, revoked)).is_none(),
            "a certificate is stored twice"
        );
    }
    let mut total = 0;
    for (device, ders) in &received {
        for der in ders {
            total += 1;
            let (who, _) = stored
                .get(der)
                .unwrap_or_else(|| panic!("{device}'s certificate is missing from the store"));
            assert_eq!(who, device);
        }
    }
    // Revoked devices: every certificate ever issued to them (a killed finalize may have issued
    // one the device never received) is revoked and in the CRL.
    let mut revoked_certs = 0;
    for (device, _) in decided.iter().filter(|(_, s)| **s == "revoked") {
        let certs = by_device.get(device).map(Vec::as_slice).unwrap_or(&[]);
        assert!(
            !certs.is_empty(),
            "{device} was revoked but has no certificates"
        );
        for (serial, revoked) in certs {
            assert!(revoked, "{device}: a certificate escaped the revocation");
            assert!(
                crl_serials.contains(serial),
                "{device}: serial missing from /crl"
            );
            revoked_certs += 1;
        }
    }
    eprintln!(
        "checked: {total} received certificates of {} devices in a store of {}, {} decisions, \
         {revoked_certs} revoked certificates in a CRL of {}, integrity ok, {} server starts",
        received.len(),
        stored.len(),
        decided.len(),
        crl_serials.len(),
        srv.starts
    );
}

/// `init` killed at random points must leave either no lantrust state (so `init` can simply be
/// run again) or a complete one (root, key 0600, a database `serve` opens).
#[test]
fn init_killed_at_any_point_is_all_or_nothing() {
    let mut rng = StdRng::seed_from_u64(seed("init_killed_at_any_point_is_all_or_nothing"));
    let dir = temp_dir("crash-init");
    let init = |state: &Path| {
        Command::new(BIN)
            .args([
                "init",
                "--state",
                state.to_str().unwrap(),
                "--name",
                "router",
            ])
            .args(["--domain", "home.arpa", "--ip", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a whole `init` takes here: kills are spread over that span.
    let begin = Instant::now();
    assert!(init(&dir.path().join("timing")).wait().unwrap().success());
    let span = begin.elapsed().as_micros() as u64;
    let (mut complete, mut empty, mut stuck) = (0, 0, Vec::new());
    for round in 0..30 {
        let state = dir.path().join(format!("s{round}"));
        let mut child = init(&state);
        std::thread::sleep(Duration::from_micros(
            rng.gen_range(span / 3..span + span / 10),
        ));
        let _ = child.kill();
        let _ = child.wait();
        let s = state.to_str().unwrap();
        let list = Command::new(BIN)
            .args(["list", "--state", s])
            .output()
            .unwrap();
        if list.status.success() {
            complete += 1;
            let pem = std::fs::read_to_string(state.join("root.pem")).unwrap();
            lantrust_ca::certificate_from_pem(&pem).unwrap();
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.join("root-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            continue;
        }
        let again = Command::new(BIN)
            .args([
                "init",
                "--state",
                s,
                "--name",
                "router",
                "--domain",
                "home.arpa",
            ])
            .output()
            .unwrap();
        if again.status.success() {
            empty += 1;
        } else {
            let mut files: Vec<String> = std::fs::read_dir(&state)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            stuck.push(format!(
                "round {round}: {files:?}: {}",
                String::from_utf8_lossy(&again.stderr)
            ));
        }
    }
    eprintln!(
        "init kills: {complete} complete, {empty} re-initialised, {} stuck",
        stuck.len()
    );
    assert!(
        stuck.is_empty(),
        "state directories neither usable nor re-initialisable:\n{}",
        stuck.join("\n")
    );
}

/// The admin commands killed mid-way: a `revoke` the CLI did not acknowledge either happened
/// whole (approval revoked and every certificate of the device revoked) or not at all, never
/// one without the other; an acknowledged one is whole.
#[test]
fn revoke_killed_mid_way_is_all_or_nothing() {
    let mut rng = StdRng::seed_from_u64(seed("revoke_killed_mid_way_is_all_or_nothing"));
    let dir = temp_dir("crash-revoke");
    let (mut srv, root_pem, tokens) = Server::init(dir.path());
    let state = srv.state.clone();
    let st = srv.state().to_string();
    srv.start(true);
    let directory = srv.directory();

    // Devices with two certificates each (a revocation has several rows to write).
    let devices: Vec<String> = (0..8).map(|i| format!("adm-{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let retries = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for chunk in devices.chunks(2) {
            let (directory, root_pem, tokens) = (&directory, &root_pem, &tokens);
            let (stop, retries) = (&stop, &retries);
            scope.spawn(move || {
                let agent = agent(root_pem);
                for d in chunk {
                    for _ in 0..2 {
                        let o = enroll(directory, &agent, tokens, d, stop, retries);
                        assert!(matches!(o, Outcome::Certificate(_)), "{d}: {o:?}");
                    }
                }
            });
        }
    });

    let db = rusqlite::Connection::open(state.join("lantrust.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let facts = |device: &str| -> (String, i64, i64) {
        db.query_row(
            "SELECT a.state,
                    (SELECT COUNT(*) FROM certificates c WHERE c.device_id = ?1),
                    (SELECT COUNT(*) FROM certificates c JOIN revocations r ON r.cert_id = c.id
                     WHERE c.device_id = ?1)
             FROM approvals a WHERE a.device_id = ?1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    // How long a `revoke` takes here; kills land over that span.
    let begin = Instant::now();
    cli_ok(&["revoke", "--state", &st, "timing-probe"]);
    let span = begin.elapsed();
    let (mut acked, mut killed_before, mut killed_after) = (0, 0, 0);
    for d in &devices {
        let (before, certs, revoked) = facts(d);
        assert_eq!((before.as_str(), certs, revoked), ("approved", 2, 0), "{d}");
        let mut child = Command::new(BIN)
            .args(["revoke", "--state", &st, "--json", d])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(span.mul_f64(rng.gen_range(0.3..1.1)));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let status = child.wait().unwrap();
        let (after, certs, revoked) = facts(d);
        assert_eq!(certs, 2);
        match (after.as_str(), revoked) {
            ("revoked", 2) if finished && status.success() => acked += 1,
            ("revoked", 2) => killed_after += 1,
            ("approved", 0) if !status.success() => killed_before += 1,
            other => panic!("{d}: after a killed revoke: {other:?} (exit {status})"),
        }
    }
    eprintln!(
        "revoke: {acked} acknowledged, {killed_after} killed after committing, \
         {killed_before} killed before (span {span:?})"
    );
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// `serve` first runs lantrust-cli's crash recovery on the state directory: a temp file that a
/// killed writer left (here the admin token's, named after a PID that has exited and older than
/// the minute after which fs.rs calls any writer's file stale) is gone before the server answers,
/// while the temp file of a writer at work (this live process, a fresh file) is left alone.
#[test]
fn serve_removes_a_dead_writers_temp_file_at_start_up() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = temp_dir("crash-recover");
    let (mut srv, root_pem, _tokens) = Server::init(dir.path());
    let token_path = srv.state.join("admin-token");
    let token = std::fs::read(&token_path).unwrap();
    let plant = |name: &str, age: Duration| {
        let path = srv.state.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        // Half written, as a kill leaves it.
        std::io::Write::write_all(&mut f, &token[..token.len() / 2]).unwrap();
        f.set_modified(std::time::SystemTime::now() - age).unwrap();
        path
    };
    // The killed writer: a process that has exited and been reaped.
    let mut writer = Command::new("true").spawn().unwrap();
    let dead_pid = writer.id();
    assert!(writer.wait().unwrap().success());
    assert!(!Path::new(&format!("/proc/{dead_pid}")).exists());
    let dead_name = format!(".admin-token.tmp.{dead_pid}");
    let dead = plant(&dead_name, Duration::from_secs(120));
    let live = plant(
        &format!(".admin-token.tmp.{}", std::process::id()),
        Duration::ZERO,
    );

    srv.start(false);
    assert!(
        !dead.exists(),
        "serve left the dead writer's {dead_name}:\n{}",
        srv.log_tail()
    );
    assert!(live.exists(), "serve removed a live writer's temp file");
    assert_eq!(
        std::fs::read(&token_path).unwrap(),
        token,
        "the admin token itself changed"
    );
    let log = std::fs::read_to_string(&srv.log).unwrap();
    assert!(
        log.contains("cleaned up after an earlier crash") && log.contains(&dead_name),
        "{log}"
    );
    // And it serves: the ACME directory over HTTPS under the network's root.
    let (status, _, body) = call(agent(&root_pem).get(&srv.directory()).call());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let directory: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        directory["newNonce"],
        format!("https://127.0.0.1:{}/acme/new-nonce", srv.port)
    );
}
