//! The in-process test API: no sockets, same runtime.

use host::Harness;

use crate::support::{FIXTURES_WASM, HANDLER_WASM};

#[tokio::test]
async fn harness_sends_requests_without_sockets() -> anyhow::Result<()> {
    let app = Harness::load(HANDLER_WASM)?;
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
