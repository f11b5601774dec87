//! The component's backend: spin-sdk's `key_value::Store`, that is the host's
//! `fermyon:spin/key-value@2.0.0`.

use spin_sdk::key_value::{Error, Store};

use super::KvError;

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

pub(super) struct Backend {
    store: Store,
}

impl Backend {
    pub(super) fn open(label: &str) -> Result<Self, KvError> {
        Ok(Self {
            store: Store::open(label)?,
        })
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
