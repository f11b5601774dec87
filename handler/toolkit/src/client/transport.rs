//! The seams of the [`Client`](super::Client): a [`Transport`] that makes one attempt, and a
//! [`Sleeper`] that waits between attempts. Tests replace both.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::ClientError;

/// What a [`Transport`] answers: a future of the whole response, or the error. Not `Send`:
/// a component runs on one thread.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Vec<u8>>, ClientError>> + 'a>>;

/// What a [`Sleeper`] answers: a future that is ready once the time is up.
pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Sends one request and waits at most `timeout` for the whole response, body included.
/// One call is one attempt: retrying is the [`Client`](super::Client)'s business.
///
/// A fake for tests records what it was sent and answers from a script:
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use edge_toolkit::client::{Transport, TransportFuture};
///
/// #[derive(Default)]
/// struct Fake { calls: Mutex<Vec<String>> }
///
/// impl Transport for Fake {
///     fn send<'a>(
///         &'a self,
///         request: &'a http::Request<Vec<u8>>,
///         _timeout: Duration,
///     ) -> TransportFuture<'a> {
///         self.calls.lock().unwrap().push(request.uri().to_string());
///         Box::pin(async { Ok(http::Response::new(b"pong".to_vec())) })
///     }
/// }
///
/// let fake = Fake::default();
/// let req = http::Request::get("http://upstream/ping").body(Vec::new()).unwrap();
/// let res = futures::executor::block_on(fake.send(&req, Duration::from_secs(1))).unwrap();
/// assert_eq!(res.body().as_slice(), b"pong");
/// assert_eq!(*fake.calls.lock().unwrap(), ["http://upstream/ping"]);
/// ```
pub trait Transport {
    /// One attempt at `request` (whose URI is absolute), within `timeout`.
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> TransportFuture<'a>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        (**self).send(request, timeout)
    }
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        (**self).send(request, timeout)
    }
}

/// Waits between attempts. The clock of the retry loop: tests record the delays instead of
/// waiting them out.
pub trait Sleeper {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture<'_>;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        (**self).sleep(duration)
    }
}

impl<S: Sleeper + ?Sized> Sleeper for Arc<S> {
    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        (**self).sleep(duration)
    }
}

/// Sleeps with [`std::thread::sleep`], which on `wasm32-wasip2` blocks on a
/// `wasi:clocks/monotonic-clock` timer: the whole instance waits, which is all a WASI 0.2
/// instance (one request) does anyway. WASI 0.3 builds sleep with `WasiSleeper`, which
/// lets the instance's other requests go on.
///
/// ```
/// use std::time::{Duration, Instant};
/// use edge_toolkit::client::{Sleeper, ThreadSleeper};
///
/// let start = Instant::now();
/// futures::executor::block_on(ThreadSleeper.sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        Box::pin(async move { std::thread::sleep(duration) })
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
/// let err = futures::executor::block_on(NoNetwork.send(&req, Duration::from_secs(1))).unwrap_err();
/// assert!(matches!(err, ClientError::Denied(_)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNetwork;

impl Transport for NoNetwork {
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        _timeout: Duration,
    ) -> TransportFuture<'a> {
        Box::pin(std::future::ready(Err(ClientError::Denied(format!(
            "{} {}: outbound HTTP needs a wasi-http host, and this native build has none",
            request.method(),
            request.uri()
        )))))
    }
}

/// The transport [`Client::new`](super::Client::new) uses: `wasi:http/outgoing-handler` in
/// the component, [`NoNetwork`] natively.
#[cfg(all(target_arch = "wasm32", not(feature = "wasi-p3")))]
pub type DefaultTransport = super::outgoing::WasiTransport;
/// The transport [`Client::new`](super::Client::new) uses: `wasi:http/client@0.3` in a
/// WASI 0.3 component, awaited, so the instance's other requests go on meanwhile.
#[cfg(all(target_arch = "wasm32", feature = "wasi-p3"))]
pub type DefaultTransport = super::outgoing_p3::WasiP3Transport;
/// The transport [`Client::new`](super::Client::new) uses: `wasi:http/outgoing-handler` in
/// the component, [`NoNetwork`] natively.
#[cfg(not(target_arch = "wasm32"))]
pub type DefaultTransport = NoNetwork;

/// The sleeper [`Client::new`](super::Client::new) uses between attempts: [`ThreadSleeper`],
/// or in a WASI 0.3 component `WasiSleeper`, a `wasi:clocks` wait that other requests on
/// the instance go on through.
#[cfg(not(all(target_arch = "wasm32", feature = "wasi-p3")))]
pub type DefaultSleeper = ThreadSleeper;
/// The sleeper [`Client::new`](super::Client::new) uses between attempts: [`ThreadSleeper`],
/// or in a WASI 0.3 component `WasiSleeper`, a `wasi:clocks` wait that other requests on
/// the instance go on through.
#[cfg(all(target_arch = "wasm32", feature = "wasi-p3"))]
pub type DefaultSleeper = super::outgoing_p3::WasiSleeper;
