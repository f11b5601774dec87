//! The example application's whole middleware stack per request, and building its route
//! table, which every fresh instance pays once unless the component was pre-initialised.
//! (Router lookup alone is `cargo bench -p edge-toolkit --bench router`.)
//!
//! ```sh
//! cargo bench -p example --bench app -- --quick 2>/dev/null   # the access log goes to stderr
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edge_toolkit::{Request, Router};
use example::AppConfig;

/// The secret write tokens are signed and verified with.
const SECRET: &str = "the benchmark's secret, 32 bytes";
use http::Method;

fn request(method: Method, path: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .body(Vec::new())
        .expect("valid request")
}

/// Creates ten users in the application's store (in memory, natively), so the list is big
/// enough to compress; returns the path of the first.
fn seed_users(app: &Router) -> String {
    let claims = serde_json::json!({
        "sub": "bench",
        "iss": example::JWT_ISSUER,
        "scope": example::WRITE_SCOPE,
        "exp": 4_102_444_800_i64,
    });
    let token = edge_toolkit::jwt::sign_hs256(&claims, SECRET);
    let mut first = None;
    for n in 0..10 {
        let body = serde_json::json!({"name": format!("User {n}"), "email": format!("user{n}@example.com")});
        let req = http::Request::post("/api/v1/users")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .expect("valid request");
        let res = app.handle(req);
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
    // The application as a deployment configures it (there is no built-in secret).
    let app = example::router_with(&AppConfig::new(SECRET).expect("a long secret"))
        .expect("valid routes");
    let user = seed_users(&app);
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
                |req| black_box(app.handle(req)),
                BatchSize::SmallInput,
            )
        });
    }
    // What every fresh instance pays once, on its first request.
    group.bench_function("build route table", |b| {
        b.iter(|| black_box(example::router()))
    });
    group.finish();
}

criterion_group!(benches, app);
criterion_main!(benches);
