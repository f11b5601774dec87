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

/// `/fetch` of `url`: the status and body the fixture answers.
async fn fetch(server: &TestServer, url: String) -> anyhow::Result<(http::StatusCode, String)> {
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        server.get(&format!("/fetch?url={url}")),
    )
    .await??;
    Ok((
        res.status(),
        String::from_utf8_lossy(res.body()).into_owned(),
    ))
}

/// Outbound SSRF: the allow-list holds for the address a name resolves to. A wildcard rule
/// reaches public hosts, not loopback (nor link-local, where cloud metadata answers, nor
/// private ranges), whether the guest names the address or a name that resolves to it; a
/// rule that names the address or `localhost` opens it.
#[tokio::test]
async fn internal_addresses_need_a_rule_that_names_them() -> anyhow::Result<()> {
    let target = upstream_ok().await?;
    let port = target.port();

    // Any host on that port: the name is allowed, the loopback address it means is not.
    let wildcard = fixtures_allowing(&[format!("http://*:{port}")]).await?;
    for url in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://localhost:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
    ] {
        let (status, text) = fetch(&wildcard, url.clone()).await?;
        assert_eq!(status, 502, "{url}: {text}");
        assert!(text.contains("DestinationIpProhibited"), "{url}: {text}");
    }
    // Cloud metadata, through a rule for any host at all.
    let anything = fixtures_allowing(&["*://*:*".to_owned()]).await?;
    let (status, text) = fetch(
        &anything,
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    )
    .await?;
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("DestinationIpProhibited"), "{text}");

    // Named: by address, by a range, or as localhost.
    for rule in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.0/8:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let server = fixtures_allowing(std::slice::from_ref(&rule)).await?;
        let host = if rule.contains("localhost") {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let (status, text) = fetch(&server, format!("http://{host}:{port}/x")).await?;
        assert_eq!(status, 200, "{rule}: {text}");
        assert_eq!(text, "upstream ok", "{rule}");
    }
    Ok(())
}
