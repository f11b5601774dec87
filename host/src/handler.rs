//! The seam between the [server](crate::Server) and what it serves: a [`Handler`] takes an
//! [`http::Request`] with what the server knows of it ([`RequestContext`]) and returns a
//! future of the response.
//!
//! The server implements HTTP (listeners, protocols, limits, logs) and knows nothing of
//! what answers; an [`App`](crate::App) routes to the components of a Spin application (or
//! serves one component for every path). Any other type can be served too:
//!
//! ```
//! use host::{Handler, HandlerFuture, RequestBody, RequestContext, ResponseBody};
//! use http_body_util::{BodyExt, Full};
//!
//! /// Answers every request with its own path.
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn call(&self, req: http::Request<RequestBody>, _ctx: RequestContext) -> HandlerFuture<'_> {
//!         Box::pin(async move {
//!             let body: ResponseBody = Full::new(req.uri().path().to_owned().into())
//!                 .map_err(|never| match never {})
//!                 .boxed_unsync();
//!             Ok(http::Response::new(body))
//!         })
//!     }
//! }
//!
//! # async fn run() -> Result<(), host::ServeError> {
//! let server = host::Server::bind(host::ServerConfig::default(), Echo).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

use crate::RequestError;

/// Any error a body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a request as a handler receives it.
pub type RequestBody = UnsyncBoxBody<Bytes, RequestBodyError>;

/// The body of a response, from the guest or from the host on its behalf.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// What a [`Handler`] returns: the response head (its body may go on streaming), or the
/// error the server answers with problem+json.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, RequestError>> + Send + 'a>>;

/// What [`Handler::drain`] returns: how many operations of its own had not finished.
pub type DrainFuture<'a> = Pin<Box<dyn Future<Output = usize> + Send + 'a>>;

/// Answers requests. The server calls it once per request, concurrently.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, req: http::Request<RequestBody>, ctx: RequestContext) -> HandlerFuture<'_>;

    /// Called once as the server stops, after its requests have finished or been cut off
    /// and before its worker threads stop: waits up to `within` for work the handler
    /// started on their behalf that outlives them (an [`App`](crate::App): key-value and
    /// SQLite operations already running), and answers how many had not finished. Nothing,
    /// by default.
    fn drain(&self, within: std::time::Duration) -> DrainFuture<'_> {
        let _ = within;
        Box::pin(std::future::ready(0))
    }

    /// The route that serves `path`, as the server's metrics label requests (an
    /// [`App`](crate::App): the spin.toml route, such as `/api/...`); `None`, by default,
    /// labels them `other`.
    fn route(&self, path: &str) -> Option<String> {
        let _ = path;
        None
    }

    /// Adds the handler's own metrics to the admin listener's registry, once, at bind (an
    /// [`App`](crate::App): instances, key-value operations, circuit breakers). Nothing, by
    /// default.
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let _ = registry;
    }

    /// Brings the registered metrics that are read rather than counted (instances alive,
    /// breaker states) up to date, before each scrape.
    fn refresh_metrics(&self) {}
}

impl<H: Handler + ?Sized> Handler for Arc<H> {
    fn call(&self, req: http::Request<RequestBody>, ctx: RequestContext) -> HandlerFuture<'_> {
        (**self).call(req, ctx)
    }

    fn drain(&self, within: std::time::Duration) -> DrainFuture<'_> {
        (**self).drain(within)
    }

    fn route(&self, path: &str) -> Option<String> {
        (**self).route(path)
    }

    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        (**self).register_metrics(registry);
    }

    fn refresh_metrics(&self) {
        (**self).refresh_metrics();
    }
}

/// What the host knows about a request beyond the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Whether the request arrived over TLS; the guest sees the `https` scheme if so.
    pub https: bool,
    /// The client's address, when there is a client socket.
    pub client_addr: Option<SocketAddr>,
    /// Identifies the request in the log lines of the host and of the guest's output.
    pub request_id: u64,
    /// Held while the guest works on the request and released when it returns or is
    /// stopped (the server's in-flight permit): a client that reads its response slowly
    /// keeps the connection, not a slot for requests being handled.
    pub guard: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// Set when the server stops waiting for the request: its shutdown grace period is
    /// over. A guest still working on the request then stops.
    pub stop: StopSignal,
}

/// Tells a handler that the server no longer waits for its request (see
/// [`RequestContext::stop`]). [`StopSignal::never`] (the default) is never set.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Option<tokio::sync::watch::Receiver<bool>>);

impl StopSignal {
    /// A signal that is never set: for requests outside a server (tests, the harness).
    pub fn never() -> Self {
        Self(None)
    }

    /// A signal set when `receiver` sees `true`.
    pub(crate) fn new(receiver: tokio::sync::watch::Receiver<bool>) -> Self {
        Self(Some(receiver))
    }

    /// Completes once the signal is set; never, if it cannot be.
    pub async fn stopped(&self) {
        if let Some(receiver) = &self.0 {
            let mut receiver = receiver.clone();
            if receiver.wait_for(|stop| *stop).await.is_ok() {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestBodyError {
    /// More than the server's body limit arrived; the server answers 413.
    #[error("the request body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The client sent the body slower than the server's minimum rate; the server
    /// answers 408.
    #[error("the request body arrived slower than {bytes_per_sec} bytes/s")]
    TooSlow {
        /// The minimum rate, in bytes per second.
        bytes_per_sec: u64,
    },
    /// The client's connection failed or the stream was reset.
    #[error(transparent)]
    Client(#[from] hyper::Error),
}

impl From<std::convert::Infallible> for RequestBodyError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
