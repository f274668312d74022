//! The scaffolding itself, against the real programs it wraps.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::process::{Command, Stdio};
use std::time::Duration;

use lantrust_test_support::bins::Endpoint;
use lantrust_test_support::dns::{probe_query, start_dnsmasq, start_unbound};
use lantrust_test_support::{
    Proc, find_program, free_port, free_udp_tcp_port, have, openssl_output, require_programs,
    save_vector, temp_dir, wait_for_port_within, with_peers_required,
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
    // Whatever this run's LANTRUST_REQUIRE_PEERS says: a skip without it, a failure with it.
    let missing = || require_programs(&["sh", "lantrust-no-such-program"], "scaffolding test");
    assert!(!with_peers_required(false, missing));
    assert!(std::panic::catch_unwind(|| with_peers_required(true, missing)).is_err());
    assert!(with_peers_required(true, || require_programs(
        &["sh", "true"],
        "scaffolding test"
    )));
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

#[test]
fn resolve_args_point_both_device_names_at_the_responder() {
    assert_eq!(
        lantrust_test_support::bins::resolve_args("dev1", 8080),
        [
            "--resolve",
            "dev1.local=127.0.0.1:8080",
            "--resolve",
            "dev1.home.arpa=127.0.0.1:8080",
        ]
    );
}

#[test]
fn client_cli_commands_carry_the_state_first() {
    let exe = std::env::current_exe().unwrap();
    let bins = lantrust_test_support::bins::Binaries::build(exe.to_str().unwrap(), &[]);
    let cli = bins.client(std::path::Path::new("/tmp/st"));
    let cmd = cli.command("forget", &["--router-mac", "02:00:00:00:00:01"]);
    assert_eq!(cmd.get_program(), exe.with_file_name("lantrust-client"));
    let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
    assert_eq!(
        args,
        [
            "forget",
            "--state",
            "/tmp/st",
            "--router-mac",
            "02:00:00:00:00:01"
        ]
    );
}

/// `crash_seed` takes `LANTRUST_CRASH_SEED` and prints how to rerun; checked in a child copy of
/// this test binary, as the environment is process-wide.
#[test]
fn crash_seed_reads_the_environment_and_says_how_to_rerun() {
    if std::env::var_os("LANTRUST_SUPPORT_SEED_CHILD").is_some() {
        assert_eq!(lantrust_test_support::crash_seed("child"), 4242);
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_seed_reads_the_environment_and_says_how_to_rerun",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LANTRUST_SUPPORT_SEED_CHILD", "1")
        .env("LANTRUST_CRASH_SEED", "4242")
        .output()
        .unwrap();
    let text = lantrust_test_support::output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("child: seed 4242 (rerun with LANTRUST_CRASH_SEED=4242)"),
        "{text}"
    );
    assert!(text.contains("1 passed"), "the child ran the test: {text}");
}

#[test]
fn openssl_stdout_is_stdout_alone_and_failure_panics() {
    if !require_programs(&["openssl"], "openssl wrapper test") {
        return;
    }
    let dir = temp_dir("support-openssl-stdout");
    let out = lantrust_test_support::openssl_stdout(dir.path(), &["version"]);
    assert!(out.starts_with(b"OpenSSL "), "{out:?}");
    let failed = std::panic::catch_unwind(|| {
        lantrust_test_support::openssl_stdout(dir.path(), &["x509", "-in", "missing.pem"])
    });
    let msg = failed.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("missing.pem") && msg.contains("status"),
        "{msg}"
    );
}

/// A connection that never sends its request is dropped after the read timeout, so a validator
/// killed mid-request does not hold the responder's thread.
#[test]
fn http01_responder_drops_a_silent_connection() {
    use lantrust_test_support::http01::{READ_TIMEOUT, http01_responder};
    use std::io::Read;
    let (port, _tokens) = http01_responder();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT * 3)).unwrap();
    let start = std::time::Instant::now();
    let mut buf = Vec::new();
    // EOF (or a reset) once the responder gives up, with nothing answered.
    let _ = s.read_to_end(&mut buf);
    let took = start.elapsed();
    assert!(buf.is_empty(), "{buf:?}");
    assert!(
        took >= READ_TIMEOUT - Duration::from_millis(100) && took < READ_TIMEOUT * 2,
        "closed after {took:?}"
    );
}

#[cfg(feature = "acme")]
mod acme {
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use lantrust_test_support::acme::{
        DeviceOrder, Timeouts, agent_with, call, certificate_der_from_pem, try_call,
    };
    use lantrust_test_support::openssl::localhost_tls;
    use lantrust_test_support::{
        Proc, free_port, openssl_stdout, require_programs, temp_dir, wait_for_port,
    };

    /// A device order names `<id>.local` and `<id>.home.arpa`, and its CSR (checked by openssl)
    /// is self-signed and carries exactly those names.
    #[test]
    fn device_order_names_and_csr() {
        let order = DeviceOrder::new("Dev-42");
        let names: Vec<&str> = order.identifiers.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(names, ["dev-42.local", "dev-42.home.arpa"]);
        let again = DeviceOrder::new("Dev-42");
        assert_ne!(order.csr_der, again.csr_der, "a fresh key each time");
        if !require_programs(&["openssl"], "device CSR check") {
            return;
        }
        let dir = temp_dir("support-csr");
        std::fs::write(dir.path().join("csr.der"), &order.csr_der).unwrap();
        let text = openssl_stdout(
            dir.path(),
            &[
                "req", "-inform", "DER", "-in", "csr.der", "-noout", "-text", "-verify",
            ],
        );
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains("DNS:dev-42.local, DNS:dev-42.home.arpa"),
            "{text}"
        );
    }

    /// Over real TLS (openssl s_server with a leaf under a throwaway CA): the CA's PEM, turned
    /// into DER, is what openssl wrote as DER; an agent trusting it gets an answer, one trusting
    /// another root gets a transport error from `try_call`, and a closed port too.
    #[test]
    fn agent_trusts_only_its_root() {
        if !require_programs(&["openssl"], "agent TLS test") {
            return;
        }
        let dir = temp_dir("support-agent");
        localhost_tls(dir.path());
        let pem = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        let der = certificate_der_from_pem(&pem);
        assert_eq!(der, std::fs::read(dir.path().join("ca.der")).unwrap());
        let port = free_port();
        let _server = Proc::spawn(
            Command::new("openssl")
                .current_dir(dir.path())
                .args(["s_server", "-quiet", "-www", "-accept"])
                .arg(port.to_string())
                .args(["-cert", "cert.pem", "-key", "key.pem"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(port);
        let timeouts = Timeouts {
            connect: Some(Duration::from_secs(2)),
            overall: Duration::from_secs(10),
        };
        let url = format!("https://127.0.0.1:{port}/");
        let good = agent_with(der, timeouts);
        let (status, _, body) = call(good.get(&url).call());
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&body).contains("s_server"));

        // Another root: the same server is refused at the TLS layer.
        let other = temp_dir("support-agent-other");
        localhost_tls(other.path());
        let stranger = agent_with(
            std::fs::read(other.path().join("ca.der")).unwrap(),
            timeouts,
        );
        let err = try_call(stranger.get(&url).call()).unwrap_err();
        assert!(err.starts_with("transport error"), "{err}");
        // Nobody listening.
        let closed = format!("https://127.0.0.1:{}/", free_port());
        let err = try_call(good.get(&closed).call()).unwrap_err();
        assert!(err.starts_with("transport error"), "{err}");
    }
}

#[test]
fn kill_at_cuts_a_command_off_or_lets_it_finish() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Instant;
    let started = Instant::now();
    let mut slow = Command::new("sleep").arg("60").spawn().unwrap();
    assert!(!lantrust_test_support::kill_at(
        &mut slow,
        started,
        Duration::from_millis(200)
    ));
    let status = slow.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "SIGKILL: {status:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(10),
        "{took:?}"
    );

    let started = Instant::now();
    let mut quick = Command::new("true").spawn().unwrap();
    assert!(lantrust_test_support::kill_at(
        &mut quick,
        started,
        Duration::from_secs(30)
    ));
    assert!(quick.wait().unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// PostgreSQL (for the server's shared store): a fresh cluster on 127.0.0.1 only, as `nobody`
/// when the tests run as root (initdb refuses root), gone with its port when dropped.
#[test]
fn postgres_starts_on_loopback_and_stops_when_dropped() {
    let Some(pg) = lantrust_test_support::postgres::start_postgres() else {
        return;
    };
    assert_eq!(pg.psql_ok("postgres", "SELECT current_user"), "lantrust");
    assert_eq!(pg.psql_ok("postgres", "SHOW listen_addresses"), "127.0.0.1");
    pg.psql_ok("postgres", "CREATE DATABASE lantrust");
    pg.psql_ok(
        "lantrust",
        "CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('a')",
    );
    let out = pg.psql("lantrust", "INSERT INTO t VALUES ('a')");
    assert!(!out.status.success(), "a duplicate key was accepted");
    assert!(
        pg.url("lantrust")
            .starts_with("postgres://lantrust@127.0.0.1:"),
        "{}",
        pg.url("lantrust")
    );
    let port = pg.port;
    drop(pg);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "PostgreSQL still listens on {port} after drop"
    );
}
