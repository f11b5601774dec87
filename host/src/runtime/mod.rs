//! Everything that touches wasmtime: the engine, compiling and pre-instantiating the
//! component, and running one request in a fresh store with its limits.

mod cache;
mod preinit;
mod stdio;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError,
    PoolingAllocationConfig, ResourceLimiter, Store, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use self::stdio::GuestOutput;
use crate::body::FaultAwareBody;
use crate::platform::{Platform, PlatformState, PlatformView};
use crate::{CircuitBreakers, KeyValue, LoadError, OutboundConfig, RequestError, RuntimeConfig};

/// The body of a response from the guest (or from the host on its behalf).
pub type ResponseBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// What the host knows about a request beyond the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Whether the request arrived over TLS; the guest sees the `https` scheme if so.
    pub https: bool,
    /// The client's address, when there is a client socket.
    pub client_addr: Option<SocketAddr>,
    /// Identifies the request in the log lines of the host and of the guest's output.
    pub request_id: u64,
    /// Held while the guest works on the request and released when it returns or is
    /// stopped (the server's in-flight permit): a client that reads its response slowly
    /// keeps the connection, not a slot for requests being handled.
    pub guard: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// A component compiled and pre-instantiated once, ready to serve requests, each in a
/// fresh instance. Cloning is cheap and shares the compiled code.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    pre: ProxyPre<GuestState>,
    config: RuntimeConfig,
    stop_ticker: Arc<AtomicBool>,
    /// Instances that served a request and may serve another (instance reuse only).
    idle: Mutex<Vec<Idle>>,
    /// `config.allowed_outbound`, shared by every store.
    allowed_outbound: Arc<[crate::OutboundRule]>,
    /// Circuits of the upstreams this component calls.
    breakers: CircuitBreakers,
    /// Key-value stores and variables.
    platform: Platform,
    /// Whether instances start from a pre-initialised snapshot.
    preinitialized: bool,
}

/// An instance kept for its next request.
struct Idle {
    store: Store<GuestState>,
    proxy: Proxy,
    served: u32,
}

impl Inner {
    fn take_idle(&self) -> Option<Idle> {
        if self.config.instance_reuse <= 1 {
            return None;
        }
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Keeps an instance that completed a request cleanly, if reuse allows another.
    fn put_idle(&self, idle: Idle) {
        if idle.served >= self.config.instance_reuse {
            return;
        }
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Never keep more idle instances than could run at once.
        if pool.len() < self.config.max_instances as usize {
            pool.push(idle);
        }
    }

    /// A store for a new instance, with the guest's environment, output streams and limits.
    fn new_store(&self) -> Store<GuestState> {
        let request_id = Arc::new(AtomicU64::new(0));
        let mut wasi = WasiCtx::builder();
        wasi.envs(&self.config.env)
            .stdout(GuestOutput {
                request_id: request_id.clone(),
                stream: "stdout",
            })
            .stderr(GuestOutput {
                request_id: request_id.clone(),
                stream: "stderr",
            });
        let state = GuestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundPolicy {
                allowed: self.allowed_outbound.clone(),
                breakers: self.breakers.clone(),
                limits: self.config.outbound.clone(),
            },
            platform: self.platform.clone(),
            open_stores: 0,
            limiter: MemoryLimiter {
                max_bytes: self.config.limits.max_memory_bytes,
                exceeded: false,
            },
            deadline: Instant::now(),
            request_id,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlinePassed))
            } else {
                // tokio's own yield: the scheduler then polls its I/O and timers before
                // running the guest again, so a spinning guest starves nothing, even on a
                // current-thread runtime (wasmtime's generic yield re-queues the task at once).
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Bytes of each pooled memory kept resident between instances (reset with memset).
const KEEP_RESIDENT: usize = 2 << 20;

/// A wasmtime error with its whole chain of causes, on one line (some parser messages span
/// several).
fn chain(err: &wasmtime::Error) -> String {
    err.chain()
        .map(|cause| {
            cause
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(": ")
}

impl Runtime {
    /// Reads, compiles and pre-instantiates the component at `path`.
    pub fn load(path: &Path, config: RuntimeConfig) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, path, config)
    }

    /// Compiles and pre-instantiates a component from its bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine = Self::engine(&config)?;
        let started = Instant::now();
        let dir = config.cache_dir.as_deref();
        let not_a_component = |err: wasmtime::Error| LoadError::NotAComponent {
            path: path.to_owned(),
            reason: chain(&err),
        };
        // Pre-initialised code is cached under a key of its own; a failed pre-initialisation
        // caches nothing there (so it is tried again at the next start) and falls back to the
        // component as it is.
        let mut preinitialized = None;
        if config.preinitialize && preinit::exports_init(bytes) {
            let build = || {
                let snapshot =
                    preinit::preinitialize(bytes, config.limits.max_memory_bytes, preinit::FUEL)?;
                Component::from_binary(&engine, &snapshot)
            };
            let variant = preinit::cache_variant(config.limits.max_memory_bytes, preinit::FUEL);
            match cache::load_or_build(&engine, bytes, dir, &variant, build) {
                Ok(found) => preinitialized = Some(found),
                Err(err) => tracing::warn!(
                    component = %path.display(),
                    "pre-initialisation failed, each instance initialises itself: {}",
                    chain(&err)
                ),
            }
        }
        let is_preinitialized = preinitialized.is_some();
        let (component, source) = match preinitialized {
            Some(found) => found,
            None => cache::load_or_build(&engine, bytes, dir, "", || {
                Component::from_binary(&engine, bytes)
            })
            .map_err(not_a_component)?,
        };
        tracing::info!(
            component = %path.display(),
            code = ?source,
            preinitialized = is_preinitialized,
            ms = started.elapsed().as_millis() as u64,
            "component ready"
        );

        let mut linker = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| crate::platform::add_to_linker(&mut linker))
            .map_err(|err| LoadError::Engine(chain(&err)))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|err| LoadError::Link {
                path: path.to_owned(),
                reason: chain(&err),
            })?;
        let pre = ProxyPre::new(instance_pre).map_err(|err| LoadError::NotAHandler {
            path: path.to_owned(),
            reason: chain(&err),
        })?;

        let allowed_outbound = config.allowed_outbound.clone().into();
        let key_value = match &config.key_value {
            Some(key_value) => key_value.clone(),
            None => KeyValue::in_memory()?,
        };
        let platform = Platform {
            key_value,
            stores: config.key_value_stores.clone().into(),
            variables: Arc::new(config.variables.clone()),
        };
        let breakers = CircuitBreakers::new(config.outbound.breaker.clone());
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, config.limits.epoch_tick, stop_ticker.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                pre,
                config,
                stop_ticker,
                idle: Mutex::new(Vec::new()),
                allowed_outbound,
                breakers,
                platform,
                preinitialized: is_preinitialized,
            }),
        })
    }

    /// The engine: epoch interruption for deadlines, and the pooling allocator (instances
    /// and memories reserved up front, memory initialised copy-on-write from the
    /// component's image) sized from the limits. Where the pool's address space cannot be
    /// reserved, instances are allocated on demand instead.
    fn engine(runtime: &RuntimeConfig) -> Result<Engine, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let slots = runtime.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            // A std guest is a few core instances (the program, wasi adapters, shims).
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(8))
            .total_stacks(slots)
            .max_memory_size(runtime.limits.max_memory_bytes)
            // Reset the first pages of a slot with memset instead of returning them to the
            // kernel: madvise on every request costs page faults and cross-core TLB
            // shootdowns, the largest cost per request in profiles.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT / 16)
            .async_stack_keep_resident(KEEP_RESIDENT / 16)
            // Return what remains to the kernel in batches, with fewer TLB shootdowns.
            .decommit_batch_size(64)
            .pagemap_scan(Enabled::Auto);
        let mut pooled = config.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&pooled) {
            Ok(engine) => Ok(engine),
            Err(err) => {
                tracing::warn!(
                    "pooling allocator unavailable ({}); allocating on demand",
                    chain(&err)
                );
                Engine::new(&config).map_err(|err| LoadError::Engine(chain(&err)))
            }
        }
    }

    /// The configuration this runtime was loaded with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Whether instances start from a snapshot taken after the component's
    /// `wizer-initialize` export ran at load ([`RuntimeConfig::preinitialize`]); `false` when
    /// it exports none, pre-initialisation is off or it failed.
    pub fn is_preinitialized(&self) -> bool {
        self.inner.preinitialized
    }

    /// Runs one request through a fresh instance of the component (or, with instance reuse
    /// on, through an instance that completed fewer than `instance_reuse` requests cleanly).
    ///
    /// Returns as soon as the guest has set the response head; the body keeps streaming from
    /// the guest, which goes on running in its own task until it returns or its deadline
    /// passes. Faults after the head was sent end the body with an error and are logged.
    pub async fn handle<B>(
        &self,
        req: http::Request<B>,
        ctx: RequestContext,
    ) -> Result<http::Response<ResponseBody>, RequestError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let deadline = self.inner.config.limits.deadline;
        let (mut store, mut proxy, served) = match self.inner.take_idle() {
            Some(idle) => (idle.store, Some(idle.proxy), idle.served),
            None => (self.inner.new_store(), None, 0),
        };
        {
            let state = store.data_mut();
            // A deadline beyond what `Instant` holds is no deadline.
            let now = Instant::now();
            state.deadline = now
                .checked_add(deadline)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                .unwrap_or(now);
            state.limiter.exceeded = false;
            state.request_id.store(ctx.request_id, Ordering::Relaxed);
        }
        store.set_epoch_deadline(1);

        let scheme = if ctx.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let (sender, receiver) = oneshot::channel();
        let (req, out) = {
            let mut http = store.data_mut().http();
            let req = http
                .new_incoming_request(scheme, req)
                .map_err(|err| RequestError::BadRequest(chain(&err)))?;
            let out = http
                .new_response_outparam(sender)
                .map_err(|err| RequestError::Host(chain(&err)))?;
            (req, out)
        };

        let inner = self.inner.clone();
        let request_id = ctx.request_id;
        let guard = ctx.guard;
        // Set when the guest fails, before its store (and with it the body's sender) drops.
        let fault = Arc::new(OnceLock::new());
        let task_fault = fault.clone();
        let task = tokio::task::spawn(async move {
            let _guard = guard;
            let run = async {
                let proxy = match proxy.take() {
                    Some(proxy) => proxy,
                    None => inner.pre.instantiate_async(&mut store).await?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await?;
                Ok::<_, wasmtime::Error>(proxy)
            };
            let outcome = match tokio::time::timeout(deadline, run).await {
                Ok(Ok(proxy)) => {
                    inner.put_idle(Idle {
                        store,
                        proxy,
                        served: served + 1,
                    });
                    Ok(())
                }
                Ok(Err(err)) => Err(classify(&err, &store, deadline)),
                Err(_elapsed) => Err(RequestError::DeadlineExceeded(deadline)),
            };
            if let Err(fault) = &outcome {
                tracing::warn!(request_id, "guest fault: {fault}");
                let _ = task_fault.set(fault.clone());
            }
            outcome
        });

        // Until the head is set, the guest runs for this call alone: if the caller goes away
        // (a client that resets its stream, a server shutting down), so does the guest,
        // instead of running on to its deadline outside every limit.
        let mut abort = AbortOnDrop(Some(task.abort_handle()));
        match receiver.await {
            Ok(Ok(response)) => {
                // From here on the guest streams the body, which has its own owner.
                abort.0 = None;
                Ok(response.map(|body| FaultAwareBody::new(body, fault).boxed_unsync()))
            }
            Ok(Err(code)) => {
                // An answer too: the guest may finish what it is doing.
                abort.0 = None;
                Err(RequestError::Guest(describe_error_code(&code)))
            }
            // The outparam was dropped unset: the task tells why.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(RequestError::NoResponse),
                Ok(Err(fault)) => Err(fault),
                Err(join) => Err(RequestError::Host(format!("the guest task failed: {join}"))),
            },
        }
    }
}

/// Aborts a task when dropped, unless disarmed (set to `None`).
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn describe_error_code(code: &ErrorCode) -> String {
    format!("{code:?}")
}

/// Maps a failed guest call to the request error it stands for.
fn classify(err: &wasmtime::Error, store: &Store<GuestState>, deadline: Duration) -> RequestError {
    if err.is::<DeadlinePassed>() {
        return RequestError::DeadlineExceeded(deadline);
    }
    if err.is::<PoolConcurrencyLimitError>() {
        return RequestError::Overloaded;
    }
    let limiter = &store.data().limiter;
    if limiter.exceeded {
        return RequestError::MemoryExceeded {
            limit: limiter.max_bytes,
        };
    }
    RequestError::Trap(chain(err))
}

/// Raised from the epoch callback when a guest computes past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the guest ran past its deadline")]
struct DeadlinePassed;

/// Advances the engine's epoch every `tick` so running guests check their deadline, until
/// `stop` is set or the engine is gone.
fn spawn_epoch_ticker(engine: &Engine, tick: Duration, stop: Arc<AtomicBool>) {
    let engine = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("epoch-ticker".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(tick);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(err) = spawned {
        // Without the ticker, guests still stop at the tokio deadline whenever they yield.
        tracing::error!("cannot start the epoch ticker thread: {err}");
    }
}

/// The data of one request's store.
struct GuestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundPolicy,
    platform: Platform,
    open_stores: usize,
    limiter: MemoryLimiter,
    deadline: Instant,
    /// The request being served, for the guest's output lines.
    request_id: Arc<AtomicU64>,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl PlatformState for GuestState {
    fn platform(&mut self) -> PlatformView<'_> {
        PlatformView {
            platform: &self.platform,
            open_stores: &mut self.open_stores,
            table: &mut self.table,
        }
    }
}

/// Outbound HTTP from guests: requests to a destination on the allow-list are sent, within
/// the host's timeouts and through the upstream's circuit breaker; others get
/// `HTTP-request-denied` at once, never a hang.
struct OutboundPolicy {
    allowed: Arc<[crate::OutboundRule]>,
    breakers: CircuitBreakers,
    limits: OutboundConfig,
}

type OutgoingResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        if !crate::outbound::allowed(&self.allowed, request.uri()) {
            tracing::warn!(
                upstream = %upstream_key(request.uri()),
                "outbound request denied: not in the allowed hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let upstream = upstream_key(request.uri());
        let permit = match self.breakers.try_acquire(&upstream) {
            Ok(permit) => permit,
            Err(open) => {
                tracing::warn!(%upstream, "outbound request failed fast: {open}");
                let message = open.to_string();
                return Box::new(async move {
                    Err(wasmtime_wasi_http::Error::InternalError(Some(message)))
                });
            }
        };
        let options = cap_timeouts(options, &self.limits);
        Box::new(async move {
            match wasmtime_wasi_http::default_send_request(request, Some(options)).await {
                Ok((res, io)) => {
                    if res.status().is_server_error() {
                        permit.failure();
                    } else {
                        permit.success();
                    }
                    Ok((
                        res.map(BodyExt::boxed_unsync),
                        Box::new(io) as Box<dyn Future<Output = _> + Send>,
                    ))
                }
                Err(err) => {
                    tracing::info!(%upstream, "outbound request failed: {err:?}");
                    permit.failure();
                    Err(err)
                }
            }
        })
    }
}

/// The circuit an outbound request belongs to: `scheme://authority`.
/// The circuit an outbound request belongs to, `scheme://host:port` with the host in lower
/// case and the port made explicit; no user info, path or query (which may hold secrets).
fn upstream_key(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{host}:{port}")
}

/// The guest's timeouts, never longer than the host's.
fn cap_timeouts(
    options: Option<wasmtime_wasi_http::RequestOptions>,
    limits: &OutboundConfig,
) -> wasmtime_wasi_http::RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |a| a.min(max)));
    wasmtime_wasi_http::RequestOptions {
        connect_timeout: cap(options.connect_timeout, limits.connect_timeout),
        first_byte_timeout: cap(options.first_byte_timeout, limits.first_byte_timeout),
        // The host has no separate setting: a pause between body chunks gets as long as the
        // wait for the head.
        between_bytes_timeout: cap(options.between_bytes_timeout, limits.first_byte_timeout),
    }
}

/// Caps linear memory growth and remembers whether the cap was hit.
struct MemoryLimiter {
    max_bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_keys_are_normalised_and_carry_no_secrets() {
        let key = |uri: &str| upstream_key(&uri.parse().expect("uri"));
        assert_eq!(
            key("http://API.example.com/x?token=1"),
            "http://api.example.com:80"
        );
        assert_eq!(
            key("https://u:p@api.example.com:8443/"),
            "https://api.example.com:8443"
        );
        assert_eq!(
            key("https://api.example.com"),
            key("https://api.example.com:443/y")
        );
    }

    /// A component whose initialiser traps is loaded as it is: the load goes on to link and
    /// check it (this one exports no handler, the error it then gets), the failed
    /// pre-initialisation is no error of its own.
    #[test]
    fn a_failing_initialiser_does_not_fail_the_load() -> Result<(), Box<dyn std::error::Error>> {
        let bytes = wat::parse_str(
            r#"
            (component
              (core module $m (func (export "init") unreachable))
              (core instance $i (instantiate $m))
              (func (export "wizer-initialize") (canon lift (core func $i "init"))))
            "#,
        )?;
        assert!(preinit::exports_init(&bytes));
        let err = Runtime::from_bytes(&bytes, Path::new("trap.wasm"), RuntimeConfig::default())
            .err()
            .ok_or("a component without a handler does not load")?;
        assert!(matches!(err, LoadError::NotAHandler { .. }), "{err}");
        Ok(())
    }
}
