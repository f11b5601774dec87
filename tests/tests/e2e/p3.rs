//! WASI 0.3 components (`wasi:http/handler@0.3`): instances that serve several requests at
//! once, and every guarantee of 0.2 components holding for them, on the 0.3 build of the
//! fixture.

use std::time::Duration;

use bytes::Bytes;
use host::{
    ConcurrentReuse, GuestLimits, PlatformConfig, RuntimeConfig, ServerConfig, ServerLimits,
};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{
    FIXTURES_P3_WASM, Proto, SPIN7_WASM, TestServer, assert_problem, request, send, upstream_ok,
};
use crate::up::AppDir;

async fn fixture(runtime: RuntimeConfig, server: ServerConfig) -> anyhow::Result<TestServer> {
    TestServer::start_with(FIXTURES_P3_WASM, runtime, server).await
}

fn reuse(max_requests: u32, max_concurrent: u32, idle_timeout: Duration) -> RuntimeConfig {
    RuntimeConfig {
        concurrent_reuse: ConcurrentReuse {
            max_requests,
            max_concurrent,
            idle_timeout,
        },
        ..RuntimeConfig::default()
    }
}

async fn body_text(server: &TestServer, path: &str) -> anyhow::Result<(u16, String)> {
    let res = server.get(path).await?;
    Ok((
        res.status().as_u16(),
        String::from_utf8_lossy(res.body()).into_owned(),
    ))
}

#[tokio::test]
async fn the_host_reports_the_world_it_detected() -> anyhow::Result<()> {
    let p3 = host::Runtime::load(FIXTURES_P3_WASM.as_ref(), RuntimeConfig::default())?;
    assert_eq!(p3.world(), host::World::Service03);
    let p2 = host::Runtime::load(
        crate::support::FIXTURES_WASM.as_ref(),
        PlatformConfig::default().link(RuntimeConfig::default())?,
    )?;
    assert_eq!(p2.world(), host::World::Proxy02);
    Ok(())
}

#[tokio::test]
async fn concurrent_requests_are_served_together_by_one_instance() -> anyhow::Result<()> {
    let server = fixture(RuntimeConfig::default(), ServerConfig::default()).await?;
    // Requests that arrive while no instance is ready each get a new one; once the first
    // instance waits on I/O, it takes the others.
    let first = server.get("/sleep/600");
    let others = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        futures::future::join_all((0..7).map(|_| server.get("/sleep/300"))).await
    };
    let (first, mut answers) = tokio::join!(first, others);
    answers.push(first);
    let mut most_at_once = 0;
    for answer in answers {
        let answer = answer?;
        assert_eq!(answer.status(), 200);
        let in_flight: u32 = String::from_utf8_lossy(answer.body()).parse()?;
        most_at_once = most_at_once.max(in_flight);
    }
    // Each request reports how many were in flight on its instance when it started.
    assert!(most_at_once >= 2, "one instance had {most_at_once} at once");
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn instances_are_retired_after_max_requests_and_when_idle() -> anyhow::Result<()> {
    // One request per instance: every count is 1.
    let server = fixture(
        reuse(1, 16, Duration::from_secs(1)),
        ServerConfig::default(),
    )
    .await?;
    for _ in 0..3 {
        assert_eq!(body_text(&server, "/count").await?, (200, "1".to_owned()));
    }
    drop(server);

    // Reused in turn, then retired after 200 ms idle.
    let server = fixture(
        reuse(128, 16, Duration::from_millis(200)),
        ServerConfig::default(),
    )
    .await?;
    assert_eq!(body_text(&server, "/count").await?, (200, "1".to_owned()));
    assert_eq!(body_text(&server, "/count").await?, (200, "2".to_owned()));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(body_text(&server, "/count").await?, (200, "1".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_trap_fails_only_the_requests_on_its_instance() -> anyhow::Result<()> {
    // Two at once per instance: the first two requests share instance A, the next two B.
    let server = fixture(
        reuse(128, 2, Duration::from_secs(5)),
        ServerConfig::default(),
    )
    .await?;
    let on_a_trap = server.get("/trap-after/400");
    let on_a = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.get("/sleep/800").await
    };
    let on_b = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        futures::future::join(server.get("/sleep/800"), server.get("/sleep/800")).await
    };
    let (trapped, a, (b1, b2)) = tokio::join!(on_a_trap, on_a, on_b);
    assert_problem(&trapped?, 500)?;
    assert_problem(&a?, 500)?;
    assert_eq!(b1?.status(), 200);
    assert_eq!(b2?.status(), 200);
    // A failed instance is never reused: the next request runs on a live one.
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_guest_past_its_deadline_is_504_and_the_host_goes_on() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        limits: GuestLimits {
            deadline: Duration::from_secs(1),
            ..GuestLimits::default()
        },
        ..RuntimeConfig::default()
    };
    let server = fixture(runtime, ServerConfig::default()).await?;
    let res = tokio::time::timeout(Duration::from_secs(10), server.get("/loop")).await??;
    assert_problem(&res, 504)?;
    let res = tokio::time::timeout(Duration::from_secs(10), server.get("/sleep/5000")).await??;
    assert_problem(&res, 504)?;
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn the_memory_limit_is_500_and_the_host_goes_on() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        limits: GuestLimits {
            max_memory_bytes: 32 << 20,
            ..GuestLimits::default()
        },
        ..RuntimeConfig::default()
    };
    let server = fixture(runtime, ServerConfig::default()).await?;
    let res = tokio::time::timeout(Duration::from_secs(10), server.get("/alloc")).await??;
    assert_problem(&res, 500)?;
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

/// Streams, futures and subtasks of a 0.3 guest live in wasmtime's tables in host memory,
/// created by the guest with no host function in the loop: a flood traps at the handle
/// bound (500) while a request on another instance is served, and host memory stays put.
#[tokio::test]
async fn a_guest_cannot_grow_host_memory_through_streams() -> anyhow::Result<()> {
    // One request per instance at a time: the flood and the good request apart.
    let server = fixture(
        reuse(128, 1, Duration::from_secs(1)),
        ServerConfig::default(),
    )
    .await?;
    let before = crate::support::resident_bytes()?;
    for path in ["/flood/streams", "/flood/resources"] {
        let healthy = server.get("/sleep/300");
        let flood = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tokio::time::timeout(Duration::from_secs(10), server.get(path)).await
        };
        let (healthy, flood) = tokio::join!(healthy, flood);
        assert_problem(&flood??, 500)?;
        assert_eq!(healthy?.status(), 200, "beside {path}");
        assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    }
    let grown = crate::support::resident_bytes()?.saturating_sub(before);
    assert!(
        grown < 512 << 20,
        "resident memory grew by {} MiB",
        grown >> 20
    );
    Ok(())
}

#[tokio::test]
async fn the_handle_limit_is_the_configured_one() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        limits: GuestLimits {
            max_resources: 128,
            ..GuestLimits::default()
        },
        ..RuntimeConfig::default()
    };
    let server = fixture(runtime, ServerConfig::default()).await?;
    // A few pairs fit beside what the request itself holds; wasmtime's default would take
    // 100,000 handles.
    assert_eq!(
        body_text(&server, "/streams/16").await?,
        (200, "16".to_owned())
    );
    assert_problem(&server.get("/streams/200").await?, 500)?;
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn an_error_code_from_the_guest_is_500() -> anyhow::Result<()> {
    let server = fixture(RuntimeConfig::default(), ServerConfig::default()).await?;
    assert_problem(&server.get("/error").await?, 500)?;
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_while_it_streams() -> anyhow::Result<()> {
    let config = ServerConfig {
        limits: ServerLimits {
            max_body_bytes: 1024,
            ..ServerLimits::default()
        },
        ..ServerConfig::default()
    };
    let server = fixture(RuntimeConfig::default(), config).await?;
    let ok: &'static str = Box::leak("x".repeat(1024).into_boxed_str());
    let res = send(server.addr, Proto::Http1, request("POST", "/echo", ok)?).await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_ref(), b"1024");

    // No declared length: the body is cut off as it arrives.
    let mut stream = TcpStream::connect(server.addr).await?;
    let chunk = "y".repeat(600);
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
         258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(raw.as_bytes()).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    Ok(())
}

#[tokio::test]
async fn requests_over_the_in_flight_limit_are_503() -> anyhow::Result<()> {
    let config = ServerConfig {
        limits: ServerLimits {
            max_in_flight: 2,
            ..ServerLimits::default()
        },
        ..ServerConfig::default()
    };
    let server = fixture(RuntimeConfig::default(), config).await?;
    let slow = futures::future::join(server.get("/sleep/600"), server.get("/sleep/600"));
    let late = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.get("/ok").await
    };
    let ((a, b), late) = tokio::join!(slow, late);
    assert_eq!(a?.status(), 200);
    assert_eq!(b?.status(), 200);
    assert_problem(&late?, 503)?;
    Ok(())
}

#[tokio::test]
async fn a_client_that_goes_away_stops_only_its_own_request() -> anyhow::Result<()> {
    let server = fixture(RuntimeConfig::default(), ServerConfig::default()).await?;
    let kept = server.get("/sleep/600");
    let dropped = async {
        let _ = tokio::time::timeout(Duration::from_millis(100), server.get("/sleep/2000")).await;
    };
    let (kept, ()) = tokio::join!(kept, dropped);
    assert_eq!(kept?.status(), 200);
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

/// A request over HTTP/2 whose body and trailers the client collects.
async fn h2_exchange(
    server: &TestServer,
    path: &str,
    body: Bytes,
) -> anyhow::Result<(u16, Bytes, Option<http::HeaderMap>)> {
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await?;
    tokio::spawn(conn);
    let req = http::Request::post(format!("http://localhost{path}")).body(Full::new(body))?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let collected = res.into_body().collect().await?;
    let trailers = collected.trailers().cloned();
    Ok((status, collected.to_bytes(), trailers))
}

#[tokio::test]
async fn bodies_stream_both_ways_with_trailers() -> anyhow::Result<()> {
    let server = fixture(RuntimeConfig::default(), ServerConfig::default()).await?;
    let sent = Bytes::from(
        (0..(4 << 20))
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );
    let (status, body, trailers) = h2_exchange(&server, "/mirror", sent.clone()).await?;
    assert_eq!(status, 200);
    assert_eq!(body.len(), sent.len());
    assert!(body == sent, "the mirrored body differs");
    let trailers = trailers.ok_or_else(|| anyhow::anyhow!("no trailers"))?;
    assert_eq!(trailers["x-echo-bytes"], (4 << 20).to_string().as_str());

    // A large response body arrives whole.
    let res = server.get("/big/3000000").await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().len(), 3_000_000);
    Ok(())
}

#[tokio::test]
async fn outbound_http_0_3_goes_through_the_allow_list() -> anyhow::Result<()> {
    let allowed = upstream_ok().await?;
    let other = upstream_ok().await?;
    let platform = PlatformConfig {
        allowed_outbound: vec![format!("http://127.0.0.1:{}", allowed.port()).parse()?],
        ..PlatformConfig::default()
    };
    let server = TestServer::start_platform(
        FIXTURES_P3_WASM,
        RuntimeConfig::default(),
        platform,
        ServerConfig::default(),
    )
    .await?;
    let (status, text) = body_text(&server, &format!("/fetch?url=http://{allowed}/x")).await?;
    assert_eq!((status, text.as_str()), (200, "upstream ok"));
    let (status, text) = body_text(&server, &format!("/fetch?url=http://{other}/x")).await?;
    assert_eq!(status, 502);
    assert!(text.contains("HttpRequestDenied"), "{text}");
    Ok(())
}

const SPIN7_APP: &str = r#"
spin_manifest_version = 2

[application]
name = "spin7"

[variables]
greeting = { default = "hello from the manifest" }

[[trigger.http]]
route = "/..."
component = "spin7"

[component.spin7]
source = "spin7.wasm"
key_value_stores = ["default"]
[component.spin7.variables]
greeting = "{{ greeting }}"
"#;

#[tokio::test]
async fn a_spin_sdk_7_component_uses_the_key_value_store_and_variables() -> anyhow::Result<()> {
    let dir = AppDir::with_component(SPIN7_WASM, "spin7.wasm", SPIN7_APP)?;
    let server = dir.serve(&[]).await?;
    assert_eq!(body_text(&server, "/kv/a").await?.0, 404);
    assert_eq!(server.call("PUT", "/kv/b", &[], "two").await?.status(), 204);
    assert_eq!(server.call("PUT", "/kv/a", &[], "one").await?.status(), 204);
    assert_eq!(body_text(&server, "/kv/a").await?, (200, "one".to_owned()));
    assert_eq!(
        body_text(&server, "/exists/a").await?,
        (200, "true".to_owned())
    );
    assert_eq!(body_text(&server, "/keys").await?, (200, "a\nb".to_owned()));
    assert_eq!(server.call("DELETE", "/kv/a", &[], "").await?.status(), 204);
    assert_eq!(
        body_text(&server, "/exists/a").await?,
        (200, "false".to_owned())
    );
    assert_eq!(body_text(&server, "/keys").await?, (200, "b".to_owned()));

    // Only the stores the component lists.
    let (status, text) = body_text(&server, "/open/other").await?;
    assert_eq!((status, text.as_str()), (403, "access-denied"));

    // Variables, from the manifest and from the environment.
    assert_eq!(
        body_text(&server, "/var/greeting").await?,
        (200, "hello from the manifest".to_owned())
    );
    let (status, text) = body_text(&server, "/var/missing").await?;
    assert_eq!(status, 404, "{text}");
    let (status, text) = body_text(&server, "/var/Not-A-Name").await?;
    assert_eq!(status, 400, "{text}");
    drop(server);

    // The same data through a restart: the store is the application's SQLite file.
    let server = dir.serve(&[("SPIN_VARIABLE_GREETING", "bonjour")]).await?;
    assert_eq!(body_text(&server, "/kv/b").await?, (200, "two".to_owned()));
    assert_eq!(
        body_text(&server, "/var/greeting").await?,
        (200, "bonjour".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn a_trap_while_the_body_streams_ends_the_body_with_an_error() -> anyhow::Result<()> {
    let server = fixture(RuntimeConfig::default(), ServerConfig::default()).await?;
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get("/stream-then-trap")
        .header("host", "localhost")
        .body(http_body_util::Empty::<Bytes>::new())?;
    let res = sender.send_request(req).await?;
    assert_eq!(res.status(), 200);
    // The client must not take the truncated body for a whole one.
    let body = tokio::time::timeout(Duration::from_secs(10), res.into_body().collect()).await?;
    assert!(
        body.is_err(),
        "the body ended cleanly: {:?}",
        body.map(|b| b.to_bytes())
    );
    assert_eq!(body_text(&server, "/ok").await?, (200, "ok".to_owned()));
    Ok(())
}

#[tokio::test]
async fn one_application_serves_0_2_and_0_3_components_side_by_side() -> anyhow::Result<()> {
    let dir = AppDir::with_component(
        crate::support::FIXTURES_WASM,
        "p2.wasm",
        r#"
spin_manifest_version = 2

[application]
name = "mixed"

[[trigger.http]]
route = "/two/..."
component = "two"

[[trigger.http]]
route = "/three/..."
component = "three"

[component.two]
source = "p2.wasm"

[component.three]
source = "p3.wasm"
"#,
    )?;
    std::fs::copy(FIXTURES_P3_WASM, dir.root.join("p3.wasm"))?;
    let server = dir.serve(&[]).await?;
    assert_eq!(body_text(&server, "/two/ok").await?, (200, "ok".to_owned()));
    assert_eq!(
        body_text(&server, "/three/ok").await?,
        (200, "ok".to_owned())
    );
    // Each as its world runs it: a fresh 0.2 instance per request, a reused 0.3 one.
    assert_eq!(
        body_text(&server, "/two/count").await?,
        (200, "1".to_owned())
    );
    assert_eq!(
        body_text(&server, "/two/count").await?,
        (200, "1".to_owned())
    );
    let (_, first) = body_text(&server, "/three/count").await?;
    let (_, second) = body_text(&server, "/three/count").await?;
    assert!(
        second.parse::<u32>()? > first.parse::<u32>()?,
        "{first} then {second}"
    );
    Ok(())
}

#[test]
fn load_errors_name_the_world_and_what_is_missing() -> anyhow::Result<()> {
    // A spin-sdk 7 component without Spin's interfaces linked.
    let err = host::Runtime::load(SPIN7_WASM.as_ref(), RuntimeConfig::default())
        .err()
        .ok_or_else(|| anyhow::anyhow!("loaded without its imports"))?;
    let text = err.to_string();
    assert!(matches!(err, host::LoadError::Link { .. }), "{text}");
    assert!(text.contains("wasi:http/service@0.3"), "{text}");
    assert!(text.contains("spin:"), "{text}");

    // A core module is not a component.
    let dir = std::env::temp_dir().join(format!("edge-load-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let module = dir.join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0")?;
    let err = host::Runtime::load(&module, RuntimeConfig::default())
        .err()
        .ok_or_else(|| anyhow::anyhow!("a core module loaded"))?;
    assert!(
        matches!(err, host::LoadError::NotAComponent { .. }),
        "{err}"
    );

    // A component that exports no handler says what it exports.
    let component = dir.join("no-handler.wasm");
    std::fs::write(&component, b"\0asm\x0d\0\x01\0")?;
    let err = host::Runtime::load(&component, RuntimeConfig::default())
        .err()
        .ok_or_else(|| anyhow::anyhow!("a component without a handler loaded"))?;
    let text = err.to_string();
    assert!(matches!(err, host::LoadError::NotAHandler { .. }), "{text}");
    assert!(text.contains("wasi:http/handler@0.3"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
