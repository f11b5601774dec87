//! What the application is configured with: Spin variables. Each has a built-in default so
//! the component runs under hosts that define none, except `jwt_secret`: without it, writes
//! are disabled (a `500` problem saying so), since any secret written here would be public.

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
/// The shortest `jwt_secret` accepted, in bytes (256 bits, RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = edge_toolkit::middleware::auth::MIN_HS256_KEY_BYTES;
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
/// let config = AppConfig::new("a random secret of at least 32 bytes")?.with_users_store("users-test");
/// assert_eq!(config.users_store, "users-test");
/// assert_eq!(config.jwt_issuer, "edge-toolkit");
/// assert!(AppConfig::new("short").is_err());
/// # Ok::<(), edge_toolkit::config::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// The label of the key-value store holding the users.
    pub users_store: String,
    /// The `iss` write tokens must carry.
    pub jwt_issuer: String,
    /// The HS256 secret write tokens are verified with, at least [`MIN_JWT_SECRET_BYTES`].
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

impl AppConfig {
    /// The default store and issuer with `jwt_secret`, which must be at least
    /// [`MIN_JWT_SECRET_BYTES`] long.
    pub fn new(jwt_secret: impl Into<String>) -> Result<Self, ConfigError> {
        let jwt_secret = jwt_secret.into();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid(format!(
                "the variable {VAR_JWT_SECRET} is shorter than {MIN_JWT_SECRET_BYTES} bytes \
                 (256 bits, RFC 7518 §3.2): writes are disabled; set it to a random secret, \
                 e.g. SPIN_VARIABLE_JWT_SECRET=$(openssl rand -hex 32)"
            )));
        }
        Ok(Self {
            users_store: USERS_STORE.to_owned(),
            jwt_issuer: JWT_ISSUER.to_owned(),
            jwt_secret,
        })
    }

    /// The configuration from the variables `jwt_issuer` (default [`JWT_ISSUER`]) and
    /// `jwt_secret` (no default).
    ///
    /// An undefined or empty `jwt_secret` is [`ConfigError::Invalid`] saying that writes
    /// are disabled until it is set; so is one shorter than [`MIN_JWT_SECRET_BYTES`]. There
    /// is no built-in secret: one written in the code or the manifest is known to everyone,
    /// and a deployment that forgot to set it would accept tokens anyone can sign. (The
    /// shipped spin.toml declares it with an empty default, as Spin needs a default or
    /// `required`, and `required` would stop `spin up` from serving reads.)
    ///
    /// A variable that cannot be read (a failing provider) is an error too, and so is an
    /// issuer defined but empty (or only whitespace). The application then answers every
    /// write `500` and keeps serving reads.
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
                     the built-in default"
                ))),
                value => Ok(value),
            }
        };
        let jwt_issuer = defined(VAR_JWT_ISSUER)?.unwrap_or_else(|| JWT_ISSUER.to_owned());
        let jwt_secret = match get(VAR_JWT_SECRET)? {
            Some(secret) if !secret.trim().is_empty() => secret,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "writes are disabled: the variable {VAR_JWT_SECRET} is not set; set it \
                     to a random secret of at least {MIN_JWT_SECRET_BYTES} bytes, e.g. \
                     SPIN_VARIABLE_JWT_SECRET=$(openssl rand -hex 32)"
                )));
            }
        };
        Ok(Self {
            jwt_issuer,
            ..Self::new(jwt_secret)?
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

    const SECRET: &str = "a test secret, thirty-two bytes!";

    fn lookup(
        issuer: Option<&'static str>,
        secret: Option<&'static str>,
    ) -> impl Fn(&str) -> Result<Option<String>, ConfigError> {
        move |name: &str| {
            Ok(match name {
                VAR_JWT_ISSUER => issuer.map(str::to_owned),
                VAR_JWT_SECRET => secret.map(str::to_owned),
                _ => None,
            })
        }
    }

    #[test]
    fn there_is_no_default_secret() {
        // No SPIN_VARIABLE_JWT_* in the test environment: writes are disabled, and say why.
        let err = AppConfig::from_variables().expect_err("no secret");
        assert_eq!(err.status(), 500);
        let message = err.to_string();
        assert!(message.contains("writes are disabled"), "{message}");
        assert!(message.contains(VAR_JWT_SECRET), "{message}");
        for secret in [None, Some(""), Some(" \t")] {
            let err = AppConfig::from_lookup(lookup(None, secret)).expect_err("no secret");
            assert!(err.to_string().contains("is not set"), "{secret:?}: {err}");
        }
    }

    #[test]
    fn a_secret_shorter_than_256_bits_is_refused() {
        let short = &SECRET[..MIN_JWT_SECRET_BYTES - 1];
        for err in [
            AppConfig::new(short).expect_err("short"),
            AppConfig::from_lookup(lookup(None, Some("s3cret"))).expect_err("short"),
        ] {
            assert_eq!(err.status(), 500);
            assert!(err.to_string().contains("shorter than 32 bytes"), "{err}");
        }
        let config = AppConfig::new(SECRET).expect("32 bytes");
        assert_eq!(config.jwt_secret, SECRET);
        assert!(!format!("{config:?}").contains(SECRET));
    }

    #[test]
    fn variables_are_read_and_empty_issuers_are_errors() {
        let config = AppConfig::from_lookup(lookup(None, Some(SECRET))).expect("set");
        assert_eq!(config, AppConfig::new(SECRET).expect("valid"));
        assert_eq!(
            (config.users_store.as_str(), config.jwt_issuer.as_str()),
            ("default", JWT_ISSUER)
        );
        let config = AppConfig::from_lookup(lookup(Some("iss"), Some(SECRET))).expect("set");
        assert_eq!(config.jwt_issuer, "iss");
        for issuer in ["", " "] {
            let err = AppConfig::from_lookup(lookup(Some(issuer), Some(SECRET)))
                .expect_err("empty issuer");
            assert_eq!(err.status(), 500);
            assert!(err.to_string().contains(VAR_JWT_ISSUER), "{err}");
        }
        // A failing provider is an error too.
        let failing = |_: &str| Err(ConfigError::Provider("vault sealed".into()));
        assert!(AppConfig::from_lookup(failing).is_err());
    }
}
