//! Spin's SQLite databases (`fermyon:spin/sqlite@2.0.0` here, spin-sdk 7's
//! `spin:sqlite@3.1.0` in `v3.rs`, on the same databases): one real SQLite file per database
//! label in the state directory (`default` is `sqlite_db.db`, as Spin names it; any other
//! label `L` is `L.db`), or in-memory databases for `serve` and tests.
//!
//! A component opens only the labels its `sqlite_databases` lists (others are
//! `access-denied`). Statements are one at a time and parameterised (`?` placeholders bound
//! to the guest's values, never spliced into the text). A database is a guest's data, not a
//! way into the host: `ATTACH` (and so `VACUUM INTO`) is refused, the pragmas that change
//! where or how much the host stores or caches are refused, SQLite's defensive mode is on,
//! and each statement is bounded in time, in the size of its text and values, in the rows
//! and bytes it returns, and each database in size (`database-full`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode};
use wasmtime::component::Resource;

use super::PlatformView;
use super::fermyon::spin::sqlite::{Error, Host, HostConnection, QueryResult, RowResult, Value};

/// Connections one instance may have open at once; more get `io("too many connections")`.
const MAX_OPEN_CONNECTIONS: usize = 16;

/// The limits every statement runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteLimits {
    /// Largest database file, in bytes (SQLite's `max_page_count`); past it, `database-full`.
    pub max_database_bytes: u64,
    /// Most rows one statement may return.
    pub max_rows: usize,
    /// Most bytes (text and blobs, 8 per number) one statement may return.
    pub max_result_bytes: usize,
    /// Longest statement text, and largest text or blob value, in bytes.
    pub max_value_bytes: usize,
    /// How long one statement may run before it is interrupted.
    pub statement_timeout: Duration,
}

impl Default for SqliteLimits {
    fn default() -> Self {
        Self {
            max_database_bytes: 1 << 30,
            max_rows: 100_000,
            max_result_bytes: 16 << 20,
            max_value_bytes: 16 << 20,
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite databases of an application, opened on first use and shared by every
/// instance (and every component) of it. Cloning shares them.
#[derive(Clone)]
pub struct SqliteDatabases {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the files live; `None`: in memory.
    dir: Option<PathBuf>,
    /// The labels given a file of their own (a runtime config's `path`).
    paths: BTreeMap<String, PathBuf>,
    limits: SqliteLimits,
    open: Mutex<BTreeMap<String, Arc<Mutex<Connection>>>>,
}

impl std::fmt::Debug for SqliteDatabases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.dir {
            Some(dir) => write!(f, "SqliteDatabases({})", dir.display()),
            None => f.write_str("SqliteDatabases(in memory)"),
        }
    }
}

/// A database could not be opened or a statement failed: the interface's error, with the
/// host's detail kept for the log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The component's `sqlite_databases` does not list the database.
    #[error("the component may not open this database")]
    AccessDenied,
    /// The connection is closed or not one of this instance's.
    #[error("not an open connection")]
    InvalidConnection,
    /// The database is at its size limit.
    #[error("the database is full")]
    Full,
    /// Anything else: SQL errors (the guest's to read), I/O, limits.
    #[error("{0}")]
    Other(String),
}

impl From<SqliteError> for Error {
    fn from(err: SqliteError) -> Self {
        match err {
            SqliteError::AccessDenied => Error::AccessDenied,
            SqliteError::InvalidConnection => Error::InvalidConnection,
            SqliteError::Full => Error::DatabaseFull,
            SqliteError::Other(message) => Error::Io(message),
        }
    }
}

/// What one statement returned, in the terms of neither interface version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<SqlValue>>,
    /// The rowid the statement inserted, if it inserted a row.
    pub(crate) inserted_rowid: Option<i64>,
    /// The rows the statement inserted, updated or deleted, if it could write.
    pub(crate) changes: Option<u64>,
}

impl From<rusqlite::Error> for SqliteError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Self::Full,
            Some(ErrorCode::OperationInterrupted) => {
                Self::Other("the statement took too long and was interrupted".to_owned())
            }
            _ => Self::Other(err.to_string()),
        }
    }
}

/// The file name of a database label in the state directory.
pub fn database_file_name(label: &str) -> String {
    if label == "default" {
        "sqlite_db.db".to_owned()
    } else {
        format!("{label}.db")
    }
}

/// Pragmas a guest may not run: they would reach beyond its data (files, the process's
/// memory, the size limit) or break the host's settings for every instance.
const DENIED_PRAGMAS: &[&str] = &[
    "cache_size",
    "data_store_directory",
    "hard_heap_limit",
    "journal_mode",
    "locking_mode",
    "max_page_count",
    "mmap_size",
    "page_size",
    "soft_heap_limit",
    "temp_store_directory",
    "threads",
    "trusted_schema",
    "writable_schema",
];

fn authorize(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
        AuthAction::Pragma { pragma_name, .. }
            if DENIED_PRAGMAS
                .iter()
                .any(|denied| denied.eq_ignore_ascii_case(pragma_name)) =>
        {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

impl SqliteDatabases {
    /// Databases as files in `dir` (created when first opened).
    pub fn in_dir(dir: &Path, limits: SqliteLimits) -> Self {
        Self::new(Some(dir.to_owned()), limits)
    }

    /// Databases that live as long as this handle and its clones.
    pub fn in_memory(limits: SqliteLimits) -> Self {
        Self::new(None, limits)
    }

    /// The databases of `dir` (or in memory), but those of `paths`, each in its file.
    pub fn with_paths(
        dir: Option<&Path>,
        paths: BTreeMap<String, PathBuf>,
        limits: SqliteLimits,
    ) -> Self {
        let mut databases = Self::new(dir.map(Path::to_owned), limits);
        if let Some(inner) = Arc::get_mut(&mut databases.inner) {
            inner.paths = paths;
        }
        databases
    }

    fn new(dir: Option<PathBuf>, limits: SqliteLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                paths: BTreeMap::new(),
                limits,
                open: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The file of `label`, or `None` in memory.
    pub fn location(&self, label: &str) -> Option<PathBuf> {
        if let Some(path) = self.inner.paths.get(label) {
            return Some(path.clone());
        }
        self.inner
            .dir
            .as_ref()
            .map(|dir| dir.join(database_file_name(label)))
    }

    fn connection(&self, label: &str) -> Result<Arc<Mutex<Connection>>, SqliteError> {
        let mut open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = open.get(label) {
            return Ok(conn.clone());
        }
        let conn = self.open_connection(label).map_err(|err| {
            tracing::warn!(database = %label, "cannot open the SQLite database: {err}");
            SqliteError::Other(format!("cannot open the database `{label}`"))
        })?;
        let conn = Arc::new(Mutex::new(conn));
        open.insert(label.to_owned(), conn.clone());
        Ok(conn)
    }

    fn open_connection(&self, label: &str) -> Result<Connection, String> {
        let conn = match self.location(label) {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
                }
                crate::files::create_private(&path)
                    .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
                let conn = Connection::open(&path).map_err(|err| err.to_string())?;
                crate::files::warn_if_shared(&path, "SQLite database");
                conn.pragma_update(None, "journal_mode", "WAL")
                    .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
                    .map_err(|err| err.to_string())?;
                conn
            }
            None => Connection::open_in_memory().map_err(|err| err.to_string())?,
        };
        let limits = &self.inner.limits;
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(|err| err.to_string())?;
        let max_bytes = i64::try_from(limits.max_database_bytes).unwrap_or(i64::MAX);
        let max_pages = (max_bytes / page_size.max(512)).max(1);
        let max_value = i32::try_from(limits.max_value_bytes).unwrap_or(i32::MAX);
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "max_page_count", max_pages)?;
            conn.pragma_update(None, "trusted_schema", false)?;
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
            conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, max_value)?;
            conn.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, max_value)?;
            conn.authorizer(Some(authorize))?;
            Ok(())
        };
        setup().map_err(|err| err.to_string())?;
        Ok(conn)
    }

    /// Runs one statement on `label` with `parameters` bound to its placeholders, and
    /// returns its columns and rows.
    pub(crate) fn execute(
        &self,
        label: &str,
        statement: &str,
        parameters: Vec<SqlValue>,
    ) -> Result<Rows, SqliteError> {
        let limits = self.inner.limits;
        let conn = self.connection(label)?;
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        conn.progress_handler(
            10_000,
            Some(move || started.elapsed() > limits.statement_timeout),
        )?;
        // Instances share the connection: the rowid before tells whether this statement
        // inserted one.
        let rowid_before = conn.last_insert_rowid();
        let result = run(&conn, statement, parameters, &limits);
        conn.progress_handler(0, None::<fn() -> bool>)?;
        let (columns, rows, writes) = result?;
        let rowid = conn.last_insert_rowid();
        Ok(Rows {
            columns,
            rows,
            inserted_rowid: (writes && rowid != rowid_before).then_some(rowid),
            changes: writes.then(|| conn.changes()),
        })
    }
}

/// Opens (and so creates) `label`'s database off the threads that serve requests.
pub(crate) async fn open_blocking(
    sqlite: SqliteDatabases,
    label: String,
) -> Result<(), SqliteError> {
    let pending = super::PendingOperation::start();
    tokio::task::spawn_blocking(move || {
        let _pending = pending;
        sqlite.connection(&label).map(drop)
    })
    .await
    .map_err(|err| SqliteError::Other(format!("the SQLite task failed: {err}")))?
}

/// Runs a statement off the threads that serve requests.
pub(crate) async fn execute_blocking(
    sqlite: SqliteDatabases,
    label: String,
    statement: String,
    parameters: Vec<SqlValue>,
) -> Result<Rows, SqliteError> {
    let pending = super::PendingOperation::start();
    tokio::task::spawn_blocking(move || {
        let _pending = pending;
        sqlite.execute(&label, &statement, parameters)
    })
    .await
    .map_err(|err| SqliteError::Other(format!("the SQLite task failed: {err}")))?
}

/// Columns, rows, and whether the statement could write.
type Ran = (Vec<String>, Vec<Vec<SqlValue>>, bool);

fn run(
    conn: &Connection,
    statement: &str,
    parameters: Vec<SqlValue>,
    limits: &SqliteLimits,
) -> Result<Ran, SqliteError> {
    let mut stmt = conn.prepare(statement)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let writes = !stmt.readonly();
    let mut rows = stmt.query(rusqlite::params_from_iter(parameters))?;
    let (mut out, mut bytes) = (Vec::new(), 0_usize);
    while let Some(row) = rows.next()? {
        if out.len() >= limits.max_rows {
            return Err(SqliteError::Other(format!(
                "the result has more than {} rows",
                limits.max_rows
            )));
        }
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let value = match row.get_ref(i)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Integer(n),
                ValueRef::Real(f) => SqlValue::Real(f),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            };
            bytes += match &value {
                SqlValue::Text(t) => t.len(),
                SqlValue::Blob(b) => b.len(),
                _ => 8,
            };
            values.push(value);
        }
        if bytes > limits.max_result_bytes {
            return Err(SqliteError::Other(format!(
                "the result is larger than {} bytes",
                limits.max_result_bytes
            )));
        }
        out.push(values);
    }
    Ok((columns, out, writes))
}

/// A connection the guest opened: its database's label, and what its last statements
/// inserted and changed (spin:sqlite@3.1's `last-insert-rowid` and `changes`).
pub struct OpenConnection {
    label: String,
    last_insert_rowid: i64,
    changes: u64,
}

impl OpenConnection {
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        self.last_insert_rowid
    }

    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }
}

/// The connection work both interface versions share.
impl PlatformView<'_> {
    /// The databases, once this component may open `database` and this instance has a
    /// connection left; the caller opens the file with [`open_blocking`], then pushes the
    /// connection (as [`open_database`](Self::open_database) does).
    pub(crate) fn prepare_open(&self, database: &str) -> Result<SqliteDatabases, SqliteError> {
        if !self
            .platform
            .databases
            .iter()
            .any(|label| label == database)
        {
            crate::throttle::warn_throttled!(%database, "SQLite database denied: not in the component's sqlite_databases");
            return Err(SqliteError::AccessDenied);
        }
        if *self.open_connections >= MAX_OPEN_CONNECTIONS {
            return Err(SqliteError::Other(format!(
                "an instance may have at most {MAX_OPEN_CONNECTIONS} connections open"
            )));
        }
        Ok(self.platform.sqlite.clone())
    }

    /// Opens `database` for this instance: checked, its file opened off the serving
    /// threads, the connection pushed.
    pub(crate) async fn open_database(
        &mut self,
        database: String,
    ) -> Result<Resource<OpenConnection>, SqliteError> {
        let sqlite = self.prepare_open(&database)?;
        open_blocking(sqlite, database.clone()).await?;
        self.push_connection(database)
    }

    /// Runs a statement on `conn` off the serving threads and keeps what it inserted and
    /// changed on the connection.
    pub(crate) async fn execute_on(
        &mut self,
        conn: &Resource<OpenConnection>,
        statement: String,
        parameters: Vec<SqlValue>,
    ) -> Result<Rows, SqliteError> {
        let (sqlite, label) = self.statement_target(conn)?;
        let rows = execute_blocking(sqlite, label, statement, parameters).await?;
        self.record_statement(conn, &rows);
        Ok(rows)
    }

    pub(crate) fn push_connection(
        &mut self,
        label: String,
    ) -> Result<Resource<OpenConnection>, SqliteError> {
        let conn = self
            .table
            .push(OpenConnection {
                label,
                last_insert_rowid: 0,
                changes: 0,
            })
            .map_err(|err| SqliteError::Other(err.to_string()))?;
        *self.open_connections += 1;
        Ok(conn)
    }

    pub(crate) fn connection(
        &self,
        conn: &Resource<OpenConnection>,
    ) -> Result<&OpenConnection, SqliteError> {
        self.table
            .get(conn)
            .map_err(|_| SqliteError::InvalidConnection)
    }

    /// The connection's label and the databases, for a statement to run on.
    pub(crate) fn statement_target(
        &self,
        conn: &Resource<OpenConnection>,
    ) -> Result<(SqliteDatabases, String), SqliteError> {
        let label = self.connection(conn)?.label.clone();
        Ok((self.platform.sqlite.clone(), label))
    }

    /// Keeps what a statement inserted and changed on its connection.
    pub(crate) fn record_statement(&mut self, conn: &Resource<OpenConnection>, rows: &Rows) {
        if let Ok(open) = self.table.get_mut(conn) {
            if let Some(rowid) = rows.inserted_rowid {
                open.last_insert_rowid = rowid;
            }
            if let Some(changes) = rows.changes {
                open.changes = changes;
            }
        }
    }

    pub(crate) fn close_connection(
        &mut self,
        conn: Resource<OpenConnection>,
    ) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        *self.open_connections = self.open_connections.saturating_sub(1);
        Ok(())
    }
}

fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(t) => SqlValue::Text(t),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

fn from_sql(value: SqlValue) -> Value {
    match value {
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(t) => Value::Text(t),
        SqlValue::Blob(b) => Value::Blob(b),
        SqlValue::Null => Value::Null,
    }
}

impl Host for PlatformView<'_> {}

impl HostConnection for PlatformView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<OpenConnection>, Error> {
        Ok(self.open_database(database).await?)
    }

    async fn execute(
        &mut self,
        conn: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        let parameters = parameters.into_iter().map(to_sql).collect();
        let rows = self.execute_on(&conn, statement, parameters).await?;
        Ok(QueryResult {
            columns: rows.columns,
            rows: rows
                .rows
                .into_iter()
                .map(|values| RowResult {
                    values: values.into_iter().map(from_sql).collect(),
                })
                .collect(),
        })
    }

    async fn drop(&mut self, conn: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.close_connection(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.to_owned())
    }

    #[test]
    fn statements_are_parameterised_and_rows_come_back_typed() {
        let db = SqliteDatabases::in_memory(SqliteLimits::default());
        db.execute(
            "default",
            "CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT, weight REAL, photo BLOB)",
            vec![],
        )
        .expect("create");
        for (id, (name, weight)) in [("Rex", 12.5), ("Robert'); DROP TABLE pets;--", 3.0)]
            .into_iter()
            .enumerate()
        {
            let inserted = db
                .execute(
                    "default",
                    "INSERT INTO pets (name, weight, photo) VALUES (?, ?, ?)",
                    vec![
                        text(name),
                        SqlValue::Real(weight),
                        SqlValue::Blob(vec![1, 2]),
                    ],
                )
                .expect("insert");
            assert_eq!(inserted.inserted_rowid, Some(id as i64 + 1));
            assert_eq!(inserted.changes, Some(1));
        }
        let updated = db
            .execute("default", "UPDATE pets SET weight = weight + 1", vec![])
            .expect("update");
        assert_eq!((updated.inserted_rowid, updated.changes), (None, Some(2)));
        let result = db
            .execute(
                "default",
                "SELECT id, name, weight, photo, NULL AS none FROM pets ORDER BY id",
                vec![],
            )
            .expect("select");
        assert_eq!(result.columns, ["id", "name", "weight", "photo", "none"]);
        assert_eq!((result.inserted_rowid, result.changes), (None, None));
        assert_eq!(result.rows.len(), 2, "the injected text stayed a value");
        assert!(matches!(result.rows[0][0], SqlValue::Integer(1)));
        assert!(matches!(&result.rows[1][1], SqlValue::Text(t) if t.starts_with("Robert'")));
        assert!(matches!(result.rows[0][2], SqlValue::Real(w) if w == 13.5));
        assert!(matches!(&result.rows[0][3], SqlValue::Blob(b) if b == &[1, 2]));
        assert!(matches!(result.rows[0][4], SqlValue::Null));
        // Each label is a database of its own.
        let err = db
            .execute("other", "SELECT * FROM pets", vec![])
            .expect_err("no such table");
        assert!(err.to_string().contains("no such table"), "{err}");
    }

    #[test]
    fn the_host_is_out_of_reach() {
        let dir = std::env::temp_dir().join(format!("edge-host-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = SqliteDatabases::in_dir(&dir, SqliteLimits::default());
        let outside = dir.join("outside.db");
        let outside = outside.to_str().expect("utf-8");
        for statement in [
            format!("ATTACH DATABASE '{outside}' AS other"),
            format!("VACUUM INTO '{outside}'"),
            "PRAGMA max_page_count = 4294967294".to_owned(),
            "PRAGMA cache_size = -100000000".to_owned(),
            "PRAGMA journal_mode = OFF".to_owned(),
            "PRAGMA writable_schema = ON".to_owned(),
            "SELECT load_extension('/tmp/x.so')".to_owned(),
            "CREATE TABLE a (x); CREATE TABLE b (x)".to_owned(),
        ] {
            let result = db.execute("default", &statement, vec![]);
            assert!(result.is_err(), "{statement}: {result:?}");
        }
        assert!(!Path::new(outside).exists(), "nothing was written outside");
        assert!(
            dir.join("sqlite_db.db").is_file(),
            "default is sqlite_db.db"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn results_time_and_size_are_bounded() {
        let limits = SqliteLimits {
            max_database_bytes: 64 * 1024,
            max_rows: 10,
            max_result_bytes: 1000,
            max_value_bytes: 4096,
            statement_timeout: Duration::from_millis(200),
        };
        let db = SqliteDatabases::in_memory(limits);
        let many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 11) SELECT i FROM n";
        let err = db
            .execute("default", many, vec![])
            .expect_err("too many rows");
        assert!(err.to_string().contains("more than 10 rows"), "{err}");
        let err = db
            .execute("default", "SELECT ?", vec![SqlValue::Blob(vec![0; 5000])])
            .expect_err("too big a value");
        assert!(matches!(err, SqliteError::Other(_)), "{err}");
        let err = db
            .execute(
                "default",
                "SELECT zeroblob(3000) FROM (SELECT 1 UNION ALL SELECT 2)",
                vec![],
            )
            .expect_err("too many bytes");
        assert!(err.to_string().contains("larger than 1000 bytes"), "{err}");
        let forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
        let err = db
            .execute("default", forever, vec![])
            .expect_err("interrupted");
        assert!(err.to_string().contains("interrupted"), "{err}");
        db.execute("default", "CREATE TABLE t (b BLOB)", vec![])
            .expect("create");
        let full = (0..100)
            .map(|_| db.execute("default", "INSERT INTO t VALUES (zeroblob(4000))", vec![]))
            .find_map(Result::err)
            .expect("the database fills up");
        assert_eq!(full, SqliteError::Full);
        assert!(matches!(Error::from(full), Error::DatabaseFull));
        // And it still answers.
        let result = db
            .execute("default", "SELECT count(*) FROM t", vec![])
            .expect("count");
        assert!(matches!(result.rows[0][0], SqlValue::Integer(n) if n > 0));
    }
}
