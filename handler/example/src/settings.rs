//! What the application is configured with: Spin variables, each with a built-in default so
//! the component runs under hosts that define none.

use edge_toolkit::config::{self, ConfigError};

/// The variable holding the greeting of `GET /api/v1/greeting`.
pub const VAR_GREETING: &str = "greeting";
/// The variable holding the `iss` write tokens must carry.
pub const VAR_JWT_ISSUER: &str = "jwt_issuer";
/// The variable holding the HS256 secret write tokens are verified with.
pub const VAR_JWT_SECRET: &str = "jwt_secret";
/// The variable holding the origin `/api/v1/upstream/...` forwards to.
pub const VAR_UPSTREAM_ORIGIN: &str = "upstream_origin";

/// The greeting when `greeting` is undefined.
pub const DEFAULT_GREETING: &str = "Hello";
/// The `iss` write tokens must carry when `jwt_issuer` is undefined.
pub const JWT_ISSUER: &str = "edge-toolkit";
/// The secret write tokens are verified with when `jwt_secret` is undefined. For development
/// only: define `jwt_secret` anywhere else. A `jwt_secret` defined but empty is an error,
/// never this default.
pub const DEV_JWT_SECRET: &str = "edge-toolkit-development-secret";
/// The upstream origin when `upstream_origin` is undefined.
pub const DEFAULT_UPSTREAM_ORIGIN: &str = "http://127.0.0.1:8081";
/// The key-value store the users are kept in.
pub const USERS_STORE: &str = edge_toolkit::kv::DEFAULT_STORE;

/// What the route table is built with (see [`router_with`](crate::router_with)). The greeting
/// and the upstream origin are read per request instead.
///
/// ```
/// use example::AppConfig;
///
/// let config = AppConfig::default().with_users_store("users-test");
/// assert_eq!(config.users_store, "users-test");
/// assert_eq!(config.jwt_issuer, "edge-toolkit");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// The label of the key-value store holding the users.
    pub users_store: String,
    /// The `iss` write tokens must carry.
    pub jwt_issuer: String,
    /// The HS256 secret write tokens are verified with.
    pub jwt_secret: String,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("users_store", &self.users_store)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_secret", &"<secret>")
            .finish()
    }
}

impl Default for AppConfig {
    /// The built-in defaults: the `default` store, [`JWT_ISSUER`], [`DEV_JWT_SECRET`].
    fn default() -> Self {
        Self {
            users_store: USERS_STORE.to_owned(),
            jwt_issuer: JWT_ISSUER.to_owned(),
            jwt_secret: DEV_JWT_SECRET.to_owned(),
        }
    }
}

impl AppConfig {
    /// The configuration from the variables `jwt_issuer` and `jwt_secret`, each falling back
    /// to its default when undefined.
    ///
    /// A variable that cannot be read (a failing provider) is an error, never a default: a
    /// secret silently replaced by the public development one would let anyone write. So is
    /// one defined but empty (or only whitespace), [`ConfigError::Invalid`]: an empty
    /// `jwt_secret` is a deployment whose secret did not arrive (an unset environment
    /// variable templated into the manifest, an empty vault entry), not a request for the
    /// development secret. `jwt_issuer` is treated the same way: an empty issuer is as surely
    /// a mistake. The application then answers every write `500` and keeps serving reads.
    pub fn from_variables() -> Result<Self, ConfigError> {
        Self::from_lookup(config::get)
    }

    /// [`AppConfig::from_variables`] with `get` as the source of the variables, for tests.
    pub(crate) fn from_lookup(
        get: impl Fn(&str) -> Result<Option<String>, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let defined = |name: &str| -> Result<Option<String>, ConfigError> {
            match get(name)? {
                Some(value) if value.trim().is_empty() => Err(ConfigError::Invalid(format!(
                    "the variable {name} is defined but empty: set it, or remove it to use \
                     the built-in default (meant for development only)"
                ))),
                value => Ok(value),
            }
        };
        let jwt_issuer = defined(VAR_JWT_ISSUER)?.unwrap_or_else(|| JWT_ISSUER.to_owned());
        let jwt_secret = defined(VAR_JWT_SECRET)?.unwrap_or_else(|| DEV_JWT_SECRET.to_owned());
        Ok(Self {
            users_store: USERS_STORE.to_owned(),
            jwt_issuer,
            jwt_secret,
        })
    }

    /// Keeps the users in the store labelled `label` (tests use a label of their own).
    pub fn with_users_store(mut self, label: impl Into<String>) -> Self {
        self.users_store = label.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_default_when_undefined() {
        // No SPIN_VARIABLE_JWT_* in the test environment.
        let config = AppConfig::from_variables().expect("readable");
        assert_eq!(config.users_store, "default");
        assert_eq!(config.jwt_issuer, JWT_ISSUER);
        assert_eq!(config.jwt_secret, DEV_JWT_SECRET);
        assert_eq!(AppConfig::default().jwt_issuer, JWT_ISSUER);
        assert!(!format!("{config:?}").contains(&config.jwt_secret));
    }

    #[test]
    fn defined_but_empty_jwt_variables_are_errors() {
        let lookup = |issuer: Option<&'static str>, secret: Option<&'static str>| {
            move |name: &str| -> Result<Option<String>, ConfigError> {
                Ok(match name {
                    VAR_JWT_ISSUER => issuer.map(str::to_owned),
                    VAR_JWT_SECRET => secret.map(str::to_owned),
                    _ => None,
                })
            }
        };
        // Undefined: the defaults.
        let config = AppConfig::from_lookup(lookup(None, None)).expect("defaults");
        assert_eq!(config, AppConfig::default());
        // Defined: the values.
        let config = AppConfig::from_lookup(lookup(Some("iss"), Some("s3cret"))).expect("set");
        assert_eq!(
            (config.jwt_issuer.as_str(), config.jwt_secret.as_str()),
            ("iss", "s3cret")
        );
        // Defined but empty (or blank): an error naming the variable, never the default.
        for (issuer, secret, name) in [
            (None, Some(""), VAR_JWT_SECRET),
            (None, Some(" \t"), VAR_JWT_SECRET),
            (Some("iss"), Some(""), VAR_JWT_SECRET),
            (Some(""), None, VAR_JWT_ISSUER),
            (Some(" "), Some("s3cret"), VAR_JWT_ISSUER),
        ] {
            let err = AppConfig::from_lookup(lookup(issuer, secret))
                .expect_err(&format!("{issuer:?} {secret:?}"));
            assert_eq!(err.status(), 500);
            assert!(err.to_string().contains(name), "{err}");
        }
        // A failing provider is an error too.
        let failing = |_: &str| Err(ConfigError::Provider("vault sealed".into()));
        assert!(AppConfig::from_lookup(failing).is_err());
    }
}
