//! Middleware that limits requests per key the application chooses (an API key, a user id,
//! a tenant), with token buckets kept in the key-value store, so every instance and every
//! replica sharing the store shares the limit.
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::RateLimit;
//!
//! let limit = RateLimit::new("api-key", 2, Duration::from_secs(60))
//!     .with_key(|req: &Request| {
//!         req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
//!     })
//!     .with_store("rate-limit-module-example");
//! let app = Stack::new().layer(limit).handler(|_req: Request| Ok(Response::new(b"hi".to_vec())));
//! let req = || http::Request::get("/").header("x-api-key", "k1").body(vec![]).unwrap();
//!
//! let res = app.call_blocking(req()).unwrap();
//! assert_eq!(res.headers()["ratelimit-policy"], r#""api-key";q=2;w=60"#);
//! assert_eq!(res.headers()["ratelimit"], r#""api-key";r=1;t=30"#);
//! let res = app.call_blocking(req()).unwrap();
//! assert_eq!(res.headers()["ratelimit"], r#""api-key";r=0;t=60"#);
//!
//! // The bucket is empty: one token comes back every 30 s.
//! let res = app.call_blocking(req()).unwrap_err().into_response();
//! assert_eq!(res.status(), 429);
//! assert_eq!(res.headers()["retry-after"], "30");
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//!
//! // Another key has a bucket of its own; a request without a key is not limited.
//! let other = http::Request::get("/").header("x-api-key", "k2").body(vec![]).unwrap();
//! assert_eq!(app.call_blocking(other).unwrap().headers()["ratelimit"], r#""api-key";r=1;t=30"#);
//! let anonymous = http::Request::get("/").body(vec![]).unwrap();
//! assert!(!app.call_blocking(anonymous).unwrap().headers().contains_key("ratelimit"));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kv::{DEFAULT_STORE, KvError, Store, SwapError};
use crate::middleware::chain::headers_of;
use crate::{HandlerFuture, Middleware, Next, Problem, Request};

/// The `RateLimit-Policy` field of draft-ietf-httpapi-ratelimit-headers: the quota.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The `RateLimit` field of draft-ietf-httpapi-ratelimit-headers: what is left of it now.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// How many times a request reads and swaps its bucket before it gives up on a store that
/// other requests keep writing (and passes).
const MAX_ATTEMPTS: usize = 8;

type KeyFn = dyn Fn(&Request) -> Option<String> + Send + Sync;
type Clock = dyn Fn() -> SystemTime + Send + Sync;
#[cfg(test)]
type Hook = dyn Fn(&Store, &str) + Send + Sync;

/// Limits requests per key with token buckets in the key-value store ([`crate::kv`]).
///
/// A limit of `count` per `period` is a bucket of `count` tokens per key, refilled at
/// `count / period`: a key may burst to `count` requests at once, then goes at that rate. A
/// request takes one token; a request that finds less than one is refused with `429 Too
/// Many Requests` (problem+json) and `Retry-After` (whole seconds until a token is back),
/// without calling the inner handler.
///
/// Every answer for a limited request, refused or passed (the inner handler's response or
/// problem), carries the fields of the IETF draft
/// [draft-ietf-httpapi-ratelimit-headers](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/),
/// worded as the host's own limiter words them:
///
/// ```text
/// RateLimit-Policy: "api-key";q=100;w=60
/// RateLimit: "api-key";r=41;t=36
/// ```
///
/// `q` requests per `w` seconds; `r` requests left now (after this one); `t` seconds until
/// the bucket is full again. With several limits on a request's way, each appends its own
/// field line (together a list, as the host's `", "`-joined one).
///
/// The key comes from [`with_key`](Self::with_key): what the handler knows of the client, such
/// as an API key header or the subject of a verified JWT. A request for which it returns
/// `None` is not limited by this middleware and gets no fields. Keys are used as they are
/// (no trimming or case folding). Without `with_key`, every request counts against one
/// bucket.
///
/// # Storage
///
/// A key's bucket is the value of `rate-limit/<name>/<hex SHA-256 of the key>` in the store
/// ([`with_store`](Self::with_store), [`DEFAULT_STORE`] by default; the component's manifest
/// must grant it), as JSON `{"tokens":41.5,"at_ms":1700000000000}` (tokens at that time, in
/// milliseconds since the Unix epoch). It is updated with a compare-and-swap
/// ([`Store::cas`]) so concurrent requests on any instance never lose a take; a request
/// whose swap conflicts reads the bucket again, up to 8 times. A refused request writes
/// nothing (the refill is computed from the stored time). Spin's store has no expiry: a
/// key seen once keeps its (small) value.
///
/// A limit must not take the service down: when the store fails, or the bucket is still
/// contended after 8 tries, the request passes unlimited (without fields) and a line goes to
/// standard error, the host's log.
///
/// Time is the wall clock (`SystemTime`, `wasi:clocks/wall-clock` in a component); buckets
/// shared by replicas are only as exact as their clocks agree. A bucket written by a clock
/// ahead of this one is not refilled until this clock catches up.
///
/// Layered limits each take their own token: an outer limit's token is spent even when an
/// inner one refuses the request.
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::middleware::RateLimit;
/// use edge_toolkit::middleware::auth::{Claims, JwtAuth, JwtValidator, jwt};
/// use edge_toolkit::Router;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = [b'k'; 32];
/// // Per user: the subject of the JWT that `JwtAuth`, outside the limit, verified.
/// let per_user = RateLimit::new("user", 1, Duration::from_secs(60))
///     .with_key(|req| Claims::of(req).and_then(Claims::subject).map(str::to_owned))
///     .with_store("rate-limit-jwt-example");
/// let router = Router::new()
///     .layer(JwtAuth::new("api", JwtValidator::hs256(secret)?))
///     .layer(per_user)
///     .get("/me", || "you")?;
///
/// let token = jwt::sign_hs256(&serde_json::json!({"sub": "ada", "exp": 4102444800_i64}), secret);
/// let me = || {
///     http::Request::get("/me").header("authorization", format!("Bearer {token}")).body(vec![])
/// };
/// assert_eq!(router.handle(me()?).status(), 200);
/// let res = router.handle(me()?);
/// assert_eq!(res.status(), 429);
/// assert_eq!(res.headers()["ratelimit"], r#""user";r=0;t=60"#);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimit {
    name: String,
    count: u32,
    period: Duration,
    policy: HeaderValue,
    key: Arc<KeyFn>,
    store: String,
    now: Arc<Clock>,
    /// Tests only: runs between reading a bucket and swapping it, to race the swap.
    #[cfg(test)]
    before_swap: Option<Arc<Hook>>,
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("name", &self.name)
            .field("count", &self.count)
            .field("period", &self.period)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RateLimit {
    /// A limit of `count` requests per `period` and key, a burst of `count` at most.
    ///
    /// `name` tells the limit apart: in the store's keys, in the fields and in the `429`'s
    /// detail. Double quotes, backslashes and characters outside visible ASCII and space are
    /// left out of it, so that it is a valid structured-field string.
    ///
    /// # Panics
    ///
    /// When `count` is zero or `period` is zero: such a limit is a programming error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edge_toolkit::middleware::RateLimit;
    ///
    /// let limit = RateLimit::new("say \"hi\"", 10, Duration::from_secs(1));
    /// assert_eq!(limit.name(), "say hi");
    /// assert_eq!(limit.period(), Duration::from_secs(1));
    /// ```
    pub fn new(name: impl Into<String>, count: u32, period: Duration) -> Self {
        assert!(count > 0, "a rate limit allows at least one request");
        assert!(!period.is_zero(), "a rate limit's period is not zero");
        let name: String = name
            .into()
            .chars()
            .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\'))
            .collect();
        let policy = format!("\"{name}\";q={count};w={}", period.as_secs().max(1));
        Self {
            policy: HeaderValue::from_str(&policy)
                .expect("the name is visible ASCII and spaces, the rest digits"),
            name,
            count,
            period,
            key: Arc::new(|_req: &Request| Some(String::new())),
            store: DEFAULT_STORE.to_owned(),
            now: Arc::new(SystemTime::now),
            #[cfg(test)]
            before_swap: None,
        }
    }

    /// Limits per the key `key` returns for a request; `None`: the request is not limited.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edge_toolkit::middleware::RateLimit;
    /// use edge_toolkit::{Handler, Request, Response, Stack};
    ///
    /// let per_tenant = RateLimit::new("tenant", 1, Duration::from_secs(10))
    ///     .with_store("rate-limit-key-example")
    ///     .with_key(|req: &Request| req.uri().path().split('/').nth(1).map(str::to_owned));
    /// let app = Stack::new().layer(per_tenant).handler(|_req: Request| Ok(Response::new(vec![])));
    /// let get = |path: &str| app.call_blocking(http::Request::get(path).body(vec![]).unwrap());
    ///
    /// assert!(get("/acme/orders").is_ok());
    /// assert_eq!(get("/acme/invoices").unwrap_err().status(), 429);
    /// assert!(get("/globex/orders").is_ok());
    /// ```
    pub fn with_key(
        mut self,
        key: impl Fn(&Request) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key = Arc::new(key);
        self
    }

    /// Keeps the buckets in the store labelled `label` (granted in the manifest's
    /// `key_value_stores`) instead of [`DEFAULT_STORE`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use edge_toolkit::middleware::RateLimit;
    ///
    /// let limit = RateLimit::new("api", 100, Duration::from_secs(60)).with_store("limits");
    /// assert_eq!(limit.store(), "limits");
    /// ```
    pub fn with_store(mut self, label: impl Into<String>) -> Self {
        self.store = label.into();
        self
    }

    /// The limit's name, as it appears in the store's keys and the fields.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests per period (and the largest burst).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period in which [`count`](Self::count) tokens come back.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The label of the store that keeps the buckets.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// Tests only: reads the time from `now` instead of the system clock.
    #[cfg(test)]
    fn with_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.now = Arc::new(now);
        self
    }

    /// Tests only: runs `hook` between each read of a bucket and its swap.
    #[cfg(test)]
    fn with_before_swap(mut self, hook: impl Fn(&Store, &str) + Send + Sync + 'static) -> Self {
        self.before_swap = Some(Arc::new(hook));
        self
    }

    /// Tokens gained per second.
    fn rate(&self) -> f64 {
        f64::from(self.count) / self.period.as_secs_f64()
    }

    /// Whole seconds until `missing` tokens are back (multiplied before dividing, so that
    /// whole tokens of whole periods come out exact: no `30.000000000000004` rounded up).
    fn seconds_for(&self, missing: f64) -> f64 {
        (missing * self.period.as_secs_f64() / f64::from(self.count)).ceil()
    }

    /// The store key of the bucket of `key`.
    fn bucket_key(&self, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        format!("rate-limit/{}/{}", self.name, crate::hex::lower(&digest))
    }

    /// Takes a token from the bucket of `key` at `now_ms`.
    fn take(&self, key: &str, now_ms: u64) -> Result<Taken, Unlimited> {
        let store = Store::open(&self.store)?;
        let key = self.bucket_key(key);
        for _ in 0..MAX_ATTEMPTS {
            let cas = store.cas(&key)?;
            let bucket = self.refilled(cas.current(), now_ms);
            if bucket.tokens < 1.0 {
                // Nothing taken, nothing written: the refill is computed again next time.
                return Ok(Taken::Refused(bucket.tokens));
            }
            let left = Bucket {
                tokens: bucket.tokens - 1.0,
                at_ms: bucket.at_ms,
            };
            let value = serde_json::to_vec(&left).map_err(Unlimited::Encode)?;
            #[cfg(test)]
            if let Some(hook) = &self.before_swap {
                hook(&store, &key);
            }
            match cas.swap(&value) {
                Ok(()) => return Ok(Taken::Passed(left.tokens)),
                Err(SwapError::Conflict) => continue,
                Err(err) => return Err(Unlimited::Swap(err)),
            }
        }
        Err(Unlimited::Contended)
    }

    /// The stored bucket (a full one if there is none, or it does not parse) refilled up to
    /// `now_ms`.
    fn refilled(&self, stored: Option<&[u8]>, now_ms: u64) -> Bucket {
        let capacity = f64::from(self.count);
        let full = Bucket {
            tokens: capacity,
            at_ms: now_ms,
        };
        let Some(stored) = stored else {
            return full;
        };
        let Ok(bucket) = serde_json::from_slice::<Bucket>(stored) else {
            eprintln!(
                "rate limit \"{}\": a stored bucket does not parse; starting it full",
                self.name
            );
            return full;
        };
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0;
        Bucket {
            tokens: (bucket.tokens.max(0.0) + elapsed * self.rate()).min(capacity),
            // A clock behind the one that wrote the bucket does not move it back.
            at_ms: now_ms.max(bucket.at_ms),
        }
    }

    /// The `RateLimit` field for a bucket holding `tokens`.
    fn state(&self, tokens: f64) -> HeaderValue {
        let missing = f64::from(self.count) - tokens;
        let reset = self.seconds_for(missing).max(0.0) as u64;
        let remaining = tokens.floor().max(0.0) as u64;
        let state = format!("\"{}\";r={remaining};t={reset}", self.name);
        HeaderValue::from_str(&state)
            .expect("the name is visible ASCII and spaces, the rest digits")
    }

    /// Appends both fields for a bucket holding `tokens`.
    fn add_fields(&self, headers: &mut HeaderMap, tokens: f64) {
        headers.append(RATELIMIT_POLICY, self.policy.clone());
        headers.append(RATELIMIT, self.state(tokens));
    }

    /// The `429` for a bucket holding `tokens` (less than one).
    fn refusal(&self, tokens: f64) -> Problem {
        let wait = self.seconds_for(1.0 - tokens).max(1.0) as u64;
        let mut problem = Problem::new(StatusCode::TOO_MANY_REQUESTS).with_detail(format!(
            "the \"{}\" limit of {} requests per {} is used up; the next request is allowed in {wait} s",
            self.name,
            self.count,
            humantime::format_duration(self.period),
        ));
        let headers = problem.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        self.add_fields(headers, tokens);
        problem
    }
}

impl Middleware for RateLimit {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(key) = (self.key)(&req) else {
                return next.run(req).await;
            };
            let now_ms = (self.now)().duration_since(UNIX_EPOCH).map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
            match self.take(&key, now_ms) {
                Ok(Taken::Refused(tokens)) => Err(self.refusal(tokens)),
                Ok(Taken::Passed(tokens)) => {
                    let mut result = next.run(req).await;
                    self.add_fields(headers_of(&mut result), tokens);
                    result
                }
                Err(why) => {
                    eprintln!(
                        "rate limit \"{}\": {why}; the request passes unlimited",
                        self.name
                    );
                    next.run(req).await
                }
            }
        })
    }
}

/// A bucket as stored: `tokens` at `at_ms` (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// What a bucket said to a request.
enum Taken {
    /// A token was taken; this many are left.
    Passed(f64),
    /// Less than a token was left (this much); nothing was taken.
    Refused(f64),
}

/// Why a request passed without being counted.
#[derive(Debug, thiserror::Error)]
enum Unlimited {
    #[error(transparent)]
    Store(#[from] KvError),
    #[error(transparent)]
    Swap(SwapError),
    #[error("the bucket was still contended after {MAX_ATTEMPTS} tries")]
    Contended,
    #[error("the bucket could not be encoded: {0}")]
    Encode(serde_json::Error),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use super::*;
    use crate::kv::inject_failure;
    use crate::{Handler, Layered, Response, Stack};

    /// A time in milliseconds since the epoch, well after it.
    const T0: u64 = 1_700_000_000_000;

    /// A clock the test moves, in milliseconds since the epoch.
    fn clock(start_ms: u64) -> (Arc<AtomicU64>, impl Fn() -> SystemTime + Send + Sync) {
        let ms = Arc::new(AtomicU64::new(start_ms));
        let read = Arc::clone(&ms);
        (ms, move || {
            UNIX_EPOCH + Duration::from_millis(read.load(Ordering::SeqCst))
        })
    }

    /// A store of the test's own, emptied.
    fn store(label: &str) -> Store {
        let store = Store::open(label).expect("the in-memory store opens");
        store.clear().expect("the in-memory store clears");
        store
    }

    /// The `x-api-key` header as the key.
    fn api_key(req: &Request) -> Option<String> {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// `limit` around a handler answering `ok` that counts its calls.
    fn app(limit: RateLimit) -> (Layered, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let app = Stack::new().layer(limit).handler(move |_req: Request| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Response::new(b"ok".to_vec()))
        });
        (app, calls)
    }

    fn request(key: Option<&str>) -> Request {
        let mut req = http::Request::get("/");
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        req.body(Vec::new()).expect("valid request")
    }

    /// The response, or the problem rendered as one.
    fn answer(app: &Layered, key: Option<&str>) -> Response {
        app.call_blocking(request(key))
            .unwrap_or_else(Problem::into_response)
    }

    /// The values of a field, in order.
    fn fields<'a>(res: &'a Response, name: &HeaderName) -> Vec<&'a str> {
        res.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ASCII field"))
            .collect()
    }

    /// Asserts `res` passed with the handler's body and the fields of `r` and `t`.
    #[track_caller]
    fn assert_passed(res: &Response, policy: &str, state: &str) {
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"ok");
        assert_eq!(fields(res, &RATELIMIT_POLICY), [policy]);
        assert_eq!(fields(res, &RATELIMIT), [state]);
        assert!(!res.headers().contains_key(header::RETRY_AFTER));
    }

    /// Asserts `res` is the 429 of the limit `name` with these fields.
    #[track_caller]
    fn assert_refused(res: &Response, name: &str, retry_after: &str, policy: &str, state: &str) {
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(res.headers()[header::RETRY_AFTER], retry_after);
        assert_eq!(fields(res, &RATELIMIT_POLICY), [policy]);
        assert_eq!(fields(res, &RATELIMIT), [state]);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["status"], 429);
        assert_eq!(body["title"], "Too Many Requests");
        let detail = body["detail"].as_str().expect("a detail");
        assert!(
            detail.contains(&format!("the \"{name}\" limit")),
            "{detail}"
        );
        assert!(
            detail.ends_with(&format!("allowed in {retry_after} s")),
            "{detail}"
        );
    }

    /// Asserts `res` passed without any of the limit's fields.
    #[track_caller]
    fn assert_unlimited(res: &Response) {
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"ok");
        assert!(!res.headers().contains_key(RATELIMIT_POLICY));
        assert!(!res.headers().contains_key(RATELIMIT));
        assert!(!res.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn a_burst_passes_then_the_next_request_is_refused_without_the_handler() {
        let label = "rate-limit-test-burst";
        store(label);
        let (_, now) = clock(T0);
        let limit = RateLimit::new("api-key", 3, Duration::from_secs(60))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        let (app, calls) = app(limit);
        let policy = r#""api-key";q=3;w=60"#;

        for (left, full_in) in [(2, 20), (1, 40), (0, 60)] {
            let res = answer(&app, Some("k"));
            assert_passed(&res, policy, &format!("\"api-key\";r={left};t={full_in}"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let res = answer(&app, Some("k"));
        assert_refused(&res, "api-key", "20", policy, r#""api-key";r=0;t=60"#);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(
            body["detail"],
            "the \"api-key\" limit of 3 requests per 1m is used up; the next request is allowed in 20 s"
        );
        // Refused again, and still not counted against the handler.
        let res = answer(&app, Some("k"));
        assert_refused(&res, "api-key", "20", policy, r#""api-key";r=0;t=60"#);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn keys_have_buckets_of_their_own_used_as_they_are() {
        let label = "rate-limit-test-keys";
        let kv = store(label);
        let (_, now) = clock(T0);
        let limit = RateLimit::new("per key", 1, Duration::from_secs(10))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        let (ada, ada_upper) = (limit.bucket_key("ada"), limit.bucket_key("Ada"));
        let (app, calls) = app(limit);
        let policy = r#""per key";q=1;w=10"#;

        assert_passed(&answer(&app, Some("ada")), policy, r#""per key";r=0;t=10"#);
        let res = answer(&app, Some("ada"));
        assert_refused(&res, "per key", "10", policy, r#""per key";r=0;t=10"#);
        // No case folding or trimming: these are other keys.
        assert_passed(&answer(&app, Some("Ada")), policy, r#""per key";r=0;t=10"#);
        assert_passed(&answer(&app, Some(" ada")), policy, r#""per key";r=0;t=10"#);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // The keys are hashed under the limit's name; the value is the bucket.
        let digest = crate::hex::lower(&Sha256::digest(b"ada"));
        assert_eq!(ada, format!("rate-limit/per key/{digest}"));
        assert_ne!(ada, ada_upper);
        assert_eq!(
            kv.keys_with_prefix("rate-limit/per key/").map(|k| k.len()),
            Ok(3)
        );
        let stored = kv.get(&ada).expect("readable").expect("a bucket");
        let bucket: serde_json::Value = serde_json::from_slice(&stored).expect("json");
        assert_eq!(bucket, serde_json::json!({"tokens": 0.0, "at_ms": T0}));
    }

    #[test]
    fn a_request_without_a_key_passes_untouched() {
        let label = "rate-limit-test-no-key";
        let kv = store(label);
        let limit = RateLimit::new("api-key", 1, Duration::from_secs(60))
            .with_key(api_key)
            .with_store(label);
        let (app, calls) = app(limit);
        for _ in 0..3 {
            assert_unlimited(&answer(&app, None));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(kv.get_keys(), Ok(Vec::new()));
    }

    #[test]
    fn without_a_key_function_every_request_shares_one_bucket() {
        let label = "rate-limit-test-global";
        store(label);
        let (_, now) = clock(T0);
        let limit = RateLimit::new("all", 1, Duration::from_secs(1))
            .with_store(label)
            .with_clock(now);
        let (app, calls) = app(limit);
        assert_passed(&answer(&app, None), r#""all";q=1;w=1"#, r#""all";r=0;t=1"#);
        let res = answer(&app, Some("anyone"));
        assert_refused(&res, "all", "1", r#""all";q=1;w=1"#, r#""all";r=0;t=1"#);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_count() {
        let label = "rate-limit-test-refill";
        store(label);
        let (ms, now) = clock(T0);
        let limit = RateLimit::new("refill", 2, Duration::from_secs(60))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        let (app, calls) = app(limit);
        let policy = r#""refill";q=2;w=60"#;
        let at = |secs: u64| ms.store(T0 + secs * 1000, Ordering::SeqCst);

        assert_passed(&answer(&app, Some("k")), policy, r#""refill";r=1;t=30"#);
        assert_passed(&answer(&app, Some("k")), policy, r#""refill";r=0;t=60"#);
        let res = answer(&app, Some("k"));
        assert_refused(&res, "refill", "30", policy, r#""refill";r=0;t=60"#);

        // Half a token back: still refused, for the other half.
        at(15);
        let res = answer(&app, Some("k"));
        assert_refused(&res, "refill", "15", policy, r#""refill";r=0;t=45"#);
        // A whole token back.
        at(30);
        assert_passed(&answer(&app, Some("k")), policy, r#""refill";r=0;t=60"#);
        // Long after: full, but no more than full.
        at(600);
        assert_passed(&answer(&app, Some("k")), policy, r#""refill";r=1;t=30"#);
        assert_passed(&answer(&app, Some("k")), policy, r#""refill";r=0;t=60"#);
        assert_refused(
            &answer(&app, Some("k")),
            "refill",
            "30",
            policy,
            r#""refill";r=0;t=60"#,
        );
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_clock_behind_the_bucket_refills_nothing() {
        let label = "rate-limit-test-skew";
        store(label);
        let (ms, now) = clock(T0);
        let limit = RateLimit::new("skew", 2, Duration::from_secs(60))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        let (app, _calls) = app(limit);
        let policy = r#""skew";q=2;w=60"#;
        assert_passed(&answer(&app, Some("k")), policy, r#""skew";r=1;t=30"#);
        // Another replica's clock, 10 s behind the one that wrote the bucket.
        ms.store(T0 - 10_000, Ordering::SeqCst);
        assert_passed(&answer(&app, Some("k")), policy, r#""skew";r=0;t=60"#);
        // The bucket kept the later time: a token is 30 s after it, 40 s from this clock.
        let res = answer(&app, Some("k"));
        assert_refused(&res, "skew", "30", policy, r#""skew";r=0;t=60"#);
        ms.store(T0 + 30_000, Ordering::SeqCst);
        assert_passed(&answer(&app, Some("k")), policy, r#""skew";r=0;t=60"#);
    }

    #[test]
    fn a_failing_store_lets_requests_pass() {
        let label = "rate-limit-test-failing";
        store(label);
        let (_, now) = clock(T0);
        let limit = RateLimit::new("failing", 1, Duration::from_secs(60))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        let (app, calls) = app(limit);
        let policy = r#""failing";q=1;w=60"#;
        assert_passed(&answer(&app, Some("k")), policy, r#""failing";r=0;t=60"#);

        inject_failure(label, Some(KvError::Other("connection reset".into())));
        for _ in 0..3 {
            assert_unlimited(&answer(&app, Some("k")));
        }
        inject_failure(label, None);
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        // Working again: the bucket is as the failure found it.
        let res = answer(&app, Some("k"));
        assert_refused(&res, "failing", "60", policy, r#""failing";r=0;t=60"#);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_bucket_that_does_not_parse_starts_afresh() {
        let label = "rate-limit-test-corrupt";
        let kv = store(label);
        let (_, now) = clock(T0);
        let limit = RateLimit::new("corrupt", 5, Duration::from_secs(5))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now);
        kv.set(&limit.bucket_key("k"), b"not a bucket")
            .expect("writable");
        let (app, _calls) = app(limit);
        let res = answer(&app, Some("k"));
        assert_passed(&res, r#""corrupt";q=5;w=5"#, r#""corrupt";r=4;t=1"#);
    }

    #[test]
    fn a_swap_that_loses_a_race_reads_the_bucket_again() {
        let label = "rate-limit-test-race";
        store(label);
        let (_, now) = clock(T0);
        let tries = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&tries);
        // The first two swaps find another request's write: a bucket left at 5 tokens.
        let limit = RateLimit::new("race", 10, Duration::from_secs(10))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now)
            .with_before_swap(move |store, key| {
                if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    let theirs = serde_json::json!({"tokens": 5.0, "at_ms": T0});
                    store
                        .set(key, theirs.to_string().as_bytes())
                        .expect("writable");
                }
            });
        let (app, calls) = app(limit);
        let res = answer(&app, Some("k"));
        // The third try took a token from the other request's bucket: 4 left, not 9.
        assert_passed(&res, r#""race";q=10;w=10"#, r#""race";r=4;t=6"#);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_bucket_contended_on_every_try_lets_the_request_pass() {
        let label = "rate-limit-test-contended";
        let kv = store(label);
        let (_, now) = clock(T0);
        let tries = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&tries);
        let limit = RateLimit::new("contended", 10, Duration::from_secs(10))
            .with_key(api_key)
            .with_store(label)
            .with_clock(now)
            .with_before_swap(move |store, key| {
                seen.fetch_add(1, Ordering::SeqCst);
                store
                    .set(key, br#"{"tokens":7.0,"at_ms":0}"#)
                    .expect("writable");
            });
        let key = limit.bucket_key("k");
        let (app, calls) = app(limit);
        assert_unlimited(&answer(&app, Some("k")));
        assert_eq!(tries.load(Ordering::SeqCst), MAX_ATTEMPTS);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The other writes were kept.
        assert_eq!(
            kv.get(&key),
            Ok(Some(br#"{"tokens":7.0,"at_ms":0}"#.to_vec()))
        );
    }

    #[test]
    fn problems_from_inside_carry_the_fields_and_nested_limits_add_theirs() {
        let label = "rate-limit-test-nested";
        store(label);
        let (_, now) = clock(T0);
        let clock = Arc::new(now);
        let (outer_clock, inner_clock) = (Arc::clone(&clock), Arc::clone(&clock));
        let app = Stack::new()
            .layer(
                RateLimit::new("tenant", 100, Duration::from_secs(60))
                    .with_store(label)
                    .with_clock(move || outer_clock()),
            )
            .layer(
                RateLimit::new("user", 1, Duration::from_secs(60))
                    .with_key(api_key)
                    .with_store(label)
                    .with_clock(move || inner_clock()),
            )
            .handler(|_req: Request| -> Result<Response, Problem> {
                Err(Problem::new(StatusCode::NOT_FOUND).with_detail("no such thing"))
            });

        let res = answer(&app, Some("k"));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["detail"], "no such thing");
        assert_eq!(
            fields(&res, &RATELIMIT_POLICY),
            [r#""user";q=1;w=60"#, r#""tenant";q=100;w=60"#]
        );
        assert_eq!(
            fields(&res, &RATELIMIT),
            [r#""user";r=0;t=60"#, r#""tenant";r=99;t=1"#]
        );

        // The inner limit refuses; the outer one took its token and says so too.
        let res = answer(&app, Some("k"));
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "60");
        assert_eq!(
            fields(&res, &RATELIMIT),
            [r#""user";r=0;t=60"#, r#""tenant";r=98;t=2"#]
        );
    }

    #[test]
    fn names_are_cleaned_and_short_periods_are_one_second() {
        let limit = RateLimit::new("a \"quoted\" \\ name\n✓", 5, Duration::from_millis(500));
        assert_eq!(limit.name(), "a quoted  name");
        assert_eq!(limit.policy, r#""a quoted  name";q=5;w=1"#);
        assert_eq!(limit.count(), 5);
        assert_eq!(limit.period(), Duration::from_millis(500));
        assert_eq!(limit.store(), DEFAULT_STORE);
        assert_eq!(
            format!("{limit:?}"),
            r#"RateLimit { name: "a quoted  name", count: 5, period: 500ms, store: "default", .. }"#
        );
    }

    #[test]
    #[should_panic(expected = "at least one request")]
    fn a_count_of_zero_is_a_programming_error() {
        let _ = RateLimit::new("none", 0, Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "period is not zero")]
    fn a_zero_period_is_a_programming_error() {
        let _ = RateLimit::new("none", 1, Duration::ZERO);
    }
}
