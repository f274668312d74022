//! The client side of ACME Renewal Information (RFC 9773), sans-IO: the request that asks when
//! to renew a certificate ([`renewal_info_request`]), the answer parsed ([`RenewalAdvice`]), and
//! when to act on it. The caller sends the request, keeps the clock and supplies the randomness.
//!
//! ```
//! # use lantrust_acme::ari::*;
//! # use lantrust_acme::{Response, Directory};
//! # use core::time::Duration;
//! let resp = Response {
//!     status: 200,
//!     headers: vec![("Retry-After".into(), "21600".into())],
//!     body: br#"{"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T00:00:00Z"}}"#.to_vec(),
//! };
//! let now = Duration::from_secs(1_790_000_000);
//! let advice = RenewalAdvice::from_response(&resp, now).unwrap();
//! assert_eq!(advice.retry_after, Some(Duration::from_secs(21_600)));
//! // §4.2: a uniformly random time in the window.
//! let at = advice.renew_at(0x1234_5678);
//! assert!(advice.start <= at && at < advice.end);
//! ```

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use crate::error::{Error, Result};
use crate::http::{Method, Request, Response};
use crate::objects::{Directory, RenewalInfo, cert_id, from_json};
use crate::time::parse_rfc3339;

/// The renewalInfo URL of a certificate (RFC 9773 §4.1: `{renewalInfo}/{certID}`), or `None` if
/// the directory does not advertise `renewalInfo` (the server does not speak ARI; fall back to
/// the client's own schedule).
pub fn renewal_info_url(directory: &Directory, cert_der: &[u8]) -> Result<Option<String>> {
    let Some(base) = &directory.renewal_info else {
        return Ok(None);
    };
    let id = cert_id(cert_der)?;
    Ok(Some(alloc::format!("{}/{id}", base.trim_end_matches('/'))))
}

/// The unauthenticated GET of a certificate's renewal information (RFC 9773 §4.1), or `None`
/// if the directory does not advertise `renewalInfo`.
pub fn renewal_info_request(directory: &Directory, cert_der: &[u8]) -> Result<Option<Request>> {
    Ok(renewal_info_url(directory, cert_der)?.map(|url| Request {
        method: Method::Get,
        url,
        headers: alloc::vec![("Accept".into(), "application/json".into())],
        body: Vec::new(),
    }))
}

/// A server's suggestion of when to renew one certificate (RFC 9773 §4.2), in time since the
/// Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenewalAdvice {
    /// The suggested window's start.
    pub start: Duration,
    /// The suggested window's end (always after `start`).
    pub end: Duration,
    /// When to ask again (§4.3), from the `Retry-After` header, if it had a usable one.
    pub retry_after: Option<Duration>,
    /// Why the window is what it is (§4.2 `explanationURL`), for the operator's log.
    pub explanation_url: Option<String>,
}

impl RenewalAdvice {
    /// The advice in a renewalInfo response received at `now`. A non-200 status, a body that is
    /// not a RenewalInfo object, or a window whose end does not follow its start (§4.2: to be
    /// treated as no answer at all) is an error.
    pub fn from_response(resp: &Response, now: Duration) -> Result<Self> {
        if resp.status != 200 {
            return Err(match from_json::<crate::objects::Problem>(&resp.body) {
                Ok(p) => Error::Problem(Box::new(p)),
                Err(_) => {
                    Error::Protocol(alloc::format!("renewalInfo answered HTTP {}", resp.status))
                }
            });
        }
        let info: RenewalInfo = from_json(&resp.body)?;
        Self::from_info(&info, resp.retry_after(now))
    }

    /// The advice in a parsed RenewalInfo object, with the response's `Retry-After`.
    pub fn from_info(info: &RenewalInfo, retry_after: Option<Duration>) -> Result<Self> {
        let time = |what: &str, s: &str| {
            parse_rfc3339(s).ok_or_else(|| {
                Error::Protocol(alloc::format!(
                    "renewalInfo suggestedWindow.{what} is not an RFC 3339 time: {s:?}"
                ))
            })
        };
        let start = time("start", &info.suggested_window.start)?;
        let end = time("end", &info.suggested_window.end)?;
        if end <= start {
            return Err(Error::Protocol(
                "renewalInfo suggestedWindow ends before it starts (RFC 9773 §4.2)".to_string(),
            ));
        }
        Ok(RenewalAdvice {
            start,
            end,
            retry_after,
            explanation_url: info.explanation_url.clone(),
        })
    }

    /// The time to renew at (§4.2): uniformly inside `[start, end)`, chosen by `random` (any
    /// random 64-bit value from the caller's RNG). If it is not after now, renew at once.
    #[must_use]
    pub fn renew_at(&self, random: u64) -> Duration {
        let span = self.end.saturating_sub(self.start).as_millis();
        let off = if span == 0 {
            0
        } else {
            u128::from(random) % span
        };
        self.start
            .saturating_add(Duration::from_millis(u64::try_from(off).unwrap_or(0)))
    }

    /// When to ask again (§4.3): the server's `Retry-After` (or `fallback` when it sent none)
    /// kept between `min` and `max`, then lengthened by up to a tenth by `random` so that a fleet
    /// does not ask in step.
    #[must_use]
    pub fn poll_after(
        &self,
        fallback: Duration,
        min: Duration,
        max: Duration,
        random: u64,
    ) -> Duration {
        poll_interval(self.retry_after.unwrap_or(fallback), min, max, random)
    }
}

/// `wanted` kept between `min` and `max` (`max` wins if they cross), plus a jitter of up to a
/// tenth chosen by `random` (RFC 9773 §4.3: clients should not ask in step).
#[must_use]
pub fn poll_interval(wanted: Duration, min: Duration, max: Duration, random: u64) -> Duration {
    let base = wanted.max(min).min(max);
    let tenth = base.as_millis() / 10;
    let jitter = if tenth == 0 {
        0
    } else {
        u128::from(random) % tenth
    };
    base.saturating_add(Duration::from_millis(u64::try_from(jitter).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{SuggestedWindow, to_json};

    #[test]
    fn renewal_info_round_trips_through_json() {
        let info = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: "2025-01-02T04:00:00Z".into(),
                end: "2025-01-03T04:00:00Z".into(),
            },
            explanation_url: Some("https://router.local/ari".into()),
        };
        let json = to_json(&info);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["suggestedWindow"]["start"], "2025-01-02T04:00:00Z");
        assert_eq!(v["suggestedWindow"]["end"], "2025-01-03T04:00:00Z");
        assert_eq!(v["explanationURL"], "https://router.local/ari");
        let back: RenewalInfo = from_json(&json).unwrap();
        assert_eq!(back, info);
        // explanationURL is optional both ways.
        let bare =
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"}}"#;
        let parsed: RenewalInfo = from_json(bare).unwrap();
        assert_eq!(parsed.explanation_url, None);
        assert!(
            !String::from_utf8(to_json(&parsed))
                .unwrap()
                .contains("explanationURL")
        );

        let resp = Response {
            status: 200,
            headers: alloc::vec![("retry-after".into(), "3600".into())],
            body: json,
        };
        let a = RenewalAdvice::from_response(&resp, Duration::ZERO).unwrap();
        assert_eq!(a.start, Duration::from_secs(1_735_790_400));
        assert_eq!(a.end - a.start, Duration::from_secs(86_400));
        assert_eq!(a.retry_after, Some(Duration::from_secs(3600)));
        assert_eq!(
            a.explanation_url.as_deref(),
            Some("https://router.local/ari")
        );
    }

    #[test]
    fn bad_windows_count_as_no_answer() {
        for body in [
            &br#"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#[..],
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#,
            br#"{"suggestedWindow":{"start":"yesterday","end":"2025-01-02T04:00:00Z"}}"#,
            br#"{"window":{}}"#,
        ] {
            let resp = Response {
                status: 200,
                headers: alloc::vec![],
                body: body.to_vec(),
            };
            assert!(RenewalAdvice::from_response(&resp, Duration::ZERO).is_err());
        }
        let not_found = Response {
            status: 404,
            headers: alloc::vec![],
            body: br#"{"type":"urn:ietf:params:acme:error:malformed","status":404}"#.to_vec(),
        };
        assert!(matches!(
            RenewalAdvice::from_response(&not_found, Duration::ZERO),
            Err(Error::Problem(_))
        ));
    }

    #[test]
    fn renewal_times_stay_in_the_window_and_polls_in_bounds() {
        let a = RenewalAdvice {
            start: Duration::from_secs(1000),
            end: Duration::from_secs(2000),
            retry_after: Some(Duration::from_secs(30)),
            explanation_url: None,
        };
        for r in [0u64, 1, 999_999, u64::MAX, 0xdead_beef] {
            let t = a.renew_at(r);
            assert!(t >= a.start && t < a.end, "{t:?}");
        }
        let (min, max) = (Duration::from_secs(3600), Duration::from_secs(86_400));
        // 30 s asked, an hour at least, plus up to 6 min of jitter.
        let p = a.poll_after(Duration::from_secs(600), min, max, 12345);
        assert!(p >= min && p < min + Duration::from_secs(360), "{p:?}");
        let far = poll_interval(Duration::from_secs(10 * 86_400), min, max, 7);
        assert!(far >= max && far < max + max / 10);
    }

    #[test]
    fn the_request_is_a_get_of_the_cert_id_under_renewal_info() {
        let mut d: Directory = from_json(
            br#"{"newNonce":"https://s/n","newAccount":"https://s/a","newOrder":"https://s/o",
                "revokeCert":"https://s/r","keyChange":"https://s/k"}"#,
        )
        .unwrap();
        // No renewalInfo: the server does not speak ARI.
        assert_eq!(renewal_info_request(&d, b"not even DER").unwrap(), None);
        d.renewal_info = Some("https://s/renewal-info".into());
        assert!(renewal_info_request(&d, b"not DER").is_err());
    }
}
