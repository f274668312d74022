//! Abuse limits: a rogue device on the LAN must not fill the database or exhaust the server
//! (issue 9). Connection caps (in total and per source address), a token bucket for new accounts
//! per source, and the caps on orders waiting for a human (§3.4.4) per source and in total.
//! Every limit is a `serve` flag; 0 disables it (load generators on 127.0.0.1).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `serve` flags for the abuse limits.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct LimitArgs {
    /// Most orders waiting for approval (§3.4.4) from one source address; a newOrder over it is
    /// refused with `rateLimited` (429) and Retry-After. Orders stop counting once their device
    /// is approved, or when they turn invalid or expire. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub(crate) max_pending_per_source: u64,
    /// Most orders waiting for approval in total (all sources). 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_pending_total: u64,
    /// New-account requests allowed per source address per minute (a token bucket holding a
    /// minute's worth); more get `rateLimited` (429). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub(crate) new_accounts_per_minute: u32,
    /// Most open connections in total; more are closed at once. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// Most open connections from one source address; more are closed at once. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) max_connections_per_source: usize,
    /// Seconds a client has to complete the TLS handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) handshake_timeout: u64,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open (hyper starts this timer whenever it waits for a request).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_timeout: u64,
    /// Seconds a client has to send a request body (up to 64 KiB); slower bodies get 408.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) body_timeout: u64,
    /// Turn off the pending-order caps, the new-account rate and the connection caps at once
    /// (load generators on one address; the timeouts and the body limit stay).
    #[arg(long)]
    pub(crate) no_abuse_limits: bool,
}

impl LimitArgs {
    /// The limits in force: all counting limits 0 (off) under `--no-abuse-limits`.
    pub(crate) fn effective(&self) -> Self {
        let mut l = self.clone();
        if l.no_abuse_limits {
            l.max_pending_per_source = 0;
            l.max_pending_total = 0;
            l.new_accounts_per_minute = 0;
            l.max_connections = 0;
            l.max_connections_per_source = 0;
        }
        l
    }
}

/// The source address an abuse limit is counted against: IPv4-mapped IPv6 addresses count as
/// the IPv4 address they carry.
pub(crate) fn source(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

// -------------------------------------------------------------------------------------------
// Connections

/// Open connections in total and per source.
#[derive(Debug)]
pub(crate) struct Connections {
    max_total: usize,
    max_per_source: usize,
    total: AtomicUsize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnRefused {
    /// The total cap is reached.
    Total(usize),
    /// The source's cap is reached.
    Source(usize),
}

impl Connections {
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Connections {
            max_total,
            max_per_source,
            total: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
        })
    }

    /// Count a new connection from `ip`, or refuse it. The slot is freed when the guard drops.
    pub(crate) fn try_open(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, ConnRefused> {
        let ip = source(ip);
        let mut per = self
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total = self.total.load(Ordering::Relaxed);
        if self.max_total != 0 && total >= self.max_total {
            return Err(ConnRefused::Total(self.max_total));
        }
        let n = per.entry(ip).or_insert(0);
        if self.max_per_source != 0 && *n >= self.max_per_source {
            return Err(ConnRefused::Source(self.max_per_source));
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnGuard {
            conns: self.clone(),
            ip,
        })
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// One counted connection.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    conns: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut per = self
            .conns
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = per.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        self.conns.total.fetch_sub(1, Ordering::Relaxed);
    }
}

// -------------------------------------------------------------------------------------------
// New accounts

/// A token bucket per source: `per_minute` tokens, refilled continuously.
#[derive(Debug)]
pub(crate) struct AccountBuckets {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Sources tracked before full buckets are forgotten (bounds the map under a spoofing flood).
const MAX_TRACKED_SOURCES: usize = 4096;

impl AccountBuckets {
    pub(crate) fn new(per_minute: u32) -> Self {
        AccountBuckets {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `ip` at `now`; `Err(wait)` when the bucket is empty, with how long
    /// until the next token.
    pub(crate) fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0; // tokens per second
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TRACKED_SOURCES {
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < cap
            });
            // Still full (many sources at once): forget the least recently seen.
            if map.len() >= MAX_TRACKED_SOURCES
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let (tokens, at) = map.entry(source(ip)).or_insert((cap, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

// -------------------------------------------------------------------------------------------
// Pending orders (SQL lives in state.rs)

/// Which pending-order cap a newOrder hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingCap {
    /// Orders from this source waiting for approval.
    Source(u64),
    /// Orders waiting for approval in total.
    Total(u64),
}

impl PendingCap {
    /// The problem detail.
    pub(crate) fn detail(&self, ip: IpAddr) -> String {
        match self {
            PendingCap::Source(n) => format!(
                "too many orders from {ip} are waiting for approval (the cap is {n} per source address, --max-pending-per-source); ask the network administrator to approve or deny the waiting devices, or retry after they expire"
            ),
            PendingCap::Total(n) => format!(
                "too many orders are waiting for approval on this server (the cap is {n} in total, --max-pending-total); ask the network administrator to approve or deny the waiting devices"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connection_caps_per_source_and_total() {
        let c = Connections::new(3, 2);
        let a1 = c.try_open(ip("127.0.0.2")).unwrap();
        let _a2 = c.try_open(ip("127.0.0.2")).unwrap();
        assert_eq!(
            c.try_open(ip("127.0.0.2")).unwrap_err(),
            ConnRefused::Source(2)
        );
        // The mapped form is the same source.
        assert_eq!(
            c.try_open(ip("::ffff:127.0.0.2")).unwrap_err(),
            ConnRefused::Source(2)
        );
        let _b = c.try_open(ip("127.0.0.3")).unwrap();
        assert_eq!(
            c.try_open(ip("127.0.0.4")).unwrap_err(),
            ConnRefused::Total(3)
        );
        drop(a1);
        assert_eq!(c.open(), 2);
        let _a3 = c.try_open(ip("127.0.0.2")).unwrap();
        assert_eq!(c.open(), 3);
    }

    #[test]
    fn unlimited_connections_with_zero() {
        let c = Connections::new(0, 0);
        let guards: Vec<_> = (0..100).map(|_| c.try_open(ip("::1")).unwrap()).collect();
        assert_eq!(c.open(), 100);
        drop(guards);
        assert_eq!(c.open(), 0);
        assert!(c.per_source.lock().unwrap().is_empty());
    }

    #[test]
    fn no_abuse_limits_zeroes_the_counting_limits_only() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            l: LimitArgs,
        }
        let d = T::parse_from(["t"]).l.effective();
        assert_eq!(
            (
                d.max_pending_per_source,
                d.max_pending_total,
                d.new_accounts_per_minute
            ),
            (16, 1024, 60)
        );
        assert_eq!(
            (d.max_connections, d.max_connections_per_source),
            (1024, 64)
        );
        let off = T::parse_from(["t", "--no-abuse-limits", "--max-connections", "5"])
            .l
            .effective();
        assert_eq!(
            (
                off.max_pending_per_source,
                off.max_pending_total,
                off.new_accounts_per_minute,
                off.max_connections,
                off.max_connections_per_source
            ),
            (0, 0, 0, 0, 0)
        );
        assert_eq!(
            (off.handshake_timeout, off.header_timeout, off.body_timeout),
            (10, 30, 30)
        );
    }

    #[test]
    fn account_bucket_refills_over_time() {
        let b = AccountBuckets::new(6); // one token every 10 s
        let t0 = Instant::now();
        for _ in 0..6 {
            b.take(ip("10.0.0.1"), t0).unwrap();
        }
        let wait = b.take(ip("10.0.0.1"), t0).unwrap_err();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        // Another source has its own bucket.
        b.take(ip("10.0.0.2"), t0).unwrap();
        // 10 s later one token is back, not two.
        let t1 = t0 + Duration::from_secs(10);
        b.take(ip("10.0.0.1"), t1).unwrap();
        assert!(b.take(ip("10.0.0.1"), t1).is_err());
        // Disabled.
        let off = AccountBuckets::new(0);
        for _ in 0..1000 {
            off.take(ip("10.0.0.1"), t0).unwrap();
        }
    }

    #[test]
    fn bucket_map_stays_bounded() {
        let b = AccountBuckets::new(60);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED_SOURCES as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            b.take(ip, t0).unwrap();
        }
        assert!(b.buckets.lock().unwrap().len() <= MAX_TRACKED_SOURCES);
        // A minute later every bucket is full again and is forgotten when the map is full.
        let t1 = t0 + Duration::from_secs(61);
        for i in 0..(MAX_TRACKED_SOURCES as u32) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            b.take(ip, t1).unwrap();
        }
        assert!(b.buckets.lock().unwrap().len() <= MAX_TRACKED_SOURCES);
    }
}
