//! Application variables: the values a component's `variables` resolve to, read by the guest
//! by name. Secret values never reach a log line or a `Debug` output.

use super::PlatformView;
use super::fermyon::spin::variables::{Error, Host};

/// The value of one component variable.
#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    value: String,
    secret: bool,
}

impl Variable {
    /// A variable whose value may be logged.
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: false,
        }
    }

    /// A variable whose value must never be logged.
    pub fn secret(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: true,
        }
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value is secret.
    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            f.write_str("<secret>")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

/// Spin's rule for variable names, the one the manifest checks: lower snake case, starting
/// with a letter.
pub(crate) fn valid_name(name: &str) -> bool {
    crate::spin::manifest::is_snake(name)
}

/// Why a variable has no value, as both variables interfaces say it.
pub(super) enum LookupError {
    InvalidName(String),
    Undefined(String),
}

/// The value of variable `name` for the component of `view`.
pub(super) fn lookup(view: &PlatformView<'_>, name: &str) -> Result<String, LookupError> {
    if !valid_name(name) {
        return Err(LookupError::InvalidName(format!(
            "`{name}` is not a variable name (lower snake case, starting with a letter)"
        )));
    }
    match view.platform.variables.get(name) {
        Some(variable) => Ok(variable.value.clone()),
        None => Err(LookupError::Undefined(format!(
            "no variable `{name}` is defined for this component"
        ))),
    }
}

impl Host for PlatformView<'_> {
    fn get(&mut self, name: String) -> Result<String, Error> {
        lookup(self, &name).map_err(|err| match err {
            LookupError::InvalidName(msg) => Error::InvalidName(msg),
            LookupError::Undefined(msg) => Error::Undefined(msg),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spin_rules() {
        for ok in ["greeting", "jwt_issuer", "a1", "x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Greeting", "1a", "_a", "a_", "a__b", "a-b", "a.b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", Variable::secret("hunter2")), "<secret>");
        assert_eq!(format!("{:?}", Variable::plain("hi")), r#""hi""#);
    }
}
