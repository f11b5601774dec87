//! The rules of each item: the base and routes, variables and templates, outbound hosts,
//! triggers, components and the Spin features edge-host refuses.

use super::*;

#[test]
fn routes_are_prefixed_with_the_base() {
    let manifest = with_triggers(
        "[application.trigger.http]\nbase = \"/base/\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/users/:id\"\ncomponent = \"other\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"other\"\n",
    );
    let app = ok(&manifest);
    assert_eq!(app.base, "/base");
    let routes: Vec<(String, &str)> = app
        .routes
        .iter()
        .map(|r| {
            let route = match &r.route {
                Route::Pattern(p) => p.as_str().to_owned(),
                Route::Private => "private".to_owned(),
            };
            (route, r.component.as_str())
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("/base/...".to_owned(), "app"),
            ("/base/users/:id".to_owned(), "other"),
            ("private".to_owned(), "other"),
        ]
    );
    assert_problem(
        &manifest.replace("base = \"/base/\"", "base = \"/base/...\""),
        "application.trigger.http.base",
        "cannot end in `/...`",
    );
    assert_problem(
        &manifest.replace("base = \"/base/\"", "base = \"base\""),
        "application.trigger.http.base",
        "must start with `/`",
    );
    assert_problem(
        &manifest.replace("[application.trigger.http]", "[application.trigger.redis]"),
        "application.trigger.redis",
        "not supported by edge-host",
    );
}

#[test]
fn variables_are_checked_and_resolved() {
    let manifest = |vars: &str| {
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n[variables]\n{vars}\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.app]\nsource = \"app.wasm\"\n"
        )
    };
    assert_problem(
        &manifest("apiKey = { default = \"x\" }"),
        "variables.apiKey",
        "is not a variable name",
    );
    assert_problem(
        &manifest("api__key = { default = \"x\" }"),
        "variables.api__key",
        "is not a variable name",
    );
    assert_problem(
        &manifest("api_key = { default = \"x\", required = true }"),
        "variables.api_key",
        "cannot both be set",
    );
    assert_problem(
        &manifest("api_key = { required = true, secret = true }"),
        "variables.api_key",
        "required, but not set: set the environment variable SPIN_VARIABLE_API_KEY",
    );
    assert_problem(
        &manifest("api_key = \"x\""),
        "variables.api_key",
        "expected a table such as { default = \"...\" }",
    );
    assert_problem(
        &manifest("api_key = { required = \"yes\" }"),
        "variables.api_key.required",
        "expected a boolean",
    );
    // A required variable set in the environment is fine.
    let manifest = manifest("api_key = { required = true, secret = true }").replace(
        "source = \"app.wasm\"",
        "source = \"app.wasm\"\nvariables = { key = \"Bearer {{api_key}}\" }",
    );
    let (_dir, result) = load_with(&manifest, &[], &[("SPIN_VARIABLE_API_KEY", "k3y")]);
    let app = result.unwrap_or_else(|e| panic!("{e}"));
    let key = &app.components["app"].variables["key"];
    assert_eq!((key.value(), key.is_secret()), ("Bearer k3y", true));
    assert_eq!(format!("{key:?}"), "<secret>");
}

#[test]
fn component_variables_and_hosts_expand_templates() {
    let app = ok(&with_component(
        "allowed_outbound_hosts = [\"https://{{host}}\", \"http://{{ host }}:8080\"]\nvariables = { url = \"https://{{ host }}/x?t={{ token }}\", plain = \"literal }} text\" }",
    ));
    let component = &app.components["app"];
    let hosts: Vec<String> = component
        .allowed_outbound_hosts
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(hosts, ["https://example.com", "http://example.com:8080"]);
    let url = &component.variables["url"];
    assert_eq!(
        (url.value(), url.is_secret()),
        ("https://example.com/x?t=s3cr3t", true)
    );
    let plain = &component.variables["plain"];
    assert_eq!(
        (plain.value(), plain.is_secret()),
        ("literal }} text", false)
    );
    assert_problem(
        &with_component("variables = { x = \"{{ nope }}\" }"),
        "component.app.variables.x",
        "refers to the variable `nope`, which is not declared in [variables]",
    );
    assert_problem(
        &with_component("variables = { x = \"{{ host \" }"),
        "component.app.variables.x",
        "unclosed `{{`",
    );
    assert_problem(
        &with_component("variables = { x = \"{{ Host }}\" }"),
        "component.app.variables.x",
        "is not a variable reference",
    );
    assert_problem(
        &with_component("variables = { Greeting = \"x\" }"),
        "component.app.variables.Greeting",
        "is not a variable name",
    );
    assert_problem(
        &with_component("variables = { x = 1 }"),
        "component.app.variables.x",
        "expected a string, found an integer",
    );
    assert_problem(
        &with_component("allowed_outbound_hosts = [\"https://{{ nope }}\"]"),
        "component.app.allowed_outbound_hosts[0]",
        "not declared",
    );
    // A variable with neither default nor value cannot be used.
    let manifest = with_component("variables = { x = \"{{ later }}\" }")
        .replace("[variables]\n", "[variables]\nlater = { secret = true }\n");
    assert_problem(
        &manifest,
        "component.app.variables.x",
        "`later` has no value: give it a `default` in [variables] or set the environment variable SPIN_VARIABLE_LATER",
    );
}

#[test]
fn outbound_hosts_must_parse() {
    assert_problem(
        &with_component("allowed_outbound_hosts = [\"https://ok.example.com\", \"example.com\"]"),
        "component.app.allowed_outbound_hosts[1]",
        "invalid outbound host `example.com`: no scheme",
    );
    assert_problem(
        &with_component("allowed_outbound_hosts = [1]"),
        "component.app.allowed_outbound_hosts[0]",
        "expected a string",
    );
    // An invalid host made from a secret is reported without its value.
    let found = problems(&with_component(
        "allowed_outbound_hosts = [\"{{ token }}\"]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "component.app.allowed_outbound_hosts[0]");
    assert!(!found[0].1.contains("s3cr3t"), "{found:?}");
    // A valid one is shown as its template.
    let app = ok(&with_component(
        "allowed_outbound_hosts = [\"https://{{ token }}.example.com\"]",
    ));
    let rule = &app.components["app"].allowed_outbound_hosts[0];
    assert!(rule.allows("https", "s3cr3t.example.com", 443));
    let shown = format!("{app:?} {rule}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("{{ token }}"), "{shown}");
}

#[test]
fn triggers_must_be_http_with_a_route_and_a_known_component() {
    assert_problem(&with_triggers(""), "trigger.http", "missing");
    assert_problem(
        &with_triggers("[trigger]\nhttp = []\n"),
        "trigger.http",
        "missing",
    );
    let found = problems(&with_triggers(
        "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"app\"\n",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "trigger.redis");
    assert!(
        found[0].1.contains("not supported by edge-host"),
        "{found:?}"
    );
    let trigger = |extra: &str| {
        with_triggers(&format!(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n{extra}"
        ))
    };
    assert_problem(
        &trigger("executor = { type = \"wagi\" }"),
        "trigger.http[0].executor.type",
        "Wagi executor is not supported",
    );
    assert_problem(
        &trigger("executor = { type = \"cgi\" }"),
        "trigger.http[0].executor.type",
        "unknown executor type `cgi`",
    );
    assert_problem(
        &trigger("executor = { type = \"spin\", argv = \"x\" }"),
        "trigger.http[0].executor.argv",
        "unknown key",
    );
    ok(&trigger("executor = { type = \"spin\" }\nid = \"main\""));
    ok(&trigger("executor = { type = \"http\" }"));
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = \"ghost\"\n"),
        "trigger.http[0].component",
        "no component `ghost`: there is no [component.ghost] table (components: app, other)",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = \"/\"\ncomponent = { source = \"app.wasm\" }\n"),
        "trigger.http[0].component",
        "inline components are not supported",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\ncomponent = \"app\"\n"),
        "trigger.http[0].route",
        "missing",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = \"/\"\n"),
        "trigger.http[0].component",
        "missing",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = \"/.../x\"\ncomponent = \"app\"\n"),
        "trigger.http[0].route",
        "invalid route `/.../x`: `...` may only be the last segment",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = { private = false }\ncomponent = \"app\"\n"),
        "trigger.http[0].route.private",
        "must be true",
    );
    assert_problem(
        &with_triggers("[[trigger.http]]\nroute = 1\ncomponent = \"app\"\n"),
        "trigger.http[0].route",
        "expected a route string or { private = true }, found an integer",
    );
    assert_problem(
        &with_triggers("[trigger.http]\nroute = \"/\"\ncomponent = \"app\"\n"),
        "trigger.http",
        "expected an array of tables ([[trigger.http]]), found a table",
    );
}

#[test]
fn duplicate_routes_name_both_components() {
    let found = problems(&with_triggers(
        "[[trigger.http]]\nroute = \"/foo\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/bar\"\ncomponent = \"app\"\n[[trigger.http]]\nroute = \"/foo/\"\ncomponent = \"other\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"app\"\n[[trigger.http]]\nroute = { private = true }\ncomponent = \"other\"\n",
    ));
    assert_eq!(
        found,
        [(
            "trigger.http[2].route".to_owned(),
            "duplicate route `/foo`: trigger.http[0] already routes it to component `app` (this trigger: component `other`)".to_owned()
        )]
    );
}

#[test]
fn component_ids_sources_and_fields_are_checked() {
    assert_problem(
        &with_triggers(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\n[component.My_App]\nsource = \"app.wasm\"\n",
        ),
        "component.My_App",
        "is not a component id",
    );
    let found = problems(&with_component("").replace(
        "source = \"app.wasm\"",
        "source = \"missing.wasm\"\nbuild = { command = \"make\" }",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "component.app.source");
    assert!(
        found[0].1.starts_with("no such file: ")
            && found[0].1.contains("missing.wasm")
            && found[0].1.ends_with("(build it first: `make`)"),
        "{found:?}"
    );
    assert_problem(
        &with_component("").replace("source = \"app.wasm\"", "source = \".\""),
        "component.app.source",
        "is not a file",
    );
    assert_problem(
        &with_component("").replace(
            "source = \"app.wasm\"",
            "source = { url = \"https://x.test/a.wasm\", digest = \"sha256:00\" }",
        ),
        "component.app.source",
        "remote sources ({ url, digest }) are not supported by edge-host",
    );
    assert_problem(
        &with_component("").replace(
            "source = \"app.wasm\"",
            "source = { package = \"a:b\", version = \"1.0.0\" }",
        ),
        "component.app.source",
        "registry sources are not supported by edge-host",
    );
    assert_problem(
        &with_component("").replace("source = \"app.wasm\"", "description = \"x\""),
        "component.app.source",
        "missing",
    );
    assert_problem(
        &with_component("key_value_stores = [\"default\", \"My Store\"]"),
        "component.app.key_value_stores[1]",
        "is not a store label",
    );
    assert_problem(
        &with_component("sqlite_databases = [\"../etc\"]"),
        "component.app.sqlite_databases[0]",
        "is not a database label",
    );
    assert_problem(
        &with_component("environment = { A = \"1\", B = 2 }"),
        "component.app.environment.B",
        "expected a string, found an integer",
    );
    let app = ok(&with_component(
        "description = \"d\"\nkey_value_stores = [\"default\", \"my-store\", \"other_store\"]\nenvironment = { Z = \"1\", A = \"2\" }\nfiles = []\nsqlite_databases = [\"default\", \"audit-log\"]\ndependencies_inherit_configuration = false\n[component.app.build]\ncommand = [\"a\", \"b\"]\nworkdir = \"x\"\nwatch = [\"src/**\"]\nenvironment = { X = \"1\" }\n[component.app.tool.whatever]\nx = 1",
    ));
    let component = &app.components["app"];
    assert_eq!(
        component.key_value_stores,
        ["default", "my-store", "other_store"]
    );
    assert_eq!(component.sqlite_databases, ["default", "audit-log"]);
    assert_eq!(
        component.environment,
        [
            ("Z".to_owned(), "1".to_owned()),
            ("A".to_owned(), "2".to_owned())
        ]
    );
}

#[test]
fn files_are_patterns_and_placements() {
    let manifest = with_component(
        "files = [\"static/**/*\", { source = \"app.wasm\", destination = \"/app.wasm\" }]\nexclude_files = [\"**/*.key\"]",
    );
    let (dir, app) = load_with(&manifest, &[], &[]);
    let component = &app.expect("loads").components["app"];
    assert_eq!(
        component.files,
        [
            FileMount::Pattern("static/**/*".to_owned()),
            FileMount::Placement {
                source: dir.0.join("app.wasm"),
                destination: "/app.wasm".to_owned(),
            },
        ]
    );
    assert_eq!(component.exclude_files, ["**/*.key"]);
}

#[test]
fn files_are_checked() {
    for (extra, key, text) in [
        (
            "files = \"static\"",
            "component.app.files",
            "expected a list",
        ),
        (
            "files = [\"/etc/passwd\"]",
            "component.app.files[0]",
            "relative",
        ),
        (
            "files = [\"../up/*\"]",
            "component.app.files[0]",
            "without `..`",
        ),
        (
            "files = [\"a/[\"]",
            "component.app.files[0]",
            "not a glob pattern",
        ),
        (
            "files = [\"\"]",
            "component.app.files[0]",
            "must not be empty",
        ),
        ("files = [1]", "component.app.files[0]", "found an integer"),
        (
            "files = [{ source = \"nope\", destination = \"/x\" }]",
            "component.app.files[0]",
            "no such file or directory",
        ),
        (
            "files = [{ source = \"app.wasm\", destination = \"x\" }]",
            "component.app.files[0]",
            "absolute guest path",
        ),
        (
            "files = [{ source = \"app.wasm\", destination = \"/a/../b\" }]",
            "component.app.files[0]",
            "absolute guest path",
        ),
        (
            "files = [{ source = \"app.wasm\" }]",
            "component.app.files[0]",
            "expected { source",
        ),
        (
            "files = [{ source = \"app.wasm\", destination = \"/x\", mode = \"rw\" }]",
            "component.app.files[0]",
            "unknown key `mode`",
        ),
        (
            "exclude_files = [\"/abs\"]",
            "component.app.exclude_files[0]",
            "relative",
        ),
        (
            "exclude_files = \"x\"",
            "component.app.exclude_files",
            "expected a list",
        ),
    ] {
        assert_problem(&with_component(extra), key, text);
    }
}

#[test]
fn unsupported_spin_features_are_errors() {
    for (extra, key) in [
        (
            "allowed_http_hosts = [\"example.com\"]",
            "component.app.allowed_http_hosts",
        ),
        ("ai_models = [\"llama2-chat\"]", "component.app.ai_models"),
        (
            "dependencies = { \"a:b/c\" = \"1.0.0\" }",
            "component.app.dependencies",
        ),
        (
            "dependencies_inherit_configuration = true",
            "component.app.dependencies_inherit_configuration",
        ),
    ] {
        assert_problem(&with_component(extra), key, "not supported by edge-host");
    }
    assert_problem(
        &with_triggers(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\nstatic_response = { status_code = 404 }\n",
        ),
        "trigger.http[0].static_response",
        "not supported by edge-host",
    );
    assert_problem(
        &with_triggers(
            "[[trigger.http]]\nroute = \"/\"\ncomponent = \"app\"\ncomponents = { mw = \"other\" }\n",
        ),
        "trigger.http[0].components",
        "not supported by edge-host",
    );
}
