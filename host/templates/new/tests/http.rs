//! The component as a client sees it: `edge-host`'s test harness runs the build command of
//! spin.toml, loads the application as `edge-host up` does (its variables, a key-value store
//! in memory) and sends it requests, in-process.

use edge_host::Harness;

async fn app() -> anyhow::Result<Harness> {
    Ok(Harness::manifest("spin.toml").build_first().load()?)
}

#[tokio::test]
async fn greets_with_the_variable() -> anyhow::Result<()> {
    let app = Harness::manifest("spin.toml")
        .build_first()
        .variable("greeting", "Howdy")
        .load()?;
    let res = app.get("/hello/Ada").await?;
    res.assert_status(200)
        .assert_header("content-type", "application/json");
    assert_eq!(res.json::<serde_json::Value>()?["message"], "Howdy, Ada!");
    Ok(())
}

#[tokio::test]
async fn notes_are_stored() -> anyhow::Result<()> {
    let app = app().await?;
    app.put("/notes/todo", "write a handler")
        .await?
        .assert_status(204);
    let res = app.get("/notes/todo").await?;
    res.assert_status(200);
    assert_eq!(res.text(), "write a handler");
    app.get("/notes/other").await?.assert_status(404);
    Ok(())
}

#[tokio::test]
async fn a_note_too_large_is_413() -> anyhow::Result<()> {
    let app = app().await?;
    let big = "x".repeat(__CRATE__::MAX_NOTE_BYTES + 1);
    app.put("/notes/big", big).await?.assert_status(413);
    Ok(())
}
