//! The admin listener: `/metrics` reflects a known sequence of requests; `/healthz` and
//! `/readyz` answer, and readiness goes as the shutdown begins.

use std::net::SocketAddr;
use std::time::Duration;

use host::{RuntimeConfig, ServerConfig};

use crate::support::{FIXTURES_WASM, Proto, TestServer, request, send};
use crate::up::{AppDir, text};

fn with_admin() -> ServerConfig {
    ServerConfig {
        admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        shutdown_grace: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

async fn admin_get(admin: SocketAddr, path: &str) -> anyhow::Result<http::Response<bytes::Bytes>> {
    send(admin, Proto::Http1, request("GET", path, "")?).await
}

/// The value of the sample `name{labels}` in OpenMetrics text, if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test]
async fn metrics_reflect_a_known_sequence_of_requests() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(
        r#"spin_manifest_version = 2
[application]
name = "metrics"

[[trigger.http]]
route = "/..."
component = "app"

[[trigger.http]]
route = "/store/..."
component = "store"

[component.app]
source = "fixtures.wasm"

[component.store]
source = "fixtures.wasm"
key_value_stores = ["default"]
"#,
    )?;
    let loaded = dir.load(&[], RuntimeConfig::default(), Default::default())?;
    let server = TestServer::serve(loaded.app, with_admin()).await?;
    let admin = server.admin.expect("an admin listener");

    for _ in 0..3 {
        assert_eq!(server.get("/ok").await?.status(), 200);
    }
    assert_eq!(server.get("/trap").await?.status(), 500);
    let put = server.call("PUT", "/store/kv/default/k", &[], "v").await?;
    assert_eq!(put.status(), 204, "{}", text(&put));
    assert_eq!(server.get("/store/kv/default/k").await?.status(), 200);

    let res = admin_get(admin, "/metrics").await?;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()?
            .starts_with("application/openmetrics-text"),
        "{:?}",
        res.headers()
    );
    let metrics = text(&res);
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_requests_total{route="/...",status="200"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_requests_total{route="/...",status="500"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_requests_total{route="/store/...",status="204"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_request_duration_seconds_count{route="/..."}"#
        ),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_request_duration_seconds_bucket{le="+Inf",route="/..."}"#
        ),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_key_value_operations_total{operation="set",backend="sqlite"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_key_value_operations_total{operation="get",backend="sqlite"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    // The scrape itself is not a request of the application.
    assert_eq!(
        sample(&metrics, "edge_host_requests_in_flight"),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "edge_host_instances").is_some(),
        "{metrics}"
    );
    // No code cache in the tests: each component was compiled at load.
    assert_eq!(
        sample(
            &metrics,
            r#"edge_host_component_code{component="app",source="uncached"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    let health = admin_get(admin, "/healthz").await?;
    assert_eq!(
        (health.status().as_u16(), text(&health).as_str()),
        (200, "ok\n")
    );
    let ready = admin_get(admin, "/readyz").await?;
    assert_eq!(
        (ready.status().as_u16(), text(&ready).as_str()),
        (200, "ready\n")
    );
    assert_eq!(admin_get(admin, "/nope").await?.status(), 404);
    Ok(())
}

#[tokio::test]
async fn readiness_goes_when_the_shutdown_begins() -> anyhow::Result<()> {
    let server =
        TestServer::start_with(FIXTURES_WASM, RuntimeConfig::default(), with_admin()).await?;
    let admin = server.admin.expect("an admin listener");
    assert_eq!(admin_get(admin, "/readyz").await?.status(), 200);
    // A slow response keeps the server draining while readiness is asked again.
    let addr = server.addr;
    let slow =
        tokio::spawn(async move { send(addr, Proto::Http1, request("GET", "/slow", "")?).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.shutdown());
    let mut said = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let res = admin_get(admin, "/readyz").await?;
        if res.status() == 503 {
            said = Some(text(&res));
            break;
        }
    }
    assert_eq!(
        said.as_deref(),
        Some("not ready: starting or shutting down\n")
    );
    assert_eq!(admin_get(admin, "/healthz").await?.status(), 200);
    let slow = slow.await??;
    assert_eq!(slow.status(), 200);
    stopping.await??;
    Ok(())
}

#[tokio::test]
async fn an_open_circuit_shows_in_the_metrics() -> anyhow::Result<()> {
    // A port nothing listens on: every request to it fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let dir = AppDir::fixtures(&format!(
        "spin_manifest_version = 2\n[application]\nname = \"circuits\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"fixtures.wasm\"\nallowed_outbound_hosts = [\"http://{closed}\"]\n"
    ))?;
    let outbound = host::OutboundConfig {
        breaker: host::BreakerConfig {
            failure_threshold: 2,
            reset_timeout: Duration::from_secs(60),
        },
        ..host::OutboundConfig::default()
    };
    let loaded = dir.load(&[], RuntimeConfig::default(), outbound)?;
    let server = TestServer::serve(loaded.app, with_admin()).await?;
    let admin = server.admin.expect("an admin listener");
    let series =
        format!(r#"edge_host_outbound_circuit_open{{component="app",upstream="http://{closed}"}}"#);

    let before = text(&admin_get(admin, "/metrics").await?);
    assert_eq!(sample(&before, &series), None, "{before}");
    for _ in 0..2 {
        let failed = server.get(&format!("/fetch?url=http://{closed}/")).await?;
        assert_eq!(failed.status(), 502, "{}", text(&failed));
    }
    let after = text(&admin_get(admin, "/metrics").await?);
    assert_eq!(sample(&after, &series), Some(1.0), "{after}");
    Ok(())
}
