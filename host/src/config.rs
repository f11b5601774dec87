//! Configuration of the runtime (per guest) and of the server (per listener).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{BreakerConfig, KeyValue, Variable};

/// Limits applied to every guest instance.
#[derive(Debug, Clone)]
pub struct GuestLimits {
    /// Largest linear memory one instance may grow to, in bytes. Growing past it fails, which
    /// a Rust guest turns into a trap: the request is answered 500.
    pub max_memory_bytes: usize,
    /// Wall-clock time a guest may run for one request, response body included. Past it the
    /// instance is stopped (within one epoch tick when it is computing) and the request is
    /// answered 504 if no response was sent yet.
    pub deadline: Duration,
    /// How often running guests check the deadline and yield to other requests.
    pub epoch_tick: Duration,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 128 * 1024 * 1024,
            deadline: Duration::from_secs(30),
            epoch_tick: Duration::from_millis(10),
        }
    }
}

/// How a component is run.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Limits per instance.
    pub limits: GuestLimits,
    /// Environment variables the guest sees. Nothing from the host's environment is passed
    /// unless it is listed here.
    pub env: Vec<(String, String)>,
    /// Directory of the compiled-code cache; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Instances alive at once at most: the pooling allocator reserves this many slots up
    /// front. Requests beyond it are answered 503.
    pub max_instances: u32,
    /// Requests one instance serves in turn before it is dropped; 0 or 1 gives every request
    /// a fresh instance (the default). Only for components that keep no state between
    /// requests: a WASI 0.2 component may, and with reuse one client could see what another
    /// left in memory. An instance that fails is never reused.
    pub instance_reuse: u32,
    /// Pre-initialise components that export `wizer-initialize` (the default): run it once
    /// at load, with every import trapping, and start each instance from the snapshot.
    /// Should it fail, the component is served as it is.
    pub preinitialize: bool,
    /// Destinations guests may send HTTP requests to; anything else is refused with
    /// `HTTP-request-denied`. Empty (the default) refuses all outbound HTTP.
    pub allowed_outbound: Vec<crate::OutboundRule>,
    /// Timeouts and circuit breaking of outbound HTTP.
    pub outbound: OutboundConfig,
    /// The key-value database behind `fermyon:spin/key-value`; `None` gives this runtime its
    /// own in-memory database.
    pub key_value: Option<KeyValue>,
    /// Key-value store labels the guest may open; others are `access-denied`.
    pub key_value_stores: Vec<String>,
    /// The values `fermyon:spin/variables` gives the guest, by name.
    pub variables: BTreeMap<String, Variable>,
}

/// Outbound HTTP: timeouts the host enforces whatever the guest asks, and circuit breaking.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Longest wait for a connection (a guest may ask for less).
    pub connect_timeout: Duration,
    /// Longest wait for the response head once connected (a guest may ask for less).
    pub first_byte_timeout: Duration,
    /// When an upstream's circuit opens, and for how long.
    pub breaker: BreakerConfig,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            breaker: BreakerConfig::default(),
        }
    }
}

/// Environment values often hold secrets: `Debug` shows their names only.
impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<_> = self
            .env
            .iter()
            .map(|(name, _)| format!("{name}=<redacted>"))
            .collect();
        f.debug_struct("RuntimeConfig")
            .field("limits", &self.limits)
            .field("env", &env)
            .field("cache_dir", &self.cache_dir)
            .field("max_instances", &self.max_instances)
            .field("instance_reuse", &self.instance_reuse)
            .field("preinitialize", &self.preinitialize)
            .field("allowed_outbound", &self.allowed_outbound)
            .field("outbound", &self.outbound)
            .field("key_value", &self.key_value)
            .field("key_value_stores", &self.key_value_stores)
            .field("variables", &self.variables)
            .finish()
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: GuestLimits::default(),
            env: Vec::new(),
            cache_dir: None,
            max_instances: 1000,
            instance_reuse: 0,
            preinitialize: true,
            allowed_outbound: Vec::new(),
            outbound: OutboundConfig::default(),
            key_value: None,
            key_value_stores: vec!["default".to_owned()],
            variables: BTreeMap::new(),
        }
    }
}

/// The default compiled-code cache directory: `$XDG_CACHE_HOME/edge-host`, else
/// `$HOME/.cache/edge-host`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|base| base.join("edge-host"))
}

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
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
}

impl ServerLimits {
    /// Refuses limits that would serve nothing: zero timeouts, no connection, no request.
    pub(crate) fn check(&self) -> Result<(), crate::ServeError> {
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
                self.h2_max_concurrent_streams == 0,
                "no HTTP/2 stream is allowed",
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
            h2_max_concurrent_streams: 128,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            tls: None,
            limits: ServerLimits::default(),
            shutdown_grace: Duration::from_secs(5),
            workers: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_environment_names_not_values() {
        let config = RuntimeConfig {
            env: vec![("API_TOKEN".to_owned(), "s3cr3t".to_owned())],
            ..RuntimeConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("API_TOKEN=<redacted>"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
