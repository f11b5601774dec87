//! Run a component in-process and send it requests, without sockets: the API for a
//! handler's own integration tests.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::runtime::RequestContext;
use crate::{LoadError, RequestError, Runtime, RuntimeConfig};

/// A component loaded for testing.
///
/// Requests go through the same runtime as the server (fresh instance, limits, fault
/// handling); only the sockets are missing. Faults come back as the problem+json response a
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
#[derive(Debug, Clone)]
pub struct Harness {
    runtime: Runtime,
}

impl Harness {
    /// Loads a component with the default configuration.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::load_with(path, RuntimeConfig::default())
    }

    /// Loads a component with the given configuration (environment, limits).
    pub fn load_with(path: impl AsRef<Path>, config: RuntimeConfig) -> Result<Self, LoadError> {
        Ok(Self {
            runtime: Runtime::load(path.as_ref(), config)?,
        })
    }

    /// Wraps an already loaded runtime.
    pub fn from_runtime(runtime: Runtime) -> Self {
        Self { runtime }
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
        let req = http::Request::from_parts(parts, Full::new(body.into()));
        let ctx = RequestContext {
            https: false,
            client_addr: None,
            request_id: 0,
            guard: None,
        };
        let response = match self.runtime.handle(req, ctx).await {
            Ok(response) => response,
            Err(err) => crate::problem::for_error(&err),
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
