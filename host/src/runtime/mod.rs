//! The component runtime: runs one `wasi:http` component. It compiles it (through the
//! code cache, pre-initialised where it can be), links WASI, `wasi:http` and the platform's
//! [`LinkerExtension`]s, and answers each request in a fresh store (or a reused one) under
//! the guest limits: memory, deadline, epoch yields. It knows no manifest and no server.
//!
//! | File | Concern |
//! | --- | --- |
//! | `concurrent.rs` | `wasi:http/handler@0.3` instances serving several requests at once ([`ConcurrentReuse`]) |
//! | `world.rs` | which `wasi:http` world a component exports ([`World`]) |
//! | `engine.rs` | [`Engine`]: the wasmtime engine, pooling allocator and epoch ticker shared by the components of an application |
//! | `config.rs` | [`RuntimeConfig`], [`GuestLimits`] |
//! | `extension.rs` | [`LinkerExtension`], [`OutgoingHttp`]: how platform interfaces plug in |
//! | `store.rs` | [`GuestState`], the data of one instance's store, and its memory limiter |
//! | `cache.rs` | the compiled-code cache |
//! | `preinit.rs` | pre-initialisation (`wizer-initialize`) |
//! | `stdio.rs` | guest stdout and stderr as log lines |
//! | `sockets.rs` | the `wasi:sockets` sockets guests hold, counted per instance and per process |
//! | `body.rs` | response bodies that fail when the guest did, request-body errors as `wasi:http` codes |

mod body;
mod cache;
mod componentize;
mod concurrent;
mod config;
mod engine;
mod extension;
mod preinit;
mod sockets;
mod stdio;
mod store;
mod traced;
mod world;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{PoolConcurrencyLimitError, Store, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::handler::{
    ExpirationError, InstantiationError, ProxyHandler, TrapOrPanicError,
};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

pub use self::concurrent::ConcurrentReuse;
pub use self::config::{GuestDir, GuestLimits, RuntimeConfig, default_cache_dir};
pub use self::engine::{Engine, EngineConfig};
pub use self::extension::{
    DEFAULT_CONNECT_TIMEOUT, LinkerExtension, OutgoingHooks, OutgoingHttp, OutgoingResult,
    SocketAddrUse, SocketCheck, SocketPolicy, SocketUses,
};
pub use self::sockets::{MAX_SOCKETS, sockets_held};
pub use self::store::GuestState;
pub use self::world::World;

use self::body::FaultAwareBody;
use self::extension::DenyOutgoing;
use self::stdio::{GuestOutput, OutputBudget};
use self::store::MemoryLimiter;
use crate::{LoadError, RequestContext, RequestError, ResponseBody};

/// A component compiled and pre-instantiated once, ready to serve requests: a
/// `wasi:http/incoming-handler@0.2` component in a fresh instance per request (or one reused
/// in turn, [`RuntimeConfig::instance_reuse`]), a `wasi:http/handler@0.3` component in
/// instances that serve several requests at once ([`RuntimeConfig::concurrent_reuse`]).
/// Cloning is cheap and shares the compiled code.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    kind: Kind,
    world: World,
    config: RuntimeConfig,
    /// Kept for its epoch ticker, which runs while a runtime of the engine lives.
    engine: Engine,
    /// Instances that served a request and may serve another (instance reuse only).
    idle: Mutex<Vec<Idle>>,
    /// Whether instances start from a pre-initialised snapshot.
    preinitialized: bool,
    /// Where the compiled code came from.
    code: cache::Source,
}

/// How the component's instances serve requests, by the world it exports.
enum Kind {
    /// `wasi:http/incoming-handler@0.2`: one request at a time per instance.
    P2(ProxyPre<GuestState>),
    /// `wasi:http/handler@0.3`: workers that take requests concurrently.
    P3(Box<concurrent::Services>),
}

impl engine::IdlePool for Inner {
    fn release(&self) -> usize {
        let released = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        // Dropped outside the lock: their stores return their pool slots.
        released.len()
    }
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
        if pool.len() < self.engine.config().max_instances as usize {
            pool.push(idle);
        }
    }
}

/// Refuses a guest directory that is not an absolute guest path to an existing host
/// directory.
fn check_dir(dir: &GuestDir) -> Result<(), LoadError> {
    let refuse = |reason: String| LoadError::Dir {
        host: dir.host().to_owned(),
        guest: dir.guest().to_owned(),
        reason,
    };
    let guest = dir.guest();
    if !guest.starts_with('/') || guest.split('/').any(|part| part == "." || part == "..") {
        return Err(refuse(
            "the guest path must be absolute, without `.` or `..`".to_owned(),
        ));
    }
    match std::fs::metadata(dir.host()) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(refuse("not a directory".to_owned())),
        Err(e) => Err(refuse(e.to_string())),
    }
}

/// A store for a new instance, with the guest's environment, output streams and limits.
fn new_store(engine: &wasmtime::Engine, config: &RuntimeConfig) -> Store<GuestState> {
    let request_id = Arc::new(AtomicU64::new(0));
    let budget = Arc::new(OutputBudget::new(config.limits.max_output_bytes));
    let mut wasi = WasiCtx::builder();
    wasi.envs(&config.env)
        .stdout(GuestOutput {
            request_id: request_id.clone(),
            stream: "stdout",
            budget: budget.clone(),
        })
        .stderr(GuestOutput {
            request_id: request_id.clone(),
            stream: "stderr",
            budget,
        });
    for dir in &config.dirs {
        // Checked at load; should the directory have gone since, the guest does without it
        // (its reads fail as they would on a missing file) rather than the request failing.
        if let Err(e) = wasi.preopened_dir(dir.host(), dir.guest(), FsPerms::ReadOnly) {
            tracing::warn!(host = %dir.host().display(), guest = dir.guest(), "cannot give the guest its directory: {e}");
        }
    }
    match &config.sockets {
        Some(policy) => {
            let uses = policy.uses();
            let policy = Arc::clone(policy);
            wasi.allow_tcp(uses.tcp)
                .allow_udp(uses.udp)
                .allow_ip_name_lookup(uses.name_lookup)
                .socket_addr_check(move |addr, usage| policy.check(addr, usage));
        }
        None => {
            wasi.allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false);
        }
    }
    let trace = traced::TraceSlot::default();
    let hooks: extension::OutgoingHooks = match &config.outgoing_http {
        Some(outgoing) => Box::new(traced::TracedHooks {
            inner: outgoing.hooks(),
            trace: trace.clone(),
        }),
        None => Box::new(DenyOutgoing),
    };
    // Resources live in host memory: a guest may hold only so many, of bounded size, at once
    // (wasmtime's defaults, a million entries and 128 KiB per header set, would let one
    // request pin gigabytes).
    let mut http = WasiHttpCtx::new();
    http.set_field_size_limit(config.limits.max_field_bytes);
    let mut table = ResourceTable::new();
    table.set_max_capacity(config.limits.max_resources);
    let mut state = GuestState {
        wasi: wasi.build(),
        http,
        table,
        hooks,
        extensions: http::Extensions::new(),
        limiter: MemoryLimiter::new(config.limits.max_memory_bytes),
        deadline: Instant::now(),
        request_id,
        trace,
        instance_fault: Arc::new(OnceLock::new()),
        socket_budget: sockets::SocketBudget::new(config.limits.max_sockets),
        connects: sockets::Connects::new(
            config
                .sockets
                .as_ref()
                .map_or(DEFAULT_CONNECT_TIMEOUT, |policy| policy.connect_timeout()),
        ),
    };
    for extension in &config.extensions {
        extension.init_store(&mut state);
    }
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    bound_component_model(&mut store, &config.limits);
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

/// Entries of wasmtime's concurrency table (tasks, waitables, stream and future ends) per
/// handle a guest may hold: a request on a 0.3 instance takes a few of each.
const CONCURRENT_ENTRIES_PER_HANDLE: usize = 4;

/// Bounds what a guest can make the host allocate through the component model itself, with
/// no host function in the loop: handles in its tables (`resource.new`, and for 0.3 guests
/// `stream.new`, `future.new`, waitable sets, subtasks: 100,000 by default), the entries
/// behind them in the store's concurrency table (a million by default), and the bytes one
/// host call may copy out of the guest (128 MiB by default; a list of strings that all point
/// at one buffer costs the host once per string). Past a bound the guest traps: its request
/// is answered 500 and its instance is never reused.
fn bound_component_model(store: &mut Store<GuestState>, limits: &GuestLimits) {
    store.set_max_component_handles(limits.max_resources);
    if let Some(table) = store.concurrent_resource_table() {
        table.set_max_capacity(
            limits
                .max_resources
                .saturating_mul(CONCURRENT_ENTRIES_PER_HANDLE),
        );
    }
    // No call needs to copy more than the guest's memory can hold.
    store.set_hostcall_fuel(limits.max_memory_bytes.clamp(1 << 20, 128 << 20));
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .field("engine", &self.inner.engine)
            .finish_non_exhaustive()
    }
}

/// A wasmtime error with its whole chain of causes, on one line (some parser messages span
/// several).
pub(crate) fn chain(err: &wasmtime::Error) -> String {
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
    /// Reads, compiles and pre-instantiates the component at `path`, on an engine of its
    /// own sized from `config`.
    pub fn load(path: &Path, config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine = Engine::new(&EngineConfig::from(&config))?;
        Self::load_in(&engine, path, config)
    }

    /// Reads, compiles and pre-instantiates the component at `path` on a shared `engine`:
    /// every component of an application shares one engine and its pooling allocator.
    pub fn load_in(engine: &Engine, path: &Path, config: RuntimeConfig) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes_in(engine, &bytes, path, config)
    }

    /// Compiles and pre-instantiates a component from its bytes, on an engine of its own;
    /// `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine = Engine::new(&EngineConfig::from(&config))?;
        Self::from_bytes_in(&engine, bytes, path, config)
    }

    /// Compiles and pre-instantiates a component from its bytes on a shared `engine`.
    pub fn from_bytes_in(
        shared: &Engine,
        bytes: &[u8],
        path: &Path,
        config: RuntimeConfig,
    ) -> Result<Self, LoadError> {
        for dir in &config.dirs {
            check_dir(dir)?;
        }
        let ceiling = shared.config().max_memory_bytes;
        if config.limits.max_memory_bytes > ceiling {
            return Err(LoadError::Engine(format!(
                "the memory limit of {} ({} bytes) is above its engine's ({ceiling} bytes)",
                path.display(),
                config.limits.max_memory_bytes
            )));
        }
        let engine = shared.wasmtime();
        let started = Instant::now();
        let dir = config.cache_dir.as_deref();
        let not_a_component = |err: wasmtime::Error| LoadError::NotAComponent {
            path: path.to_owned(),
            reason: chain(&err),
        };
        // A core module (as Spin takes them) becomes a component first; its compiled code
        // is cached under the module's bytes, so a later start skips the conversion too.
        let core_module = componentize::is_core_module(bytes);
        // Pre-initialised code is cached under a key of its own; a failed pre-initialisation
        // caches nothing there (so it is tried again at the next start) and falls back to the
        // component as it is.
        let mut preinitialized = None;
        if !core_module && config.preinitialize && preinit::exports_init(bytes) {
            let build = || {
                let snapshot =
                    preinit::preinitialize(bytes, config.limits.max_memory_bytes, preinit::FUEL)?;
                Component::from_binary(engine, &snapshot)
            };
            let variant = preinit::cache_variant(config.limits.max_memory_bytes, preinit::FUEL);
            match cache::load_or_build(engine, bytes, dir, &variant, build) {
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
            None if core_module => {
                let variant = "componentized core module";
                cache::load_or_build(engine, bytes, dir, variant, || {
                    let component =
                        componentize::componentize(bytes).map_err(wasmtime::Error::msg)?;
                    Component::from_binary(engine, &component)
                })
                .map_err(not_a_component)?
            }
            None => cache::load_or_build(engine, bytes, dir, "", || {
                Component::from_binary(engine, bytes)
            })
            .map_err(|err| {
                // "Not a component" only when it is not one.
                if wasmparser::Parser::is_component(bytes) {
                    LoadError::Compile {
                        path: path.to_owned(),
                        reason: chain(&err),
                    }
                } else {
                    not_a_component(err)
                }
            })?,
        };
        tracing::info!(
            component = %path.display(),
            code = ?source,
            preinitialized = is_preinitialized,
            core_module,
            ms = started.elapsed().as_millis() as u64,
            "component ready"
        );

        let world =
            world::detect(&component, engine).map_err(|exports| LoadError::NotAHandler {
                path: path.to_owned(),
                exports: if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                },
            })?;

        // WASI 0.2 and 0.3 side by side: a 0.3 component built with Rust's std imports the
        // 0.2 interfaces too.
        let mut linker = Linker::<GuestState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| wasmtime_wasi::p3::add_to_linker(&mut linker))
            .and_then(|()| wasmtime_wasi_http::p3::add_to_linker(&mut linker))
            .and_then(|()| sockets::add_to_linker(&mut linker))
            .map_err(|err| LoadError::Engine(chain(&err)))?;
        for extension in &config.extensions {
            extension.add_to_linker(&mut linker).map_err(|err| {
                LoadError::Engine(format!("{}: {}", extension.name(), chain(&err)))
            })?;
        }
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|err| LoadError::Link {
                path: path.to_owned(),
                world,
                reason: chain(&err),
            })?;
        let not_a_handler = |err: wasmtime::Error| LoadError::Link {
            path: path.to_owned(),
            world,
            reason: chain(&err),
        };
        let kind = match world {
            World::Proxy02 => Kind::P2(ProxyPre::new(instance_pre).map_err(not_a_handler)?),
            World::Service03 => {
                let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(instance_pre)
                    .map_err(not_a_handler)?;
                let idle = Arc::new(concurrent::IdleWorkers::default());
                let pool: Arc<dyn engine::IdlePool> = idle.clone();
                shared.register_idle_pool(Arc::downgrade(&pool));
                // Keeps the pool registered for as long as the workers can use it.
                Kind::P3(Box::new(concurrent::Services::new(concurrent::Service {
                    pre,
                    config: config.clone(),
                    engine: shared.clone(),
                    idle,
                })))
            }
        };

        let reuse = matches!(kind, Kind::P2(_)) && config.instance_reuse > 1;
        let inner = Arc::new(Inner {
            kind,
            world,
            config,
            engine: shared.clone(),
            idle: Mutex::new(Vec::new()),
            preinitialized: is_preinitialized,
            code: source,
        });
        if reuse {
            let pool: Arc<dyn engine::IdlePool> = inner.clone();
            shared.register_idle_pool(Arc::downgrade(&pool));
        }
        Ok(Self { inner })
    }

    /// The `wasi:http` world the component exports.
    pub fn world(&self) -> World {
        self.inner.world
    }

    /// The engine the component runs on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
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

    /// Where the component's compiled code came from at load: `hit` (the code cache),
    /// `compiled` (and stored in it) or `uncached` (compiled; no cache, or it could not be
    /// written).
    pub fn code_source(&self) -> &'static str {
        match self.inner.code {
            cache::Source::Hit => "hit",
            cache::Source::Compiled => "compiled",
            cache::Source::Uncached => "uncached",
        }
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
        match &self.inner.kind {
            Kind::P2(pre) => self.handle_p2(pre, req, ctx).await,
            Kind::P3(services) => self.handle_p3(&services.for_this_thread(), req, ctx).await,
        }
    }

    /// Hands a request to a worker of a 0.3 component; its response head comes back, its
    /// body streams from the instance, which the server's in-flight permit stays with until
    /// the body is done.
    async fn handle_p3<B>(
        &self,
        handler: &ProxyHandler<concurrent::Service>,
        req: http::Request<B>,
        ctx: RequestContext,
    ) -> Result<http::Response<ResponseBody>, RequestError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let deadline = self.inner.config.limits.deadline;
        let req =
            with_absolute_uri(req, ctx.https)?.map(|body| body.map_err(Into::into).boxed_unsync());
        let instance_fault = Arc::new(OnceLock::new());
        let data = concurrent::RequestData {
            request_id: ctx.request_id,
            trace: req
                .extensions()
                .get::<crate::trace::TraceContext>()
                .cloned(),
            instance_fault: instance_fault.clone(),
        };
        // The worker's own expiry stops the instance; this one answers the request in time
        // even while the instance is busy computing for another.
        let handled = tokio::select! {
            handled = tokio::time::timeout(deadline, handler.handle(data, req)) => handled,
            () = ctx.stop.stopped() => return Err(RequestError::ShutDown),
        };
        let response = match handled {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                let fault = classify_p3(&err, deadline);
                tracing::warn!(request_id = ctx.request_id, "guest fault: {fault}");
                return Err(fault);
            }
            Err(_elapsed) => {
                let fault = RequestError::DeadlineExceeded(deadline);
                tracing::warn!(request_id = ctx.request_id, "guest fault: {fault}");
                return Err(fault);
            }
        };
        // The fault of the instance that answered, once it took the request.
        let fault = instance_fault.get().cloned().unwrap_or_default();
        Ok(response.map(|body| {
            FaultAwareBody::new(body, fault)
                .with_guard(ctx.guard)
                .boxed_unsync()
        }))
    }

    /// Runs a request in an instance of a 0.2 component of its own (or an idle one).
    async fn handle_p2<B>(
        &self,
        pre: &ProxyPre<GuestState>,
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
            None => (new_store(pre.engine(), &self.inner.config), None, 0),
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
            *state.trace.lock().unwrap_or_else(|p| p.into_inner()) = req
                .extensions()
                .get::<crate::trace::TraceContext>()
                .cloned();
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
        let pre = pre.clone();
        let request_id = ctx.request_id;
        let guard = ctx.guard;
        let stop = ctx.stop;
        // Set when the guest fails, before its store (and with it the body's sender) drops.
        let fault = Arc::new(OnceLock::new());
        let task_fault = fault.clone();
        let task = tokio::task::spawn(async move {
            let _guard = guard;
            let run = async {
                let proxy = match proxy.take() {
                    Some(proxy) => proxy,
                    None => match pre.instantiate_async(&mut store).await {
                        Ok(proxy) => proxy,
                        // The pool the application shares is full: idle instances (of
                        // any of its components) give their slots to this request.
                        Err(err)
                            if err.is::<PoolConcurrencyLimitError>()
                                && inner.engine.release_idle() > 0 =>
                        {
                            pre.instantiate_async(&mut store).await?
                        }
                        Err(err) => return Err(err),
                    },
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await?;
                Ok::<_, wasmtime::Error>(proxy)
            };
            // A guest may work on after its response; a server that stops waiting stops it.
            let ran = tokio::select! {
                ran = tokio::time::timeout(deadline, run) => Some(ran),
                () = stop.stopped() => None,
            };
            let outcome = match ran {
                Some(Ok(Ok(proxy))) => {
                    inner.put_idle(Idle {
                        store,
                        proxy,
                        served: served + 1,
                    });
                    Ok(())
                }
                Some(Ok(Err(err))) => Err(classify(&err, &store, deadline)),
                Some(Err(_elapsed)) => Err(RequestError::DeadlineExceeded(deadline)),
                None => Err(RequestError::ShutDown),
            };
            match &outcome {
                Err(RequestError::ShutDown) => {
                    tracing::info!(
                        request_id,
                        "guest stopped: the shutdown grace period is over"
                    );
                }
                Err(fault) => tracing::warn!(request_id, "guest fault: {fault}"),
                Ok(()) => {}
            }
            if let Err(fault) = &outcome {
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

/// Maps a failed 0.3 request to the request error it stands for.
fn classify_p3(err: &wasmtime::Error, deadline: Duration) -> RequestError {
    if err.is::<ExpirationError>() || err.is::<DeadlinePassed>() {
        return RequestError::DeadlineExceeded(deadline);
    }
    if err.is::<TrapOrPanicError>() {
        // The instance failed with this request in flight; the worker logs why.
        return RequestError::Trap("the instance serving the request failed".to_owned());
    }
    if let Some(failed) = err.downcast_ref::<InstantiationError<concurrent::RequestData>>() {
        if failed.error.is::<PoolConcurrencyLimitError>() {
            return RequestError::Overloaded;
        }
        return RequestError::Host(format!(
            "cannot instantiate the component: {}",
            chain(&failed.error)
        ));
    }
    if let Some(code) =
        err.downcast_ref::<wasmtime_wasi_http::p3::bindings::http::types::ErrorCode>()
    {
        return RequestError::Guest(format!("{code:?}"));
    }
    RequestError::Trap(chain(err))
}

/// The request with an absolute URI, which is how a 0.3 guest learns the scheme and
/// authority: the scheme of the connection, the authority of the request line or else of
/// its `Host` header.
fn with_absolute_uri<B>(
    req: http::Request<B>,
    https: bool,
) -> Result<http::Request<B>, RequestError> {
    let (mut parts, body) = req.into_parts();
    let authority = match parts.uri.authority() {
        Some(authority) => Some(authority.clone()),
        None => parts
            .headers
            .get(http::header::HOST)
            .map(|host| {
                http::uri::Authority::try_from(host.as_bytes())
                    .map_err(|err| RequestError::BadRequest(format!("invalid Host header: {err}")))
            })
            .transpose()?,
    };
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.scheme = Some(if https {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    match authority {
        Some(authority) => uri.authority = Some(authority),
        None => {
            return Err(RequestError::BadRequest(
                "the request names no authority (no Host header)".to_owned(),
            ));
        }
    }
    parts.uri = http::Uri::from_parts(uri)
        .map_err(|err| RequestError::BadRequest(format!("invalid request target: {err}")))?;
    Ok(http::Request::from_parts(parts, body))
}

/// Raised from the epoch callback when a guest computes past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the guest ran past its deadline")]
struct DeadlinePassed;

#[cfg(test)]
mod tests {
    use super::*;

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
