//! Guest faults become problem+json statuses, and never stop the server or a concurrent
//! well-behaved request.

use std::time::{Duration, Instant};

use host::{GuestLimits, RuntimeConfig, ServerConfig};

use crate::support::{FIXTURES_WASM, TestServer, assert_problem, resident_bytes};

async fn fixtures(limits: GuestLimits) -> anyhow::Result<TestServer> {
    let runtime = RuntimeConfig {
        limits,
        ..RuntimeConfig::default()
    };
    TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await
}

/// Runs `path` and, while it is being handled, a request to `/ok`, which must succeed.
async fn faulty_beside_healthy(
    server: &TestServer,
    path: &str,
) -> anyhow::Result<http::Response<bytes::Bytes>> {
    let faulty = server.get(path);
    let healthy = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.get("/ok").await
    };
    let (faulty, healthy) = tokio::join!(faulty, healthy);
    let healthy = healthy?;
    assert_eq!(
        healthy.status(),
        200,
        "the concurrent request is unaffected"
    );
    assert_eq!(healthy.body().as_ref(), b"ok");
    // And the server keeps serving afterwards.
    assert_eq!(server.get("/ok").await?.status(), 200);
    faulty
}

#[tokio::test]
async fn a_trap_is_500_and_reveals_nothing() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits::default()).await?;
    let res = faulty_beside_healthy(&server, "/trap").await?;
    let body = assert_problem(&res, 500)?;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("fixture"),
        "guest internals stay in the log: {detail}"
    );
    Ok(())
}

#[tokio::test]
async fn a_guest_that_never_responds_is_500() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits::default()).await?;
    let res = faulty_beside_healthy(&server, "/no-response").await?;
    assert_problem(&res, 500)?;
    Ok(())
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_the_deadline_with_504() -> anyhow::Result<()> {
    let deadline = Duration::from_millis(500);
    let server = fixtures(GuestLimits {
        deadline,
        ..GuestLimits::default()
    })
    .await?;
    let start = Instant::now();
    let res = faulty_beside_healthy(&server, "/loop").await?;
    let elapsed = start.elapsed();
    assert_problem(&res, 504)?;
    assert!(elapsed >= deadline, "not before the deadline: {elapsed:?}");
    Ok(())
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit_with_500() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits {
        max_memory_bytes: 32 << 20,
        ..GuestLimits::default()
    })
    .await?;
    let res = faulty_beside_healthy(&server, "/alloc").await?;
    assert_problem(&res, 500)?;
    Ok(())
}

#[tokio::test]
async fn a_deadline_passing_mid_stream_cuts_the_body_and_serving_goes_on() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits {
        deadline: Duration::from_millis(500),
        ..GuestLimits::default()
    })
    .await?;
    // /slow sets 200 at once, then needs about a second for its body.
    let res = server.get("/slow").await;
    assert!(res.is_err(), "the body cannot complete: {res:?}");
    assert_eq!(server.get("/ok").await?.status(), 200);
    Ok(())
}

/// Everything here runs on the test's one thread, server included: a spinning guest must
/// still let the server answer others long before its deadline.
#[tokio::test]
async fn a_spinning_guest_leaves_room_for_others_on_one_thread() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits {
        deadline: Duration::from_secs(20),
        ..GuestLimits::default()
    })
    .await?;
    let spinning = server.get("/loop");
    let healthy = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        // (With a yield that does not let the scheduler poll its I/O, this took 3 s.)
        let res = tokio::time::timeout(Duration::from_millis(1500), server.get("/ok")).await;
        (res, started.elapsed())
    };
    tokio::select! {
        (res, took) = healthy => {
            let res = res.map_err(|_| anyhow::anyhow!("/ok starved for 1.5 s behind /loop"))??;
            assert_eq!(res.status(), 200, "answered in {took:?}");
        }
        res = spinning => anyhow::bail!("the loop ended first: {:?}", res.map(|r| r.status())),
    }
    Ok(())
}

#[tokio::test]
async fn a_guest_cannot_grow_host_memory_through_resources() -> anyhow::Result<()> {
    let server = fixtures(GuestLimits::default()).await?;
    let before = resident_bytes()?;
    // Unbounded, either flood takes gigabytes within a second (wasmtime's defaults: a
    // million resources, 128 KiB per header set); bounded, at most 1024 × 64 KiB.
    for path in ["/flood/resources", "/flood/fields"] {
        let res = faulty_beside_healthy(&server, path).await?;
        assert_problem(&res, 500)?;
    }
    let grown = resident_bytes()?.saturating_sub(before);
    assert!(
        grown < 512 << 20,
        "resident memory grew by {} MiB",
        grown >> 20
    );
    Ok(())
}

/// Key-value amplification: a guest that writes 1 MiB once and asks for it a thousand
/// times in one `get-many` gets the store's error (507 from the fixture) instead of a
/// gigabyte of host memory, while another request is served.
#[tokio::test]
async fn a_guest_cannot_amplify_key_value_reads_into_host_memory() -> anyhow::Result<()> {
    let manifest = r#"spin_manifest_version = 2

[application]
name = "amplify"

[[trigger.http]]
route = "/..."
component = "main"

[component.main]
source = "fixtures.wasm"
key_value_stores = ["default"]
"#;
    let dir = crate::up::AppDir::fixtures(manifest)?;
    let runtime = RuntimeConfig {
        limits: GuestLimits {
            // Room in the guest for all of it: only the host's bound stands in the way.
            max_memory_bytes: 1 << 30,
            ..GuestLimits::default()
        },
        ..RuntimeConfig::default()
    };
    let loaded = dir.load(&[], runtime, Default::default())?;
    let server = TestServer::serve(loaded.app, host::ServerConfig::default()).await?;
    // Within the bound: 8 MiB read back.
    let res = server.get("/kv-amplify/8").await?;
    assert_eq!(res.status(), 200, "{:?}", res.body());
    assert_eq!(res.body().as_ref(), (8usize << 20).to_string().as_bytes());
    let before = resident_bytes()?;
    let res = faulty_beside_healthy(&server, "/kv-amplify/1000").await?;
    assert_eq!(res.status(), 507, "{:?}", res.body());
    let grown = resident_bytes()?.saturating_sub(before);
    assert!(
        grown < 512 << 20,
        "resident memory grew by {} MiB",
        grown >> 20
    );
    Ok(())
}

/// Many memories: the limit holds for the instance, all its linear memories together. A
/// component of two core instances with a 37.5 MiB memory each instantiates under a 96 MiB
/// limit (and then traps, as its handler does) but not under 60 MiB, though each memory
/// alone would fit. A core module with two memories of its own is refused at load, as a
/// component this host cannot compile (not as "not a component").
#[tokio::test]
async fn the_memory_limit_counts_every_memory_of_an_instance() -> anyhow::Result<()> {
    let two_in_one = wat::parse_str(
        r#"(component
            (core module $m (memory 1) (memory 1))
            (core instance (instantiate $m)))"#,
    )?;
    let refused = host::Runtime::from_bytes(
        &two_in_one,
        "two-in-one.wasm".as_ref(),
        RuntimeConfig::default(),
    )
    .err()
    .ok_or_else(|| anyhow::anyhow!("a module of two memories was loaded"))?;
    assert!(
        matches!(refused, host::LoadError::Compile { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("memories"), "{refused}");

    let wasm = wat::parse_str(include_str!("../../fixtures/two-memories.wat"))?;
    for (limit_mib, exceeds) in [(60, true), (96, false)] {
        let config = RuntimeConfig {
            limits: GuestLimits {
                max_memory_bytes: limit_mib << 20,
                ..GuestLimits::default()
            },
            ..RuntimeConfig::default()
        };
        let runtime = host::Runtime::from_bytes(&wasm, "two-memories.wasm".as_ref(), config)?;
        let ctx = host::RequestContext {
            https: false,
            client_addr: None,
            request_id: 1,
            guard: None,
            stop: host::StopSignal::never(),
        };
        let req = http::Request::get("http://localhost/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())?;
        let err = runtime
            .handle(req, ctx)
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("the handler traps: no response"))?;
        assert_eq!(err.status(), 500, "{err}");
        assert_eq!(
            matches!(err, host::RequestError::MemoryExceeded { .. }),
            exceeds,
            "{limit_mib} MiB: {err}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_resource_limits_are_the_configured_ones() -> anyhow::Result<()> {
    // Enough for a plain request...
    let server = fixtures(GuestLimits {
        max_resources: 16,
        max_field_bytes: 1024,
        ..GuestLimits::default()
    })
    .await?;
    assert_eq!(server.get("/ok").await?.status(), 200);
    // ...and no more.
    for path in ["/flood/resources", "/flood/fields"] {
        let res = faulty_beside_healthy(&server, path).await?;
        assert_problem(&res, 500)?;
    }
    Ok(())
}

#[tokio::test]
async fn guest_output_beyond_the_request_budget_is_dropped_and_said() -> anyhow::Result<()> {
    let log = crate::support::access_log();
    let server = fixtures(GuestLimits {
        max_output_bytes: 1000,
        ..GuestLimits::default()
    })
    .await?;
    let tag = format!("budget-{}", std::process::id());
    let res = server.get(&format!("/spew/100/{tag}")).await?;
    assert_eq!(res.status(), 200, "the request itself goes on");
    let first = log
        .wait_for(&format!("{tag} line 00000"), Duration::from_secs(5))
        .await?;
    let request_id = first
        .split_whitespace()
        .find_map(|field| field.strip_prefix("request_id="))
        .ok_or_else(|| anyhow::anyhow!("no request id in {first}"))?
        .to_owned();
    let id_field = format!("request_id={request_id}");
    log.wait_for_all(
        &["the rest of it is dropped", &id_field],
        Duration::from_secs(5),
    )
    .await?;
    // About 90 bytes a line: ten fit in the budget, the other ninety do not.
    let lines = log.count(&format!("{tag} line"));
    assert!((1..=11).contains(&lines), "{lines} lines logged");
    Ok(())
}
