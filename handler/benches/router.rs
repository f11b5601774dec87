//! Router lookup on a realistic route table, and the example application's whole middleware
//! stack per request.
//!
//! ```sh
//! cargo bench -p handler -- --quick 2>/dev/null   # the app's access log goes to stderr
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use handler::{Request, Response, Router};
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

fn ok(_req: Request) -> Result<Response, handler::Problem> {
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

fn app(c: &mut Criterion) {
    let mut group = c.benchmark_group("app");
    for (name, path, headers) in [
        ("health", "/api/health", &[][..]),
        ("user", "/api/v1/users/3", &[][..]),
        (
            "user 304",
            "/api/v1/users/3",
            &[
                ("if-none-match", "\"ffffffffffffffffffffffffffffffff\""),
                ("origin", "https://a.example"),
            ][..],
        ),
        (
            "users gzip",
            "/api/v1/users",
            &[("accept-encoding", "gzip")][..],
        ),
        (
            "users br",
            "/api/v1/users",
            &[("accept-encoding", "br")][..],
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut req = request(Method::GET, path);
                    for (header, value) in headers {
                        req.headers_mut()
                            .insert(*header, value.parse().expect("valid header value"));
                    }
                    req
                },
                |req| black_box(handler::app::handle(req)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, router, app);
criterion_main!(benches);
