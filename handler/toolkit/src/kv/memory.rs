//! The native backend: a process-wide in-memory map per label.
//!
//! Every value carries the version it was written with, unique in the process, so a
//! compare-and-swap refuses any write made since its snapshot, even one of the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use super::{KvError, SwapError};

/// A stored value and the version it was written with.
struct Entry {
    value: Vec<u8>,
    version: u64,
}

type Table = BTreeMap<String, Entry>;

/// The version of the next write.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

fn entry(value: &[u8]) -> Entry {
    Entry {
        value: value.to_vec(),
        version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
    }
}

static TABLES: LazyLock<Mutex<HashMap<String, Table>>> = LazyLock::new(Default::default);
static FAILURES: LazyLock<Mutex<HashMap<String, KvError>>> = LazyLock::new(Default::default);

/// A lock that survives a test that panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Native builds only: makes every operation on stores labelled `label`, opening included,
/// fail with `failure` (or work again with `None`), to test how handlers answer a broken
/// store. The data is kept.
///
/// ```
/// use edge_toolkit::kv::{KvError, Store, inject_failure};
///
/// let store = Store::open("kv-failure-example")?;
/// inject_failure("kv-failure-example", Some(KvError::StoreTableFull));
/// assert_eq!(store.get("k"), Err(KvError::StoreTableFull));
/// inject_failure("kv-failure-example", None);
/// assert_eq!(store.get("k"), Ok(None));
/// # Ok::<(), KvError>(())
/// ```
pub fn inject_failure(label: &str, failure: Option<KvError>) {
    let mut failures = lock(&FAILURES);
    match failure {
        Some(err) => failures.insert(label.to_owned(), err),
        None => failures.remove(label),
    };
}

fn check(label: &str) -> Result<(), KvError> {
    match lock(&FAILURES).get(label) {
        Some(err) => Err(err.clone()),
        None => Ok(()),
    }
}

pub(super) struct Backend {
    label: String,
}

impl Backend {
    pub(super) fn open(label: &str) -> Result<Self, KvError> {
        check(label)?;
        Ok(Self {
            label: label.to_owned(),
        })
    }

    /// Runs `f` on this label's table, after any injected failure.
    fn with_table<R>(&self, f: impl FnOnce(&mut Table) -> R) -> Result<R, KvError> {
        check(&self.label)?;
        let mut tables = lock(&TABLES);
        Ok(f(tables.entry(self.label.clone()).or_default()))
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with_table(|table| table.get(key).map(|entry| entry.value.clone()))
    }

    pub(super) fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.with_table(|table| {
            table.insert(key.to_owned(), entry(value));
        })
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), KvError> {
        self.with_table(|table| {
            table.remove(key);
        })
    }

    pub(super) fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.with_table(|table| table.contains_key(key))
    }

    pub(super) fn get_keys(&self) -> Result<Vec<String>, KvError> {
        self.with_table(|table| table.keys().cloned().collect())
    }

    pub(super) fn clear(&self) -> Result<(), KvError> {
        self.with_table(Table::clear)
    }

    /// The key's value and a snapshot of its version, read under the lock.
    pub(super) fn cas(&self, key: &str) -> Result<(Option<Vec<u8>>, Cas), KvError> {
        self.with_table(|table| {
            let entry = table.get(key);
            let cas = Cas {
                label: self.label.clone(),
                key: key.to_owned(),
                version: entry.map(|entry| entry.version),
            };
            (entry.map(|entry| entry.value.clone()), cas)
        })
    }
}

/// A snapshot: the version the key had (`None`: it was absent).
pub(super) struct Cas {
    label: String,
    key: String,
    version: Option<u64>,
}

impl Cas {
    /// Compares the key's version with the snapshot's and writes, under one lock.
    pub(super) fn swap(self, value: &[u8]) -> Result<(), SwapError> {
        check(&self.label)?;
        let mut tables = lock(&TABLES);
        let table = tables.entry(self.label).or_default();
        if table.get(&self.key).map(|entry| entry.version) != self.version {
            return Err(SwapError::Conflict);
        }
        table.insert(self.key, entry(value));
        Ok(())
    }
}
