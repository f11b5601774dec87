//! `HTTP-date` ([RFC 9110 §5.6.7](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7)).
//!
//! ```text
//! HTTP-date    = IMF-fixdate / obs-date
//! IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
//! obs-date     = rfc850-date / asctime-date
//! rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
//! asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994
//! ```
//!
//! Parsing and formatting are the [`httpdate`] crate's; this module gives them a typed
//! error and a value type that never panics.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// The last second an `HTTP-date` can name: 9999-12-31T23:59:59Z.
const MAX_SECS: u64 = 253_402_300_799;

/// A point in time with one-second resolution, as `HTTP-date` header fields carry it
/// (`Date`, `Last-Modified`, `If-Modified-Since`, `Expires`, ...).
///
/// All three formats of RFC 9110 §5.6.7 parse; formatting always gives the preferred
/// IMF-fixdate. Comparison is by time, so `If-Modified-Since` checks are plain `<=`.
///
/// ```
/// use edge_toolkit::cache::HttpDate;
///
/// let fixdate: HttpDate = "Sun, 06 Nov 1994 08:49:37 GMT".parse()?;
/// let rfc850: HttpDate = "Sunday, 06-Nov-94 08:49:37 GMT".parse()?;
/// let asctime: HttpDate = "Sun Nov  6 08:49:37 1994".parse()?;
/// assert_eq!(fixdate, rfc850);
/// assert_eq!(fixdate, asctime);
/// assert_eq!(asctime.to_string(), "Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!(fixdate.unix_seconds(), 784_111_777);
/// # Ok::<(), edge_toolkit::cache::InvalidHttpDate>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpDate {
    secs: u64,
}

/// A value that is not an `HTTP-date` in any of the three formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HTTP-date {value:?}")]
pub struct InvalidHttpDate {
    value: String,
}

impl InvalidHttpDate {
    /// The text that failed to parse (lossily decoded when it was not UTF-8).
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl HttpDate {
    /// The date `secs` seconds after the Unix epoch, capped at the end of year 9999.
    pub fn from_unix_seconds(secs: u64) -> Self {
        Self {
            secs: secs.min(MAX_SECS),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        self.secs
    }

    /// The current time, truncated to the second.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Parses a header value in any of the three formats.
    pub fn from_header(value: &HeaderValue) -> Result<Self, InvalidHttpDate> {
        match value.to_str() {
            Ok(text) => text.parse(),
            Err(_) => Err(InvalidHttpDate {
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            }),
        }
    }

    /// The date as an IMF-fixdate header value.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.to_string())
            .expect("an IMF-fixdate is visible ASCII, a valid header value")
    }
}

impl From<SystemTime> for HttpDate {
    /// Truncates to the second; times before 1970 become the epoch and times after 9999
    /// become its last second, the range `HTTP-date` can express.
    fn from(time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_unix_seconds(secs)
    }
}

impl From<HttpDate> for SystemTime {
    fn from(date: HttpDate) -> Self {
        UNIX_EPOCH + Duration::from_secs(date.secs)
    }
}

impl FromStr for HttpDate {
    type Err = InvalidHttpDate;

    /// Parses IMF-fixdate, RFC 850 or asctime, ignoring surrounding whitespace. A two-digit
    /// RFC 850 year below 70 is taken as 20xx, any other as 19xx.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        httpdate::parse_http_date(s.trim())
            .map(Self::from)
            .map_err(|_| InvalidHttpDate {
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for HttpDate {
    /// Formats as IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&httpdate::fmt_http_date(SystemTime::from(*self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: u64 = 784_111_777;

    #[test]
    fn parses_all_three_formats() {
        let cases = [
            ("Sun, 06 Nov 1994 08:49:37 GMT", NOV_6_1994),
            ("Sunday, 06-Nov-94 08:49:37 GMT", NOV_6_1994),
            ("Sun Nov  6 08:49:37 1994", NOV_6_1994),
            ("  Sun, 06 Nov 1994 08:49:37 GMT ", NOV_6_1994),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
            ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
            ("Thu Jan  1 00:00:00 1970", 0),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600),
            ("Wednesday, 09-Jun-21 10:18:14 GMT", 1_623_233_894),
            ("Wed Jun  9 10:18:14 2021", 1_623_233_894),
            ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_SECS),
        ];
        for (text, secs) in cases {
            let date: HttpDate = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(date.unix_seconds(), secs, "{text:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_http_date() {
        let cases = [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "1994-11-06T08:49:37Z",
            "784111777",
        ];
        for text in cases {
            let err = text
                .parse::<HttpDate>()
                .expect_err(&format!("{text:?} must not parse"));
            assert_eq!(err.value(), text);
            assert!(err.to_string().contains("invalid HTTP-date"));
        }
    }

    #[test]
    fn formats_imf_fixdate_and_round_trips() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (NOV_6_1994, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_825_600, "Tue, 29 Feb 2000 12:00:00 GMT"),
            (MAX_SECS, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (secs, text) in cases {
            let date = HttpDate::from_unix_seconds(secs);
            assert_eq!(date.to_string(), text);
            assert_eq!(text.parse::<HttpDate>(), Ok(date));
            assert_eq!(date.to_header_value(), text);
            assert_eq!(HttpDate::from_header(&date.to_header_value()), Ok(date));
        }
    }

    #[test]
    fn system_time_conversions_never_panic() {
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(HttpDate::from(before_epoch).unix_seconds(), 0);
        let far_future = UNIX_EPOCH + Duration::from_secs(MAX_SECS * 2);
        assert_eq!(HttpDate::from(far_future).unix_seconds(), MAX_SECS);
        let with_nanos = UNIX_EPOCH + Duration::new(NOV_6_1994, 999_999_999);
        let date = HttpDate::from(with_nanos);
        assert_eq!(date.unix_seconds(), NOV_6_1994);
        assert_eq!(
            SystemTime::from(date),
            UNIX_EPOCH + Duration::from_secs(NOV_6_1994)
        );
        assert!(HttpDate::now() > date);
    }

    #[test]
    fn orders_by_time() {
        let earlier: HttpDate = "Sun Nov  6 08:49:37 1994".parse().expect("valid");
        let later: HttpDate = "Sun, 06 Nov 1994 08:49:38 GMT".parse().expect("valid");
        assert!(earlier < later);
    }

    #[test]
    fn non_utf8_header_value_is_an_error() {
        let value = HeaderValue::from_bytes(b"Sun, 06 Nov 1994 \xff").expect("opaque bytes");
        assert!(HttpDate::from_header(&value).is_err());
    }
}
