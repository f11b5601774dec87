//! `edge-host up --watch`: a change to a watched file rebuilds the component and swaps it in,
//! while a request in flight during the swap finishes on the component it started on.

use std::time::Duration;

use host::spin::watch::{Reloadable, Watcher};
use host::{OutboundConfig, RuntimeConfig, ServerConfig};

use crate::support::{EXAMPLE_WASM, FIXTURES_P3_WASM, TestServer};
use crate::up::{AppDir, text};

/// The build "compiles" `which` (the path of a component) into `app.wasm`.
const MANIFEST: &str = r#"spin_manifest_version = 2
[application]
name = "watched"
[[trigger.http]]
route = "/..."
component = "app"
[component.app]
source = "app.wasm"
[component.app.build]
command = "cp \"$(cat which)\" app.wasm"
watch = ["which"]
"#;

#[tokio::test]
async fn a_watched_change_swaps_the_component_and_requests_in_flight_finish() -> anyhow::Result<()>
{
    let dir = AppDir::with_component(FIXTURES_P3_WASM, "app.wasm", MANIFEST)?;
    std::fs::write(dir.root.join("which"), FIXTURES_P3_WASM)?;
    let loaded = dir.load(&[], RuntimeConfig::default(), OutboundConfig::default())?;
    let reloadable = Reloadable::new(loaded.app);
    let server = TestServer::serve(reloadable.clone(), ServerConfig::default()).await?;
    let watcher = Watcher {
        manifest: dir.root.join("spin.toml"),
        env: Box::new(|_| None),
        defaults: RuntimeConfig::default(),
        outbound: OutboundConfig::default(),
        data: loaded.data,
        interval: Duration::from_millis(50),
    };
    let watching = tokio::spawn(watcher.run(reloadable));

    // The fixture: no health route; a request that waits 15 s on it (long enough for the
    // rebuild and load below on a loaded machine).
    assert_eq!(server.get("/api/health").await?.status(), 404);
    let addr = server.addr;
    let in_flight = tokio::spawn(async move {
        crate::support::send(
            addr,
            crate::support::Proto::Http1,
            crate::support::request("GET", "/sleep/15000", "")?,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The "source" changes: the example application is built in its place.
    std::fs::write(dir.root.join("which"), EXAMPLE_WASM)?;
    let swapped = async {
        loop {
            let res = server.get("/api/health").await?;
            if res.status() == 200 {
                return anyhow::Ok(res);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let health = tokio::time::timeout(Duration::from_secs(30), swapped).await??;
    assert_eq!(health.headers()["content-type"], "application/json");
    assert!(
        !in_flight.is_finished(),
        "the request in flight should still be waiting on the old component"
    );
    let slept = in_flight.await??;
    assert_eq!(slept.status(), 200, "{}", text(&slept));

    watching.abort();
    server.shutdown().await
}

#[test]
fn a_failed_rebuild_is_an_error_not_an_application() -> anyhow::Result<()> {
    let dir = AppDir::with_component(FIXTURES_P3_WASM, "app.wasm", MANIFEST)?;
    std::fs::write(dir.root.join("which"), "/no/such/component.wasm")?;
    let loaded = dir.load(&[], RuntimeConfig::default(), OutboundConfig::default())?;
    let watcher = Watcher {
        manifest: dir.root.join("spin.toml"),
        env: Box::new(|_| None),
        defaults: RuntimeConfig::default(),
        outbound: OutboundConfig::default(),
        data: loaded.data,
        interval: Duration::from_millis(50),
    };
    let err = watcher.rebuild().expect_err("cp fails");
    assert!(
        matches!(
            err,
            host::spin::watch::RebuildError::Build(host::BuildError::Failed { .. })
        ),
        "{err}"
    );
    Ok(())
}
