//! Where problems are: the key path, line and column of unknown keys, wrong types and
//! missing values.

use super::*;

/// The problems of `manifest`, with their positions.
fn placed(manifest: &str) -> Vec<ManifestProblem> {
    match load_with(manifest, &[], &[]).1 {
        Ok(app) => panic!("expected problems, loaded {app:?}"),
        Err(e) => e.problems,
    }
}

/// `(key, line, column)` of each problem.
fn positions(found: &[ManifestProblem]) -> Vec<(&str, Option<usize>, Option<usize>)> {
    found
        .iter()
        .map(|p| (p.key.as_str(), p.line, p.column))
        .collect()
}

#[test]
fn unknown_keys_have_their_line_and_column() {
    // `with_component` puts its argument on line 12.
    let found = placed(&with_component(
        "  sorce = \"x\"\nexecutor = 1\n[component.app.build]\ncomand = \"make\"",
    ));
    assert_eq!(
        positions(&found),
        [
            ("component.app.sorce", Some(12), Some(3)),
            ("component.app.executor", Some(13), Some(1)),
            ("component.app.build.comand", Some(15), Some(1)),
        ]
    );
    assert!(
        found[0]
            .message
            .starts_with("unknown key (expected one of source, description,"),
        "{found:?}"
    );
    assert_eq!(
        found[2].message,
        "unknown key (expected one of command, workdir, watch, environment)"
    );
    // In an inline table, at the key.
    let found = placed(&with_triggers(
        "[[trigger.http]]\nroute = { private = true, public = false }\ncomponent = \"app\"\n",
    ));
    assert_eq!(
        positions(&found),
        [("trigger.http[0].route.public", Some(5), Some(27))]
    );
    assert_eq!(found[0].message, "unknown key (expected one of private)");
}

#[test]
fn wrong_types_have_their_key_and_position() {
    let found = placed(&with_triggers(
        "[[trigger.http]]\nroute = 5\ncomponent = \"app\"\n",
    ));
    assert_eq!(
        positions(&found),
        [("trigger.http[0].route", Some(5), Some(9))]
    );
    assert_eq!(
        found[0].message,
        "expected a route string or { private = true }, found an integer"
    );
    // Deep in a component: the value itself.
    let found = placed(&with_component("environment = { A = \"1\", B = 2 }"));
    assert_eq!(
        positions(&found),
        [("component.app.environment.B", Some(12), Some(30))]
    );
    let found = placed(&with_component(
        "allowed_outbound_hosts = [\"https://a.test\", true]",
    ));
    assert_eq!(
        positions(&found),
        [(
            "component.app.allowed_outbound_hosts[1]",
            Some(12),
            Some(45)
        )]
    );
    assert_eq!(found[0].message, "expected a string, found a boolean");
    let found = placed(&with_component(
        "[component.app.build]\ncommand = [\"a\", 2]",
    ));
    assert_eq!(
        positions(&found),
        [("component.app.build.command[1]", Some(13), Some(17))]
    );
    assert_eq!(found[0].message, "expected a string, found an integer");
}

#[test]
fn missing_values_are_placed_at_their_table() {
    let found = placed(&with_component("").replace("source = \"app.wasm\"", "description = \"x\""));
    assert_eq!(
        positions(&found),
        [("component.app.source", Some(10), Some(1))]
    );
    assert_eq!(
        found[0].message,
        "missing: the path of the component's .wasm file"
    );
    let found = placed(&with_triggers("[[trigger.http]]\nroute = \"/\"\n"));
    assert_eq!(
        positions(&found),
        [("trigger.http[0].component", Some(4), Some(1))]
    );
    // A table that is not there has no position.
    let found = placed(
        "spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n",
    );
    assert_eq!(positions(&found), [("application", None, None)]);
}

#[test]
fn a_wrong_item_does_not_hide_the_others() {
    let manifest = with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n")
        .replace("name = \"t\"", "name = \"t\"\nnmae = 1")
        .replace(
            "[component.app]\nsource = \"app.wasm\"",
            "[component.app]\nsource = 5",
        )
        + "environment = 5\n";
    let found = placed(&manifest);
    assert_eq!(
        positions(&found),
        [
            ("application.nmae", Some(4), Some(1)),
            ("component.app.source", Some(10), Some(10)),
            ("component.other.environment", Some(13), Some(15)),
        ],
        "{found:#?}"
    );
    assert_eq!(
        found[1].message,
        "expected the path of a .wasm file, found an integer"
    );
    assert_eq!(found[2].message, "expected a table, found an integer");
}

#[test]
fn the_alternate_form_shows_positions() {
    let (dir, result) = load_with(&with_component("sorce = 1"), &[], &[]);
    let err = result.expect_err("problems");
    let file = dir.0.join("spin.toml").display().to_string();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "{file}:12:1: `component.app.sorce`: unknown key (expected one of {})",
            COMPONENT_KEYS.join(", ")
        )
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{file}: `component.app.sorce`: unknown key (expected one of {})",
            COMPONENT_KEYS.join(", ")
        )
    );
    // A syntax error too.
    let found = placed("spin_manifest_version = 2\n[application]\nname = \"t\n");
    assert_eq!(positions(&found), [("", Some(3), Some(10))]);
}
