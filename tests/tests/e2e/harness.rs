//! The in-process test API: no sockets, same runtime.

use host::Harness;

use crate::support::{EXAMPLE_WASM, FIXTURES_WASM};

#[tokio::test]
async fn harness_sends_requests_without_sockets() -> anyhow::Result<()> {
    let app = Harness::load(EXAMPLE_WASM)?;
    let res = app
        .send(http::Request::get("/api/health").body("")?)
        .await?;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(res.body())?;
    assert_eq!(body["status"], "healthy");

    let res = app.send(http::Request::get("/missing").body("")?).await?;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    Ok(())
}

#[tokio::test]
async fn harness_turns_guest_faults_into_their_responses() -> anyhow::Result<()> {
    let fixtures = Harness::load(FIXTURES_WASM)?;
    let res = fixtures.send(http::Request::get("/trap").body("")?).await?;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = fixtures
        .send(http::Request::post("/echo").body("four")?)
        .await?;
    assert_eq!(res.body().as_ref(), b"4");
    Ok(())
}

#[tokio::test]
async fn loading_something_that_is_not_a_component_is_a_typed_error() -> anyhow::Result<()> {
    let missing = Harness::load("/definitely/not/here.wasm").expect_err("missing file");
    assert!(matches!(missing, host::LoadError::Read { .. }), "{missing}");

    let path = std::env::temp_dir().join(format!("not-a-component-{}.wasm", std::process::id()));
    std::fs::write(&path, b"\0asm\x01\0\0\0")?; // a valid, empty core module
    let err = Harness::load(&path).expect_err("a core module is not a component");
    std::fs::remove_file(&path)?;
    assert!(
        matches!(err, host::LoadError::NotAComponent { .. }),
        "{err}"
    );
    Ok(())
}

/// The example exports `wizer-initialize`: the host runs it at load (building the route
/// table calls nothing on the host, or pre-initialisation would fail) and every instance
/// starts from the snapshot, also when it comes from the code cache. Reads and writes are
/// answered as without, with the variables of this runtime, not of the snapshot.
#[tokio::test]
async fn the_example_is_preinitialized_and_answers_as_without() -> anyhow::Result<()> {
    let secret = "e2e-secret-read-after-the-snapshot";
    let cache = std::env::temp_dir().join(format!("edge-host-preinit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    // The second load takes the pre-initialised code from the cache.
    for preinitialize in [true, true, false] {
        let config = host::RuntimeConfig {
            preinitialize,
            cache_dir: Some(cache.clone()),
            ..host::RuntimeConfig::default()
        };
        let platform = host::PlatformConfig {
            variables: [("jwt_secret".to_owned(), host::Variable::secret(secret))].into(),
            ..host::PlatformConfig::default()
        };
        let runtime =
            host::Runtime::load(std::path::Path::new(EXAMPLE_WASM), platform.link(config)?)?;
        assert_eq!(runtime.is_preinitialized(), preinitialize);
        let app = Harness::new(host::App::from(runtime));

        let res = app
            .send(http::Request::get("/api/health").body("")?)
            .await?;
        assert_eq!(res.status(), 200, "preinitialize: {preinitialize}");
        let body: serde_json::Value = serde_json::from_slice(res.body())?;
        assert_eq!(body["status"], "healthy");

        let post = |auth: String| {
            http::Request::post("/api/v1/users")
                .header("content-type", "application/json")
                .header("authorization", auth)
                .body(r#"{"name":"Ada","email":"ada@example.com"}"#)
        };
        let stale = crate::support::writer(); // the tests' usual secret, replaced here
        let res = app.send(post(stale)?).await?;
        assert_eq!(res.status(), 401, "preinitialize: {preinitialize}");
        let fresh = crate::support::token(secret, example::WRITE_SCOPE);
        let res = app.send(post(fresh)?).await?;
        assert_eq!(res.status(), 201, "preinitialize: {preinitialize}");
        let body: serde_json::Value = serde_json::from_slice(res.body())?;
        assert_eq!(body["name"], "Ada");
    }

    // No `wizer-initialize` export: nothing to pre-initialise.
    let fixtures = host::Runtime::load(
        std::path::Path::new(FIXTURES_WASM),
        host::PlatformConfig::default().link(host::RuntimeConfig::default())?,
    )?;
    assert!(!fixtures.is_preinitialized());
    std::fs::remove_dir_all(&cache)?;
    Ok(())
}
