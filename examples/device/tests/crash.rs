//! Crash safety of `lantrust-device`'s state directory (issue 9): `enroll`, `renew`, `rename` and
//! `reset` against Debian's Pebble, each killed with SIGKILL at a random point, tens of rounds.
//! After every kill, before anything repairs the directory, each state file is absent, its old
//! version or a new version that parses (key PEM, certificate chain, JSON, hex account key); after
//! the next command's start-up recovery, no temp file is left, the key matches the chain's leaf
//! and the metadata names the chain's serial. The seed is printed; rerun a schedule with
//! `LANTRUST_CRASH_SEED=N`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use der::Decode;
use lantrust_test_support::pebble::{Pebble, PebbleOptions, start_pebble};
use lantrust_test_support::{crash_seed, openssl_stdout, output_text as text, temp_dir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustls_pki_types::pem::PemObject;

const DEVICE: &str = env!("CARGO_BIN_EXE_lantrust-device");

/// Every regular file under `dir` (relative path → content).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn leaf(chain: &[u8]) -> x509_cert::Certificate {
    let first = rustls_pki_types::CertificateDer::pem_slice_iter(chain)
        .next()
        .expect("a certificate in chain.pem")
        .expect("chain.pem is PEM");
    x509_cert::Certificate::from_der(&first).expect("the leaf parses")
}

/// Whether a state file's content is well-formed for its name (a half-written file is not).
fn check_file(rel: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = rel.file_name().unwrap().to_str().unwrap();
    let fail = |why: &str| Err(format!("{}: {why}", rel.display()));
    match name {
        "key.pem" => {
            if rustls_pki_types::PrivateKeyDer::from_pem_slice(bytes).is_err() {
                return fail("not a PEM private key");
            }
        }
        "chain.pem" | "root.pem" => {
            let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(bytes).collect();
            if certs.is_empty() {
                return fail("no certificate");
            }
            for c in certs {
                let Ok(c) = c else { return fail("bad PEM") };
                if x509_cert::Certificate::from_der(&c).is_err() {
                    return fail("a certificate does not parse");
                }
            }
        }
        "meta.json" | "device.json" => {
            if serde_json::from_slice::<serde_json::Value>(bytes).is_err() {
                return fail("not JSON");
            }
        }
        "account.key" => {
            let ok = std::str::from_utf8(bytes)
                .ok()
                .and_then(|t| hex::decode(t.trim()).ok())
                .is_some_and(|k| k.len() == 48);
            if !ok {
                return fail("not a hex P-384 scalar");
            }
        }
        "current" => {
            if bytes.is_empty() || bytes.contains(&b'/') {
                return fail("not a network label");
            }
        }
        // Leftovers of the killed writer (temp or staged files, a commit marker, a directory
        // being removed) are judged after recovery.
        _ if name.starts_with('.') || rel.iter().any(|c| c.to_string_lossy().starts_with('.')) => {}
        _ => return fail("unexpected file"),
    }
    Ok(())
}

/// What the state looks like to the user (after a command's start-up recovery): no leftovers,
/// and each network's key, chain and metadata belong together.
fn check_consistent(state: &Path) {
    let files = snapshot(state);
    for rel in files.keys() {
        assert!(
            !rel.iter().any(|c| c.to_string_lossy().starts_with('.')),
            "left behind after recovery: {}",
            rel.display()
        );
    }
    let nets = state.join("networks");
    for net in std::fs::read_dir(&nets).into_iter().flatten().flatten() {
        let dir = net.path();
        let (key, chain) = (dir.join("key.pem"), dir.join("chain.pem"));
        assert_eq!(
            key.exists(),
            chain.exists(),
            "{}: a key without its chain or the reverse",
            dir.display()
        );
        if !chain.exists() {
            continue;
        }
        // The key is the leaf's (openssl compares the public keys).
        let k = openssl_stdout(&dir, &["pkey", "-pubout", "-in", "key.pem"]);
        let c = openssl_stdout(&dir, &["x509", "-pubkey", "-noout", "-in", "chain.pem"]);
        assert_eq!(k, c, "{}: key.pem does not match chain.pem", dir.display());
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
        let serial = hex::encode(
            leaf(&std::fs::read(&chain).unwrap())
                .tbs_certificate
                .serial_number
                .as_bytes(),
        );
        assert_eq!(
            meta["serial"],
            serial,
            "{}: meta.json names another certificate",
            dir.display()
        );
    }
}

/// A temporary directory with Debian's Pebble in it (`None`, after a loud SKIPPED, when a peer
/// is missing).
fn crash_pebble() -> (tempfile::TempDir, Option<Pebble>) {
    let dir = temp_dir("device-crash");
    let pebble = start_pebble(dir.path(), &PebbleOptions::default());
    (dir, pebble)
}

/// `enroll` of device `device-c0ffee` in `example.com` with Pebble (trusting its HTTPS CA,
/// answering http-01 where Pebble validates), state in `state`.
fn enroll_args(pebble: &Pebble, state: &str) -> Vec<String> {
    let http01 = format!("127.0.0.1:{}", pebble.http01_port);
    [
        "enroll",
        "--state",
        state,
        "--id",
        "device-c0ffee",
        "--domain",
        "example.com",
        "--directory",
        &pebble.directory,
        "--root",
        pebble.ca_pem.to_str().unwrap(),
        "--http01-listen",
        &http01,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn kill_9_during_enroll_renew_rename_reset_leaves_whole_files() {
    let (dir, Some(pebble)) = crash_pebble() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(crash_seed(
        "kill_9_during_enroll_renew_rename_reset_leaves_whole_files",
    ));
    let rounds: u32 = std::env::var("LANTRUST_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);

    let state = dir.path().join("state");
    let s = state.to_str().unwrap().to_string();
    let http01 = format!("127.0.0.1:{}", pebble.http01_port);
    let args = |op: &str, n: u32| -> Vec<String> {
        let mut v: Vec<String> = vec![op.into(), "--state".into(), s.clone()];
        match op {
            "enroll" => {
                v = enroll_args(&pebble, &s);
                v.extend(["--timeout".to_string(), "60".to_string()]);
            }
            "renew" => v.extend(["--http01-listen".to_string(), http01.clone()]),
            "rename" => v.extend([
                "--new-id".to_string(),
                format!("device-{n:06x}"),
                "--http01-listen".to_string(),
                http01.clone(),
            ]),
            _ => {}
        }
        v
    };
    let run = |argv: &[String]| -> Child {
        Command::new(DEVICE)
            .args(argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // How long each command takes here (its first run is not killed, to measure it): kills are
    // spread over that span, half of them near its end, where the files are written.
    let mut spans: BTreeMap<&str, Duration> = BTreeMap::new();
    let begin = Instant::now();
    let out = run(&args("enroll", 0)).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    spans.insert("enroll", begin.elapsed());
    check_consistent(&state);

    let mut tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for round in 1..=rounds {
        let enrolled = state.join("current").exists();
        let op = if !enrolled {
            "enroll"
        } else {
            // Every command comes up; the seed decides when each is killed.
            ["renew", "rename", "enroll", "renew", "rename", "reset"][round as usize % 6]
        };
        let before = snapshot(&state);
        let started = Instant::now();
        let mut child = run(&args(op, round));
        let span = spans.get(op).copied();
        let kill_at = match span {
            None => Duration::MAX,
            Some(d) if op != "reset" && rng.gen_bool(0.5) => d.mul_f64(rng.gen_range(0.85..1.05)),
            Some(d) => d.mul_f64(rng.gen_range(0.1..1.0)),
        };
        let finished = lantrust_test_support::kill_at(&mut child, started, kill_at);
        let out = child.wait_with_output().unwrap();
        if std::env::var_os("LANTRUST_CRASH_VERBOSE").is_some() {
            eprintln!(
                "round {round}: {op} {} after {:?} (span {span:?}, status {:?})",
                if finished { "finished" } else { "killed" },
                started.elapsed(),
                out.status.code()
            );
        }
        let t = tally.entry(op).or_default();
        if finished {
            t.0 += 1;
            // Some commands legitimately fail (e.g. a rename to the name the device has);
            // what matters is the files.
            let took = started.elapsed();
            if out.status.success() {
                spans.insert(op, span.map_or(took, |d| (d * 3 + took) / 4));
            }
        } else {
            t.1 += 1;
        }

        // Straight after the kill: every file whole (old, or new and well-formed), and every
        // key file (temp and staged copies included) private from the moment it exists.
        let after = snapshot(&state);
        for rel in after.keys() {
            if rel.file_name().unwrap().to_string_lossy().contains("key") {
                use std::os::unix::fs::PermissionsExt;
                // (A file removed since the snapshot has no mode to check.)
                if let Ok(m) = std::fs::metadata(state.join(rel)) {
                    let mode = m.permissions().mode() & 0o777;
                    assert_eq!(
                        mode & 0o077,
                        0,
                        "round {round} ({op}): {} has mode {mode:o}",
                        rel.display()
                    );
                }
            }
        }
        for (rel, bytes) in &after {
            if before.get(rel) != Some(bytes) {
                if let Err(e) = check_file(rel, bytes) {
                    panic!(
                        "round {round} ({op}, killed: {}): {e}\n{}",
                        !finished,
                        text(&out)
                    );
                }
            }
        }
        // The next command's start-up recovery makes it consistent.
        let status = Command::new(DEVICE)
            .args(["status", "--state", &s, "--json"])
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "round {round} ({op}): {}",
            text(&status)
        );
        check_consistent(&state);
    }
    eprintln!("{rounds} rounds (completed, killed): {tally:?}");
    let killed: u32 = tally.values().map(|t| t.1).sum();
    assert!(killed >= rounds / 3, "too few kills landed: {tally:?}");

    // And the directory is still usable: (re-)enroll, then renew.
    let out = run(&args("enroll", 0)).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&args("renew", 0)).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    check_consistent(&state);
}

/// A PID no process has (above the kernel's largest, 2^22): plays the killed writer.
const DEAD: u32 = 4_194_400;

fn copy_files(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for n in names {
        std::fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

/// The crash points a random kill rarely hits, laid out by hand with the real files of two
/// certificates: mid-commit of a renewal (before and after the first rename), before the commit
/// point, leftovers of a killed `reset`, and a `rename` or `reset` killed after the server
/// revoked. The next command must finish or undo each one.
#[test]
fn recovery_of_hand_made_crash_states() {
    let (dir, Some(pebble)) = crash_pebble() else {
        return;
    };
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let http01 = format!("127.0.0.1:{}", pebble.http01_port);
    let device = |args: &[&str]| {
        let out = Command::new(DEVICE).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    };
    let enroll = enroll_args(&pebble, s);
    device(&enroll.iter().map(String::as_str).collect::<Vec<_>>());
    let net = state.join("networks/127.0.0.1");
    let group = ["key.pem", "chain.pem", "meta.json"];
    let (v1, v2) = (dir.path().join("v1"), dir.path().join("v2"));
    copy_files(&net, &v1, &group);
    device(&["renew", "--state", s, "--http01-listen", &http01]);
    copy_files(&net, &v2, &group);
    let same = |a: &Path, b: &Path| {
        group
            .iter()
            .all(|n| std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap())
    };
    assert!(!same(&v1, &v2));
    let stage = |from: &Path, names: &[&str]| {
        for n in names {
            std::fs::copy(from.join(n), net.join(format!(".{n}.{DEAD}.staged"))).unwrap();
        }
    };
    let marker = format!("{DEAD}\nkey.pem\nchain.pem\nmeta.json\n");
    let status = || {
        let out = device(&["status", "--state", s, "--json"]);
        check_consistent(&state);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // Killed after the commit point, before any rename: rolled forward to v2.
    copy_files(&v1, &net, &group);
    stage(&v2, &group);
    std::fs::write(net.join(".lantrust-commit"), &marker).unwrap();
    let err = status();
    assert!(
        err.contains("finished the update a crash interrupted"),
        "{err}"
    );
    assert!(same(&net, &v2));

    // Killed after renaming the key (new key, old chain: the pair a plain write order leaves).
    copy_files(&v1, &net, &["chain.pem", "meta.json"]);
    stage(&v2, &["chain.pem", "meta.json"]);
    std::fs::write(net.join(".lantrust-commit"), &marker).unwrap();
    status();
    assert!(same(&net, &v2));

    // Killed before the commit point, with a temp file half written: rolled back to v1.
    copy_files(&v1, &net, &group);
    stage(&v2, &group);
    std::fs::write(net.join(format!(".meta.json.tmp.{DEAD}")), b"{\"serial\":").unwrap();
    status();
    assert!(same(&net, &v1));

    // A reset killed after it renamed the networks away: the next start deletes them.
    let doomed = state.join(format!(".networks.{DEAD}.removing"));
    copy_files(&v1, &doomed.join("old"), &group);
    status();
    assert!(!doomed.exists());

    // A rename killed after the revocation and the new ID were saved: `rename` again finishes
    // it rather than answering that the device already has that name.
    copy_files(&v2, &net, &group);
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net.join("meta.json")).unwrap()).unwrap();
    meta["id"] = "device-beef01".into();
    std::fs::write(net.join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    let out = device(&[
        "rename",
        "--state",
        s,
        "--new-id",
        "device-beef01",
        "--http01-listen",
        &http01,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("finishing the interrupted rename"), "{err}");
    let names = openssl_stdout(
        &net,
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            "chain.pem",
        ],
    );
    let names = String::from_utf8_lossy(&names);
    assert!(
        names.contains("device-beef01.local") && !names.contains("c0ffee"),
        "{names}"
    );
    check_consistent(&state);

    // A rename killed after the server revoked but before anything was saved: put the revoked
    // certificate back; `reset` finds it revoked already and still succeeds.
    let v3 = dir.path().join("v3");
    copy_files(&net, &v3, &group);
    device(&[
        "rename",
        "--state",
        s,
        "--new-id",
        "device-beef02",
        "--http01-listen",
        &http01,
    ]);
    copy_files(&v3, &net, &group);
    let out = device(&["reset", "--state", s]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was already revoked"), "{err}");
    assert!(!state.join("networks").exists() && !state.join("current").exists());
    check_consistent(&state);
}
