//! Target selection order for SRV records (RFC 2782, "Usage rules").

use rand_core::RngCore;

/// Orders `items` in place the way RFC 2782 says a client must try SRV targets: by priority
/// ascending; within one priority, repeatedly pick at random with probability proportional to
/// weight, where weight-0 entries sit at the start of the running sum so that they are chosen
/// only rarely when others have weight, and in turn when all have weight 0.
///
/// `key` returns `(priority, weight)` for an item. Allocation-free; O(n²) in the size of one
/// priority group, which stays tiny in practice.
pub fn select_targets<T, R, K>(items: &mut [T], rng: &mut R, key: K)
where
    R: RngCore + ?Sized,
    K: Fn(&T) -> (u16, u16),
{
    // Priority ascending; weight-0 first inside a priority ("arrange all SRV RRs (that have
    // not been ordered yet) in any order, except that all those with weight 0 are placed at
    // the beginning of the list").
    items.sort_unstable_by_key(|t| {
        let (p, w) = key(t);
        (p, w != 0)
    });
    let mut start = 0;
    while start < items.len() {
        let prio = items.get(start).map(|t| key(t).0);
        let end = items
            .iter()
            .skip(start)
            .position(|t| Some(key(t).0) != prio)
            .map_or(items.len(), |n| start + n);
        for i in start..end {
            let rest = items.get(i..end).unwrap_or(&[]);
            let sum: u64 = rest.iter().map(|t| u64::from(key(t).1)).sum();
            // Uniform in 0..=sum (the modulo bias is below 2^-31: sum < 2^32).
            let pick = rng.next_u64() % (sum + 1);
            let mut running = 0u64;
            let chosen = rest
                .iter()
                .position(|t| {
                    running += u64::from(key(t).1);
                    running >= pick
                })
                .unwrap_or(0);
            // Rotate rather than swap, so the unchosen keep their order and the weight-0
            // entries stay at the front of what remains.
            if let Some(window) = items.get_mut(i..=i + chosen) {
                window.rotate_right(1);
            }
        }
        start = end;
    }
}
