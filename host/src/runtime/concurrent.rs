//! Serving `wasi:http/handler@0.3` components: each instance serves up to
//! [`ConcurrentReuse::max_requests`] requests in all, [`ConcurrentReuse::max_concurrent`] at
//! once, and is retired once idle for [`ConcurrentReuse::idle_timeout`]. wasmtime-wasi-http's
//! [`ProxyHandler`] runs the instances (one tokio task each, a queue of requests between
//! them); this file decides how instances are made, when they accept requests, when they
//! expire and what their failures mean.
//!
//! What holds for every instance: the memory limit (a trap, answered 500 for each request in
//! flight on it), the deadline of its newest request (past it, the instance is stopped: a
//! guest that computes without yielding is interrupted at the next epoch tick), and an
//! instance that failed is never reused.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use wasmtime::component::GuestTaskId;
use wasmtime::{PoolConcurrencyLimitError, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, Proxy, ProxyHandler, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};

use super::{GuestState, RuntimeConfig, engine, new_store};
use crate::Engine;

/// How instances of a `wasi:http/handler@0.3` component are shared between requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrentReuse {
    /// Requests one instance serves in all before it is retired; 1 gives every request a
    /// fresh instance.
    pub max_requests: u32,
    /// Requests one instance serves at once. The instance takes another only while those it
    /// has wait on I/O, so a guest that computes does not hold the others up.
    pub max_concurrent: u32,
    /// How long an instance with nothing to do is kept for the next request.
    pub idle_timeout: Duration,
}

impl Default for ConcurrentReuse {
    /// 128 requests in all, 16 at once, 1 s idle: `wasmtime serve`'s defaults, which
    /// measured best of the settings tried here too (see BENCHMARKS.md).
    fn default() -> Self {
        Self {
            max_requests: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// The workers of one component, a [`ProxyHandler`] per thread that serves requests: a
/// request goes to an instance on its own thread, so handing it over wakes no other thread
/// (the server runs each connection, and the guests it calls, on one worker thread).
pub(super) struct Services {
    template: Service,
    by_thread:
        std::sync::RwLock<std::collections::HashMap<std::thread::ThreadId, ProxyHandler<Service>>>,
}

impl Services {
    pub(super) fn new(template: Service) -> Self {
        Self {
            template,
            by_thread: std::sync::RwLock::default(),
        }
    }

    /// The handler of the calling thread.
    pub(super) fn for_this_thread(&self) -> ProxyHandler<Service> {
        let thread = std::thread::current().id();
        if let Some(handler) = self
            .by_thread
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&thread)
        {
            return handler.clone();
        }
        self.by_thread
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(thread)
            .or_insert_with(|| ProxyHandler::new(self.template.clone()))
            .clone()
    }
}

/// What every worker of one component shares.
#[derive(Clone)]
pub(super) struct Service {
    pub(super) pre: wasmtime_wasi_http::p3::bindings::ServicePre<GuestState>,
    pub(super) config: RuntimeConfig,
    pub(super) engine: Engine,
    pub(super) idle: Arc<IdleWorkers>,
}

/// The idle workers of one component, which the engine may ask to give their pool slots up.
#[derive(Default)]
pub(super) struct IdleWorkers {
    /// Workers idle at their last check.
    count: AtomicUsize,
    /// Raised by each release; an idle worker that sees it change retires.
    generation: AtomicU64,
    notify: Arc<Notify>,
}

impl engine::IdlePool for IdleWorkers {
    fn release(&self) -> usize {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
        self.count.load(Ordering::Acquire)
    }
}

/// The data a request carries into its worker.
pub(super) struct RequestData {
    pub(super) request_id: u64,
    /// The request's trace: the instance's outbound requests join it.
    pub(super) trace: Option<crate::trace::TraceContext>,
    /// Given the fault cell of the instance that takes the request.
    pub(super) instance_fault: Arc<OnceLock<Arc<OnceLock<crate::RequestError>>>>,
}

impl HandlerState for Service {
    type StoreData = GuestState;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<GuestState, Expiration, Worker>> {
        let mut store = new_store(self.engine.wasmtime(), &self.config);
        // The newest request's deadline stops a guest that computes (see `on_request_start`).
        store.data_mut().deadline = far_future();
        store.set_epoch_deadline(1);
        let proxy = match self.pre.instantiate_async(&mut store).await {
            Ok(proxy) => proxy,
            // The shared pool is full: idle instances (of any component) give their slots up,
            // and this one tries once more once they have had a moment to go.
            Err(err) if err.is::<PoolConcurrencyLimitError>() && self.engine.release_idle() > 0 => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.pre.instantiate_async(&mut store).await?
            }
            Err(err) => return Err(err),
        };
        let reuse = &self.config.concurrent_reuse;
        Ok(Instance {
            store,
            proxy: Proxy::P3(proxy),
            view: |state: &mut GuestState| state.http(),
            expiration: Expiration {
                idle_timeout: reuse.idle_timeout,
                deadline: self.config.limits.deadline,
                sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
                idle: self.idle.clone(),
                seen_generation: self.idle.generation.load(Ordering::Acquire),
                released: Box::pin(self.idle.notify.clone().notified_owned()),
                counted_idle: false,
            },
            state: Worker {
                max_requests: reuse.max_requests.max(1) as usize,
                max_concurrent: reuse.max_concurrent.max(1) as usize,
                deadline: self.config.limits.deadline,
            },
        })
    }
}

/// When a worker's instance is dropped: idle past the idle timeout (or when the engine
/// needs its slot), or busy past the deadline of its newest request.
pub(super) struct Expiration {
    idle_timeout: Duration,
    deadline: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    idle: Arc<IdleWorkers>,
    seen_generation: u64,
    released: Pin<Box<OwnedNotified>>,
    /// Whether this worker is counted in `idle.count`.
    counted_idle: bool,
}

impl Expiration {
    fn set_idle(&mut self, idle: bool) {
        if idle != self.counted_idle {
            self.counted_idle = idle;
            if idle {
                self.idle.count.fetch_add(1, Ordering::AcqRel);
            } else {
                self.idle.count.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl Drop for Expiration {
    fn drop(&mut self) {
        self.set_idle(false);
    }
}

impl WorkerExpiration for Expiration {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let this = self.get_mut();
        this.set_idle(status == WorkerStatus::Idle);
        if status == WorkerStatus::Idle {
            // A release asked for while the worker was idle retires it.
            let generation = this.idle.generation.load(Ordering::Acquire);
            let released = this.released.as_mut().poll(cx).is_ready();
            if released || generation != this.seen_generation {
                this.seen_generation = generation;
                this.set_idle(false);
                return Poll::Ready(());
            }
        } else {
            this.seen_generation = this.idle.generation.load(Ordering::Acquire);
        }
        let timeout = match status {
            WorkerStatus::Idle => this.idle_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => {
                this.deadline.saturating_add(STOP_GRACE)
            }
        };
        let Some(at) = start.checked_add(timeout) else {
            return Poll::Pending;
        };
        let at = tokio::time::Instant::from_std(at);
        if this.sleep.deadline() != at {
            this.sleep.as_mut().reset(at);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.set_idle(false);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The reuse policy and per-request hooks of one instance.
pub(super) struct Worker {
    max_requests: usize,
    max_concurrent: usize,
    deadline: Duration,
}

impl WorkerState for Worker {
    type StoreData = GuestState;
    type RequestData = RequestData;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.max_requests {
            ShouldAccept::Never
        } else if concurrent >= self.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, GuestState>,
        data: RequestData,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        let state = store.data_mut();
        let _ = data.instance_fault.set(state.instance_fault.clone());
        // The guest's output lines name the newest request of the instance.
        state.request_id.store(data.request_id, Ordering::Relaxed);
        *state.trace.lock().unwrap_or_else(|p| p.into_inner()) = data.trace;
        state.limiter.exceeded = false;
        // Computing past the newest request's deadline stops the instance.
        let now = Instant::now();
        state.deadline = now
            .checked_add(self.deadline.saturating_add(STOP_GRACE))
            .unwrap_or_else(far_future);
        Box::pin(tokio::time::sleep(self.deadline.saturating_add(STOP_GRACE)))
    }

    fn drop(&self, store: Store<GuestState>, result: wasmtime::Result<()>) {
        if let Err(err) = &result
            && !std::thread::panicking()
            && err.to_string() == "worker panicked"
        {
            // wasmtime-wasi-http's name for a worker dropped before it finished; with no
            // panic unwinding, that is its runtime stopping (a server shutting down), not a
            // fault of the guest. A body it was still streaming ends with an error all the
            // same.
            tracing::debug!("guest instance stopped with its worker");
            let _ = store
                .data()
                .instance_fault
                .set(crate::RequestError::ShutDown);
            return;
        }
        if let Err(err) = result {
            // Every request in flight on the instance has been answered 500 already; this
            // says why.
            let fault = super::classify(&err, &store, self.deadline);
            tracing::warn!("guest instance failed and is dropped: {fault}");
            // Before the store goes: the bodies it was streaming end with an error.
            let _ = store.data().instance_fault.set(fault);
        }
        drop(store);
    }
}

/// How long past a request's deadline its instance is stopped: the request itself is
/// answered 504 at its deadline (in `Runtime::handle`), and the instance goes a moment
/// later, so that the 504 is not lost to the instance's failure.
const STOP_GRACE: Duration = Duration::from_millis(100);

fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(365 * 24 * 3600))
        .unwrap_or(now)
}
