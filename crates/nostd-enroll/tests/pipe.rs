//! The code-size binary enrolls for real: `lantrust-enroll-size` run as a child process, its
//! framed requests answered by the server core in memory (real clock: the binary reads its own),
//! its http-01 challenges served from what it announced on the pipe.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "size-bin")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{DOMAIN, network};
use lantrust_acme::{Method, Request};
use lantrust_nostd_enroll::Device;

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

fn line(r: &mut impl BufRead) -> Option<String> {
    let mut l = String::new();
    (r.read_line(&mut l).unwrap() > 0).then(|| l.trim_end().to_string())
}

#[test]
fn the_size_binary_enrolls_over_its_pipe() {
    let mut net = network(now());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lantrust-enroll-size"))
        .args([&net.server.directory_url(), "device-12cd56", DOMAIN])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        rest
    });
    while let Some(first) = line(&mut from_child) {
        // The challenges come before the request that announces them ready.
        if let Some(c) = first.strip_prefix("challenge ") {
            let (token, value) = c.split_once(' ').unwrap();
            net.served.insert(token.to_string(), value.to_string());
            continue;
        }
        let (method, url) = first.split_once(' ').unwrap();
        let mut headers = Vec::new();
        while let Some(h) = line(&mut from_child).filter(|h| !h.is_empty()) {
            let (n, v) = h.split_once(": ").unwrap();
            headers.push((n.to_string(), v.to_string()));
        }
        let len: usize = line(&mut from_child).unwrap().parse().unwrap();
        let mut body = vec![0; len];
        from_child.read_exact(&mut body).unwrap();
        let method = match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            _ => Method::Post,
        };
        net.now = now();
        let request = Request {
            method,
            url: url.to_string(),
            headers,
            body,
        };
        let r = net.send(&request).unwrap();
        writeln!(to_child, "{}", r.status).unwrap();
        for (n, v) in &r.headers {
            writeln!(to_child, "{n}: {v}").unwrap();
        }
        writeln!(to_child, "\n{}", r.body.len()).unwrap();
        to_child.write_all(&r.body).unwrap();
        to_child.flush().unwrap();
    }
    let status = child.wait().unwrap();
    let rest = stderr.join().unwrap();
    assert!(status.success(), "{rest}");
    assert_eq!(net.server.issuer_mut().issued, 1);
    let chain = x509_cert::Certificate::load_pem_chain(rest.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2, "{rest}");
    assert_eq!(
        chain[0].tbs_certificate.subject.to_string(),
        "CN=device-12cd56"
    );
}
