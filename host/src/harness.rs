//! Run a component in-process and send it requests, without sockets: the API for a
//! handler's own integration tests.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::{App, Handler, LoadError, PlatformConfig, RequestContext, RequestError, RuntimeConfig};

/// A component loaded for testing.
///
/// Requests go through the same handler as the server's (for a component: Spin's headers and
/// platform, a fresh instance, limits, fault handling); only the sockets are missing. Faults come back as the problem+json response a
/// client would get, so tests can assert on them.
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// use host::Harness;
///
/// let app = Harness::load("target/guest/wasm32-wasip2/release/example.wasm")?;
/// let res = app.send(http::Request::get("/api/health").body("")?).await?;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// let body: serde_json::Value = serde_json::from_slice(res.body())?;
/// assert_eq!(body["status"], "healthy");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Harness {
    handler: Arc<dyn Handler>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

impl Harness {
    /// Loads a component with the default configuration, as `edge-host serve` runs it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::load_with(path, RuntimeConfig::default())
    }

    /// Loads a component with the given configuration (environment, limits) and Spin's
    /// platform with its defaults.
    pub fn load_with(path: impl AsRef<Path>, config: RuntimeConfig) -> Result<Self, LoadError> {
        let app = App::single(path.as_ref(), config, PlatformConfig::default())?;
        Ok(Self::new(app))
    }

    /// Sends requests to any handler: an [`App`] (variables, outbound hosts), a bare
    /// [`Runtime`](crate::Runtime), or one of the caller's.
    pub fn new(handler: impl Handler) -> Self {
        Self {
            handler: Arc::new(handler),
        }
    }

    /// Sends one request and collects the whole response.
    ///
    /// A request without an authority gets `Host: localhost`. Faults of the guest become
    /// their problem+json responses (500, 504...); the error is only for a response body
    /// that failed mid-stream.
    pub async fn send(
        &self,
        req: http::Request<impl Into<Bytes>>,
    ) -> Result<http::Response<Bytes>, RequestError> {
        let (mut parts, body) = req.into_parts();
        if parts.uri.authority().is_none() && !parts.headers.contains_key(http::header::HOST) {
            parts.headers.insert(
                http::header::HOST,
                http::HeaderValue::from_static("localhost"),
            );
        }
        let body = Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync();
        let req = http::Request::from_parts(parts, body);
        let ctx = RequestContext {
            https: false,
            client_addr: None,
            request_id: 0,
            guard: None,
        };
        let response = match self.handler.call(req, ctx).await {
            Ok(response) => response,
            Err(err) => crate::server::problem_for_error(&err),
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|err| RequestError::Trap(format!("the response body failed: {err}")))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }
}
