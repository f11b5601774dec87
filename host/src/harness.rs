//! Run a component in-process and send it requests, without sockets: the API for a
//! handler's own integration tests, from this repository or from a crate of the user's
//! (`edge-host` as a dev-dependency).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use host::Harness;
//!
//! // spin.toml's build command first, then the application as `edge-host up` loads it,
//! // with a key-value store in memory.
//! let app = Harness::manifest("spin.toml")
//!     .build_first()
//!     .variable("greeting", "Howdy")
//!     .load()?;
//! let res = app.get("/hello/Ada").await?;
//! res.assert_status(200).assert_header("content-type", "application/json");
//! assert_eq!(res.json::<serde_json::Value>()?["message"], "Howdy, Ada!");
//! app.put("/notes/a", "text").await?.assert_status(204);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::spin::manifest;
use crate::{
    App, AppData, BuildError, BuildOutput, Handler, LoadError, OutboundConfig, PlatformConfig,
    RequestContext, RequestError, RuntimeConfig, UpError,
};

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

    /// An application from its manifest, loaded as `edge-host up` loads it, but with a
    /// key-value store in memory and variables from the manifest's defaults and
    /// [`HarnessBuilder::variable`] alone (not from the process environment).
    pub fn manifest(path: impl AsRef<Path>) -> HarnessBuilder {
        HarnessBuilder {
            manifest: path.as_ref().to_owned(),
            variables: BTreeMap::new(),
            env: Vec::new(),
            build: false,
            config: RuntimeConfig::default(),
        }
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> Result<TestResponse, RequestError> {
        self.call(Method::GET, uri, None, Bytes::new()).await
    }

    /// `DELETE uri`.
    pub async fn delete(&self, uri: &str) -> Result<TestResponse, RequestError> {
        self.call(Method::DELETE, uri, None, Bytes::new()).await
    }

    /// `PUT uri` with `body` (no `Content-Type`).
    pub async fn put(
        &self,
        uri: &str,
        body: impl Into<Bytes>,
    ) -> Result<TestResponse, RequestError> {
        self.call(Method::PUT, uri, None, body.into()).await
    }

    /// `POST uri` with `body` (no `Content-Type`).
    pub async fn post(
        &self,
        uri: &str,
        body: impl Into<Bytes>,
    ) -> Result<TestResponse, RequestError> {
        self.call(Method::POST, uri, None, body.into()).await
    }

    /// `POST uri` with `value` as an `application/json` body.
    pub async fn post_json(
        &self,
        uri: &str,
        value: &impl serde::Serialize,
    ) -> Result<TestResponse, RequestError> {
        let body = serde_json::to_vec(value)
            .map_err(|err| RequestError::BadRequest(format!("the JSON body: {err}")))?;
        let json = HeaderValue::from_static("application/json");
        self.call(Method::POST, uri, Some(json), body.into()).await
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<TestResponse, RequestError> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let req = builder
            .body(body)
            .map_err(|err| RequestError::BadRequest(format!("`{uri}`: {err}")))?;
        self.send(req).await.map(TestResponse)
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
            stop: crate::StopSignal::never(),
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

/// How [`Harness::manifest`] loads an application.
#[derive(Debug, Clone)]
#[must_use = "nothing is loaded until `load`"]
pub struct HarnessBuilder {
    manifest: PathBuf,
    variables: BTreeMap<String, String>,
    env: Vec<(String, String)>,
    build: bool,
    config: RuntimeConfig,
}

/// Why [`HarnessBuilder::load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The manifest is wrong, or a component could not be loaded.
    #[error(transparent)]
    Up(#[from] UpError),
    /// A build command failed (its output is in the error).
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl HarnessBuilder {
    /// Runs the manifest's build commands before loading (what `edge-host build` runs; their
    /// output is kept and shown only when one fails), so a test always runs the current
    /// sources.
    pub fn build_first(mut self) -> Self {
        self.build = true;
        self
    }

    /// Sets an application variable, as `edge-host up --variable NAME=VALUE` does.
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// Adds an environment variable for every component.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The configuration every component starts from (limits...); its `env` is kept, the
    /// [`env`](Self::env) pairs added to it.
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds (when asked) and loads the application.
    pub fn load(self) -> Result<Harness, HarnessError> {
        let variables: BTreeMap<String, String> = self
            .variables
            .into_iter()
            .map(|(name, value)| {
                (
                    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                    value,
                )
            })
            .collect();
        let env = |name: &str| variables.get(name).cloned();
        if self.build {
            let unbuilt = manifest::load_unbuilt(&self.manifest, &env).map_err(UpError::from)?;
            crate::build_app(&unbuilt, BuildOutput::Capture)?;
        }
        let manifest = manifest::load(&self.manifest, &env).map_err(UpError::from)?;
        let data = AppData::in_memory().map_err(UpError::from)?;
        let mut config = self.config;
        config.env.extend(self.env);
        let app = App::load(&manifest, &config, &OutboundConfig::default(), &data)
            .map_err(UpError::from)?;
        Ok(Harness::new(app))
    }
}

/// A whole response, with assertions that show the body when they fail. It dereferences to
/// the [`http::Response`].
#[derive(Debug, Clone)]
pub struct TestResponse(pub http::Response<Bytes>);

impl std::ops::Deref for TestResponse {
    type Target = http::Response<Bytes>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestResponse {
    /// The response itself.
    pub fn into_inner(self) -> http::Response<Bytes> {
        self.0
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.body())
    }

    /// The first value of header `name`, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics unless the status is `status`, showing the body.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        let expected = StatusCode::from_u16(status).ok();
        assert!(
            Some(self.status()) == expected,
            "expected status {status}, got {}: {}",
            self.status(),
            self.text()
        );
        self
    }

    /// Panics unless header `name` is `value`.
    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        assert!(
            self.header(name) == Some(value),
            "expected `{name}: {value}`, got {:?} (status {}: {})",
            self.header(name),
            self.status(),
            self.text()
        );
        self
    }
}
