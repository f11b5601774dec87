//! `wasi:keyvalue@0.2.0-draft2` (`store`, `atomics`, `batch`), as spin-sdk 5.2 and Spin
//! provide it, on the same SQLite database and the same access list as Spin's own key-value
//! interface: a bucket is a store label, opened under the same rule as a Spin store. Its
//! compare-and-swap is what lets a handler update a value only if nobody changed it since it
//! was read.

use wasmtime::component::Resource;

use super::PlatformView;
use super::key_value::{OpenError, OpenStore, StoreError, blocking};
use super::wasi::keyvalue::atomics::{self, CasError};
use super::wasi::keyvalue::batch;
use super::wasi::keyvalue::store::{self, Error, KeyResponse};

/// A compare-and-swap in progress: the value the key had when it began.
pub struct Cas {
    label: String,
    key: String,
    expected: Option<Vec<u8>>,
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Error::Other(err.to_string())
    }
}

impl PlatformView<'_> {
    fn bucket_label(&self, bucket: &Resource<OpenStore>) -> Result<String, Error> {
        self.store_label(bucket).map_err(Error::Other)
    }
}

impl store::Host for PlatformView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<OpenStore>, Error> {
        self.open_store(identifier).map_err(|err| match err {
            OpenError::Denied => Error::AccessDenied,
            OpenError::Full => Error::Other("too many stores are open".to_owned()),
        })
    }
}

impl store::HostBucket for PlatformView<'_> {
    async fn get(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.get(&label, &key)).await?)
    }

    async fn set(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.set(&label, &key, &value)
        })
        .await?)
    }

    async fn delete(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<(), Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.delete(&label, &key)).await?)
    }

    async fn exists(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<bool, Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| kv.exists(&label, &key)).await?)
    }

    /// Every key at once: the cursor is never needed.
    async fn list_keys(
        &mut self,
        bucket: Resource<OpenStore>,
        _cursor: Option<String>,
    ) -> Result<KeyResponse, Error> {
        let label = self.bucket_label(&bucket)?;
        let keys = blocking(&self.platform.key_value, move |kv| kv.keys(&label)).await?;
        Ok(KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, bucket: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.close_store(bucket)
    }
}

impl atomics::Host for PlatformView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
        delta: i64,
    ) -> Result<i64, Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.increment(&label, &key, delta)
        })
        .await?)
    }

    async fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> Result<(), CasError> {
        let Cas {
            label,
            key,
            expected,
        } = self
            .table
            .delete(cas)
            .map_err(|err| CasError::StoreError(Error::Other(err.to_string())))?;
        let (swap_label, swap_key) = (label.clone(), key.clone());
        let swapped = blocking(&self.platform.key_value, move |kv| {
            kv.compare_and_swap(&swap_label, &swap_key, expected.as_deref(), &value)
        })
        .await
        .map_err(|err| CasError::StoreError(err.into()))?;
        if swapped {
            return Ok(());
        }
        // Another write came first: a new CAS on what the key holds now, to retry with.
        let (read_label, read_key) = (label.clone(), key.clone());
        let current = blocking(&self.platform.key_value, move |kv| {
            kv.get(&read_label, &read_key)
        })
        .await
        .map_err(|err| CasError::StoreError(err.into()))?;
        let retry = self
            .table
            .push(Cas {
                label,
                key,
                expected: current,
            })
            .map_err(|err| CasError::StoreError(Error::Other(err.to_string())))?;
        Err(CasError::CasFailed(retry))
    }
}

impl atomics::HostCas for PlatformView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> Result<Resource<Cas>, Error> {
        let label = self.bucket_label(&bucket)?;
        let (read_label, read_key) = (label.clone(), key.clone());
        let expected = blocking(&self.platform.key_value, move |kv| {
            kv.get(&read_label, &read_key)
        })
        .await?;
        self.table
            .push(Cas {
                label,
                key,
                expected,
            })
            .map_err(|err| Error::Other(err.to_string()))
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, Error> {
        self.table
            .get(&cas)
            .map(|cas| cas.expected.clone())
            .map_err(|err| Error::Other(err.to_string()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for PlatformView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.get_many(&label, keys)
        })
        .await?)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<OpenStore>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.set_many(&label, &key_values)
        })
        .await?)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> Result<(), Error> {
        let label = self.bucket_label(&bucket)?;
        Ok(blocking(&self.platform.key_value, move |kv| {
            kv.delete_many(&label, &keys)
        })
        .await?)
    }
}
