//! RFC 5280 §4.1.2.5 times from a caller-supplied `now` (the crate never reads a clock).

use core::time::Duration;

use der::DateTime;
use der::asn1::{GeneralizedTime, UtcTime};
use x509_cert::time::Time;

use crate::{Error, Result};

/// Encodes a time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
/// Sub-second parts are dropped (DER times have whole seconds).
pub(crate) fn x509_time(since_epoch: Duration) -> Result<Time> {
    let secs = Duration::from_secs(since_epoch.as_secs());
    let dt = DateTime::from_unix_duration(secs).map_err(|_| Error::TimeOutOfRange {
        seconds: secs.as_secs(),
    })?;
    if dt.year() <= UtcTime::MAX_YEAR {
        UtcTime::from_date_time(dt)
            .map(Time::UtcTime)
            .map_err(|_| Error::TimeOutOfRange {
                seconds: secs.as_secs(),
            })
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// `since_epoch` plus whole calendar years (29 February maps to 28 February).
pub(crate) fn add_years(since_epoch: Duration, years: u32) -> Result<Duration> {
    let err = Error::TimeOutOfRange {
        seconds: since_epoch.as_secs(),
    };
    let dt = DateTime::from_unix_duration(Duration::from_secs(since_epoch.as_secs()))
        .map_err(|_| err)?;
    let year = u16::try_from(u32::from(dt.year()) + years).map_err(|_| Error::TimeOutOfRange {
        seconds: since_epoch.as_secs(),
    })?;
    let day = if dt.month() == 2 && dt.day() == 29 {
        28
    } else {
        dt.day()
    };
    DateTime::new(year, dt.month(), day, dt.hour(), dt.minutes(), dt.seconds())
        .map(|d| d.unix_duration())
        .map_err(|_| Error::TimeOutOfRange {
            seconds: since_epoch.as_secs(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_until_2049_generalized_after() {
        // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z.
        assert!(matches!(
            x509_time(Duration::from_secs(2_524_607_999)).unwrap(),
            Time::UtcTime(_)
        ));
        assert!(matches!(
            x509_time(Duration::from_secs(2_524_608_000)).unwrap(),
            Time::GeneralTime(_)
        ));
    }

    #[test]
    fn years_are_calendar_years() {
        // 2024-02-29T12:00:00Z + 1 year = 2025-02-28T12:00:00Z.
        let leap = Duration::from_secs(1_709_208_000);
        assert_eq!(add_years(leap, 1).unwrap().as_secs(), 1_740_744_000);
        // 2026-11-23T00:00:00Z + 10 years = 2036-11-23T00:00:00Z.
        assert_eq!(
            add_years(Duration::from_secs(1_795_392_000), 10)
                .unwrap()
                .as_secs(),
            2_111_011_200
        );
    }
}
