//! Loading and validating a Spin application manifest (`spin.toml`, manifest version 2).
//!
//! Everything edge-host cannot honour is an error, found before anything runs: unknown keys,
//! Spin features this host does not implement (`files`, `sqlite_databases`, non-HTTP
//! triggers...), missing component files, unresolvable variables, duplicate routes. Every
//! problem is reported at once, each at the dotted key it concerns:
//!
//! ```text
//! spin.toml: `component.api.sorce`: unknown key (expected one of source, description, ...)
//! spin.toml: `trigger.http[1].route`: duplicate route `/api/...`: ...
//! ```
//!
//! Application variables take their value from the environment variable
//! `SPIN_VARIABLE_<NAME>` when it is set, else from their `default`, as with `spin up`.
//!
//! ```no_run
//! use std::path::Path;
//!
//! let app = host::spin::manifest::load(Path::new("spin.toml"), &|name| std::env::var(name).ok())?;
//! for route in &app.routes {
//!     println!("{:?} -> {}", route.route, route.component);
//! }
//! # Ok::<(), host::spin::manifest::ManifestError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::OutboundRule;
use crate::spin::routes::RoutePattern;

/// The prefix of the environment variables that set application variables.
const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// A loaded and validated application.
#[derive(Debug, Clone)]
pub struct AppManifest {
    /// The manifest file, as given to [`load`].
    pub path: PathBuf,
    /// The manifest's directory, against which relative paths are resolved.
    pub dir: PathBuf,
    /// `application.name`.
    pub name: String,
    /// `application.version`.
    pub version: Option<String>,
    /// `application.trigger.http.base`, normalised (`/` when not given, else without a
    /// trailing slash, such as `/api`). It is already part of every route in [`Self::routes`].
    pub base: String,
    /// The HTTP triggers, in file order, with the application's base already applied.
    pub routes: Vec<HttpRoute>,
    /// The components by id.
    pub components: BTreeMap<String, ComponentManifest>,
}

/// One `[[trigger.http]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// Where the component is reachable.
    pub route: Route,
    /// The id of the component that handles it (a key of [`AppManifest::components`]).
    pub component: String,
}

/// The `route` of an HTTP trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A route pattern, base included.
    Pattern(RoutePattern),
    /// `{ private = true }`: not routable from outside; reachable only by other components.
    Private,
}

/// One `[component.<id>]`.
#[derive(Debug, Clone)]
pub struct ComponentManifest {
    /// The component id.
    pub id: String,
    /// The `.wasm` file, resolved against the manifest's directory (it exists).
    pub source: PathBuf,
    /// `allowed_outbound_hosts`, templates expanded.
    pub allowed_outbound_hosts: Vec<OutboundRule>,
    /// `key_value_stores`: the labels of the stores the component may open.
    pub key_value_stores: Vec<String>,
    /// `environment`, in file order.
    pub environment: Vec<(String, String)>,
    /// The component's variables, templates expanded.
    pub variables: BTreeMap<String, VariableValue>,
}

/// The resolved value of a component variable. Its `Debug` never shows a secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct VariableValue {
    value: String,
    secret: bool,
}

impl VariableValue {
    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value comes from a secret application variable (and must not be logged).
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// The value as the runtime serves it to the guest.
    pub fn to_variable(&self) -> crate::Variable {
        if self.secret {
            crate::Variable::secret(self.value.clone())
        } else {
            crate::Variable::plain(self.value.clone())
        }
    }
}

impl fmt::Debug for VariableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("<secret>")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

/// Why a manifest could not be loaded: every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// The problems, roughly in file order.
    pub problems: Vec<ManifestProblem>,
}

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    /// The dotted key it concerns, such as `component.api.source` or `trigger.http[1].route`;
    /// empty when the file as a whole is concerned (unreadable, not TOML).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl fmt::Display for ManifestError {
    /// One line per problem: `{file}: `{key}`: {message}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {problem}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

/// Loads and validates the manifest at `path`. `env` looks up environment variables (the
/// process environment in production: `&|name| std::env::var(name).ok()`).
pub fn load(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppManifest, ManifestError> {
    let fail = |message: String| ManifestError {
        file: path.to_owned(),
        problems: vec![ManifestProblem {
            key: String::new(),
            message,
        }],
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read the manifest: {e}")))?;
    let doc: Table = toml::from_str(&text).map_err(|e| fail(syntax_message(&text, &e)))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut checker = Checker {
        problems: Vec::new(),
        env,
    };
    let manifest = checker.manifest(&doc, path, &dir);
    match manifest {
        Some(manifest) if checker.problems.is_empty() => Ok(manifest),
        _ => Err(ManifestError {
            file: path.to_owned(),
            problems: checker.problems,
        }),
    }
}

fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    }
}

/// `prefix.key`, the key quoted when it is not a bare TOML key.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// "a string", "an integer"...
fn describe(value: &Value) -> String {
    let kind = value.type_str();
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// Spin's snake-case ids (variable names): `[a-z][a-z0-9]*(_[a-z0-9]+)*`.
pub(crate) fn is_snake(name: &str) -> bool {
    is_id(name, '_')
}

/// Spin's kebab-case ids (component ids): `[a-z][a-z0-9]*(-[a-z0-9]+)*`.
fn is_kebab(name: &str) -> bool {
    is_id(name, '-')
}

fn is_id(name: &str, separator: char) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.split(separator).all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// An application variable, resolved.
struct AppVariable {
    value: Option<String>,
    required: bool,
    secret: bool,
    env_name: String,
}

type AppVariables = BTreeMap<String, AppVariable>;

/// One `[[trigger.http]]` as read, before cross-checks.
struct Trigger {
    key: String,
    route: Option<Route>,
    component: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "spin_manifest_version",
    "application",
    "variables",
    "trigger",
    "component",
];
const APPLICATION_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "authors",
    "trigger",
    "tool",
];
const VARIABLE_KEYS: &[&str] = &["default", "required", "secret"];
const TRIGGER_KEYS: &[&str] = &[
    "id",
    "component",
    "components",
    "route",
    "executor",
    "static_response",
];
const COMPONENT_KEYS: &[&str] = &[
    "source",
    "description",
    "allowed_outbound_hosts",
    "key_value_stores",
    "environment",
    "variables",
    "build",
    "tool",
    "files",
    "exclude_files",
    "allowed_http_hosts",
    "sqlite_databases",
    "ai_models",
    "dependencies",
    "dependencies_inherit_configuration",
];
const BUILD_KEYS: &[&str] = &["command", "workdir", "watch", "environment"];

struct Checker<'e> {
    problems: Vec<ManifestProblem>,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(ManifestProblem {
            key: key.to_owned(),
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, key: &str, expected: &str, found: &Value) {
        self.problem(
            key,
            format!("expected {expected}, found {}", describe(found)),
        );
    }

    fn unknown(&mut self, key: &str, known: &[&str]) {
        self.problem(
            key,
            format!("unknown key (expected one of {})", known.join(", ")),
        );
    }

    fn unknown_keys(&mut self, table: &Table, prefix: &str, known: &[&str]) {
        for name in table.keys() {
            if !known.contains(&name.as_str()) {
                self.unknown(&join(prefix, name), known);
            }
        }
    }

    fn string<'v>(&mut self, value: &'v Value, key: &str) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(key, "a string", other);
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, key: &str) -> Option<bool> {
        match value {
            Value::Boolean(b) => Some(*b),
            other => {
                self.wrong_type(key, "a boolean (true or false)", other);
                None
            }
        }
    }

    fn table<'v>(&mut self, value: &'v Value, key: &str) -> Option<&'v Table> {
        match value {
            Value::Table(t) => Some(t),
            other => {
                self.wrong_type(key, "a table", other);
                None
            }
        }
    }

    /// A list of strings: each string with its key (`key[i]`); other elements are problems.
    fn strings<'v>(&mut self, value: &'v Value, key: &str) -> Vec<(String, &'v str)> {
        let Value::Array(items) = value else {
            self.wrong_type(key, "a list of strings", value);
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_key = format!("{key}[{i}]");
                self.string(item, &item_key).map(|s| (item_key, s))
            })
            .collect()
    }

    /// A table of strings, in file order.
    fn string_table<'v>(&mut self, value: &'v Value, key: &str) -> Vec<(String, &'v str, String)> {
        let Some(table) = self.table(value, key) else {
            return Vec::new();
        };
        table
            .iter()
            .filter_map(|(name, v)| {
                let item_key = join(key, name);
                self.string(v, &item_key)
                    .map(|s| (name.clone(), s, item_key))
            })
            .collect()
    }

    /// A Spin feature this host does not implement: fine when empty (or `false`).
    fn unsupported_unless_empty(&mut self, key: &str, value: &Value, why: &str) {
        let empty = match value {
            Value::Array(a) => a.is_empty(),
            Value::Table(t) => t.is_empty(),
            Value::Boolean(b) => !b,
            _ => false,
        };
        if !empty {
            self.problem(key, format!("not supported by edge-host: {why}"));
        }
    }

    fn manifest(&mut self, doc: &Table, path: &Path, dir: &Path) -> Option<AppManifest> {
        if !self.version(doc) {
            return None;
        }
        self.unknown_keys(doc, "", TOP_KEYS);
        let (name, version, base) = self.application(doc.get("application"));
        let variables = self.variables(doc.get("variables"));
        let triggers = self.triggers(doc.get("trigger"), base.as_ref());
        let components = self.components(doc.get("component"), dir, &variables);
        let routes = self.cross_check(triggers, &components);
        let base = base.as_ref().map_or("/", RoutePattern::as_str).to_owned();
        Some(AppManifest {
            path: path.to_owned(),
            dir: dir.to_owned(),
            name,
            version,
            base,
            routes,
            components,
        })
    }

    /// Whether the rest of the manifest is worth reading.
    fn version(&mut self, doc: &Table) -> bool {
        const KEY: &str = "spin_manifest_version";
        const EXPECTED: &str =
            "edge-host reads Spin manifest version 2 (`spin_manifest_version = 2`)";
        match doc.get(KEY) {
            Some(Value::Integer(2)) => true,
            Some(Value::String(s)) if s == "2" => {
                self.problem(KEY, "must be the integer 2, not the string \"2\"");
                true
            }
            Some(Value::String(s)) if s == "1" => {
                self.problem(
                    KEY,
                    format!("Spin manifest version 1 is not supported: {EXPECTED}"),
                );
                false
            }
            Some(Value::Integer(1)) => {
                self.problem(
                    KEY,
                    format!("Spin manifest version 1 is not supported: {EXPECTED}"),
                );
                false
            }
            Some(other) => {
                self.problem(
                    KEY,
                    format!("unsupported manifest version {other}: {EXPECTED}"),
                );
                false
            }
            None if doc.contains_key("spin_version") => {
                self.problem(
                    KEY,
                    format!("this is a Spin version 1 manifest (`spin_version`): {EXPECTED}"),
                );
                false
            }
            None => {
                self.problem(
                    KEY,
                    "missing: a Spin manifest starts with `spin_manifest_version = 2`",
                );
                true
            }
        }
    }

    /// `[application]`: name, version and HTTP base route (`None` for `/`).
    fn application(
        &mut self,
        value: Option<&Value>,
    ) -> (String, Option<String>, Option<RoutePattern>) {
        const KEY: &str = "application";
        let (mut name, mut version, mut base) = (String::new(), None, None);
        let Some(value) = value else {
            self.problem(
                KEY,
                "missing: add an [application] table with at least `name = \"...\"`",
            );
            return (name, version, base);
        };
        let Some(app) = self.table(value, KEY) else {
            return (name, version, base);
        };
        for (k, v) in app {
            let key = join(KEY, k);
            match k.as_str() {
                "name" => {
                    if let Some(s) = self.string(v, &key) {
                        if s.trim().is_empty() {
                            self.problem(&key, "must not be empty");
                        }
                        name = s.to_owned();
                    }
                }
                "version" => version = self.string(v, &key).map(str::to_owned),
                "description" => {
                    self.string(v, &key);
                }
                "authors" => {
                    self.strings(v, &key);
                }
                "tool" => {
                    self.table(v, &key);
                }
                "trigger" => base = self.application_triggers(v, &key),
                _ => self.unknown(&key, APPLICATION_KEYS),
            }
        }
        if !app.contains_key("name") {
            self.problem(&join(KEY, "name"), "missing: the application's name");
        }
        (name, version, base)
    }

    /// `[application.trigger.http]`: the base route.
    fn application_triggers(&mut self, value: &Value, key: &str) -> Option<RoutePattern> {
        let mut base = None;
        for (kind, config) in self.table(value, key)? {
            let key = join(key, kind);
            if kind != "http" {
                self.problem(
                    &key,
                    format!("`{kind}` triggers are not supported by edge-host (only HTTP)"),
                );
                continue;
            }
            let Some(config) = self.table(config, &key) else {
                continue;
            };
            for (k, v) in config {
                let key = join(&key, k);
                if k != "base" {
                    self.unknown(&key, &["base"]);
                    continue;
                }
                let Some(text) = self.string(v, &key) else {
                    continue;
                };
                match text.parse::<RoutePattern>() {
                    Ok(pattern) if pattern.is_wildcard() => self.problem(
                        &key,
                        format!("a base is a path prefix such as /api; it cannot end in `/...` (`{text}`)"),
                    ),
                    Ok(pattern) => base = Some(pattern),
                    Err(e) => self.problem(&key, e.to_string()),
                }
            }
        }
        base
    }

    /// `[variables]`, resolved against the environment.
    fn variables(&mut self, value: Option<&Value>) -> AppVariables {
        const KEY: &str = "variables";
        let mut variables = AppVariables::new();
        let Some(table) = value.and_then(|v| self.table(v, KEY)) else {
            return variables;
        };
        for (name, v) in table {
            let key = join(KEY, name);
            if !is_snake(name) {
                self.problem(
                    &key,
                    format!("`{name}` is not a variable name (lower snake case: a letter, then lowercase letters, digits and single `_`)"),
                );
            }
            let Value::Table(spec) = v else {
                self.wrong_type(
                    &key,
                    "a table such as { default = \"...\" } or { required = true }",
                    v,
                );
                continue;
            };
            let (mut default, mut required, mut secret) = (None, false, false);
            for (k, v) in spec {
                let key = join(&key, k);
                match k.as_str() {
                    "default" => default = self.string(v, &key).map(str::to_owned),
                    "required" => required = self.boolean(v, &key).unwrap_or(false),
                    "secret" => secret = self.boolean(v, &key).unwrap_or(false),
                    _ => self.unknown(&key, VARIABLE_KEYS),
                }
            }
            if required && default.is_some() {
                self.problem(&key, "`required = true` and a `default` cannot both be set");
            }
            let env_name = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
            let value = (self.env)(&env_name).or(default);
            if value.is_none() && required {
                self.problem(
                    &key,
                    format!("required, but not set: set the environment variable {env_name}"),
                );
            }
            variables.insert(
                name.clone(),
                AppVariable {
                    value,
                    required,
                    secret,
                    env_name,
                },
            );
        }
        variables
    }

    /// Expands the `{{ name }}` templates in `text` with the application variables; `None`
    /// (with a problem at `key`, unless already reported) when one cannot be expanded. The flag
    /// says whether a secret variable went into the result.
    fn expand(
        &mut self,
        text: &str,
        key: &str,
        variables: &AppVariables,
    ) -> Option<(String, bool)> {
        let (mut out, mut secret, mut ok) = (String::new(), false, true);
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                self.problem(key, format!("unclosed `{{{{` in `{text}`"));
                return None;
            };
            let name = after[..end].trim();
            rest = &after[end + 2..];
            match variables.get(name) {
                Some(variable) => {
                    secret |= variable.secret;
                    match &variable.value {
                        Some(value) => out.push_str(value),
                        // A required variable without value is reported at `variables.<name>`.
                        None if variable.required => ok = false,
                        None => {
                            ok = false;
                            self.problem(
                                key,
                                format!(
                                    "`{name}` has no value: give it a `default` in [variables] or set the environment variable {}",
                                    variable.env_name
                                ),
                            );
                        }
                    }
                }
                None if !is_snake(name) => {
                    ok = false;
                    self.problem(
                        key,
                        format!("`{{{{ {name} }}}}` is not a variable reference (expected `{{{{ variable_name }}}}`)"),
                    );
                }
                None => {
                    ok = false;
                    self.problem(
                        key,
                        format!(
                            "refers to the variable `{name}`, which is not declared in [variables]"
                        ),
                    );
                }
            }
        }
        out.push_str(rest);
        ok.then_some((out, secret))
    }

    /// `[[trigger.http]]`, read one by one.
    fn triggers(&mut self, value: Option<&Value>, base: Option<&RoutePattern>) -> Vec<Trigger> {
        const KEY: &str = "trigger.http";
        const MISSING: &str =
            "missing: add at least one [[trigger.http]] with a `route` and a `component`";
        let Some(table) = value.and_then(|v| self.table(v, "trigger")) else {
            if value.is_none() {
                self.problem(KEY, MISSING);
            }
            return Vec::new();
        };
        let mut triggers = Vec::new();
        for (kind, v) in table {
            if kind != "http" {
                self.problem(
                    &join("trigger", kind),
                    format!(
                        "`{kind}` triggers are not supported by edge-host (only [[trigger.http]])"
                    ),
                );
                continue;
            }
            let Value::Array(items) = v else {
                self.wrong_type(KEY, "an array of tables ([[trigger.http]])", v);
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let key = format!("{KEY}[{i}]");
                if let Some(trigger) = self.table(item, &key) {
                    triggers.push(self.trigger(trigger, key, base));
                }
            }
        }
        if !table.contains_key("http")
            || table
                .get("http")
                .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty))
        {
            self.problem(KEY, MISSING);
        }
        triggers
    }

    fn trigger(&mut self, table: &Table, prefix: String, base: Option<&RoutePattern>) -> Trigger {
        let mut trigger = Trigger {
            key: prefix,
            route: None,
            component: None,
        };
        let prefix = trigger.key.clone();
        for (k, v) in table {
            let key = join(&prefix, k);
            match k.as_str() {
                "id" => {
                    self.string(v, &key);
                }
                "component" => match v {
                    Value::String(id) => trigger.component = Some(id.clone()),
                    Value::Table(_) => self.problem(
                        &key,
                        "inline components are not supported by edge-host: declare a [component.<id>] table and give its id here",
                    ),
                    other => self.wrong_type(&key, "a component id", other),
                },
                "components" => self.unsupported_unless_empty(
                    &key,
                    v,
                    "`components` (middleware) needs component composition; give one `component`",
                ),
                "static_response" => self.problem(
                    &key,
                    "not supported by edge-host: give a `component` that answers the route",
                ),
                "route" => trigger.route = self.route(v, &key, base),
                "executor" => self.executor(v, &key),
                _ => self.unknown(&key, TRIGGER_KEYS),
            }
        }
        for required in ["route", "component"] {
            if !table.contains_key(required) {
                let what = if required == "route" {
                    "missing: the route, such as \"/...\", or { private = true }"
                } else {
                    "missing: the id of the component that handles the route"
                };
                self.problem(&join(&prefix, required), what);
            }
        }
        trigger
    }

    fn route(&mut self, value: &Value, key: &str, base: Option<&RoutePattern>) -> Option<Route> {
        match value {
            Value::String(text) => {
                let pattern = match text.parse::<RoutePattern>() {
                    Ok(pattern) => pattern,
                    Err(e) => {
                        self.problem(key, e.to_string());
                        return None;
                    }
                };
                match base.map_or(Ok(pattern.clone()), |base| pattern.under(base)) {
                    Ok(pattern) => Some(Route::Pattern(pattern)),
                    Err(e) => {
                        self.problem(key, format!("with the application's base: {e}"));
                        None
                    }
                }
            }
            Value::Table(table) => {
                let mut private = None;
                for (k, v) in table {
                    let key = join(key, k);
                    if k == "private" {
                        private = self.boolean(v, &key);
                        if private == Some(false) {
                            self.problem(
                                &key,
                                "must be true (a public route is written as a string, such as \"/...\")",
                            );
                        }
                    } else {
                        self.unknown(&key, &["private"]);
                    }
                }
                match private {
                    Some(true) => Some(Route::Private),
                    Some(false) => None,
                    None => {
                        if !table.contains_key("private") {
                            self.problem(key, "expected a route string or { private = true }");
                        }
                        None
                    }
                }
            }
            other => {
                self.wrong_type(key, "a route string or { private = true }", other);
                None
            }
        }
    }

    fn executor(&mut self, value: &Value, key: &str) {
        let Some(table) = self.table(value, key) else {
            return;
        };
        let kind = table.get("type").and_then(Value::as_str);
        match kind {
            Some("spin" | "http") => self.unknown_keys(table, key, &["type"]),
            Some("wagi") => self.problem(
                &join(key, "type"),
                "the Wagi executor is not supported by edge-host: components must export wasi:http/incoming-handler",
            ),
            Some(other) => self.problem(
                &join(key, "type"),
                format!("unknown executor type `{other}` (expected spin or http)"),
            ),
            None => match table.get("type") {
                Some(other) => self.wrong_type(&join(key, "type"), "a string", other),
                None => self.problem(&join(key, "type"), "missing: the executor type (spin)"),
            },
        }
    }

    /// `[component.<id>]`.
    fn components(
        &mut self,
        value: Option<&Value>,
        dir: &Path,
        variables: &AppVariables,
    ) -> BTreeMap<String, ComponentManifest> {
        let mut components = BTreeMap::new();
        let Some(table) = value.and_then(|v| self.table(v, "component")) else {
            return components;
        };
        for (id, v) in table {
            let key = join("component", id);
            if !is_kebab(id) {
                self.problem(
                    &key,
                    format!("`{id}` is not a component id (kebab case: lowercase letters and digits in words joined by `-`, starting with a letter)"),
                );
            }
            if let Some(component) = self.table(v, &key) {
                let component = self.component(id, component, &key, dir, variables);
                components.insert(id.clone(), component);
            }
        }
        components
    }

    fn component(
        &mut self,
        id: &str,
        table: &Table,
        prefix: &str,
        dir: &Path,
        variables: &AppVariables,
    ) -> ComponentManifest {
        let mut component = ComponentManifest {
            id: id.to_owned(),
            source: PathBuf::new(),
            allowed_outbound_hosts: Vec::new(),
            key_value_stores: Vec::new(),
            environment: Vec::new(),
            variables: BTreeMap::new(),
        };
        let mut source = None;
        let mut build_command = None;
        for (k, v) in table {
            let key = join(prefix, k);
            match k.as_str() {
                "source" => source = self.source(v, &key),
                "description" => {
                    self.string(v, &key);
                }
                "allowed_outbound_hosts" => {
                    for (item_key, template) in self.strings(v, &key) {
                        let Some((text, secret)) = self.expand(template, &item_key, variables)
                        else {
                            continue;
                        };
                        match text.parse::<OutboundRule>() {
                            Ok(rule) if secret => component
                                .allowed_outbound_hosts
                                .push(rule.shown_as(template)),
                            Ok(rule) => component.allowed_outbound_hosts.push(rule),
                            Err(_) if secret => self.problem(
                                &item_key,
                                "not a valid outbound host (scheme://host[:port]); the value comes from a secret variable and is not shown",
                            ),
                            Err(e) => self.problem(&item_key, e.to_string()),
                        }
                    }
                }
                "key_value_stores" => {
                    for (item_key, label) in self.strings(v, &key) {
                        if is_kebab(label) || is_snake(label) {
                            component.key_value_stores.push(label.to_owned());
                        } else {
                            self.problem(
                                &item_key,
                                format!("`{label}` is not a store label (kebab-case or snake_case, such as \"default\")"),
                            );
                        }
                    }
                }
                "environment" => {
                    for (name, value, item_key) in self.string_table(v, &key) {
                        if name.is_empty() || name.contains('=') || name.contains('\0') {
                            self.problem(&item_key, "not an environment variable name");
                        } else {
                            component.environment.push((name, value.to_owned()));
                        }
                    }
                }
                "variables" => {
                    for (name, template, item_key) in self.string_table(v, &key) {
                        if !is_snake(&name) {
                            self.problem(
                                &item_key,
                                format!("`{name}` is not a variable name (lower snake case: a letter, then lowercase letters, digits and single `_`)"),
                            );
                            continue;
                        }
                        if let Some((value, secret)) = self.expand(template, &item_key, variables)
                        {
                            component
                                .variables
                                .insert(name, VariableValue { value, secret });
                        }
                    }
                }
                "build" => build_command = self.build(v, &key),
                "tool" => {
                    self.table(v, &key);
                }
                "files" => self.unsupported_unless_empty(
                    &key,
                    v,
                    "components get no file system; embed the files in the component or serve them from an upstream",
                ),
                "exclude_files" => {
                    self.unsupported_unless_empty(&key, v, "components get no file system")
                }
                "allowed_http_hosts" => self.unsupported_unless_empty(
                    &key,
                    v,
                    "use allowed_outbound_hosts with full URLs, such as \"https://example.com\"",
                ),
                "sqlite_databases" => self.unsupported_unless_empty(
                    &key,
                    v,
                    "there is no SQLite interface; use key_value_stores",
                ),
                "ai_models" => {
                    self.unsupported_unless_empty(&key, v, "there is no LLM interface")
                }
                "dependencies" => self.unsupported_unless_empty(
                    &key,
                    v,
                    "compose the component before serving it (for example with `wac plug`)",
                ),
                "dependencies_inherit_configuration" => {
                    if let Value::Boolean(_) = v {
                        self.unsupported_unless_empty(&key, v, "there are no dependencies")
                    } else {
                        self.wrong_type(&key, "a boolean", v);
                    }
                }
                _ => self.unknown(&key, COMPONENT_KEYS),
            }
        }
        let source_key = join(prefix, "source");
        match source {
            Some(path) => {
                let resolved = dir.join(path);
                if resolved.is_file() {
                    component.source = resolved;
                } else if resolved.exists() {
                    self.problem(&source_key, format!("{} is not a file", resolved.display()));
                } else {
                    let hint = match build_command {
                        Some(command) => format!("build it first: `{command}`"),
                        None => "has the component been built?".to_owned(),
                    };
                    self.problem(
                        &source_key,
                        format!("no such file: {} ({hint})", resolved.display()),
                    );
                }
            }
            None if !table.contains_key("source") => self.problem(
                &source_key,
                "missing: the path of the component's .wasm file",
            ),
            None => {}
        }
        component
    }

    /// `source`: a path (as written, not yet resolved).
    fn source<'v>(&mut self, value: &'v Value, key: &str) -> Option<&'v str> {
        match value {
            Value::String(path) if path.trim().is_empty() => {
                self.problem(key, "must not be empty");
                None
            }
            Value::String(path) => Some(path),
            Value::Table(t) if t.contains_key("url") => {
                self.problem(
                    key,
                    "remote sources ({ url, digest }) are not supported by edge-host: download the component and give its path",
                );
                None
            }
            Value::Table(t) if t.contains_key("package") || t.contains_key("registry") => {
                self.problem(
                    key,
                    "registry sources are not supported by edge-host: fetch the component and give its path",
                );
                None
            }
            other => {
                self.wrong_type(key, "the path of a .wasm file", other);
                None
            }
        }
    }

    /// `build`: checked, otherwise ignored; returns the command, for hints.
    fn build(&mut self, value: &Value, key: &str) -> Option<String> {
        let table = self.table(value, key)?;
        let mut command = None;
        for (k, v) in table {
            let key = join(key, k);
            match k.as_str() {
                "command" => match v {
                    Value::String(s) => command = Some(s.clone()),
                    Value::Array(_) => {
                        let commands: Vec<&str> =
                            self.strings(v, &key).into_iter().map(|(_, s)| s).collect();
                        command = Some(commands.join(" && "));
                    }
                    other => self.wrong_type(&key, "a command or a list of commands", other),
                },
                "workdir" => {
                    self.string(v, &key);
                }
                "watch" => {
                    self.strings(v, &key);
                }
                "environment" => {
                    self.string_table(v, &key);
                }
                _ => self.unknown(&key, BUILD_KEYS),
            }
        }
        command
    }

    /// Checks what spans triggers and components: each trigger's component exists, no route
    /// is given twice.
    fn cross_check(
        &mut self,
        triggers: Vec<Trigger>,
        components: &BTreeMap<String, ComponentManifest>,
    ) -> Vec<HttpRoute> {
        for trigger in &triggers {
            let Some(id) = &trigger.component else {
                continue;
            };
            if !components.contains_key(id) {
                let known = if components.is_empty() {
                    "the manifest declares no components".to_owned()
                } else {
                    let ids: Vec<&str> = components.keys().map(String::as_str).collect();
                    format!("components: {}", ids.join(", "))
                };
                self.problem(
                    &join(&trigger.key, "component"),
                    format!("no component `{id}`: there is no [component.{id}] table ({known})"),
                );
            }
        }
        for (j, later) in triggers.iter().enumerate() {
            let Some(Route::Pattern(pattern)) = &later.route else {
                continue;
            };
            let earlier = triggers[..j]
                .iter()
                .find(|t| matches!(&t.route, Some(Route::Pattern(p)) if p.same_route(pattern)));
            if let Some(earlier) = earlier {
                let component = |t: &Trigger| t.component.clone().unwrap_or_default();
                self.problem(
                    &join(&later.key, "route"),
                    format!(
                        "duplicate route `{pattern}`: {} already routes it to component `{}` (this trigger: component `{}`)",
                        earlier.key,
                        component(earlier),
                        component(later),
                    ),
                );
            }
        }
        triggers
            .into_iter()
            .filter_map(|t| {
                Some(HttpRoute {
                    route: t.route?,
                    component: t.component?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const EXAMPLE: &str = r#"spin_manifest_version = 2

[application]
name = "edge-toolkit-example"
version = "0.1.0"
description = "The example application of the edge toolkit"

[variables]
greeting = { default = "Hello" }
jwt_issuer = { default = "edge-toolkit" }
jwt_secret = { default = "edge-toolkit-development-secret", secret = true }
upstream_origin = { default = "http://127.0.0.1:8081" }

[[trigger.http]]
route = "/..."
component = "handler"

[component.handler]
source = "target/guest/wasm32-wasip2/release/handler.wasm"
allowed_outbound_hosts = ["{{ upstream_origin }}"]
key_value_stores = ["default"]
[component.handler.variables]
greeting = "{{ greeting }}"
jwt_issuer = "{{ jwt_issuer }}"
jwt_secret = "{{ jwt_secret }}"
upstream_origin = "{{ upstream_origin }}"
[component.handler.build]
command = "scripts/build-guest -p handler"
watch = ["handler/src/**/*.rs", "handler/Cargo.toml"]
"#;

    /// A temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "edge-host-manifest-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }

        fn file(&self, path: &str, contents: &str) -> PathBuf {
            let path = self.0.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dirs");
            }
            std::fs::write(&path, contents).expect("write file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Loads `manifest` from a temporary directory holding `app.wasm` and `wasm`.
    fn load_with(
        manifest: &str,
        wasm: &[&str],
        env: &[(&str, &str)],
    ) -> (TempDir, Result<AppManifest, ManifestError>) {
        let dir = TempDir::new();
        for file in wasm.iter().chain(&["app.wasm"]) {
            dir.file(file, "\0asm");
        }
        let path = dir.file("spin.toml", manifest);
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let result = load(&path, &|name| env.get(name).cloned());
        (dir, result)
    }

    fn ok(manifest: &str) -> AppManifest {
        match load_with(manifest, &[], &[]).1 {
            Ok(app) => app,
            Err(e) => panic!("{e}"),
        }
    }

    /// The problems as (key, message).
    fn problems(manifest: &str) -> Vec<(String, String)> {
        problems_with(manifest, &[])
    }

    fn problems_with(manifest: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
        match load_with(manifest, &[], env).1 {
            Ok(app) => panic!("expected problems, loaded {app:?}"),
            Err(e) => e.problems.into_iter().map(|p| (p.key, p.message)).collect(),
        }
    }

    /// Asserts that `manifest` has exactly one problem, at `key`, whose message contains `text`.
    #[track_caller]
    fn assert_problem(manifest: &str, key: &str, text: &str) {
        let found = problems(manifest);
        assert!(
            found.len() == 1 && found[0].0 == key && found[0].1.contains(text),
            "expected one problem at `{key}` containing {text:?}, found {found:#?}"
        );
    }

    /// A valid manifest with `extra` appended to `[component.app]`... and the rest after.
    fn with_component(extra: &str) -> String {
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[variables]\nhost = {{ default = \"example.com\" }}\ntoken = {{ default = \"s3cr3t\", secret = true }}\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n{extra}\n"
        )
    }

    fn with_triggers(triggers: &str) -> String {
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n{triggers}\n[component.app]\nsource = \"app.wasm\"\n[component.other]\nsource = \"app.wasm\"\n"
        )
    }

    #[test]
    fn the_example_manifest_loads() {
        let (dir, result) = load_with(
            EXAMPLE,
            &["target/guest/wasm32-wasip2/release/handler.wasm"],
            &[],
        );
        let app = result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(app.name, "edge-toolkit-example");
        assert_eq!(app.version.as_deref(), Some("0.1.0"));
        assert_eq!(app.base, "/");
        assert_eq!(app.dir, dir.0);
        assert_eq!(app.path, dir.0.join("spin.toml"));
        assert_eq!(app.routes.len(), 1);
        assert_eq!(app.routes[0].component, "handler");
        let Route::Pattern(route) = &app.routes[0].route else {
            panic!("not a pattern: {:?}", app.routes[0].route);
        };
        assert_eq!(route.as_str(), "/...");
        let handler = &app.components["handler"];
        assert_eq!(handler.id, "handler");
        assert_eq!(
            handler.source,
            dir.0
                .join("target/guest/wasm32-wasip2/release/handler.wasm")
        );
        let hosts: Vec<String> = handler
            .allowed_outbound_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["http://127.0.0.1:8081"]);
        assert_eq!(handler.key_value_stores, ["default"]);
        assert!(handler.environment.is_empty());
        let vars: Vec<(&str, &str, bool)> = handler
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.value(), v.is_secret()))
            .collect();
        assert_eq!(
            vars,
            [
                ("greeting", "Hello", false),
                ("jwt_issuer", "edge-toolkit", false),
                ("jwt_secret", "edge-toolkit-development-secret", true),
                ("upstream_origin", "http://127.0.0.1:8081", false),
            ]
        );
        let debug = format!("{app:?}");
        assert!(debug.contains("<secret>"), "{debug}");
        assert!(
            !debug.contains("edge-toolkit-development-secret"),
            "{debug}"
        );
    }

    #[test]
    fn environment_overrides_defaults() {
        let (_dir, result) = load_with(
            EXAMPLE,
            &["target/guest/wasm32-wasip2/release/handler.wasm"],
            &[
                ("SPIN_VARIABLE_GREETING", "Hi"),
                ("SPIN_VARIABLE_UPSTREAM_ORIGIN", "http://localhost:9000"),
            ],
        );
        let app = result.unwrap_or_else(|e| panic!("{e}"));
        let handler = &app.components["handler"];
        assert_eq!(handler.variables["greeting"].value(), "Hi");
        assert_eq!(
            handler.variables["upstream_origin"].value(),
            "http://localhost:9000"
        );
        assert_eq!(
            handler.allowed_outbound_hosts[0].to_string(),
            "http://localhost:9000"
        );
    }

    #[test]
    fn the_manifest_version_must_be_2() {
        let rest = "[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n";
        assert_problem(rest, "spin_manifest_version", "missing");
        assert_problem(
            &format!("spin_manifest_version = \"2\"\n{rest}"),
            "spin_manifest_version",
            "must be the integer 2",
        );
        // A version 1 manifest gets this one problem, not one per v1 key.
        assert_problem(
            "spin_manifest_version = \"1\"\nname = \"t\"\ntrigger = { type = \"http\" }\n[[component]]\nid = \"x\"\n",
            "spin_manifest_version",
            "version 1 is not supported",
        );
        assert_problem(
            &format!("spin_manifest_version = 3\n{rest}"),
            "spin_manifest_version",
            "unsupported manifest version 3",
        );
    }

    #[test]
    fn unknown_keys_are_errors_at_every_level() {
        let found = problems(&format!(
            "{}\nsorce = \"x\"\n[component.app.build]\ncommand = \"make\"\ncomand = \"x\"\n[extra]\nx = 1\n",
            with_component("")
        ));
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["extra", "component.app.sorce", "component.app.build.comand"]
        );
        assert!(
            found[1].1.starts_with(
                "unknown key (expected one of source, description, allowed_outbound_hosts"
            ),
            "{found:?}"
        );
        assert_problem(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\nnmae = \"u\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n",
            "application.nmae",
            "unknown key",
        );
        let found = problems(&with_triggers(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\nrout = \"/x\"\n",
        ));
        assert_eq!(found[0].0, "trigger.http[0].rout");
        assert_problem(
            &with_triggers(
                "[variables]\nx = { default = \"1\", secrt = true }\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n",
            ),
            "variables.x.secrt",
            "unknown key (expected one of default, required, secret)",
        );
    }

    #[test]
    fn the_application_needs_a_name() {
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n")
                .replace("name = \"t\"\n", "version = \"1\"\n"),
            "application.name",
            "missing",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n")
                .replace("name = \"t\"", "name = 42"),
            "application.name",
            "expected a string, found an integer",
        );
        assert_problem(
            "spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n",
            "application",
            "missing",
        );
    }

    #[test]
    fn routes_are_prefixed_with_the_base() {
        let manifest = with_triggers(
            "[application.trigger.http]\nbase = \"/base/\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/users/:id\"\ncomponent = \"other\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"other\"\n",
        );
        let app = ok(&manifest);
        assert_eq!(app.base, "/base");
        let routes: Vec<(String, &str)> = app
            .routes
            .iter()
            .map(|r| {
                let route = match &r.route {
                    Route::Pattern(p) => p.as_str().to_owned(),
                    Route::Private => "private".to_owned(),
                };
                (route, r.component.as_str())
            })
            .collect();
        assert_eq!(
            routes,
            [
                ("/base/...".to_owned(), "app"),
                ("/base/users/:id".to_owned(), "other"),
                ("private".to_owned(), "other"),
            ]
        );
        assert_problem(
            &manifest.replace("base = \"/base/\"", "base = \"/base/...\""),
            "application.trigger.http.base",
            "cannot end in `/...`",
        );
        assert_problem(
            &manifest.replace("base = \"/base/\"", "base = \"base\""),
            "application.trigger.http.base",
            "must start with `/`",
        );
        assert_problem(
            &manifest.replace("[application.trigger.http]", "[application.trigger.redis]"),
            "application.trigger.redis",
            "not supported by edge-host",
        );
    }

    #[test]
    fn variables_are_checked_and_resolved() {
        let manifest = |vars: &str| {
            format!(
                "spin_manifest_version = 2\n[application]\nname = \"t\"\n[variables]\n{vars}\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n"
            )
        };
        assert_problem(
            &manifest("apiKey = { default = \"x\" }"),
            "variables.apiKey",
            "is not a variable name",
        );
        assert_problem(
            &manifest("api__key = { default = \"x\" }"),
            "variables.api__key",
            "is not a variable name",
        );
        assert_problem(
            &manifest("api_key = { default = \"x\", required = true }"),
            "variables.api_key",
            "cannot both be set",
        );
        assert_problem(
            &manifest("api_key = { required = true, secret = true }"),
            "variables.api_key",
            "required, but not set: set the environment variable SPIN_VARIABLE_API_KEY",
        );
        assert_problem(
            &manifest("api_key = \"x\""),
            "variables.api_key",
            "expected a table such as { default = \"...\" }",
        );
        assert_problem(
            &manifest("api_key = { required = \"yes\" }"),
            "variables.api_key.required",
            "expected a boolean",
        );
        // A required variable set in the environment is fine.
        let manifest = manifest("api_key = { required = true, secret = true }").replace(
            "source = \"app.wasm\"",
            "source = \"app.wasm\"\nvariables = { key = \"Bearer {{api_key}}\" }",
        );
        let (_dir, result) = load_with(&manifest, &[], &[("SPIN_VARIABLE_API_KEY", "k3y")]);
        let app = result.unwrap_or_else(|e| panic!("{e}"));
        let key = &app.components["app"].variables["key"];
        assert_eq!((key.value(), key.is_secret()), ("Bearer k3y", true));
        assert_eq!(format!("{key:?}"), "<secret>");
    }

    #[test]
    fn component_variables_and_hosts_expand_templates() {
        let app = ok(&with_component(
            "allowed_outbound_hosts = [\"https://{{host}}\", \"http://{{ host }}:8080\"]\nvariables = { url = \"https://{{ host }}/x?t={{ token }}\", plain = \"literal }} text\" }",
        ));
        let component = &app.components["app"];
        let hosts: Vec<String> = component
            .allowed_outbound_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["https://example.com", "http://example.com:8080"]);
        let url = &component.variables["url"];
        assert_eq!(
            (url.value(), url.is_secret()),
            ("https://example.com/x?t=s3cr3t", true)
        );
        let plain = &component.variables["plain"];
        assert_eq!(
            (plain.value(), plain.is_secret()),
            ("literal }} text", false)
        );
        assert_problem(
            &with_component("variables = { x = \"{{ nope }}\" }"),
            "component.app.variables.x",
            "refers to the variable `nope`, which is not declared in [variables]",
        );
        assert_problem(
            &with_component("variables = { x = \"{{ host \" }"),
            "component.app.variables.x",
            "unclosed `{{`",
        );
        assert_problem(
            &with_component("variables = { x = \"{{ Host }}\" }"),
            "component.app.variables.x",
            "is not a variable reference",
        );
        assert_problem(
            &with_component("variables = { Greeting = \"x\" }"),
            "component.app.variables.Greeting",
            "is not a variable name",
        );
        assert_problem(
            &with_component("variables = { x = 1 }"),
            "component.app.variables.x",
            "expected a string, found an integer",
        );
        assert_problem(
            &with_component("allowed_outbound_hosts = [\"https://{{ nope }}\"]"),
            "component.app.allowed_outbound_hosts[0]",
            "not declared",
        );
        // A variable with neither default nor value cannot be used.
        let manifest = with_component("variables = { x = \"{{ later }}\" }")
            .replace("[variables]\n", "[variables]\nlater = { secret = true }\n");
        assert_problem(
            &manifest,
            "component.app.variables.x",
            "`later` has no value: give it a `default` in [variables] or set the environment variable SPIN_VARIABLE_LATER",
        );
    }

    #[test]
    fn outbound_hosts_must_parse() {
        assert_problem(
            &with_component(
                "allowed_outbound_hosts = [\"https://ok.example.com\", \"example.com\"]",
            ),
            "component.app.allowed_outbound_hosts[1]",
            "invalid outbound host `example.com`: no scheme",
        );
        assert_problem(
            &with_component("allowed_outbound_hosts = [1]"),
            "component.app.allowed_outbound_hosts[0]",
            "expected a string",
        );
        // An invalid host made from a secret is reported without its value.
        let found = problems(&with_component(
            "allowed_outbound_hosts = [\"{{ token }}\"]",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "component.app.allowed_outbound_hosts[0]");
        assert!(!found[0].1.contains("s3cr3t"), "{found:?}");
        // A valid one is shown as its template.
        let app = ok(&with_component(
            "allowed_outbound_hosts = [\"https://{{ token }}.example.com\"]",
        ));
        let rule = &app.components["app"].allowed_outbound_hosts[0];
        assert!(rule.allows("https", "s3cr3t.example.com", 443));
        let shown = format!("{app:?} {rule}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("{{ token }}"), "{shown}");
    }

    #[test]
    fn triggers_must_be_http_with_a_route_and_a_known_component() {
        assert_problem(&with_triggers(""), "trigger.http", "missing");
        assert_problem(
            &with_triggers("[trigger]\nhttp = []\n"),
            "trigger.http",
            "missing",
        );
        let found = problems(&with_triggers(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"app\"\n",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "trigger.redis");
        assert!(
            found[0].1.contains("not supported by edge-host"),
            "{found:?}"
        );
        let trigger = |extra: &str| {
            with_triggers(&format!(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n{extra}"
            ))
        };
        assert_problem(
            &trigger("executor = { type = \"wagi\" }"),
            "trigger.http[0].executor.type",
            "Wagi executor is not supported",
        );
        assert_problem(
            &trigger("executor = { type = \"cgi\" }"),
            "trigger.http[0].executor.type",
            "unknown executor type `cgi`",
        );
        assert_problem(
            &trigger("executor = { type = \"spin\", argv = \"x\" }"),
            "trigger.http[0].executor.argv",
            "unknown key",
        );
        ok(&trigger("executor = { type = \"spin\" }\nid = \"main\""));
        ok(&trigger("executor = { type = \"http\" }"));
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = \"ghost\"\n"),
            "trigger.http[0].component",
            "no component `ghost`: there is no [component.ghost] table (components: app, other)",
        );
        assert_problem(
            &with_triggers(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = { source = \"app.wasm\" }\n",
            ),
            "trigger.http[0].component",
            "inline components are not supported",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\ncomponent = \"app\"\n"),
            "trigger.http[0].route",
            "missing",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = \"/\"\n"),
            "trigger.http[0].component",
            "missing",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = \"/.../x\"\ncomponent = \"app\"\n"),
            "trigger.http[0].route",
            "invalid route `/.../x`: `...` may only be the last segment",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = { private = false }\ncomponent = \"app\"\n"),
            "trigger.http[0].route.private",
            "must be true",
        );
        assert_problem(
            &with_triggers("[[trigger.http]]\nroute = 1\ncomponent = \"app\"\n"),
            "trigger.http[0].route",
            "expected a route string or { private = true }, found an integer",
        );
        assert_problem(
            &with_triggers("[trigger.http]\nroute = \"/\"\ncomponent = \"app\"\n"),
            "trigger.http",
            "expected an array of tables ([[trigger.http]]), found a table",
        );
    }

    #[test]
    fn duplicate_routes_name_both_components() {
        let found = problems(&with_triggers(
            "[[trigger.http]]\nroute = \"/foo\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/bar\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/foo/\"\ncomponent = \"other\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"app\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"other\"\n",
        ));
        assert_eq!(
            found,
            [(
                "trigger.http[2].route".to_owned(),
                "duplicate route `/foo`: trigger.http[0] already routes it to component `app` (this trigger: component `other`)".to_owned()
            )]
        );
    }

    #[test]
    fn component_ids_sources_and_fields_are_checked() {
        assert_problem(
            &with_triggers(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.My_App]\nsource = \"app.wasm\"\n",
            ),
            "component.My_App",
            "is not a component id",
        );
        let found = problems(&with_component("").replace(
            "source = \"app.wasm\"",
            "source = \"missing.wasm\"\nbuild = { command = \"make\" }",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "component.app.source");
        assert!(
            found[0].1.starts_with("no such file: ")
                && found[0].1.contains("missing.wasm")
                && found[0].1.ends_with("(build it first: `make`)"),
            "{found:?}"
        );
        assert_problem(
            &with_component("").replace("source = \"app.wasm\"", "source = \".\""),
            "component.app.source",
            "is not a file",
        );
        assert_problem(
            &with_component("").replace(
                "source = \"app.wasm\"",
                "source = { url = \"https://x.test/a.wasm\", digest = \"sha256:00\" }",
            ),
            "component.app.source",
            "remote sources ({ url, digest }) are not supported by edge-host",
        );
        assert_problem(
            &with_component("").replace(
                "source = \"app.wasm\"",
                "source = { package = \"a:b\", version = \"1.0.0\" }",
            ),
            "component.app.source",
            "registry sources are not supported by edge-host",
        );
        assert_problem(
            &with_component("").replace("source = \"app.wasm\"", "description = \"x\""),
            "component.app.source",
            "missing",
        );
        assert_problem(
            &with_component("key_value_stores = [\"default\", \"My Store\"]"),
            "component.app.key_value_stores[1]",
            "is not a store label",
        );
        assert_problem(
            &with_component("environment = { A = \"1\", B = 2 }"),
            "component.app.environment.B",
            "expected a string, found an integer",
        );
        let app = ok(&with_component(
            "description = \"d\"\nkey_value_stores = [\"default\", \"my-store\", \"other_store\"]\nenvironment = { Z = \"1\", A = \"2\" }\nfiles = []\nsqlite_databases = []\ndependencies_inherit_configuration = false\n[component.app.build]\ncommand = [\"a\", \"b\"]\nworkdir = \"x\"\nwatch = [\"src/**\"]\nenvironment = { X = \"1\" }\n[component.app.tool.whatever]\nx = 1",
        ));
        let component = &app.components["app"];
        assert_eq!(
            component.key_value_stores,
            ["default", "my-store", "other_store"]
        );
        assert_eq!(
            component.environment,
            [
                ("Z".to_owned(), "1".to_owned()),
                ("A".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn unsupported_spin_features_are_errors() {
        for (extra, key) in [
            ("files = [\"static/**\"]", "component.app.files"),
            ("exclude_files = [\"x\"]", "component.app.exclude_files"),
            (
                "allowed_http_hosts = [\"example.com\"]",
                "component.app.allowed_http_hosts",
            ),
            (
                "sqlite_databases = [\"default\"]",
                "component.app.sqlite_databases",
            ),
            ("ai_models = [\"llama2-chat\"]", "component.app.ai_models"),
            (
                "dependencies = { \"a:b/c\" = \"1.0.0\" }",
                "component.app.dependencies",
            ),
            (
                "dependencies_inherit_configuration = true",
                "component.app.dependencies_inherit_configuration",
            ),
        ] {
            assert_problem(&with_component(extra), key, "not supported by edge-host");
        }
        assert_problem(
            &with_triggers(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\nstatic_response = { status_code = 404 }\n",
            ),
            "trigger.http[0].static_response",
            "not supported by edge-host",
        );
        assert_problem(
            &with_triggers(
                "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\ncomponents = { mw = \"other\" }\n",
            ),
            "trigger.http[0].components",
            "not supported by edge-host",
        );
    }

    #[test]
    fn every_problem_is_reported_one_per_line() {
        let manifest = "spin_manifest_version = 2\n[application]\nname = \"t\"\n[variables]\nkey = { required = true }\n[[trigger.http]]\nroute = \"/a\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/a\"\ncomponent = \"ghost\"\n[component.app]\nsorce = \"app.wasm\"\n";
        let (dir, result) = load_with(manifest, &[], &[]);
        let err = result.expect_err("problems");
        let file = dir.0.join("spin.toml");
        let expected = [
            format!(
                "{}: `variables.key`: required, but not set: set the environment variable SPIN_VARIABLE_KEY",
                file.display()
            ),
            format!(
                "{}: `component.app.sorce`: unknown key (expected one of {})",
                file.display(),
                COMPONENT_KEYS.join(", ")
            ),
            format!(
                "{}: `component.app.source`: missing: the path of the component's .wasm file",
                file.display()
            ),
            format!(
                "{}: `trigger.http[1].component`: no component `ghost`: there is no [component.ghost] table (components: app)",
                file.display()
            ),
            format!(
                "{}: `trigger.http[1].route`: duplicate route `/a`: trigger.http[0] already routes it to component `app` (this trigger: component `ghost`)",
                file.display()
            ),
        ];
        assert_eq!(err.to_string(), expected.join("\n"));
        assert_eq!(err.file, file);
    }

    #[test]
    fn toml_syntax_errors_give_line_and_column() {
        let found = problems("spin_manifest_version = 2\n[application]\nname = \"t\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "");
        assert!(
            found[0]
                .1
                .starts_with("invalid TOML at line 3, column 10: "),
            "{found:?}"
        );
        let found = problems("a = 1\na = 2\n");
        assert!(
            found[0].1.starts_with("invalid TOML at line 2, column 1: "),
            "{found:?}"
        );
    }

    #[test]
    fn an_unreadable_manifest_is_one_problem() {
        let dir = TempDir::new();
        let err = load(&dir.0.join("nope.toml"), &|_| None).expect_err("missing file");
        assert_eq!(err.problems.len(), 1);
        assert!(
            err.problems[0]
                .message
                .starts_with("cannot read the manifest: "),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "{}: cannot read",
                dir.0.join("nope.toml").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn secret_values_never_reach_debug() {
        let secret = VariableValue {
            value: "hunter2".to_owned(),
            secret: true,
        };
        let plain = VariableValue {
            value: "hello".to_owned(),
            secret: false,
        };
        assert_eq!(format!("{secret:?}"), "<secret>");
        assert_eq!(format!("{plain:?}"), "\"hello\"");
        let variable = secret.to_variable();
        assert_eq!((variable.value(), variable.is_secret()), ("hunter2", true));
        assert_eq!(format!("{variable:?}"), "<secret>");
        assert!(!plain.to_variable().is_secret());
    }

    #[test]
    fn ids_follow_spin() {
        for good in ["a", "api", "api-v2", "a1-b2-c3"] {
            assert!(is_kebab(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "1a", "a_b", "a b"] {
            assert!(!is_kebab(bad), "{bad}");
        }
        for good in ["a", "jwt_secret", "v2_key"] {
            assert!(is_snake(good), "{good}");
        }
        for bad in ["", "_a", "a_", "a__b", "Api", "2a", "a-b"] {
            assert!(!is_snake(bad), "{bad}");
        }
    }
}
