//! The seams of the [`Client`](super::Client): a [`Transport`] that makes one attempt, and a
//! [`Sleeper`] that waits between attempts. Tests replace both.

use std::sync::Arc;
use std::time::Duration;

use super::ClientError;

/// Sends one request and waits at most `timeout` for the whole response, body included.
/// One call is one attempt: retrying is the [`Client`](super::Client)'s business.
///
/// A fake for tests records what it was sent and answers from a script:
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use edge_toolkit::client::{ClientError, Transport};
///
/// #[derive(Default)]
/// struct Fake { calls: Mutex<Vec<String>> }
///
/// impl Transport for Fake {
///     fn send(
///         &self,
///         request: &http::Request<Vec<u8>>,
///         _timeout: Duration,
///     ) -> Result<http::Response<Vec<u8>>, ClientError> {
///         self.calls.lock().unwrap().push(request.uri().to_string());
///         Ok(http::Response::new(b"pong".to_vec()))
///     }
/// }
///
/// let fake = Fake::default();
/// let req = http::Request::get("http://upstream/ping").body(Vec::new()).unwrap();
/// let res = fake.send(&req, Duration::from_secs(1)).unwrap();
/// assert_eq!(res.body().as_slice(), b"pong");
/// assert_eq!(*fake.calls.lock().unwrap(), ["http://upstream/ping"]);
/// ```
pub trait Transport {
    /// One attempt at `request` (whose URI is absolute), within `timeout`.
    fn send(
        &self,
        request: &http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, ClientError>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send(
        &self,
        request: &http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, ClientError> {
        (**self).send(request, timeout)
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(
        &self,
        request: &http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, ClientError> {
        (**self).send(request, timeout)
    }
}

/// Waits between attempts. The clock of the retry loop: tests record the delays instead of
/// waiting them out.
pub trait Sleeper {
    /// Blocks for `duration`.
    fn sleep(&self, duration: Duration);
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration);
    }
}

impl<S: Sleeper + ?Sized> Sleeper for Arc<S> {
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration);
    }
}

/// Sleeps with [`std::thread::sleep`], which on `wasm32-wasip2` blocks on a
/// `wasi:clocks/monotonic-clock` timer.
///
/// ```
/// use std::time::{Duration, Instant};
/// use edge_toolkit::client::{Sleeper, ThreadSleeper};
///
/// let start = Instant::now();
/// ThreadSleeper.sleep(Duration::from_millis(5));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The transport of native builds, which have no wasi-http host to send through: every
/// request fails at once with [`ClientError::Denied`], which is not retried. Tests of code
/// that sends requests give the [`Client`](super::Client) a fake [`Transport`] instead.
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::client::{ClientError, NoNetwork, Transport};
///
/// let req = http::Request::get("http://example.com/").body(Vec::new()).unwrap();
/// let err = NoNetwork.send(&req, Duration::from_secs(1)).unwrap_err();
/// assert!(matches!(err, ClientError::Denied(_)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNetwork;

impl Transport for NoNetwork {
    fn send(
        &self,
        request: &http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, ClientError> {
        Err(ClientError::Denied(format!(
            "{} {}: outbound HTTP needs a wasi-http host, and this native build has none",
            request.method(),
            request.uri()
        )))
    }
}

/// The transport [`Client::new`](super::Client::new) uses: `wasi:http/outgoing-handler` in
/// the component, [`NoNetwork`] natively.
#[cfg(target_arch = "wasm32")]
pub type DefaultTransport = super::outgoing::WasiTransport;
/// The transport [`Client::new`](super::Client::new) uses: `wasi:http/outgoing-handler` in
/// the component, [`NoNetwork`] natively.
#[cfg(not(target_arch = "wasm32"))]
pub type DefaultTransport = NoNetwork;
