//! Crash safety of the client's pin store (issue 9): `lantrust-client join` and `forget` against
//! a real `lantrust-server` on 127.0.0.1, killed with SIGKILL at random points, tens of rounds.
//! After each kill `pins.json` is absent, the old store or the new one, loads with lantrust-pin's
//! checksum and stays 0600, and the pinned networks are exactly the old set or the set the
//! command was making. The seed is printed; rerun a schedule with `LANTRUST_CRASH_SEED=N`.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CLIENT: &str = env!("CARGO_BIN_EXE_lantrust-client");

/// SplitMix64: a seeded schedule without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Kills the child when dropped.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{:?}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `lantrust-server`, built (incrementally) next to this test's binary so it is never stale.
fn server_bin() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "lantrust-server"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building lantrust-server failed");
    Path::new(CLIENT).with_file_name("lantrust-server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The pinned networks, by `list --json` (which loads and checks the store).
fn pinned(state: &str) -> BTreeSet<String> {
    let out = Command::new(CLIENT)
        .args(["list", "--state", state, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the pin store does not load: {}",
        text(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["server"], "lantrust.local");
            p["network"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn kill_9_during_join_and_forget_keeps_the_pin_store_whole() {
    let seed = std::env::var("LANTRUST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("seed {seed} (rerun with LANTRUST_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let server = server_bin();
    let dir = tempfile::Builder::new()
        .prefix("lantrust-client-crash-")
        .tempdir()
        .unwrap();
    let srv_state = dir.path().join("server");
    let out = Command::new(&server)
        .args(["init", "--state", srv_state.to_str().unwrap()])
        .args(["--name", "lantrust", "--domain", "home.arpa"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let port = free_port();
    let _srv = Proc(
        Command::new(&server)
            .args(["serve", "--state", srv_state.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--url", &format!("https://lantrust.local:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let begin = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            begin.elapsed() < Duration::from_secs(30),
            "the server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let state = dir.path().join("client");
    let s = state.to_str().unwrap().to_string();
    let directory = format!("https://lantrust.local:{port}/acme/directory");
    let resolve = format!("lantrust.local=127.0.0.1:{port}");
    let macs: Vec<String> = (1..=6).map(|i| format!("02:00:00:00:00:{i:02x}")).collect();
    let argv = |op: &str, mac: &str| -> Vec<String> {
        let mut v = vec![op, "--state", &s, "--router-mac", mac];
        if op == "join" {
            v.extend([
                "--directory",
                &directory,
                "--resolve",
                &resolve,
                "--domain",
                "home.arpa",
            ]);
        }
        v.into_iter().map(String::from).collect()
    };
    let spawn = |args: &[String]| {
        Command::new(CLIENT)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // The first run of each command is not killed: it measures how long the command takes.
    let mut spans: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let rounds = 36;
    let mut saved_then_killed = 0;
    for round in 0..rounds {
        let before = pinned(&s);
        let before_bytes = std::fs::read(state.join("pins.json")).ok();
        let mac = &macs[rng.below(macs.len())];
        let op = if before.is_empty() || rng.below(3) < 2 {
            "join"
        } else {
            "forget"
        };
        let span = spans.get(op).copied();
        let started = Instant::now();
        let mut child = spawn(&argv(op, mac));
        // Half the kills near the end, where the store is written.
        let kill_at = span.map_or(Duration::MAX, |d| {
            if rng.below(2) == 0 {
                d.mul_f64(0.85 + 0.2 * rng.unit())
            } else {
                d.mul_f64(0.1 + 0.9 * rng.unit())
            }
        });
        while started.elapsed() < kill_at && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let t = tally.entry(op).or_default();
        if finished {
            t.0 += 1;
            // `forget` of a network never pinned fails; it still measures the command.
            let took = started.elapsed();
            spans.insert(op, span.map_or(took, |d| (d * 3 + took) / 4));
        } else {
            t.1 += 1;
            // Killed although near its measured end: the command runs slower now, adapt.
            if let Some(d) = span.filter(|d| kill_at >= d.mul_f64(0.85)) {
                spans.insert(op, d.mul_f64(1.1));
            }
        }

        // The store as the kill left it: whole (lantrust-pin verifies its checksum), private.
        if let Ok(bytes) = std::fs::read(state.join("pins.json")) {
            if let Err(e) = lantrust_pin::PinStore::from_bytes(&bytes) {
                panic!(
                    "round {round} ({op}): pins.json is damaged: {e}\n{}",
                    text(&out)
                );
            }
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.join("pins.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "round {round}");
        } else {
            assert!(
                before_bytes.is_none(),
                "round {round} ({op}): pins.json vanished"
            );
        }
        // Old or new, nothing in between: join adds at most one network, forget removes one.
        let after = pinned(&s);
        let ok = match op {
            "join" => after.is_superset(&before) && after.len() <= before.len() + 1,
            _ => after.is_subset(&before) && after.len() + 1 >= before.len(),
        };
        assert!(
            ok,
            "round {round}: {op} {mac} turned {before:?} into {after:?}"
        );
        if !finished && after != before {
            saved_then_killed += 1;
        }
        if finished && out.status.success() {
            let done = match op {
                "join" => !after.is_empty(),
                _ => after.len() + 1 == before.len(),
            };
            assert!(
                done,
                "round {round}: {op} {mac} succeeded but {before:?} → {after:?}"
            );
        }
    }
    eprintln!(
        "{rounds} rounds (completed, killed): {tally:?}; {saved_then_killed} killed after their save"
    );
    let killed: u32 = tally.values().map(|t| t.1).sum();
    assert!(killed >= rounds / 4, "too few kills landed: {tally:?}");

    // A completed save clears what killed writers left behind.
    let out = spawn(&argv("join", &macs[0])).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let left: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        ["pins.json"],
        "leftovers in the client's state directory"
    );
}
