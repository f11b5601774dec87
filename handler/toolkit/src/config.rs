//! Configuration variables: Spin's component variables (`fermyon:spin/variables@2.0.0`).
//!
//! A component reads its variables by name; the manifest declares them
//! (`[component.<name>.variables]`, usually templated from application `[variables]`), and the
//! host resolves them from its providers (environment, Vault, Azure Key Vault, ...).
//! [`get`] answers `Ok(None)` for a variable the host does not define, so a component can
//! fall back to a built-in default and still run without a manifest.
//!
//! | Build | Source |
//! | --- | --- |
//! | `wasm32` (the component) | spin-sdk's `variables::get`: the host |
//! | native (unit tests, doc tests) | the environment variable `SPIN_VARIABLE_<NAME>` (the name upper-cased), Spin's own override convention |
//!
//! Names follow Spin's rule, checked natively too: lower snake case, starting with a letter
//! (`api_key`, `region2`), no double or trailing underscore.
//!
//! ```
//! # fn main() -> Result<(), edge_toolkit::config::ConfigError> {
//! // Natively: SPIN_VARIABLE_GREETING, here unset.
//! assert_eq!(edge_toolkit::config::get("greeting")?, None);
//! assert_eq!(edge_toolkit::config::get_or("greeting", "Hello")?, "Hello");
//!
//! let err = edge_toolkit::config::get("Not-A-Name").unwrap_err();
//! assert_eq!(err.status(), 500);
//! # Ok(())
//! # }
//! ```

use http::StatusCode;

use crate::Problem;

/// Why a variable could not be read. Every variant is a server-side fault: `500`.
///
/// ```
/// use edge_toolkit::config::ConfigError;
///
/// let problem = edge_toolkit::Problem::from(ConfigError::Provider("vault is sealed".into()));
/// assert_eq!(problem.status(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The name is not a valid variable name.
    #[error("invalid variable name: {0}")]
    InvalidName(String),
    /// The provider holding the value failed.
    #[error("the variables provider failed: {0}")]
    Provider(String),
    /// Any other failure.
    #[error("the variable could not be read: {0}")]
    Other(String),
    /// The variable was read, but its value cannot be used (an empty secret, say).
    #[error("invalid variable value: {0}")]
    Invalid(String),
}

impl ConfigError {
    /// `500 Internal Server Error`: a variable that cannot be read is a deployment fault.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// A provider's own words stay in the log (stderr): the problem says only that a variable
/// could not be read. Names and values the component judged invalid are its own words and
/// are said.
impl From<ConfigError> for Problem {
    fn from(err: ConfigError) -> Self {
        eprintln!("configuration error: {err}");
        let detail = match &err {
            ConfigError::Provider(_) | ConfigError::Other(_) => {
                "configuration error: a variable could not be read".to_owned()
            }
            ConfigError::InvalidName(_) | ConfigError::Invalid(_) => {
                format!("configuration error: {err}")
            }
        };
        Problem::new(err.status()).with_detail(detail)
    }
}

/// The value of variable `name`, or `None` when it is undefined.
pub fn get(name: &str) -> Result<Option<String>, ConfigError> {
    imp::get(name)
}

/// The value of variable `name`, or `default` when it is undefined. Errors other than
/// "undefined" are still errors: a provider that fails must not silently turn into a
/// default.
pub fn get_or(name: &str, default: &str) -> Result<String, ConfigError> {
    Ok(get(name)?.unwrap_or_else(|| default.to_owned()))
}

/// Spin's rule for variable names: lower snake case, starting with a letter.
///
/// ```
/// use edge_toolkit::config::is_valid_name;
///
/// assert!(is_valid_name("jwt_secret"));
/// assert!(is_valid_name("region2"));
/// for bad in ["", "JWT", "2fa", "a-b", "a__b", "a_", "_a"] {
///     assert!(!is_valid_name(bad), "{bad}");
/// }
/// ```
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// The environment variable a native build reads variable `name` from:
/// `SPIN_VARIABLE_` and the name upper-cased.
///
/// ```
/// assert_eq!(edge_toolkit::config::env_name("jwt_secret"), "SPIN_VARIABLE_JWT_SECRET");
/// ```
pub fn env_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

#[cfg(all(target_arch = "wasm32", feature = "spin-platform"))]
mod imp {
    use spin_sdk::variables::Error;

    use super::ConfigError;

    pub(super) fn get(name: &str) -> Result<Option<String>, ConfigError> {
        match spin_sdk::variables::get(name) {
            Ok(value) => Ok(Some(value)),
            Err(Error::Undefined(_)) => Ok(None),
            Err(Error::InvalidName(message)) => Err(ConfigError::InvalidName(message)),
            Err(Error::Provider(message)) => Err(ConfigError::Provider(message)),
            Err(Error::Other(message)) => Err(ConfigError::Other(message)),
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "spin-platform")))]
mod imp {
    use super::ConfigError;

    pub(super) fn get(name: &str) -> Result<Option<String>, ConfigError> {
        lookup(name, |key| std::env::var(key))
    }

    /// [`get`] against any environment, for tests.
    pub(super) fn lookup(
        name: &str,
        env: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Option<String>, ConfigError> {
        if !super::is_valid_name(name) {
            return Err(ConfigError::InvalidName(format!(
                "`{name}` is not a variable name (lower snake case, starting with a letter)"
            )));
        }
        let key = super::env_name(name);
        match env(&key) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::Provider(format!(
                "the environment variable {key} is not valid UTF-8"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::env::VarError;
    use std::ffi::OsString;

    use super::*;

    fn env(key: &str) -> Result<String, VarError> {
        match key {
            "SPIN_VARIABLE_GREETING" => Ok("Howdy".to_owned()),
            "SPIN_VARIABLE_EMPTY" => Ok(String::new()),
            "SPIN_VARIABLE_BINARY" => Err(VarError::NotUnicode(OsString::from("x"))),
            _ => Err(VarError::NotPresent),
        }
    }

    #[test]
    fn native_lookup_reads_spin_variable_overrides() {
        assert_eq!(imp::lookup("greeting", env), Ok(Some("Howdy".to_owned())));
        // Defined but empty is defined.
        assert_eq!(imp::lookup("empty", env), Ok(Some(String::new())));
        assert_eq!(imp::lookup("missing", env), Ok(None));
        assert!(matches!(
            imp::lookup("binary", env),
            Err(ConfigError::Provider(_))
        ));
        assert!(matches!(
            imp::lookup("GREETING", env),
            Err(ConfigError::InvalidName(_))
        ));
    }

    #[test]
    fn get_or_falls_back_only_when_undefined() {
        assert_eq!(
            get_or("edge_toolkit_surely_unset", "fallback"),
            Ok("fallback".to_owned())
        );
        assert!(get_or("Bad Name", "fallback").is_err());
    }

    #[test]
    fn errors_are_500_problems() {
        let problem = Problem::from(ConfigError::Provider("vault at 10.0.0.7 is sealed".into()));
        assert_eq!(problem.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            problem.detail(),
            Some("configuration error: a variable could not be read")
        );
        let problem = Problem::from(ConfigError::Invalid("jwt_secret is empty".into()));
        assert_eq!(
            problem.detail(),
            Some("configuration error: invalid variable value: jwt_secret is empty")
        );
    }
}
