//! The key-value store, backed by SQLite: a database file (Spin's `.spin/sqlite_key_value.db`
//! layout, so `spin up` reads the same data) or an in-memory database.
//!
//! Every store label lives in one table keyed by `(store, key)`. Each call is one SQLite
//! statement (or one transaction, for increments and batches), so a `set` is atomic,
//! survives a crash of the process once it returns (the database runs in WAL mode with
//! `synchronous=NORMAL`: only a power loss may take the last commits) and concurrent
//! requests never lose a write (the last one wins);
//! [`KeyValue::compare_and_swap`] writes only over the value a request read, which is how
//! an update that raced with another one is refused instead of overwriting it.
//!
//! What a guest can make the host store or hold is bounded: keys of at most
//! [`MAX_KEY_BYTES`], values of at most [`MAX_VALUE_BYTES`], batches of at most
//! [`MAX_BATCH`] keys, results (`get-many`, `get-keys`) of at most [`MAX_RESULT_BYTES`], and
//! the database at most [`MAX_DATABASE_BYTES`] (SQLite's `max_page_count`). Past a limit the
//! call fails with the interface's `other` error, and nothing of it is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use wasmtime::component::Resource;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::PlatformView;
use super::fermyon::spin::key_value::{Error, Host, HostStore};
use super::redis_kv::RedisStore;

/// Stores one instance may have open at once (Spin's stores and `wasi:keyvalue` buckets
/// together); more get `store-table-full`.
const MAX_OPEN_STORES: usize = 64;

/// Longest key a guest may write, in bytes (Fermyon's hosted Spin allows 255; existing longer
/// keys can still be read and deleted).
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value a guest may write, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// Most keys in one `get-many`, `set-many` or `delete-many`.
pub const MAX_BATCH: usize = 1000;
/// Most bytes (keys and values) one `get-many` or `get-keys` answers with.
pub const MAX_RESULT_BYTES: usize = 64 << 20;
/// Largest key-value database: past it, writes fail and reads go on.
pub const MAX_DATABASE_BYTES: u64 = 1 << 30;

/// A key and its value, if it has one.
pub type KeyAndValue = (String, Option<Vec<u8>>);

/// The key-value stores shared by every instance (and every component) of an application:
/// one SQLite database for every label, but those the runtime config puts elsewhere (a
/// SQLite file of their own, or Redis: [`KeyValue::with_sqlite_store`], [`KeyValue::with_redis_store`]). Cloning shares the
/// connections.
#[derive(Clone)]
pub struct KeyValue {
    local: Sqlite,
    elsewhere: Arc<BTreeMap<String, Backend>>,
    /// Operations by kind and backend, for the admin listener's metrics.
    ops: Family<OperationLabels, Counter>,
}

/// The labels of a key-value operation count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OperationLabels {
    operation: &'static str,
    backend: &'static str,
}

impl std::fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyValue({:?}", self.local)?;
        for (label, backend) in self.elsewhere.iter() {
            write!(f, ", {label}: {backend:?}")?;
        }
        f.write_str(")")
    }
}

/// Where a store the runtime config names lives.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(Sqlite),
    Redis(RedisStore),
}

/// A SQLite key-value database: every label in one table.
#[derive(Clone)]
struct Sqlite {
    db: Arc<Mutex<Connection>>,
    location: Option<PathBuf>,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(path) => write!(f, "{}", path.display()),
            None => f.write_str("in memory"),
        }
    }
}

/// What a key-value store does, whatever keeps it. Every write is checked against the
/// limits first (keys, values, batches), every result against [`MAX_RESULT_BYTES`].
pub(crate) trait Store {
    /// The value of `key` in `store`.
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` in `store` to `value`.
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key` from `store` (no error when it is absent).
    fn delete(&self, store: &str, key: &str) -> Result<(), StoreError>;
    /// Whether `store` has `key`.
    fn exists(&self, store: &str, key: &str) -> Result<bool, StoreError>;
    /// Every key of `store`, sorted.
    fn keys(&self, store: &str) -> Result<Vec<String>, StoreError>;
    /// Sets `key` to `value` only if its value is still `expected` (`None`: still absent),
    /// atomically; `false` when another write came first.
    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError>;
    /// Adds `delta` to the counter at `key` (absent: 0), atomically; the new value.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// The values of `keys`, in order.
    fn get_many(&self, store: &str, keys: Vec<String>) -> Result<Vec<KeyAndValue>, StoreError>;
    /// Sets every pair, all or none.
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Removes every key, all or none.
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), StoreError>;
}

/// A database operation failed (I/O, a lock held too long by another process...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key-value database error: {0}")]
pub struct StoreError(String);

impl StoreError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Error::Other(err.0)
    }
}

/// Runs `op` on tokio's blocking pool: SQLite may wait for a lock (another process, a slow
/// disk), and that must not stall the threads serving requests.
pub(super) async fn blocking<R: Send + 'static>(
    key_value: &KeyValue,
    op: impl FnOnce(&KeyValue) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    let key_value = key_value.clone();
    let pending = super::PendingOperation::start();
    tokio::task::spawn_blocking(move || {
        let _pending = pending;
        op(&key_value)
    })
    .await
    .map_err(|err| StoreError(format!("the key-value task failed: {err}")))?
}

/// The database could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the key-value database {location}: {source}")]
pub struct KeyValueError {
    location: String,
    #[source]
    source: rusqlite::Error,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

/// Caps the database at [`MAX_DATABASE_BYTES`].
fn bound_size(conn: &Connection) -> rusqlite::Result<()> {
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    let max_bytes = i64::try_from(MAX_DATABASE_BYTES).unwrap_or(i64::MAX);
    conn.pragma_update(
        None,
        "max_page_count",
        (max_bytes / page_size.max(512)).max(1),
    )
}

/// Refuses a write the limits do not allow, before it reaches the database.
pub(super) fn check_write(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError(format!(
            "the key is {} bytes long; at most {MAX_KEY_BYTES} are allowed",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError(format!(
            "the value is {} bytes long; at most {MAX_VALUE_BYTES} are allowed",
            value.len()
        )));
    }
    Ok(())
}

pub(super) fn check_batch(len: usize) -> Result<(), StoreError> {
    if len > MAX_BATCH {
        return Err(StoreError(format!(
            "a batch of {len} keys; at most {MAX_BATCH} are allowed"
        )));
    }
    Ok(())
}

/// Counts a result's bytes against [`MAX_RESULT_BYTES`].
pub(super) fn add_result_bytes(total: &mut usize, more: usize) -> Result<(), StoreError> {
    *total = total.saturating_add(more);
    if *total > MAX_RESULT_BYTES {
        return Err(StoreError(format!(
            "the result is larger than {MAX_RESULT_BYTES} bytes; ask for fewer keys"
        )));
    }
    Ok(())
}

impl Sqlite {
    /// Opens (creating it and its directory if needed) the database file at `path`.
    fn open(path: &Path) -> Result<Self, KeyValueError> {
        let fail = |source| KeyValueError {
            location: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|err| fail(rusqlite::Error::ToSqlConversionFailure(Box::new(err))))?;
        }
        crate::files::create_private(path)
            .map_err(|err| fail(rusqlite::Error::ToSqlConversionFailure(Box::new(err))))?;
        let conn = Connection::open(path).map_err(fail)?;
        // WAL: readers do not wait for the writer, and a commit is an append to the log
        // (synced at checkpoints, so a power loss, not a crash, may take the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.busy_timeout(Duration::from_secs(5)))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .and_then(|()| bound_size(&conn))
            .map_err(fail)?;
        crate::files::warn_if_shared(path, "key-value database");
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            location: Some(path.to_owned()),
        })
    }

    /// A database that lives as long as this handle and its clones.
    fn in_memory() -> Result<Self, KeyValueError> {
        let fail = |source| KeyValueError {
            location: "in memory".to_owned(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(fail)?;
        conn.execute_batch(SCHEMA)
            .and_then(|()| bound_size(&conn))
            .map_err(fail)?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            location: None,
        })
    }

    /// The database file, or `None` in memory.
    fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let mut conn = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|err| {
            if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                return StoreError(format!(
                    "the key-value database is full ({MAX_DATABASE_BYTES} bytes)"
                ));
            }
            crate::throttle::warn_throttled!("key-value database error: {err}");
            StoreError(err.to_string())
        })
    }
}

impl Store for Sqlite {
    /// The value of `key` in `store`.
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|db| {
            db.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()
        })
    }

    /// Sets `key` in `store` to `value`.
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_write(key, value)?;
        self.with(|db| {
            db.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![store, key, value])
            .map(drop)
        })
    }

    /// Removes `key` from `store` (no error when it is absent).
    fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        self.with(|db| {
            db.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(params![store, key])
                .map(drop)
        })
    }

    /// Whether `store` has `key`.
    fn exists(&self, store: &str, key: &str) -> Result<bool, StoreError> {
        self.with(|db| {
            db.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![store, key])
        })
    }

    /// Every key of `store`, sorted.
    fn keys(&self, store: &str) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .with(|db| {
                let mut stmt = db.prepare_cached(
                    "SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key",
                )?;
                let mut rows = stmt.query(params![store])?;
                let (mut keys, mut bytes) = (Vec::new(), 0_usize);
                while let Some(row) = rows.next()? {
                    let key: String = row.get(0)?;
                    bytes = bytes.saturating_add(key.len());
                    if bytes > MAX_RESULT_BYTES {
                        // Over the limit: the error is made below, outside SQLite's types.
                        return Ok(None);
                    }
                    keys.push(key);
                }
                Ok(Some(keys))
            })?
            .ok_or_else(|| {
                StoreError(format!(
                    "the store's keys take more than {MAX_RESULT_BYTES} bytes"
                ))
            })?;
        Ok(keys)
    }

    /// Sets `key` to `value` only if its value is still `expected` (`None`: still absent), in
    /// one statement; `false` when another write came first.
    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        check_write(key, value)?;
        self.with(|db| {
            let changed = match expected {
                None => db
                    .prepare_cached(
                        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (store, key) DO NOTHING",
                    )?
                    .execute(params![store, key, value])?,
                Some(expected) => db
                    .prepare_cached(
                        "UPDATE spin_key_value SET value = ?4
                         WHERE store = ?1 AND key = ?2 AND value = ?3",
                    )?
                    .execute(params![store, key, expected, value])?,
            };
            Ok(changed == 1)
        })
    }

    /// Adds `delta` to the integer at `key` (absent: 0), atomically; returns the new value.
    /// The integer is kept as 8 bytes, little-endian, as Spin keeps its counters, so either
    /// runtime can go on counting. A value of another length is an error.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, StoreError> {
        check_write(key, &[])?;
        let result = self.with(|db| {
            // Take the write lock up front: a read that has to be upgraded to a write fails
            // at once (busy timeout or not) when another process wrote in between.
            let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current: Option<Vec<u8>> = tx
                .prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()?;
            let current = match current {
                None => Some(0),
                Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                    Ok(le) => Some(i64::from_le_bytes(le)),
                    // Earlier edge-host versions kept counters as decimal text: read
                    // those (of any length but 8) and rewrite them in Spin's form.
                    Err(_) => std::str::from_utf8(&bytes)
                        .ok()
                        .and_then(|text| text.parse::<i64>().ok()),
                },
            };
            let Some(next) = current.and_then(|n| n.checked_add(delta)) else {
                return Ok(None);
            };
            tx.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![store, key, next.to_le_bytes().to_vec()])?;
            tx.commit()?;
            Ok(Some(next))
        })?;
        result.ok_or_else(|| {
            StoreError(format!(
                "the value of `{key}` is not a counter (8 bytes, little-endian) that can take \
                 {delta} more"
            ))
        })
    }

    /// The values of `keys`, in order.
    fn get_many(&self, store: &str, keys: Vec<String>) -> Result<Vec<KeyAndValue>, StoreError> {
        check_batch(keys.len())?;
        let mut bytes = 0_usize;
        keys.into_iter()
            .map(|key| {
                let value = self.get(store, &key)?;
                add_result_bytes(&mut bytes, key.len() + value.as_ref().map_or(0, Vec::len))?;
                Ok((key, value))
            })
            .collect()
    }

    /// Sets every pair in one transaction.
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        check_batch(pairs.len())?;
        for (key, value) in pairs {
            check_write(key, value)?;
        }
        self.with(|db| {
            let tx = db.transaction()?;
            for (key, value) in pairs {
                tx.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![store, key, value])?;
            }
            tx.commit()
        })
    }

    /// Removes every key in one transaction.
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), StoreError> {
        check_batch(keys.len())?;
        self.with(|db| {
            let tx = db.transaction()?;
            for key in keys {
                tx.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                    .execute(params![store, key])?;
            }
            tx.commit()
        })
    }
}

impl KeyValue {
    /// Opens (creating it and its directory if needed) the database file at `path`: every
    /// store's, until [`Self::with_sqlite_store`] or [`Self::with_redis_store`] puts one elsewhere.
    pub fn open(path: &Path) -> Result<Self, KeyValueError> {
        Ok(Self::local(Sqlite::open(path)?))
    }

    /// A database that lives as long as this handle and its clones (for tests, and `serve`).
    pub fn in_memory() -> Result<Self, KeyValueError> {
        Ok(Self::local(Sqlite::in_memory()?))
    }

    fn local(local: Sqlite) -> Self {
        Self {
            local,
            elsewhere: Arc::new(BTreeMap::new()),
            ops: Family::default(),
        }
    }

    /// Operations so far, by `operation` and `backend` (`sqlite`, `redis`).
    pub(crate) fn operations(&self) -> &Family<OperationLabels, Counter> {
        &self.ops
    }

    /// The database file of the stores kept locally, or `None` in memory.
    pub fn location(&self) -> Option<&Path> {
        self.local.location()
    }

    /// The store `label` kept elsewhere from now on: in the SQLite file at `path` (created
    /// as needed; Spin's `type = "spin"` with a `path`).
    pub fn with_sqlite_store(mut self, label: &str, path: &Path) -> Result<Self, KeyValueError> {
        let store = Backend::Sqlite(Sqlite::open(path)?);
        Arc::make_mut(&mut self.elsewhere).insert(label.to_owned(), store);
        Ok(self)
    }

    /// The store `label` kept in Redis from now on (Spin's `type = "redis"`), at `url`
    /// (`redis://host:port/db`): connected and pinged now, so that a wrong URL or a Redis
    /// that is down stops the start rather than the first request.
    pub fn with_redis_store(mut self, label: &str, url: &str) -> Result<Self, KeyValueError> {
        let fail = |reason: String| KeyValueError {
            location: format!("Redis for store `{label}`"),
            source: rusqlite::Error::ToSqlConversionFailure(reason.into()),
        };
        let store = RedisStore::new(url).map_err(fail)?;
        store.check().map_err(|err| fail(err.0))?;
        Arc::make_mut(&mut self.elsewhere).insert(label.to_owned(), Backend::Redis(store));
        Ok(self)
    }

    /// What keeps `label`, with `operation` counted.
    fn store(&self, label: &str, operation: &'static str) -> &dyn Store {
        let (store, backend): (&dyn Store, _) = match self.elsewhere.get(label) {
            Some(Backend::Sqlite(db)) => (db, "sqlite"),
            Some(Backend::Redis(redis)) => (redis, "redis"),
            None => (&self.local, "sqlite"),
        };
        self.ops
            .get_or_create(&OperationLabels { operation, backend })
            .inc();
        store
    }

    /// The value of `key` in `store`.
    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store(store, "get").get(store, key)
    }

    /// Sets `key` in `store` to `value`.
    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store(store, "set").set(store, key, value)
    }

    /// Removes `key` from `store` (no error when it is absent).
    pub fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        self.store(store, "delete").delete(store, key)
    }

    /// Whether `store` has `key`.
    pub fn exists(&self, store: &str, key: &str) -> Result<bool, StoreError> {
        self.store(store, "exists").exists(store, key)
    }

    /// Every key of `store`, sorted.
    pub fn keys(&self, store: &str) -> Result<Vec<String>, StoreError> {
        self.store(store, "keys").keys(store)
    }

    /// Sets `key` to `value` only if its value is still `expected` (`None`: still absent),
    /// atomically (across processes too: one SQLite statement, one Redis script); `false`
    /// when another write came first.
    pub fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        self.store(store, "compare_and_swap")
            .compare_and_swap(store, key, expected, value)
    }

    /// Adds `delta` to the counter at `key` (absent: 0), atomically; returns the new value.
    /// SQLite keeps it as 8 bytes, little-endian, as Spin keeps its counters there; Redis as
    /// its decimal text (`INCRBY`), as Spin keeps them there.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.store(store, "increment").increment(store, key, delta)
    }

    /// The values of `keys`, in order.
    pub fn get_many(&self, store: &str, keys: Vec<String>) -> Result<Vec<KeyAndValue>, StoreError> {
        self.store(store, "get_many").get_many(store, keys)
    }

    /// Sets every pair, all or none.
    pub fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.store(store, "set_many").set_many(store, pairs)
    }

    /// Removes every key, all or none.
    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), StoreError> {
        self.store(store, "delete_many").delete_many(store, keys)
    }
}

/// A store the guest opened, through either key-value interface (a Spin `store` or a
/// `wasi:keyvalue` `bucket`): its label.
pub struct OpenStore {
    label: String,
}

/// Why a store could not be opened; each interface says it in its own error type.
pub(super) enum OpenError {
    /// The label is not in the component's `key_value_stores`.
    Denied,
    /// The instance has [`MAX_OPEN_STORES`] open already.
    Full,
}

impl Host for PlatformView<'_> {}

/// The one access rule of both key-value interfaces, and the count of open stores.
impl PlatformView<'_> {
    pub(super) fn open_store(&mut self, label: String) -> Result<Resource<OpenStore>, OpenError> {
        if !self.platform.stores.contains(&label) {
            crate::throttle::warn_throttled!(store = %label, "key-value store denied: not in the component's key_value_stores");
            return Err(OpenError::Denied);
        }
        if *self.open_stores >= MAX_OPEN_STORES {
            return Err(OpenError::Full);
        }
        let store = self
            .table
            .push(OpenStore { label })
            .map_err(|_| OpenError::Full)?;
        *self.open_stores += 1;
        Ok(store)
    }

    pub(super) fn close_store(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        *self.open_stores = self.open_stores.saturating_sub(1);
        Ok(())
    }

    /// The label of an open store (the text of the table's error otherwise).
    pub(super) fn store_label(&self, store: &Resource<OpenStore>) -> Result<String, String> {
        self.table
            .get(store)
            .map(|open| open.label.clone())
            .map_err(|err| err.to_string())
    }

    fn label(&self, store: &Resource<OpenStore>) -> Result<String, Error> {
        self.store_label(store).map_err(Error::Other)
    }
}

impl HostStore for PlatformView<'_> {
    async fn open(&mut self, label: String) -> Result<Resource<OpenStore>, Error> {
        self.open_store(label).map_err(|err| match err {
            OpenError::Denied => Error::AccessDenied,
            OpenError::Full => Error::StoreTableFull,
        })
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        let label = self.label(&store)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.get(&label, &key)).await?)
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        let label = self.label(&store)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.set(&label, &key, &value)
        })
        .await?)
    }

    async fn delete(&mut self, store: Resource<OpenStore>, key: String) -> Result<(), Error> {
        let label = self.label(&store)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.delete(&label, &key)).await?)
    }

    async fn exists(&mut self, store: Resource<OpenStore>, key: String) -> Result<bool, Error> {
        let label = self.label(&store)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.exists(&label, &key)).await?)
    }

    async fn get_keys(&mut self, store: Resource<OpenStore>) -> Result<Vec<String>, Error> {
        let label = self.label(&store)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.keys(&label)).await?)
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.close_store(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_per_store() {
        let kv = KeyValue::in_memory().expect("open");
        kv.set("default", "a", b"1").expect("set");
        kv.set("other", "a", b"2").expect("set");
        kv.set("default", "b", b"3").expect("set");
        assert_eq!(kv.get("default", "a").expect("get"), Some(b"1".to_vec()));
        assert_eq!(kv.get("other", "a").expect("get"), Some(b"2".to_vec()));
        assert_eq!(kv.keys("default").expect("keys"), ["a", "b"]);
        kv.set("default", "a", b"4").expect("overwrite");
        assert_eq!(kv.get("default", "a").expect("get"), Some(b"4".to_vec()));
        kv.delete("default", "a").expect("delete");
        kv.delete("default", "a").expect("deleting again is fine");
        assert!(!kv.exists("default", "a").expect("exists"));
        assert!(kv.exists("default", "b").expect("exists"));
        assert_eq!(kv.get("default", "missing").expect("get"), None);
    }

    #[test]
    fn compare_and_swap_writes_only_over_the_expected_value() {
        let kv = KeyValue::in_memory().expect("open");
        assert!(
            kv.compare_and_swap("s", "k", None, b"1").expect("cas"),
            "absent: created"
        );
        assert!(
            !kv.compare_and_swap("s", "k", None, b"2").expect("cas"),
            "no longer absent"
        );
        assert!(
            !kv.compare_and_swap("s", "k", Some(b"0"), b"2")
                .expect("cas"),
            "stale"
        );
        assert!(
            kv.compare_and_swap("s", "k", Some(b"1"), b"2")
                .expect("cas"),
            "current"
        );
        assert_eq!(kv.get("s", "k").expect("get"), Some(b"2".to_vec()));
    }

    #[test]
    fn increments_are_little_endian_i64_as_in_spin() {
        let kv = KeyValue::in_memory().expect("open");
        assert_eq!(kv.increment("s", "n", 5).expect("inc"), 5);
        assert_eq!(kv.increment("s", "n", -7).expect("inc"), -2);
        assert_eq!(
            kv.get("s", "n").expect("get"),
            Some((-2_i64).to_le_bytes().to_vec())
        );
        // A counter Spin wrote.
        kv.set("s", "spin", &41_i64.to_le_bytes()).expect("set");
        assert_eq!(kv.increment("s", "spin", 1).expect("inc"), 42);
        kv.set("s", "text", b"abc").expect("set");
        assert!(kv.increment("s", "text", 1).is_err());
        // A counter of an earlier version, as decimal text, is carried over.
        kv.set("s", "old", b"-17").expect("set");
        assert_eq!(kv.increment("s", "old", 20).expect("inc"), 3);
        assert_eq!(
            kv.get("s", "old").expect("get"),
            Some(3_i64.to_le_bytes().to_vec())
        );
        kv.set("s", "max", &i64::MAX.to_le_bytes()).expect("set");
        assert!(kv.increment("s", "max", 1).is_err(), "overflow is an error");
    }

    #[test]
    fn batches_apply_together() {
        let kv = KeyValue::in_memory().expect("open");
        kv.set_many(
            "s",
            &[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
        )
        .expect("set many");
        assert_eq!(
            kv.get_many("s", vec!["a".into(), "x".into()])
                .expect("get many"),
            [
                ("a".to_owned(), Some(b"1".to_vec())),
                ("x".to_owned(), None)
            ]
        );
        kv.delete_many("s", &["a".into(), "b".into()])
            .expect("delete many");
        assert!(kv.keys("s").expect("keys").is_empty());
    }

    #[test]
    fn keys_values_batches_and_results_are_bounded() {
        let kv = KeyValue::in_memory().expect("open");
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        let err = kv.set("s", &long_key, b"v").expect_err("key too long");
        assert!(err.to_string().contains("key is 1025 bytes"), "{err}");
        let big = vec![0_u8; MAX_VALUE_BYTES + 1];
        assert!(kv.set("s", "k", &big).is_err());
        assert!(kv.compare_and_swap("s", "k", None, &big).is_err());
        assert!(kv.increment("s", &long_key, 1).is_err());
        let many: Vec<String> = (0..=MAX_BATCH).map(|i| i.to_string()).collect();
        assert!(kv.get_many("s", many.clone()).is_err());
        assert!(kv.delete_many("s", &many).is_err());
        let pairs = vec![("a".to_owned(), b"1".to_vec()), (long_key, b"2".to_vec())];
        assert!(kv.set_many("s", &pairs).is_err());
        assert!(
            kv.get("s", "a").expect("get").is_none(),
            "nothing of it was written"
        );
        // Values at the limit, read back in one batch: the result is bounded too.
        let value = vec![7_u8; MAX_VALUE_BYTES];
        let count = MAX_RESULT_BYTES / MAX_VALUE_BYTES + 1;
        for i in 0..count {
            kv.set("s", &i.to_string(), &value).expect("at the limit");
        }
        let keys: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        let err = kv.get_many("s", keys).expect_err("too large a result");
        assert!(err.to_string().contains("larger than"), "{err}");
        assert_eq!(kv.keys("s").expect("keys").len(), count);
        // And the database itself.
        let (pages, page_size): (i64, i64) = kv
            .local
            .with(|db| {
                let pages = db.pragma_query_value(None, "max_page_count", |row| row.get(0))?;
                let size = db.pragma_query_value(None, "page_size", |row| row.get(0))?;
                Ok((pages, size))
            })
            .expect("pragmas");
        assert!((pages * page_size) as u64 <= MAX_DATABASE_BYTES);
    }

    #[test]
    fn a_database_file_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("edge-host-kv-{}", std::process::id()));
        let path = dir.join(".spin").join("sqlite_key_value.db");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let kv = KeyValue::open(&path).expect("create");
            kv.set("default", "user", b"ada").expect("set");
        }
        let kv = KeyValue::open(&path).expect("reopen");
        assert_eq!(
            kv.get("default", "user").expect("get"),
            Some(b"ada".to_vec())
        );
        assert_eq!(kv.location(), Some(path.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "created private");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
