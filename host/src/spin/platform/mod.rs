//! The Spin platform interfaces a component may import beside WASI: the key-value store
//! (`fermyon:spin/key-value@2.0.0`, and `wasi:keyvalue@0.2.0-draft2` with compare-and-swap
//! on the same data), SQLite databases (`fermyon:spin/sqlite@2.0.0`, `sqlite.rs`) and
//! application variables (`fermyon:spin/variables@2.0.0`), as
//! spin-sdk 5.2 calls them, and `spin:key-value@3.0.0` / `spin:sqlite@3.1.0` /
//! `spin:variables@3.0.0`, as spin-sdk 7 (WASI 0.3) calls them, on the same data (`v3.rs`). A component that imports none of them
//! links and runs as before.

mod key_value;
mod redis_kv;
mod sqlite;
mod v3;
mod variables;
mod wasi_keyvalue;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};

use crate::{GuestState, LinkerExtension};

pub(crate) use self::key_value::OperationLabels;
pub use self::key_value::{KeyValue, KeyValueError, StoreError};
pub use self::sqlite::{SqliteDatabases, SqliteError, SqliteLimits, database_file_name};
pub use self::variables::Variable;

/// Key-value and SQLite operations of this process's guests, queued for or running on the
/// blocking pool.
static PENDING_STORE_OPERATIONS: AtomicUsize = AtomicUsize::new(0);

/// Counts one store operation from the moment it is queued until it has finished, or was
/// dropped unstarted: it moves into the blocking task.
pub(crate) struct PendingOperation(());

impl PendingOperation {
    pub(crate) fn start() -> Self {
        PENDING_STORE_OPERATIONS.fetch_add(1, Ordering::AcqRel);
        Self(())
    }
}

impl Drop for PendingOperation {
    fn drop(&mut self) {
        PENDING_STORE_OPERATIONS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Key-value and SQLite operations guests of this process have started and that have not
/// finished yet. Each runs as one statement or transaction on tokio's blocking pool, so one
/// that has begun completes or leaves nothing behind; one still queued when the process
/// exits never runs.
pub fn pending_store_operations() -> usize {
    PENDING_STORE_OPERATIONS.load(Ordering::Acquire)
}

/// Waits up to `within` for the pending store operations to finish; answers how many had
/// not (0 when all did). For a shutdown, after the server has stopped its guests.
pub async fn drain_store_operations(within: Duration) -> usize {
    let until = tokio::time::Instant::now() + within;
    loop {
        let pending = pending_store_operations();
        if pending == 0 || tokio::time::Instant::now() >= until {
            return pending;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

wasmtime::component::bindgen!({
    path: "wit",
    world: "fermyon:spin/host",
    with: {
        "fermyon:spin/key-value.store": key_value::OpenStore,
        "fermyon:spin/sqlite.connection": sqlite::OpenConnection,
        "wasi:keyvalue/store.bucket": key_value::OpenStore,
        "wasi:keyvalue/atomics.cas": wasi_keyvalue::Cas,
    },
    // SQLite calls block: they run on tokio's blocking pool, never on a worker thread.
    imports: {
        "fermyon:spin/key-value": async,
        "fermyon:spin/sqlite": async,
        "wasi:keyvalue": async,
    },
});

/// What one instance may reach of the platform: the stores and databases it may open and
/// its variables.
#[derive(Clone)]
pub(crate) struct Platform {
    pub(crate) key_value: KeyValue,
    /// Store labels the component may open (its `key_value_stores`).
    pub(crate) stores: Arc<[String]>,
    pub(crate) sqlite: SqliteDatabases,
    /// Database labels the component may open (its `sqlite_databases`).
    pub(crate) databases: Arc<[String]>,
    pub(crate) variables: Arc<BTreeMap<String, Variable>>,
}

/// The platform's state in one instance's store.
#[derive(Clone)]
struct PlatformStore {
    platform: Platform,
    /// Stores this instance has open.
    open_stores: usize,
    /// SQLite connections this instance has open.
    open_connections: usize,
}

impl LinkerExtension for Platform {
    fn name(&self) -> &'static str {
        "Spin key-value, SQLite and variables"
    }

    fn add_to_linker(&self, linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
        add_to_linker(linker)
    }

    fn init_store(&self, state: &mut GuestState) {
        state.insert_extension(PlatformStore {
            platform: self.clone(),
            open_stores: 0,
            open_connections: 0,
        });
    }
}

impl PlatformState for GuestState {
    fn platform(&mut self) -> PlatformView<'_> {
        let (table, store) = self
            .table_and_extension::<PlatformStore>()
            .expect("the extension that links the platform gives every store its state");
        PlatformView {
            platform: &store.platform,
            open_stores: &mut store.open_stores,
            open_connections: &mut store.open_connections,
            table,
        }
    }
}

/// The view of a store's data the platform's host functions work on.
pub(crate) struct PlatformView<'a> {
    pub(crate) platform: &'a Platform,
    /// Stores this instance has open.
    pub(crate) open_stores: &'a mut usize,
    /// SQLite connections this instance has open.
    pub(crate) open_connections: &'a mut usize,
    pub(crate) table: &'a mut ResourceTable,
}

/// The store data gives its platform view.
pub(crate) trait PlatformState: Send {
    fn platform(&mut self) -> PlatformView<'_>;
}

struct HasPlatform;

impl wasmtime::component::HasData for HasPlatform {
    type Data<'a> = PlatformView<'a>;
}

/// Adds the key-value, SQLite and variables interfaces to `linker`.
fn add_to_linker<T: PlatformState + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    fermyon::spin::key_value::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    fermyon::spin::variables::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    fermyon::spin::sqlite::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    wasi::keyvalue::store::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    wasi::keyvalue::atomics::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    wasi::keyvalue::batch::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    v3::add_to_linker(linker)
}
