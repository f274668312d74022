//! Crash safety of the client's pin store (issue 9): `lantrust-client join` and `forget` against
//! a real `lantrust-server` on 127.0.0.1, killed with SIGKILL at random points, tens of rounds.
//! After each kill `pins.json` is absent, the old store or the new one, loads with lantrust-pin's
//! checksum and stays 0600, and the pinned networks are exactly the old set or the set the
//! command was making. The seed is printed; rerun a schedule with `LANTRUST_CRASH_SEED=N`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use lantrust_test_support::bins::{Binaries, ClientCli, Network};
use lantrust_test_support::{crash_seed, output_text as text, temp_dir};

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

/// The pinned networks, by `list --json` (which loads and checks the store).
fn pinned(client: &ClientCli) -> BTreeSet<String> {
    let out = client.run("list", &["--json"]);
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
    let mut rng = Rng(crash_seed(
        "kill_9_during_join_and_forget_keeps_the_pin_store_whole",
    ));
    // lantrust-server built (incrementally) next to this test's binary, so it is never stale.
    let bins = Binaries::build(CLIENT, &["lantrust-server"]);
    let dir = temp_dir("client-crash");
    let net = Network::start(&bins, dir.path(), "crash", &[], "lantrust.local");

    let state = dir.path().join("client");
    let client = bins.client(&state);
    let macs: Vec<String> = (1..=6).map(|i| format!("02:00:00:00:00:{i:02x}")).collect();
    let spawn = |op: &str, mac: &str| {
        let mut cmd = if op == "join" {
            client.join_command(&net, mac, &["--domain", "home.arpa"])
        } else {
            client.command(op, &["--router-mac", mac])
        };
        cmd.stdout(Stdio::piped())
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
        let before = pinned(&client);
        let before_bytes = std::fs::read(state.join("pins.json")).ok();
        let mac = &macs[rng.below(macs.len())];
        let op = if before.is_empty() || rng.below(3) < 2 {
            "join"
        } else {
            "forget"
        };
        let span = spans.get(op).copied();
        let started = Instant::now();
        let mut child = spawn(op, mac);
        // Half the kills near the end, where the store is written.
        let kill_at = span.map_or(Duration::MAX, |d| {
            if rng.below(2) == 0 {
                d.mul_f64(0.85 + 0.2 * rng.unit())
            } else {
                d.mul_f64(0.1 + 0.9 * rng.unit())
            }
        });
        let finished = lantrust_test_support::kill_at(&mut child, started, kill_at);
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
        let after = pinned(&client);
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
    let out = spawn("join", &macs[0]).wait_with_output().unwrap();
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
