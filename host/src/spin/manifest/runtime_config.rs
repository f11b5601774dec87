//! Spin's runtime config file (`spin up --runtime-config-file runtime-config.toml`): where
//! key-value stores and SQLite databases live, and where application variables come from.
//! What edge-host reads of it:
//!
//! ```toml
//! [key_value_store.default]     # a store label
//! type = "redis"                # shared by every replica on this Redis
//! url = "redis://127.0.0.1:6379/0"
//!
//! [key_value_store.cache]
//! type = "spin"                 # SQLite; without `path`, the state directory's database
//! path = "data/cache.db"        # relative to this file's directory
//!
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/app.db"
//!
//! [[variables_provider]]        # (or `[[config_provider]]`, Spin's older name)
//! type = "env"                  # `<PREFIX>_<NAME>` from the environment, then the .env file
//! prefix = "MYAPP"              # default SPIN_VARIABLE
//! dotenv_path = ".env"
//!
//! [[variables_provider]]
//! type = "static"               # values written here (edge-host's own provider)
//! values = { greeting = "Hi" }
//! ```
//!
//! Everything else is reported as the manifest's problems are, with its line and column:
//! unknown sections and keys, the Spin providers that need a cloud (`vault`,
//! `azure_key_vault`, `azure_cosmos`, `aws_dynamo`, `libsql`...), `llm_compute`.
//! `SPIN_VARIABLE_<NAME>` in the process environment always wins, as in Spin; then the
//! providers, top-down; then the manifest's default.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{self, ManifestError, ManifestProblem, Problems, a, join};

/// What a runtime config file says, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfigFile {
    /// The file (empty for the default, no file).
    pub file: PathBuf,
    /// `[key_value_store.<label>]`, by label.
    pub key_value_stores: BTreeMap<String, KeyValueStore>,
    /// `[sqlite_database.<label>]`: the file of each label given one.
    pub sqlite_databases: BTreeMap<String, PathBuf>,
    /// `[[variables_provider]]`, in priority order.
    pub variables: Vec<VariablesProvider>,
    /// `[rate_limit]` (edge-host's own section): the server's rate limits, under what the
    /// command line sets.
    pub rate_limits: Option<crate::RateLimits>,
}

/// Where one key-value store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValueStore {
    /// `type = "spin"`: SQLite, in the file at `path` (resolved against the config file's
    /// directory), or without one the state directory's database.
    Sqlite {
        /// The database file.
        path: Option<PathBuf>,
    },
    /// `type = "redis"`: the database of `url`.
    Redis {
        /// `redis://[user:password@]host[:port][/db]`.
        url: String,
    },
}

/// Where application variables come from, after the process environment.
#[derive(Clone, PartialEq, Eq)]
pub enum VariablesProvider {
    /// `type = "env"`: `<PREFIX>_<NAME>` (upper case) from the process environment, then
    /// from the `.env` file read at load.
    Env {
        /// The prefix, without the `_`.
        prefix: String,
        /// The entries of `dotenv_path`.
        dotenv: BTreeMap<String, String>,
    },
    /// `type = "static"`: the values given, by variable name.
    Static(BTreeMap<String, String>),
}

/// Values may be secrets: `Debug` shows names alone.
impl std::fmt::Debug for VariablesProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env { prefix, dotenv } => f
                .debug_struct("Env")
                .field("prefix", prefix)
                .field("dotenv", &dotenv.keys().collect::<Vec<_>>())
                .finish(),
            Self::Static(values) => f
                .debug_tuple("Static")
                .field(&values.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl RuntimeConfigFile {
    /// The value for the environment variable `name` as the manifest reads it: `env`'s, and
    /// for `SPIN_VARIABLE_<NAME>` without one, the first provider's that has it.
    pub fn lookup(&self, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        if let Some(value) = env(name) {
            return Some(value);
        }
        let variable = name.strip_prefix("SPIN_VARIABLE_")?;
        self.variables.iter().find_map(|provider| match provider {
            VariablesProvider::Env { prefix, dotenv } => {
                let key = format!("{prefix}_{}", variable.to_ascii_uppercase());
                env(&key).or_else(|| dotenv.get(&key).cloned())
            }
            VariablesProvider::Static(values) => {
                values.get(&variable.to_ascii_lowercase()).cloned()
            }
        })
    }

    /// [`Self::lookup`] as an owned function (what `up --watch` keeps).
    pub fn variables_env(
        &self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let config = Arc::new(self.clone());
        move |name: &str| config.lookup(name, &env)
    }
}

/// Sections of Spin's runtime config that edge-host does not implement, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("llm_compute", "there is no LLM interface"),
    (
        "outbound_networking",
        "outbound HTTP is configured with --outbound-* and the manifest's allowed_outbound_hosts",
    ),
    ("otel", "set OTEL_EXPORTER_OTLP_ENDPOINT instead"),
    ("client_tls", "outbound TLS uses the system's web roots"),
];

const SECTIONS: &[&str] = &[
    "key_value_store",
    "sqlite_database",
    "variables_provider",
    "config_provider",
    "rate_limit",
];

/// Reads and checks the runtime config file at `path`; every problem is reported at once.
pub fn load_runtime_config(path: &Path) -> Result<RuntimeConfigFile, ManifestError> {
    let fail = |problem| ManifestError {
        file: path.to_owned(),
        problems: vec![problem],
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(ManifestProblem::of_file(
            format!("cannot read the runtime config: {e}"),
            None,
        ))
    })?;
    let doc = DeTable::parse(&text).map_err(|e| fail(error::syntax(&text, &e)))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut reader = Reader {
        problems: Problems::new(&text),
        dir,
        config: RuntimeConfigFile {
            file: path.to_owned(),
            ..RuntimeConfigFile::default()
        },
    };
    for (key, value) in doc.get_ref() {
        let (name, span) = (key.get_ref().as_ref(), key.span());
        match name {
            "key_value_store" => reader.key_value_stores(value),
            "sqlite_database" => reader.sqlite_databases(value),
            "variables_provider" | "config_provider" => reader.providers(name, value),
            "rate_limit" => reader.rate_limit(value),
            _ => match UNSUPPORTED.iter().find(|(section, _)| *section == name) {
                Some((_, why)) => {
                    reader.problem(name, span, format!("not supported by edge-host: {why}"));
                }
                None => reader.problem(
                    join("", name),
                    span,
                    format!("unknown key (expected one of {})", SECTIONS.join(", ")),
                ),
            },
        }
    }
    if reader.problems.is_empty() {
        Ok(reader.config)
    } else {
        Err(ManifestError {
            file: path.to_owned(),
            problems: reader.problems.into_vec(),
        })
    }
}

struct Reader<'t> {
    problems: Problems<'t>,
    dir: PathBuf,
    config: RuntimeConfigFile,
}

/// The string values of a table, each with its span; other keys and types are problems.
type Fields<'v> = BTreeMap<&'v str, (String, Range<usize>)>;

impl<'t> Reader<'t> {
    fn problem(&mut self, key: impl Into<String>, span: Range<usize>, message: impl Into<String>) {
        self.problems.add(key, Some(span), message);
    }

    /// `value` (at `key`) as a table, or a problem.
    fn table<'v, 'i>(
        &mut self,
        key: &str,
        value: &'v Spanned<DeValue<'i>>,
    ) -> Option<&'v DeTable<'i>> {
        self.problems.table(key, value)
    }

    /// The string fields of `table` among `known` (`type` first); a problem for any other
    /// key or a value that is not a string, and for a missing `type`.
    fn fields<'v>(
        &mut self,
        key: &str,
        table: &'v DeTable<'_>,
        span: Range<usize>,
        known: &[&str],
    ) -> Option<Fields<'v>> {
        let mut fields = Fields::new();
        for (name, value) in table {
            let name_str: &'v str = name.get_ref().as_ref();
            let item_key = join(key, name_str);
            if !known.contains(&name_str) {
                let message = format!("unknown key (expected one of {})", known.join(", "));
                self.problem(item_key, name.span(), message);
                continue;
            }
            match value.get_ref() {
                DeValue::String(text) => {
                    fields.insert(name_str, (text.to_string(), value.span()));
                }
                other => {
                    let found = a(other.type_str());
                    let message = format!("expected a string, found {found}");
                    self.problem(item_key, value.span(), message);
                }
            }
        }
        if !fields.contains_key("type") {
            self.problem(key, span, "`type` is missing");
            return None;
        }
        Some(fields)
    }

    /// A path of the file, resolved against its directory.
    fn path(&self, path: &str) -> PathBuf {
        self.dir.join(path)
    }

    fn labels<'v, 'i>(
        &mut self,
        section: &str,
        value: &'v Spanned<DeValue<'i>>,
    ) -> Vec<(String, String, &'v Spanned<DeValue<'i>>)> {
        let Some(table) = self.table(section, value) else {
            return Vec::new();
        };
        let mut labels = Vec::new();
        for (label, item) in table {
            let label_str = label.get_ref().to_string();
            let key = join(section, &label_str);
            if !(super::is_kebab(&label_str) || super::is_snake(&label_str)) {
                self.problem(
                    &key,
                    label.span(),
                    format!("`{label_str}` is not a label (kebab-case or snake_case, such as \"default\")"),
                );
                continue;
            }
            labels.push((label_str, key, item));
        }
        labels
    }

    fn key_value_stores(&mut self, value: &Spanned<DeValue<'_>>) {
        for (label, key, item) in self.labels("key_value_store", value) {
            let Some(table) = self.table(&key, item) else {
                continue;
            };
            let Some(fields) = self.fields(&key, table, item.span(), &["type", "url", "path"])
            else {
                continue;
            };
            let (kind, kind_span) = fields["type"].clone();
            let store = match kind.as_str() {
                "spin" => {
                    if let Some((_, span)) = fields.get("url") {
                        self.problem(
                            join(&key, "url"),
                            span.clone(),
                            "a `spin` store has a `path`, not a `url`",
                        );
                        continue;
                    }
                    KeyValueStore::Sqlite {
                        path: fields.get("path").map(|(path, _)| self.path(path)),
                    }
                }
                "redis" => {
                    if let Some((_, span)) = fields.get("path") {
                        self.problem(
                            join(&key, "path"),
                            span.clone(),
                            "a `redis` store has a `url`, not a `path`",
                        );
                        continue;
                    }
                    let Some((url, span)) = fields.get("url") else {
                        self.problem(&key, item.span(), "`url` is missing: the Redis server, such as \"redis://127.0.0.1:6379\"");
                        continue;
                    };
                    if !(url.starts_with("redis://")
                        || url.starts_with("rediss://")
                        || url.starts_with("redis+unix://")
                        || url.starts_with("unix://"))
                    {
                        self.problem(
                            join(&key, "url"),
                            span.clone(),
                            "not a Redis URL (redis://host[:port][/db])",
                        );
                        continue;
                    }
                    KeyValueStore::Redis { url: url.clone() }
                }
                other => {
                    let message = format!(
                        "the store type `{other}` is not supported by edge-host (supported: spin, redis)"
                    );
                    self.problem(join(&key, "type"), kind_span, message);
                    continue;
                }
            };
            self.config.key_value_stores.insert(label, store);
        }
    }

    fn sqlite_databases(&mut self, value: &Spanned<DeValue<'_>>) {
        for (label, key, item) in self.labels("sqlite_database", value) {
            let Some(table) = self.table(&key, item) else {
                continue;
            };
            let Some(fields) = self.fields(&key, table, item.span(), &["type", "path"]) else {
                continue;
            };
            let (kind, kind_span) = fields["type"].clone();
            if kind != "spin" {
                let message = format!(
                    "the database type `{kind}` is not supported by edge-host (supported: spin)"
                );
                self.problem(join(&key, "type"), kind_span, message);
                continue;
            }
            // Without a path: the state directory's file, as without the section.
            if let Some((path, _)) = fields.get("path") {
                let path = self.path(path);
                self.config.sqlite_databases.insert(label, path);
            }
        }
    }

    fn providers(&mut self, section: &str, value: &Spanned<DeValue<'_>>) {
        let Some(items) = value.get_ref().as_array() else {
            let found = a(value.get_ref().type_str());
            let message = format!("expected a list of tables ([[{section}]]), found {found}");
            self.problem(section, value.span(), message);
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("{section}[{i}]");
            let Some(table) = self.table(&key, item) else {
                continue;
            };
            // `values` is a table: read apart from the string fields.
            let values = table.iter().find(|(name, _)| name.get_ref() == "values");
            let strings: DeTable<'_> = table
                .iter()
                .filter(|(name, _)| name.get_ref() != "values")
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let Some(fields) = self.fields(
                &key,
                &strings,
                item.span(),
                &["type", "prefix", "dotenv_path"],
            ) else {
                continue;
            };
            let (kind, kind_span) = fields["type"].clone();
            let provider = match kind.as_str() {
                "env" => {
                    if let Some((name, _)) = values {
                        self.problem(
                            join(&key, "values"),
                            name.span(),
                            "an `env` provider has no `values`",
                        );
                        continue;
                    }
                    let prefix = fields
                        .get("prefix")
                        .map_or_else(|| "SPIN_VARIABLE".to_owned(), |(p, _)| p.clone());
                    let mut dotenv = BTreeMap::new();
                    if let Some((path, span)) = fields.get("dotenv_path") {
                        let file = self.path(path);
                        match dotenvy::from_path_iter(&file) {
                            Ok(entries) => {
                                for entry in entries {
                                    match entry {
                                        Ok((name, value)) => {
                                            dotenv.insert(name, value);
                                        }
                                        Err(e) => {
                                            let message = format!("{}: {e}", file.display());
                                            self.problem(
                                                join(&key, "dotenv_path"),
                                                span.clone(),
                                                message,
                                            );
                                            break;
                                        }
                                    }
                                }
                            }
                            Err(e) => {
                                let message = format!("cannot read {}: {e}", file.display());
                                self.problem(join(&key, "dotenv_path"), span.clone(), message);
                                continue;
                            }
                        }
                    }
                    VariablesProvider::Env { prefix, dotenv }
                }
                "static" => {
                    if let Some((name, _)) = fields.iter().find(|(name, _)| **name != "type") {
                        let span = fields[name].1.clone();
                        self.problem(
                            join(&key, name),
                            span,
                            "a `static` provider has `values` alone",
                        );
                        continue;
                    }
                    let Some((_, values)) = values else {
                        self.problem(
                            &key,
                            item.span(),
                            "`values` is missing: a table of variable names and their values",
                        );
                        continue;
                    };
                    let Some(values) = self.static_values(&join(&key, "values"), values) else {
                        continue;
                    };
                    VariablesProvider::Static(values)
                }
                "vault" | "azure_key_vault" => {
                    let message = format!(
                        "not supported by edge-host: the `{kind}` provider needs a cloud service; use `env` or `static`"
                    );
                    self.problem(join(&key, "type"), kind_span, message);
                    continue;
                }
                other => {
                    let message =
                        format!("unknown provider type `{other}` (supported: env, static)");
                    self.problem(join(&key, "type"), kind_span, message);
                    continue;
                }
            };
            self.config.variables.push(provider);
        }
    }

    /// `[rate_limit]`: `per_client = "100/s"`, `redis = "redis://..."`, and
    /// `[rate_limit.routes]` of `"/route" = "quota"`.
    fn rate_limit(&mut self, value: &Spanned<DeValue<'_>>) {
        let key = "rate_limit";
        let Some(table) = self.table(key, value) else {
            return;
        };
        let mut limits = crate::RateLimits::default();
        for (name, item) in table {
            let name_str = name.get_ref().as_ref();
            let item_key = join(key, name_str);
            match (name_str, item.get_ref()) {
                ("per_client", DeValue::String(quota)) => match quota.parse() {
                    Ok(quota) => limits.per_client = Some(quota),
                    Err(e) => self.problem(item_key, item.span(), format!("{e}")),
                },
                ("redis", DeValue::String(url)) => {
                    if url.starts_with("redis://") || url.starts_with("rediss://") {
                        limits.redis = Some(url.to_string());
                    } else {
                        self.problem(
                            item_key,
                            item.span(),
                            "not a Redis URL (redis://host[:port][/db])",
                        );
                    }
                }
                ("routes", DeValue::Table(routes)) => {
                    for (route, quota) in routes {
                        let route_str = route.get_ref().as_ref();
                        let route_key = join(&item_key, route_str);
                        let DeValue::String(quota) = quota.get_ref() else {
                            let found = a(quota.get_ref().type_str());
                            self.problem(
                                route_key,
                                quota.span(),
                                format!("expected a quota such as \"100/s\", found {found}"),
                            );
                            continue;
                        };
                        match format!("{route_str}={quota}").parse::<crate::RouteQuota>() {
                            Ok(rule) => limits.routes.push(rule),
                            Err(e) => self.problem(route_key, route.span(), e),
                        }
                    }
                }
                ("per_client" | "redis", other) => {
                    let found = a(other.type_str());
                    self.problem(
                        item_key,
                        item.span(),
                        format!("expected a string, found {found}"),
                    );
                }
                ("routes", other) => {
                    let found = a(other.type_str());
                    self.problem(
                        item_key,
                        item.span(),
                        format!("expected a table of routes and quotas, found {found}"),
                    );
                }
                _ => self.problem(
                    item_key,
                    name.span(),
                    "unknown key (expected one of per_client, routes, redis)",
                ),
            }
        }
        self.config.rate_limits = Some(limits);
    }

    fn static_values(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<BTreeMap<String, String>> {
        let table = self.table(key, value)?;
        let mut values = BTreeMap::new();
        for (name, value) in table {
            let name_str = name.get_ref().to_string();
            let item_key = join(key, &name_str);
            if !super::is_snake(&name_str) {
                self.problem(
                    item_key,
                    name.span(),
                    format!("`{name_str}` is not a variable name (snake_case)"),
                );
                continue;
            }
            match value.get_ref() {
                DeValue::String(text) => {
                    values.insert(name_str, text.to_string());
                }
                other => {
                    let found = a(other.type_str());
                    self.problem(
                        item_key,
                        value.span(),
                        format!("expected a string, found {found}"),
                    );
                }
            }
        }
        Some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> (tempfile::TempDir, Result<RuntimeConfigFile, ManifestError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runtime-config.toml");
        std::fs::write(&path, toml).expect("written");
        let loaded = load_runtime_config(&path);
        (dir, loaded)
    }

    /// The problems as `line:column: key: message`.
    fn problems(toml: &str) -> Vec<String> {
        match load(toml).1 {
            Ok(config) => panic!("expected problems, loaded {config:?}"),
            Err(err) => err
                .problems
                .iter()
                .map(|p| format!("{}:{}: {}", p.line.unwrap_or(0), p.column.unwrap_or(0), p))
                .collect(),
        }
    }

    #[test]
    fn stores_databases_and_providers_are_read() {
        let (dir, loaded) = load(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/1\"\n\
             [key_value_store.cache]\ntype = \"spin\"\npath = \"data/cache.db\"\n\
             [key_value_store.plain]\ntype = \"spin\"\n\
             [sqlite_database.default]\ntype = \"spin\"\npath = \"app.db\"\n\
             [[config_provider]]\ntype = \"env\"\nprefix = \"APP\"\n\
             [[variables_provider]]\ntype = \"static\"\nvalues = { greeting = \"Hi\" }\n",
        );
        let config = loaded.expect("loads");
        let root = dir.path();
        assert_eq!(
            config.key_value_stores,
            BTreeMap::from([
                (
                    "cache".to_owned(),
                    KeyValueStore::Sqlite {
                        path: Some(root.join("data/cache.db"))
                    }
                ),
                (
                    "default".to_owned(),
                    KeyValueStore::Redis {
                        url: "redis://127.0.0.1:6379/1".to_owned()
                    }
                ),
                ("plain".to_owned(), KeyValueStore::Sqlite { path: None }),
            ])
        );
        assert_eq!(
            config.sqlite_databases,
            BTreeMap::from([("default".to_owned(), root.join("app.db"))])
        );
        assert_eq!(
            config.variables,
            [
                VariablesProvider::Env {
                    prefix: "APP".to_owned(),
                    dotenv: BTreeMap::new()
                },
                VariablesProvider::Static(BTreeMap::from([(
                    "greeting".to_owned(),
                    "Hi".to_owned()
                )])),
            ]
        );
    }

    #[test]
    fn rate_limits_are_read_and_checked() {
        let (_dir, loaded) = load(
            "[rate_limit]\nper_client = \"100/s\"\nredis = \"redis://127.0.0.1:6379/2\"\n[rate_limit.routes]\n\"/login\" = \"5/min\"\n",
        );
        let limits = loaded.expect("loads").rate_limits.expect("limits");
        assert_eq!(limits.per_client, Some("100/s".parse().expect("a quota")));
        assert_eq!(limits.redis.as_deref(), Some("redis://127.0.0.1:6379/2"));
        assert_eq!(
            limits.routes,
            ["/login=5/min".parse::<crate::RouteQuota>().expect("a rule")]
        );
        let found = problems(
            "[rate_limit]\nper_client = \"lots\"\nredis = \"http://x\"\nburst = 3\n[rate_limit.routes]\nlogin = \"5/min\"\n",
        );
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(
            found[0].contains("`rate_limit.per_client`: `lots` is not a quota"),
            "{found:#?}"
        );
        assert!(
            found[1].contains("`rate_limit.redis`: not a Redis URL"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("`rate_limit.burst`: unknown key"),
            "{found:#?}"
        );
        assert!(found[3].contains("must start with `/`"), "{found:#?}");
    }

    #[test]
    fn lookups_go_environment_then_providers_in_order() {
        let config = RuntimeConfigFile {
            variables: vec![
                VariablesProvider::Env {
                    prefix: "APP".to_owned(),
                    dotenv: BTreeMap::from([("APP_B".to_owned(), "dotenv-b".to_owned())]),
                },
                VariablesProvider::Static(BTreeMap::from([
                    ("b".to_owned(), "static-b".to_owned()),
                    ("c".to_owned(), "static-c".to_owned()),
                ])),
            ],
            ..RuntimeConfigFile::default()
        };
        let env = |name: &str| match name {
            "SPIN_VARIABLE_A" => Some("spin-a".to_owned()),
            "APP_C" => Some("env-c".to_owned()),
            _ => None,
        };
        let lookup = config.variables_env(env);
        assert_eq!(lookup("SPIN_VARIABLE_A").as_deref(), Some("spin-a"));
        assert_eq!(lookup("SPIN_VARIABLE_B").as_deref(), Some("dotenv-b"));
        assert_eq!(lookup("SPIN_VARIABLE_C").as_deref(), Some("env-c"));
        assert_eq!(lookup("SPIN_VARIABLE_D"), None);
        // Other names are the environment's alone.
        assert_eq!(lookup("C"), None);
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let found = problems(
            "[key_value_store.default]\ntype = \"azure_cosmos\"\n\
             [key_value_store.r]\ntype = \"redis\"\n\
             [key_value_store.s]\ntype = \"spin\"\nurl = \"redis://x\"\nsize = 3\n\
             [sqlite_database.default]\ntype = \"libsql\"\n\
             [[variables_provider]]\ntype = \"vault\"\n\
             [[variables_provider]]\nprefix = \"X\"\n\
             [llm_compute]\ntype = \"remote_http\"\n\
             [bogus]\n",
        );
        assert_eq!(
            found,
            [
                "2:8: `key_value_store.default.type`: the store type `azure_cosmos` is not supported by edge-host (supported: spin, redis)",
                "3:1: `key_value_store.r`: `url` is missing: the Redis server, such as \"redis://127.0.0.1:6379\"",
                "8:1: `key_value_store.s.size`: unknown key (expected one of type, url, path)",
                "7:7: `key_value_store.s.url`: a `spin` store has a `path`, not a `url`",
                "10:8: `sqlite_database.default.type`: the database type `libsql` is not supported by edge-host (supported: spin)",
                "12:8: `variables_provider[0].type`: not supported by edge-host: the `vault` provider needs a cloud service; use `env` or `static`",
                "13:1: `variables_provider[1]`: `type` is missing",
                "15:2: `llm_compute`: not supported by edge-host: there is no LLM interface",
                "17:2: `bogus`: unknown key (expected one of key_value_store, sqlite_database, variables_provider, config_provider, rate_limit)",
            ]
        );
    }

    #[test]
    fn unreadable_and_invalid_files_are_one_problem() {
        let missing = load_runtime_config(Path::new("/nonexistent/runtime-config.toml"))
            .expect_err("no file");
        assert!(
            missing
                .to_string()
                .contains("cannot read the runtime config"),
            "{missing}"
        );
        let found = problems("[key_value_store.default\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("invalid TOML"), "{found:?}");
        let missing_dotenv =
            problems("[[variables_provider]]\ntype = \"env\"\ndotenv_path = \"nope.env\"\n");
        assert!(
            missing_dotenv[0].contains("cannot read"),
            "{missing_dotenv:?}"
        );
    }
}
