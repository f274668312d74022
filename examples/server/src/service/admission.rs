//! Admission (RFC 8555 §6.6 `rateLimited`, draft §3.4.4 waiting orders). Abuse limits: a rogue device on the LAN must not fill the database or exhaust the server
//! (issue 9). Connection caps (in total and per source address), a token bucket for new accounts
//! per source, and the caps on orders waiting for a human (§3.4.4) per source and in total.
//! Every limit is a `serve` flag; 0 disables it (load generators on 127.0.0.1).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lantrust_acme::server::RequestKind;
use lantrust_acme::{Order, Response};

use crate::store;

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

// -------------------------------------------------------------------------------------------
// The admission step of the service

/// A request refused before the core sees it: RFC 8555 §6.6 `rateLimited` with Retry-After.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateLimited {
    /// The problem detail.
    pub(crate) detail: String,
    /// How long the client should wait.
    pub(crate) retry_after: Duration,
}

/// The limits in force and their state, keyed on the core's [`RequestKind`].
pub(crate) struct Admission {
    limits: LimitArgs,
    /// Every device is approved at once: no order waits for a human, the pending caps are moot.
    auto_approve: bool,
    /// Lifetime of orders (how long an order's source is remembered).
    order_lifetime: Duration,
    /// New-account token buckets per source.
    accounts: AccountBuckets,
    /// A connection of its own for the pending-order caps (outside the core's lock).
    db: Mutex<store::Db>,
    /// Serialises newOrder requests while the pending caps are in force, so that counting,
    /// creating and recording an order is one step and concurrent requests cannot overshoot.
    gate: Mutex<()>,
}

impl Admission {
    /// `limits` as given on the command line (`--no-abuse-limits` is applied here).
    pub(crate) fn new(
        limits: &LimitArgs,
        auto_approve: bool,
        order_lifetime: Duration,
        db: store::Db,
    ) -> Self {
        let limits = limits.effective();
        Admission {
            accounts: AccountBuckets::new(limits.new_accounts_per_minute),
            limits,
            auto_approve,
            order_lifetime,
            db: Mutex::new(db),
            gate: Mutex::new(()),
        }
    }

    /// The limits in force.
    pub(crate) fn limits(&self) -> &LimitArgs {
        &self.limits
    }

    /// Before the body is read: a newAccount (§7.3) takes a token from its source's bucket.
    pub(crate) fn before_body(
        &self,
        kind: RequestKind,
        peer: IpAddr,
        at: Instant,
    ) -> Result<(), RateLimited> {
        if kind != RequestKind::NewAccount {
            return Ok(());
        }
        self.accounts.take(peer, at).map_err(|wait| RateLimited {
            detail: format!(
                "too many new accounts from {} (the limit is {} per minute per source address, --new-accounts-per-minute); retry later",
                source(peer),
                self.limits.new_accounts_per_minute
            ),
            retry_after: wait,
        })
    }

    /// Whether the pending-order caps are in force: some cap is set, and orders can wait for a
    /// human (not `--auto-approve`).
    pub(crate) fn pending_caps_apply(&self) -> bool {
        !self.auto_approve
            && (self.limits.max_pending_per_source != 0 || self.limits.max_pending_total != 0)
    }

    /// For a newOrder while the caps apply: the gate that makes count, create and record one
    /// step. Hold it until the order is recorded.
    pub(crate) fn gate(&self, kind: RequestKind) -> Option<MutexGuard<'_, ()>> {
        (kind == RequestKind::NewOrder && self.pending_caps_apply()).then(|| {
            self.gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Whether a newOrder from `peer` would exceed a pending-order cap. A database failure lets
    /// the order through (the caps protect capacity, they are not an access control) and is
    /// logged. A renewal — an order for an approved device by the account key its approval
    /// binds (§3.4.4), `account` — never waits for a human and passes; another key's order for
    /// it (a key change) waits and counts. `device` comes from the core's unverified reading of
    /// the JWS payload, which is enough here because such an order would not count as pending
    /// either.
    pub(crate) fn over_pending_cap(
        &self,
        peer: IpAddr,
        device: Option<&str>,
        account: Option<&str>,
        now: Duration,
    ) -> Option<RateLimited> {
        let (per_source, total) = (
            self.limits.max_pending_per_source,
            self.limits.max_pending_total,
        );
        if !self.pending_caps_apply() {
            return None;
        }
        let ip = source(peer);
        let counts = (|| {
            let conn = self.db.lock().ok()?;
            if let (Some(d), Some(a)) = (device, account)
                && store::is_renewal(&conn, d, a).unwrap_or(false)
            {
                return Some((0, 0));
            }
            store::pending_orders(&conn, ip, now.as_secs())
                .inspect_err(
                    |e| tracing::error!(error = %format!("{e:#}"), "counting pending orders failed"),
                )
                .ok()
        })()?;
        let cap = if per_source != 0 && counts.0 >= per_source {
            PendingCap::Source(per_source)
        } else if total != 0 && counts.1 >= total {
            PendingCap::Total(total)
        } else {
            return None;
        };
        tracing::info!(%peer, ?cap, "order refused: too many orders waiting for approval");
        Some(RateLimited {
            detail: cap.detail(ip),
            retry_after: Duration::from_secs(60),
        })
    }

    /// Remember the source address of a new order (`resp` is the core's 201), for
    /// [`Admission::over_pending_cap`].
    pub(crate) fn record_order(&self, peer: IpAddr, resp: &Response, now: Duration) {
        if !self.pending_caps_apply() || resp.status != 201 {
            return;
        }
        let Some(order_id) = resp
            .header("location")
            .and_then(|l| l.rsplit('/').next())
            .map(str::to_string)
        else {
            return;
        };
        let device_id = lantrust_acme::from_json::<Order>(&resp.body)
            .ok()
            .and_then(|o| o.identifiers.first().map(lantrust_acme::server::device_id))
            .unwrap_or_default();
        let expires = now.saturating_add(self.order_lifetime).as_secs();
        if let Ok(conn) = self.db.lock()
            && let Err(e) =
                store::record_order_source(&conn, &order_id, source(peer), &device_id, expires)
        {
            tracing::error!(error = %format!("{e:#}"), "recording an order's source failed");
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
