//! The counters behind `GET /metrics` (Prometheus text exposition format 0.0.4): process-wide
//! atomics that the request path bumps without a lock, plus the gauges read from the store at
//! scrape time (pending approvals, certificate expiries) and the CRL's age.
//!
//! The exposition is written by hand: a few counters and one histogram family need no library.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use lantrust_acme::server::RequestKind;

use crate::store::{self, StateDir};

/// Why a request was refused outside the ACME state machine's ordinary answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A finalize CSR broke the device policy (§3.4.3, §4.2).
    RejectedCsr,
    /// `rateLimited` (RFC 8555 §6.6): the newAccount rate or a pending-orders cap.
    RateLimited,
    /// A connection from a source outside the local network (draft §4.1).
    NonLocalSource,
    /// An /admin or /metrics request without the right bearer token.
    Unauthorized,
    /// A connection over the per-source or global connection cap.
    ConnectionCap,
}

const REFUSALS: [(Refusal, &str); 5] = [
    (Refusal::RejectedCsr, "rejected_csr"),
    (Refusal::RateLimited, "rate_limited"),
    (Refusal::NonLocalSource, "non_local_source"),
    (Refusal::Unauthorized, "unauthorized"),
    (Refusal::ConnectionCap, "connection_cap"),
];

/// The label of each [`RequestKind`], in the order of the histogram's rows.
const KINDS: [&str; 15] = [
    "directory",
    "new_nonce",
    "new_account",
    "new_order",
    "revoke_cert",
    "key_change",
    "account",
    "account_orders",
    "order",
    "finalize",
    "authz",
    "challenge",
    "certificate",
    "renewal_info",
    "unknown",
];

/// The label of a request kind (for metrics and the request span).
pub(crate) fn kind_label(kind: RequestKind) -> &'static str {
    KINDS.get(kind_index(kind)).copied().unwrap_or("unknown")
}

fn kind_index(kind: RequestKind) -> usize {
    match kind {
        RequestKind::Directory => 0,
        RequestKind::NewNonce => 1,
        RequestKind::NewAccount => 2,
        RequestKind::NewOrder => 3,
        RequestKind::RevokeCert => 4,
        RequestKind::KeyChange => 5,
        RequestKind::Account => 6,
        RequestKind::AccountOrders => 7,
        RequestKind::Order => 8,
        RequestKind::Finalize => 9,
        RequestKind::Authz => 10,
        RequestKind::Challenge => 11,
        RequestKind::Certificate => 12,
        RequestKind::RenewalInfo => 13,
        _ => 14,
    }
}

/// Upper bounds of the latency buckets, in seconds (`+Inf` follows).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One request kind's latencies: per-bucket counts (not cumulative; the last is `+Inf`), the
/// count and the sum in microseconds.
struct Latency {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Latency {
    const fn new() -> Self {
        Latency {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }
}

/// Every counter of the process.
pub(crate) struct Metrics {
    issuances: AtomicU64,
    refusals: [AtomicU64; REFUSALS.len()],
    latency: [Latency; KINDS.len()],
}

/// The process's metrics.
pub(crate) static METRICS: Metrics = Metrics {
    issuances: AtomicU64::new(0),
    refusals: [const { AtomicU64::new(0) }; REFUSALS.len()],
    latency: [const { Latency::new() }; KINDS.len()],
};

impl Metrics {
    /// A certificate was issued.
    pub(crate) fn issued(&self) {
        self.issuances.fetch_add(1, Ordering::Relaxed);
    }

    /// A request or connection was refused for `why`.
    pub(crate) fn refused(&self, why: Refusal) {
        if let Some(i) = REFUSALS.iter().position(|(r, _)| *r == why)
            && let Some(c) = self.refusals.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An ACME request of `kind` took `took`.
    pub(crate) fn observe(&self, kind: RequestKind, took: Duration) {
        let Some(l) = self.latency.get(kind_index(kind)) else {
            return;
        };
        let secs = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = l.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        l.count.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        l.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The exposition: the counters, and the gauges read now from the state directory.
    /// `crl_signed` is when the CRL being served was signed (its thisUpdate), if one was.
    pub(crate) fn render(
        &self,
        st: &StateDir,
        now: Duration,
        crl_signed: Option<Duration>,
    ) -> Result<String> {
        let conn = st.open()?;
        let pending = store::pending_requests(&conn)?.len();
        let now_s = now.as_secs();
        let live: Vec<u64> = store::certificates(&conn)?
            .into_iter()
            .filter(|c| !c.revoked && c.not_after > now_s)
            .map(|c| c.not_after)
            .collect();
        drop(conn);
        let within_week = live
            .iter()
            .filter(|t| **t <= now_s.saturating_add(7 * 86_400))
            .count();
        let mut o = String::new();
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut o,
            "lantrust_issuances_total",
            "counter",
            "Certificates issued since the server started.",
        );
        let _ = writeln!(
            o,
            "lantrust_issuances_total {}",
            self.issuances.load(Ordering::Relaxed)
        );
        family(
            &mut o,
            "lantrust_pending_approvals",
            "gauge",
            "Requests waiting for the owner's approval (as `lantrust-server pending`).",
        );
        let _ = writeln!(o, "lantrust_pending_approvals {pending}");
        family(
            &mut o,
            "lantrust_refusals_total",
            "counter",
            "Requests or connections refused, by kind.",
        );
        for ((_, label), c) in REFUSALS.iter().zip(&self.refusals) {
            let _ = writeln!(
                o,
                "lantrust_refusals_total{{kind=\"{label}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        family(
            &mut o,
            "lantrust_request_duration_seconds",
            "histogram",
            "Time to answer an ACME request, by request kind (RFC 8555 §7).",
        );
        for (label, l) in KINDS.iter().zip(&self.latency) {
            let count = l.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0u64;
            for (i, b) in l.buckets.iter().enumerate() {
                cumulative = cumulative.saturating_add(b.load(Ordering::Relaxed));
                let le = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    o,
                    "lantrust_request_duration_seconds_bucket{{kind=\"{label}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = l.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                o,
                "lantrust_request_duration_seconds_sum{{kind=\"{label}\"}} {sum}\n\
                 lantrust_request_duration_seconds_count{{kind=\"{label}\"}} {count}"
            );
        }
        family(
            &mut o,
            "lantrust_certificates_valid",
            "gauge",
            "Issued certificates neither expired nor revoked.",
        );
        let _ = writeln!(o, "lantrust_certificates_valid {}", live.len());
        family(
            &mut o,
            "lantrust_certificates_expiring_7d",
            "gauge",
            "Valid certificates that expire within 7 days.",
        );
        let _ = writeln!(o, "lantrust_certificates_expiring_7d {within_week}");
        if let Some(first) = live.iter().min() {
            family(
                &mut o,
                "lantrust_certificate_earliest_expiry_seconds",
                "gauge",
                "Seconds until the earliest valid certificate expires (absent with none).",
            );
            let _ = writeln!(
                o,
                "lantrust_certificate_earliest_expiry_seconds {}",
                first.saturating_sub(now_s)
            );
        }
        if let Some(at) = crl_signed {
            family(
                &mut o,
                "lantrust_crl_age_seconds",
                "gauge",
                "Seconds since the served CRL's thisUpdate (RFC 5280 §5.1.2.4).",
            );
            let _ = writeln!(
                o,
                "lantrust_crl_age_seconds {}",
                now.saturating_sub(at).as_secs()
            );
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_row() {
        let kinds = [
            RequestKind::Directory,
            RequestKind::NewNonce,
            RequestKind::NewAccount,
            RequestKind::NewOrder,
            RequestKind::RevokeCert,
            RequestKind::KeyChange,
            RequestKind::Account,
            RequestKind::AccountOrders,
            RequestKind::Order,
            RequestKind::Finalize,
            RequestKind::Authz,
            RequestKind::Challenge,
            RequestKind::Certificate,
            RequestKind::RenewalInfo,
            RequestKind::Unknown,
        ];
        let rows: std::collections::HashSet<_> = kinds.iter().map(|k| kind_index(*k)).collect();
        assert_eq!(rows.len(), KINDS.len());
        assert_eq!(kind_label(RequestKind::NewOrder), "new_order");
    }

    #[test]
    fn latencies_fall_in_their_bucket() {
        let metrics = Metrics {
            issuances: AtomicU64::new(0),
            refusals: [const { AtomicU64::new(0) }; REFUSALS.len()],
            latency: [const { Latency::new() }; KINDS.len()],
        };
        metrics.observe(RequestKind::Finalize, Duration::from_millis(30));
        metrics.observe(RequestKind::Finalize, Duration::from_secs(60));
        let l = &metrics.latency[kind_index(RequestKind::Finalize)];
        assert_eq!(
            l.buckets[3].load(Ordering::Relaxed),
            1,
            "0.03 s is in le=0.05"
        );
        assert_eq!(
            l.buckets[BUCKETS.len()].load(Ordering::Relaxed),
            1,
            "60 s is +Inf"
        );
        assert_eq!(l.count.load(Ordering::Relaxed), 2);
        assert_eq!(l.sum_us.load(Ordering::Relaxed), 60_030_000);
    }
}
