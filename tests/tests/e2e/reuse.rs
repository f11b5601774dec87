//! Opt-in instance reuse: one instance serves up to N requests in turn.

use host::{RuntimeConfig, ServerConfig};

use crate::support::{FIXTURES_WASM, TestServer};

async fn counts(server: &TestServer, n: usize) -> anyhow::Result<Vec<String>> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let res = server.get("/count").await?;
        assert_eq!(res.status(), 200);
        seen.push(String::from_utf8_lossy(res.body()).into_owned());
    }
    Ok(seen)
}

#[tokio::test]
async fn by_default_every_request_gets_a_fresh_instance() -> anyhow::Result<()> {
    let server = TestServer::start(FIXTURES_WASM).await?;
    assert_eq!(counts(&server, 3).await?, ["1", "1", "1"]);
    Ok(())
}

#[tokio::test]
async fn with_reuse_an_instance_serves_up_to_n_requests_then_is_replaced() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        instance_reuse: 3,
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await?;
    assert_eq!(
        counts(&server, 7).await?,
        ["1", "2", "3", "1", "2", "3", "1"]
    );
    Ok(())
}

#[tokio::test]
async fn an_instance_that_failed_is_never_reused() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        instance_reuse: 100,
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await?;
    assert_eq!(counts(&server, 2).await?, ["1", "2"]);
    // The trap happens in the instance that served both: it must be thrown away.
    assert_eq!(server.get("/trap").await?.status(), 500);
    assert_eq!(counts(&server, 1).await?, ["1"]);
    Ok(())
}
