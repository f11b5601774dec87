//! Spin's SQLite databases (`fermyon:spin/sqlite@2.0.0`): one real SQLite file per database
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
use rusqlite::types::ValueRef;
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
pub enum SqliteError {
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
            SqliteError::Full => Error::DatabaseFull,
            SqliteError::Other(message) => Error::Io(message),
        }
    }
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

    fn new(dir: Option<PathBuf>, limits: SqliteLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                limits,
                open: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The file of `label`, or `None` in memory.
    pub fn location(&self, label: &str) -> Option<PathBuf> {
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
                let conn = Connection::open(&path).map_err(|err| err.to_string())?;
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
    pub fn execute(
        &self,
        label: &str,
        statement: &str,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, SqliteError> {
        let limits = self.inner.limits;
        let conn = self.connection(label)?;
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        conn.progress_handler(
            10_000,
            Some(move || started.elapsed() > limits.statement_timeout),
        )?;
        let result = run(&conn, statement, parameters, &limits);
        conn.progress_handler(0, None::<fn() -> bool>)?;
        result
    }
}

fn run(
    conn: &Connection,
    statement: &str,
    parameters: Vec<Value>,
    limits: &SqliteLimits,
) -> Result<QueryResult, SqliteError> {
    let mut stmt = conn.prepare(statement)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let parameters = parameters.into_iter().map(|value| match value {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(f) => rusqlite::types::Value::Real(f),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    });
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
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Integer(n),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            };
            bytes += match &value {
                Value::Text(t) => t.len(),
                Value::Blob(b) => b.len(),
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
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

/// A connection the guest opened: its database's label.
pub struct OpenConnection {
    label: String,
}

impl Host for PlatformView<'_> {}

impl HostConnection for PlatformView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<OpenConnection>, Error> {
        if !self.platform.databases.contains(&database) {
            tracing::warn!(%database, "SQLite database denied: not in the component's sqlite_databases");
            return Err(Error::AccessDenied);
        }
        if *self.open_connections >= MAX_OPEN_CONNECTIONS {
            return Err(Error::Io(format!(
                "an instance may have at most {MAX_OPEN_CONNECTIONS} connections open"
            )));
        }
        let sqlite = self.platform.sqlite.clone();
        let label = database.clone();
        // Opening creates the file: not on a thread that serves requests.
        tokio::task::spawn_blocking(move || sqlite.connection(&label).map(drop))
            .await
            .map_err(|err| Error::Io(format!("the SQLite task failed: {err}")))??;
        let conn = self
            .table
            .push(OpenConnection { label: database })
            .map_err(|err| Error::Io(err.to_string()))?;
        *self.open_connections += 1;
        Ok(conn)
    }

    async fn execute(
        &mut self,
        conn: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        let label = self
            .table
            .get(&conn)
            .map_err(|_| Error::InvalidConnection)?
            .label
            .clone();
        let sqlite = self.platform.sqlite.clone();
        let result =
            tokio::task::spawn_blocking(move || sqlite.execute(&label, &statement, parameters))
                .await
                .map_err(|err| Error::Io(format!("the SQLite task failed: {err}")))?;
        Ok(result?)
    }

    async fn drop(&mut self, conn: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        *self.open_connections = self.open_connections.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
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
        for (name, weight) in [("Rex", 12.5), ("Robert'); DROP TABLE pets;--", 3.0)] {
            db.execute(
                "default",
                "INSERT INTO pets (name, weight, photo) VALUES (?, ?, ?)",
                vec![text(name), Value::Real(weight), Value::Blob(vec![1, 2])],
            )
            .expect("insert");
        }
        let result = db
            .execute(
                "default",
                "SELECT id, name, weight, photo, NULL AS none FROM pets ORDER BY id",
                vec![],
            )
            .expect("select");
        assert_eq!(result.columns, ["id", "name", "weight", "photo", "none"]);
        assert_eq!(result.rows.len(), 2, "the injected text stayed a value");
        assert!(matches!(result.rows[0].values[0], Value::Integer(1)));
        assert!(matches!(&result.rows[1].values[1], Value::Text(t) if t.starts_with("Robert'")));
        assert!(matches!(result.rows[0].values[2], Value::Real(w) if w == 12.5));
        assert!(matches!(&result.rows[0].values[3], Value::Blob(b) if b == &[1, 2]));
        assert!(matches!(result.rows[0].values[4], Value::Null));
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
            .execute("default", "SELECT ?", vec![Value::Blob(vec![0; 5000])])
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
        assert!(matches!(result.rows[0].values[0], Value::Integer(n) if n > 0));
    }
}
