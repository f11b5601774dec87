//! From the parsed manifest to an [`AppManifest`]: the top-level tables walked, each item
//! (the application, each variable, trigger and component) read into its `raw` type, and what
//! types cannot say checked: the manifest version, ids, `{{ name }}` templates (`variables`),
//! outbound hosts, stores and the component file (`component`), the base and routes, the
//! components triggers name, duplicate routes. Every problem goes to [`Problems`].

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::{Spanned, Value};

use super::error::{Problems, a, join};
use super::model::{AppManifest, HttpRoute, Route};
use super::raw::{self, Checked};
use crate::spin::routes::RoutePattern;

mod component;
mod variables;

/// The top-level keys of a manifest.
const TOP_KEYS: &[&str] = &[
    "spin_manifest_version",
    "application",
    "variables",
    "trigger",
    "component",
];

/// Spin's snake-case ids (variable names): `[a-z][a-z0-9]*(_[a-z0-9]+)*`.
pub(crate) fn is_snake(name: &str) -> bool {
    is_id(name, '_')
}

/// Spin's kebab-case ids (component ids): `[a-z][a-z0-9]*(-[a-z0-9]+)*`.
pub(crate) fn is_kebab(name: &str) -> bool {
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

/// One `[[trigger.http]]` as read, before the cross-checks.
struct Trigger {
    key: String,
    route: Option<Spanned<Route>>,
    component: Option<Spanned<String>>,
}

/// Reads `doc` into an application; `None` when it is not worth reading (not version 2).
pub(super) fn manifest(
    doc: &DeTable<'_>,
    path: &Path,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    sources_must_exist: bool,
    problems: &mut Problems<'_>,
) -> Option<AppManifest> {
    let mut resolver = Resolver {
        problems,
        env,
        sources_must_exist,
    };
    if !resolver.version(doc) {
        return None;
    }
    for key in doc.keys() {
        if !TOP_KEYS.contains(&key.get_ref().as_ref()) {
            resolver.unknown_key(join("", key.get_ref()), key.span(), TOP_KEYS);
        }
    }
    let (name, version, base) = resolver.application(doc.get("application"));
    let variables = resolver.variables(doc.get("variables"));
    let triggers = resolver.triggers(doc.get("trigger"), base.as_ref());
    let (ids, components) = resolver.components(doc.get("component"), dir, &variables);
    let routes = resolver.cross_check(triggers, &ids);
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

struct Resolver<'a, 't> {
    problems: &'a mut Problems<'t>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether a component file that does not exist is a problem (not before a build).
    sources_must_exist: bool,
}

impl Resolver<'_, '_> {
    fn problem(&mut self, key: impl Into<String>, span: Range<usize>, message: impl Into<String>) {
        self.problems.add(key, Some(span), message);
    }

    /// A problem about something absent, with no place in the file.
    fn absent(&mut self, key: &str, message: &str) {
        self.problems.add(key, None, message);
    }

    fn unknown_key(&mut self, key: String, span: Range<usize>, known: &[&str]) {
        let message = format!("unknown key (expected one of {})", known.join(", "));
        self.problem(key, span, message);
    }

    /// Reports the unknown keys of the table at `key`.
    fn unknown<T>(&mut self, key: &str, table: &Checked<T>) {
        for name in &table.unknown {
            self.unknown_key(join(key, name.get_ref()), name.span(), table.known);
        }
    }

    /// The item `value` (at `key`) read as `T`; `None`, with the problem, when it does not fit.
    fn item<T: DeserializeOwned>(&mut self, key: &str, value: &Spanned<DeValue<'_>>) -> Option<T> {
        T::deserialize(ValueDeserializer::from(value.clone()))
            .map_err(|error| self.problems.serde(key, value, &error))
            .ok()
    }

    /// `value` (at `key`) as a table of items.
    fn table<'v, 'i>(
        &mut self,
        key: &str,
        value: &'v Spanned<DeValue<'i>>,
    ) -> Option<&'v DeTable<'i>> {
        self.problems.table(key, value)
    }

    /// Whether the rest of the manifest is worth reading.
    fn version(&mut self, doc: &DeTable<'_>) -> bool {
        const KEY: &str = "spin_manifest_version";
        const EXPECTED: &str =
            "edge-host reads Spin manifest version 2 (`spin_manifest_version = 2`)";
        let Some(value) = doc.get(KEY) else {
            if let Some((key, _)) = doc.get_key_value("spin_version") {
                let message =
                    format!("this is a Spin version 1 manifest (`spin_version`): {EXPECTED}");
                self.problem(KEY, key.span(), message);
                return false;
            }
            self.absent(
                KEY,
                "missing: a Spin manifest starts with `spin_manifest_version = 2`",
            );
            return true;
        };
        let Some(version) = self.item::<Value>(KEY, value) else {
            return false;
        };
        let (ok, message) = match version {
            Value::Integer(2) => return true,
            Value::String(s) if s == "2" => (
                true,
                "must be the integer 2, not the string \"2\"".to_owned(),
            ),
            Value::Integer(1) => (
                false,
                format!("Spin manifest version 1 is not supported: {EXPECTED}"),
            ),
            Value::String(s) if s == "1" => (
                false,
                format!("Spin manifest version 1 is not supported: {EXPECTED}"),
            ),
            other => (
                false,
                format!("unsupported manifest version {other}: {EXPECTED}"),
            ),
        };
        self.problem(KEY, value.span(), message);
        ok
    }

    /// `[application]`: name, version and HTTP base route (`None` for `/`).
    fn application(
        &mut self,
        value: Option<&Spanned<DeValue<'_>>>,
    ) -> (String, Option<String>, Option<RoutePattern>) {
        const KEY: &str = "application";
        let Some(value) = value else {
            self.absent(
                KEY,
                "missing: add an [application] table with at least `name = \"...\"`",
            );
            return Default::default();
        };
        let Some(app) = self.item::<Checked<raw::Application>>(KEY, value) else {
            return Default::default();
        };
        self.unknown(KEY, &app);
        let app = app.value;
        let name = match app.name {
            Some(name) => {
                if name.get_ref().trim().is_empty() {
                    self.problem(join(KEY, "name"), name.span(), "must not be empty");
                }
                name.into_inner()
            }
            None => {
                let key = join(KEY, "name");
                self.problem(key, value.span(), "missing: the application's name");
                String::new()
            }
        };
        let base = app.trigger.and_then(|triggers| self.base(triggers));
        (name, app.version, base)
    }

    /// `[application.trigger]`: the HTTP base route.
    fn base(&mut self, triggers: Checked<raw::AppTriggers>) -> Option<RoutePattern> {
        const KEY: &str = "application.trigger";
        for kind in &triggers.unknown {
            let message = format!("`{kind}` triggers are not supported by edge-host (only HTTP)");
            self.problem(join(KEY, kind.get_ref()), kind.span(), message);
        }
        let http = triggers.value.http?;
        let key = join(KEY, "http");
        self.unknown(&key, &http);
        let base = http.value.base?;
        let key = join(&key, "base");
        let text = base.get_ref();
        match text.parse::<RoutePattern>() {
            Ok(pattern) if pattern.is_wildcard() => self.problem(
                key,
                base.span(),
                format!("a base is a path prefix such as /api; it cannot end in `/...` (`{text}`)"),
            ),
            Ok(pattern) => return Some(pattern),
            Err(e) => self.problem(key, base.span(), e.to_string()),
        }
        None
    }

    /// `[[trigger.http]]`, read one by one.
    fn triggers(
        &mut self,
        value: Option<&Spanned<DeValue<'_>>>,
        base: Option<&RoutePattern>,
    ) -> Vec<Trigger> {
        const KEY: &str = "trigger.http";
        const MISSING: &str =
            "missing: add at least one [[trigger.http]] with a `route` and a `component`";
        let Some(value) = value else {
            self.absent(KEY, MISSING);
            return Vec::new();
        };
        let Some(table) = self.table("trigger", value) else {
            return Vec::new();
        };
        let mut triggers = Vec::new();
        for (kind, value) in table {
            if kind.get_ref() != "http" {
                let message = format!(
                    "`{kind}` triggers are not supported by edge-host (only [[trigger.http]])"
                );
                self.problem(join("trigger", kind.get_ref()), kind.span(), message);
                continue;
            }
            let Some(items) = value.get_ref().as_array() else {
                let found = a(value.get_ref().type_str());
                let message =
                    format!("expected an array of tables ([[trigger.http]]), found {found}");
                self.problem(KEY, value.span(), message);
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let key = format!("{KEY}[{i}]");
                if let Some(trigger) = self.item(&key, item) {
                    triggers.push(self.trigger(trigger, key, item.span(), base));
                }
            }
        }
        let http = table.get("http").map(|http| http.get_ref().as_array());
        if http.is_none_or(|items| items.is_some_and(|items| items.is_empty())) {
            self.problem(KEY, value.span(), MISSING);
        }
        triggers
    }

    fn trigger(
        &mut self,
        trigger: Checked<raw::Trigger>,
        key: String,
        span: Range<usize>,
        base: Option<&RoutePattern>,
    ) -> Trigger {
        self.unknown(&key, &trigger);
        let spec = trigger.value;
        if let Some(components) = spec.components.filter(|c| !is_empty(c.get_ref())) {
            let message = "not supported by edge-host: `components` (middleware) needs component composition; give one `component`";
            self.problem(join(&key, "components"), components.span(), message);
        }
        if let Some(response) = spec.static_response {
            let message = "not supported by edge-host: give a `component` that answers the route";
            self.problem(join(&key, "static_response"), response.span(), message);
        }
        if let Some(executor) = spec.executor {
            self.executor(executor, &join(&key, "executor"));
        }
        let route_key = join(&key, "route");
        let route = match spec.route {
            Some(route) => self.route(route, &route_key, base),
            None => {
                let message = "missing: the route, such as \"/...\", or { private = true }";
                self.problem(route_key, span.clone(), message);
                None
            }
        };
        let component_key = join(&key, "component");
        let component = match spec.component {
            Some(component) => {
                let span = component.span();
                match component.into_inner() {
                    Value::String(id) => Some(Spanned::new(span, id)),
                    Value::Table(_) => {
                        let message = "inline components are not supported by edge-host: declare a [component.<id>] table and give its id here";
                        self.problem(component_key, span, message);
                        None
                    }
                    other => {
                        let message =
                            format!("expected a component id, found {}", a(other.type_str()));
                        self.problem(component_key, span, message);
                        None
                    }
                }
            }
            None => {
                let message = "missing: the id of the component that handles the route";
                self.problem(component_key, span, message);
                None
            }
        };
        Trigger {
            key,
            route,
            component,
        }
    }

    fn route(
        &mut self,
        route: Spanned<raw::Route>,
        key: &str,
        base: Option<&RoutePattern>,
    ) -> Option<Spanned<Route>> {
        let span = route.span();
        let resolved = match route.into_inner() {
            raw::Route::Path(text) => {
                let pattern = text
                    .parse::<RoutePattern>()
                    .map_err(|e| self.problem(key, span.clone(), e.to_string()))
                    .ok()?;
                match base.map_or(Ok(pattern.clone()), |base| pattern.under(base)) {
                    Ok(pattern) => Route::Pattern(pattern),
                    Err(e) => {
                        let message = format!("with the application's base: {e}");
                        self.problem(key, span, message);
                        return None;
                    }
                }
            }
            raw::Route::Table(table) => {
                self.unknown(key, &table);
                match table.value.private {
                    Some(private) if *private.get_ref() => Route::Private,
                    Some(private) => {
                        let message = "must be true (a public route is written as a string, such as \"/...\")";
                        self.problem(join(key, "private"), private.span(), message);
                        return None;
                    }
                    None => {
                        let message = "expected a route string or { private = true }";
                        self.problem(key, span, message);
                        return None;
                    }
                }
            }
        };
        Some(Spanned::new(span, resolved))
    }

    fn executor(&mut self, executor: Spanned<Checked<raw::Executor>>, key: &str) {
        let span = executor.span();
        let executor = executor.into_inner();
        let type_key = join(key, "type");
        let Some(kind) = &executor.value.kind else {
            self.problem(type_key, span, "missing: the executor type (spin)");
            return;
        };
        match kind.get_ref().as_str() {
            "spin" | "http" => self.unknown(key, &executor),
            "wagi" => self.problem(
                type_key,
                kind.span(),
                "the Wagi executor is not supported by edge-host: components must export wasi:http/incoming-handler",
            ),
            other => self.problem(
                type_key,
                kind.span(),
                format!("unknown executor type `{other}` (expected spin or http)"),
            ),
        }
    }

    /// Checks what spans triggers and components: each trigger's component is declared (in
    /// `ids`), no route is given twice.
    fn cross_check(&mut self, triggers: Vec<Trigger>, ids: &BTreeSet<String>) -> Vec<HttpRoute> {
        for trigger in &triggers {
            let Some(id) = &trigger.component else {
                continue;
            };
            if !ids.contains(id.get_ref()) {
                let known = if ids.is_empty() {
                    "the manifest declares no components".to_owned()
                } else {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    format!("components: {}", ids.join(", "))
                };
                self.problem(
                    join(&trigger.key, "component"),
                    id.span(),
                    format!("no component `{id}`: there is no [component.{id}] table ({known})"),
                );
            }
        }
        let pattern = |trigger: &Trigger| match trigger.route.as_ref().map(Spanned::get_ref) {
            Some(Route::Pattern(pattern)) => Some(pattern.clone()),
            _ => None,
        };
        let component = |trigger: &Trigger| {
            trigger
                .component
                .as_ref()
                .map_or_else(String::new, |id| id.get_ref().clone())
        };
        for (j, later) in triggers.iter().enumerate() {
            let (Some(route), Some(span)) =
                (pattern(later), later.route.as_ref().map(Spanned::span))
            else {
                continue;
            };
            let earlier = triggers[..j]
                .iter()
                .find(|t| pattern(t).is_some_and(|p| p.same_route(&route)));
            if let Some(earlier) = earlier {
                self.problem(
                    join(&later.key, "route"),
                    span,
                    format!(
                        "duplicate route `{route}`: {} already routes it to component `{}` (this trigger: component `{}`)",
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
                    route: t.route?.into_inner(),
                    component: t.component?.into_inner(),
                })
            })
            .collect()
    }
}

/// Whether a Spin feature edge-host does not implement is unused: an empty list or table, or
/// `false`.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Table(table) => table.is_empty(),
        Value::Boolean(b) => !b,
        _ => false,
    }
}
