//! Worker threads: each serves connections on a single-threaded runtime of its own, so a
//! connection, its requests and their guests never change threads.

use crate::ServeError;

/// The most worker threads a server starts.
pub const MAX_WORKERS: usize = 1024;

/// Threads serving connections, each on a single-threaded runtime of its own.
pub(super) struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    next: std::sync::atomic::AtomicUsize,
    /// Dropped to stop the threads (their runtimes end with them).
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    pub(super) async fn start(count: usize) -> Result<Self, ServeError> {
        let mut workers = Self {
            handles: Vec::with_capacity(count),
            next: std::sync::atomic::AtomicUsize::new(0),
            stop: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
        };
        for index in 0..count {
            let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            // The runtime is built, run and dropped on its own thread, never in the caller's
            // async context (where dropping a runtime is not allowed).
            let thread = std::thread::Builder::new()
                .name(format!("edge-host-worker-{index}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(err) => {
                            let _ = handle_tx.send(Err(err));
                            return;
                        }
                    };
                    if handle_tx.send(Ok(runtime.handle().clone())).is_err() {
                        return;
                    }
                    // Until the server is done with it (the sender dropped); what is left is
                    // cancelled as the runtime drops.
                    let _ = runtime.block_on(stop_rx);
                })
                .map_err(ServeError::Workers)?;
            workers.threads.push(thread);
            workers.stop.push(stop_tx);
            let handle = handle_rx
                .await
                .map_err(|_| {
                    ServeError::Workers(std::io::Error::other("a worker thread ended at start"))
                })?
                .map_err(ServeError::Workers)?;
            workers.handles.push(handle);
        }
        Ok(workers)
    }

    /// The worker for the next connection (in turn), or `None` without workers.
    pub(super) fn next(&self) -> Option<&tokio::runtime::Handle> {
        if self.handles.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.handles.get(turn % self.handles.len())
    }

    /// Stops the threads and waits until they have ended: whatever still ran there (a
    /// response streaming past the grace period, say) has been cancelled and dropped.
    pub(super) async fn stop(self) {
        let Self { stop, threads, .. } = self;
        drop(stop);
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .filter_map(|thread| thread.join().err())
                .count()
        })
        .await;
        match joined {
            Ok(0) => {}
            Ok(panicked) => tracing::error!(panicked, "worker threads panicked"),
            Err(err) => tracing::error!("waiting for the worker threads failed: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn workers_take_connections_in_turn_and_end_when_stopped() {
        let workers = Workers::start(2).await.expect("threads start");
        let mut names = Vec::new();
        for _ in 0..4 {
            let worker = workers.next().expect("two workers").clone();
            let name = worker
                .spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .expect("the task runs");
            names.push(name.unwrap_or_default());
        }
        assert_eq!(
            names,
            [
                "edge-host-worker-0",
                "edge-host-worker-1",
                "edge-host-worker-0",
                "edge-host-worker-1"
            ]
        );
        let handle = workers.next().expect("two workers").clone();
        workers.stop().await;
        // Its runtime is gone with its thread: nothing runs there any more.
        let late = handle.spawn(async {}).await;
        assert!(late.is_err_and(|err| err.is_cancelled()));

        let none = Workers::start(0).await.expect("no threads");
        assert!(none.next().is_none());
        none.stop().await;
    }
}
