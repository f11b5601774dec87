//! The manifest's tests, with what they share: whole manifests here, the rules of each item in
//! `items`, where problems are placed in `positions`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::resolve::is_kebab;
use super::*;

mod items;
mod positions;

/// The keys of `[component.<id>]`, as the unknown-key message lists them.
const COMPONENT_KEYS: &[&str] = &[
    "source",
    "description",
    "allowed_outbound_hosts",
    "key_value_stores",
    "sqlite_databases",
    "environment",
    "variables",
    "build",
    "tool",
    "files",
    "exclude_files",
    "allowed_http_hosts",
    "ai_models",
    "dependencies",
    "dependencies_inherit_configuration",
];

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

#[test]
fn build_settings_are_read_and_resolved_against_the_manifest() {
    let app = ok(&with_component(
        "[component.app.build]\ncommand = [\"make wasm\", \"strip\"]\nworkdir = \"guest\"\nwatch = [\"src/**/*.rs\"]\nenvironment = { MODE = \"release\" }\n",
    ));
    let build = app.components["app"].build.clone().expect("a build");
    assert_eq!(build.command, "make wasm && strip");
    assert_eq!(build.workdir, app.dir.join("guest"));
    assert_eq!(build.watch, ["src/**/*.rs"]);
    assert_eq!(
        build.environment,
        [("MODE".to_owned(), "release".to_owned())]
    );
    let app = ok(&with_component(
        "[component.app.build]\ncommand = \"make\"\n",
    ));
    let build = app.components["app"].build.clone().expect("a build");
    assert_eq!((build.workdir, build.watch), (app.dir.clone(), vec![]));
}

#[test]
fn a_build_needs_a_command() {
    assert_problem(
        &with_component("[component.app.build]\nworkdir = \"guest\"\n"),
        "component.app.build",
        "`command` is missing",
    );
    assert_problem(
        &with_component("[component.app.build]\ncommand = \" \"\n"),
        "component.app.build.command",
        "must not be empty",
    );
}

#[test]
fn an_unbuilt_component_loads_only_for_a_build() {
    let dir = TempDir::new();
    let manifest = "spin_manifest_version = 2\n[application]\nname = \"a\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"target/app.wasm\"\n[component.app.build]\ncommand = \"make\"\n";
    let path = dir.file("spin.toml", manifest);
    let err = load(&path, &|_| None).expect_err("the file is missing");
    assert!(err.to_string().contains("build it first: `make`"), "{err}");
    let app = load_unbuilt(&path, &|_| None).expect("loads before the build");
    assert_eq!(app.components["app"].source, dir.0.join("target/app.wasm"));
}
