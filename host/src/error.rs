//! Typed errors. Each error that reaches HTTP knows its status code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::StatusCode;

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read component {path}: {source}")]
    Read {
        /// The file given.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly component (a core module, or not wasm at all).
    #[error("{path} is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The file given.
        path: PathBuf,
        /// What the parser or compiler said.
        reason: String,
    },
    /// The bytes are a component, but the engine cannot take it: a feature it does not
    /// enable, or more than one instance may hold (memories, tables...).
    #[error("{path} is a WebAssembly component this host cannot compile: {reason}")]
    Compile {
        /// The file given.
        path: PathBuf,
        /// What the compiler said.
        reason: String,
    },
    /// The component needs an import this host does not provide, or its handler export
    /// does not have the type its world gives it.
    #[error("{path} targets {world}, but this host cannot run it: {reason}")]
    Link {
        /// The file given.
        path: PathBuf,
        /// The world its exports say it targets.
        world: crate::World,
        /// The unsatisfied import or the mismatched export.
        reason: String,
    },
    /// The component exports neither `wasi:http/incoming-handler@0.2.x` (WASI 0.2) nor
    /// `wasi:http/handler@0.3.x` (WASI 0.3).
    #[error(
        "{path} is no HTTP handler: it exports neither wasi:http/incoming-handler@0.2 \
         (WASI 0.2) nor wasi:http/handler@0.3 (WASI 0.3), but {exports}"
    )]
    NotAHandler {
        /// The file given.
        path: PathBuf,
        /// What it exports instead.
        exports: String,
    },
    /// The wasm engine could not be set up with the requested configuration.
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    /// A directory the guest is to see ([`RuntimeConfig::dirs`](crate::RuntimeConfig::dirs))
    /// cannot be opened.
    #[error("cannot give the guest {host} at {guest}: {reason}")]
    Dir {
        /// The host directory.
        host: PathBuf,
        /// The guest path.
        guest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key-value database could not be opened.
    #[error(transparent)]
    KeyValue(#[from] crate::KeyValueError),
}

/// Why one request could not be answered by the guest. The server turns it into a
/// problem+json response with [`RequestError::status`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access...).
    #[error("the guest trapped: {0}")]
    Trap(String),
    /// The guest tried to grow its memory past the limit.
    #[error("the guest exceeded its memory limit of {limit} bytes")]
    MemoryExceeded {
        /// The limit in bytes.
        limit: usize,
    },
    /// The guest ran past its deadline.
    #[error("the guest did not finish within {0:?}")]
    DeadlineExceeded(Duration),
    /// The guest returned without setting a response.
    #[error("the guest returned without setting a response")]
    NoResponse,
    /// The guest answered with a `wasi:http` error code instead of a response.
    #[error("the guest answered with an error: {0}")]
    Guest(String),
    /// The request body is larger than allowed.
    #[error("the request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The request cannot be passed to a guest (no authority, say).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route of the application matches the path.
    #[error("no route matches {0}")]
    NoRoute(String),
    /// Too many requests are being handled already.
    #[error("too many requests in flight")]
    Overloaded,
    /// The request body arrived slower than the server's minimum rate.
    #[error("the request body arrived slower than {bytes_per_sec} bytes/s")]
    BodyTooSlow {
        /// The minimum rate, in bytes per second.
        bytes_per_sec: u64,
    },
    /// The client's address has as many requests in flight as one client may.
    #[error("this client has {limit} requests in flight, as many as one client may")]
    ClientBusy {
        /// Requests one client address may have in flight.
        limit: usize,
    },
    /// A rate limit of the server ([`RateLimits`](crate::RateLimits)) has no request
    /// left for this client now.
    #[error("too many requests: the {rule} limit allows the next one in {retry_after} s")]
    RateLimited {
        /// The limit that refused it (`client`, `route /login`).
        rule: String,
        /// Whole seconds until a request would pass (`Retry-After`).
        retry_after: u64,
        /// The `RateLimit-Policy` field.
        policy: String,
        /// The `RateLimit` field.
        state: String,
    },
    /// The server shut down, and its grace period ended before the guest finished.
    #[error("the server shut down before the handler finished")]
    ShutDown,
    /// The host failed around the guest (instantiation, resources).
    #[error("host error: {0}")]
    Host(String),
}

impl RequestError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Trap(_)
            | Self::MemoryExceeded { .. }
            | Self::NoResponse
            | Self::Guest(_)
            | Self::Host(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::DeadlineExceeded(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::Overloaded | Self::ShutDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::ClientBusy { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Whether the fault lies with the guest (as opposed to the client or the host).
    pub fn is_guest_fault(&self) -> bool {
        matches!(
            self,
            Self::Trap(_)
                | Self::MemoryExceeded { .. }
                | Self::DeadlineExceeded(_)
                | Self::NoResponse
                | Self::Guest(_)
        )
    }

    /// What the client is told: enough to act on, nothing of the guest's internals.
    pub fn public_detail(&self) -> String {
        match self {
            Self::Trap(_) | Self::Guest(_) | Self::NoResponse | Self::MemoryExceeded { .. } => {
                "the handler failed while processing the request".to_owned()
            }
            Self::DeadlineExceeded(d) => {
                format!("the handler did not answer within {} ms", d.as_millis())
            }
            Self::Host(_) => "the server could not run the handler".to_owned(),
            Self::BodyTooLarge { .. }
            | Self::BodyTooSlow { .. }
            | Self::BadRequest(_)
            | Self::NoRoute(_)
            | Self::Overloaded
            | Self::ShutDown
            | Self::ClientBusy { .. }
            | Self::RateLimited { .. } => self.to_string(),
        }
    }
}

/// A TLS configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0} contains no PEM certificate")]
    NoCertificate(PathBuf),
    /// The key file holds no supported key.
    #[error("{0} contains no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey(PathBuf),
    /// rustls rejected the certificate and key (a mismatch, an unsupported algorithm...).
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    /// A self-signed certificate could not be made.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A limit that would make the server serve nothing (a zero timeout or count).
    #[error("invalid server limit: {0}")]
    Limit(&'static str),
    /// A worker thread or its runtime could not be started.
    #[error("cannot start a worker thread: {0}")]
    Workers(std::io::Error),
    /// The rate limits' Redis cannot be reached.
    #[error("rate limits: {0}")]
    RateLimits(String),
    /// The OTLP endpoint cannot be exported to.
    #[error(transparent)]
    Trace(#[from] crate::trace::ExporterError),
}
