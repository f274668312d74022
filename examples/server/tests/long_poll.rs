//! Held polls (issue 18, "wake waiting pollers"): a device polling an authorization that awaits
//! the owner's approval (draft §3.4.4) is answered as soon as the owner decides, not after the
//! human `Retry-After` (3 s with `serve`) it would otherwise sleep. The decision comes from
//! another process (`lantrust-server approve` / `deny` on the same state directory), which the
//! server notices at its database.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lantrust_test_support::bins::{Binaries, Network};
use lantrust_test_support::output_text;

/// The `Retry-After` `serve` gives while a human decides.
const HUMAN_RETRY_AFTER: Duration = Duration::from_secs(3);

/// `lantrust-device enroll` `id` with `net`, answering http-01 on 127.0.0.1:`http`.
fn enroll(bins: &Binaries, net: &Network, dir: &Path, id: &str, http: u16) -> Proc {
    Proc::spawn(
        Command::new(bins.path("lantrust-device"))
            .args(["enroll", "--state"])
            .arg(dir.join(format!("dev-{id}")))
            .args(["--id", id, "--domain", "home.arpa"])
            .args(["--directory", &net.directory(), "--resolve", &net.resolve()])
            .args(["--http01-listen", &format!("127.0.0.1:{http}")])
            .args(["--timeout", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// Run the decision `cli_args` once `id` has polled long enough to be held, and return how long
/// the waiting `enroll` took to finish after it, with its output.
fn decide_and_time(
    bins: &Binaries,
    net: &Network,
    mut child: Proc,
    id: &str,
    cli_args: &[&str],
) -> (Duration, std::process::Output) {
    let state = net.state.to_str().unwrap();
    wait_pending(state, id, Duration::from_secs(60));
    // The challenge answer told the device to come back after the human Retry-After; its next
    // poll of the authorization is then held by the server.
    std::thread::sleep(HUMAN_RETRY_AFTER + Duration::from_millis(1500));
    assert!(
        !child.has_exited(),
        "{id} finished before the owner decided"
    );
    let mut args = cli_args.to_vec();
    args.extend(["--state", state, id]);
    let start = Instant::now();
    let out = bins.run("lantrust-server", &args);
    assert!(out.status.success(), "{}", output_text(&out));
    while !child.has_exited() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{id} still waits 30 s after the decision"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    (took, child.wait_with_output())
}

#[test]
fn a_held_poll_is_answered_as_soon_as_the_owner_decides() {
    let bins = Binaries::build(BIN, &["lantrust-device"]);
    let dir = temp_dir("long-poll");
    let d = dir.path();
    let http = free_port();
    let net = Network::start(
        &bins,
        d,
        "lp",
        &[("lp1", http), ("lp2", http)],
        "lantrust.local",
    );

    // Approved by `lantrust-server approve` in another process: the certificate follows at
    // once, well within the Retry-After the device was told to sleep.
    let child = enroll(&bins, &net, d, "lp1", http);
    // How long the decision itself takes (a process that opens the database and commits), so
    // that what follows it is told apart.
    let probe = Instant::now();
    let out = bins.run(
        "lantrust-server",
        &["pending", "--state", net.state.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    eprintln!("a lantrust-server command alone: {:?}", probe.elapsed());
    let (took, out) = decide_and_time(&bins, &net, child, "lp1", &["approve"]);
    eprintln!("approve -> certificate: {took:?}");
    assert!(out.status.success(), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for the server to validate and approve"),
        "{err}"
    );
    assert!(
        took < HUMAN_RETRY_AFTER / 2,
        "the certificate came {took:?} after approve; a held poll answers at once"
    );
    assert!(d.join("dev-lp1").exists());

    // Denied the same way: the device learns it at once too.
    let child = enroll(&bins, &net, d, "lp2", http);
    let (took, out) = decide_and_time(&bins, &net, child, "lp2", &["deny"]);
    eprintln!("deny -> refusal: {took:?}");
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not approved"),
        "{}",
        output_text(&out)
    );
    assert!(
        took < HUMAN_RETRY_AFTER / 2,
        "the refusal came {took:?} after deny"
    );
}
