//! One engine and one pooling allocator per application: its components share the
//! instance slots, and none can starve another.

use host::{OutboundConfig, RuntimeConfig, ServerConfig};

use crate::support::TestServer;
use crate::up::{AppDir, text};

/// One engine and one pooling allocator for the whole application: with an engine per
/// component, each reserving its own address space, pooling was silently lost past about
/// 15 components.
#[tokio::test]
async fn an_application_of_twenty_components_shares_one_pooling_engine() -> anyhow::Result<()> {
    let mut manifest =
        String::from("spin_manifest_version = 2\n\n[application]\nname = \"twenty\"\n");
    for i in 0..20 {
        manifest.push_str(&format!(
            "\n[[trigger.http]]\nroute = \"/c{i}/...\"\ncomponent = \"c{i}\"\n\n\
             [component.c{i}]\nsource = \"fixtures.wasm\"\nenvironment = {{ NAME = \"c{i}\" }}\n"
        ));
    }
    let dir = AppDir::fixtures(&manifest)?;
    let defaults = RuntimeConfig {
        cache_dir: Some(dir.root.join("code-cache")),
        ..RuntimeConfig::default()
    };
    let loaded = dir.load(&[], defaults, OutboundConfig::default())?;
    assert_eq!(loaded.app.routes().len(), 20);
    let engine = loaded.app.engine();
    assert!(engine.is_pooling(), "{engine:?}");
    let server = TestServer::serve(loaded.app, ServerConfig::default()).await?;
    for i in 0..20 {
        let res = server.get(&format!("/c{i}/env/NAME")).await?;
        assert_eq!(res.status(), 200, "{}", text(&res));
        assert_eq!(text(&res), format!("c{i}"));
    }
    server.shutdown().await?;
    Ok(())
}

/// Components share the application's pool of instance slots; with instance reuse, the
/// idle instances of one component give their slots up when another needs one, instead of
/// starving it with 503s.
#[tokio::test]
async fn idle_instances_of_one_component_never_starve_another() -> anyhow::Result<()> {
    let manifest = r#"
spin_manifest_version = 2

[application]
name = "shared-pool"

[[trigger.http]]
route = "/a/..."
component = "a"

[[trigger.http]]
route = "/b/..."
component = "b"

[component.a]
source = "fixtures.wasm"

[component.b]
source = "fixtures.wasm"
"#;
    let dir = AppDir::fixtures(manifest)?;
    let defaults = RuntimeConfig {
        max_instances: 1,
        instance_reuse: 100,
        ..RuntimeConfig::default()
    };
    let loaded = dir.load(&[], defaults, OutboundConfig::default())?;
    let server = TestServer::serve(loaded.app, ServerConfig::default()).await?;
    // Each request leaves its instance idle, holding the only slot.
    for path in ["/a/count", "/b/count", "/a/count", "/b/count"] {
        let res = server.get(path).await?;
        assert_eq!(res.status(), 200, "{path}: {}", text(&res));
        assert_eq!(text(&res), "1", "{path}: a fresh instance");
    }
    server.shutdown().await?;
    Ok(())
}
