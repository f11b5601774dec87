//! What a server serves: one component for every path (`edge-host serve`), or the routed
//! components of a Spin application (`edge-host up`).
//!
//! Routing follows Spin: the most specific route wins, exact before wildcard, and the
//! component sees the headers Spin sets: `spin-full-url`, `spin-path-info` (the path below
//! the route's prefix), `spin-matched-route`, `spin-raw-component-route`,
//! `spin-component-route`, `spin-base-path`, `spin-path-match-<name>` for `:name` segments,
//! and `spin-client-addr`. Headers of those names sent by the client are dropped first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use crate::manifest::{AppManifest, ManifestError, Route};
use crate::routes::{RoutePattern, Router};
use crate::{KeyValue, LoadError, OutboundRule, Runtime, RuntimeConfig};

/// A routed set of components. Cloning is cheap.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    router: Router<Target>,
    base: String,
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
    /// One component serving every path, as if mounted at `/...`.
    fn from(runtime: Runtime) -> Self {
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
            }),
        }
    }
}

/// What `edge-host up` needs to load an application.
pub struct UpOptions<'a> {
    /// The manifest, `spin.toml`.
    pub manifest: &'a Path,
    /// The environment variables are read from (`SPIN_VARIABLE_<NAME>` overrides).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Where the key-value database lives; `None`: `.spin/` beside the manifest, as Spin does.
    pub state_dir: Option<PathBuf>,
    /// What every component starts from before the manifest's settings apply.
    pub defaults: RuntimeConfig,
}

impl std::fmt::Debug for UpOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpOptions")
            .field("manifest", &self.manifest)
            .field("state_dir", &self.state_dir)
            .field("defaults", &self.defaults)
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

/// A loaded application: its manifest and what serves it.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest as read and resolved.
    pub manifest: AppManifest,
    /// The key-value database every component shares.
    pub key_value: KeyValue,
    /// The routed components, ready for [`crate::Server::bind`].
    pub app: App,
}

impl App {
    /// Reads and checks the manifest, opens the key-value database (`sqlite_key_value.db` in
    /// the state directory) and loads every routed component.
    pub fn up(options: UpOptions<'_>) -> Result<Loaded, UpError> {
        let manifest = crate::manifest::load(options.manifest, options.env)?;
        let state_dir = options
            .state_dir
            .unwrap_or_else(|| manifest.dir.join(".spin"));
        let key_value = KeyValue::open(&state_dir.join("sqlite_key_value.db"))?;
        let app = Self::load(&manifest, &options.defaults, &key_value)?;
        Ok(Loaded {
            manifest,
            key_value,
            app,
        })
    }

    /// Loads every component a public route of `manifest` reaches, each with `defaults` plus
    /// what the manifest says of it (environment, outbound hosts, key-value stores,
    /// variables), all sharing `key_value`.
    pub fn load(
        manifest: &AppManifest,
        defaults: &RuntimeConfig,
        key_value: &KeyValue,
    ) -> Result<Self, LoadError> {
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
                    config.allowed_outbound = component
                        .allowed_outbound_hosts
                        .iter()
                        .cloned()
                        .chain(defaults.allowed_outbound.iter().cloned())
                        .collect::<Vec<OutboundRule>>();
                    config.key_value = Some(key_value.clone());
                    config.key_value_stores = component.key_value_stores.clone();
                    config.variables = component
                        .variables
                        .iter()
                        .map(|(name, value)| (name.clone(), value.to_variable()))
                        .collect();
                    let runtime = Runtime::load(&component.source, config)?;
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

    /// The component for `path` and the Spin headers it is to see, or `None` (404).
    pub(crate) fn route(&self, path: &str) -> Option<(&Runtime, Vec<(HeaderName, String)>)> {
        let found = self.inner.router.route(path)?;
        // The route as the manifest wrote it, without the application's base.
        let base = self.inner.base.trim_end_matches('/');
        let raw = match found.pattern.as_str().strip_prefix(base) {
            Some("") => "/",
            Some(raw) if raw.starts_with('/') => raw,
            _ => found.pattern.as_str(),
        };
        let component_route = raw.strip_suffix("/...").unwrap_or(raw);
        let mut headers = vec![
            (
                HeaderName::from_static("spin-path-info"),
                found.path_info.clone(),
            ),
            (
                HeaderName::from_static("spin-matched-route"),
                found.pattern.as_str().to_owned(),
            ),
            (
                HeaderName::from_static("spin-raw-component-route"),
                raw.to_owned(),
            ),
            (
                HeaderName::from_static("spin-component-route"),
                component_route.to_owned(),
            ),
            (
                HeaderName::from_static("spin-base-path"),
                self.inner.base.clone(),
            ),
        ];
        for (name, value) in &found.params {
            // As Spin names them: `:user_id` is `spin-path-match-user-id`.
            let name = format!("spin-path-match-{}", name.replace('_', "-"));
            if let Ok(name) = HeaderName::try_from(name.to_ascii_lowercase()) {
                headers.push((name, value.clone()));
            }
        }
        Some((&found.target.runtime, headers))
    }
}

/// Replaces the client's `spin-*` headers with the host's: the guest must be able to trust
/// them, as it does under Spin.
pub(crate) fn set_spin_headers(
    headers: &mut http::HeaderMap,
    spin: Vec<(HeaderName, String)>,
    full_url: &str,
) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    let full_url = (
        HeaderName::from_static("spin-full-url"),
        full_url.to_owned(),
    );
    for (name, value) in spin.into_iter().chain([full_url]) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}
