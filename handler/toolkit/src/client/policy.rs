//! When to retry and how long to wait: idempotent methods, retryable statuses, exponential
//! backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode, header};

use crate::cache::HttpDate;

/// How often and how patiently a [`Client`](super::Client) retries.
///
/// The wait before retry `n` (counting from 0) is drawn uniformly from
/// `0..=min(max_delay, base_delay × 2ⁿ)`: exponential backoff with *full jitter*, which
/// spreads the retries of many clients that failed together instead of having them return in
/// lockstep.
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::client::RetryPolicy;
///
/// let policy = RetryPolicy::new(3, Duration::from_millis(100), Duration::from_millis(300));
/// // The ceiling doubles per retry, up to max_delay...
/// assert_eq!(policy.ceiling(0), Duration::from_millis(100));
/// assert_eq!(policy.ceiling(1), Duration::from_millis(200));
/// assert_eq!(policy.ceiling(2), Duration::from_millis(300));
/// // ...and the delay is a random fraction of it.
/// assert_eq!(policy.delay(1, 0.5), Duration::from_millis(100));
/// assert_eq!(policy.delay(1, 0.0), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt: a request is tried at most `1 + max_retries` times.
    pub max_retries: u32,
    /// The ceiling of the first retry's delay.
    pub base_delay: Duration,
    /// The largest delay, and the longest `Retry-After` honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, from 100 ms, at most 2 s apart.
    fn default() -> Self {
        Self::new(2, Duration::from_millis(100), Duration::from_secs(2))
    }
}

impl RetryPolicy {
    /// A policy of `max_retries` retries, waiting from `base_delay` up to `max_delay`.
    pub const fn new(max_retries: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_retries,
            base_delay,
            max_delay,
        }
    }

    /// No retries: every request is tried once.
    pub const fn never() -> Self {
        Self::new(0, Duration::ZERO, Duration::ZERO)
    }

    /// The largest delay before retry `retry` (counting from 0):
    /// `min(max_delay, base_delay × 2^retry)`, without overflowing.
    pub fn ceiling(&self, retry: u32) -> Duration {
        1u32.checked_shl(retry)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// The delay before retry `retry` (counting from 0) for a uniform `random` draw in
    /// `[0, 1]` (clamped into it; NaN counts as 0): `ceiling(retry) × random`.
    pub fn delay(&self, retry: u32, random: f64) -> Duration {
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        self.ceiling(retry).mul_f64(random)
    }
}

/// Whether `method` is idempotent (RFC 9110 §9.2.2), so that repeating a request whose
/// outcome is unknown is safe: `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` and `DELETE`. Never
/// `POST` or `PATCH`, nor an extension method.
///
/// ```
/// use edge_toolkit::client::is_idempotent;
/// use http::Method;
///
/// assert!(is_idempotent(&Method::PUT));
/// assert!(!is_idempotent(&Method::POST));
/// assert!(!is_idempotent(&Method::PATCH));
/// ```
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Whether a response with `status` is worth retrying: `502 Bad Gateway`,
/// `503 Service Unavailable` and `504 Gateway Timeout`, the statuses of an upstream that is
/// (for now) not there.
///
/// ```
/// use edge_toolkit::client::is_retryable_status;
///
/// assert!(is_retryable_status(http::StatusCode::SERVICE_UNAVAILABLE));
/// assert!(!is_retryable_status(http::StatusCode::INTERNAL_SERVER_ERROR));
/// ```
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The `Retry-After` of a response as a delay from now: RFC 9110 §10.2.3 allows a number of
/// seconds (`delay-seconds`) or an `HTTP-date` (a date already past means no delay).
/// Several values or garbage give `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "3".parse().unwrap());
/// assert_eq!(edge_toolkit::client::retry_after(&headers), Some(Duration::from_secs(3)));
/// let in_a_minute = SystemTime::now() + Duration::from_secs(61);
/// let date = edge_toolkit::cache::HttpDate::from(in_a_minute).to_header_value();
/// headers.insert("retry-after", date);
/// let delay = edge_toolkit::client::retry_after(&headers).unwrap();
/// assert!(delay > Duration::from_secs(55) && delay <= Duration::from_secs(61));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] as seen at `now`.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use http::HeaderMap;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // Wed, 21 Oct 2015 07:27:50 GMT
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
/// assert_eq!(edge_toolkit::client::retry_after_at(&headers, now), Some(Duration::from_secs(10)));
/// ```
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut values = headers.get_all(header::RETRY_AFTER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = value.to_str().ok()?.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only, so the one failure is overflow: a delay no policy would wait for.
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let date = SystemTime::from(text.parse::<HttpDate>().ok()?);
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_grow_exponentially_within_bounds() {
        let policy = RetryPolicy::new(10, 50 * MS, 1000 * MS);
        let ceilings: Vec<Duration> = (0..7).map(|n| policy.ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [
                50 * MS,
                100 * MS,
                200 * MS,
                400 * MS,
                800 * MS,
                1000 * MS,
                1000 * MS
            ]
        );
        for retry in 0..40 {
            for random in [0.0, 0.01, 0.25, 0.5, 0.99, 1.0] {
                let delay = policy.delay(retry, random);
                assert!(delay <= policy.ceiling(retry), "{retry} {random}");
                assert!(delay <= policy.max_delay);
            }
            // The same draw waits at least as long on a later retry.
            assert!(policy.delay(retry + 1, 0.7) >= policy.delay(retry, 0.7));
        }
        // Huge exponents saturate rather than overflow.
        assert_eq!(policy.ceiling(u32::MAX), 1000 * MS);
        let huge = RetryPolicy::new(1, Duration::MAX, Duration::MAX);
        assert_eq!(huge.ceiling(3), Duration::MAX);
    }

    #[test]
    fn random_draws_are_clamped() {
        let policy = RetryPolicy::new(1, 100 * MS, 100 * MS);
        assert_eq!(policy.delay(0, -1.0), Duration::ZERO);
        assert_eq!(policy.delay(0, f64::NAN), Duration::ZERO);
        assert_eq!(policy.delay(0, 7.0), 100 * MS);
        assert_eq!(RetryPolicy::never().max_retries, 0);
        assert_eq!(RetryPolicy::default().max_retries, 2);
    }

    #[test]
    fn idempotent_methods_and_retryable_statuses() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            assert!(is_idempotent(&method), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT", "PURGE"] {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            assert!(!is_idempotent(&method), "{method}");
        }
        for status in [502, 503, 504] {
            assert!(is_retryable_status(
                StatusCode::from_u16(status).expect("status")
            ));
        }
        for status in [200, 404, 429, 500, 501, 505] {
            assert!(!is_retryable_status(
                StatusCode::from_u16(status).expect("status")
            ));
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        // Wed, 21 Oct 2015 07:28:00 GMT
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let parse = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::RETRY_AFTER, value.parse().expect("value"));
            }
            retry_after_at(&headers, now)
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["0"]), Some(Duration::ZERO));
        assert_eq!(parse(&[" 2 "]), Some(2000 * MS));
        assert_eq!(parse(&["-1"]), None);
        assert_eq!(parse(&["1.5"]), None);
        assert_eq!(parse(&["1", "2"]), None);
        assert_eq!(
            parse(&["99999999999999999999999"]),
            Some(Duration::from_secs(u64::MAX))
        );
        // All three HTTP-date formats; a date in the past means now.
        assert_eq!(parse(&["Wed, 21 Oct 2015 07:28:30 GMT"]), Some(30_000 * MS));
        assert_eq!(
            parse(&["Wednesday, 21-Oct-15 07:29:00 GMT"]),
            Some(60_000 * MS)
        );
        assert_eq!(parse(&["Wed Oct 21 07:28:05 2015"]), Some(5000 * MS));
        assert_eq!(
            parse(&["Wed, 21 Oct 2015 07:00:00 GMT"]),
            Some(Duration::ZERO)
        );
        assert_eq!(parse(&["Wed, 21 Oct 2015 07:28:00"]), None);
        assert_eq!(parse(&["soon"]), None);
    }
}
