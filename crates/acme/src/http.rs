//! Plain HTTP request/response values exchanged with the caller, who owns the sockets.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET (directory, challenge responses served by devices).
    Get,
    /// HEAD (newNonce).
    Head,
    /// POST (every other ACME request, including POST-as-GET).
    Post,
}

impl Method {
    /// The method token.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }
}

/// An HTTP request to send (client) or that was received (server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Header fields (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// An HTTP response received (client) or to send (server).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields (name, value); names compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let name = name.to_string();
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name).next()
    }
}

impl Response {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name).next()
    }

    /// Every value of header `name`, in order.
    pub fn header_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        find(&self.headers, name)
    }

    /// URLs of `Link` header entries with `rel="<rel>"` (RFC 8288), across all Link fields.
    pub fn links(&self, rel: &str) -> Vec<String> {
        let mut out = Vec::new();
        for field in self.header_all("link") {
            for entry in split_links(field) {
                let entry = entry.trim();
                let Some(rest) = entry.strip_prefix('<') else {
                    continue;
                };
                let Some(end) = rest.find('>') else { continue };
                let (url, params) = rest.split_at(end);
                let has_rel = params.split(';').skip(1).any(|p| {
                    let p = p.trim();
                    p.strip_prefix("rel=").is_some_and(|v| {
                        v.trim_matches('"')
                            .split(' ')
                            .any(|r| r.eq_ignore_ascii_case(rel))
                    })
                });
                if has_rel {
                    out.push(url.to_string());
                }
            }
        }
        out
    }

    /// The `Retry-After` delay relative to `now` (since the Unix epoch): delta-seconds or an
    /// IMF-fixdate (RFC 9110 §10.2.3). `None` if absent or unparsable.
    pub fn retry_after(&self, now: Duration) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = parse_imf_fixdate(v)?;
        Some(at.saturating_sub(now))
    }
}

/// Split a Link field value on commas that are not inside `<...>` or quotes.
fn split_links(field: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_url, mut in_quote, mut start) = (false, false, 0usize);
    for (i, c) in field.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' if !in_url && !in_quote => {
                out.push(field.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(field.get(start..).unwrap_or_default());
    out
}

/// Parse `Sun, 06 Nov 1994 08:49:37 GMT` into time since the Unix epoch.
pub(crate) fn parse_imf_fixdate(s: &str) -> Option<Duration> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let sec: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || sec > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days)
        .ok()?
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)?;
    Some(Duration::from_secs(secs))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut r = Response {
            status: 200,
            headers: alloc::vec![("Retry-After".into(), "120".into())],
            body: Vec::new(),
        };
        assert_eq!(
            r.retry_after(Duration::ZERO),
            Some(Duration::from_secs(120))
        );
        // RFC 9110 example date; 784111777 is its Unix time.
        r.headers[0].1 = "Sun, 06 Nov 1994 08:49:37 GMT".into();
        assert_eq!(
            r.retry_after(Duration::from_secs(784_111_777 - 5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            r.retry_after(Duration::from_secs(784_111_777 + 5)),
            Some(Duration::ZERO)
        );
        r.headers[0].1 = "soon".into();
        assert_eq!(r.retry_after(Duration::ZERO), None);
    }

    #[test]
    fn link_alternate() {
        let r = Response {
            status: 200,
            headers: alloc::vec![
                (
                    "Link".into(),
                    r#"<https://e/cert/1/1>;rel="alternate", <https://e/dir>;rel="index""#.into()
                ),
                ("link".into(), "<https://e/cert/1/2>; rel=alternate".into()),
            ],
            body: Vec::new(),
        };
        assert_eq!(
            r.links("alternate"),
            alloc::vec![
                "https://e/cert/1/1".to_string(),
                "https://e/cert/1/2".to_string()
            ]
        );
        assert_eq!(r.links("index"), alloc::vec!["https://e/dir".to_string()]);
    }
}
