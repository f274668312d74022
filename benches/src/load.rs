//! N simulated devices on C worker threads, with progress lines and the per-run statistics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::device::{DeviceOptions, Enrollment, Target, enroll};
use crate::http01::Responder;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Number of simulated devices (enrollments).
    pub devices: usize,
    /// Devices enrolling at the same time (worker threads).
    pub concurrency: usize,
    /// Device IDs are `<prefix><index>`.
    pub prefix: String,
    /// First index.
    pub first_index: usize,
    /// Per-device client behaviour.
    pub device: DeviceOptions,
    /// Print a progress line this often (None: never).
    pub progress: Option<Duration>,
}

/// One failed enrollment.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The device ID.
    pub device_id: String,
    /// The error, with its context chain.
    pub error: String,
}

/// The raw outcome of a load run.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Successful, checked enrollments (in completion order).
    pub enrollments: Vec<Enrollment>,
    /// Failed enrollments.
    pub failures: Vec<Failure>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Runs `cfg.devices` enrollments against `target`, `cfg.concurrency` at a time.
pub fn run(target: &Target, responder: &Responder, cfg: &LoadConfig) -> LoadOutcome {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let finished = AtomicBool::new(false);
    let ok: Mutex<Vec<Enrollment>> = Mutex::new(Vec::with_capacity(cfg.devices));
    let bad: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let start = Instant::now();
    let workers = cfg.concurrency.clamp(1, cfg.devices.max(1));
    std::thread::scope(|s| {
        if let Some(every) = cfg.progress {
            let (done, failed, finished) = (&done, &failed, &finished);
            s.spawn(move || progress(cfg.devices, every, start, done, failed, finished));
        }
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cfg.devices {
                            return;
                        }
                        let id = format!("{}{}", cfg.prefix, cfg.first_index + i);
                        match enroll(&id, target, responder, &cfg.device) {
                            Ok(e) => {
                                if let Ok(mut v) = ok.lock() {
                                    v.push(e);
                                }
                            }
                            Err(e) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut v) = bad.lock() {
                                    v.push(Failure {
                                        device_id: id,
                                        error: format!("{e:#}"),
                                    });
                                }
                            }
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            if h.join().is_err() {
                if let Ok(mut v) = bad.lock() {
                    v.push(Failure {
                        device_id: "?".into(),
                        error: "a worker thread panicked".into(),
                    });
                }
            }
        }
        finished.store(true, Ordering::SeqCst);
    });
    LoadOutcome {
        enrollments: ok.into_inner().unwrap_or_default(),
        failures: bad.into_inner().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

fn progress(
    total: usize,
    every: Duration,
    start: Instant,
    done: &AtomicUsize,
    failed: &AtomicUsize,
    finished: &AtomicBool,
) {
    let mut last = Instant::now();
    let mut last_done = 0usize;
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() < every {
            continue;
        }
        let d = done.load(Ordering::Relaxed);
        let rate = (d - last_done) as f64 / last.elapsed().as_secs_f64();
        eprintln!(
            "loadgen: {d}/{total} enrollments done ({} failed) after {:.0} s; {rate:.1}/s now, {:.1}/s overall",
            failed.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64(),
            d as f64 / start.elapsed().as_secs_f64(),
        );
        last = Instant::now();
        last_done = d;
    }
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The nearest-rank `p`th percentile (0 < p ≤ 100) of `sorted` (ascending); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted.get(idx).copied().unwrap_or(0.0)
}

impl Latency {
    /// Percentiles of `samples` (any order).
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let mean = if ms.is_empty() {
            0.0
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        };
        Latency {
            p50: percentile(&ms, 50.0),
            p90: percentile(&ms, 90.0),
            p99: percentile(&ms, 99.0),
            max: ms.last().copied().unwrap_or(0.0),
            mean,
        }
    }
}

/// Averages over the successful enrollments: (requests, signed requests, waits).
pub fn per_enrollment(e: &[Enrollment]) -> (f64, f64, f64) {
    if e.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = e.len() as f64;
    let sum = |f: fn(&Enrollment) -> u32| e.iter().map(|x| f64::from(f(x))).sum::<f64>() / n;
    (
        sum(|x| x.requests),
        sum(|x| x.signed_requests),
        sum(|x| x.waits),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 90.0), 90.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        // 10 samples: p99 is the largest, p50 the 5th.
        let w: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&w, 50.0), 5.0);
        assert_eq!(percentile(&w, 99.0), 10.0);
    }

    #[test]
    fn latency_summary() {
        let d: Vec<Duration> = [30, 10, 20, 40]
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
        let l = Latency::of(&d);
        assert_eq!(l.p50, 20.0);
        assert_eq!(l.max, 40.0);
        assert_eq!(l.mean, 25.0);
        assert_eq!(Latency::of(&[]), Latency::default());
    }
}
