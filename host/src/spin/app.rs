//! A Spin application: the routed components of a manifest (`edge-host up`), or one
//! component for every path (`edge-host serve`), as a [`Handler`].
//!
//! Routing follows Spin: the most specific route wins, exact before wildcard, and the
//! component sees the headers Spin sets ([`super::headers`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::PlatformConfig;
use super::headers::{full_url, route_headers, set_spin_headers};
use super::manifest::{AppManifest, KeyValueStore, ManifestError, Route, RuntimeConfigFile};
use super::outbound::OutboundConfig;
use super::platform::OperationLabels;
use super::routes::{RoutePattern, Router};
use crate::{
    DrainFuture, Engine, EngineConfig, Handler, HandlerFuture, KeyValue, LoadError, RequestBody,
    RequestContext, RequestError, Runtime, RuntimeConfig, SqliteDatabases, SqliteLimits,
};

/// A routed set of components. Cloning is cheap.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    router: Router<Target>,
    base: String,
    /// The engine every component shares.
    engine: Engine,
    metrics: AppMetrics,
}

/// What an application reports on the admin listener, shared by the applications loaded
/// on one [`AppData`] (the swaps of `up --watch`), so that one registration holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppMetrics {
    /// Instances alive, read at each scrape.
    instances: Gauge,
    /// The key-value operations, counted by the store.
    key_value: Option<Family<OperationLabels, Counter>>,
    /// Whether each tripped circuit breaker is open, read at each scrape.
    circuits: Family<CircuitLabels, Gauge>,
    /// Each component's compiled code: from the code cache or compiled.
    code: Family<CodeLabels, Gauge>,
}

/// The labels of where a component's code came from.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct CodeLabels {
    component: String,
    source: &'static str,
}

/// The labels of a circuit breaker's state.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct CircuitLabels {
    component: String,
    upstream: String,
}

/// A component behind a route.
pub(crate) struct Target {
    pub(crate) component: String,
    pub(crate) runtime: Runtime,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.component)
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// The route that serves every path.
fn catch_all() -> RoutePattern {
    // A constant pattern; parsing it cannot fail, but no panic is left in library code.
    "/..."
        .parse()
        .unwrap_or_else(|_| unreachable!("`/...` is a valid route"))
}

impl From<Runtime> for App {
    /// One component serving every path, as if mounted at `/...`, with the Spin headers.
    /// (Its platform is what its [`RuntimeConfig`] links; see [`App::single`].)
    fn from(runtime: Runtime) -> Self {
        Self::one(runtime)
    }
}

/// What `edge-host up` needs to load an application.
pub struct UpOptions<'a> {
    /// The manifest, `spin.toml`.
    pub manifest: &'a Path,
    /// The environment variables are read from (`SPIN_VARIABLE_<NAME>` overrides).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Where the key-value and SQLite databases live; `None`: `.spin/` beside the manifest,
    /// as Spin does.
    pub state_dir: Option<PathBuf>,
    /// What every component starts from before the manifest's settings apply; it also
    /// sizes the engine they share.
    pub defaults: RuntimeConfig,
    /// Timeouts and circuit breaking of every component's outbound HTTP.
    pub outbound: OutboundConfig,
    /// The runtime config file (`--runtime-config-file`), read: where stores and databases
    /// live, where variables come from. `None`: everything in the state directory.
    pub runtime_config: Option<&'a RuntimeConfigFile>,
}

impl std::fmt::Debug for UpOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpOptions")
            .field("manifest", &self.manifest)
            .field("state_dir", &self.state_dir)
            .field("defaults", &self.defaults)
            .field("outbound", &self.outbound)
            .field("runtime_config", &self.runtime_config)
            .finish_non_exhaustive()
    }
}

/// Why an application could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpError {
    /// The manifest is missing or wrong; every problem is listed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The key-value database could not be opened.
    #[error(transparent)]
    KeyValue(#[from] crate::KeyValueError),
    /// A component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The data an application's components share, kept across reloads: the key-value
/// database and the SQLite databases. Cloning shares them.
#[derive(Debug, Clone)]
pub struct AppData {
    /// The key-value database (`sqlite_key_value.db`).
    pub key_value: KeyValue,
    /// The SQLite databases (`sqlite_db.db` for `default`, `<label>.db` for others).
    pub sqlite: SqliteDatabases,
    metrics: AppMetrics,
}

impl AppData {
    fn new(key_value: KeyValue, sqlite: SqliteDatabases) -> Self {
        let metrics = AppMetrics {
            key_value: Some(key_value.operations().clone()),
            ..AppMetrics::default()
        };
        Self {
            key_value,
            sqlite,
            metrics,
        }
    }
}

impl AppData {
    /// The databases of the state directory `dir`, as Spin lays them out (created as needed).
    pub fn open(dir: &Path) -> Result<Self, crate::KeyValueError> {
        Ok(Self::new(
            KeyValue::open(&dir.join("sqlite_key_value.db"))?,
            SqliteDatabases::in_dir(dir, SqliteLimits::default()),
        ))
    }

    /// The databases of the state directory `dir`, but those `config` puts elsewhere: a
    /// store or database in a file of its own, a store in Redis (connected now).
    pub fn open_with(dir: &Path, config: &RuntimeConfigFile) -> Result<Self, crate::KeyValueError> {
        let mut key_value = KeyValue::open(&dir.join("sqlite_key_value.db"))?;
        for (label, store) in &config.key_value_stores {
            key_value = match store {
                KeyValueStore::Sqlite { path: None } => key_value,
                KeyValueStore::Sqlite { path: Some(path) } => {
                    key_value.with_sqlite_store(label, path)?
                }
                KeyValueStore::Redis { url } => key_value.with_redis_store(label, url)?,
            };
        }
        Ok(Self::new(
            key_value,
            SqliteDatabases::with_paths(
                Some(dir),
                config.sqlite_databases.clone(),
                SqliteLimits::default(),
            ),
        ))
    }

    /// Databases in memory, for tests.
    pub fn in_memory() -> Result<Self, crate::KeyValueError> {
        Ok(Self::new(
            KeyValue::in_memory()?,
            SqliteDatabases::in_memory(SqliteLimits::default()),
        ))
    }
}

/// A loaded application: its manifest and what serves it.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest as read and resolved.
    pub manifest: AppManifest,
    /// The databases every component shares.
    pub data: AppData,
    /// The routed components, ready for [`crate::Server::bind`].
    pub app: App,
}

impl App {
    /// Reads and checks the manifest, opens the databases of the state directory
    /// ([`AppData::open`]) and loads every routed component.
    pub fn up(options: UpOptions<'_>) -> Result<Loaded, UpError> {
        let manifest = match options.runtime_config {
            Some(config) => {
                let env = |name: &str| config.lookup(name, options.env);
                super::manifest::load(options.manifest, &env)?
            }
            None => super::manifest::load(options.manifest, options.env)?,
        };
        let state_dir = options
            .state_dir
            .unwrap_or_else(|| manifest.dir.join(".spin"));
        let data = match options.runtime_config {
            Some(config) => AppData::open_with(&state_dir, config)?,
            None => AppData::open(&state_dir)?,
        };
        let app = Self::load(&manifest, &options.defaults, &options.outbound, &data)?;
        Ok(Loaded {
            manifest,
            data,
            app,
        })
    }

    /// One component for every path, with Spin's platform as `platform` says: what
    /// `edge-host serve` runs.
    pub fn single(
        path: &Path,
        runtime: RuntimeConfig,
        platform: PlatformConfig,
    ) -> Result<Self, LoadError> {
        let runtime = Runtime::load(path, platform.link(runtime)?)?;
        Ok(Self::one(runtime))
    }

    /// `runtime` for every path.
    fn one(runtime: Runtime) -> Self {
        let engine = runtime.engine().clone();
        let target = Target {
            component: "component".to_owned(),
            runtime,
        };
        let router = Router::new(vec![(catch_all(), target)])
            .unwrap_or_else(|_| unreachable!("one route cannot be a duplicate"));
        Self {
            inner: Arc::new(Inner {
                router,
                base: "/".to_owned(),
                engine,
                metrics: AppMetrics::default(),
            }),
        }
    }

    /// Loads every component a public route of `manifest` reaches, each with `defaults` plus
    /// what the manifest says of it (environment, files, outbound hosts, key-value stores,
    /// SQLite databases, variables), all sharing `data` and one [`Engine`] sized from `defaults`.
    pub fn load(
        manifest: &AppManifest,
        defaults: &RuntimeConfig,
        outbound: &OutboundConfig,
        data: &AppData,
    ) -> Result<Self, LoadError> {
        let engine = Engine::new(&EngineConfig::from(defaults))?;
        let mut runtimes: BTreeMap<&str, Runtime> = BTreeMap::new();
        let mut routes = Vec::new();
        for route in &manifest.routes {
            let Route::Pattern(pattern) = &route.route else {
                continue;
            };
            let Some(component) = manifest.components.get(&route.component) else {
                continue;
            };
            let runtime = match runtimes.get(route.component.as_str()) {
                Some(runtime) => runtime.clone(),
                None => {
                    let mut config = defaults.clone();
                    config.env.extend(component.environment.iter().cloned());
                    config
                        .dirs
                        .extend(super::mounts::guest_dirs(&manifest.dir, component)?);
                    let platform = PlatformConfig {
                        allowed_outbound: component.allowed_outbound_hosts.clone(),
                        outbound: outbound.clone(),
                        key_value: Some(data.key_value.clone()),
                        key_value_stores: component.key_value_stores.clone(),
                        sqlite: Some(data.sqlite.clone()),
                        sqlite_databases: component.sqlite_databases.clone(),
                        variables: component
                            .variables
                            .iter()
                            .map(|(name, value)| (name.clone(), value.to_variable()))
                            .collect(),
                    };
                    let config = platform.link(config)?;
                    let runtime = Runtime::load_in(&engine, &component.source, config)?;
                    runtimes.insert(&route.component, runtime.clone());
                    runtime
                }
            };
            routes.push((
                pattern.clone(),
                Target {
                    component: route.component.clone(),
                    runtime,
                },
            ));
        }
        let router = Router::new(routes).map_err(|err| LoadError::Engine(err.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                router,
                base: manifest.base.clone(),
                engine,
                metrics: data.metrics.clone(),
            }),
        })
    }

    /// The routes, as `(route, component)` pairs in priority order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .router
            .entries()
            .map(|(pattern, target)| (pattern.as_str().to_owned(), target.component.clone()))
            .collect()
    }

    /// The engine the application's components share.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The component for `path` and the Spin headers it is to see, or `None` (404).
    fn route(&self, path: &str) -> Option<(&Runtime, Vec<(http::HeaderName, String)>)> {
        let found = self.inner.router.route(path)?;
        let headers = route_headers(&found, &self.inner.base);
        Some((&found.target.runtime, headers))
    }
}

impl Handler for App {
    fn call(&self, req: http::Request<RequestBody>, ctx: RequestContext) -> HandlerFuture<'_> {
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let Some((runtime, spin)) = self.route(parts.uri.path()) else {
                return Err(RequestError::NoRoute(parts.uri.path().to_owned()));
            };
            let url = full_url(&parts, ctx.https);
            set_spin_headers(&mut parts.headers, spin, &url, ctx.client_addr);
            runtime
                .handle(http::Request::from_parts(parts, body), ctx)
                .await
        })
    }

    /// Key-value and SQLite operations already running (each one statement or
    /// transaction) are given `within` to commit.
    fn drain(&self, within: std::time::Duration) -> DrainFuture<'_> {
        Box::pin(super::drain_store_operations(within))
    }

    /// The spin.toml route (`/api/...`), or `None` when no route matches.
    fn route(&self, path: &str) -> Option<String> {
        let found = self.inner.router.route(path)?;
        Some(found.pattern.to_string())
    }

    /// `edge_host_instances` (instances alive, all components) and
    /// `edge_host_key_value_operations_total{operation,backend}`.
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let metrics = &self.inner.metrics;
        registry.register(
            "edge_host_instances",
            "Component instances alive, all components of the application",
            metrics.instances.clone(),
        );
        if let Some(key_value) = &metrics.key_value {
            registry.register(
                "edge_host_key_value_operations",
                "Key-value operations, by operation and backend",
                key_value.clone(),
            );
        }
        registry.register(
            "edge_host_component_code",
            "1 for each loaded component, by where its compiled code came from (hit: the code cache)",
            metrics.code.clone(),
        );
        registry.register(
            "edge_host_outbound_circuit_open",
            "1 while an upstream's circuit breaker is open (or half open), 0 once closed",
            metrics.circuits.clone(),
        );
    }

    fn refresh_metrics(&self) {
        let alive = self.inner.engine.instances().unwrap_or(0);
        let mut seen = std::collections::BTreeSet::new();
        for (_, target) in self.inner.router.entries() {
            if !seen.insert(target.component.as_str()) {
                continue;
            }
            let code = CodeLabels {
                component: target.component.clone(),
                source: target.runtime.code_source(),
            };
            self.inner.metrics.code.get_or_create(&code).set(1);
            let Some(outgoing) = &target.runtime.config().outgoing_http else {
                continue;
            };
            for (upstream, open) in outgoing.circuits() {
                let labels = CircuitLabels {
                    component: target.component.clone(),
                    upstream,
                };
                self.inner
                    .metrics
                    .circuits
                    .get_or_create(&labels)
                    .set(i64::from(open));
            }
        }
        self.inner
            .metrics
            .instances
            .set(i64::try_from(alive).unwrap_or(i64::MAX));
    }
}
