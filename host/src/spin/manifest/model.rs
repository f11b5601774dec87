//! What a loaded manifest is: the application, its routes and its components, resolved.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::OutboundRule;
use crate::spin::routes::RoutePattern;

/// A loaded and validated application.
#[derive(Debug, Clone)]
pub struct AppManifest {
    /// The manifest file, as given to [`load`](super::load).
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
    /// The `.wasm` file, resolved against the manifest's directory (it exists, unless the
    /// manifest was loaded with [`load_unbuilt`](super::load_unbuilt)).
    pub source: PathBuf,
    /// `allowed_outbound_hosts`, templates expanded.
    pub allowed_outbound_hosts: Vec<OutboundRule>,
    /// `key_value_stores`: the labels of the stores the component may open.
    pub key_value_stores: Vec<String>,
    /// `sqlite_databases`: the labels of the SQLite databases the component may open.
    pub sqlite_databases: Vec<String>,
    /// `environment`, in file order.
    pub environment: Vec<(String, String)>,
    /// The component's variables, templates expanded.
    pub variables: BTreeMap<String, VariableValue>,
    /// `[component.<id>.build]`: how the component is built, when the manifest says.
    pub build: Option<BuildConfig>,
    /// `files`: what the component sees, read-only, of the host's files, in file order.
    pub files: Vec<FileMount>,
    /// `exclude_files`: glob patterns, relative to the manifest's directory, of files kept
    /// out of [`Self::files`] although a mount would take them in.
    pub exclude_files: Vec<String>,
}

/// One entry of a component's `files`, as Spin takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    /// A glob pattern relative to the manifest's directory (`"static/**/*"`): each file it
    /// matches is at the same relative path below the guest's `/`.
    Pattern(String),
    /// `{ source = "dist", destination = "/static" }`: a host directory (its whole tree) or
    /// file, resolved against the manifest's directory, at an absolute guest path.
    Placement {
        /// The host directory or file.
        source: PathBuf,
        /// Where the guest sees it: an absolute path without `.` or `..`.
        destination: String,
    },
}

/// `[component.<id>.build]`, as `spin build` runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildConfig {
    /// The shell command (a list of commands joined with ` && `).
    pub command: String,
    /// Where it runs: `workdir` resolved against the manifest's directory (that directory
    /// without one).
    pub workdir: PathBuf,
    /// `watch`: glob patterns of the files the build reads, relative to `workdir`.
    pub watch: Vec<String>,
    /// `environment`: variables set for the command, in file order.
    pub environment: Vec<(String, String)>,
}

/// The resolved value of a component variable. Its `Debug` never shows a secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct VariableValue {
    pub(super) value: String,
    pub(super) secret: bool,
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
