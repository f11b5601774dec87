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
    /// Set when the instance fails (WASI 0.3 instances, shared by several requests): the
    /// response bodies it was streaming then end with an error, not a clean end.
    pub(super) instance_fault: Arc<std::sync::OnceLock<crate::RequestError>>,
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

/// Caps linear memory growth and remembers whether the cap was hit.
pub(super) struct MemoryLimiter {
    pub(super) max_bytes: usize,
    pub(super) exceeded: bool,
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
