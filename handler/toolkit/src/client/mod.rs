//! Resilient outbound HTTP: a per-attempt timeout, and retries with exponential backoff and
//! full jitter for idempotent requests.
//!
//! A [`Client`] sends an [`http::Request<Vec<u8>>`] with an absolute URI through a
//! [`Transport`] and returns the whole response. It retries when
//!
//! - the method is idempotent ([`is_idempotent`]: `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`,
//!   `DELETE`; never `POST` or `PATCH`, which are tried exactly once), and
//! - the attempt timed out, could not connect or broke off ([`ClientError::is_retryable`]),
//!   or the upstream answered `502`, `503` or `504` ([`is_retryable_status`]),
//!
//! at most [`RetryPolicy::max_retries`] times, waiting [`RetryPolicy::delay`] between
//! attempts, or the response's `Retry-After` (seconds or a date) when it asks for no more than
//! [`RetryPolicy::max_delay`] (when it asks for more, that response is returned as it is).
//! The last response (even a `503`) or error is the result; [`Sent`] also says how many
//! attempts were made.
//!
//! | Build | [`DefaultTransport`] |
//! | --- | --- |
//! | `wasm32` (the component) | `WasiTransport`: `wasi:http/outgoing-handler`, with the request-options timeouts set and the whole attempt bounded by a `wasi:clocks/monotonic-clock` timer polled with the response (`wasi:io/poll`), so a silent upstream is a [`ClientError::Timeout`], never a hang |
//! | native | [`NoNetwork`]: every request is [`ClientError::Denied`] |
//!
//! The policy is plain data and the loop takes its [`Transport`] and [`Sleeper`] as
//! parameters, so retries are unit-tested natively with fakes:
//!
//! ```
//! use std::sync::Mutex;
//! use std::time::Duration;
//! use edge_toolkit::client::{
//!     Client, RetryPolicy, SleepFuture, Sleeper, Transport, TransportFuture,
//! };
//!
//! /// Fails twice with 503, then answers 200.
//! #[derive(Default)]
//! struct Flaky { calls: Mutex<u32> }
//!
//! impl Transport for Flaky {
//!     fn send<'a>(
//!         &'a self,
//!         _request: &'a http::Request<Vec<u8>>,
//!         _timeout: Duration,
//!     ) -> TransportFuture<'a> {
//!         let mut calls = self.calls.lock().unwrap();
//!         *calls += 1;
//!         let status = if *calls < 3 { 503 } else { 200 };
//!         let res = http::Response::builder().status(status).body(Vec::new()).unwrap();
//!         Box::pin(async move { Ok(res) })
//!     }
//! }
//!
//! /// Records the delays instead of sleeping.
//! #[derive(Default)]
//! struct Recorder { delays: Mutex<Vec<Duration>> }
//!
//! impl Sleeper for Recorder {
//!     fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
//!         self.delays.lock().unwrap().push(duration);
//!         Box::pin(async {})
//!     }
//! }
//!
//! let client = Client::with_transport(Flaky::default(), Recorder::default())
//!     .with_policy(RetryPolicy::new(2, Duration::from_millis(50), Duration::from_secs(1)))
//!     .with_timeout(Duration::from_secs(2))
//!     .with_random(|| 1.0); // always the ceiling, to make the delays predictable
//!
//! let req = http::Request::get("http://upstream.example/items").body(Vec::new()).unwrap();
//! let sent = futures::executor::block_on(client.execute(&req));
//! assert_eq!(sent.attempts, 3);
//! assert_eq!(sent.result.unwrap().status(), 200);
//! assert_eq!(
//!     *client.sleeper().delays.lock().unwrap(),
//!     [Duration::from_millis(50), Duration::from_millis(100)]
//! );
//! ```
//!
//! In a handler, a [`ClientError`] becomes a `502` or `504` [`Problem`](crate::Problem).

mod error;
#[cfg(target_arch = "wasm32")]
mod outgoing;
#[cfg(all(target_arch = "wasm32", feature = "wasi-p3"))]
mod outgoing_p3;
mod policy;
mod transport;

use std::time::Duration;

pub use error::ClientError;
#[cfg(target_arch = "wasm32")]
pub use outgoing::WasiTransport;
#[cfg(all(target_arch = "wasm32", feature = "wasi-p3"))]
pub use outgoing_p3::{WasiP3Transport, WasiSleeper};
pub use policy::{RetryPolicy, is_idempotent, is_retryable_status, retry_after, retry_after_at};
pub use transport::{
    DefaultSleeper, DefaultTransport, NoNetwork, SleepFuture, Sleeper, ThreadSleeper, Transport,
    TransportFuture,
};

/// The per-attempt timeout of a new [`Client`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client that retries idempotent requests (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Client<T = DefaultTransport, S = DefaultSleeper> {
    transport: T,
    sleeper: S,
    policy: RetryPolicy,
    timeout: Duration,
    random: fn() -> f64,
}

/// The outcome of [`Client::execute`]: the last response or error, and how many attempts
/// were made.
#[derive(Debug)]
#[must_use]
pub struct Sent {
    /// The last attempt's response (whatever its status) or error.
    pub result: Result<http::Response<Vec<u8>>, ClientError>,
    /// How many attempts were made, from 1.
    pub attempts: u32,
}

impl Client {
    /// A client over the [`DefaultTransport`], sleeping with the [`DefaultSleeper`], with
    /// the default [`RetryPolicy`] and a [`DEFAULT_TIMEOUT`] per attempt.
    pub fn new() -> Self {
        Self::with_transport(DefaultTransport::default(), DefaultSleeper::default())
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, S> Client<T, S> {
    /// A client over `transport`, waiting between attempts with `sleeper`, with the default
    /// [`RetryPolicy`] and a [`DEFAULT_TIMEOUT`] per attempt.
    pub fn with_transport(transport: T, sleeper: S) -> Self {
        Self {
            transport,
            sleeper,
            policy: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            random: random_unit,
        }
    }

    /// Retries by `policy`.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Gives each attempt at most `timeout`, from sending the request to the end of the
    /// response body.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Draws the jitter from `random` (uniform in `[0, 1)`) instead of the system's random
    /// source; for tests.
    pub fn with_random(mut self, random: fn() -> f64) -> Self {
        self.random = random;
        self
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The transport, for tests to inspect.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The sleeper, for tests to inspect.
    pub fn sleeper(&self) -> &S {
        &self.sleeper
    }
}

impl<T: Transport, S: Sleeper> Client<T, S> {
    /// Sends `request`, retrying as the [module docs](self) describe, and returns the last
    /// response or error with the number of attempts.
    pub async fn execute(&self, request: &http::Request<Vec<u8>>) -> Sent {
        let retries = if is_idempotent(request.method()) {
            self.policy.max_retries
        } else {
            0
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self.transport.send(request, self.timeout).await;
            let asked = match &result {
                Ok(res) if is_retryable_status(res.status()) => retry_after(res.headers()),
                Err(err) if err.is_retryable() => None,
                _ => return Sent { result, attempts },
            };
            let retry = attempts - 1;
            if retry >= retries {
                return Sent { result, attempts };
            }
            let delay = match asked {
                Some(delay) if delay <= self.policy.max_delay => delay,
                // The upstream asks for more patience than the policy has: give up now.
                Some(_) => return Sent { result, attempts },
                None => self.policy.delay(retry, (self.random)()),
            };
            self.sleeper.sleep(delay).await;
        }
    }

    /// [`execute`](Client::execute), without the attempt count.
    pub async fn send(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ClientError> {
        self.execute(request).await.result
    }
}

/// A uniform draw from `[0, 1)`; the middle of the range should the random source fail.
fn random_unit() -> f64 {
    match getrandom::u64() {
        // The top 53 bits: exactly representable, so the result is below 1.
        Ok(bits) => (bits >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use http::{Method, StatusCode};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    type Reply = Result<(u16, Option<&'static str>), ClientError>;

    /// Answers from a script (the last reply repeats) and records every call.
    struct Scripted {
        replies: Mutex<VecDeque<Reply>>,
        calls: Mutex<Vec<(Method, String, Duration)>>,
    }

    impl Scripted {
        fn new(replies: impl IntoIterator<Item = Reply>) -> Self {
            Self {
                replies: Mutex::new(replies.into_iter().collect()),
                calls: Mutex::new(Vec::new()),
            }
        }

        fn calls(&self) -> usize {
            self.calls.lock().expect("lock").len()
        }
    }

    impl Transport for Scripted {
        fn send<'a>(
            &'a self,
            request: &'a http::Request<Vec<u8>>,
            timeout: Duration,
        ) -> TransportFuture<'a> {
            let result = (|| -> Result<http::Response<Vec<u8>>, ClientError> {
                self.calls.lock().expect("lock").push((
                    request.method().clone(),
                    request.uri().to_string(),
                    timeout,
                ));
                let mut replies = self.replies.lock().expect("lock");
                let reply = if replies.len() > 1 {
                    replies.pop_front()
                } else {
                    replies.front().cloned()
                };
                let (status, retry_after) = reply.expect("a scripted reply")?;
                let mut res = http::Response::builder().status(status);
                if let Some(value) = retry_after {
                    res = res.header("retry-after", value);
                }
                Ok(res.body(b"body".to_vec()).expect("valid response"))
            })();
            Box::pin(std::future::ready(result))
        }
    }

    #[derive(Default)]
    struct Recorder {
        delays: Mutex<Vec<Duration>>,
    }

    impl Sleeper for Recorder {
        fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
            self.delays.lock().expect("lock").push(duration);

            Box::pin(std::future::ready(()))
        }
    }

    fn scripted(replies: impl IntoIterator<Item = Reply>) -> Client<Scripted, Recorder> {
        Client::with_transport(Scripted::new(replies), Recorder::default())
            .with_policy(RetryPolicy::new(3, 50 * MS, 1000 * MS))
            .with_timeout(2000 * MS)
            .with_random(|| 1.0)
    }

    fn request(method: Method) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method(method)
            .uri("http://upstream.test/x")
            .body(b"payload".to_vec())
            .expect("valid request")
    }

    fn delays(client: &Client<Scripted, Recorder>) -> Vec<Duration> {
        client.sleeper().delays.lock().expect("lock").clone()
    }

    #[test]
    fn get_is_retried_up_to_the_limit_with_growing_delays() {
        let client = scripted([Err(ClientError::Connect("refused".into()))]);
        let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 4);
        assert_eq!(client.transport().calls(), 4);
        assert_eq!(
            sent.result.err(),
            Some(ClientError::Connect("refused".into()))
        );
        assert_eq!(delays(&client), [50 * MS, 100 * MS, 200 * MS]);
        // Every attempt had the timeout.
        for (method, uri, timeout) in client.transport().calls.lock().expect("lock").iter() {
            assert_eq!(method, Method::GET);
            assert_eq!(uri, "http://upstream.test/x");
            assert_eq!(*timeout, 2000 * MS);
        }
    }

    #[test]
    fn post_and_patch_are_tried_exactly_once() {
        for method in [Method::POST, Method::PATCH] {
            let client = scripted([Err(ClientError::Timeout(2000 * MS))]);
            let sent = futures::executor::block_on(client.execute(&request(method.clone())));
            assert_eq!(sent.attempts, 1, "{method}");
            assert_eq!(client.transport().calls(), 1);
            assert_eq!(sent.result.err(), Some(ClientError::Timeout(2000 * MS)));
            assert!(delays(&client).is_empty());

            let client = scripted([Ok((503, None)), Ok((200, None))]);
            let sent = futures::executor::block_on(client.execute(&request(method.clone())));
            assert_eq!(sent.attempts, 1, "{method}");
            let res = sent.result.expect("the 503 is returned");
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
    }

    #[test]
    fn every_idempotent_method_is_retried() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            let client = scripted([Ok((504, None)), Ok((200, None))]);
            let sent = futures::executor::block_on(client.execute(&request(method.clone())));
            assert_eq!(sent.attempts, 2, "{method}");
            assert_eq!(sent.result.expect("200").status(), StatusCode::OK);
        }
    }

    #[test]
    fn success_and_final_answers_stop_retrying() {
        // (first reply, attempts)
        let cases: [(Reply, u32); 6] = [
            (Ok((200, None)), 1),
            (Ok((404, None)), 1),
            (Ok((500, None)), 1),
            (Ok((429, None)), 1),
            (Err(ClientError::Denied("not allowed".into())), 1),
            (Err(ClientError::CircuitOpen("circuit open".into())), 1),
        ];
        for (reply, attempts) in cases {
            let client = scripted([reply.clone(), Ok((200, None))]);
            let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
            assert_eq!(sent.attempts, attempts, "{reply:?}");
            assert!(delays(&client).is_empty());
        }

        let client = scripted([
            Err(ClientError::Timeout(2000 * MS)),
            Ok((502, None)),
            Ok((201, None)),
            Ok((500, None)),
        ]);
        let sent = futures::executor::block_on(client.execute(&request(Method::PUT)));
        assert_eq!(sent.attempts, 3);
        assert_eq!(sent.result.expect("201").status(), StatusCode::CREATED);
        assert_eq!(delays(&client), [50 * MS, 100 * MS]);
    }

    #[test]
    fn the_last_retryable_response_is_returned() {
        let client = scripted([Ok((503, None))]);
        let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 4);
        let res = sent.result.expect("the last 503");
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.body().as_slice(), b"body");
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_max_delay() {
        let client = scripted([Ok((503, Some("1"))), Ok((503, Some("0"))), Ok((200, None))]);
        let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 3);
        assert_eq!(delays(&client), [1000 * MS, Duration::ZERO]);

        // Longer than max_delay: the 503 is the answer.
        let client = scripted([Ok((503, Some("5"))), Ok((200, None))]);
        let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 1);
        assert_eq!(
            sent.result.expect("503").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(delays(&client).is_empty());

        // Not delay-seconds: the policy decides.
        let client = scripted([Ok((503, Some("soon"))), Ok((200, None))]);
        let _ = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(delays(&client), [50 * MS]);
    }

    #[test]
    fn jitter_keeps_delays_within_the_ceiling() {
        let client = scripted([Err(ClientError::Transport("reset".into()))])
            .with_random(random_unit)
            .with_policy(RetryPolicy::new(6, 10 * MS, 100 * MS));
        let sent = futures::executor::block_on(client.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 7);
        let delays = delays(&client);
        assert_eq!(delays.len(), 6);
        for (retry, delay) in delays.iter().enumerate() {
            let ceiling = client
                .policy()
                .ceiling(u32::try_from(retry).expect("small"));
            assert!(*delay <= ceiling, "{retry}: {delay:?} > {ceiling:?}");
        }
        for _ in 0..1000 {
            let draw = random_unit();
            assert!((0.0..1.0).contains(&draw));
        }
    }

    #[test]
    fn no_retries_policy_and_defaults() {
        let client = scripted([Err(ClientError::Connect("refused".into()))])
            .with_policy(RetryPolicy::never());
        assert_eq!(
            futures::executor::block_on(client.execute(&request(Method::GET))).attempts,
            1
        );

        let default = Client::new();
        assert_eq!(default.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(default.policy(), RetryPolicy::default());
        let sent = futures::executor::block_on(default.execute(&request(Method::GET)));
        assert_eq!(sent.attempts, 1);
        assert!(matches!(sent.result, Err(ClientError::Denied(_))));
        assert!(
            futures::executor::block_on(Client::default().send(&request(Method::GET))).is_err()
        );
    }
}
