//! The deployment examples of `deploy/` stay true to the application: the runtime config
//! loads, the SpinApp's variables and stores are the manifest's, the Dockerfile copies what
//! spin.toml names.

use std::path::{Path, PathBuf};

use host::spin::manifest::{self, FileMount, KeyValueStore, VariablesProvider};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(repo().join(path))?)
}

/// The values of `- name: X` lines between the lines `start` and `end` of a YAML text.
fn names_between(yaml: &str, start: &str, end: &str) -> Vec<String> {
    yaml.lines()
        .skip_while(|line| line.trim() != start)
        .take_while(|line| line.trim() != end)
        .filter_map(|line| line.trim().strip_prefix("- name: "))
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn the_runtime_config_of_the_replicas_loads() -> anyhow::Result<()> {
    let config = manifest::load_runtime_config(&repo().join("deploy/runtime-config.toml"))?;
    assert!(matches!(
        config.key_value_stores.get("default"),
        Some(KeyValueStore::Redis { .. })
    ));
    assert!(matches!(
        config.variables.first(),
        Some(VariablesProvider::Env { prefix, .. }) if prefix == "EXAMPLE"
    ));
    let limits = config.rate_limits.expect("rate limits");
    assert!(limits.per_client.is_some() && limits.redis.is_some());
    Ok(())
}

#[test]
fn the_spinapp_names_the_manifests_variables_and_stores() -> anyhow::Result<()> {
    let app = manifest::load_unbuilt(&repo().join("spin.toml"), &|_| None)?;
    let yaml = read("deploy/spinkube/spinapp.yaml")?;
    let variables = names_between(&yaml, "variables:", "runtimeConfig:");
    assert!(!variables.is_empty());
    let declared: Vec<&String> = app
        .components
        .values()
        .flat_map(|component| component.variables.keys())
        .collect();
    for variable in &variables {
        assert!(
            declared.contains(&variable),
            "{variable} is not in spin.toml"
        );
    }
    let stores = names_between(&yaml, "keyValueStores:", "");
    let stores: Vec<_> = stores
        .iter()
        .filter(|name| name.as_str() != "url")
        .collect();
    for store in stores {
        assert!(
            app.components
                .values()
                .any(|component| component.key_value_stores.contains(store)),
            "store {store} is not in spin.toml"
        );
    }
    Ok(())
}

#[test]
fn the_image_holds_what_the_manifest_names() -> anyhow::Result<()> {
    let app = manifest::load_unbuilt(&repo().join("spin.toml"), &|_| None)?;
    let dockerfile = read("deploy/Dockerfile")?;
    let copied = |path: &Path| {
        let relative = path
            .strip_prefix(&app.dir)
            .unwrap_or(path)
            .display()
            .to_string();
        dockerfile
            .lines()
            .any(|line| line.starts_with("COPY") && line.contains(&format!("/app/{relative}")))
    };
    for component in app.components.values() {
        assert!(
            copied(&component.source),
            "{:?} is not copied",
            component.source
        );
        for mount in &component.files {
            if let FileMount::Placement { source, .. } = mount {
                assert!(copied(source), "{source:?} is not copied");
            }
        }
    }
    Ok(())
}
