//! The Spin interfaces as spin-sdk 7 (WASI 0.3) imports them: `spin:key-value@3.0.0`,
//! `spin:sqlite@3.1.0` and `spin:variables@3.0.0`, async functions on the same data as the
//! 2.0 interfaces (the same key-value stores and SQLite databases, the same variables, the
//! same per-instance counts of open stores and connections).

use wasmtime::component::{Accessor, FutureReader, Linker, Resource, StreamReader};

use super::key_value::{OpenError, OpenStore, blocking};
use super::sqlite::{OpenConnection, Rows, SqliteError, execute_blocking, open_blocking};
use super::variables::lookup;
use super::{HasPlatform, PlatformState, PlatformView};

wasmtime::component::bindgen!({
    path: "wit-v3",
    world: "edge-host:spin3/host",
    with: {
        "spin:key-value/key-value.store": crate::spin::platform::key_value::OpenStore,
        "spin:sqlite/sqlite.connection": crate::spin::platform::sqlite::OpenConnection,
    },
    imports: {
        "spin:key-value/key-value.[method]store.get-keys": trappable,
        // The interface's synchronous open and execute block on SQLite: they run on tokio's
        // blocking pool, never on a worker thread.
        "spin:sqlite/sqlite.[static]connection.open": async,
        "spin:sqlite/sqlite.[method]connection.execute": async,
        "spin:sqlite/sqlite.[method]connection.execute-async": trappable,
    },
});

use self::spin::key_value::key_value::{self as kv, Error};
use self::spin::sqlite::sqlite::{self as sql, Error as SqlError};
use self::spin::variables::variables::{self as vars, Error as VarError};

/// Adds the 3.0 interfaces to `linker`.
pub(super) fn add_to_linker<T: PlatformState + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    vars::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
    sql::add_to_linker::<T, HasPlatform>(linker, T::platform)?;
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

impl From<SqliteError> for SqlError {
    fn from(err: SqliteError) -> Self {
        match err {
            SqliteError::AccessDenied => SqlError::AccessDenied,
            SqliteError::InvalidConnection => SqlError::InvalidConnection,
            SqliteError::Full => SqlError::DatabaseFull,
            SqliteError::Other(message) => SqlError::Io(message),
        }
    }
}

fn to_sql(value: sql::Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        sql::Value::Integer(i) => V::Integer(i),
        sql::Value::Real(f) => V::Real(f),
        sql::Value::Text(t) => V::Text(t),
        sql::Value::Blob(b) => V::Blob(b),
        sql::Value::Null => V::Null,
    }
}

fn row(values: Vec<rusqlite::types::Value>) -> sql::RowResult {
    use rusqlite::types::Value as V;
    let values = values
        .into_iter()
        .map(|value| match value {
            V::Integer(i) => sql::Value::Integer(i),
            V::Real(f) => sql::Value::Real(f),
            V::Text(t) => sql::Value::Text(t),
            V::Blob(b) => sql::Value::Blob(b),
            V::Null => sql::Value::Null,
        })
        .collect();
    sql::RowResult { values }
}

/// Runs a statement on `conn` and keeps what it inserted and changed on the connection.
async fn execute<T>(
    accessor: &Accessor<T, HasPlatform>,
    conn: &Resource<OpenConnection>,
    statement: String,
    parameters: Vec<sql::Value>,
) -> Result<Rows, SqlError> {
    let (sqlite, label) = accessor.with(|mut access| access.get().statement_target(conn))?;
    let parameters = parameters.into_iter().map(to_sql).collect();
    let rows = execute_blocking(sqlite, label, statement, parameters).await?;
    accessor.with(|mut access| access.get().record_statement(conn, &rows));
    Ok(rows)
}

async fn open<T>(
    accessor: &Accessor<T, HasPlatform>,
    database: String,
) -> Result<Resource<OpenConnection>, SqlError> {
    let sqlite = accessor.with(|mut access| access.get().prepare_open(&database))?;
    open_blocking(sqlite, database.clone()).await?;
    Ok(accessor.with(|mut access| access.get().push_connection(database))?)
}

fn query_result(rows: Rows) -> sql::QueryResult {
    sql::QueryResult {
        columns: rows.columns,
        rows: rows.rows.into_iter().map(row).collect(),
    }
}

impl sql::Host for PlatformView<'_> {}

impl sql::HostConnection for PlatformView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<OpenConnection>, SqlError> {
        Ok(self.open_database(database).await?)
    }

    async fn execute(
        &mut self,
        conn: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<sql::Value>,
    ) -> Result<sql::QueryResult, SqlError> {
        let parameters = parameters.into_iter().map(to_sql).collect();
        Ok(query_result(
            self.execute_on(&conn, statement, parameters).await?,
        ))
    }

    fn last_insert_rowid(&mut self, conn: Resource<OpenConnection>) -> i64 {
        self.connection(&conn)
            .map_or(0, OpenConnection::last_insert_rowid)
    }

    fn changes(&mut self, conn: Resource<OpenConnection>) -> u64 {
        self.connection(&conn).map_or(0, OpenConnection::changes)
    }

    fn drop(&mut self, conn: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.close_connection(conn)
    }
}

impl<T> sql::HostConnectionWithStore<T> for HasPlatform {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> Result<Resource<OpenConnection>, SqlError> {
        open(accessor, database).await
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<sql::Value>,
    ) -> wasmtime::Result<
        Result<
            (
                Vec<String>,
                StreamReader<sql::RowResult>,
                FutureReader<Result<(), SqlError>>,
            ),
            SqlError,
        >,
    > {
        // The rows are gathered within the result limits first, then streamed.
        let rows = match execute(accessor, &conn, statement, parameters).await {
            Ok(rows) => rows,
            Err(err) => return Ok(Err(err)),
        };
        let columns = rows.columns;
        let values: Vec<sql::RowResult> = rows.rows.into_iter().map(row).collect();
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, values)?;
            let done = FutureReader::new(&mut access, async {
                Ok::<_, wasmtime::Error>(Ok::<(), SqlError>(()))
            })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<OpenConnection>,
    ) -> i64 {
        accessor.with(|mut access| {
            access
                .get()
                .connection(&conn)
                .map_or(0, OpenConnection::last_insert_rowid)
        })
    }

    async fn changes_async(accessor: &Accessor<T, Self>, conn: Resource<OpenConnection>) -> u64 {
        accessor.with(|mut access| {
            access
                .get()
                .connection(&conn)
                .map_or(0, OpenConnection::changes)
        })
    }
}
