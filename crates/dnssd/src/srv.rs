//! Target selection order for SRV records (RFC 2782, "Usage rules").

use rand_core::RngCore;

/// Orders `items` in place the way RFC 2782 says a client must try SRV targets: by priority
/// ascending; within one priority, repeatedly pick at random with probability proportional to
/// weight. Weight-0 entries get "a very small chance" (1 in sum+1) while weighted ones remain,
/// and are picked uniformly once only they remain.
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
            let zeros = rest.iter().take_while(|t| key(t).1 == 0).count();
            let chosen = if sum == 0 {
                // Only weight-0 entries left: no preference, so pick uniformly (the literal
                // rule would always take the first and never spread load).
                uniform(rng, rest.len() as u64) as usize
            } else {
                // RFC 2782's draw is uniform in 0..=sum with weight-0 entries first; a draw
                // of 0 selects the first entry. That gives weight-0 entries their "very small
                // chance" (1 in sum+1), but when there are none it hands the first weighted
                // entry an extra share (1,3 would split 2:3, not 1:3). So draw from 1..=sum
                // when there is no weight-0 entry left, keeping shares exact.
                let pick = if zeros > 0 {
                    uniform(rng, sum + 1)
                } else {
                    1 + uniform(rng, sum)
                };
                if pick == 0 {
                    uniform(rng, zeros as u64) as usize
                } else {
                    let mut running = 0u64;
                    rest.iter()
                        .position(|t| {
                            running += u64::from(key(t).1);
                            running >= pick
                        })
                        .unwrap_or(0)
                }
            };
            // Rotate rather than swap, so the unchosen keep their order and the weight-0
            // entries stay at the front of what remains.
            if let Some(window) = items.get_mut(i..=i + chosen) {
                window.rotate_right(1);
            }
        }
        start = end;
    }
}

/// Uniform in `0..n` (`n > 0`; 0 for `n == 0`). The modulo bias is below 2^-31 as `n < 2^33`.
fn uniform<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    if n == 0 { 0 } else { rng.next_u64() % n }
}

#[cfg(test)]
mod tests {
    use super::select_targets;
    use rand::SeedableRng;

    /// The example zone of RFC 2782: `_foobar._tcp` with old-slow-box (0 1), new-fast-box
    /// (0 3) and, only if neither is up, sysadmins-box and server (1 0 each).
    const RFC2782: [(u16, u16, &str); 4] = [
        (1, 0, "sysadmins-box"),
        (0, 1, "old-slow-box"),
        (1, 0, "server"),
        (0, 3, "new-fast-box"),
    ];

    #[test]
    fn rfc2782_example_distribution() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2782);
        let trials = 20_000;
        let (mut fast_first, mut sysadmin_third) = (0, 0);
        for _ in 0..trials {
            let mut v = RFC2782;
            select_targets(&mut v, &mut rng, |t| (t.0, t.1));
            // Priority 0 always before priority 1.
            assert!(v[..2].iter().all(|t| t.0 == 0) && v[2..].iter().all(|t| t.0 == 1));
            fast_first += usize::from(v[0].2 == "new-fast-box");
            sysadmin_third += usize::from(v[2].2 == "sysadmins-box");
        }
        // "three quarters of the logins go to new-fast-box".
        let share = fast_first as f64 / trials as f64;
        assert!((0.73..0.77).contains(&share), "{share}");
        // Two weight-0 entries alone: each first about half the time.
        let share = sysadmin_third as f64 / trials as f64;
        assert!((0.47..0.53).contains(&share), "{share}");
    }

    #[test]
    fn weight_zero_rarely_first_when_others_have_weight() {
        // RFC 2782: weight 0 entries "should have a very small chance of being selected".
        // With the running-sum rule a weight-0 entry wins only when the draw is exactly 0.
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut zero_first = 0;
        for _ in 0..10_000 {
            let mut v = [(5u16, 0u16), (5, 10)];
            select_targets(&mut v, &mut rng, |t| *t);
            zero_first += usize::from(v[0].1 == 0);
        }
        // Chance 1/11 per trial (draw of 0 out of 0..=10).
        assert!((700..1100).contains(&zero_first), "{zero_first}");
        // A draw that is always 0 picks the weight-0 entry placed first.
        let mut zero = rand::rngs::mock::StepRng::new(0, 0);
        let mut v = [(5u16, 10u16), (5, 0)];
        select_targets(&mut v, &mut zero, |t| *t);
        assert_eq!(v, [(5, 0), (5, 10)]);
    }

    #[test]
    fn empty_and_single() {
        let mut rng = rand::rngs::mock::StepRng::new(0, 1);
        let mut none: [(u16, u16); 0] = [];
        select_targets(&mut none, &mut rng, |t| *t);
        let mut one = [(9u16, 65535u16)];
        select_targets(&mut one, &mut rng, |t| *t);
        assert_eq!(one, [(9, 65535)]);
        // Many maximal weights: the running sum does not overflow.
        let mut many = [(0u16, u16::MAX); 300];
        select_targets(&mut many, &mut rng, |t| *t);
    }
}
