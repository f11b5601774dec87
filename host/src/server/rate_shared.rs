//! Rate limits shared by replicas: the token buckets in Redis, taken by one Lua script per
//! request (all the buckets that apply to it at once, or none), on Redis's own clock, so
//! that several servers on one Redis hold one limit per client. A bucket's key expires
//! once it would be full again: Redis holds the clients that are being limited, no more.
//!
//! A request waits for Redis (on the blocking pool, within [`TIMEOUT`]); when Redis cannot
//! be reached the request passes (a limit must not take the service down with it), and the
//! log says so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Client, Connection};

/// How long connecting, or waiting for the script's answer, may take.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Connections kept for the next requests.
const MAX_IDLE: usize = 32;

/// For each `KEYS[i]`, `ARGV[2i-1]` is its capacity and `ARGV[2i]` its rate in tokens per
/// millisecond. Brings every bucket up to now (Redis's `TIME`); if each holds a token,
/// takes one from each. Answers `{taken (1/0), tokens of bucket 1, ...}` (as strings).
const TAKE: &str = r"
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local tokens = {}
local all = 1
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 't', 'at')
  local t = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  t = math.min(capacity, t + math.max(0, now - at) * rate)
  tokens[i] = t
  if t < 1 then all = 0 end
end
local out = {tostring(all)}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local t = tokens[i]
  if all == 1 then t = t - 1 end
  redis.call('HSET', key, 't', tostring(t), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - t) / rate) + 1000)
  out[i + 1] = tostring(t)
end
return out
";

/// The buckets in one Redis database.
#[derive(Clone)]
pub(crate) struct SharedBuckets {
    client: Client,
    script: Arc<redis::Script>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

/// One bucket a request takes from: its key, capacity and rate (tokens per second).
pub(crate) struct Take {
    pub key: String,
    pub capacity: f64,
    pub rate: f64,
}

impl SharedBuckets {
    /// Buckets in the Redis at `url`, connected and pinged now.
    pub(crate) fn connect(url: &str) -> Result<Self, String> {
        let client = Client::open(url).map_err(|e| e.to_string())?;
        let buckets = Self {
            client,
            script: Arc::new(redis::Script::new(TAKE)),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        let mut con = buckets.connection()?;
        redis::cmd("PING")
            .query::<String>(&mut con)
            .map_err(|e| e.to_string())?;
        buckets.give_back(con);
        Ok(buckets)
    }

    fn connection(&self) -> Result<Connection, String> {
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(con) = kept {
            return Ok(con);
        }
        let con = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| e.to_string())?;
        con.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        con.set_write_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        Ok(con)
    }

    fn give_back(&self, con: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(con);
        }
    }

    /// Takes a token from every bucket of `takes`, or none: `Some((taken, tokens left in
    /// each))`; `None` when Redis did not answer.
    pub(crate) async fn take(&self, takes: Vec<Take>) -> Option<(bool, Vec<f64>)> {
        let this = self.clone();
        let answer = tokio::task::spawn_blocking(move || this.take_blocking(&takes)).await;
        match answer {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(err)) => {
                crate::throttle::warn_throttled!(
                    "shared rate limits: Redis failed, the request passes: {err}"
                );
                None
            }
            Err(err) => {
                crate::throttle::warn_throttled!(
                    "shared rate limits: the task failed, the request passes: {err}"
                );
                None
            }
        }
    }

    fn take_blocking(&self, takes: &[Take]) -> Result<(bool, Vec<f64>), String> {
        let mut con = self.connection()?;
        let mut invocation = self.script.prepare_invoke();
        for take in takes {
            invocation
                .key(&take.key)
                .arg(take.capacity)
                .arg(take.rate / 1000.0);
        }
        let out: Vec<String> = invocation.invoke(&mut con).map_err(|e| e.to_string())?;
        self.give_back(con);
        let mut values = out.iter();
        let taken = values.next().is_some_and(|v| v == "1");
        let tokens = values.map(|v| v.parse().unwrap_or(0.0)).collect();
        Ok((taken, tokens))
    }
}
