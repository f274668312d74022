//! The PostgreSQL store's transactions under concurrency, against a real PostgreSQL (Debian
//! `postgresql`; a failure with `LANTRUST_REQUIRE_PEERS=1` when it is not installed). Each
//! thread has its own connection, as each replica and admin command has.

use std::time::Duration;

use super::{
    Config, Requester, StateDir, Verdict, create_store, next_crl_number, request_approval,
};

/// A PostgreSQL store in a fresh state directory; `None` when PostgreSQL is not installed.
pub(super) fn pg_state() -> Option<(
    lantrust_test_support::postgres::Postgres,
    tempfile::TempDir,
    StateDir,
)> {
    let pg = lantrust_test_support::postgres::start_postgres()?;
    pg.psql_ok("postgres", "CREATE DATABASE n");
    let dir = tempfile::tempdir().unwrap();
    let st = StateDir::new(dir.path());
    let config = Config {
        name: "router".into(),
        domains: vec!["home.arpa".into()],
        ips: vec![],
    };
    create_store(&st, Some(&pg.url("n")), &config, Duration::from_secs(1)).unwrap();
    Some((pg, dir, st))
}

/// RFC 5280 §5.2.3: the CRL number grows monotonically. Two connections drawing numbers at
/// once never get the same one (a read-then-write under the write lock).
#[test]
fn crl_numbers_stay_unique_across_connections() {
    let Some((_pg, _dir, st)) = pg_state() else {
        return;
    };
    let draw = |st: StateDir| {
        std::thread::spawn(move || {
            let db = st.open().unwrap();
            (0..50)
                .map(|_| next_crl_number(&db).unwrap())
                .collect::<Vec<u64>>()
        })
    };
    let (a, b) = (draw(st.clone()), draw(st));
    let mut all = a.join().unwrap();
    all.extend(b.join().unwrap());
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
}

/// Draft §3.4.4: the first key to ask binds a device ID. Two keys asking for the same IDs at
/// once, from two connections: for every ID exactly one binds it (a first request) and the
/// other is a key change, and no request fails.
#[test]
fn one_key_binds_a_device_id_when_two_ask_at_once() {
    let Some((_pg, _dir, st)) = pg_state() else {
        return;
    };
    let ask = |st: StateDir, key: &'static str| {
        std::thread::spawn(move || {
            let db = st.open().unwrap();
            (0..30)
                .map(|i| {
                    let id = format!("cam-{i}");
                    let req = Requester {
                        thumbprint: key,
                        account_id: key,
                        ip: None,
                        mac: None,
                    };
                    let now = Duration::from_secs(1_800_000_000);
                    request_approval(&db, &id, &format!("{id}.local"), &req, false, now).unwrap()
                })
                .collect::<Vec<Verdict>>()
        })
    };
    let (a, b) = (ask(st.clone(), "key-a"), ask(st.clone(), "key-b"));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    for (i, (va, vb)) in a.iter().zip(&b).enumerate() {
        let first = [va, vb]
            .iter()
            .filter(|v| ***v == Verdict::Pending { key_change: false })
            .count();
        let change = [va, vb]
            .iter()
            .filter(|v| ***v == Verdict::Pending { key_change: true })
            .count();
        assert_eq!((first, change), (1, 1), "cam-{i}: {va:?} {vb:?}");
    }
    let db = st.open().unwrap();
    let rows = super::approvals(&db, false).unwrap();
    assert_eq!(rows.len(), 30);
    assert!(
        rows.iter()
            .all(|r| r.requesters.len() == 2 && r.account.is_some())
    );
}

/// The same housekeeping SQL on PostgreSQL: stale requests nobody decided go, with their
/// pending IDs; an approved ID and its bound key stay.
#[test]
fn stale_requests_are_forgotten_on_postgres() {
    let Some((_pg, _dir, st)) = pg_state() else {
        return;
    };
    let db = st.open().unwrap();
    let now = Duration::from_secs(1_800_000_000);
    let ask = |id: &str, key: &'static str| {
        let req = Requester {
            thumbprint: key,
            account_id: key,
            ip: None,
            mac: None,
        };
        request_approval(&db, id, &format!("{id}.local"), &req, false, now).unwrap()
    };
    ask("cam-lost", "key-a");
    ask("cam-ok", "key-b");
    super::decide(&db, "cam-ok", super::ApprovalState::Approved, now).unwrap();
    ask("cam-ok", "key-c");
    assert_eq!(super::forget_stale_requests(&db, now).unwrap(), 0);
    let later = now + Duration::from_secs(1);
    assert_eq!(super::forget_stale_requests(&db, later).unwrap(), 2);
    let rows = super::approvals(&db, false).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].device_id, "cam-ok");
    assert_eq!(rows[0].account.as_deref(), Some("key-b"));
    assert!(super::pending_requests(&db).unwrap().is_empty());
}
