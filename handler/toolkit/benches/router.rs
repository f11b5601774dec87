//! Router lookup on a realistic route table. (The example application's whole middleware
//! stack per request is `cargo bench -p example`.)
//!
//! ```sh
//! cargo bench -p edge-toolkit --bench router -- --quick
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edge_toolkit::{Request, Response, Router};
use http::Method;

/// A REST-ish table of 64 routes: versioned resources, nested collections, parameters and a
/// catch-all, like a mid-sized API.
fn route_table() -> Router {
    let resources = [
        "users",
        "teams",
        "projects",
        "issues",
        "comments",
        "labels",
        "milestones",
        "releases",
    ];
    let mut router = Router::new();
    for version in ["v1", "v2"] {
        for resource in resources {
            let collection = format!("/api/{version}/{resource}");
            let item = format!("{collection}/{{id}}");
            let nested = format!("{item}/events");
            let nested_item = format!("{item}/events/{{event_id}}");
            router = router
                .get(&collection, ok)
                .and_then(|r| r.post(&collection, ok))
                .and_then(|r| r.get(&item, ok))
                .and_then(|r| r.delete(&item, ok))
                .and_then(|r| r.get(&nested, ok))
                .and_then(|r| r.get(&nested_item, ok))
                .expect("valid routes");
        }
    }
    router
        .get("/api/health", ok)
        .and_then(|r| r.get("/static/{*path}", ok))
        .expect("valid routes")
}

fn ok(_req: Request) -> Result<Response, edge_toolkit::Problem> {
    Ok(Response::new(Vec::new()))
}

fn request(method: Method, path: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .body(Vec::new())
        .expect("valid request")
}

fn router(c: &mut Criterion) {
    let router = route_table();
    let mut group = c.benchmark_group("router");
    for (name, method, path) in [
        ("static", Method::GET, "/api/health"),
        ("collection", Method::GET, "/api/v2/milestones"),
        ("one param", Method::GET, "/api/v1/users/42"),
        ("two params", Method::GET, "/api/v2/releases/7/events/99"),
        ("catch-all", Method::GET, "/static/css/site/main.css"),
        ("404", Method::GET, "/api/v3/users"),
        ("405", Method::PUT, "/api/v1/users"),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || request(method.clone(), path),
                |req| black_box(router.handle(req)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, router);
criterion_main!(benches);
