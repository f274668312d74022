//! The run report: human text and `--json`.

use core::fmt::Write as _;

use serde::Serialize;

use crate::floor::Floor;
use crate::load::{Failure, Latency};

/// The store check of `--spawn` mode.
#[derive(Clone, Debug, Serialize)]
pub struct StoreCheck {
    /// Certificates in the server's store after the run.
    pub certificates: usize,
    /// Successful enrollments, which it must equal.
    pub expected: usize,
    /// Issued serials the store does not have.
    pub missing_from_store: usize,
    /// Stored serials no device received.
    pub unknown_in_store: usize,
    /// Whether the counts match and every serial is accounted for.
    pub ok: bool,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `spawn` or `url`.
    pub mode: String,
    /// The ACME directory used.
    pub directory_url: String,
    /// The command line that produced this report.
    pub command: String,
    /// Extra `serve` arguments of the spawned server (lifted limits, `--server-arg`s).
    pub server_args: Vec<String>,
    /// Cores of this machine (threads used for the floor).
    pub cores: usize,
    /// Simulated devices requested.
    pub devices: usize,
    /// Devices enrolling at once.
    pub concurrency: usize,
    /// Enrollments attempted.
    pub attempted: usize,
    /// Enrollments that ended with a checked certificate.
    pub ok: usize,
    /// Enrollments that failed.
    pub failed: usize,
    /// Every failure with its error.
    pub failures: Vec<Failure>,
    /// Wall time of the load, seconds.
    pub elapsed_secs: f64,
    /// Successful issuances per second of wall time.
    pub issuances_per_sec: f64,
    /// Enrollment latency (first key generation to verified chain), milliseconds.
    pub latency_ms: Latency,
    /// HTTP requests per successful enrollment.
    pub requests_per_enrollment: f64,
    /// JWS-signed requests per successful enrollment.
    pub signed_requests_per_enrollment: f64,
    /// `Retry-After` waits per successful enrollment.
    pub waits_per_enrollment: f64,
    /// http-01 requests answered with a key authorization / for unknown tokens.
    pub http01_served: u64,
    /// http-01 requests for unknown tokens.
    pub http01_missed: u64,
    /// The store check (`--spawn` only).
    pub store: Option<StoreCheck>,
    /// The crypto floor (unless `--no-floor`).
    pub floor: Option<Floor>,
    /// Achieved / floor issuance rate.
    pub ratio: Option<f64>,
    /// CPU seconds the generator (all simulated devices, the responder, the checks) used
    /// during the load.
    pub client_cpu_secs: Option<f64>,
    /// CPU seconds the spawned server used (`--spawn` only).
    pub server_cpu_secs: Option<f64>,
    /// (client + server CPU) / successful enrollments.
    pub cpu_secs_per_issuance: Option<f64>,
    /// Floor CPU per issuance / `cpu_secs_per_issuance`: the share of the CPU time spent that
    /// the bare crypto needs. Robust to other load on the machine, unlike `ratio`.
    pub cpu_ratio: Option<f64>,
    /// (client + server CPU) / (wall time × cores): how much of the machine the run got.
    pub cpu_utilisation: Option<f64>,
    /// Zero failures, at least one enrollment, and (in `--spawn` mode) the store matches.
    pub passed: bool,
}

impl Report {
    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "lantrust-loadgen ({} mode) against {}",
            self.mode, self.directory_url
        );
        let _ = writeln!(s, "  command:      {}", self.command);
        if !self.server_args.is_empty() {
            let _ = writeln!(s, "  server args:  {}", self.server_args.join(" "));
        }
        let _ = writeln!(
            s,
            "  enrollments:  {} attempted, {} ok, {} failed ({} devices, concurrency {}, {} cores)",
            self.attempted, self.ok, self.failed, self.devices, self.concurrency, self.cores
        );
        let _ = writeln!(
            s,
            "  throughput:   {:.2} issuances/s ({} in {:.1} s)",
            self.issuances_per_sec, self.ok, self.elapsed_secs
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "  latency:      p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (mean {:.0} ms)",
            l.p50, l.p90, l.p99, l.max, l.mean
        );
        let _ = writeln!(
            s,
            "  per enrollment: {:.2} requests, {:.2} signed (JWS), {:.2} Retry-After waits; http-01: {} served, {} unknown tokens",
            self.requests_per_enrollment,
            self.signed_requests_per_enrollment,
            self.waits_per_enrollment,
            self.http01_served,
            self.http01_missed
        );
        if let Some(st) = &self.store {
            let _ = writeln!(
                s,
                "  store:        {} certificates for {} successful enrollments; {} issued serials missing, {} unknown: {}",
                st.certificates,
                st.expected,
                st.missing_from_store,
                st.unknown_in_store,
                if st.ok { "OK" } else { "MISMATCH" }
            );
        }
        if let Some(f) = &self.floor {
            let _ = writeln!(
                s,
                "  crypto floor: {:.2} issuances/s on {} threads ({:.1} ms of machine time, {:.1} ms of CPU per issuance, {:.2} signed requests)",
                f.issuances_per_sec,
                f.threads,
                f.seconds_per_issuance * 1e3,
                f.cpu_secs_per_issuance.unwrap_or(0.0) * 1e3,
                f.signed_requests_per_issuance
            );
            for o in &f.ops {
                let _ = writeln!(
                    s,
                    "    {:<17} x{:<5.2} {:>9.1} ops/s {:>7.3} ms CPU/op  ({})",
                    o.name,
                    o.per_issuance,
                    o.ops_per_sec,
                    o.cpu_ms_per_op.unwrap_or(0.0),
                    o.function
                );
            }
        }
        if let Some(r) = self.ratio {
            let _ = writeln!(
                s,
                "  ratio:        {r:.2} of the crypto floor (goal: >= 0.6)"
            );
        }
        if let (Some(c), Some(sv), Some(per)) = (
            self.client_cpu_secs,
            self.server_cpu_secs,
            self.cpu_secs_per_issuance,
        ) {
            let _ = writeln!(
                s,
                "  CPU:          client {c:.1} s + server {sv:.1} s = {:.1} ms per issuance; {:.0}% of {} cores used",
                per * 1e3,
                self.cpu_utilisation.unwrap_or(0.0) * 100.0,
                self.cores
            );
        }
        if let Some(r) = self.cpu_ratio {
            let _ = writeln!(
                s,
                "  CPU ratio:    {r:.2} (floor CPU per issuance / CPU spent per issuance; robust to other load)"
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(s, "  failures (first 20 of {}):", self.failures.len());
            for f in self.failures.iter().take(20) {
                if f.error.starts_with(&f.device_id) {
                    let _ = writeln!(s, "    {}", f.error);
                } else {
                    let _ = writeln!(s, "    {}: {}", f.device_id, f.error);
                }
            }
        }
        let _ = writeln!(
            s,
            "  result:       {}",
            if self.passed { "PASS" } else { "FAIL" }
        );
        s
    }
}
