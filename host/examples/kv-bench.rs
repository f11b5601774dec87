//! Reads and writes per second, and their latency, of the key-value store on SQLite (the
//! state directory's database) and on Redis: the store layer a guest's key-value calls
//! reach (`host::KeyValue`), with several threads at once as concurrent requests would.
//!
//! ```text
//! scripts/bench-kv                     # starts a redis-server of its own
//! cargo run --release -p host --example kv-bench -- redis://127.0.0.1:6379/0 [THREADS] [OPS]
//! ```

use std::time::{Duration, Instant};

use host::KeyValue;

/// Latencies of one phase, from every thread.
struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Phase {
    fn row(&mut self, backend: &str) -> String {
        self.latencies.sort();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies[i].as_secs_f64() * 1e6
        };
        format!(
            "| {backend} | {} | {:.0} | {:.0} | {:.0} |",
            self.name,
            self.latencies.len() as f64 / self.wall.as_secs_f64(),
            at(0.5),
            at(0.99),
        )
    }
}

/// Runs `op(thread, i)` `ops` times on each of `threads` threads.
fn phase(
    name: &'static str,
    threads: usize,
    ops: usize,
    op: impl Fn(usize, usize) + Sync,
) -> Phase {
    let started = Instant::now();
    let latencies = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let op = &op;
                scope.spawn(move || {
                    (0..ops)
                        .map(|i| {
                            let at = Instant::now();
                            op(t, i);
                            at.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a bench thread panicked"))
            .collect()
    });
    Phase {
        name,
        latencies,
        wall: started.elapsed(),
    }
}

fn bench(backend: &str, kv: &KeyValue, threads: usize, ops: usize) -> Vec<String> {
    let value = vec![b'v'; 256];
    let key = |t: usize, i: usize| format!("users/{t}-{i}");
    let mut rows = Vec::new();
    rows.push(
        phase("write (set, 256 B)", threads, ops, |t, i| {
            kv.set("default", &key(t, i), &value).expect("set");
        })
        .row(backend),
    );
    rows.push(
        phase("read (get)", threads, ops, |t, i| {
            let got = kv.get("default", &key(t, (i * 7919) % ops)).expect("get");
            assert!(got.is_some());
        })
        .row(backend),
    );
    rows.push(
        phase("compare-and-swap", threads, ops, |t, i| {
            let k = key(t, i);
            let swapped = kv
                .compare_and_swap("default", &k, Some(&value), &value)
                .expect("cas");
            assert!(swapped);
        })
        .row(backend),
    );
    rows
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: kv-bench REDIS_URL [THREADS] [OPS]")?;
    let threads: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let ops: usize = args.next().map_or(Ok(5000), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let sqlite = KeyValue::open(&dir.path().join("sqlite_key_value.db"))?;
    let redis = KeyValue::in_memory()?.with_redis_store("default", &url)?;
    println!("{threads} threads, {ops} operations each, per phase");
    println!();
    println!("| Store | Operation | ops/s | p50 µs | p99 µs |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for row in bench("SQLite (file, WAL)", &sqlite, threads, ops)
        .into_iter()
        .chain(bench("Redis (loopback)", &redis, threads, ops))
    {
        println!("{row}");
    }
    Ok(())
}
