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

/// Creates ten users in the application's store (in memory, natively), so the list is big
/// enough to compress; returns the path of the first.
fn seed_users() -> String {
    let claims = serde_json::json!({
        "sub": "bench",
        "iss": handler::app::JWT_ISSUER,
        "scope": handler::app::WRITE_SCOPE,
        "exp": 4_102_444_800_i64,
    });
    let token = handler::jwt::sign_hs256(&claims, handler::app::DEV_JWT_SECRET);
    let mut first = None;
    for n in 0..10 {
        let body = serde_json::json!({"name": format!("User {n}"), "email": format!("user{n}@example.com")});
        let req = http::Request::post("/api/v1/users")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .expect("valid request");
        let res = handler::app::handle(req);
        assert_eq!(res.status(), 201, "seeding a user");
        let location = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        first.get_or_insert(location);
    }
    first.expect("ten users")
}

fn app(c: &mut Criterion) {
    let user = seed_users();
    let mut group = c.benchmark_group("app");
    for (name, path, headers) in [
        ("health", "/api/health", &[][..]),
        ("user", user.as_str(), &[][..]),
        (
            "user 304",
            user.as_str(),
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
    // What every fresh instance pays once, on its first request.
    group.bench_function("build route table", |b| {
        b.iter(|| black_box(handler::app::router()))
    });
    group.finish();
}

criterion_group!(benches, router, app);
criterion_main!(benches);
