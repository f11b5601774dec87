//! The data of one instance's store: WASI and `wasi:http` contexts, the resource table, the
//! extensions' state, and the limits of the request being served.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::extension::OutgoingHooks;

/// The data of one instance's store, as host functions see it.
///
/// A [`LinkerExtension`](crate::LinkerExtension) keeps its per-instance state here
/// ([`insert_extension`](Self::insert_extension)) and its host functions reach it with
/// [`extension_mut`](Self::extension_mut), or with the shared resource table through
/// [`table_and_extension`](Self::table_and_extension).
pub struct GuestState {
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) table: ResourceTable,
    pub(super) hooks: OutgoingHooks,
    pub(super) extensions: http::Extensions,
    pub(super) limiter: MemoryLimiter,
    pub(super) deadline: Instant,
    /// The request being served, for the guest's output lines.
    pub(super) request_id: Arc<AtomicU64>,
    /// Its trace, for the guest's outbound requests.
    pub(super) trace: super::traced::TraceSlot,
    /// Set when the instance fails (WASI 0.3 instances, shared by several requests): the
    /// response bodies it was streaming then end with an error, not a clean end.
    pub(super) instance_fault: Arc<std::sync::OnceLock<crate::RequestError>>,
    /// The `wasi:sockets` sockets the instance holds.
    pub(super) socket_budget: super::sockets::SocketBudget,
    /// Its TCP connects in progress, and when they time out.
    pub(super) connects: super::sockets::Connects,
}

impl std::fmt::Debug for GuestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestState")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl GuestState {
    /// Stores an extension's state for this instance (replacing one of the same type).
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&mut self, state: T) {
        self.extensions.insert(state);
    }

    /// An extension's state, if it was inserted.
    pub fn extension_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.extensions.get_mut()
    }

    /// The resource table of the instance, shared by WASI, `wasi:http` and the extensions.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The resource table and an extension's state at once, for host functions that need
    /// both.
    pub fn table_and_extension<T: Send + Sync + 'static>(
        &mut self,
    ) -> Option<(&mut ResourceTable, &mut T)> {
        let state = self.extensions.get_mut::<T>()?;
        Some((&mut self.table, state))
    }
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
            hooks: &mut *self.hooks,
        }
    }
}

/// Caps the linear memory (and table elements) of one instance, all its memories together,
/// and remembers whether the cap was hit.
pub(super) struct MemoryLimiter {
    pub(super) max_bytes: usize,
    pub(super) exceeded: bool,
    /// Bytes of every linear memory of the store's instance together: the limit is the
    /// instance's, however many memories its core modules declare.
    pub(super) used_bytes: usize,
    /// Table elements of every table together.
    pub(super) table_elements: usize,
}

/// Table elements one instance may have in all its tables.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryLimiter {
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            exceeded: false,
            used_bytes: 0,
            table_elements: 0,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .used_bytes
            .saturating_add(desired.saturating_sub(current));
        if total > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        self.used_bytes = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .table_elements
            .saturating_add(desired.saturating_sub(current));
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }

    // Counts per instance: a component has a few core instances, memories and tables (its
    // modules, the WASI adapter's); these leave room for that and no more.
    fn instances(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        64
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;

    #[test]
    fn the_memory_limit_is_the_instances_not_each_memorys() {
        let mut limiter = MemoryLimiter::new(64 << 20);
        // Two memories of 40 MiB each: the second would take the instance past 64 MiB.
        assert!(limiter.memory_growing(0, 40 << 20, None).expect("grow"));
        assert!(!limiter.memory_growing(0, 40 << 20, None).expect("grow"));
        assert!(limiter.exceeded);
        // Growing the first one within what is left is fine.
        assert!(
            limiter
                .memory_growing(40 << 20, 60 << 20, None)
                .expect("grow")
        );
        assert!(
            !limiter
                .memory_growing(60 << 20, 65 << 20, None)
                .expect("grow")
        );
        // Tables likewise, in elements.
        assert!(limiter.table_growing(0, 600_000, None).expect("grow"));
        assert!(!limiter.table_growing(0, 600_000, None).expect("grow"));
    }
}
