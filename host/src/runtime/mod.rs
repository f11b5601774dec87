//! Everything that touches wasmtime: the engine, compiling and pre-instantiating the
//! component, and running one request in a fresh store with its limits.

mod stdio;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use self::stdio::GuestOutput;
use crate::body::FaultAwareBody;
use crate::{LoadError, RequestError, RuntimeConfig};

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
        let engine = Self::engine()?;
        let component =
            Component::from_binary(&engine, bytes).map_err(|err| LoadError::NotAComponent {
                path: path.to_owned(),
                reason: chain(&err),
            })?;

        let mut linker = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
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

        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, config.limits.epoch_tick, stop_ticker.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                pre,
                config,
                stop_ticker,
            }),
        })
    }

    fn engine() -> Result<Engine, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        Engine::new(&config).map_err(|err| LoadError::Engine(chain(&err)))
    }

    /// The configuration this runtime was loaded with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Runs one request through a fresh instance of the component.
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
        let limits = &self.inner.config.limits;
        let deadline = limits.deadline;
        let mut wasi = WasiCtx::builder();
        wasi.envs(&self.inner.config.env)
            .stdout(GuestOutput {
                request_id: ctx.request_id,
                stream: "stdout",
            })
            .stderr(GuestOutput {
                request_id: ctx.request_id,
                stream: "stderr",
            });
        let state = GuestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundPolicy,
            limiter: MemoryLimiter {
                max_bytes: limits.max_memory_bytes,
                exceeded: false,
            },
            deadline: Instant::now() + deadline,
        };
        let mut store = Store::new(self.inner.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlinePassed))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

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

        let pre = self.inner.pre.clone();
        let request_id = ctx.request_id;
        // Set when the guest fails, before its store (and with it the body's sender) drops.
        let fault = Arc::new(OnceLock::new());
        let task_fault = fault.clone();
        let task = tokio::task::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            let outcome = match tokio::time::timeout(deadline, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(classify(&err, &store, deadline)),
                Err(_elapsed) => Err(RequestError::DeadlineExceeded(deadline)),
            };
            if let Err(fault) = &outcome {
                tracing::warn!(request_id, "guest fault: {fault}");
                let _ = task_fault.set(fault.clone());
            }
            outcome
        });

        match receiver.await {
            Ok(Ok(response)) => {
                Ok(response.map(|body| FaultAwareBody::new(body, fault).boxed_unsync()))
            }
            Ok(Err(code)) => Err(RequestError::Guest(describe_error_code(&code))),
            // The outparam was dropped unset: the task tells why.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(RequestError::NoResponse),
                Ok(Err(fault)) => Err(fault),
                Err(join) => Err(RequestError::Host(format!("the guest task failed: {join}"))),
            },
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
    limiter: MemoryLimiter,
    deadline: Instant,
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

/// Outbound HTTP from guests is refused until an allow-list exists: the guest gets
/// `HTTP-request-denied` at once rather than a hang or an open relay.
struct OutboundPolicy;

type OutgoingResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        tracing::warn!(uri = %request.uri(), "outbound request denied: no hosts are allowed");
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
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
