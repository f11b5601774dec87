//! __NAME__: an HTTP handler built with the edge toolkit, compiled to a wasm32-wasip2
//! component that `edge-host up`, `spin up` and any wasi:http host serve.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /` | `200` `{"message":"Hello, world!"}` |
//! | `GET /hello/{name}` | `200` `{"message":"Hello, <name>!"}`; the greeting is the `greeting` variable |
//! | `PUT /notes/{key}` | stores the body (at most 16 KiB) in the key-value store `default`, `204` |
//! | `GET /notes/{key}` | `200` the note, or a `404` problem |
//!
//! Everything but `src/component.rs` compiles natively: `cargo test` runs the unit tests
//! below and `tests/http.rs`, which builds the component and serves it through the host.

#[cfg(target_arch = "wasm32")]
mod component;

use std::sync::OnceLock;

use edge_toolkit::body::BodyPlan;
use edge_toolkit::extract::{Json, Path};
use edge_toolkit::middleware::{AccessLog, BodyLimit, RequestIdLayer};
use edge_toolkit::{Problem, Request, Response, RouteError, Router, config, kv};
use http::{StatusCode, header};
use serde::Serialize;

/// The largest note stored, in bytes (`413` above it, before the body is read).
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The body of the greetings.
#[derive(Debug, Serialize)]
pub struct Greeting {
    /// `"<greeting>, <name>!"`.
    pub message: String,
}

/// The route table. A handler is a function of extractors (`Path`, `Query`, `Json`,
/// `State`...) returning anything that becomes a response, or a `Problem`.
pub fn router() -> Result<Router, RouteError> {
    // Middleware outermost first: every response gets an `x-request-id` and an access-log
    // line; bodies over the limit are `413`.
    Router::new()
        .layer(RequestIdLayer::new())
        .layer(AccessLog::new())
        .layer(BodyLimit::new(MAX_NOTE_BYTES))
        .get("/", || greet("world"))?
        .get("/hello/{name}", |Path(name): Path<String>| greet(&name))?
        .get("/notes/{key}", get_note)?
        .put("/notes/{key}", put_note)
}

fn greet(name: &str) -> Result<Json<Greeting>, Problem> {
    let greeting = config::get_or("greeting", "Hello")?;
    let message = format!("{greeting}, {name}!");
    Ok(Json(Greeting { message }))
}

type Text = ([(header::HeaderName, &'static str); 1], Vec<u8>);

fn get_note(Path(key): Path<String>) -> Result<Text, Problem> {
    let Some(note) = kv::Store::open_default()?.get(&key)? else {
        return Err(Problem::new(StatusCode::NOT_FOUND).with_detail(format!("no note `{key}`")));
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

fn put_note(Path(key): Path<String>, note: Vec<u8>) -> Result<StatusCode, Problem> {
    kv::Store::open_default()?.set(&key, &note)?;
    Ok(StatusCode::NO_CONTENT)
}

static ROUTER: OnceLock<Result<Router, RouteError>> = OnceLock::new();

/// Builds the route table now: the component's `wizer-initialize` export, so that a host can
/// snapshot the instance with it built.
pub fn init() {
    ROUTER.get_or_init(router);
}

/// How the component reads the body of the route of `head`: no more than its limit
/// (`413` before the rest is read), streamed to handlers that take an `Upload`.
pub fn body_plan(head: &http::request::Parts) -> BodyPlan {
    ROUTER
        .get_or_init(router)
        .as_ref()
        .map(|router| router.body_plan(head))
        .unwrap_or_default()
}

/// Answers one request, building the route table once per instance. Handlers may be
/// `async fn`s: on a WASI 0.3 instance, other requests go on while one waits.
pub async fn serve(req: Request) -> Response {
    match ROUTER.get_or_init(router) {
        Ok(router) => router.serve(req).await,
        Err(err) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("the route table is invalid: {err}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Response {
        router().expect("valid routes").handle(
            http::Request::get(path)
                .body(Vec::new())
                .expect("a request"),
        )
    }

    #[test]
    fn greets_by_name() {
        let res = get("/hello/Ada");
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("JSON");
        assert_eq!(body["message"], "Hello, Ada!");
    }

    #[test]
    fn unknown_paths_are_404_problems() {
        let res = get("/nowhere");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
}
