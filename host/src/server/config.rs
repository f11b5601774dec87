//! Configuration of the server: the listener, TLS, connection and request limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Limits applied by the server before and around the guest.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Largest request body, in bytes. A larger `Content-Length` is answered 413 at once; a
    /// chunked body is cut off at the limit as it arrives and answered 413.
    pub max_body_bytes: u64,
    /// Largest request header section (HTTP/1.1 read buffer, HTTP/2 header list), in bytes.
    /// Larger headers are answered 431. HTTP/1.1 cannot go below 8192.
    pub max_header_bytes: usize,
    /// Time a client has to send a complete request header section. On HTTP/1.1 the same
    /// timer runs while a kept-alive connection waits for its next request, so it is also
    /// the idle timeout.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 with GOAWAY).
    /// On HTTP/1.1 the header-read timeout usually closes it first. Until its first request
    /// arrives, a connection gets only the header-read timeout (on every protocol).
    pub idle_timeout: Duration,
    /// A connection whose client takes no response bytes for this long while the server has
    /// some to write (a full TCP or HTTP/2 window) is closed, with the requests on it.
    pub send_timeout: Duration,
    /// HTTP/2 connections are pinged at this interval and closed when a ping goes unanswered
    /// for as long again.
    pub h2_keep_alive: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Requests being handled (a guest working on them, streaming included) at most;
    /// further requests are answered 503 with `Retry-After`. A response the client is slow
    /// to take holds its connection, not one of these.
    pub max_in_flight: usize,
    /// Requests in flight from one client address at most, so that one client cannot take
    /// every slot of [`ServerLimits::max_in_flight`]; its further requests are answered 429
    /// with `Retry-After` while others are served. (Clients behind one NAT or proxy share
    /// an address: raise it for such deployments.)
    pub max_in_flight_per_client: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// The slowest a request body may arrive, in bytes per second: once the client has kept
    /// the body waiting for [`ServerLimits::header_read_timeout`] plus a second per this
    /// many bytes it sent, the body fails and the request is answered 408 (a body that
    /// trickles in holds a guest and a slot). Only waits on the client count. `0` turns it
    /// off.
    pub min_body_rate: u64,
}

impl ServerLimits {
    /// Refuses limits that would serve nothing: zero timeouts, no connection, no request.
    pub(crate) fn check(&self) -> Result<(), crate::ServeError> {
        const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);
        let zero = [
            (
                self.header_read_timeout.is_zero(),
                "the header-read timeout is zero",
            ),
            (self.idle_timeout.is_zero(), "the idle timeout is zero"),
            (self.send_timeout.is_zero(), "the send timeout is zero"),
            (self.max_connections == 0, "no connection is allowed"),
            (self.max_in_flight == 0, "no request in flight is allowed"),
            (
                self.max_in_flight_per_client == 0,
                "no request in flight is allowed per client",
            ),
            (
                self.h2_max_concurrent_streams == 0,
                "no HTTP/2 stream is allowed",
            ),
            // Timers add these to the clock: a value near `Duration::MAX` would overflow.
            (
                [
                    self.header_read_timeout,
                    self.idle_timeout,
                    self.send_timeout,
                    self.h2_keep_alive,
                ]
                .iter()
                .any(|d| *d > MAX_TIMEOUT),
                "a timeout is longer than a year",
            ),
        ];
        match zero.into_iter().find(|(bad, _)| *bad) {
            Some((_, what)) => Err(crate::ServeError::Limit(what)),
            None => Ok(()),
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            h2_keep_alive: Duration::from_secs(20),
            max_connections: 1024,
            max_in_flight: 256,
            max_in_flight_per_client: 64,
            h2_max_concurrent_streams: 128,
            min_body_rate: 1024,
        }
    }
}

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub enum TlsConfig {
    /// PEM files: a certificate chain (leaf first) and a PKCS#8, PKCS#1 or SEC1 key. The
    /// files are watched and reloaded when they change.
    Files {
        /// Certificate chain, PEM.
        cert: PathBuf,
        /// Private key, PEM.
        key: PathBuf,
    },
    /// A certificate for `localhost`, `127.0.0.1` and `::1` made at start-up.
    SelfSigned,
}

/// How the server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// TLS termination, or plain HTTP (HTTP/1.1 and h2c) when `None`.
    pub tls: Option<TlsConfig>,
    /// Connection and request limits.
    pub limits: ServerLimits,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Threads that serve connections, each with a single-threaded async runtime of its
    /// own: a connection, its requests and their guests stay on one thread, never handed
    /// between threads. 0 (the default) serves them on the caller's runtime; at most
    /// [`crate::MAX_WORKERS`].
    pub workers: usize,
    /// Requests per client allowed, for every path and per route; none by default.
    pub rate_limits: super::RateLimits,
    /// Where the admin listener (`/metrics`, `/healthz`, `/readyz`) listens; none by
    /// default. Keep it off the public network.
    pub admin_listen: Option<SocketAddr>,
    /// Where sampled spans are exported, by OTLP/HTTP with JSON (`http://collector:4318`);
    /// none by default. `edge-host` takes it from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            tls: None,
            limits: ServerLimits::default(),
            shutdown_grace: Duration::from_secs(5),
            workers: 0,
            rate_limits: super::RateLimits::default(),
            admin_listen: None,
            otlp_endpoint: None,
        }
    }
}
