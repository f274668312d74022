//! Issue 19: the PostgreSQL store (`init --store postgres://…`) against a real PostgreSQL
//! (Debian `postgresql`, a fresh cluster on a loopback port; a failure with
//! `LANTRUST_REQUIRE_PEERS=1` when it is not installed). `init` creates the schema and keeps the
//! URL (mode 0600); a second `init` on the same database is refused; the admin commands of
//! several processes decide at once without losing a decision; a device enrolls through
//! `serve` and its certificate is a row in PostgreSQL; `backup` says to use `pg_dump`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use lantrust_test_support::bins::Binaries;
use lantrust_test_support::output_text;
use lantrust_test_support::postgres::start_postgres;

/// `init --store URL` of a new state directory `dir/tag`.
fn init_pg(dir: &std::path::Path, tag: &str, url: &str) -> std::process::Output {
    init_in(dir, tag, &["--store", url])
}

#[test]
fn init_store_postgres_concurrent_decisions_and_an_enrollment() {
    let Some(pg) = start_postgres() else {
        return;
    };
    pg.psql_ok("postgres", "CREATE DATABASE lt");
    let url = pg.url("lt");
    let dir = temp_dir("store-pg");

    let out = init_pg(dir.path(), "state", &url);
    assert!(out.status.success(), "{}", output_text(&out));
    let state = dir.path().join("state");
    let s = state.to_str().unwrap().to_string();
    assert!(
        output_text(&out).contains("PostgreSQL"),
        "{}",
        output_text(&out)
    );
    let mode = std::fs::metadata(state.join("store-url"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!state.join("lantrust.db").exists());
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ),
        "10"
    );

    // The same database again: refused, naming the tables it found.
    let again = init_pg(dir.path(), "other", &url);
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("already has lantrust tables"),
        "{}",
        output_text(&again)
    );

    // Bad stores: said plainly, and a password never printed.
    let refused = init_pg(dir.path(), "mysql", "mysql://u@127.0.0.1/x");
    assert!(
        output_text(&refused).contains("only PostgreSQL URLs"),
        "{}",
        output_text(&refused)
    );
    let closed = init_pg(dir.path(), "closed", "postgres://u:hunter2@127.0.0.1:1/x");
    let text = output_text(&closed);
    assert!(!closed.status.success());
    assert!(
        text.contains("connecting to the PostgreSQL store postgres://u:***@127.0.0.1:1/x"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    pg.psql_ok("postgres", "CREATE DATABASE lt2");
    let with_pw = init_pg(
        dir.path(),
        "pw",
        &format!(
            "postgres://{}:hunter2@127.0.0.1:{}/lt2",
            "lantrust", pg.port
        ),
    );
    assert!(with_pw.status.success(), "{}", output_text(&with_pw));
    assert!(!output_text(&with_pw).contains("hunter2"));
    assert!(output_text(&with_pw).contains(":***@"));

    // Eight admin processes decide at once (pre-approvals, a deny, the same ID twice): every
    // decision is in the database, none lost to a concurrent one.
    let procs: Vec<_> = (0..8)
        .map(|i| {
            let (verb, id) = match i {
                3 => ("deny", "cam-3".to_string()),
                7 => ("approve", "cam-0".to_string()),
                i => ("approve", format!("cam-{i}")),
            };
            let child = Command::new(BIN)
                .args([verb, "--state", &s, &id])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (verb, id, child)
        })
        .collect();
    for (verb, id, child) in procs {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{verb} {id}: {}", output_text(&o));
    }
    let states = device_states(&s);
    assert_eq!(states.len(), 7, "{states:?}");
    for (id, st) in &states {
        let want = if id == "cam-3" { "denied" } else { "approved" };
        assert_eq!(st, want, "{states:?}");
    }
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM approvals WHERE state = 'approved'"
        ),
        "6"
    );

    // More of the same from four threads at once, three IDs contended: one row each.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for n in 0..4 {
                    let id = format!("race-{}", (t + n) % 3);
                    let out = lantrust_test_support::run(BIN, &["approve", "--state", &s, &id]);
                    assert!(out.status.success(), "{}", output_text(&out));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM approvals WHERE device_id LIKE 'race-%'"
        ),
        "3"
    );

    // `backup` on a PostgreSQL store: refused, with what to do instead.
    let b = cli(&[
        "backup",
        "--state",
        &s,
        dir.path().join("b.tar").to_str().unwrap(),
    ]);
    assert!(!b.status.success());
    assert!(output_text(&b).contains("pg_dump"), "{}", output_text(&b));

    // `serve` on the store: a device's enrollment lands in PostgreSQL.
    let port = free_port();
    let http = free_port();
    let http8 = free_port();
    let _serve = serve_auto_approve(
        dir.path(),
        &state,
        port,
        &[("cam-9", http), ("cam-8", http8)],
    );
    let bins = Binaries::build(BIN, &["lantrust-device"]);
    let serve_log = enroll_ok(&bins, dir.path(), "dev", "cam-9", port, http);
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM certificates WHERE device_id = 'cam-9'"
        ),
        "1",
        "{serve_log}"
    );
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT state FROM approvals WHERE device_id = 'cam-9'"
        ),
        "approved"
    );
    assert!(!serve_log.contains("panicked"), "{serve_log}");

    // PostgreSQL drops every connection of the store (a restart, a failover): the replica
    // connects again at its next statement and the next device enrolls without an error.
    pg.psql_ok(
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'lt'",
    );
    let serve_log = enroll_ok(&bins, dir.path(), "dev-8", "cam-8", port, http8);
    assert!(serve_log.contains("connecting again"), "{serve_log}");
    assert!(!serve_log.contains("database:"), "{serve_log}");
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM certificates WHERE device_id = 'cam-8'"
        ),
        "1"
    );

    // The connections opened per request (here the CRL's) are closed again, not leaked: the
    // replica keeps its handful of long-lived ones.
    let agent = agent(&std::fs::read_to_string(state.join("root.pem")).unwrap());
    for _ in 0..20 {
        let r = agent
            .get(&format!("https://127.0.0.1:{port}/crl"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let open: u32 = pg
        .psql_ok(
            "lt",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'lt' AND pid <> pg_backend_pid()",
        )
        .parse()
        .unwrap();
    assert!(
        open <= 6,
        "{open} connections to the store after 20 CRL requests"
    );
}
