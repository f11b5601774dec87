//! The router: any method, path and query against a table of static, parameter, catch-all
//! and grouped routes with middleware. It must answer (never panic), HEAD without content,
//! and a matched route with what its handler says.
#![no_main]

use std::sync::OnceLock;

use edge_toolkit::cache::ConditionalRequests;
use edge_toolkit::middleware::{Compression, Cors};
use edge_toolkit::{PathParams, Problem, Request, Response, Router};
use libfuzzer_sys::fuzz_target;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let echo = |req: Request| -> Result<Response, Problem> {
            let params = PathParams::of(&req);
            let text = format!("{:?} {:?}", params.get("id"), params.get("rest"));
            Ok(Response::new(text.into_bytes()))
        };
        Router::new()
            .layer(Cors::new().with_any_origin())
            .layer(ConditionalRequests::new())
            .layer(Compression::new().with_min_size(16))
            .get("/", echo)
            .and_then(|r| r.get("/users/{id}", echo))
            .and_then(|r| r.put("/users/{id}", echo))
            .and_then(|r| r.get("/files/{*rest}", echo))
            .and_then(|r| {
                r.group("/api/v1", |g| {
                    g.get("/items/{id}", echo).post("/items", echo)
                })
            })
            .expect("valid routes")
    })
}

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (path, header) = text.split_once('\n').unwrap_or((&text, ""));
    let method = METHODS[usize::from(selector) % METHODS.len()];
    let Ok(uri) = http::Uri::try_from(format!("/{}", path.trim_start_matches('/'))) else {
        return;
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some((name, value)) = header.split_once(':')
        && let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name.trim()),
            http::HeaderValue::try_from(value.trim()),
        )
    {
        builder = builder.header(name, value);
    }
    let Ok(req) = builder.body(Vec::new()) else {
        return;
    };
    let res = router().handle(req);
    if method == "HEAD" {
        assert!(res.body().is_empty(), "HEAD answered with content");
    }
    assert!(res.status().as_u16() >= 200, "a final status");
});
