//! The Spin interfaces as spin-sdk 7 (WASI 0.3) imports them: `spin:key-value@3.0.0` and
//! `spin:variables@3.0.0`, async functions on the same data as the 2.0 interfaces (the same
//! SQLite stores, the same variables, the same stores-per-instance count).

use wasmtime::component::{Accessor, FutureReader, Linker, Resource, StreamReader};

use super::key_value::{OpenError, OpenStore, blocking};
use super::variables::lookup;
use super::{HasPlatform, PlatformState, PlatformView};

wasmtime::component::bindgen!({
    path: "wit-v3",
    world: "edge-host:spin3/host",
    with: {
        "spin:key-value/key-value.store": crate::spin::platform::key_value::OpenStore,
    },
    imports: {
        "spin:key-value/key-value.[method]store.get-keys": trappable,
    },
});

use self::spin::key_value::key_value::{self as kv, Error};
use self::spin::variables::variables::{self as vars, Error as VarError};

/// Adds the 3.0 interfaces to `linker`.
pub(super) fn add_to_linker<T: PlatformState + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    vars::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    Ok(())
}

impl From<super::StoreError> for Error {
    fn from(err: super::StoreError) -> Self {
        Error::Other(err.to_string())
    }
}

/// The store's label and the application's key-value database.
fn target(
    view: &mut PlatformView<'_>,
    store: &Resource<OpenStore>,
) -> Result<(String, super::KeyValue), Error> {
    let label = view.store_label(store).map_err(Error::Other)?;
    Ok((label, view.platform.key_value.clone()))
}

impl kv::Host for PlatformView<'_> {}

impl kv::HostStore for PlatformView<'_> {
    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.close_store(store)
    }
}

impl<T> kv::HostStoreWithStore<T> for HasPlatform {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> Result<Resource<OpenStore>, Error> {
        accessor.with(|mut access| {
            access.get().open_store(label).map_err(|err| match err {
                OpenError::Denied => Error::AccessDenied,
                OpenError::Full => Error::StoreTableFull,
            })
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        let (label, db) = accessor.with(|mut access| target(&mut access.get(), &store))?;
        Ok(blocking(&db, move |kv| kv.get(&label, &key)).await?)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        let (label, db) = accessor.with(|mut access| target(&mut access.get(), &store))?;
        Ok(blocking(&db, move |kv| kv.set(&label, &key, &value)).await?)
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<(), Error> {
        let (label, db) = accessor.with(|mut access| target(&mut access.get(), &store))?;
        Ok(blocking(&db, move |kv| kv.delete(&label, &key)).await?)
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<bool, Error> {
        let (label, db) = accessor.with(|mut access| target(&mut access.get(), &store))?;
        Ok(blocking(&db, move |kv| kv.exists(&label, &key)).await?)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let listed = match accessor.with(|mut access| target(&mut access.get(), &store)) {
            Ok((label, db)) => blocking(&db, move |kv| kv.keys(&label))
                .await
                .map_err(Error::from),
            Err(err) => Err(err),
        };
        let (keys, result) = match listed {
            Ok(keys) => (keys, Ok(())),
            Err(err) => (Vec::new(), Err(err)),
        };
        accessor.with(|mut access| {
            let keys = StreamReader::new(&mut access, keys)?;
            let result =
                FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((keys, result))
        })
    }
}

impl vars::Host for PlatformView<'_> {}

impl<T> vars::HostWithStore<T> for HasPlatform {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, VarError> {
        accessor.with(|mut access| {
            lookup(&access.get(), &name).map_err(|err| match err {
                super::variables::LookupError::InvalidName(msg) => VarError::InvalidName(msg),
                super::variables::LookupError::Undefined(msg) => VarError::Undefined(msg),
            })
        })
    }
}
