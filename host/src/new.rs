//! `edge-host new`: a handler project from the template in `host/templates/new`, compiled
//! into this binary, so that it needs no network and no copy of this repository beyond the
//! toolkit's and the host's sources its dependencies point at.
//!
//! The project is a crate of its own (not part of a workspace above it): the toolkit as a
//! dependency, `edge-host`'s test harness as a dev-dependency, a spin.toml whose build
//! command is the usual `cargo build --target wasm32-wasip2 --release`, a README, and a test
//! that builds the component and drives it through the harness.

use std::path::{Path, PathBuf};

/// The template's files: path in the project, contents.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/new/Cargo.toml")),
    ("build.rs", include_str!("../templates/new/build.rs")),
    ("spin.toml", include_str!("../templates/new/spin.toml")),
    ("README.md", include_str!("../templates/new/README.md")),
    (".gitignore", include_str!("../templates/new/.gitignore")),
    ("src/lib.rs", include_str!("../templates/new/src/lib.rs")),
    (
        "src/component.rs",
        include_str!("../templates/new/src/component.rs"),
    ),
    (
        "tests/http.rs",
        include_str!("../templates/new/tests/http.rs"),
    ),
];

/// Names cargo or Rust keep for themselves.
const RESERVED: &[&str] = &[
    "test",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "self",
    "crate",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The project's name: the package, the application and its component id. Spin's id
    /// syntax: lowercase letters and digits in words joined by `-`, starting with a letter.
    pub name: String,
    /// The directory to create; it must not exist, or be empty.
    pub dir: PathBuf,
    /// The toolkit crate's directory (`handler/toolkit` of this repository).
    pub toolkit: PathBuf,
    /// The host crate's directory (`host` of this repository), for the test harness.
    pub host: PathBuf,
}

/// Why a project was not generated.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name cannot be a package and component id.
    #[error(
        "`{0}` cannot name a project: use lowercase letters and digits in words joined by `-`, starting with a letter (e.g. `my-handler`)"
    )]
    Name(String),
    /// The name is one cargo or Rust keeps.
    #[error("`{0}` is a name cargo or Rust keep for themselves: choose another")]
    Reserved(String),
    /// The directory exists and holds files.
    #[error("{} already exists and is not empty: choose another name or --path", .0.display())]
    Exists(PathBuf),
    /// A dependency's sources are not where they were looked for.
    #[error(
        "the {what} crate is not at {} (no Cargo.toml there): pass its directory with --{flag}",
        path.display()
    )]
    Dependency {
        /// `toolkit` or `host`.
        what: &'static str,
        /// The flag that sets it.
        flag: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where this binary's own sources were: the default for the toolkit and the host.
pub fn default_sources() -> (PathBuf, PathBuf) {
    let host = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let toolkit = host.join("../handler/toolkit");
    (toolkit, host)
}

/// Whether `name` fits a package and a Spin component id.
fn valid_name(name: &str) -> bool {
    crate::spin::manifest::is_kebab(name)
}

/// Generates the project; returns the files written, relative to `project.dir`.
pub fn new_project(project: &NewProject) -> Result<Vec<&'static str>, NewError> {
    let name = project.name.as_str();
    if !valid_name(name) {
        return Err(NewError::Name(name.to_owned()));
    }
    if RESERVED.contains(&name) {
        return Err(NewError::Reserved(name.to_owned()));
    }
    let toolkit = dependency(&project.toolkit, "toolkit", "toolkit")?;
    let host = dependency(&project.host, "host", "host")?;
    let dir = &project.dir;
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| NewError::Write { path, source }
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(NewError::Exists(dir.clone()));
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(write_error(dir)(err)),
    }
    let crate_name = name.replace('-', "_");
    let toml_path = |path: &Path| toml::Value::String(path.display().to_string()).to_string();
    let mut written = Vec::with_capacity(TEMPLATE.len());
    for (file, text) in TEMPLATE {
        let text = text
            .replace("\"__TOOLKIT__\"", &toml_path(&toolkit))
            .replace("\"__HOST__\"", &toml_path(&host))
            .replace("__COMPONENT__", name)
            .replace("__CRATE__", &crate_name)
            .replace("__NAME__", name);
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&path, text).map_err(write_error(&path))?;
        written.push(*file);
    }
    Ok(written)
}

/// A dependency's directory, absolute, once it is known to hold a crate.
fn dependency(path: &Path, what: &'static str, flag: &'static str) -> Result<PathBuf, NewError> {
    let missing = || NewError::Dependency {
        what,
        flag,
        path: path.to_owned(),
    };
    let dir = path.canonicalize().map_err(|_| missing())?;
    if dir.join("Cargo.toml").is_file() {
        Ok(dir)
    } else {
        Err(missing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("edge-host-new-{}-{name}", std::process::id()))
    }

    fn project(name: &str, dir: &Path) -> NewProject {
        let (toolkit, host) = default_sources();
        NewProject {
            name: name.to_owned(),
            dir: dir.to_owned(),
            toolkit,
            host,
        }
    }

    #[test]
    fn writes_every_file_with_the_names_filled_in() {
        let dir = temp("ok");
        let written = new_project(&project("my-handler", &dir)).expect("generated");
        assert_eq!(written.len(), TEMPLATE.len());
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let cargo: toml::Table = cargo.parse().expect("valid TOML");
        assert_eq!(cargo["package"]["name"].as_str(), Some("my-handler"));
        let toolkit = cargo["dependencies"]["edge-toolkit"]["path"]
            .as_str()
            .expect("a path");
        assert!(Path::new(toolkit).join("Cargo.toml").is_file(), "{toolkit}");
        let spin = std::fs::read_to_string(dir.join("spin.toml")).expect("spin.toml");
        assert!(spin.contains("[component.my-handler]"), "{spin}");
        assert!(spin.contains("release/my_handler.wasm"), "{spin}");
        let test = std::fs::read_to_string(dir.join("tests/http.rs")).expect("test");
        assert!(test.contains("my_handler::MAX_NOTE_BYTES"));
        for (file, _) in TEMPLATE {
            let text = std::fs::read_to_string(dir.join(file)).expect("written");
            assert!(!text.contains("__"), "{file} keeps a placeholder");
        }
        // A second time into the same, now full, directory is refused.
        assert!(matches!(
            new_project(&project("my-handler", &dir)),
            Err(NewError::Exists(_))
        ));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn bad_names_and_missing_sources_are_refused() {
        let dir = temp("bad");
        for name in ["My-App", "my_app", "-x", "1app", "", "a--b"] {
            assert!(
                matches!(new_project(&project(name, &dir)), Err(NewError::Name(_))),
                "{name}"
            );
        }
        assert!(matches!(
            new_project(&project("test", &dir)),
            Err(NewError::Reserved(_))
        ));
        let mut missing = project("ok", &dir);
        missing.toolkit = dir.join("nowhere");
        let err = new_project(&missing).expect_err("no toolkit");
        assert!(err.to_string().contains("--toolkit"), "{err}");
        assert!(!dir.exists(), "nothing written");
    }
}
