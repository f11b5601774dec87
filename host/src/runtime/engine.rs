//! The wasmtime engine every component of an application shares: one pooling allocator
//! (one reservation of address space, one set of instance slots) and one epoch ticker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::chain;
use crate::{LoadError, RuntimeConfig};

/// Bytes of each pooled memory kept resident between instances (reset with memset).
const KEEP_RESIDENT: usize = 2 << 20;

/// How the shared engine is sized.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Instances alive at once, over every component of the engine: the pooling allocator
    /// reserves this many slots up front. Requests beyond it are answered 503.
    pub max_instances: u32,
    /// The largest linear memory any instance may have, in bytes (each runtime may set a
    /// lower limit of its own).
    pub max_memory_bytes: usize,
    /// How often running guests check their deadline and yield to other requests.
    pub epoch_tick: Duration,
    /// Requests one instance serves at once (WASI 0.3's concurrent reuse): each may hold a
    /// fiber stack of its own while it waits, so the pool has this many (and one more) per
    /// instance slot.
    pub tasks_per_instance: u32,
}

impl From<&RuntimeConfig> for EngineConfig {
    /// The engine for components configured like `config`.
    fn from(config: &RuntimeConfig) -> Self {
        Self {
            max_instances: config.max_instances,
            max_memory_bytes: config.limits.max_memory_bytes,
            epoch_tick: config.limits.epoch_tick,
            tasks_per_instance: config.concurrent_reuse.max_concurrent,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self::from(&RuntimeConfig::default())
    }
}

/// A wasmtime engine with epoch interruption and, where the address space can be
/// reserved, the pooling allocator. Cloning is cheap and shares it: give every
/// [`Runtime`](crate::Runtime) of an application the same engine
/// ([`Runtime::load_in`](crate::Runtime::load_in)).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    config: EngineConfig,
    pooling: bool,
    stop_ticker: Arc<AtomicBool>,
    /// The idle instances of the engine's runtimes (instance reuse), which hold pool slots.
    idle_pools: Mutex<Vec<Weak<dyn IdlePool>>>,
}

/// Instances a runtime keeps for later requests, each holding a slot of the shared pool.
pub(super) trait IdlePool: Send + Sync {
    /// Drops every idle instance; returns how many there were.
    fn release(&self) -> usize;
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

/// Fiber stacks beyond one per instance slot, at most: enough for a thousand waiting WASI 0.3
/// requests over those of every slot's first.
const EXTRA_STACKS: u32 = 1024;

/// The pool's fiber stacks for `slots` instances serving up to `tasks` requests at once each.
fn stacks(slots: u32, tasks: u32) -> u32 {
    slots
        .saturating_mul(tasks.max(1).saturating_add(1))
        .min(slots.saturating_add(EXTRA_STACKS))
}

impl Engine {
    /// The engine: epoch interruption for deadlines, and the pooling allocator (instances
    /// and memories reserved up front, memory initialised copy-on-write from the
    /// component's image) sized from `config`. Where the pool's address space cannot be
    /// reserved, instances are allocated on demand instead (logged).
    pub fn new(config: &EngineConfig) -> Result<Self, LoadError> {
        let mut wasm = Config::new();
        wasm.epoch_interruption(true);
        // WASI 0.3 components use the component model's async ABI, streams and futures.
        wasm.wasm_component_model_async(true);
        let slots = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            // A std guest is a few core instances (the program, wasi adapters, shims).
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(8))
            // A WASI 0.3 instance's requests each take a stack while they wait on the host:
            // with one stack per slot, an instance's second waiting request found none and
            // failed the whole instance. One per request at once, but at most
            // `EXTRA_STACKS` beyond the slots: every stack is mappings of its own, and
            // 17 per slot at 1000 slots ran past the kernel's map count (pooling lost).
            .total_stacks(stacks(slots, config.tasks_per_instance))
            .max_memory_size(config.max_memory_bytes)
            // Reset the first pages of a slot with memset instead of returning them to the
            // kernel: madvise on every request costs page faults and cross-core TLB
            // shootdowns, the largest cost per request in profiles.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT / 16)
            .async_stack_keep_resident(KEEP_RESIDENT / 16)
            // Return what remains to the kernel in batches, with fewer TLB shootdowns.
            .decommit_batch_size(64)
            .pagemap_scan(Enabled::Auto);
        let mut pooled = wasm.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let (engine, pooling) = match wasmtime::Engine::new(&pooled) {
            Ok(engine) => (engine, true),
            Err(err) => {
                tracing::warn!(
                    "pooling allocator unavailable ({}); allocating on demand",
                    chain(&err)
                );
                let engine =
                    wasmtime::Engine::new(&wasm).map_err(|err| LoadError::Engine(chain(&err)))?;
                (engine, false)
            }
        };
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, config.epoch_tick, stop_ticker.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                config: config.clone(),
                pooling,
                stop_ticker,
                idle_pools: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Registers a runtime's idle instances, for [`Engine::release_idle`].
    pub(super) fn register_idle_pool(&self, pool: Weak<dyn IdlePool>) {
        let mut pools = self
            .inner
            .idle_pools
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pools.retain(|pool| pool.strong_count() > 0);
        pools.push(pool);
    }

    /// Drops the idle instances of every runtime of the engine, so that a request that
    /// found the pool full gets a slot: idle instances of one component never starve the
    /// others. Returns how many were dropped.
    pub(super) fn release_idle(&self) -> usize {
        let pools: Vec<_> = {
            let pools = self
                .inner
                .idle_pools
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            pools.iter().filter_map(Weak::upgrade).collect()
        };
        pools.iter().map(|pool| pool.release()).sum()
    }

    /// Whether instances come from the pooling allocator (`false`: allocated on demand,
    /// because the pool's address space could not be reserved).
    pub fn is_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The configuration the engine was made with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub(super) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// Component instances alive now, of every component on the engine; `None` without
    /// the pooling allocator (which counts them).
    pub fn instances(&self) -> Option<u64> {
        self.inner
            .engine
            .pooling_allocator_metrics()
            .map(|pool| pool.component_instances())
    }
}

/// Advances the engine's epoch every `tick` so running guests check their deadline, until
/// `stop` is set or the engine is gone.
fn spawn_epoch_ticker(engine: &wasmtime::Engine, tick: Duration, stop: Arc<AtomicBool>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_cover_each_slots_requests_within_a_bound() {
        // One instance serving 16 at once: a stack each, and one more.
        assert_eq!(stacks(1, 16), 17);
        assert_eq!(stacks(4, 16), 68);
        // A thousand slots: the bound, not 17 000 stacks.
        assert_eq!(stacks(1000, 16), 1000 + EXTRA_STACKS);
        // No concurrency configured still leaves a stack and a spare per slot.
        assert_eq!(stacks(10, 0), 20);
        assert_eq!(stacks(u32::MAX, u32::MAX), u32::MAX);
    }
}
