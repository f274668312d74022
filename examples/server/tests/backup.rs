//! `backup` and `restore` (issue 15): backups taken while `serve` issues certificates to devices
//! enrolling in parallel (their approvals made meanwhile by the admin command) restore into
//! fresh state directories holding every approval and certificate of their moment; the last
//! one, restored, serves with the same root. Damaged archives, a wrong or missing passphrase and
//! a non-empty target are refused, and leave nothing behind.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lantrust_test_support::acme::{device_client, drive};

fn list(state: &Path) -> serde_json::Value {
    serde_json::from_str(&cli_ok(&[
        "list",
        "--state",
        state.to_str().unwrap(),
        "--json",
    ]))
    .unwrap()
}

/// `(device_id, state)` pairs, or `(serial, device_id)` pairs.
type Pairs = Vec<(String, String)>;

/// `(device_id, state)` pairs and `(serial, device_id)` pairs of a `list --json`.
fn approvals_and_certs(v: &serde_json::Value) -> (Pairs, Pairs) {
    let devices = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["device_id"].to_string(), d["state"].to_string()))
        .collect();
    let mut certs: Vec<(String, String)> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["serial"].to_string(), c["device_id"].to_string()))
        .collect();
    certs.sort();
    (devices, certs)
}

fn restore(archive: &Path, target: &Path, passphrase: Option<&Path>) -> std::process::Output {
    let mut args = vec![
        "restore".to_string(),
        "--state".into(),
        target.to_str().unwrap().into(),
    ];
    if let Some(p) = passphrase {
        args.push("--passphrase-file".into());
        args.push(p.to_str().unwrap().into());
    }
    args.push(archive.to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(&args)
}

fn backup(state: &Path, out: &Path, passphrase: Option<&Path>) {
    let mut args = vec![
        "backup".to_string(),
        "--state".into(),
        state.to_str().unwrap().into(),
    ];
    if let Some(p) = passphrase {
        args.push("--passphrase-file".into());
        args.push(p.to_str().unwrap().into());
    }
    args.push(out.to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli_ok(&args);
    let mode = std::fs::metadata(out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is not 0600", out.display());
}

/// Nothing named like `target` (the directory or a staging sibling) exists.
fn nothing_left(target: &Path) {
    assert!(!target.exists(), "{} was (half-)restored", target.display());
    let name = target.file_name().unwrap().to_str().unwrap();
    for e in std::fs::read_dir(target.parent().unwrap()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(name), "leftover {n}");
    }
}

#[test]
fn backup_under_load_restores_every_approval_and_certificate() {
    let dir = temp_dir("backup");
    let (h, tokens) = http01_responder();
    let resolve = format!("*=127.0.0.1:{h}");
    let srv = init_and_serve(dir.path(), &["--resolve", &resolve, "--no-abuse-limits"]);
    let state = srv.state.clone();
    let root_pem = std::fs::read_to_string(state.join("root.pem")).unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();

    // The load: 3 devices at a time, each approved by the admin command, then enrolled.
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (stop, issued, tokens) = (stop.clone(), issued.clone(), tokens.clone());
            let (directory, root, s) = (
                srv.directory(),
                root_pem.clone(),
                srv.state_arg().to_string(),
            );
            std::thread::spawn(move || {
                let agent = agent(&root);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let id = format!("dev-{w}-{i}");
                    cli_ok(&["approve", "--state", &s, &id]);
                    let mut client = device_client(&directory, &id);
                    let d = drive(&mut client, &agent, &tokens, Duration::from_secs(60));
                    assert_eq!(d.failure(), None, "{id}");
                    issued.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            })
        })
        .collect();
    let wait_issued = |n: usize| {
        let start = Instant::now();
        while issued.load(Ordering::SeqCst) < n {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the load stalled"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_issued(3);
    let b1 = dir.path().join("b1.tar");
    backup(&state, &b1, None);
    wait_issued(issued.load(Ordering::SeqCst) + 3);
    let b2 = dir.path().join("b2.tar.age");
    backup(&state, &b2, Some(&pass));
    wait_issued(issued.load(Ordering::SeqCst) + 2);
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    // After the load, with `serve` still running.
    let b3 = dir.path().join("b3.tar.age");
    backup(&state, &b3, Some(&pass));
    let live = list(&state);
    let (live_devices, live_certs) = approvals_and_certs(&live);
    assert!(live_certs.len() >= 8, "{live}");

    // The snapshots taken under load: what they hold is what the server held then, a consistent
    // subset of today's: each approval, each certificate (serial, device) is in the live state.
    for (archive, pass) in [(&b1, None), (&b2, Some(pass.as_path()))] {
        let target = dir.path().join(format!(
            "restored-{}",
            archive.file_name().unwrap().to_str().unwrap()
        ));
        let out = restore(archive, &target, pass);
        assert!(
            out.status.success(),
            "{}",
            lantrust_test_support::output_text(&out)
        );
        let (devices, certs) = approvals_and_certs(&list(&target));
        assert!(!certs.is_empty());
        for d in &devices {
            assert!(live_devices.contains(d), "{d:?} not in the live state");
        }
        for c in &certs {
            assert!(live_certs.contains(c), "{c:?} not in the live state");
        }
        // Every issued certificate's device is approved in the same snapshot.
        for (_, device) in &certs {
            assert!(
                devices
                    .iter()
                    .any(|(d, s)| d == device && s == "\"approved\""),
                "{device} has a certificate but no approval in the snapshot"
            );
        }
        assert_eq!(
            std::fs::read_to_string(target.join("root.pem")).unwrap(),
            root_pem
        );
    }

    // The last backup holds exactly the live state, and the restored directory serves with the
    // same root (the HTTPS certificate is made with the restored key).
    let fresh = dir.path().join("machine-2").join("state");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    let out = restore(&b3, &fresh, Some(&pass));
    assert!(
        out.status.success(),
        "{}",
        lantrust_test_support::output_text(&out)
    );
    assert_eq!(
        approvals_and_certs(&list(&fresh)),
        (live_devices, live_certs)
    );
    for (f, mode) in [
        ("root-key.pem", 0o600),
        ("lantrust.db", 0o600),
        ("admin-token", 0o600),
    ] {
        let m = std::fs::metadata(fresh.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{f}");
    }
    drop(srv);
    let port = free_port();
    let _p = Proc::spawn(
        Command::new(BIN)
            .args(["serve", "--state", fresh.to_str().unwrap()])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--resolve",
                &resolve,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port);
    let served = agent(&root_pem)
        .get(&format!("https://127.0.0.1:{port}/roots.pem"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(served.contains(root_pem.trim()), "{served}");
    let mut client = device_client(
        &format!("https://127.0.0.1:{port}/acme/directory"),
        "dev-after",
    );
    cli_ok(&["approve", "--state", fresh.to_str().unwrap(), "dev-after"]);
    let d = drive(
        &mut client,
        &agent(&root_pem),
        &tokens,
        Duration::from_secs(60),
    );
    // A new device enrolls with the restored server: its certificate chains to the same root.
    assert_eq!(d.failure(), None);
    let after = list(&fresh);
    assert!(
        after["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["device_id"] == "dev-after"),
        "{after}"
    );
}

#[test]
fn damaged_archives_and_wrong_passphrases_are_refused_without_a_trace() {
    let dir = temp_dir("backup-damage");
    let state = init_state(dir.path());
    cli_ok(&["approve", "--state", state.to_str().unwrap(), "dev-1"]);
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "one passphrase\n").unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "another passphrase\n").unwrap();
    let plain = dir.path().join("plain.tar");
    backup(&state, &plain, None);
    let enc = dir.path().join("enc.tar.age");
    backup(&state, &enc, Some(&pass));
    // An existing archive is not overwritten.
    let out = cli(&[
        "backup",
        "--state",
        state.to_str().unwrap(),
        plain.to_str().unwrap(),
    ]);
    assert!(!out.status.success());

    let bytes = std::fs::read(&plain).unwrap();
    let ebytes = std::fs::read(&enc).unwrap();
    let damaged = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let mut flipped = bytes.clone();
    // Inside the database's data: its tar header holds the name, the data follows 512 bytes on.
    let header = bytes
        .windows(b"lantrust.db\0".len())
        .position(|w| w == b"lantrust.db\0")
        .unwrap();
    flipped[header + 512 + 1000] ^= 0x40;
    let mut eflipped = ebytes.clone();
    let at = eflipped.len() / 2;
    eflipped[at] ^= 0x01;
    let cases: Vec<(std::path::PathBuf, Option<&Path>, &str)> = vec![
        (damaged("flipped.tar", &flipped), None, "damaged"),
        (
            damaged("short.tar", &bytes[..bytes.len() / 2]),
            None,
            "damaged",
        ),
        (damaged("empty.tar", b""), None, ""),
        (damaged("eflipped.age", &eflipped), Some(&pass), "damaged"),
        (
            damaged("eshort.age", &ebytes[..ebytes.len() - 100]),
            Some(&pass),
            "",
        ),
        (enc.clone(), Some(&wrong), "wrong passphrase"),
        (enc.clone(), None, "encrypted; give its passphrase"),
    ];
    for (i, (archive, pass, says)) in cases.iter().enumerate() {
        let target = dir.path().join(format!("target-{i}"));
        let out = restore(archive, &target, *pass);
        let text = lantrust_test_support::output_text(&out);
        assert!(
            !out.status.success(),
            "{} restored: {text}",
            archive.display()
        );
        assert!(text.contains(says), "{}: {text}", archive.display());
        nothing_left(&target);
    }
    // A non-empty target is refused and left as it was.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep"), "x").unwrap();
    let out = restore(&plain, &busy, None);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    // The intact archives restore.
    for (archive, p, t) in [
        (&plain, None, "ok-plain"),
        (&enc, Some(pass.as_path()), "ok-enc"),
    ] {
        let target = dir.path().join(t);
        let out = restore(archive, &target, p);
        assert!(
            out.status.success(),
            "{}",
            lantrust_test_support::output_text(&out)
        );
        assert_eq!(
            device_states(target.to_str().unwrap()),
            vec![("dev-1".to_string(), "approved".to_string())]
        );
    }
}
