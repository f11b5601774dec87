//! Rate limits: token buckets per client and per route, `429` with `Retry-After` and the
//! draft's `RateLimit` / `RateLimit-Policy` fields, before any guest runs.

use std::time::Duration;

use host::{RateLimits, RuntimeConfig, ServerConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{FIXTURES_WASM, TestServer, assert_problem};
use crate::up::text;

async fn limited(limits: RateLimits) -> anyhow::Result<TestServer> {
    let config = ServerConfig {
        rate_limits: limits,
        ..ServerConfig::default()
    };
    TestServer::start_with(FIXTURES_WASM, RuntimeConfig::default(), config).await
}

fn header<'a>(res: &'a http::Response<bytes::Bytes>, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A GET from another loopback address than the tests' 127.0.0.1: another client.
async fn get_from(source: [u8; 4], server: &TestServer, path: &str) -> anyhow::Result<String> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let mut stream = socket.connect(server.addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn a_burst_beyond_the_quota_is_answered_429_with_retry_after() -> anyhow::Result<()> {
    let server = limited(RateLimits {
        per_client: Some("3/min".parse()?),
        ..RateLimits::default()
    })
    .await?;

    for left in [2, 1, 0] {
        let ok = server.get("/ok").await?;
        assert_eq!(ok.status(), 200, "{}", text(&ok));
        assert_eq!(text(&ok), "ok");
        assert_eq!(header(&ok, "ratelimit-policy"), Some("\"client\";q=3;w=60"));
        let state = header(&ok, "ratelimit").unwrap_or_default();
        assert!(
            state.starts_with(&format!("\"client\";r={left};t=")),
            "{state}"
        );
    }

    // A burst of ten at once, with the bucket empty: every one is refused.
    let burst: Vec<_> = (0..10).map(|_| server.get("/ok")).collect();
    for res in futures::future::join_all(burst).await {
        let res = res?;
        let problem = assert_problem(&res, 429)?;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("the client limit"), "{detail}");
        let retry: u64 = header(&res, "retry-after").unwrap_or_default().parse()?;
        assert!((1..=20).contains(&retry), "Retry-After: {retry}");
        assert_eq!(
            header(&res, "ratelimit-policy"),
            Some("\"client\";q=3;w=60")
        );
        assert!(
            header(&res, "ratelimit").is_some_and(|s| s.starts_with("\"client\";r=0;t=")),
            "{:?}",
            res.headers()
        );
    }

    // Another client has a bucket of its own.
    let other = get_from([127, 0, 0, 2], &server, "/ok").await?;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(other.contains("ratelimit: \"client\";r=2;"), "{other}");
    Ok(())
}

#[tokio::test]
async fn a_route_quota_limits_that_route_alone() -> anyhow::Result<()> {
    let server = limited(RateLimits {
        routes: vec!["/echo=2/min".parse().map_err(anyhow::Error::msg)?],
        ..RateLimits::default()
    })
    .await?;

    for _ in 0..2 {
        let ok = server.call("POST", "/echo", &[], "abc").await?;
        assert_eq!(ok.status(), 200, "{}", text(&ok));
        assert_eq!(
            header(&ok, "ratelimit-policy"),
            Some("\"route /echo\";q=2;w=60")
        );
    }
    let refused = server.call("POST", "/echo", &[], "abc").await?;
    let problem = assert_problem(&refused, 429)?;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the route /echo limit"), "{detail}");
    assert!(header(&refused, "retry-after").is_some());

    // Other paths are not limited, and say nothing of limits.
    for _ in 0..5 {
        let ok = server.get("/ok").await?;
        assert_eq!(ok.status(), 200, "{}", text(&ok));
        assert!(header(&ok, "ratelimit").is_none());
        assert!(header(&ok, "ratelimit-policy").is_none());
    }
    Ok(())
}

#[tokio::test]
async fn a_limit_holds_across_replicas_on_one_redis() -> anyhow::Result<()> {
    let redis = crate::support::RedisServer::start().await?;
    let limits = RateLimits {
        per_client: Some("3/min".parse()?),
        routes: Vec::new(),
        redis: Some(redis.url.clone()),
    };
    let a = limited(limits.clone()).await?;
    let b = limited(limits).await?;

    // One bucket for the client, whichever replica it reaches.
    for (server, left) in [(&a, 2), (&b, 1), (&a, 0)] {
        let ok = server.get("/ok").await?;
        assert_eq!(ok.status(), 200, "{}", text(&ok));
        let state = header(&ok, "ratelimit").unwrap_or_default();
        assert!(
            state.starts_with(&format!("\"client\";r={left};t=")),
            "{state}"
        );
    }
    for server in [&b, &a] {
        let refused = server.get("/ok").await?;
        let problem = assert_problem(&refused, 429)?;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("the client limit"),
            "{problem}"
        );
        let retry: u64 = header(&refused, "retry-after")
            .unwrap_or_default()
            .parse()?;
        assert!((1..=20).contains(&retry), "Retry-After: {retry}");
    }
    // Another client still has its own bucket there.
    let other = get_from([127, 0, 0, 3], &b, "/ok").await?;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");

    // With Redis gone, requests pass rather than fail.
    drop(redis);
    let open = a.get("/ok").await?;
    assert_eq!(open.status(), 200, "{}", text(&open));
    assert!(header(&open, "ratelimit").is_none());
    Ok(())
}

#[tokio::test]
async fn shared_limits_need_their_redis_at_start() -> anyhow::Result<()> {
    let limits = RateLimits {
        per_client: Some("3/min".parse()?),
        routes: Vec::new(),
        redis: Some("redis://127.0.0.1:1/0".to_owned()),
    };
    let Err(err) = limited(limits).await else {
        anyhow::bail!("a server started without its rate limits' Redis");
    };
    assert!(format!("{err:#}").contains("rate limits"), "{err:#}");
    Ok(())
}
