//! A component's `files`: the host files it sees, read-only, as `spin up` gives them.
//!
//! The files are staged, as Spin stages them, in a directory of their own that the guest
//! sees as `/`: each file a glob pattern matches at its path relative to the manifest's
//! directory, each `{ source, destination }` at its destination, less what `exclude_files`
//! matches. Files are hard-linked into it where the file system allows (instant, no copy;
//! a file replaced on the host keeps its staged content until the next load), copied
//! otherwise. The guest then reaches the staged tree alone: symbolic links are resolved
//! while staging (the guest sees regular files), and `wasi:filesystem` keeps every path
//! inside the tree, read-only. The directory is removed when the last runtime using it is
//! dropped (after an `--watch` reload has drained the old application, say).

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::spin::manifest::{ComponentManifest, FileMount};
use crate::spin::watch::literal_prefix;
use crate::{GuestDir, LoadError};

/// The directories `component` sees (none without `files`), staged now.
pub(crate) fn guest_dirs(
    app_dir: &Path,
    component: &ComponentManifest,
) -> Result<Vec<GuestDir>, LoadError> {
    if component.files.is_empty() {
        return Ok(Vec::new());
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!("edge-host-files-{}-", component.id))
        .tempdir()
        .map_err(|e| refused(&std::env::temp_dir(), "/", &e))?;
    let mut stage = Stage {
        app_dir,
        root: staging.path(),
        exclude: globs(&component.exclude_files),
    };
    for mount in &component.files {
        match mount {
            FileMount::Pattern(pattern) => stage.pattern(pattern)?,
            FileMount::Placement {
                source,
                destination,
            } => stage.placement(source, destination)?,
        }
    }
    Ok(vec![GuestDir::staged(staging, "/")])
}

/// The patterns as one set (the manifest checked each of them).
fn globs(patterns: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            set.add(glob);
        }
    }
    set.build().unwrap_or_else(|_| GlobSet::empty())
}

fn refused(host: &Path, guest: &str, e: &std::io::Error) -> LoadError {
    LoadError::Dir {
        host: host.to_owned(),
        guest: guest.to_owned(),
        reason: format!("cannot stage it for the component: {e}"),
    }
}

/// A staging directory being filled.
struct Stage<'a> {
    app_dir: &'a Path,
    root: &'a Path,
    exclude: GlobSet,
}

impl Stage<'_> {
    /// The files `pattern` matches, at their paths relative to the manifest's directory.
    fn pattern(&mut self, pattern: &str) -> Result<(), LoadError> {
        let Ok(glob) = Glob::new(pattern) else {
            return Ok(());
        };
        let matcher = glob.compile_matcher();
        let start = self.app_dir.join(literal_prefix(pattern));
        let mut found = Vec::new();
        walk(&start, &mut found);
        for file in found {
            let Ok(relative) = file.strip_prefix(self.app_dir) else {
                continue;
            };
            if matcher.is_match(relative) && !self.exclude.is_match(relative) {
                self.place(&file, relative)?;
            }
        }
        Ok(())
    }

    /// `source` (a directory's whole tree, or a file) at `destination`.
    fn placement(&mut self, source: &Path, destination: &str) -> Result<(), LoadError> {
        let guest = Path::new(destination.trim_start_matches('/'));
        let meta = std::fs::metadata(source).map_err(|e| refused(source, destination, &e))?;
        if !meta.is_dir() {
            return self.place_unless_excluded(source, guest);
        }
        let target = self.root.join(guest);
        std::fs::create_dir_all(&target).map_err(|e| refused(source, destination, &e))?;
        let mut found = Vec::new();
        walk(source, &mut found);
        for file in found {
            let Ok(relative) = file.strip_prefix(source) else {
                continue;
            };
            self.place_unless_excluded(&file, &guest.join(relative))?;
        }
        Ok(())
    }

    /// Places `file` at `guest` unless `exclude_files` matches its path relative to the
    /// manifest's directory (a file outside that directory is never excluded).
    fn place_unless_excluded(&mut self, file: &Path, guest: &Path) -> Result<(), LoadError> {
        let excluded = file
            .strip_prefix(self.app_dir)
            .is_ok_and(|relative| self.exclude.is_match(relative));
        if excluded {
            return Ok(());
        }
        self.place(file, guest)
    }

    /// Links (else copies) the regular file `file` resolves to at `guest` (relative to the
    /// staging root), replacing what an earlier mount put there.
    fn place(&mut self, file: &Path, guest: &Path) -> Result<(), LoadError> {
        let shown = format!("/{}", guest.display());
        let fail = |e: std::io::Error| refused(file, &shown, &e);
        let real = std::fs::canonicalize(file).map_err(fail)?;
        if !std::fs::metadata(&real).map_err(fail)?.is_file() {
            return Ok(());
        }
        let target = self.root.join(guest);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        if std::fs::symlink_metadata(&target).is_ok() {
            std::fs::remove_file(&target).map_err(fail)?;
        }
        if std::fs::hard_link(&real, &target).is_err() {
            std::fs::copy(&real, &target).map_err(fail)?;
        }
        Ok(())
    }
}

/// The files below `path` (or `path` itself), symbolic links to files included; links to
/// directories are not followed (they could loop).
fn walk(path: &Path, found: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
        entries.sort();
        for entry in entries {
            walk(&entry, found);
        }
    } else if meta.is_file() || std::fs::metadata(path).is_ok_and(|meta| meta.is_file()) {
        found.push(path.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(files: Vec<FileMount>, exclude_files: &[&str]) -> ComponentManifest {
        ComponentManifest {
            id: "site".to_owned(),
            source: PathBuf::from("site.wasm"),
            allowed_outbound_hosts: Vec::new(),
            key_value_stores: Vec::new(),
            sqlite_databases: Vec::new(),
            environment: Vec::new(),
            variables: Default::default(),
            build: None,
            files,
            exclude_files: exclude_files.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// The files of the staged tree, relative to it, with their contents.
    fn staged(dirs: &[GuestDir]) -> Vec<(String, String)> {
        let [dir] = dirs else {
            panic!("one staged directory expected, got {}", dirs.len());
        };
        assert_eq!(dir.guest(), "/");
        let mut files = Vec::new();
        walk(dir.host(), &mut files);
        files
            .into_iter()
            .map(|file| {
                let text = std::fs::read_to_string(&file).expect("read");
                let relative = file.strip_prefix(dir.host()).expect("inside");
                (relative.display().to_string(), text)
            })
            .collect()
    }

    fn app() -> tempfile::TempDir {
        let app = tempfile::tempdir().expect("tempdir");
        write(&app.path().join("static/index.html"), "<h1>hi</h1>");
        write(&app.path().join("static/css/site.css"), "body{}");
        write(&app.path().join("static/secret.key"), "k");
        write(&app.path().join("notes.txt"), "notes");
        app
    }

    #[test]
    fn no_files_no_directory() {
        let app = app();
        let dirs = guest_dirs(app.path(), &component(Vec::new(), &[])).expect("staged");
        assert!(dirs.is_empty());
    }

    #[test]
    fn patterns_keep_their_relative_paths_less_the_excluded() {
        let app = app();
        let files = vec![
            FileMount::Pattern("static/**/*".to_owned()),
            FileMount::Pattern("notes.txt".to_owned()),
        ];
        let dirs = guest_dirs(app.path(), &component(files, &["**/*.key"])).expect("staged");
        assert_eq!(
            staged(&dirs),
            [
                ("notes.txt".to_owned(), "notes".to_owned()),
                ("static/css/site.css".to_owned(), "body{}".to_owned()),
                ("static/index.html".to_owned(), "<h1>hi</h1>".to_owned()),
            ]
        );
    }

    #[test]
    fn placements_put_a_tree_or_a_file_at_their_destination() {
        let app = app();
        let files = vec![
            FileMount::Placement {
                source: app.path().join("static"),
                destination: "/assets".to_owned(),
            },
            FileMount::Placement {
                source: app.path().join("notes.txt"),
                destination: "/etc/notes".to_owned(),
            },
        ];
        let dirs =
            guest_dirs(app.path(), &component(files, &["static/secret.key"])).expect("staged");
        assert_eq!(
            staged(&dirs),
            [
                ("assets/css/site.css".to_owned(), "body{}".to_owned()),
                ("assets/index.html".to_owned(), "<h1>hi</h1>".to_owned()),
                ("etc/notes".to_owned(), "notes".to_owned()),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_staged_as_the_file_it_names() {
        let app = app();
        let outside = tempfile::tempdir().expect("tempdir");
        write(&outside.path().join("shared.txt"), "shared");
        std::os::unix::fs::symlink(
            outside.path().join("shared.txt"),
            app.path().join("static/shared.txt"),
        )
        .expect("symlink");
        let files = vec![FileMount::Pattern("static/*.txt".to_owned())];
        let dirs = guest_dirs(app.path(), &component(files, &[])).expect("staged");
        assert_eq!(
            staged(&dirs),
            [("static/shared.txt".to_owned(), "shared".to_owned())]
        );
        let [dir] = &dirs[..] else { unreachable!() };
        let meta = std::fs::symlink_metadata(dir.host().join("static/shared.txt")).expect("meta");
        assert!(meta.is_file(), "staged as a regular file, not a link");
    }

    #[test]
    fn the_staging_directory_goes_with_its_last_user() {
        let app = app();
        let files = vec![FileMount::Pattern("notes.txt".to_owned())];
        let dirs = guest_dirs(app.path(), &component(files, &[])).expect("staged");
        let host = dirs[0].host().to_owned();
        let clone = dirs[0].clone();
        drop(dirs);
        assert!(host.exists(), "a clone still holds it");
        drop(clone);
        assert!(!host.exists());
    }

    #[test]
    fn a_missing_source_is_a_load_error() {
        let app = app();
        let files = vec![FileMount::Placement {
            source: app.path().join("nope"),
            destination: "/x".to_owned(),
        }];
        let err = guest_dirs(app.path(), &component(files, &[])).expect_err("refused");
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
