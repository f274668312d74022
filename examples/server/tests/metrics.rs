//! Observability (issue 15): `/metrics` behind the admin token, read by a Prometheus text parser
//! after a real enrollment against the built server binary; `serve --log-format json` writes one
//! JSON object per line whose request events carry the request's span (request ID, device ID).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::time::Duration;

use common::*;
use lantrust_acme::client::Event;
use lantrust_test_support::acme::{device_client, drive};
use lantrust_test_support::bins::resolve_args;
use prometheus_parse::{Sample, Scrape, Value};

/// Serve (auto-approving) with `extra` arguments and enroll `dev1` once; returns the server,
/// its agent and the admin token.
fn enrolled(dir: &std::path::Path, extra: &[&str]) -> (Served, ureq::Agent, String) {
    let (h_port, tokens) = http01_responder();
    let resolve = resolve_args("dev1", h_port);
    let mut args: Vec<&str> = resolve.each_ref().map(String::as_str).to_vec();
    args.push("--auto-approve");
    args.extend_from_slice(extra);
    let srv = init_and_serve(dir, &args);
    let root_pem = std::fs::read_to_string(srv.state.join("root.pem")).unwrap();
    let agent = agent(&root_pem);
    let mut c = device_client(&srv.directory(), "dev1");
    let events = drive(&mut c, &agent, &tokens, Duration::from_secs(60)).events;
    assert!(
        events.iter().any(|e| matches!(e, Event::Certificate(_))),
        "no certificate: {events:?}"
    );
    let token = std::fs::read_to_string(srv.state.join("admin-token"))
        .unwrap()
        .trim()
        .to_string();
    (srv, agent, token)
}

fn scrape(
    agent: &ureq::Agent,
    srv: &Served,
    auth: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let mut r = agent.get(&srv.url("/metrics"));
    if let Some(a) = auth {
        r = r.set("Authorization", a);
    }
    let (status, headers, body) = call(r.call());
    (status, headers, String::from_utf8(body).unwrap())
}

fn one<'a>(samples: &'a [Sample], metric: &str, label: Option<(&str, &str)>) -> &'a Sample {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {label:?}: {found:?}");
    found[0]
}

fn number(s: &Sample) -> f64 {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{}: not a number: {other:?}", s.metric),
    }
}

#[test]
fn metrics_need_the_admin_token_and_count_an_enrollment() {
    let dir = temp_dir("metrics");
    let (srv, agent, token) = enrolled(dir.path(), &[]);

    // Without the token (or with a wrong one): 401, like /admin, and counted as a refusal.
    let (status, headers, body) = scrape(&agent, &srv, None);
    assert_eq!(status, 401, "{body}");
    assert!(
        header(&headers, "www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = format!("Bearer {}", "0".repeat(64));
    let (status, _, body) = scrape(&agent, &srv, Some(&wrong));
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("lantrust_"), "{body}");

    let (status, headers, body) = scrape(&agent, &srv, Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let parsed = Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let s = &parsed.samples;
    assert_eq!(
        number(one(s, "lantrust_issuances_total", None)),
        1.0,
        "{body}"
    );
    assert!(matches!(
        one(s, "lantrust_issuances_total", None).value,
        Value::Counter(_)
    ));
    assert_eq!(number(one(s, "lantrust_pending_approvals", None)), 0.0);
    assert_eq!(
        number(one(
            s,
            "lantrust_refusals_total",
            Some(("kind", "unauthorized"))
        )),
        2.0,
        "{body}"
    );
    assert_eq!(
        number(one(
            s,
            "lantrust_refusals_total",
            Some(("kind", "rejected_csr"))
        )),
        0.0
    );
    // One histogram per request kind the enrollment made (RFC 8555 §7).
    for kind in [
        "directory",
        "new_account",
        "new_order",
        "authz",
        "challenge",
        "order",
        "finalize",
        "certificate",
    ] {
        let h = one(s, "lantrust_request_duration_seconds", Some(("kind", kind)));
        let Value::Histogram(buckets) = &h.value else {
            panic!("{kind}: not a histogram: {h:?}");
        };
        let inf = buckets.iter().find(|b| b.less_than.is_infinite()).unwrap();
        assert!(inf.count >= 1.0, "{kind}: {buckets:?}");
        // Cumulative: never decreasing toward +Inf.
        assert!(
            buckets.windows(2).all(|w| w[0].count <= w[1].count),
            "{buckets:?}"
        );
        let count = one(
            s,
            "lantrust_request_duration_seconds_count",
            Some(("kind", kind)),
        );
        assert_eq!(number(count), inf.count, "{kind}");
    }
    // The default lifetime is 30 days: the one certificate expires in about that.
    assert_eq!(number(one(s, "lantrust_certificates_valid", None)), 1.0);
    assert_eq!(
        number(one(s, "lantrust_certificates_expiring_7d", None)),
        0.0
    );
    let left = number(one(s, "lantrust_certificate_earliest_expiry_seconds", None));
    assert!(
        (29.0 * 86_400.0..=30.0 * 86_400.0 + 60.0).contains(&left),
        "{left}"
    );
    // `serve` signs the CRL at start: seconds old, never more than the test's run.
    let age = number(one(s, "lantrust_crl_age_seconds", None));
    assert!((0.0..600.0).contains(&age), "{age}");
}

#[test]
fn json_logs_are_one_object_per_line_with_request_and_device_ids() {
    let dir = temp_dir("metrics-json");
    let (srv, _agent, _token) = enrolled(dir.path(), &["--log-format", "json"]);
    drop(srv); // stop the server: its log is complete
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let mut lines = 0;
    let mut issued = None;
    let mut request_ids = std::collections::HashSet::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(v[field].is_string(), "{field} missing: {line}");
        }
        assert!(v["fields"]["message"].is_string(), "{line}");
        if v["span"]["name"] == "request" {
            assert!(v["span"]["request_id"].is_u64(), "{line}");
            assert!(v["span"]["kind"].is_string(), "{line}");
            request_ids.insert(v["span"]["request_id"].as_u64().unwrap());
        }
        if v["fields"]["message"] == "issued a certificate" {
            issued = Some(v.clone());
        }
        lines += 1;
    }
    assert!(lines > 3, "{log}");
    let issued = issued.unwrap_or_else(|| panic!("no issuance logged:\n{log}"));
    assert_eq!(issued["span"]["name"], "request", "{issued}");
    assert_eq!(issued["span"]["kind"], "finalize", "{issued}");
    assert_eq!(issued["span"]["device"], "dev1", "{issued}");
    assert!(issued["span"]["request_id"].is_u64(), "{issued}");
    assert!(request_ids.len() >= 2, "{request_ids:?}");
}
