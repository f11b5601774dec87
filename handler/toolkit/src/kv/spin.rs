//! The component's backend: spin-sdk's `key_value::Store`, that is the host's
//! `fermyon:spin/key-value@2.0.0`, and for compare-and-swap a bucket of the same label of
//! `wasi:keyvalue@0.2.0-draft2` (spin-sdk's generated bindings, `spin_sdk::wit`), opened on
//! the first [`Backend::cas`].

use std::cell::OnceCell;
use std::rc::Rc;

use spin_sdk::key_value::{Error, Store};
use spin_sdk::wit::wasi::keyvalue::{atomics, store as wasi_store};

use super::{KvError, SwapError};

impl From<Error> for KvError {
    fn from(err: Error) -> Self {
        match err {
            Error::NoSuchStore => KvError::NoSuchStore,
            Error::AccessDenied => KvError::AccessDenied,
            Error::StoreTableFull => KvError::StoreTableFull,
            Error::Other(message) => KvError::Other(message),
        }
    }
}

impl From<wasi_store::Error> for KvError {
    fn from(err: wasi_store::Error) -> Self {
        match err {
            wasi_store::Error::NoSuchStore => KvError::NoSuchStore,
            wasi_store::Error::AccessDenied => KvError::AccessDenied,
            wasi_store::Error::Other(message) => KvError::Other(message),
        }
    }
}

pub(super) struct Backend {
    label: String,
    store: Store,
    /// The `wasi:keyvalue` bucket of the same label, opened on the first compare-and-swap;
    /// shared with the snapshots so it outlives them.
    bucket: OnceCell<Rc<wasi_store::Bucket>>,
}

impl Backend {
    pub(super) fn open(label: &str) -> Result<Self, KvError> {
        Ok(Self {
            label: label.to_owned(),
            store: Store::open(label)?,
            bucket: OnceCell::new(),
        })
    }

    fn bucket(&self) -> Result<Rc<wasi_store::Bucket>, KvError> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(Rc::clone(bucket));
        }
        let bucket = Rc::new(wasi_store::open(&self.label)?);
        // Single-threaded: nothing can have set it since the check above.
        let _ = self.bucket.set(Rc::clone(&bucket));
        Ok(bucket)
    }

    /// A `cas` resource of `key` and the value it saw.
    pub(super) fn cas(&self, key: &str) -> Result<(Option<Vec<u8>>, Cas), KvError> {
        let bucket = self.bucket()?;
        let cas = atomics::Cas::new(&bucket, key)?;
        let current = cas.current()?;
        Ok((
            current,
            Cas {
                cas,
                _bucket: bucket,
            },
        ))
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.store.get(key)?)
    }

    pub(super) fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        Ok(self.store.set(key, value)?)
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), KvError> {
        Ok(self.store.delete(key)?)
    }

    pub(super) fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.store.exists(key)?)
    }

    pub(super) fn get_keys(&self) -> Result<Vec<String>, KvError> {
        Ok(self.store.get_keys()?)
    }
}

/// A `wasi:keyvalue/atomics` `cas` resource, and the bucket it was made from (dropped after
/// it: fields drop in declaration order).
pub(super) struct Cas {
    cas: atomics::Cas,
    _bucket: Rc<wasi_store::Bucket>,
}

impl Cas {
    pub(super) fn swap(self, value: &[u8]) -> Result<(), SwapError> {
        let Cas { cas, _bucket } = self;
        match atomics::swap(cas, value) {
            Ok(()) => Ok(()),
            Err(atomics::CasError::CasFailed(_)) => Err(SwapError::Conflict),
            Err(atomics::CasError::StoreError(err)) => Err(SwapError::Store(err.into())),
        }
    }
}
