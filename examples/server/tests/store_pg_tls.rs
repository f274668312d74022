//! The PostgreSQL store over TLS (`?sslmode=verify-full&sslrootcert=CA.pem`) against a real
//! PostgreSQL with `ssl=on` and `hostssl` alone in its `pg_hba.conf` (Debian `postgresql` on a
//! loopback port; a failure with `LANTRUST_REQUIRE_PEERS=1` when it is not installed). The
//! server's certificate, for `localhost` and 127.0.0.1, is signed by a throwaway CA made with
//! openssl. `init` and a device's enrollment through `serve` work over verified TLS, and every
//! connection of the replica is encrypted (`pg_stat_ssl`); a wrong CA, plain TCP and a host name
//! the certificate does not carry are each refused with a message that says why.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;

use common::*;
use lantrust_test_support::bins::Binaries;
use lantrust_test_support::openssl::localhost_tls;
use lantrust_test_support::output_text;
use lantrust_test_support::postgres::{Options, start_postgres_with};

/// `init --store URL` of a new state directory `dir/tag`.
fn init_pg(dir: &Path, tag: &str, url: &str) -> std::process::Output {
    init_in(dir, tag, &["--store", url])
}

/// `init` must fail, saying all of `needles`; no state directory is left behind.
fn refused(dir: &Path, tag: &str, url: &str, needles: &[&str]) -> String {
    let out = init_pg(dir, tag, url);
    let text = output_text(&out);
    eprintln!("{tag}: {text}");
    assert!(!out.status.success(), "{url} was accepted: {text}");
    for n in needles {
        assert!(text.contains(n), "{url}: no {n:?} in: {text}");
    }
    assert!(!dir.join(tag).exists(), "{text}");
    text
}

#[test]
fn store_over_verified_tls_and_what_is_refused() {
    if !have("openssl") {
        lantrust_test_support::skip("PostgreSQL TLS: openssl is missing");
        return;
    }
    let dir = temp_dir("store-pg-tls");
    let pki = dir.path().join("pki");
    let other = dir.path().join("other-pki");
    std::fs::create_dir_all(&pki).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    localhost_tls(&pki);
    localhost_tls(&other);
    let Some(pg) = start_postgres_with(&Options {
        tls: Some((pki.join("cert.pem"), pki.join("key.pem"))),
        ssl_only: true,
        hba_first: vec!["hostssl all pw 127.0.0.1/32 scram-sha-256".to_string()],
    }) else {
        return;
    };
    for db in ["lt", "lt_ca", "lt_req"] {
        pg.psql_ok("postgres", &format!("CREATE DATABASE {db}"));
    }
    pg.psql_ok("postgres", "CREATE ROLE pw LOGIN PASSWORD 'hunter2'");
    pg.psql_ok("postgres", "CREATE DATABASE lt_pw OWNER pw");
    let ca = pki.join("ca.pem");
    let verified = |db: &str| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            pg.url(db),
            ca.display()
        )
    };

    // (b) A CA that did not sign the server's certificate: refused, naming the certificate.
    let text = refused(
        dir.path(),
        "wrong-ca",
        &format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            pg.url("lt"),
            other.join("ca.pem").display()
        ),
        &["certificate", "sslrootcert="],
    );
    // (Both throwaway CAs have the same name: webpki finds the wrong one and says BadSignature.)
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("must chain to the CA"), "{text}");
    // (c) Plain TCP to a hostssl-only server: the server refuses it, and init says to use TLS.
    refused(
        dir.path(),
        "plain",
        &format!("{}?sslmode=disable", pg.url("lt")),
        &["no encryption", "sslmode=verify-full"],
    );
    // (d) verify-full to a host name the certificate does not carry (the connection still goes
    // to 127.0.0.1 through hostaddr): refused; verify-ca, which checks the chain only, connects.
    let misnamed = |mode: &str, db: &str| {
        format!(
            "postgres://lantrust@db.example.test:{}/{db}?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}",
            pg.port,
            ca.display()
        )
    };
    let text = refused(
        dir.path(),
        "misnamed",
        &misnamed("verify-full", "lt"),
        &["certificate", "db.example.test"],
    );
    assert!(text.contains("name the host"), "{text}");
    let ok = init_pg(dir.path(), "verify-ca", &misnamed("verify-ca", "lt_ca"));
    assert!(ok.status.success(), "{}", output_text(&ok));
    // require: encrypted without checking; accepted by the hostssl-only server.
    let ok = init_pg(
        dir.path(),
        "require",
        &format!("{}?sslmode=require", pg.url("lt_req")),
    );
    assert!(ok.status.success(), "{}", output_text(&ok));
    // A role that signs in with its password (SCRAM) and binds it to this TLS channel
    // (channel_binding=require: tls-server-end-point, the certificate's hash on both sides).
    let out = init_pg(
        dir.path(),
        "scram",
        &format!(
            "postgres://pw:hunter2@127.0.0.1:{}/lt_pw?sslmode=verify-full&sslrootcert={}&channel_binding=require",
            pg.port,
            ca.display()
        ),
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("pw:***@") && !text.contains("hunter2"),
        "{text}"
    );
    // A wrong password there is the server's refusal, still masked.
    let text = refused(
        dir.path(),
        "scram-wrong",
        &format!(
            "postgres://pw:wrong-pw@127.0.0.1:{}/lt_pw?sslmode=verify-full&sslrootcert={}",
            pg.port,
            ca.display()
        ),
        &["password authentication failed", "pw:***@"],
    );
    assert!(!text.contains("wrong-pw"), "{text}");
    // A root file that is not there: refused before connecting, naming it.
    refused(
        dir.path(),
        "no-root",
        &format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            pg.url("lt"),
            dir.path().join("missing.pem").display()
        ),
        &["missing.pem", "cannot read sslrootcert"],
    );

    // (a) verify-full with the right CA: init, then a device enrolls through serve.
    let out = init_pg(dir.path(), "state", &verified("lt"));
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("warning"), "{text}");
    let state = dir.path().join("state");
    let s = state.to_str().unwrap().to_string();
    assert!(
        std::fs::read_to_string(state.join("store-url"))
            .unwrap()
            .contains("sslmode=verify-full"),
    );
    let port = free_port();
    let http = free_port();
    let _serve = serve_auto_approve(dir.path(), &state, port, &[("cam-1", http)]);
    let bins = Binaries::build(BIN, &["lantrust-device"]);
    let serve_log = enroll_ok(&bins, dir.path(), "dev", "cam-1", port, http);
    assert_eq!(
        pg.psql_ok(
            "lt",
            "SELECT count(*) FROM certificates WHERE device_id = 'cam-1'"
        ),
        "1",
        "{serve_log}"
    );
    assert!(!serve_log.contains("panicked"), "{serve_log}");
    assert!(
        !serve_log.contains("in clear") && !serve_log.contains("not checked"),
        "{serve_log}"
    );
    // An admin command over the same TLS store.
    let states = device_states(&s);
    assert_eq!(
        states,
        vec![("cam-1".to_string(), "approved".to_string())],
        "{states:?}"
    );

    // The server's view: every connection of the replica to the store is TLS.
    let sql = "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
               FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
               WHERE a.datname = 'lt' AND a.pid <> pg_backend_pid()";
    let counts = pg.psql_ok("lt", sql);
    let (tls, plain) = counts.split_once('|').unwrap();
    assert!(tls.parse::<u32>().unwrap() >= 1, "{counts}");
    assert_eq!(plain, "0", "{counts}");
}
