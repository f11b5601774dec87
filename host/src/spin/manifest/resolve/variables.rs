//! `[variables]`: application variables resolved against the environment, and the
//! `{{ name }}` templates of component variables and outbound hosts that use them.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeValue;

use super::{Resolver, is_snake};
use crate::spin::manifest::error::join;
use crate::spin::manifest::raw::{self, Checked};

/// The prefix of the environment variables that set application variables.
const ENV_PREFIX: &str = "SPIN_VARIABLE_";

pub(super) fn not_a_variable_name(name: &str) -> String {
    format!(
        "`{name}` is not a variable name (lower snake case: a letter, then lowercase letters, digits and single `_`)"
    )
}

/// An application variable, resolved.
pub(super) struct AppVariable {
    value: Option<String>,
    /// Whether a missing value has been reported already (it is required, or its declaration
    /// is wrong), so that the templates using it say nothing more.
    reported: bool,
    secret: bool,
    env_name: String,
}

pub(super) type AppVariables = BTreeMap<String, AppVariable>;

impl Resolver<'_, '_> {
    /// `[variables]`, resolved against the environment.
    pub(super) fn variables(&mut self, value: Option<&Spanned<DeValue<'_>>>) -> AppVariables {
        const KEY: &str = "variables";
        let mut variables = AppVariables::new();
        let Some(table) = value.and_then(|value| self.table(KEY, value)) else {
            return variables;
        };
        for (name, value) in table {
            let key = join(KEY, name.get_ref());
            if !is_snake(name.get_ref()) {
                self.problem(&key, name.span(), not_a_variable_name(name.get_ref()));
            }
            let env_name = format!("{ENV_PREFIX}{}", name.get_ref().to_ascii_uppercase());
            let mut variable = AppVariable {
                value: None,
                reported: true,
                secret: false,
                env_name,
            };
            if let Some(spec) = self.item::<Checked<raw::Variable>>(&key, value) {
                self.unknown(&key, &spec);
                let spec = spec.value;
                let required = spec.required.unwrap_or(false);
                if required && spec.default.is_some() {
                    let message = "`required = true` and a `default` cannot both be set";
                    self.problem(&key, value.span(), message);
                }
                variable.value = (self.env)(&variable.env_name).or(spec.default);
                if variable.value.is_none() && required {
                    let message = format!(
                        "required, but not set: set the environment variable {}",
                        variable.env_name
                    );
                    self.problem(&key, value.span(), message);
                }
                variable.reported = required;
                variable.secret = spec.secret.unwrap_or(false);
            }
            variables.insert(name.get_ref().to_string(), variable);
        }
        variables
    }

    /// Expands the `{{ name }}` templates of `text` (at `key`) with the application
    /// variables; `None` (with a problem, unless already reported) when one cannot be expanded.
    /// The flag says whether a secret variable went into the result.
    pub(super) fn expand(
        &mut self,
        text: &Spanned<String>,
        key: &str,
        variables: &AppVariables,
    ) -> Option<(String, bool)> {
        let (span, text) = (text.span(), text.get_ref());
        let (mut out, mut secret, mut ok) = (String::new(), false, true);
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                self.problem(key, span, format!("unclosed `{{{{` in `{text}`"));
                return None;
            };
            let name = after[..end].trim();
            rest = &after[end + 2..];
            let message = match variables.get(name) {
                Some(variable) => {
                    secret |= variable.secret;
                    match &variable.value {
                        Some(value) => {
                            out.push_str(value);
                            continue;
                        }
                        None if variable.reported => None,
                        None => Some(format!(
                            "`{name}` has no value: give it a `default` in [variables] or set the environment variable {}",
                            variable.env_name
                        )),
                    }
                }
                None if !is_snake(name) => Some(format!(
                    "`{{{{ {name} }}}}` is not a variable reference (expected `{{{{ variable_name }}}}`)"
                )),
                None => Some(format!(
                    "refers to the variable `{name}`, which is not declared in [variables]"
                )),
            };
            ok = false;
            if let Some(message) = message {
                self.problem(key, span.clone(), message);
            }
        }
        out.push_str(rest);
        ok.then_some((out, secret))
    }
}
