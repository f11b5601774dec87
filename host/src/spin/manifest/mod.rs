//! Loading and validating a Spin application manifest (`spin.toml`, manifest version 2).
//!
//! Everything edge-host cannot honour is an error, found before anything runs: unknown keys,
//! values of the wrong type, Spin features this host does not implement (`ai_models`,
//! non-HTTP triggers...), missing component files, unresolvable variables,
//! duplicate routes. Every problem is reported at once, each at the dotted key it concerns and
//! with its line and column ([`ManifestProblem`]):
//!
//! ```text
//! spin.toml: `component.api.sorce`: unknown key (expected one of source, description, ...)
//! spin.toml: `trigger.http[1].route`: duplicate route `/api/...`: ...
//! ```
//!
//! The alternate form of [`ManifestError`] (`{:#}`) puts the position after the file:
//! `spin.toml:14:1: `component.api.sorce`: ...`.
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
//!
//! Inside: the file is parsed with its spans (`toml::de::DeTable`); each item (the
//! application, each variable, each trigger, each component) is read on its own into the
//! serde types of `raw`, so that a value of the wrong type in one item does not hide the
//! problems of the others, and `resolve` turns them into an [`AppManifest`], checking what
//! types cannot say (ids, templates, routes, files, references between items).

mod error;
mod model;
mod raw;
mod resolve;
mod runtime_config;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{ManifestError, ManifestProblem};
pub use model::{
    AppManifest, BuildConfig, ComponentManifest, FileMount, HttpRoute, Route, VariableValue,
};
pub(crate) use resolve::{is_kebab, is_snake};
pub use runtime_config::{
    KeyValueStore, RuntimeConfigFile, VariablesProvider, load_runtime_config,
};

/// Loads and validates the manifest at `path`. `env` looks up environment variables (the
/// process environment in production: `&|name| std::env::var(name).ok()`).
pub fn load(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppManifest, ManifestError> {
    load_checked(path, env, true)
}

/// Loads and validates the manifest at `path` as [`load`] does, except that a component file
/// that does not exist yet is no problem: what `edge-host build` reads before it builds them.
pub fn load_unbuilt(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppManifest, ManifestError> {
    load_checked(path, env, false)
}

/// Parses and validates manifest `text` as [`load_unbuilt`] would the file at `path` (which
/// is only named in messages and resolves relative paths): what a fuzzer or an editor
/// integration feeds it.
pub fn parse_unbuilt(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppManifest, ManifestError> {
    parse_checked(text, path, env, false)
}

fn load_checked(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    sources_must_exist: bool,
) -> Result<AppManifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: path.to_owned(),
        problems: vec![ManifestProblem::of_file(
            format!("cannot read the manifest: {e}"),
            None,
        )],
    })?;
    parse_checked(&text, path, env, sources_must_exist)
}

fn parse_checked(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    sources_must_exist: bool,
) -> Result<AppManifest, ManifestError> {
    let fail = |problem| ManifestError {
        file: path.to_owned(),
        problems: vec![problem],
    };
    let text = text.to_owned();
    let doc = toml::de::DeTable::parse(&text).map_err(|e| fail(error::syntax(&text, &e)))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut problems = error::Problems::new(&text);
    let manifest = resolve::manifest(
        doc.get_ref(),
        path,
        &dir,
        env,
        sources_must_exist,
        &mut problems,
    );
    match manifest {
        Some(manifest) if problems.is_empty() => Ok(manifest),
        _ => Err(ManifestError {
            file: path.to_owned(),
            problems: problems.into_vec(),
        }),
    }
}
