//! `[component.<id>]`: ids, outbound hosts, key-value stores, environment, variables, the
//! Spin features edge-host refuses, and the component file.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeValue;
use toml::{Spanned, Value};

use super::variables::{AppVariables, not_a_variable_name};
use super::{Resolver, is_empty, is_kebab, is_snake};
use crate::OutboundRule;
use crate::spin::manifest::error::{a, join};
use crate::spin::manifest::model::{BuildConfig, ComponentManifest, FileMount, VariableValue};
use crate::spin::manifest::raw::{self, Checked};

impl Resolver<'_, '_> {
    /// `[component.<id>]`: the ids declared, and the components that could be read.
    pub(super) fn components(
        &mut self,
        value: Option<&Spanned<DeValue<'_>>>,
        dir: &Path,
        variables: &AppVariables,
    ) -> (BTreeSet<String>, BTreeMap<String, ComponentManifest>) {
        let (mut ids, mut components) = (BTreeSet::new(), BTreeMap::new());
        let Some(table) = value.and_then(|value| self.table("component", value)) else {
            return (ids, components);
        };
        for (id, value) in table {
            let (span, id) = (id.span(), id.get_ref().to_string());
            let key = join("component", &id);
            if !is_kebab(&id) {
                self.problem(
                    &key,
                    span,
                    format!("`{id}` is not a component id (kebab case: lowercase letters and digits in words joined by `-`, starting with a letter)"),
                );
            }
            if let Some(component) = self.item(&key, value) {
                let component = self.component(&id, component, &key, value.span(), dir, variables);
                components.insert(id.clone(), component);
            }
            ids.insert(id);
        }
        (ids, components)
    }

    fn component(
        &mut self,
        id: &str,
        component: Checked<raw::Component>,
        key: &str,
        span: Range<usize>,
        dir: &Path,
        variables: &AppVariables,
    ) -> ComponentManifest {
        self.unknown(key, &component);
        let spec = component.value;
        let mut component = ComponentManifest {
            id: id.to_owned(),
            source: PathBuf::new(),
            allowed_outbound_hosts: Vec::new(),
            key_value_stores: Vec::new(),
            sqlite_databases: Vec::new(),
            environment: Vec::new(),
            variables: BTreeMap::new(),
            build: None,
            files: Vec::new(),
            exclude_files: Vec::new(),
        };
        for (i, template) in spec
            .allowed_outbound_hosts
            .into_iter()
            .flatten()
            .enumerate()
        {
            let item_key = format!("{key}.allowed_outbound_hosts[{i}]");
            let Some((text, secret)) = self.expand(&template, &item_key, variables) else {
                continue;
            };
            match text.parse::<OutboundRule>() {
                Ok(rule) if secret => component
                    .allowed_outbound_hosts
                    .push(rule.shown_as(template.get_ref())),
                Ok(rule) => component.allowed_outbound_hosts.push(rule),
                Err(_) if secret => self.problem(
                    item_key,
                    template.span(),
                    "not a valid outbound host (scheme://host[:port]); the value comes from a secret variable and is not shown",
                ),
                Err(e) => self.problem(item_key, template.span(), e.to_string()),
            }
        }
        component.key_value_stores =
            self.labels(key, "key_value_stores", "store", spec.key_value_stores);
        component.sqlite_databases =
            self.labels(key, "sqlite_databases", "database", spec.sqlite_databases);
        let environment_key = join(key, "environment");
        for (name, value) in spec.environment.into_iter().flat_map(|entries| entries.0) {
            let (span, name) = (name.span(), name.into_inner());
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                let item_key = join(&environment_key, &name);
                self.problem(item_key, span, "not an environment variable name");
            } else {
                component.environment.push((name, value));
            }
        }
        let variables_key = join(key, "variables");
        for (name, template) in spec.variables.into_iter().flat_map(|entries| entries.0) {
            let (span, name) = (name.span(), name.into_inner());
            let item_key = join(&variables_key, &name);
            if !is_snake(&name) {
                self.problem(item_key, span, not_a_variable_name(&name));
            } else if let Some((value, secret)) = self.expand(&template, &item_key, variables) {
                component
                    .variables
                    .insert(name, VariableValue { value, secret });
            }
        }
        if let Some(build) = spec.build {
            component.build = self.build(&join(key, "build"), build, span.clone(), dir);
        }
        let build_command = component.build.as_ref().map(|build| build.command.clone());
        if let Some(files) = &spec.files {
            component.files = self.files(&join(key, "files"), files, dir);
        }
        if let Some(exclude) = &spec.exclude_files {
            component.exclude_files = self.exclude_files(&join(key, "exclude_files"), exclude);
        }
        let unsupported = [
            (
                "allowed_http_hosts",
                spec.allowed_http_hosts,
                "use allowed_outbound_hosts with full URLs, such as \"https://example.com\"",
            ),
            ("ai_models", spec.ai_models, "there is no LLM interface"),
            (
                "dependencies",
                spec.dependencies,
                "compose the component before serving it (for example with `wac plug`)",
            ),
        ];
        for (name, value, why) in unsupported {
            if let Some(value) = value.filter(|value| !is_empty(value.get_ref())) {
                let message = format!("not supported by edge-host: {why}");
                self.problem(join(key, name), value.span(), message);
            }
        }
        if let Some(inherit) = spec
            .dependencies_inherit_configuration
            .filter(|b| *b.get_ref())
        {
            let key = join(key, "dependencies_inherit_configuration");
            let message = "not supported by edge-host: there are no dependencies";
            self.problem(key, inherit.span(), message);
        }
        let source_key = join(key, "source");
        match spec.source {
            Some(source) => {
                if let Some(path) = self.source(&source_key, &source, dir, build_command) {
                    component.source = path;
                }
            }
            None => self.problem(
                source_key,
                span,
                "missing: the path of the component's .wasm file",
            ),
        }
        component
    }

    /// `files` (at `key`): glob patterns and `{ source, destination }` tables.
    fn files(&mut self, key: &str, files: &Spanned<Value>, dir: &Path) -> Vec<FileMount> {
        let Value::Array(items) = files.get_ref() else {
            let found = a(files.get_ref().type_str());
            let message = format!(
                "expected a list of glob patterns and {{ source, destination }} tables, found {found}"
            );
            self.problem(key, files.span(), message);
            return Vec::new();
        };
        let mut mounts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            match self.file_mount(item, dir) {
                Ok(mount) => mounts.push(mount),
                Err(message) => self.problem(item_key, files.span(), message),
            }
        }
        mounts
    }

    /// One entry of `files`, or what is wrong with it.
    fn file_mount(&self, item: &Value, dir: &Path) -> Result<FileMount, String> {
        match item {
            Value::String(pattern) => {
                relative_pattern(pattern)?;
                Ok(FileMount::Pattern(pattern.clone()))
            }
            Value::Table(table) => {
                if let Some(unknown) = table
                    .keys()
                    .find(|k| !matches!(k.as_str(), "source" | "destination"))
                {
                    return Err(format!(
                        "unknown key `{unknown}` (expected source and destination)"
                    ));
                }
                let (Some(Value::String(source)), Some(Value::String(destination))) =
                    (table.get("source"), table.get("destination"))
                else {
                    return Err(
                        "expected { source = \"<host path>\", destination = \"/<guest path>\" }"
                            .to_owned(),
                    );
                };
                if source.trim().is_empty() {
                    return Err("`source` must not be empty".to_owned());
                }
                guest_path(destination)?;
                let resolved = dir.join(source);
                if self.sources_must_exist && !resolved.exists() {
                    return Err(format!("no such file or directory: {}", resolved.display()));
                }
                Ok(FileMount::Placement {
                    source: resolved,
                    destination: destination.clone(),
                })
            }
            other => Err(format!(
                "expected a glob pattern or a {{ source, destination }} table, found {}",
                a(other.type_str())
            )),
        }
    }

    /// `exclude_files` (at `key`): glob patterns.
    fn exclude_files(&mut self, key: &str, exclude: &Spanned<Value>) -> Vec<String> {
        let Value::Array(items) = exclude.get_ref() else {
            let found = a(exclude.get_ref().type_str());
            self.problem(
                key,
                exclude.span(),
                format!("expected a list of glob patterns, found {found}"),
            );
            return Vec::new();
        };
        let mut patterns = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let checked = match item {
                Value::String(pattern) => relative_pattern(pattern).map(|()| pattern.clone()),
                other => Err(format!(
                    "expected a glob pattern, found {}",
                    a(other.type_str())
                )),
            };
            match checked {
                Ok(pattern) => patterns.push(pattern),
                Err(message) => self.problem(format!("{key}[{i}]"), exclude.span(), message),
            }
        }
        patterns
    }

    /// A list of labels (`key_value_stores`, `sqlite_databases`): each kebab-case or
    /// snake_case, as Spin takes them.
    fn labels(
        &mut self,
        key: &str,
        name: &str,
        what: &str,
        labels: Option<Vec<Spanned<String>>>,
    ) -> Vec<String> {
        let mut valid = Vec::new();
        for (i, label) in labels.into_iter().flatten().enumerate() {
            let (span, label) = (label.span(), label.into_inner());
            if is_kebab(&label) || is_snake(&label) {
                valid.push(label);
            } else {
                self.problem(
                    format!("{key}.{name}[{i}]"),
                    span,
                    format!("`{label}` is not a {what} label (kebab-case or snake_case, such as \"default\")"),
                );
            }
        }
        valid
    }

    /// `[component.<id>.build]` (at `key`): `None` without a command (a table of settings
    /// alone builds nothing).
    fn build(
        &mut self,
        key: &str,
        build: Checked<raw::Build>,
        span: Range<usize>,
        dir: &Path,
    ) -> Option<BuildConfig> {
        self.unknown(key, &build);
        let build = build.value;
        let mut environment = Vec::new();
        for (name, value) in build.environment.into_iter().flat_map(|entries| entries.0) {
            let (name_span, name) = (name.span(), name.into_inner());
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                let item_key = join(&join(key, "environment"), &name);
                self.problem(item_key, name_span, "not an environment variable name");
            } else {
                environment.push((name, value));
            }
        }
        let Some(command) = build.command else {
            if build.workdir.is_some() || build.watch.is_some() {
                self.problem(
                    key,
                    span,
                    "`command` is missing: what builds the component?",
                );
            }
            return None;
        };
        let (command_span, command) = (command.span(), command.into_inner().0);
        if command.trim().is_empty() {
            self.problem(join(key, "command"), command_span, "must not be empty");
            return None;
        }
        Some(BuildConfig {
            command,
            workdir: build
                .workdir
                .map_or_else(|| dir.to_owned(), |workdir| dir.join(workdir)),
            watch: build.watch.unwrap_or_default(),
            environment,
        })
    }

    /// `source` (at `key`): the path of an existing file, resolved against `dir` (or of a
    /// file yet to be built, when the resolver was told so).
    fn source(
        &mut self,
        key: &str,
        source: &Spanned<Value>,
        dir: &Path,
        build_command: Option<String>,
    ) -> Option<PathBuf> {
        let span = source.span();
        let message = match source.get_ref() {
            Value::String(path) if path.trim().is_empty() => "must not be empty".to_owned(),
            Value::String(path) => {
                let resolved = dir.join(path);
                if resolved.is_file() || (!self.sources_must_exist && !resolved.exists()) {
                    return Some(resolved);
                } else if resolved.exists() {
                    format!("{} is not a file", resolved.display())
                } else {
                    let hint = match build_command {
                        Some(command) => format!("build it first: `{command}`"),
                        None => "has the component been built?".to_owned(),
                    };
                    format!("no such file: {} ({hint})", resolved.display())
                }
            }
            Value::Table(t) if t.contains_key("url") => "remote sources ({ url, digest }) are not supported by edge-host: download the component and give its path".to_owned(),
            Value::Table(t) if t.contains_key("package") || t.contains_key("registry") => "registry sources are not supported by edge-host: fetch the component and give its path".to_owned(),
            other => format!("expected the path of a .wasm file, found {}", a(other.type_str())),
        };
        self.problem(key, span, message);
        None
    }
}

/// A glob pattern of `files` or `exclude_files`: valid, relative to the manifest's
/// directory, and not reaching out of it.
fn relative_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("a pattern must not be empty".to_owned());
    }
    if pattern.starts_with('/') || pattern.split(['/', '\\']).any(|part| part == "..") {
        return Err(format!(
            "`{pattern}` must be relative to the manifest's directory, without `..` (use {{ source, destination }} for files elsewhere)"
        ));
    }
    globset::Glob::new(pattern)
        .map(drop)
        .map_err(|e| format!("`{pattern}` is not a glob pattern: {e}"))
}

/// A `destination`: absolute, without `.`, `..`, backslashes or NULs.
fn guest_path(path: &str) -> Result<(), String> {
    let valid = path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path.split('/').all(|part| part != "." && part != "..");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`destination` must be an absolute guest path without `.` or `..`, such as \"/static\" (found `{path}`)"
        ))
    }
}
