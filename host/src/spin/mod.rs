//! The Spin application layer: a manifest (`spin.toml`) becomes routes to components, each
//! run by a [`Runtime`](crate::Runtime) with Spin's platform plugged in: the `spin-*`
//! headers, the key-value store and variables (`fermyon:spin/*@2.0.0`,
//! `wasi:keyvalue`), and outbound HTTP within the allow-list, timeouts and circuit breaker.
//! `edge-host serve` is the one-component application ([`App::single`]).
//!
//! | File | Concern |
//! | --- | --- |
//! | `app.rs` | [`App`]: manifest → components on one shared engine; the [`Handler`](crate::Handler) |
//! | `build.rs` | `edge-host build`: each component's build command, with the wasm toolchain chosen for it |
//! | `manifest/` | spin.toml, read by serde types and checked, problems with their line and column |
//! | `mounts.rs` | a component's `files`, staged read-only for it |
//! | `routes.rs` | Spin's route patterns and the most-specific-wins router |
//! | `headers.rs` | the `spin-*` headers a component sees |
//! | `platform/` | key-value (SQLite) and variables, linked as a [`LinkerExtension`](crate::LinkerExtension) |
//! | `watch.rs` | `up --watch`: rebuild on changes and swap the application, in-flight requests kept |
//! | `outbound/` | allowed outbound hosts, timeouts, circuit breakers, as the runtime's [`OutgoingHttp`](crate::OutgoingHttp) |

mod app;
mod build;
mod headers;
pub mod manifest;
mod mounts;
mod outbound;
mod platform;
pub mod routes;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use self::app::{App, AppData, Loaded, UpError, UpOptions};
pub use self::build::{BuildError, BuildOutput, Built, build_app};
pub use self::outbound::{
    BreakerConfig, CircuitBreakers, CircuitOpen, InvalidOutboundRule, OutboundConfig, OutboundRule,
    Permit,
};
pub use self::platform::{
    KeyValue, KeyValueError, SqliteDatabases, SqliteError, SqliteLimits, StoreError, Variable,
    database_file_name, drain_store_operations, pending_store_operations,
};

use self::outbound::{OutboundPolicy, SocketRules};
use self::platform::Platform;
use crate::{LoadError, RuntimeConfig};

/// What Spin's platform gives one component.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Destinations the guest may send HTTP requests to; anything else is refused with
    /// `HTTP-request-denied`. Empty (the default) refuses all outbound HTTP.
    pub allowed_outbound: Vec<OutboundRule>,
    /// Timeouts and circuit breaking of outbound HTTP.
    pub outbound: OutboundConfig,
    /// The key-value database behind `fermyon:spin/key-value`; `None` gives the component
    /// its own in-memory database.
    pub key_value: Option<KeyValue>,
    /// Key-value store labels the guest may open; others are `access-denied`.
    pub key_value_stores: Vec<String>,
    /// The SQLite databases behind `fermyon:spin/sqlite`; `None` gives the component its
    /// own in-memory databases.
    pub sqlite: Option<SqliteDatabases>,
    /// SQLite database labels the guest may open; others are `access-denied`.
    pub sqlite_databases: Vec<String>,
    /// The values `fermyon:spin/variables` gives the guest, by name.
    pub variables: BTreeMap<String, Variable>,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            allowed_outbound: Vec::new(),
            outbound: OutboundConfig::default(),
            key_value: None,
            key_value_stores: vec!["default".to_owned()],
            sqlite: None,
            sqlite_databases: vec!["default".to_owned()],
            variables: BTreeMap::new(),
        }
    }
}

impl PlatformConfig {
    /// `runtime` with this platform plugged in: the key-value and variables interfaces as a
    /// linker extension (link a platform once: twice is a load error, the interfaces
    /// defined twice), the outbound policy as its outgoing HTTP (replacing any other).
    pub fn link(self, mut runtime: RuntimeConfig) -> Result<RuntimeConfig, LoadError> {
        let key_value = match self.key_value {
            Some(key_value) => key_value,
            None => KeyValue::in_memory()?,
        };
        let platform = Platform {
            key_value,
            stores: self.key_value_stores.into(),
            sqlite: self
                .sqlite
                .unwrap_or_else(|| SqliteDatabases::in_memory(SqliteLimits::default())),
            databases: self.sqlite_databases.into(),
            variables: Arc::new(self.variables),
        };
        runtime.extensions.push(Arc::new(platform));
        runtime.sockets = Some(Arc::new(SocketRules::new(
            &self.allowed_outbound,
            self.outbound.connect_timeout,
        )));
        runtime.outgoing_http = Some(Arc::new(OutboundPolicy::new(
            self.allowed_outbound,
            self.outbound,
        )));
        Ok(runtime)
    }
}
