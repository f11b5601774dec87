//! The key-value store, backed by SQLite: a database file (Spin's `.spin/sqlite_key_value.db`
//! layout, so `spin up` reads the same data) or an in-memory database.
//!
//! Every store label lives in one table keyed by `(store, key)`. Each call is one SQLite
//! statement, so a `set` is atomic and durable once it returns, and concurrent requests never
//! lose a write (the last one wins).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use wasmtime::component::Resource;

use super::PlatformView;
use super::fermyon::spin::key_value::{Error, Host, HostStore};

/// Stores one instance may have open at once; more get `store-table-full`.
const MAX_OPEN_STORES: usize = 64;

/// A key-value database shared by every instance (and every component) of an application.
/// Cloning shares the connection.
#[derive(Clone)]
pub struct KeyValue {
    db: Arc<Mutex<Connection>>,
    location: Option<PathBuf>,
}

impl std::fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(path) => write!(f, "KeyValue({})", path.display()),
            None => f.write_str("KeyValue(in memory)"),
        }
    }
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

impl KeyValue {
    /// Opens (creating it and its directory if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, KeyValueError> {
        let fail = |source| KeyValueError {
            location: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|err| fail(rusqlite::Error::ToSqlConversionFailure(Box::new(err))))?;
        }
        let conn = Connection::open(path).map_err(fail)?;
        // WAL: readers do not wait for the writer, and a write is one fsync'd append.
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.busy_timeout(Duration::from_secs(5)))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(fail)?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            location: Some(path.to_owned()),
        })
    }

    /// A database that lives as long as this handle and its clones (for tests, and `serve`).
    pub fn in_memory() -> Result<Self, KeyValueError> {
        let fail = |source| KeyValueError {
            location: "in memory".to_owned(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            location: None,
        })
    }

    /// The database file, or `None` in memory.
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, Error> {
        let conn = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|err| {
            tracing::warn!("key-value database error: {err}");
            Error::Other(err.to_string())
        })
    }

    /// The value of `key` in `store`.
    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.with(|db| {
            db.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()
        })
    }

    /// Sets `key` in `store` to `value`.
    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), Error> {
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
    pub fn delete(&self, store: &str, key: &str) -> Result<(), Error> {
        self.with(|db| {
            db.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(params![store, key])
                .map(drop)
        })
    }

    /// Whether `store` has `key`.
    pub fn exists(&self, store: &str, key: &str) -> Result<bool, Error> {
        self.with(|db| {
            db.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![store, key])
        })
    }

    /// Every key of `store`, sorted.
    pub fn keys(&self, store: &str) -> Result<Vec<String>, Error> {
        self.with(|db| {
            db.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?
                .query_map(params![store], |row| row.get(0))?
                .collect()
        })
    }
}

/// A store the guest opened: its label.
pub struct OpenStore {
    label: String,
}

impl Host for PlatformView<'_> {}

impl PlatformView<'_> {
    fn label(&self, store: &Resource<OpenStore>) -> Result<String, Error> {
        self.table
            .get(store)
            .map(|open| open.label.clone())
            .map_err(|err| Error::Other(err.to_string()))
    }
}

impl PlatformView<'_> {
    /// Runs `op` on the store's database in tokio's blocking pool: SQLite may wait for a lock
    /// (another process, a slow disk), and that must not stall the threads serving requests.
    fn blocking<R: Send + 'static>(
        &self,
        store: &Resource<OpenStore>,
        op: impl FnOnce(&KeyValue, &str) -> Result<R, Error> + Send + 'static,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        let label = self.label(store);
        let key_value = self.platform.key_value.clone();
        async move {
            let label = label?;
            tokio::task::spawn_blocking(move || op(&key_value, &label))
                .await
                .map_err(|err| Error::Other(format!("the key-value task failed: {err}")))?
        }
    }
}

impl HostStore for PlatformView<'_> {
    async fn open(&mut self, label: String) -> Result<Resource<OpenStore>, Error> {
        if !self.platform.stores.contains(&label) {
            tracing::warn!(store = %label, "key-value store denied: not in the component's key_value_stores");
            return Err(Error::AccessDenied);
        }
        if *self.open_stores >= MAX_OPEN_STORES {
            return Err(Error::StoreTableFull);
        }
        let store = self
            .table
            .push(OpenStore { label })
            .map_err(|_| Error::StoreTableFull)?;
        *self.open_stores += 1;
        Ok(store)
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.blocking(&store, move |kv, label| kv.get(label, &key))
            .await
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        self.blocking(&store, move |kv, label| kv.set(label, &key, &value))
            .await
    }

    async fn delete(&mut self, store: Resource<OpenStore>, key: String) -> Result<(), Error> {
        self.blocking(&store, move |kv, label| kv.delete(label, &key))
            .await
    }

    async fn exists(&mut self, store: Resource<OpenStore>, key: String) -> Result<bool, Error> {
        self.blocking(&store, move |kv, label| kv.exists(label, &key))
            .await
    }

    async fn get_keys(&mut self, store: Resource<OpenStore>) -> Result<Vec<String>, Error> {
        self.blocking(&store, |kv, label| kv.keys(label)).await
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        *self.open_stores = self.open_stores.saturating_sub(1);
        Ok(())
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
        let _ = std::fs::remove_dir_all(&dir);
    }
}
