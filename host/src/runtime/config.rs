//! Configuration of one component's runtime: guest limits, environment, code cache,
//! instances and the platform's extensions.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::{ConcurrentReuse, LinkerExtension, OutgoingHttp, SocketPolicy};

/// Limits applied to every guest instance.
#[derive(Debug, Clone)]
pub struct GuestLimits {
    /// Largest linear memory one instance may grow to, in bytes. Growing past it fails, which
    /// a Rust guest turns into a trap: the request is answered 500. On a shared [`Engine`]
    /// it may not exceed the engine's [`EngineConfig::max_memory_bytes`].
    ///
    /// [`Engine`]: crate::Engine
    /// [`EngineConfig::max_memory_bytes`]: crate::EngineConfig::max_memory_bytes
    pub max_memory_bytes: usize,
    /// Wall-clock time a guest may run for one request, response body included. Past it the
    /// instance is stopped (within one epoch tick when it is computing) and the request is
    /// answered 504 if no response was sent yet.
    pub deadline: Duration,
    /// How often running guests check the deadline and yield to other requests. The engine's
    /// setting: it applies where [`Runtime::load`](crate::Runtime::load) makes the engine.
    pub epoch_tick: Duration,
    /// Host resources (`wasi:http` fields, requests, responses, streams, pollables, open
    /// stores...) one instance may hold at once. A guest that asks for more traps: its
    /// request is answered 500 and the instance is never reused. These live in host memory,
    /// outside `max_memory_bytes`. It bounds the component-model handles of the store as
    /// well (WASI 0.3 streams, futures and subtasks, guest-defined resources), with four
    /// entries of wasmtime's concurrency table per handle.
    pub max_resources: usize,
    /// Largest `wasi:http` `fields` (header or trailer set) a guest may build, in bytes: an
    /// `append` or `set` beyond it fails with the interface's `header-error`. With
    /// `max_resources`, it bounds the host memory a guest's header sets hold: at most
    /// `max_resources × max_field_bytes` per instance.
    pub max_field_bytes: usize,
    /// Bytes of stdout and stderr one request may have logged; past it the rest of the
    /// request's output is dropped (and the log says how much).
    pub max_output_bytes: usize,
    /// `wasi:sockets` sockets (TCP and UDP) one instance may hold at once; one more is the
    /// interface's `new-socket-limit`. All guests of the process together hold at most
    /// [`MAX_SOCKETS`](crate::runtime::MAX_SOCKETS).
    pub max_sockets: usize,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 128 * 1024 * 1024,
            deadline: Duration::from_secs(30),
            epoch_tick: Duration::from_millis(10),
            max_resources: 1024,
            max_field_bytes: 64 * 1024,
            max_output_bytes: 1 << 20,
            max_sockets: 32,
        }
    }
}

/// How a component is run.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Limits per instance.
    pub limits: GuestLimits,
    /// Environment variables the guest sees. Nothing from the host's environment is passed
    /// unless it is listed here.
    pub env: Vec<(String, String)>,
    /// Host directories the guest sees, read-only (`wasi:filesystem` preopens). None by
    /// default: a guest sees no file system.
    pub dirs: Vec<GuestDir>,
    /// Directory of the compiled-code cache; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Instances alive at once at most: the pooling allocator reserves this many slots up
    /// front. Requests beyond it are answered 503. The engine's setting, shared by every
    /// component on it (for `edge-host up`, the whole application): it applies where
    /// [`Runtime::load`](crate::Runtime::load) or [`App`](crate::App) makes the engine.
    pub max_instances: u32,
    /// Requests one instance of a WASI 0.2 component serves in turn before it is dropped; 0
    /// or 1 gives every request a fresh instance (the default). Only for components that
    /// keep no state between requests: a WASI 0.2 component may, and with reuse one client
    /// could see what another left in memory. An instance that fails is never reused.
    pub instance_reuse: u32,
    /// How instances of a WASI 0.3 component (`wasi:http/handler@0.3`) are shared: requests
    /// in all and at once per instance, and how long an idle one is kept. A 0.3 component
    /// is written to serve concurrent requests, which is why it is reused by default.
    pub concurrent_reuse: ConcurrentReuse,
    /// Pre-initialise components that export `wizer-initialize` (the default): run it once
    /// at load, with every import trapping, and start each instance from the snapshot.
    /// Should it fail, the component is served as it is.
    pub preinitialize: bool,
    /// Host interfaces beyond WASI and `wasi:http` (Spin's key-value store and variables,
    /// say), linked in this order.
    pub extensions: Vec<Arc<dyn LinkerExtension>>,
    /// What outgoing `wasi:http` requests do; `None` (the default) refuses them all with
    /// `HTTP-request-denied`.
    pub outgoing_http: Option<Arc<dyn OutgoingHttp>>,
    /// What `wasi:sockets` may reach; `None` (the default) refuses every socket.
    pub sockets: Option<Arc<dyn SocketPolicy>>,
}

/// Environment values often hold secrets: `Debug` shows their names only.
impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<_> = self
            .env
            .iter()
            .map(|(name, _)| format!("{name}=<redacted>"))
            .collect();
        f.debug_struct("RuntimeConfig")
            .field("limits", &self.limits)
            .field("env", &env)
            .field("dirs", &self.dirs)
            .field("cache_dir", &self.cache_dir)
            .field("max_instances", &self.max_instances)
            .field("instance_reuse", &self.instance_reuse)
            .field("concurrent_reuse", &self.concurrent_reuse)
            .field("preinitialize", &self.preinitialize)
            .field(
                "extensions",
                &self.extensions.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .field("outgoing_http", &self.outgoing_http.is_some())
            .field(
                "sockets",
                &self.sockets.as_ref().map(|policy| policy.uses()),
            )
            .finish()
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: GuestLimits::default(),
            env: Vec::new(),
            dirs: Vec::new(),
            cache_dir: None,
            max_instances: 1000,
            instance_reuse: 0,
            concurrent_reuse: ConcurrentReuse::default(),
            preinitialize: true,
            extensions: Vec::new(),
            outgoing_http: None,
            sockets: None,
        }
    }
}

/// A host directory a guest sees, read-only, at an absolute guest path: what `edge-host
/// serve --dir HOST::GUEST` and a Spin component's `files` give. The guest can read what is
/// below it and nothing else: `wasi:filesystem` resolves every path inside the directory
/// (`..` and symbolic links leading out of it fail), and it can neither write, create nor
/// remove anything.
#[derive(Debug, Clone)]
pub struct GuestDir {
    host: Arc<HostDir>,
    guest: String,
}

#[derive(Debug)]
enum HostDir {
    /// A directory given by the user.
    Given(PathBuf),
    /// A directory this host made (a Spin component's `files`), removed with the last
    /// runtime that uses it.
    Staged(tempfile::TempDir),
}

impl GuestDir {
    /// `host` seen by the guest at `guest`.
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        Self {
            host: Arc::new(HostDir::Given(host.into())),
            guest: guest.into(),
        }
    }

    /// A staged directory, deleted when the last `GuestDir` holding it is dropped.
    pub(crate) fn staged(dir: tempfile::TempDir, guest: impl Into<String>) -> Self {
        Self {
            host: Arc::new(HostDir::Staged(dir)),
            guest: guest.into(),
        }
    }

    /// The host directory.
    pub fn host(&self) -> &std::path::Path {
        match &*self.host {
            HostDir::Given(path) => path,
            HostDir::Staged(dir) => dir.path(),
        }
    }

    /// Where the guest sees it.
    pub fn guest(&self) -> &str {
        &self.guest
    }
}

/// The default compiled-code cache directory: `$XDG_CACHE_HOME/edge-host`, else
/// `$HOME/.cache/edge-host`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|base| base.join("edge-host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_environment_names_not_values() {
        let config = RuntimeConfig {
            env: vec![("API_TOKEN".to_owned(), "s3cr3t".to_owned())],
            ..RuntimeConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("API_TOKEN=<redacted>"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
