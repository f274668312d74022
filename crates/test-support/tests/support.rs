//! The scaffolding itself, against the real programs it wraps.

#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::process::{Command, Stdio};
use std::time::Duration;

use lantrust_test_support::bins::Endpoint;
use lantrust_test_support::dns::{probe_query, start_dnsmasq, start_unbound};
use lantrust_test_support::{
    Proc, find_program, free_port, free_udp_tcp_port, have, openssl_output, require_programs,
    save_vector, temp_dir, wait_for_port_within,
};

/// The probe is a well-formed RFC 1035 query: header, QNAME labels, QTYPE A, QCLASS IN.
#[test]
fn probe_query_is_rfc1035() {
    assert_eq!(
        probe_query("ca1.example.test."),
        [
            0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, // ID 1, RD, one question
            3, b'c', b'a', b'1', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 4, b't', b'e', b's',
            b't', 0, // name
            0, 1, 0, 1, // A, IN
        ]
    );
}

#[test]
#[should_panic(expected = "bad probe name")]
fn probe_query_refuses_an_empty_label() {
    let _ = probe_query("a..b");
}

#[test]
fn programs_are_found_and_missing_ones_skip() {
    assert!(have("sh"));
    assert!(!have("lantrust-no-such-program"));
    let sh = find_program("sh").expect("sh is on PATH");
    assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
    assert_eq!(find_program("/nonexistent/x"), None);
    assert!(require_programs(&["sh", "true"], "scaffolding test"));
    assert!(!require_programs(
        &["sh", "lantrust-no-such-program"],
        "scaffolding test"
    ));
}

#[test]
fn ports_free_and_waiting() {
    let p = free_port();
    assert_ne!(p, 0);
    let listener = std::net::TcpListener::bind(("127.0.0.1", p)).expect("the port was free");
    wait_for_port_within(p, Duration::from_secs(1));
    drop(listener);
    let q = free_udp_tcp_port();
    std::net::UdpSocket::bind(("127.0.0.1", q)).expect("free for UDP");
    std::net::TcpListener::bind(("127.0.0.1", q)).expect("free for TCP");
}

#[test]
#[should_panic(expected = "never opened within")]
fn waiting_for_a_closed_port_fails_with_a_reason() {
    let p = free_port();
    wait_for_port_within(p, Duration::from_millis(200));
}

#[test]
fn proc_collects_output_and_kills_on_drop() {
    let out = Proc::spawn(
        Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .wait_with_output();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");

    let mut sleeper = Proc::spawn(Command::new("sleep").arg("60"));
    assert!(!sleeper.has_exited());
    let pid = sleeper.0.id();
    drop(sleeper);
    // Reaped: no process with that ID is left (a zombie would still be listed).
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
#[should_panic(expected = "cannot start")]
fn a_missing_program_is_a_panic_that_says_so() {
    let _ = Proc::spawn(&mut Command::new("lantrust-no-such-program"));
}

#[test]
fn temp_dirs_and_vectors() {
    let dir = temp_dir("support-test");
    let name = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("lantrust-support-test-"), "{name}");
    // Not asked to write: nothing written.
    if std::env::var_os("LANTRUST_WRITE_VECTORS").is_none() {
        save_vector(dir.path(), "v.bin", b"x");
        assert!(!dir.path().join("v.bin").exists());
    }
    let path = dir.path().to_path_buf();
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn endpoint_names_the_device() {
    let e = Endpoint::new("dev1.local", 8443);
    assert_eq!(e.url, "https://dev1.local:8443/");
    assert_eq!(e.resolve, "dev1.local=127.0.0.1:8443");
}

#[test]
fn openssl_output_reports_failure_with_its_message() {
    if !require_programs(&["openssl"], "openssl wrapper test") {
        return;
    }
    let dir = temp_dir("support-openssl");
    let (ok, out) = openssl_output(dir.path(), &["version"]);
    assert!(ok && out.starts_with("OpenSSL"), "{out}");
    let (ok, out) = openssl_output(dir.path(), &["x509", "-in", "missing.pem"]);
    assert!(!ok);
    assert!(out.contains("missing.pem"), "{out}");
}

/// RCODE of a DNS answer and its answer count.
fn rcode_and_answers(answer: &[u8]) -> (u8, u16) {
    assert!(answer.len() >= 12, "short answer {answer:?}");
    (answer[3] & 0x0f, u16::from_be_bytes([answer[6], answer[7]]))
}

#[test]
fn dnsmasq_starts_and_answers_its_records() {
    let Some(server) = start_dnsmasq(
        &["--host-record=ca1.example.test,192.0.2.10"],
        "ca1.example.test",
    ) else {
        return;
    };
    let answer = server.udp(&probe_query("ca1.example.test"));
    assert_eq!(answer[..2], [0, 1], "ID echoed");
    assert_eq!(rcode_and_answers(&answer), (0, 1));
    assert!(answer.ends_with(&[192, 0, 2, 10]), "{answer:?}");
    assert_eq!(server.addr_arg(), format!("127.0.0.1:{}", server.port()));
    // The same query written by an emitter into the caller's buffer.
    let q = probe_query("ca1.example.test");
    let again = server.udp_with(|buf| {
        buf[..q.len()].copy_from_slice(&q);
        q.len()
    });
    assert_eq!(again, answer);
}

#[test]
fn unbound_starts_and_answers_only_its_zone() {
    let Some(server) = start_unbound(
        &[
            r#"local-zone: "example.test." static"#,
            r#"local-data: "ca1.example.test. 300 IN A 192.0.2.10""#,
        ],
        "ca1.example.test",
    ) else {
        return;
    };
    let answer = server.udp(&probe_query("ca1.example.test"));
    assert_eq!(rcode_and_answers(&answer), (0, 1));
    assert!(answer.ends_with(&[192, 0, 2, 10]), "{answer:?}");
    // A name in the static zone without data: NXDOMAIN, answered locally.
    let answer = server.udp(&probe_query("nobody.example.test"));
    assert_eq!(rcode_and_answers(&answer), (3, 0));
}
