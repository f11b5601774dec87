//! The generic HTTP server: serves any [`Handler`] over HTTP/1.1 with keep-alive, HTTP/2 by
//! ALPN over TLS or with prior knowledge (h2c) on a plain socket, with every listener limit,
//! access logs and graceful shutdown. It knows no component, no manifest and no platform.
//!
//! | File | Concern |
//! | --- | --- |
//! | `mod.rs` | [`Server`]: bind, the accept loop, shutdown and its [`ShutdownReport`] |
//! | `config.rs` | [`ServerConfig`], [`ServerLimits`], [`TlsConfig`] |
//! | `connection.rs` | one connection: TLS, protocols, timeouts; each request's way to the handler and back |
//! | `activity.rs` | what a connection is doing, for the idle and send timeouts |
//! | `workers.rs` | worker threads with a single-threaded runtime each |
//! | `body.rs` | request bodies counted against the limit, response bodies counted for the log |
//! | `tls.rs` | rustls configuration, certificates from files (reloaded) or self-signed |
//! | `problem.rs` | problem+json responses the server writes itself |
//! | `admin.rs` | the admin listener: `/metrics`, `/healthz`, `/readyz` |
//! | `rate.rs` | [`RateLimits`]: token buckets per client and route, `429` and the `RateLimit` fields |

mod activity;
mod admin;
mod body;
mod clients;
mod config;
mod connection;
mod preface;
mod problem;
mod rate;
mod rate_shared;
mod tls;
mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

#[cfg(test)]
pub(crate) use self::body::LimitedBody;
pub use self::config::{ServerConfig, ServerLimits, TlsConfig};
pub(crate) use self::problem::for_error as problem_for_error;
pub use self::rate::{InvalidQuota, MAX_BUCKETS, Quota, RateLimits, RouteQuota};
pub use self::tls::self_signed_localhost;
pub use self::workers::MAX_WORKERS;

use self::connection::{Connection, connection_builder};
use self::tls::Tls;
use self::workers::Workers;
use crate::{Handler, ServeError};

/// A bound listener serving a [`Handler`]: a Spin application ([`crate::App`]) or any
/// other.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    admin: Option<(TcpListener, SocketAddr)>,
    tls: Option<Tls>,
    shared: Arc<Shared>,
    shutdown_grace: Duration,
    workers: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// State every connection shares.
struct Shared {
    handler: Box<dyn Handler>,
    limits: ServerLimits,
    https: bool,
    in_flight: Arc<Semaphore>,
    /// Requests in flight per client address.
    per_client: Arc<clients::InFlight>,
    /// The rate limits' buckets, when there are limits.
    rate: Option<rate::RateLimiter>,
    /// What the admin listener reports.
    metrics: admin::ServerMetrics,
    /// Where sampled spans go, when an OTLP endpoint is configured.
    exporter: Option<crate::trace::Exporter>,
    next_request_id: AtomicU64,
    /// Set when the shutdown grace period is over: guests still working stop
    /// ([`crate::StopSignal`]).
    cut: watch::Sender<bool>,
}

impl Server {
    /// Binds the listen address and prepares TLS; nothing is served until [`Server::run_until`].
    ///
    /// `handler` answers every request: an [`App`](crate::App) (a Spin application, or
    /// `edge-host serve`'s one component) or any other [`Handler`].
    pub async fn bind(config: ServerConfig, handler: impl Handler) -> Result<Self, ServeError> {
        config.limits.check()?;
        if config.workers > MAX_WORKERS {
            return Err(ServeError::Limit("more than 1024 worker threads"));
        }
        let tls = config.tls.as_ref().map(Tls::new).transpose()?;
        let rate = rate::RateLimiter::new(&config.rate_limits).map_err(ServeError::RateLimits)?;
        let exporter = config
            .otlp_endpoint
            .as_deref()
            .map(crate::trace::Exporter::start)
            .transpose()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            https: tls.is_some(),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight)),
            per_client: Arc::new(clients::InFlight::new(
                config.limits.max_in_flight_per_client,
            )),
            rate,
            metrics: admin::ServerMetrics::new(),
            exporter,
            limits: config.limits,
            next_request_id: AtomicU64::new(1),
            cut: watch::Sender::new(false),
        });
        let admin = match config.admin_listen {
            Some(addr) => {
                let bind_error = |source| ServeError::Bind { addr, source };
                let admin = TcpListener::bind(addr).await.map_err(bind_error)?;
                let bound = admin.local_addr().map_err(bind_error)?;
                Some((admin, bound))
            }
            None => None,
        };
        Ok(Self {
            listener,
            local_addr,
            admin,
            tls,
            shared,
            shutdown_grace: config.shutdown_grace,
            workers: config.workers,
        })
    }

    /// The admin listener's address (`/metrics`, `/healthz`, `/readyz`), when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The SHA-256 fingerprint of the certificate served at start-up, when TLS is on.
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.fingerprint.as_str())
    }

    /// The URL clients reach the server at.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes, then stops accepting, gives in-flight requests
    /// the configured grace period to finish, and returns what was still unfinished when
    /// the grace period ended (also logged).
    ///
    /// The grace period covers the connections (each finishes its current requests and
    /// closes) and the requests' in-flight slots: a 0.2 guest holds its own until it
    /// returns, which may be after its response, a 0.3 guest's is its response body's. When
    /// it is over, whatever is left is stopped; then the handler gets the grace period again
    /// for operations of its own that outlive the requests ([`Handler::drain`]).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShutdownReport, ServeError> {
        let Self {
            listener,
            admin,
            tls,
            shared,
            shutdown_grace,
            workers,
            ..
        } = self;
        // The admin listener answers until the very end: `/readyz` says 503 while the
        // server drains.
        let (admin_stop, admin_stopped) = watch::channel(false);
        let admin_task = admin.map(|(listener, _)| {
            let registry = Arc::new(admin::registry(&shared));
            tokio::spawn(admin::serve(
                listener,
                shared.clone(),
                registry,
                admin_stopped,
            ))
        });
        shared.metrics.ready.store(true, Ordering::Release);
        let workers = Workers::start(workers).await?;
        let acceptor = tls
            .as_ref()
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.config.clone()));
        let reloader = tls.as_ref().and_then(Tls::spawn_reloader);
        let builder = Arc::new(connection_builder(&shared.limits));
        let max_connections = shared.limits.max_connections;
        let connections = Arc::new(Semaphore::new(max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);

        loop {
            // Back-pressure: at the connection limit, stop accepting; the kernel queues.
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => permit,
                () = &mut shutdown => break,
            };
            let Ok(permit) = permit else { break };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // EMFILE and friends: pause rather than spin.
                        tracing::warn!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let permit = (permit, admin::Open::new(&shared.metrics.connections));
            let conn = Connection {
                peer,
                shared: shared.clone(),
                builder: builder.clone(),
                stop: stop_rx.clone(),
            };
            let acceptor = acceptor.clone();
            match workers.next() {
                None => {
                    tasks.spawn(async move {
                        let _permit = permit;
                        conn.serve(stream, acceptor).await;
                    });
                }
                Some(worker) => {
                    // Registered again with the worker's own reactor, so that its readiness
                    // wakes that thread.
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(err) => {
                            tracing::warn!(client = %peer, "cannot hand the connection over: {err}");
                            continue;
                        }
                    };
                    tasks.spawn_on(
                        async move {
                            let _permit = permit;
                            match TcpStream::from_std(stream) {
                                Ok(stream) => conn.serve(stream, acceptor).await,
                                Err(err) => {
                                    tracing::warn!(client = %peer, "cannot serve the connection: {err}");
                                }
                            }
                        },
                        worker,
                    );
                }
            }
            // Reap finished connections so the set holds only open ones.
            while tasks.try_join_next().is_some() {}
        }

        shared.metrics.ready.store(false, Ordering::Release);
        drop(listener);
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        let open = max_connections - connections.available_permits();
        tracing::info!(open_connections = open, grace = ?shutdown_grace, "shutting down: no longer accepting");
        // Connections finish their current requests and close; each returns its permit.
        let _ = stop_tx.send(true);
        let grace_over = tokio::time::Instant::now() + shutdown_grace;
        let all_closed =
            connections.acquire_many(u32::try_from(max_connections).unwrap_or(u32::MAX));
        let mut report = ShutdownReport::default();
        if tokio::time::timeout_at(grace_over, all_closed)
            .await
            .is_err()
        {
            report.connections_cut = max_connections - connections.available_permits();
        }
        // A guest holds its in-flight slot until it returns, which may be after its response.
        let max_in_flight = shared.limits.max_in_flight;
        let guests_done = shared
            .in_flight
            .acquire_many(u32::try_from(max_in_flight).unwrap_or(u32::MAX));
        if tokio::time::timeout_at(grace_over, guests_done)
            .await
            .is_err()
        {
            report.requests_cut = max_in_flight - shared.in_flight.available_permits();
            // Those guests stop now; their slots come back as they unwind.
            shared.cut.send_replace(true);
            let unwound = shared
                .in_flight
                .acquire_many(u32::try_from(max_in_flight).unwrap_or(u32::MAX));
            let _ = tokio::time::timeout(UNWIND, unwound).await;
        }
        // Before the worker threads (and the blocking pools the handler's work runs on) stop.
        report.operations_cut = shared.handler.drain(shutdown_grace).await;
        if report == ShutdownReport::default() {
            tracing::info!("all connections, requests and the handler's operations finished");
        } else {
            tracing::warn!(
                connections = report.connections_cut,
                requests = report.requests_cut,
                operations = report.operations_cut,
                "grace period over: cut off {} open connections, {} requests still being handled and {} unfinished operations of the handler",
                report.connections_cut,
                report.requests_cut,
                report.operations_cut,
            );
        }
        // Whatever is left stops here, also for a library caller whose runtime goes on.
        tasks.shutdown().await;
        workers.stop().await;
        let _ = admin_stop.send(true);
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        Ok(report)
    }
}

/// How long guests stopped at the end of a grace period get to unwind (drop their
/// instances, return their slots) before the worker threads stop.
const UNWIND: Duration = Duration::from_secs(1);

/// What a shutdown cut off when its grace period was over: zero for both when everything
/// finished in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections still open, closed with whatever they were sending.
    pub connections_cut: usize,
    /// Requests still being handled, stopped: a 0.2 guest still working on one (before or
    /// after its response), or a response still streaming (a 0.3 guest's in-flight slot is
    /// its response body's).
    pub requests_cut: usize,
    /// Operations of the handler's own that had not finished after a further grace period
    /// ([`Handler::drain`]; an `App`: key-value and SQLite operations).
    pub operations_cut: usize,
}
