//! Outbound HTTP from guests: allowed destinations are reached, others refused at once.

use std::time::Duration;

use host::{PlatformConfig, RuntimeConfig, ServerConfig};

use crate::support::{FIXTURES_WASM, TestServer, upstream_ok};

async fn fixtures_allowing(rules: &[String]) -> anyhow::Result<TestServer> {
    let platform = PlatformConfig {
        allowed_outbound: rules.iter().map(|r| r.parse()).collect::<Result<_, _>>()?,
        ..PlatformConfig::default()
    };
    TestServer::start_platform(
        FIXTURES_WASM,
        RuntimeConfig::default(),
        platform,
        ServerConfig::default(),
    )
    .await
}

#[tokio::test]
async fn an_allowed_upstream_answers_and_others_are_denied_at_once() -> anyhow::Result<()> {
    let allowed = upstream_ok().await?;
    let other = upstream_ok().await?;
    let server = fixtures_allowing(&[format!("http://127.0.0.1:{}", allowed.port())]).await?;

    let res = server
        .get(&format!("/fetch?url=http://{allowed}/x"))
        .await?;
    assert_eq!(res.status(), 200, "{:?}", res.body());
    assert_eq!(res.body().as_ref(), b"upstream ok");

    let denied = tokio::time::timeout(
        Duration::from_secs(5),
        server.get(&format!("/fetch?url=http://{other}/x")),
    )
    .await??;
    assert_eq!(denied.status(), 502);
    let text = String::from_utf8_lossy(denied.body());
    assert!(text.contains("HttpRequestDenied"), "{text}");
    Ok(())
}

#[tokio::test]
async fn without_rules_all_outbound_http_is_denied() -> anyhow::Result<()> {
    let target = upstream_ok().await?;
    let server = fixtures_allowing(&[]).await?;
    let res = server.get(&format!("/fetch?url=http://{target}/")).await?;
    assert_eq!(res.status(), 502);
    assert!(String::from_utf8_lossy(res.body()).contains("HttpRequestDenied"));
    Ok(())
}
