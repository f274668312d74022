//! RFC 3339 timestamps from time since the Unix epoch (the crate never reads a clock).

use alloc::string::String;
use core::time::Duration;

/// Format `t` (since the Unix epoch) as RFC 3339 UTC, e.g. `2025-01-02T04:00:00Z`.
pub fn rfc3339(t: Duration) -> String {
    let secs = t.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    alloc::format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Parse an RFC 3339 `date-time` (e.g. `2025-01-02T04:00:00Z`, `2025-01-02T05:00:00.5+01:00`)
/// into time since the Unix epoch, fractions of a second dropped. `None` if it is not one or lies
/// before 1970.
pub fn parse_rfc3339(s: &str) -> Option<Duration> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = b
            .get(i..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        i += digits;
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return None; // e.g. February 30th
    }
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(secs).ok().map(Duration::from_secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00Z");
        // RFC 9110's example date.
        assert_eq!(
            rfc3339(Duration::from_secs(784_111_777)),
            "1994-11-06T08:49:37Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        for t in [0u64, 784_111_777, 951_782_400, 1_800_000_000, 4_102_444_800] {
            let d = Duration::from_secs(t);
            assert_eq!(parse_rfc3339(&rfc3339(d)), Some(d));
        }
        assert_eq!(
            parse_rfc3339("1994-11-06T09:49:37.25+01:00"),
            Some(Duration::from_secs(784_111_777))
        );
        assert_eq!(
            parse_rfc3339("1994-11-06T07:49:37-01:00"),
            Some(Duration::from_secs(784_111_777))
        );
        for bad in [
            "",
            "1994-11-06",
            "1994-11-06T08:49:37",
            "1994-02-30T08:49:37Z",
            "1994-11-06T24:00:00Z",
            "1994-11-06T08:49:37.Z",
            "1994-11-06T08:49:37Zjunk",
            "1969-12-31T23:59:59Z",
            "1994-1a-06T08:49:37Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        let back = crate::http::parse_imf_fixdate("Tue, 29 Feb 2000 00:00:00 GMT").unwrap();
        assert_eq!(back, Duration::from_secs(951_782_400));
    }
}
