//! A wasmtime host that serves `wasi:http/incoming-handler@0.2` components, alone or as
//! the routed components of a Spin application.
//!
//! It is both what users run locally (`edge-host serve app.wasm`, `edge-host up`) and what
//! their integration tests run against. Each request gets a fresh instance of a
//! pre-instantiated component; faults, deadlines and memory limits of one request never
//! reach another.
//!
//! # Serving
//!
//! ```no_run
//! use host::{App, PlatformConfig, RuntimeConfig, Server, ServerConfig};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let app = App::single("app.wasm".as_ref(), RuntimeConfig::default(), PlatformConfig::default())?;
//! let server = Server::bind(ServerConfig::default(), app).await?;
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
//! # Layers
//!
//! Three layers, each a module that knows nothing of the one above it (see
//! `ARCHITECTURE.md`):
//!
//! | Module | Role |
//! | --- | --- |
//! | [`server`] | the generic HTTP server: listeners, HTTP/1.1, HTTP/2, h2c, TLS, limits, access log, shutdown; serves any [`Handler`] |
//! | [`runtime`] | runs one component: [`Engine`] (shared, pooling), code cache, pre-initialisation, stores, guest limits; platform interfaces plug in as [`LinkerExtension`]s and [`OutgoingHttp`] |
//! | [`spin`] | the Spin application layer: manifest, routes, `spin-*` headers, key-value, variables, outbound rules and circuit breakers; [`App`] is its [`Handler`] |
//!
//! Between them: [`Handler`] and [`RequestContext`] (the server's contract), and the
//! errors ([`LoadError`], [`RequestError`], [`ServeError`]), each of which knows its HTTP
//! status where it has one. [`Harness`] is the in-process test API.

mod error;
mod files;
mod handler;
mod harness;
pub mod new;
pub mod runtime;
pub mod server;
pub mod spin;
mod throttle;
pub mod trace;

pub use error::{LoadError, RequestError, ServeError, TlsError};
pub use handler::{
    BoxError, DrainFuture, Handler, HandlerFuture, RequestBody, RequestBodyError, RequestContext,
    ResponseBody, StopSignal,
};
pub use harness::{Harness, HarnessBuilder, HarnessError, TestResponse};
pub use runtime::{
    ConcurrentReuse, DEFAULT_CONNECT_TIMEOUT, Engine, EngineConfig, GuestDir, GuestLimits,
    GuestState, LinkerExtension, OutgoingHooks, OutgoingHttp, OutgoingResult, Runtime,
    RuntimeConfig, SocketAddrUse, SocketCheck, SocketPolicy, SocketUses, World, default_cache_dir,
};
pub use server::{
    InvalidQuota, MAX_BUCKETS, MAX_WORKERS, Quota, RateLimits, RouteQuota, Server, ServerConfig,
    ServerLimits, ShutdownReport, TlsConfig, self_signed_localhost,
};
pub use spin::{
    App, AppData, BreakerConfig, BuildError, BuildOutput, Built, CircuitBreakers, CircuitOpen,
    InvalidOutboundRule, KeyValue, KeyValueError, Loaded, OutboundConfig, OutboundRule, Permit,
    PlatformConfig, SqliteDatabases, SqliteError, SqliteLimits, StoreError, UpError, UpOptions,
    Variable, build_app,
};
