//! A key-value store in Redis, as Spin's `type = "redis"` store keeps one: each key of the
//! store is a Redis key of the URL's database, its value the Redis string. Several
//! `edge-host` processes on one Redis share the store; a compare-and-swap is one Lua script,
//! atomic on the server, so it holds across them.
//!
//! The calls are synchronous (the platform runs them on tokio's blocking pool, as it runs
//! SQLite's). Connections are made on demand and kept, at most [`MAX_IDLE`] idle; each has
//! a connect, read and write timeout of [`TIMEOUT`], so an unreachable Redis fails a call
//! (the guest gets the interface's `other` error) instead of holding it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Client, Connection, FromRedisValue};

use super::key_value::{
    KeyAndValue, MAX_RESULT_BYTES, Store, StoreError, add_result_bytes, check_batch, check_write,
};

/// Connections kept for the next calls.
const MAX_IDLE: usize = 16;
/// How long connecting, or waiting for a reply, may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sets `KEYS[1]` to `ARGV[2]` if its value is `ARGV[1]`: 1 if it did.
const SWAP: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end";

/// One Redis database, shared by clones.
#[derive(Clone)]
pub(crate) struct RedisStore {
    client: Client,
    /// The URL without its password, for errors and logs.
    shown: String,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({})", self.shown)
    }
}

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`, `redis+unix:///path`); nothing is
    /// connected yet.
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        let client = Client::open(url).map_err(|e| e.to_string())?;
        // The user information (a password, say) is never shown.
        let shown = match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
            }
            _ => url.to_owned(),
        };
        Ok(Self {
            client,
            shown,
            idle: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Connects and pings: whether the server answers now.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.with(|con| redis::cmd("PING").query::<String>(con).map(drop))
    }

    /// Runs `f` on a kept connection or a new one; a connection that failed is dropped.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<R>,
    ) -> Result<R, StoreError> {
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut con = match kept {
            Some(con) => con,
            None => self.connect()?,
        };
        match f(&mut con) {
            Ok(value) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(err) => {
                crate::throttle::warn_throttled!(redis = %self.shown, "Redis key-value error: {err}");
                Err(StoreError::new(format!("Redis ({}): {err}", self.shown)))
            }
        }
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let fail = |err: redis::RedisError| {
            crate::throttle::warn_throttled!(redis = %self.shown, "cannot reach Redis: {err}");
            StoreError::new(format!("cannot reach Redis ({}): {err}", self.shown))
        };
        let con = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(fail)?;
        con.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        con.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        Ok(con)
    }
}

fn query<T: FromRedisValue>(cmd: &redis::Cmd, con: &mut Connection) -> redis::RedisResult<T> {
    cmd.query(con)
}

/// The label is not a part of the keys: the store is the URL's database, as in Spin.
impl Store for RedisStore {
    fn get(&self, _store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|con| query(redis::cmd("GET").arg(key), con))
    }

    fn set(&self, _store: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_write(key, value)?;
        self.with(|con| query::<()>(redis::cmd("SET").arg(key).arg(value), con))
    }

    fn delete(&self, _store: &str, key: &str) -> Result<(), StoreError> {
        self.with(|con| query::<()>(redis::cmd("DEL").arg(key), con))
    }

    fn exists(&self, _store: &str, key: &str) -> Result<bool, StoreError> {
        self.with(|con| query(redis::cmd("EXISTS").arg(key), con))
    }

    fn keys(&self, _store: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = Vec::new();
        let mut bytes = 0_usize;
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) =
                self.with(|con| query(redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000), con))?;
            for key in batch {
                add_result_bytes(&mut bytes, key.len()).map_err(|_| {
                    StoreError::new(format!(
                        "the store's keys take more than {MAX_RESULT_BYTES} bytes"
                    ))
                })?;
                keys.push(key);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key twice; the SQLite store answers sorted keys.
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn compare_and_swap(
        &self,
        _store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        check_write(key, value)?;
        match expected {
            None => self.with(|con| {
                let set: Option<String> =
                    query(redis::cmd("SET").arg(key).arg(value).arg("NX"), con)?;
                Ok(set.is_some())
            }),
            Some(expected) => self.with(|con| {
                let swapped: i64 = redis::Script::new(SWAP)
                    .key(key)
                    .arg(expected)
                    .arg(value)
                    .invoke(con)?;
                Ok(swapped == 1)
            }),
        }
    }

    /// `INCRBY`: the counter is Redis's decimal text, as Spin keeps it in Redis.
    fn increment(&self, _store: &str, key: &str, delta: i64) -> Result<i64, StoreError> {
        check_write(key, &[])?;
        self.with(|con| query(redis::cmd("INCRBY").arg(key).arg(delta), con))
    }

    fn get_many(&self, _store: &str, keys: Vec<String>) -> Result<Vec<KeyAndValue>, StoreError> {
        check_batch(keys.len())?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> =
            self.with(|con| query(redis::cmd("MGET").arg(&keys), con))?;
        let mut bytes = 0_usize;
        keys.into_iter()
            .zip(values)
            .map(|(key, value)| {
                add_result_bytes(&mut bytes, key.len() + value.as_ref().map_or(0, Vec::len))?;
                Ok((key, value))
            })
            .collect()
    }

    fn set_many(&self, _store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        check_batch(pairs.len())?;
        for (key, value) in pairs {
            check_write(key, value)?;
        }
        if pairs.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("MSET");
        for (key, value) in pairs {
            cmd.arg(key).arg(value);
        }
        self.with(|con| query::<()>(&cmd, con))
    }

    fn delete_many(&self, _store: &str, keys: &[String]) -> Result<(), StoreError> {
        check_batch(keys.len())?;
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|con| query::<()>(redis::cmd("DEL").arg(keys), con))
    }
}
