//! Serving the example application and the fixtures over HTTP/1.1 and h2c.

use std::time::Duration;

use host::{RuntimeConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{FIXTURES_WASM, Proto, TestServer, assert_problem, json, request, send};

async fn health_is_200_json_with_status_and_timestamp(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let res = server.get("/api/health").await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = json(&res)?;
    assert_eq!(body["status"], "healthy");
    let timestamp = body["timestamp"].as_str().expect("timestamp is a string");
    humantime::parse_rfc3339(timestamp)?;
    Ok(())
}

async fn unknown_path_is_404_problem_json(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let res = server.get("/nope").await?;
    let body = assert_problem(&res, 404)?;
    assert_eq!(body["instance"], "/nope");
    Ok(())
}

async fn head_and_unsupported_methods_do_not_break_anything(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;

    let head = send(
        server.addr,
        Proto::Http1,
        request("HEAD", "/api/health", "")?,
    )
    .await?;
    assert_eq!(head.status(), 200);
    assert!(head.body().is_empty());
    assert_eq!(head.headers()["content-type"], "application/json");

    let delete = send(
        server.addr,
        Proto::Http1,
        request("DELETE", "/api/health", "")?,
    )
    .await?;
    assert_problem(&delete, 405)?;
    assert_eq!(delete.headers()["allow"], "GET, HEAD, OPTIONS");

    let odd = send(
        server.addr,
        Proto::Http1,
        request("BREW", "/api/health", "coffee")?,
    )
    .await?;
    assert_problem(&odd, 405)?;

    let options = send(
        server.addr,
        Proto::Http1,
        request("OPTIONS", "/api/health", "")?,
    )
    .await?;
    assert_eq!(options.status(), 204);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS");

    // Still serving.
    assert_eq!(server.get("/api/health").await?.status(), 200);
    Ok(())
}

async fn h2c_prior_knowledge_is_served(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let res = send(
        server.addr,
        Proto::Http2,
        request("GET", "/api/health", "")?,
    )
    .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(json(&res)?["status"], "healthy");
    Ok(())
}

async fn http1_keep_alive_serves_several_requests_on_one_connection(
    example: &str,
) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    for _ in 0..3 {
        stream
            .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        // The body is chunked; read until the final chunk.
        let mut text = text.into_owned();
        while !text.ends_with("0\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            assert!(n > 0, "connection closed early: {text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(text.contains("\"healthy\""), "{text}");
    }
    Ok(())
}

/// A handler of the caller's: the runtime alone, as `wasmtime serve` runs a component.
struct Bare(host::Runtime);

impl host::Handler for Bare {
    fn call(
        &self,
        req: http::Request<host::RequestBody>,
        ctx: host::RequestContext,
    ) -> host::HandlerFuture<'_> {
        Box::pin(self.0.handle(req, ctx))
    }
}

/// The server serves any handler: the runtime alone answers without Spin's headers (the
/// client's `spin-*` headers pass as any other), while the Spin application layer replaces
/// them with its own.
#[tokio::test]
async fn a_bare_runtime_is_served_without_the_spin_layer() -> anyhow::Result<()> {
    let config = host::PlatformConfig::default().link(RuntimeConfig::default())?;
    let runtime = host::Runtime::load(FIXTURES_WASM.as_ref(), config)?;
    let bare = TestServer::serve(Bare(runtime.clone()), ServerConfig::default()).await?;
    let spin = TestServer::serve(host::App::from(runtime), ServerConfig::default()).await?;
    for (server, spin_layer) in [(&bare, false), (&spin, true)] {
        let mut req = request("GET", "/request", "")?;
        req.headers_mut()
            .insert("spin-matched-route", "/from-the-client".parse()?);
        let res = send(server.addr, Proto::Http1, req).await?;
        assert_eq!(res.status(), 200);
        let text = String::from_utf8_lossy(res.body());
        assert!(text.contains("x-forwarded-for: 127.0.0.1\n"), "{text}");
        assert_eq!(text.contains("spin-full-url: "), spin_layer, "{text}");
        assert_eq!(
            text.contains("spin-client-addr: 127.0.0.1:"),
            spin_layer,
            "{text}"
        );
        assert_eq!(
            text.contains("spin-matched-route: /from-the-client"),
            !spin_layer,
            "{text}"
        );
    }
    bare.shutdown().await?;
    spin.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn the_guest_sees_scheme_authority_path_and_client_address() -> anyhow::Result<()> {
    let server = TestServer::start(FIXTURES_WASM).await?;
    let mut req = request("GET", "/request?x=1", "")?;
    req.headers_mut()
        .insert("x-forwarded-for", "6.6.6.6".parse()?);
    let res = send(server.addr, Proto::Http1, req).await?;
    assert_eq!(res.status(), 200);
    let text = String::from_utf8_lossy(res.body());
    assert!(text.contains("scheme=Some(Scheme::Http)"), "{text}");
    assert!(text.contains("authority=localhost"), "{text}");
    assert!(text.contains("path=/request?x=1"), "{text}");
    assert!(text.contains("x-forwarded-for: 127.0.0.1\n"), "{text}");
    assert!(
        !text.contains("6.6.6.6"),
        "client-supplied forwarding is replaced: {text}"
    );
    assert!(
        text.contains("forwarded: for=127.0.0.1;proto=http"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn guest_environment_is_only_what_was_given() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        env: vec![("GREETING".to_owned(), "hello edge".to_owned())],
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await?;
    let res = server.get("/env/GREETING").await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_ref(), b"hello edge");
    // The host's own environment does not leak in.
    assert!(std::env::var_os("PATH").is_some());
    assert_eq!(server.get("/env/PATH").await?.status(), 404);
    Ok(())
}

#[tokio::test]
async fn streaming_response_arrives_whole() -> anyhow::Result<()> {
    let server = TestServer::start(FIXTURES_WASM).await?;
    let res = server.get("/slow").await?;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.body().as_ref(),
        b"tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n"
    );
    Ok(())
}

/// On the caller's runtime and on worker threads alike: a guest streaming while the server
/// shuts down finishes, and nothing is accepted afterwards.
#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() -> anyhow::Result<()> {
    for workers in [0, 2] {
        let config = ServerConfig {
            workers,
            shutdown_grace: Duration::from_secs(10),
            ..ServerConfig::default()
        };
        let server =
            TestServer::start_with(FIXTURES_WASM, RuntimeConfig::default(), config).await?;
        let addr = server.addr;
        let slow =
            tokio::spawn(
                async move { send(addr, Proto::Http1, request("GET", "/slow", "")?).await },
            );
        tokio::time::sleep(Duration::from_millis(300)).await;

        server.shutdown().await?;
        let res = slow.await??;
        assert_eq!(res.status(), 200, "workers: {workers}");
        assert!(res.body().ends_with(b"tick 4\n"), "{:?}", res.body());
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer accepting (workers: {workers})"
        );
    }
    Ok(())
}

/// The fixture under `up`, with the default key-value store, on a server whose grace
/// period is `grace`.
async fn lingering_app(dir: &crate::up::AppDir, grace: Duration) -> anyhow::Result<TestServer> {
    let loaded = dir.load(&[], RuntimeConfig::default(), Default::default())?;
    let config = ServerConfig {
        shutdown_grace: grace,
        ..ServerConfig::default()
    };
    TestServer::serve(loaded.app, config).await
}

/// A guest may go on working after its response: a shutdown waits for it within the grace
/// period (its late key-value write lands), and past the grace period it is stopped and
/// counted as cut off (its write never happens).
#[tokio::test]
async fn graceful_shutdown_waits_for_guests_after_their_response_and_counts_the_cut()
-> anyhow::Result<()> {
    let manifest = r#"spin_manifest_version = 2

[application]
name = "linger"

[[trigger.http]]
route = "/..."
component = "main"

[component.main]
source = "fixtures.wasm"
key_value_stores = ["default"]
"#;
    let dir = crate::up::AppDir::fixtures(manifest)?;
    for (grace, key, expected_cut, expected_value) in [
        (Duration::from_secs(10), "waited", 0, Some("lingered")),
        (Duration::from_millis(200), "cut", 1, None),
    ] {
        let server = lingering_app(&dir, grace).await?;
        let res = server.get(&format!("/linger/1500/default/{key}")).await?;
        assert_eq!(res.status(), 200);
        assert_eq!(res.body().as_ref(), b"answered");
        let report = server.shutdown_report().await?;
        assert_eq!(
            report.requests_cut, expected_cut,
            "grace {grace:?}: {report:?}"
        );
        assert_eq!(report.connections_cut, 0, "grace {grace:?}: {report:?}");
        assert_eq!(report.operations_cut, 0, "grace {grace:?}: {report:?}");

        // What the guest wrote, seen by the next server on the same state, once a guest
        // that had not been stopped would have written.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let server = lingering_app(&dir, Duration::from_secs(1)).await?;
        let res = server.get(&format!("/kv/default/{key}")).await?;
        match expected_value {
            Some(value) => {
                assert_eq!(res.status(), 200, "grace {grace:?}");
                assert_eq!(res.body().as_ref(), value.as_bytes());
            }
            None => assert_eq!(res.status(), 404, "grace {grace:?}: the write was cut off"),
        }
        server.shutdown().await?;
    }
    Ok(())
}

/// With worker threads, each connection is served on one worker's own runtime: HTTP/1.1
/// and h2c connections spread over the workers are answered. (Their shutdown is in
/// `graceful_shutdown_lets_in_flight_requests_finish`.)
async fn worker_threads_serve_http1_and_h2c_connections(example: &str) -> anyhow::Result<()> {
    let config = ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(example, RuntimeConfig::default(), config).await?;
    // Connections are handed out in turn: four of each protocol reach both workers.
    for _ in 0..4 {
        for proto in [Proto::Http1, Proto::Http2] {
            let res = send(server.addr, proto, request("GET", "/api/health", "")?).await?;
            assert_eq!(res.status(), 200);
            assert_eq!(json(&res)?["status"], "healthy");
            let res = send(server.addr, proto, request("GET", "/nope", "")?).await?;
            assert_problem(&res, 404)?;
        }
    }
    server.shutdown().await?;
    Ok(())
}

crate::each_world!(
    health_is_200_json_with_status_and_timestamp,
    unknown_path_is_404_problem_json,
    head_and_unsupported_methods_do_not_break_anything,
    h2c_prior_knowledge_is_served,
    http1_keep_alive_serves_several_requests_on_one_connection,
    worker_threads_serve_http1_and_h2c_connections,
);

/// One raw HTTP/1.1 exchange on a fresh connection: the status line and the rest.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await??;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// RFC 9112 §3.2: two `Host` lines or an invalid one are `400` before any guest runs: the
/// answer is the host's problem+json, not the fixture's `ok`.
#[tokio::test]
async fn duplicate_or_invalid_host_headers_are_400_before_the_guest() -> anyhow::Result<()> {
    let server = TestServer::start(FIXTURES_WASM).await?;
    for host in [
        "Host: a.example\r\nHost: b.example",
        "Host: a b",
        "Host: user@a.example",
        "Host: a.example:99999",
        "Host: ",
    ] {
        let request = format!("GET /ok HTTP/1.1\r\n{host}\r\nConnection: close\r\n\r\n");
        let response = raw_exchange(server.addr, request.as_bytes()).await?;
        assert!(response.starts_with("HTTP/1.1 400"), "{host:?}: {response}");
        assert!(
            response.contains("application/problem+json"),
            "{host:?}: {response}"
        );
        assert!(!response.contains("\r\nok\r\n"), "{host:?}: {response}");
    }
    // The server goes on, and a valid Host (with a port) is served.
    let response = raw_exchange(
        server.addr,
        b"GET /ok HTTP/1.1\r\nHost: a.example:8080\r\nConnection: close\r\n\r\n",
    )
    .await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\r\nok\r\n"), "{response}");
    Ok(())
}
