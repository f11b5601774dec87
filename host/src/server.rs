//! The listener: HTTP/1.1 with keep-alive, HTTP/2 by ALPN over TLS or with prior knowledge
//! (h2c) on a plain socket, connection and request limits, access logs, graceful shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;

use crate::app::set_spin_headers;
use crate::body::{CountedBody, LimitedBody};
use crate::runtime::{RequestContext, ResponseBody};
use crate::tls::Tls;
use crate::{App, RequestError, ServeError, ServerConfig, ServerLimits, problem};

/// A bound listener serving one component, or the routed components of an application.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
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
    app: App,
    limits: ServerLimits,
    https: bool,
    in_flight: Arc<Semaphore>,
    next_request_id: AtomicU64,
}

impl Server {
    /// Binds the listen address and prepares TLS; nothing is served until [`Server::run_until`].
    ///
    /// `app` is a [`crate::Runtime`] (one component for every path) or an [`App`].
    pub async fn bind(config: ServerConfig, app: impl Into<App>) -> Result<Self, ServeError> {
        config.limits.check()?;
        if config.workers > MAX_WORKERS {
            return Err(ServeError::Limit("more than 1024 worker threads"));
        }
        let tls = config.tls.as_ref().map(Tls::new).transpose()?;
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
            app: app.into(),
            https: tls.is_some(),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight)),
            limits: config.limits,
            next_request_id: AtomicU64::new(1),
        });
        Ok(Self {
            listener,
            local_addr,
            tls,
            shared,
            shutdown_grace: config.shutdown_grace,
            workers: config.workers,
        })
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
    /// the configured grace period to finish, and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Self {
            listener,
            tls,
            shared,
            shutdown_grace,
            workers,
            ..
        } = self;
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

        drop(listener);
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        let open = max_connections - connections.available_permits();
        tracing::info!(open_connections = open, grace = ?shutdown_grace, "shutting down: no longer accepting");
        // Connections finish their current requests and close; each returns its permit.
        let _ = stop_tx.send(true);
        let all_closed =
            connections.acquire_many(u32::try_from(max_connections).unwrap_or(u32::MAX));
        match tokio::time::timeout(shutdown_grace, all_closed).await {
            Ok(_) => tracing::info!("all connections finished"),
            Err(_) => tracing::warn!("grace period over, closing the remaining connections"),
        }
        // Whatever is left stops here, also for a library caller whose runtime goes on.
        tasks.shutdown().await;
        workers.stop().await;
        Ok(())
    }
}

/// The most worker threads a server starts.
pub const MAX_WORKERS: usize = 1024;

/// Threads serving connections, each on a single-threaded runtime of its own.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    next: std::sync::atomic::AtomicUsize,
    /// Dropped to stop the threads (their runtimes end with them).
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    async fn start(count: usize) -> Result<Self, ServeError> {
        let mut workers = Self {
            handles: Vec::with_capacity(count),
            next: std::sync::atomic::AtomicUsize::new(0),
            stop: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
        };
        for index in 0..count {
            let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            // The runtime is built, run and dropped on its own thread, never in the caller's
            // async context (where dropping a runtime is not allowed).
            let thread = std::thread::Builder::new()
                .name(format!("edge-host-worker-{index}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(err) => {
                            let _ = handle_tx.send(Err(err));
                            return;
                        }
                    };
                    if handle_tx.send(Ok(runtime.handle().clone())).is_err() {
                        return;
                    }
                    // Until the server is done with it (the sender dropped); what is left is
                    // cancelled as the runtime drops.
                    let _ = runtime.block_on(stop_rx);
                })
                .map_err(ServeError::Workers)?;
            workers.threads.push(thread);
            workers.stop.push(stop_tx);
            let handle = handle_rx
                .await
                .map_err(|_| {
                    ServeError::Workers(std::io::Error::other("a worker thread ended at start"))
                })?
                .map_err(ServeError::Workers)?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }

    /// The worker for the next connection (in turn), or `None` without workers.
    fn next(&self) -> Option<&tokio::runtime::Handle> {
        if self.handles.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.handles.get(turn % self.handles.len())
    }

    /// Stops the threads and waits until they have ended: whatever still ran there (a
    /// response streaming past the grace period, say) has been cancelled and dropped.
    async fn stop(self) {
        let Self { stop, threads, .. } = self;
        drop(stop);
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .filter_map(|thread| thread.join().err())
                .count()
        })
        .await;
        match joined {
            Ok(0) => {}
            Ok(panicked) => tracing::error!(panicked, "worker threads panicked"),
            Err(err) => tracing::error!("waiting for the worker threads failed: {err}"),
        }
    }
}

fn connection_builder(limits: &ServerLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(limits.h2_keep_alive)
        .keep_alive_timeout(limits.h2_keep_alive);
    builder
}

/// The byte stream under HTTP: a TCP socket, or TLS over one.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// One accepted connection.
struct Connection {
    peer: SocketAddr,
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, acceptor: Option<tokio_rustls::TlsAcceptor>) {
        let peer = self.peer;
        let io: Box<dyn Io> = match acceptor {
            None => Box::new(stream),
            Some(acceptor) => {
                let timeout = self.shared.limits.header_read_timeout;
                match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => Box::new(tls),
                    Ok(Err(err)) => {
                        tracing::debug!(client = %peer, "TLS handshake failed: {err}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(client = %peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        // A client that stops taking response bytes (a zero TCP or HTTP/2 window) makes a
        // write wait; past the send timeout the write fails and the connection ends, with
        // its requests and their in-flight slots.
        let activity = Arc::new(Activity::default());
        let mut io = TimeoutStream::new(Counting {
            inner: io,
            written: activity.clone(),
        });
        io.set_write_timeout(Some(self.shared.limits.send_timeout));
        let service = ConnService {
            shared: self.shared.clone(),
            peer,
            activity: activity.clone(),
        };
        let conn = self
            .builder
            .serve_connection(TokioIo::new(Box::pin(io)), service);
        tokio::pin!(conn);
        let mut stop = self.stop;
        let limits = &self.shared.limits;
        let mut closing = false;
        let result = loop {
            // Until its first request a connection gets the header-read timeout, whatever
            // the protocol (hyper's own header timer covers HTTP/1.1 requests only, not the
            // protocol detection, the HTTP/2 preface or silence after a TLS handshake).
            let limit = if activity.seen_any() {
                limits.idle_timeout
            } else {
                limits.header_read_timeout
            };
            let tick = limit.min(limits.send_timeout).min(Duration::from_secs(1));
            let idle_check = tokio::time::sleep(tick);
            tokio::select! {
                result = conn.as_mut() => break result,
                changed = stop.changed(), if !closing => {
                    // A send of `true` or the server going away: either way, wind down.
                    let _ = changed;
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = idle_check => {
                    if !closing && activity.idle_for().is_some_and(|idle| idle >= limit) {
                        tracing::debug!(client = %peer, "closing idle connection");
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    // A response that has bytes for the client but is not taken (a zero
                    // HTTP/2 window, a full TCP buffer) ends the connection, graceful or not.
                    if activity
                        .stalled_for()
                        .is_some_and(|stalled| stalled >= limits.send_timeout)
                    {
                        tracing::info!(client = %peer, "closing a connection whose client takes no response bytes");
                        break Ok(());
                    }
                }
            }
        };
        if let Err(err) = result {
            tracing::debug!(client = %peer, "connection ended with an error: {err}");
        }
    }
}

/// Requests in flight on one connection, since when it has had none, and which of its
/// responses wait for the client to take bytes.
#[derive(Debug)]
struct Activity {
    active: AtomicUsize,
    seen: AtomicBool,
    idle_since: Mutex<Instant>,
    /// Per response that has bytes ready the server has not asked for again: since when,
    /// and how many bytes the connection had written then.
    waiting: Mutex<HashMap<u64, (Instant, u64)>>,
    next_response: AtomicU64,
    /// Bytes written to the transport so far.
    written: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            active: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            waiting: Mutex::new(HashMap::new()),
            next_response: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }
}

/// One request in flight on a connection; dropping it (the response done, or the request
/// abandoned by the client) ends it.
struct Active(Arc<Activity>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl Activity {
    fn start(self: &Arc<Self>) -> Active {
        self.seen.store(true, Ordering::Release);
        self.active.fetch_add(1, Ordering::AcqRel);
        Active(self.clone())
    }

    fn finish(&self) {
        let mut since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        *since = Instant::now();
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a request has arrived on the connection.
    fn seen_any(&self) -> bool {
        self.seen.load(Ordering::Acquire)
    }

    /// How long a response has waited with the transport making no progress: no more than
    /// a few bytes written (HTTP/2 pings, say) since. A client that reads slowly but steadily
    /// moves the clock forward; one that takes nothing does not.
    fn stalled_for(&self) -> Option<Duration> {
        /// Less than this written means no progress.
        const PROGRESS: u64 = 1024;
        let written = self.written.load(Ordering::Relaxed);
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for (since, at) in waiting.values_mut() {
            if written.saturating_sub(*at) >= PROGRESS {
                *since = Instant::now();
                *at = written;
            }
        }
        waiting.values().map(|(since, _)| since.elapsed()).max()
    }

    /// A new response body to watch; it is waiting for the transport until first polled.
    fn watch(self: &Arc<Self>) -> Watched {
        let id = self.next_response.fetch_add(1, Ordering::Relaxed);
        self.set_waiting(id, true);
        Watched {
            activity: self.clone(),
            id,
        }
    }

    /// How long the connection has had no request in flight, or `None` while it has one.
    fn idle_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        Some(since.elapsed())
    }

    fn set_waiting(&self, id: u64, waiting: bool) {
        let mut map = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting {
            let written = self.written.load(Ordering::Relaxed);
            map.insert(id, (Instant::now(), written));
        } else {
            map.remove(&id);
        }
    }
}

/// The connection's transport, counting the bytes written for [`Activity::stalled_for`].
struct Counting<T> {
    inner: T,
    written: Arc<Activity>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            this.written.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            this.written.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One response body under watch (see [`Activity::stalled_for`]).
struct Watched {
    activity: Arc<Activity>,
    id: u64,
}

impl Watched {
    /// The server asked for the body's next frame: whatever it had was taken.
    fn polled(&self) {
        self.activity.set_waiting(self.id, false);
    }

    /// The body gave a frame: until the server asks again, the transport holds it up.
    fn gave_frame(&self) {
        self.activity.set_waiting(self.id, true);
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.activity.set_waiting(self.id, false);
    }
}

/// A response body that reports to its connection's [`Activity`] when the server takes
/// frames from it.
struct WatchedBody<B> {
    inner: B,
    watched: Watched,
}

impl<B: http_body::Body + Unpin> http_body::Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        this.watched.polled();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(_))) = &polled {
            this.watched.gave_frame();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The hyper service of one connection.
#[derive(Clone)]
struct ConnService {
    shared: Arc<Shared>,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<http::Request<Incoming>> for ConnService {
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let active = this.activity.start();
            Ok(this.shared.respond(req, this.peer, active).await)
        })
    }
}

impl Shared {
    /// Answers one request and arranges its access-log line for when the body is done.
    async fn respond(
        self: Arc<Self>,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        active: Active,
    ) -> http::Response<ResponseBody> {
        let start = Instant::now();
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), ToString::to_string);
        let version = req.version();

        // Held while the guest works on the request (streaming included), released when it
        // returns or is stopped; how fast the client reads is the connection's business.
        let response = match self.in_flight.clone().try_acquire_owned() {
            Ok(permit) => self.dispatch(req, peer, request_id, permit).await,
            Err(_) => Err(RequestError::Overloaded),
        };
        let response = response.unwrap_or_else(|err| {
            if err.is_guest_fault() {
                tracing::warn!(request_id, "answering {}: {err}", err.status().as_u16());
            } else {
                tracing::info!(request_id, "answering {}: {err}", err.status().as_u16());
            }
            problem::for_error(&err)
        });
        let status = response.status().as_u16();
        // No content for HEAD, whatever the guest wrote (hyper drops it on HTTP/1.1 only).
        let head = method == http::Method::HEAD;
        response.map(move |body| {
            let body = if head {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync()
            } else {
                body
            };
            let watched = active.0.watch();
            let body = WatchedBody {
                inner: body,
                watched,
            };
            CountedBody::new(body, move |bytes, complete| {
                // A HEAD answer has no content to complete: hyper never polls it.
                let complete = complete || head;
                drop(active);
                tracing::info!(
                    target: "access",
                    request_id,
                    client = %peer,
                    method = %method,
                    path = %path,
                    protocol = ?version,
                    status,
                    bytes,
                    complete,
                    duration_ms = start.elapsed().as_secs_f64() * 1000.0,
                );
            })
            .boxed_unsync()
        })
    }

    async fn dispatch(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        request_id: u64,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        let limit = self.limits.max_body_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(RequestError::BodyTooLarge { limit });
        }

        let (mut parts, body) = req.into_parts();
        let Some((runtime, spin)) = self.app.route(parts.uri.path()) else {
            return Err(RequestError::NoRoute(parts.uri.path().to_owned()));
        };
        let url = full_url(&parts, self.https);
        set_spin_headers(&mut parts.headers, spin, &url);
        set_forwarding_headers(&mut parts.headers, peer, self.https);
        let (body, exceeded) = LimitedBody::new(body, limit);
        let ctx = RequestContext {
            https: self.https,
            client_addr: Some(peer),
            request_id,
            guard: Some(Arc::new(permit)),
        };
        let result = runtime
            .handle(http::Request::from_parts(parts, body), ctx)
            .await;
        if exceeded.load(Ordering::Acquire) {
            return Err(RequestError::BodyTooLarge { limit });
        }
        result
    }
}

/// The URL the client asked for: scheme, authority (from the request target or `Host`),
/// path and query.
fn full_url(parts: &http::request::Parts, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("localhost");
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{authority}{path}")
}

/// Tells the guest who the client is. This host is the edge: whatever forwarding headers
/// the client sent are replaced, never trusted.
fn set_forwarding_headers(headers: &mut http::HeaderMap, peer: SocketAddr, https: bool) {
    let proto = if https { "https" } else { "http" };
    let ip = peer.ip().to_string();
    let node = match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let pairs = [
        ("x-forwarded-for", ip.clone()),
        ("x-forwarded-proto", proto.to_owned()),
        ("forwarded", format!("for={node};proto={proto}")),
        // Spin's name for the same thing, so guests written for Spin work unchanged.
        ("spin-client-addr", peer.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    // Other proxies' spellings, which only a proxy in front could have set: there is none.
    for name in ["x-forwarded-host", "x-forwarded-port", "x-real-ip"] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn workers_take_connections_in_turn_and_end_when_stopped() {
        let workers = Workers::start(2).await.expect("threads start");
        let mut names = Vec::new();
        for _ in 0..4 {
            let worker = workers.next().expect("two workers").clone();
            let name = worker
                .spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .expect("the task runs");
            names.push(name.unwrap_or_default());
        }
        assert_eq!(
            names,
            [
                "edge-host-worker-0",
                "edge-host-worker-1",
                "edge-host-worker-0",
                "edge-host-worker-1"
            ]
        );
        let handle = workers.next().expect("two workers").clone();
        workers.stop().await;
        // Its runtime is gone with its thread: nothing runs there any more.
        let late = handle.spawn(async {}).await;
        assert!(late.is_err_and(|err| err.is_cancelled()));

        let none = Workers::start(0).await.expect("no threads");
        assert!(none.next().is_none());
        none.stop().await;
    }

    #[test]
    fn a_response_stalls_only_while_the_transport_makes_no_progress() {
        let activity = Arc::new(Activity::default());
        assert_eq!(activity.stalled_for(), None);
        let watched = activity.watch();
        std::thread::sleep(Duration::from_millis(60));
        // A ping or two is no progress.
        activity.written.fetch_add(100, Ordering::Relaxed);
        assert!(activity.stalled_for() >= Some(Duration::from_millis(50)));
        // A slow reader taking bytes moves the clock forward.
        activity.written.fetch_add(4096, Ordering::Relaxed);
        assert!(activity.stalled_for() < Some(Duration::from_millis(50)));
        // Asked for its next frame: not waiting at all.
        watched.polled();
        assert_eq!(activity.stalled_for(), None);
        watched.gave_frame();
        assert!(activity.stalled_for().is_some());
        drop(watched);
        assert_eq!(activity.stalled_for(), None);
    }

    #[test]
    fn forwarding_headers_replace_client_supplied_ones() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        headers.insert("x-real-ip", HeaderValue::from_static("6.6.6.6"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        let peer: SocketAddr = "[::1]:4000".parse().expect("addr");
        set_forwarding_headers(&mut headers, peer, true);
        assert_eq!(headers["x-forwarded-for"], "::1");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["forwarded"], "for=\"[::1]\";proto=https");
        assert_eq!(headers["spin-client-addr"], "[::1]:4000");
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
        assert!(!headers.contains_key("x-real-ip"));
        assert!(!headers.contains_key("x-forwarded-host"));
    }
}
