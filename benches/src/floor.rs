//! The crypto floor: the bare P-384 ECDSA work one issuance needs, timed in a tight loop on
//! every core, with the same crates the real code uses.
//!
//! Per issuance: the device generates an account key and a device key, signs its CSR and one
//! JWS per signed request it actually sent (measured in the load run); the server verifies one
//! JWS per signed request, verifies the CSR and signs the certificate. Each operation is timed
//! on its own on `threads` threads, giving an aggregate rate `r`; one issuance then costs
//! `Σ count / r` seconds of the whole machine, and the floor is the inverse of that sum: the
//! issuance rate a server and its devices could reach on this machine if they did nothing but
//! the cryptography.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use lantrust_acme::jose::{self, JwsKind, ParsedJws};
use lantrust_acme::{AccountKey, Algorithm};
use lantrust_ca::{DeviceRequest, IssuanceOptions, Root, RootConfig};
use lantrust_csr::{Csr, CsrBuilder, KeyAlgorithm, Policy, PrivateKey};
use serde::Serialize;

/// One operation of the floor.
#[derive(Clone, Debug, Serialize)]
pub struct OpRate {
    /// What is timed.
    pub name: &'static str,
    /// The crate function timed.
    pub function: &'static str,
    /// How many of it one issuance needs.
    pub per_issuance: f64,
    /// Operations completed across all threads.
    pub ops: u64,
    /// Aggregate rate across all threads, operations per second.
    pub ops_per_sec: f64,
    /// Process CPU time per operation, milliseconds (Linux `/proc`; other load on the machine
    /// does not inflate it).
    pub cpu_ms_per_op: Option<f64>,
}

/// The measured floor.
#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    /// Threads used (the machine's cores).
    pub threads: usize,
    /// Signed requests per issuance that the floor counts (from the load run).
    pub signed_requests_per_issuance: f64,
    /// Each operation's rate.
    pub ops: Vec<OpRate>,
    /// Machine-seconds of bare crypto per issuance (`Σ count / rate`).
    pub seconds_per_issuance: f64,
    /// The floor: issuances per second if only the crypto ran.
    pub issuances_per_sec: f64,
    /// CPU seconds of bare crypto per issuance (`Σ count × CPU per op`).
    pub cpu_secs_per_issuance: Option<f64>,
}

/// Runs `op` on `threads` threads until `dur` has passed (each thread at least once); returns
/// (operations, elapsed seconds, process CPU seconds).
fn time_op<F>(threads: usize, dur: Duration, op: F) -> anyhow::Result<(u64, f64, Option<f64>)>
where
    F: Fn() -> anyhow::Result<()> + Sync,
{
    let count = AtomicU64::new(0);
    let cpu_start = crate::cpu_secs(None);
    let start = Instant::now();
    let result: anyhow::Result<()> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        op()?;
                        count.fetch_add(1, Ordering::Relaxed);
                        if start.elapsed() >= dur {
                            return Ok(());
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
        }
        Ok(())
    });
    result?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = crate::cpu_secs(None).zip(cpu_start).map(|(b, a)| b - a);
    Ok((count.load(Ordering::Relaxed), wall, cpu))
}

/// Measures the floor on `threads` threads, spending about `per_op` on each of the seven
/// operations. `signed_requests` is the number of JWS-signed requests one enrollment made
/// (average over the run); `domain` the local domain the CSRs name.
///
/// # Errors
/// When a crypto operation fails (it should not) or `threads` is zero.
pub fn measure(
    threads: usize,
    signed_requests: f64,
    per_op: Duration,
    domain: &str,
) -> anyhow::Result<Floor> {
    anyhow::ensure!(threads > 0, "the floor needs at least one thread");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut rng = rand::rngs::OsRng;

    // Inputs shaped like the real ones: a kid-signed POST with a nonce, a device CSR, a root.
    let account = AccountKey::generate(Algorithm::Es384, &mut rng)
        .map_err(|e| anyhow::anyhow!("account key: {e}"))?;
    let account_pub = account.public_key();
    let kid = "https://127.0.0.1:8443/acme/acct/5dYh3bG1pXo0aK8cR7wQzA";
    let nonce = "bm9uY2Utbm9uY2Utbm9uY2U";
    let url = "https://127.0.0.1:8443/acme/order/Wl2g8Xr4bK9sYq1nT0vJcA";
    let sign_jws = || jose::sign(&account, Some(kid), Some(nonce), url, None);
    let body = serde_json::to_vec(&sign_jws().map_err(|e| anyhow::anyhow!("JWS sign: {e}"))?)?;

    let builder = CsrBuilder::new("dev-0", [domain.to_string()]).algorithm(KeyAlgorithm::P384);
    let built = builder
        .build(&mut rng)
        .map_err(|e| anyhow::anyhow!("CSR: {e}"))?;
    let csr_der = built.der().to_vec();
    let csr_info = Csr::from_der(&csr_der)
        .map_err(|e| anyhow::anyhow!("CSR: {e}"))?
        .info_der()
        .to_vec();
    let device_key = built.key();
    let policy = Policy::new("loadgen", [domain.to_string()]).with_device_id("dev-0");
    let accepted =
        lantrust_csr::validate(&csr_der, &policy).map_err(|e| anyhow::anyhow!("CSR: {e}"))?;
    let request = DeviceRequest {
        device_id: accepted.device_id().to_string(),
        dns_names: accepted.dns_names().to_vec(),
        ip_addrs: accepted.ip_addrs().to_vec(),
        public_key: accepted.public_key().clone(),
    };
    let root = Root::generate(
        &RootConfig::new("loadgen", vec![domain.to_string()]),
        now,
        &mut rng,
    )
    .map_err(|e| anyhow::anyhow!("root: {e}"))?;
    let options = IssuanceOptions::default();

    type Op<'a> = Box<dyn Fn() -> anyhow::Result<()> + Sync + 'a>;
    let e =
        |what: &'static str| move |err: &dyn core::fmt::Display| anyhow::anyhow!("{what}: {err}");
    let ops: Vec<(&'static str, &'static str, f64, Op<'_>)> = vec![
        (
            "account keygen",
            "lantrust_acme::AccountKey::generate(Es384)",
            1.0,
            Box::new(|| {
                AccountKey::generate(Algorithm::Es384, &mut rand::rngs::OsRng)
                    .map(drop)
                    .map_err(|x| e("account keygen")(&x))
            }),
        ),
        (
            "device keygen",
            "lantrust_keys::PrivateKey::generate(P384)",
            1.0,
            Box::new(|| {
                PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng)
                    .map(drop)
                    .map_err(|x| e("device keygen")(&x))
            }),
        ),
        (
            "CSR sign",
            "lantrust_keys::PrivateKey::sign (CSR info)",
            1.0,
            Box::new(|| {
                device_key
                    .sign(&csr_info)
                    .map(drop)
                    .map_err(|x| e("CSR sign")(&x))
            }),
        ),
        (
            "JWS sign",
            "lantrust_acme::jose::sign (ES384)",
            signed_requests,
            Box::new(|| sign_jws().map(drop).map_err(|x| e("JWS sign")(&x))),
        ),
        (
            "JWS verify",
            "lantrust_acme::jose::ParsedJws::parse + verify (ES384)",
            signed_requests,
            Box::new(|| {
                ParsedJws::parse(&body, JwsKind::Request)
                    .and_then(|p| p.verify(&account_pub, false))
                    .map_err(|x| e("JWS verify")(&x))
            }),
        ),
        (
            "CSR verify",
            "lantrust_csr::validate",
            1.0,
            Box::new(|| {
                lantrust_csr::validate(&csr_der, &policy)
                    .map(drop)
                    .map_err(|x| e("CSR verify")(&x))
            }),
        ),
        (
            "certificate sign",
            "lantrust_ca::Root::issue",
            1.0,
            Box::new(|| {
                root.issue(&request, &options, now, &mut rand::rngs::OsRng)
                    .map(drop)
                    .map_err(|x| e("certificate sign")(&x))
            }),
        ),
    ];

    let mut rates = Vec::new();
    let mut seconds = 0.0;
    let mut cpu_total = Some(0.0);
    for (name, function, per_issuance, op) in &ops {
        let (n, secs, cpu) =
            time_op(threads, per_op, op).with_context(|| format!("timing {name}"))?;
        let ops_per_sec = n as f64 / secs.max(1e-9);
        seconds += per_issuance / ops_per_sec;
        let cpu_per_op = cpu.map(|c| c / n.max(1) as f64);
        cpu_total = cpu_total.zip(cpu_per_op).map(|(t, c)| t + per_issuance * c);
        rates.push(OpRate {
            name,
            function,
            per_issuance: *per_issuance,
            ops: n,
            ops_per_sec,
            cpu_ms_per_op: cpu_per_op.map(|c| c * 1e3),
        });
    }
    Ok(Floor {
        threads,
        signed_requests_per_issuance: signed_requests,
        ops: rates,
        seconds_per_issuance: seconds,
        issuances_per_sec: if seconds > 0.0 { 1.0 / seconds } else { 0.0 },
        cpu_secs_per_issuance: cpu_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_adds_up() {
        let f = measure(1, 10.0, Duration::from_millis(20), "home.arpa").unwrap();
        assert_eq!(f.ops.len(), 7);
        assert!(f.ops.iter().all(|o| o.ops >= 1 && o.ops_per_sec > 0.0));
        let sum: f64 = f.ops.iter().map(|o| o.per_issuance / o.ops_per_sec).sum();
        assert!((sum - f.seconds_per_issuance).abs() < 1e-12);
        assert!((f.issuances_per_sec * f.seconds_per_issuance - 1.0).abs() < 1e-9);
        let jws: Vec<_> = f.ops.iter().filter(|o| o.name.starts_with("JWS")).collect();
        assert!(jws.iter().all(|o| o.per_issuance == 10.0));
        // Linux: CPU time is read from /proc and adds up the same way.
        let cpu = f.cpu_secs_per_issuance.unwrap();
        let sum: f64 = f
            .ops
            .iter()
            .map(|o| o.per_issuance * o.cpu_ms_per_op.unwrap() / 1e3)
            .sum();
        assert!((cpu - sum).abs() < 1e-9 && cpu >= 0.0);
    }
}
