//! `edge-host build`: runs each component's `[component.<id>.build]` command, as `spin build`
//! does (with `sh -c`, in its `workdir`, with its `environment`), and checks that the
//! component file is there afterwards.
//!
//! A command that builds for `wasm32-wasip2` gets the wasm toolchain this machine has: the
//! rustup target where it is installed, Debian's offline toolchain otherwise (installed when
//! missing and possible). The choice is made by `scripts/build-guest`, the one place that
//! knows it, compiled into this binary and run as `build-guest --exec COMMAND`; a crate
//! outside this repository therefore builds as this repository's do.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use super::manifest::{AppManifest, BuildConfig};

/// The toolchain chooser, `scripts/build-guest`, as this binary was built with it.
const BUILD_GUEST: &str = include_str!("../../../scripts/build-guest");

/// Where the output of the build commands goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildOutput {
    /// To this process's stdout and stderr, as it comes (the CLI).
    Inherit,
    /// Kept, and returned in [`BuildError::Failed`] (tests).
    Capture,
}

/// What a build did for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    /// Its command ran and its file is there.
    Built {
        /// The component id.
        component: String,
        /// Its `.wasm` file.
        source: PathBuf,
    },
    /// The manifest gives it no build command.
    NoCommand {
        /// The component id.
        component: String,
    },
}

/// A build that did not produce a component.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The command could not be started.
    #[error("component `{component}`: cannot run its build command `{command}`: {source}")]
    Spawn {
        /// The component id.
        component: String,
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command failed.
    #[error(
        "component `{component}`: its build command `{command}` failed ({status}){}",
        tail(output)
    )]
    Failed {
        /// The component id.
        component: String,
        /// The command.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// Its stdout and stderr when captured ([`BuildOutput::Capture`]), else empty.
        output: String,
    },
    /// The command succeeded but the component file is not where the manifest says.
    #[error(
        "component `{component}`: its build command `{command}` succeeded but {} does not exist (does `source` name what the command builds?)",
        path.display()
    )]
    Missing {
        /// The component id.
        component: String,
        /// The command.
        command: String,
        /// The `source` the manifest gives.
        path: PathBuf,
    },
}

impl BuildError {
    /// The component whose build failed.
    pub fn component(&self) -> &str {
        match self {
            Self::Spawn { component, .. }
            | Self::Failed { component, .. }
            | Self::Missing { component, .. } => component,
        }
    }
}

/// The last lines of a captured output, for an error message.
fn tail(output: &str) -> String {
    const LINES: usize = 40;
    if output.trim().is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = output.trim_end().lines().collect();
    let start = lines.len().saturating_sub(LINES);
    format!(":\n{}", lines[start..].join("\n"))
}

/// Builds every component of `manifest` that has a build command, in id order, stopping at
/// the first failure.
pub fn build_app(manifest: &AppManifest, output: BuildOutput) -> Result<Vec<Built>, BuildError> {
    let mut built = Vec::with_capacity(manifest.components.len());
    for (id, component) in &manifest.components {
        match &component.build {
            None => built.push(Built::NoCommand {
                component: id.clone(),
            }),
            Some(build) => {
                run(id, build, output)?;
                if !component.source.is_file() {
                    return Err(BuildError::Missing {
                        component: id.clone(),
                        command: build.command.clone(),
                        path: component.source.clone(),
                    });
                }
                built.push(Built::Built {
                    component: id.clone(),
                    source: component.source.clone(),
                });
            }
        }
    }
    Ok(built)
}

/// Runs one build command through `build-guest --exec`.
fn run(component: &str, build: &BuildConfig, output: BuildOutput) -> Result<(), BuildError> {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(BUILD_GUEST)
        .arg("build-guest")
        .arg("--exec")
        .arg(&build.command)
        .current_dir(&build.workdir)
        .envs(build.environment.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    let spawn_error = |source| BuildError::Spawn {
        component: component.to_owned(),
        command: build.command.clone(),
        source,
    };
    let (status, text) = match output {
        BuildOutput::Inherit => (command.status().map_err(spawn_error)?, String::new()),
        BuildOutput::Capture => {
            let out = command.output().map_err(spawn_error)?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            (out.status, text)
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            component: component.to_owned(),
            command: build.command.clone(),
            status,
            output: text,
        })
    }
}
