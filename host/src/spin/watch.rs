//! `edge-host up --watch`: when a file a component's `watch` patterns name (or the manifest)
//! changes, the components are built again and the application is swapped for the new one.
//!
//! The server holds a [`Reloadable`]: each request takes the application current when it
//! arrives and keeps it until it is answered, so requests in flight during a swap finish on
//! the components they started on; the old application (its engine and instances) goes
//! away with the last of them. A build or load that fails is logged and the running
//! application stays. Files are polled (every [`Watcher::interval`]): nothing to install, and
//! it works the same on every file system.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::build::{BuildOutput, build_app};
use super::manifest::{self, AppManifest, FileMount};
use crate::{
    App, AppData, DrainFuture, Handler, HandlerFuture, OutboundConfig, RequestBody, RequestContext,
    RuntimeConfig,
};

/// A handler whose application can be replaced while it serves.
#[derive(Clone, Debug)]
pub struct Reloadable(Arc<RwLock<App>>);

impl Reloadable {
    /// Serves `app` until [`swap`](Self::swap) replaces it.
    pub fn new(app: App) -> Self {
        Self(Arc::new(RwLock::new(app)))
    }

    /// The application new requests go to.
    pub fn current(&self) -> App {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends new requests to `app`; those in flight finish on the one they started on.
    pub fn swap(&self, app: App) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = app;
    }
}

impl Handler for Reloadable {
    fn call(&self, req: http::Request<RequestBody>, ctx: RequestContext) -> HandlerFuture<'_> {
        let app = self.current();
        Box::pin(async move { app.call(req, ctx).await })
    }

    fn drain(&self, within: std::time::Duration) -> DrainFuture<'_> {
        let app = self.current();
        Box::pin(async move { app.drain(within).await })
    }

    fn route(&self, path: &str) -> Option<String> {
        self.current().route(path)
    }

    /// The applications swapped in share their metrics (they share their [`AppData`]).
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.current().register_metrics(registry);
    }

    fn refresh_metrics(&self) {
        self.current().refresh_metrics();
    }
}

/// The files a manifest's `watch` patterns match, with their modification time and size.
type Snapshot = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

/// Directories never walked for `**` patterns.
const SKIPPED_DIRS: &[&str] = &["target", ".git", ".spin", "node_modules"];

/// Looks up environment variables (the manifest's `SPIN_VARIABLE_<NAME>` overrides).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the watch loop needs to build and load the application again.
pub struct Watcher {
    /// The manifest.
    pub manifest: PathBuf,
    /// Environment lookups for the manifest's variables (as `up` resolves them).
    pub env: EnvLookup,
    /// What every component starts from.
    pub defaults: RuntimeConfig,
    /// Outbound HTTP settings.
    pub outbound: OutboundConfig,
    /// The databases the application keeps across swaps.
    pub data: AppData,
    /// How often the files are looked at.
    pub interval: Duration,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("manifest", &self.manifest)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Polls the watched files for ever; on a change (once the files have stopped changing
    /// for one interval), builds and loads the application and swaps it into `target`.
    pub async fn run(self, target: Reloadable) {
        let this = Arc::new(self);
        let mut last = this.snapshot();
        loop {
            tokio::time::sleep(this.interval).await;
            let now = this.snapshot();
            if now == last {
                continue;
            }
            // Let an editor or a `git checkout` finish writing.
            let mut settled = now;
            loop {
                tokio::time::sleep(this.interval).await;
                let again = this.snapshot();
                if again == settled {
                    break;
                }
                settled = again;
            }
            let changed = changed_files(&last, &settled);
            last = settled;
            tracing::info!(files = %changed, "watched files changed: rebuilding");
            let worker = Arc::clone(&this);
            match tokio::task::spawn_blocking(move || worker.rebuild()).await {
                Ok(Ok(app)) => {
                    target.swap(app);
                    tracing::info!("rebuilt: new requests go to the new components");
                }
                Ok(Err(err)) => {
                    tracing::error!("rebuild failed, the running components stay: {err:#}");
                }
                Err(err) => tracing::error!("the rebuild task failed: {err}"),
            }
        }
    }

    /// Builds the components and loads the application from the manifest as it is now.
    pub fn rebuild(&self) -> Result<App, RebuildError> {
        let unbuilt = manifest::load_unbuilt(&self.manifest, &*self.env)?;
        build_app(&unbuilt, BuildOutput::Inherit)?;
        let manifest = manifest::load(&self.manifest, &*self.env)?;
        Ok(App::load(
            &manifest,
            &self.defaults,
            &self.outbound,
            &self.data,
        )?)
    }

    /// The watched files now; the manifest alone when it cannot be read.
    fn snapshot(&self) -> Snapshot {
        let mut files = Snapshot::new();
        stamp(&self.manifest, &mut files);
        if let Ok(manifest) = manifest::load_unbuilt(&self.manifest, &*self.env) {
            for (path, stamp) in watched_files(&manifest) {
                files.insert(path, stamp);
            }
        }
        files
    }
}

/// Why a rebuild did not give an application.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The manifest is wrong now.
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// A build command failed.
    #[error(transparent)]
    Build(#[from] super::BuildError),
    /// A component did not load.
    #[error(transparent)]
    Load(#[from] crate::LoadError),
}

/// The files of every component's `watch` patterns, relative to its `workdir`, and of its
/// `files` (a changed asset is staged again with the reload).
pub fn watched_files(manifest: &AppManifest) -> Snapshot {
    let mut files = Snapshot::new();
    for component in manifest.components.values() {
        for mount in &component.files {
            match mount {
                FileMount::Pattern(pattern) => watch_pattern(&manifest.dir, pattern, &mut files),
                FileMount::Placement { source, .. } => {
                    watch_pattern(source, "**", &mut files);
                    stamp(source, &mut files);
                }
            }
        }
        if let Some(build) = &component.build {
            for pattern in &build.watch {
                watch_pattern(&build.workdir, pattern, &mut files);
            }
        }
    }
    files
}

/// Adds the files below `root` that `pattern` matches.
fn watch_pattern(root: &Path, pattern: &str, files: &mut Snapshot) {
    let Ok(glob) = Glob::new(pattern) else {
        tracing::warn!(pattern = %pattern, "not a glob pattern: ignored");
        return;
    };
    let mut set = GlobSetBuilder::new();
    set.add(glob);
    let Ok(set) = set.build() else { return };
    let start = root.join(literal_prefix(pattern));
    walk(root, &start, &start, &set, files);
}

/// The directories of `pattern` before its first one with a glob character.
pub(crate) fn literal_prefix(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    let mut parts = pattern.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.contains(['*', '?', '[', '{']) || parts.peek().is_none() {
            break;
        }
        base.push(part);
    }
    base
}

/// Adds the files under `path` (or `path` itself) that `set` matches, relative to `root`;
/// the [`SKIPPED_DIRS`] below `start` are not entered.
fn walk(root: &Path, start: &Path, path: &Path, set: &GlobSet, files: &mut Snapshot) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let skipped = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| SKIPPED_DIRS.contains(&name));
        if skipped && path != start {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            walk(root, start, &entry.path(), set, files);
        }
    } else if meta.is_file()
        && let Ok(relative) = path.strip_prefix(root)
        && set.is_match(relative)
    {
        files.insert(path.to_owned(), (meta.modified().ok(), meta.len()));
    }
}

fn stamp(path: &Path, files: &mut Snapshot) {
    if let Ok(meta) = std::fs::metadata(path) {
        files.insert(path.to_owned(), (meta.modified().ok(), meta.len()));
    }
}

/// The files that differ between two snapshots, for the log line.
fn changed_files(before: &Snapshot, after: &Snapshot) -> String {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path.display().to_string())
        .chain(
            before
                .keys()
                .filter(|path| !after.contains_key(*path))
                .map(|path| path.display().to_string()),
        )
        .collect();
    changed.sort();
    changed.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_prefix_is_where_the_walk_starts() {
        assert_eq!(literal_prefix("src/**/*.rs"), Path::new("src"));
        assert_eq!(literal_prefix("Cargo.toml"), Path::new(""));
        assert_eq!(literal_prefix("a/b/c.txt"), Path::new("a/b"));
        assert_eq!(literal_prefix("**/*.rs"), Path::new(""));
        assert_eq!(literal_prefix("crates/{a,b}/src/*.rs"), Path::new("crates"));
    }

    #[test]
    fn watched_files_follow_the_patterns_and_skip_build_output() {
        let dir = std::env::temp_dir().join(format!("edge-host-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for file in [
            "src/lib.rs",
            "src/deep/mod.rs",
            "src/notes.txt",
            "Cargo.toml",
            "target/src/gen.rs",
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
            std::fs::write(&path, "x").expect("written");
        }
        std::fs::write(dir.join("app.wasm"), "\0asm").expect("written");
        let manifest = "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n[component.app.build]\ncommand = \"true\"\nwatch = [\"src/**/*.rs\", \"Cargo.toml\", \"**/gen.rs\"]\n";
        std::fs::write(dir.join("spin.toml"), manifest).expect("written");
        let app = manifest::load(&dir.join("spin.toml"), &|_| None).expect("loads");
        let files: Vec<PathBuf> = watched_files(&app).into_keys().collect();
        let expected: Vec<PathBuf> = ["Cargo.toml", "src/deep/mod.rs", "src/lib.rs"]
            .iter()
            .map(|file| dir.join(file))
            .collect();
        assert_eq!(files, expected);
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn a_components_files_are_watched() {
        let dir =
            std::env::temp_dir().join(format!("edge-host-watch-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for file in ["static/a.css", "static/b.txt", "site/index.html"] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
            std::fs::write(&path, "x").expect("written");
        }
        std::fs::write(dir.join("app.wasm"), "\0asm").expect("written");
        let manifest = "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\nfiles = [\"static/*.css\", { source = \"site\", destination = \"/www\" }]\n";
        std::fs::write(dir.join("spin.toml"), manifest).expect("written");
        let app = manifest::load(&dir.join("spin.toml"), &|_| None).expect("loads");
        let files: Vec<PathBuf> = watched_files(&app).into_keys().collect();
        let expected: Vec<PathBuf> = ["site", "site/index.html", "static/a.css"]
            .iter()
            .map(|file| dir.join(file))
            .collect();
        assert_eq!(files, expected);
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }
}
