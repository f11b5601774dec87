//! The application through its route table: helpers here, tests by subject in the
//! submodules.

mod auth;
mod endpoints;
mod users;

use std::sync::atomic::{AtomicUsize, Ordering};

use edge_toolkit::kv::{KvError, Store, inject_failure};

use super::*;
use crate::{JWT_ISSUER, MAX_NAME_CHARS, VAR_JWT_SECRET, user_key};

/// The secret the tests' applications verify write tokens with.
const SECRET: &str = "the unit tests' secret, 32 bytes";

fn get(path: &str) -> Response {
    get_with(path, &[])
}

fn get_with(path: &str, headers: &[(&str, &str)]) -> Response {
    send(Method::GET, path, headers, "")
}

fn send(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    handle(request(method, path, headers, body))
}

fn request(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(body.as_bytes().to_vec())
        .expect("valid request")
}

fn token(scope: &str) -> String {
    let claims = serde_json::json!({
        "sub": "tester", "iss": JWT_ISSUER, "scope": scope,
        "exp": 4_102_444_800_i64,
    });
    format!(
        "Bearer {}",
        edge_toolkit::middleware::auth::jwt::sign_hs256(&claims, SECRET)
    )
}

fn body_json(res: &Response) -> serde_json::Value {
    serde_json::from_slice(res.body()).expect("json body")
}

fn header(res: &Response, name: &str) -> String {
    res.headers()[name].to_str().expect("ascii").to_owned()
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// The application over an empty key-value store of its own.
struct App {
    router: Router,
    label: String,
    auth: String,
}

impl App {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let label = format!("app-test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        Store::open(&label)
            .and_then(|store| store.clear())
            .expect("an in-memory store");
        let config = AppConfig::new(SECRET)
            .expect("a long secret")
            .with_users_store(label.as_str());
        Self {
            router: router_with(&config).expect("valid routes"),
            label,
            auth: token(WRITE_SCOPE),
        }
    }

    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        self.router.handle(request(method, path, headers, body))
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send(Method::GET, path, headers, "")
    }

    /// A write with the token, JSON, and these extra headers.
    fn write(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut all = vec![("authorization", self.auth.as_str()), JSON];
        all.extend_from_slice(headers);
        self.send(method, path, &all, body)
    }

    /// Creates a user: (location, ETag, body).
    fn create(&self, name: &str, email: &str) -> (String, String, serde_json::Value) {
        let body = serde_json::json!({"name": name, "email": email}).to_string();
        let res = self.write(Method::POST, "/api/v1/users", &[], &body);
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.body());
        (
            header(&res, "location"),
            header(&res, "etag"),
            body_json(&res),
        )
    }
}
