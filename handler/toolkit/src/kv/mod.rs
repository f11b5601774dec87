//! Key-value storage: a small store API over Spin's key-value interface
//! (`fermyon:spin/key-value@2.0.0`), with compare-and-swap from `wasi:keyvalue@0.2.0-draft2`.
//!
//! A [`Store`] is opened by label: `default` is the store every Spin application may be
//! granted, others are declared in the manifest (`key_value_stores = ["default", ...]`).
//! Keys are strings, values bytes. Each operation is one call to the host; failures are a
//! typed [`KvError`] that knows its HTTP status, so a handler can use `?` and answer a
//! problem+json response.
//!
//! | Build | Backend |
//! | --- | --- |
//! | `wasm32` with `spin-platform` (the component) | spin-sdk's `key_value::Store`: whatever the host provides (SQLite, Redis, Azure Cosmos, ...); [`Store::cas`] through `wasi:keyvalue/atomics@0.2.0-draft2` |
//! | native (unit tests, doc tests), or `wasm32` without `spin-platform` | a process-wide in-memory map per label, so handlers that persist state are unit-tested with a plain `cargo test`; [`Store::cas`] is atomic under its lock |
//!
//! Natively a store of any label opens (a host only opens the labels the manifest grants),
//! and every test in the process shares a label's contents: a test that needs a store of its
//! own opens a label no other test uses, or [`Store::clear`]s it. [`inject_failure`] makes a
//! label fail, to test how handlers answer a broken store.
//!
//! Spin's key-value interface has no transactions and no compare-and-swap: a [`get`](Store::get)
//! followed by a [`set`](Store::set) can interleave with another instance's write. A
//! read-modify-write that must not lose updates takes a [`Cas`] snapshot instead
//! ([`Store::cas`]) and [`swap`](Cas::swap)s: the swap is refused with
//! [`SwapError::Conflict`] when the key changed in between. Under Spin it goes through
//! `wasi:keyvalue/atomics` on a bucket of the same label (opened on the first `cas`, and
//! subject to the same `key_value_stores` grant); there is no conditional delete.
//!
//! ```
//! use edge_toolkit::kv::Store;
//!
//! # fn main() -> Result<(), edge_toolkit::kv::KvError> {
//! let store = Store::open("kv-module-example")?;
//! store.set("greeting", b"hello")?;
//! assert_eq!(store.get("greeting")?.as_deref(), Some(&b"hello"[..]));
//! assert!(store.exists("greeting")?);
//! assert_eq!(store.get_keys()?, ["greeting"]);
//!
//! store.delete("greeting")?;
//! store.delete("greeting")?; // deleting a missing key is not an error
//! assert_eq!(store.get("greeting")?, None);
//! # Ok(())
//! # }
//! ```
//!
//! In a handler, a [`KvError`] converts into a [`Problem`](crate::Problem):
//!
//! ```
//! use edge_toolkit::{Problem, Request, Response};
//! use edge_toolkit::kv::Store;
//!
//! fn counter(_req: Request) -> Result<Response, Problem> {
//!     let store = Store::open_default()?;
//!     let count = store
//!         .get("hits")?
//!         .and_then(|v| String::from_utf8(v).ok())
//!         .and_then(|v| v.parse::<u64>().ok())
//!         .unwrap_or(0)
//!         + 1;
//!     store.set("hits", count.to_string().as_bytes())?;
//!     Ok(Response::new(count.to_string().into_bytes()))
//! }
//! # let res = counter(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! # assert!(!res.body().is_empty());
//! ```

mod error;
#[cfg(not(all(target_arch = "wasm32", feature = "spin-platform")))]
mod memory;
#[cfg(all(target_arch = "wasm32", feature = "spin-platform"))]
mod spin;

#[cfg(not(all(target_arch = "wasm32", feature = "spin-platform")))]
use memory as backend;
#[cfg(all(target_arch = "wasm32", feature = "spin-platform"))]
use spin as backend;

pub use error::{KvError, SwapError};
#[cfg(not(all(target_arch = "wasm32", feature = "spin-platform")))]
pub use memory::inject_failure;

/// The label of the store every Spin application may be granted.
pub const DEFAULT_STORE: &str = "default";

/// An open key-value store.
pub struct Store {
    label: String,
    inner: backend::Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("label", &self.label).finish()
    }
}

impl Store {
    /// Opens the store with this label. Under Spin the label must be in the component's
    /// `key_value_stores` ([`KvError::NoSuchStore`] or [`KvError::AccessDenied`] otherwise).
    pub fn open(label: &str) -> Result<Self, KvError> {
        Ok(Self {
            label: label.to_owned(),
            inner: backend::Backend::open(label)?,
        })
    }

    /// Opens the [`DEFAULT_STORE`].
    ///
    /// ```
    /// let store = edge_toolkit::kv::Store::open_default()?;
    /// assert_eq!(store.label(), "default");
    /// # Ok::<(), edge_toolkit::kv::KvError>(())
    /// ```
    pub fn open_default() -> Result<Self, KvError> {
        Self::open(DEFAULT_STORE)
    }

    /// The label the store was opened with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The value of `key`, or `None` when there is none.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.get(key)
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.inner.set(key, value)
    }

    /// Removes `key`; removing a key that does not exist is not an error.
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(key)
    }

    /// Whether `key` has a value.
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.inner.exists(key)
    }

    /// Every key in the store, in no particular order.
    pub fn get_keys(&self) -> Result<Vec<String>, KvError> {
        self.inner.get_keys()
    }

    /// The keys starting with `prefix`, sorted. Spin has no prefix scan: this lists every key
    /// and filters them, so keep stores that are listed small, or keep an index.
    ///
    /// ```
    /// let store = edge_toolkit::kv::Store::open("kv-prefix-example")?;
    /// for key in ["notes/b", "notes/a", "users/a"] {
    ///     store.set(key, b"")?;
    /// }
    /// assert_eq!(store.keys_with_prefix("notes/")?, ["notes/a", "notes/b"]);
    /// # Ok::<(), edge_toolkit::kv::KvError>(())
    /// ```
    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let mut keys: Vec<String> = self
            .get_keys()?
            .into_iter()
            .filter(|key| key.starts_with(prefix))
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// A compare-and-swap snapshot of `key`: its value now ([`Cas::current`], `None` when
    /// absent), to be replaced with [`Cas::swap`] only if nothing wrote the key in between.
    ///
    /// ```
    /// use edge_toolkit::kv::{Store, SwapError};
    ///
    /// # fn main() -> Result<(), edge_toolkit::kv::KvError> {
    /// let store = Store::open("kv-cas-example")?;
    /// store.set("count", b"1")?;
    ///
    /// // Read, modify, write back: succeeds when nobody wrote in between.
    /// let cas = store.cas("count")?;
    /// assert_eq!(cas.current(), Some(&b"1"[..]));
    /// cas.swap(b"2").expect("no intervening write");
    ///
    /// // A write after the snapshot makes the swap fail, and that write is kept.
    /// let cas = store.cas("count")?;
    /// store.set("count", b"10")?;
    /// assert_eq!(cas.swap(b"3"), Err(SwapError::Conflict));
    /// assert_eq!(store.get("count")?.as_deref(), Some(&b"10"[..]));
    ///
    /// // On an absent key, the swap creates it only if it is still absent.
    /// let cas = store.cas("new")?;
    /// assert_eq!(cas.current(), None);
    /// cas.swap(b"first").expect("still absent");
    /// # Ok(())
    /// # }
    /// ```
    pub fn cas(&self, key: &str) -> Result<Cas, KvError> {
        let (current, inner) = self.inner.cas(key)?;
        Ok(Cas {
            key: key.to_owned(),
            current,
            inner,
        })
    }

    /// Native builds only: removes every key of this label, so a test starts from an empty
    /// store. (Spin's interface has no such operation.)
    ///
    /// ```
    /// let store = edge_toolkit::kv::Store::open("kv-clear-example")?;
    /// store.set("k", b"v")?;
    /// store.clear()?;
    /// assert!(store.get_keys()?.is_empty());
    /// # Ok::<(), edge_toolkit::kv::KvError>(())
    /// ```
    #[cfg(not(all(target_arch = "wasm32", feature = "spin-platform")))]
    pub fn clear(&self) -> Result<(), KvError> {
        self.inner.clear()
    }
}

/// A compare-and-swap snapshot of one key, from [`Store::cas`]: the value the key had, and
/// the right to replace it if it still has it.
///
/// Under Spin this is a `wasi:keyvalue/atomics` `cas` resource, whose semantics are the
/// host's (a version or a comparison of the bytes); the in-memory backend refuses the swap
/// after any write or delete of the key, even one that restored the same bytes.
pub struct Cas {
    key: String,
    current: Option<Vec<u8>>,
    inner: backend::Cas,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cas")
            .field("key", &self.key)
            .field("current", &self.current.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl Cas {
    /// The key the snapshot is of.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key's value when the snapshot was taken, `None` if it had none.
    pub fn current(&self) -> Option<&[u8]> {
        self.current.as_deref()
    }

    /// Sets the key to `value` if it has not changed since the snapshot (an absent key: if it
    /// is still absent); [`SwapError::Conflict`] otherwise, leaving the other write in place.
    pub fn swap(self, value: &[u8]) -> Result<(), SwapError> {
        self.inner.swap(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete_exists_keys() -> Result<(), KvError> {
        let store = Store::open("kv-test-basic")?;
        store.clear()?;
        assert_eq!(store.get("a")?, None);
        assert!(!store.exists("a")?);
        store.set("a", b"1")?;
        store.set("b", b"2")?;
        store.set("a", b"3")?;
        assert_eq!(store.get("a")?, Some(b"3".to_vec()));
        assert!(store.exists("a")?);
        let mut keys = store.get_keys()?;
        keys.sort_unstable();
        assert_eq!(keys, ["a", "b"]);
        store.delete("a")?;
        store.delete("a")?;
        assert_eq!(store.get("a")?, None);
        assert_eq!(store.get_keys()?, ["b"]);
        Ok(())
    }

    #[test]
    fn labels_are_separate_and_shared_across_opens() -> Result<(), KvError> {
        let one = Store::open("kv-test-one")?;
        let two = Store::open("kv-test-two")?;
        one.clear()?;
        two.clear()?;
        one.set("k", b"one")?;
        assert_eq!(two.get("k")?, None);
        // A second handle on the same label sees the same data, as another instance would.
        let again = Store::open("kv-test-one")?;
        assert_eq!(again.get("k")?, Some(b"one".to_vec()));
        assert_eq!(again.label(), "kv-test-one");
        assert_eq!(format!("{again:?}"), r#"Store { label: "kv-test-one" }"#);
        Ok(())
    }

    #[test]
    fn prefix_listing_is_sorted() -> Result<(), KvError> {
        let store = Store::open("kv-test-prefix")?;
        store.clear()?;
        for key in ["users/c", "users/a", "other", "users/b", "users"] {
            store.set(key, b"")?;
        }
        assert_eq!(
            store.keys_with_prefix("users/")?,
            ["users/a", "users/b", "users/c"]
        );
        Ok(())
    }

    #[test]
    fn injected_failures_affect_one_label() -> Result<(), KvError> {
        let store = Store::open("kv-test-failing")?;
        store.set("k", b"v")?;
        inject_failure(
            "kv-test-failing",
            Some(KvError::Other("disk on fire".into())),
        );
        assert_eq!(store.get("k"), Err(KvError::Other("disk on fire".into())));
        assert_eq!(
            store.set("k", b"w"),
            Err(KvError::Other("disk on fire".into()))
        );
        inject_failure("kv-test-failing", Some(KvError::AccessDenied));
        assert_eq!(
            Store::open("kv-test-failing").map(|_| ()),
            Err(KvError::AccessDenied)
        );
        assert!(Store::open("kv-test-not-failing").is_ok());
        inject_failure("kv-test-failing", None);
        assert_eq!(store.get("k")?, Some(b"v".to_vec()));
        Ok(())
    }

    #[test]
    fn swap_without_intervening_write_succeeds() -> Result<(), SwapError> {
        let store = Store::open("kv-test-cas-ok")?;
        store.clear()?;
        store.set("k", b"v1")?;
        let cas = store.cas("k")?;
        assert_eq!(cas.key(), "k");
        assert_eq!(cas.current(), Some(&b"v1"[..]));
        // Reads do not count as changes.
        assert_eq!(store.get("k")?, Some(b"v1".to_vec()));
        cas.swap(b"v2")?;
        assert_eq!(store.get("k")?, Some(b"v2".to_vec()));
        // A fresh snapshot sees the swapped value and can swap again.
        let cas = store.cas("k")?;
        assert_eq!(cas.current(), Some(&b"v2"[..]));
        cas.swap(b"v3")?;
        assert_eq!(store.get("k")?, Some(b"v3".to_vec()));
        Ok(())
    }

    #[test]
    fn swap_after_another_write_conflicts() -> Result<(), KvError> {
        let store = Store::open("kv-test-cas-conflict")?;
        store.clear()?;
        store.set("k", b"v1")?;

        let cas = store.cas("k")?;
        store.set("k", b"other")?;
        assert_eq!(cas.swap(b"mine"), Err(SwapError::Conflict));
        assert_eq!(store.get("k")?, Some(b"other".to_vec()));

        // Two snapshots of the same version: the first swap wins, the second conflicts.
        let first = store.cas("k")?;
        let second = Store::open("kv-test-cas-conflict")?.cas("k")?;
        assert_eq!(first.swap(b"first"), Ok(()));
        assert_eq!(second.swap(b"second"), Err(SwapError::Conflict));
        assert_eq!(store.get("k")?, Some(b"first".to_vec()));

        // Even a write of the same bytes is a change (no ABA).
        let cas = store.cas("k")?;
        store.set("k", b"first")?;
        assert_eq!(cas.swap(b"mine"), Err(SwapError::Conflict));

        // So is a delete, and a swap does not bring the key back.
        let cas = store.cas("k")?;
        store.delete("k")?;
        assert_eq!(cas.swap(b"mine"), Err(SwapError::Conflict));
        assert_eq!(store.get("k")?, None);

        // And other keys do not matter.
        store.set("k", b"v")?;
        let cas = store.cas("k")?;
        store.set("other-key", b"x")?;
        assert_eq!(cas.swap(b"w"), Ok(()));
        Ok(())
    }

    #[test]
    fn cas_on_an_absent_key_creates_it_only_if_still_absent() -> Result<(), KvError> {
        let store = Store::open("kv-test-cas-absent")?;
        store.clear()?;

        let cas = store.cas("new")?;
        assert_eq!(cas.current(), None);
        assert_eq!(cas.swap(b"created"), Ok(()));
        assert_eq!(store.get("new")?, Some(b"created".to_vec()));

        let cas = store.cas("raced")?;
        store.set("raced", b"theirs")?;
        assert_eq!(cas.swap(b"mine"), Err(SwapError::Conflict));
        assert_eq!(store.get("raced")?, Some(b"theirs".to_vec()));

        // Two creators: one wins.
        let one = store.cas("both")?;
        let two = store.cas("both")?;
        assert_eq!(one.swap(b"one"), Ok(()));
        assert_eq!(two.swap(b"two"), Err(SwapError::Conflict));
        assert_eq!(store.get("both")?, Some(b"one".to_vec()));
        Ok(())
    }

    #[test]
    fn cas_reports_store_failures() -> Result<(), KvError> {
        let store = Store::open("kv-test-cas-failing")?;
        store.set("k", b"v")?;
        let cas = store.cas("k")?;
        inject_failure("kv-test-cas-failing", Some(KvError::StoreTableFull));
        assert_eq!(store.cas("k").map(|_| ()), Err(KvError::StoreTableFull));
        assert_eq!(
            cas.swap(b"w"),
            Err(SwapError::Store(KvError::StoreTableFull))
        );
        inject_failure("kv-test-cas-failing", None);
        assert_eq!(store.get("k")?, Some(b"v".to_vec()));
        Ok(())
    }
}
