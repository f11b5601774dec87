//! A wasmtime host that serves any `wasi:http/incoming-handler@0.2` component.
//!
//! It is both what users run locally (`edge-host serve app.wasm`) and what their integration
//! tests run against. Each request gets a fresh instance of a pre-instantiated component;
//! faults, deadlines and memory limits of one request never reach another.
//!
//! # Serving
//!
//! ```no_run
//! use host::{Runtime, RuntimeConfig, Server, ServerConfig};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let runtime = Runtime::load("app.wasm".as_ref(), RuntimeConfig::default())?;
//! let server = Server::bind(ServerConfig::default(), runtime).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Testing a component without sockets
//!
//! [`Harness`] sends an [`http::Request`] straight to a component and returns the
//! [`http::Response`], which is how a handler's own integration tests are written:
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let harness = host::Harness::load("app.wasm")?;
//! let res = harness.send(http::Request::get("/api/health").body("")?).await?;
//! assert_eq!(res.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! | Module | Concern |
//! | --- | --- |
//! | `runtime` | everything wasmtime: engine, compilation, `ProxyPre`, per-request stores, limits |
//! | `server` | sockets, HTTP/1.1 and HTTP/2 (hyper), connection and request limits, shutdown |
//! | `tls` | rustls configuration, certificates from files or self-signed |
//! | `body` | request bodies counted as they arrive (413), responses counted for the access log |
//! | `harness` | the in-process test API |

mod app;
mod body;
mod breaker;
mod config;
mod error;
mod harness;
pub mod manifest;
mod outbound;
mod platform;
mod problem;
pub mod routes;
mod runtime;
mod server;
mod tls;

pub use app::{App, Loaded, UpError, UpOptions};
pub use breaker::{BreakerConfig, CircuitBreakers, CircuitOpen, Permit};
pub use config::{
    GuestLimits, OutboundConfig, RuntimeConfig, ServerConfig, ServerLimits, TlsConfig,
    default_cache_dir,
};
pub use error::{LoadError, RequestError, ServeError, TlsError};
pub use harness::Harness;
pub use outbound::{InvalidOutboundRule, OutboundRule};
pub use platform::{KeyValue, KeyValueError, StoreError, Variable};
pub use runtime::{RequestContext, ResponseBody, Runtime};
pub use server::{MAX_WORKERS, Server};
pub use tls::self_signed_localhost;
