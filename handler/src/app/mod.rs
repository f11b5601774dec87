//! The example application: what `spin up` and the host serve from this crate's component.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/health` | `200` `{"status":"healthy","timestamp":"<RFC 3339>"}`, `Cache-Control: no-store` |
//! | `GET /api/v1/users` | `200` every user, `Cache-Control: max-age=60, stale-while-revalidate=30` |
//! | `POST /api/v1/users` | auth; `201` with `Location` and the user; `415`/`400`/`422` for bad bodies |
//! | `GET /api/v1/users/{id}` | `200` the user (`max-age=60`), or `404` |
//! | `PUT /api/v1/users/{id}` | auth; replaces the user, `200`; `If-Match` honoured (`412`) |
//! | `PATCH /api/v1/users/{id}` | auth; JSON merge patch (RFC 7396), `200` |
//! | `DELETE /api/v1/users/{id}` | auth; `204` |
//! | `GET /api/v1/events` | `text/event-stream`: three `tick` events, ids 1 to 3, 50 ms apart |
//! | anything else | `404` (or `405` with `Allow`) as `application/problem+json` |
//!
//! "auth" is a bearer JWT signed with HS256 under the secret in the `JWT_SECRET`
//! environment variable (development default: [`DEV_JWT_SECRET`]), issued by
//! [`JWT_ISSUER`], granting the scope [`WRITE_SCOPE`]. Without a token a write is `401`; with
//! a token lacking the scope, `403`.
//!
//! The user store lives in the instance: each request gets a fresh instance
//! under a wasi-http host, so writes answer correctly but do not persist; reads always see
//! the seed data. Persistence comes later.
//!
//! # Middleware order
//!
//! Every response passes, outermost first, through:
//!
//! 1. [`RequestIdLayer`]: keeps or generates `x-request-id`;
//! 2. [`AccessLog`]: one JSON line per request on stderr, with the request id;
//! 3. [`SecurityHeaders`]: `nosniff`, CSP `frame-ancestors`, `Referrer-Policy`, HSTS over https;
//! 4. [`Cors`]: answers preflights, so they never reach authentication;
//! 5. [`ConditionalRequests`]: `ETag`, `304`, `412`;
//! 6. [`Compression`]: gzip or br by `Accept-Encoding`, from [`COMPRESS_FROM`] bytes.
//!
//! Compression sits *inside* conditional requests: the `ETag` is computed from the body as it
//! will be sent, and the coding is suffixed to it (`"<digest>-br"`), so each coding has its
//! own validator and a `304` is only ever given for the coding the client holds. Were the
//! order reversed, a gzip and an identity response would share a strong tag, which RFC 9110
//! §8.8.3 forbids. Writes (`POST`, `PUT`, `PATCH`, `DELETE`) also pass [`JwtAuth`] and a
//! 64 KiB [`BodyLimit`] of their own.

mod events;
mod users;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};
use serde::Serialize;

use crate::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
use crate::middleware::auth::{JwtAuth, JwtValidator};
use crate::middleware::{AccessLog, BodyLimit, Compression, Cors, RequestIdLayer, SecurityHeaders};
use crate::{Problem, Request, Response, RouteError, Router, Stack, json_response};

pub use users::{USERS_PATH, User, UserInput};

/// The secret writes are verified with when `JWT_SECRET` is unset. For development only:
/// set `JWT_SECRET` (`edge-host serve --env JWT_SECRET=...`) anywhere else.
pub const DEV_JWT_SECRET: &str = "edge-toolkit-development-secret";
/// The `iss` write tokens must carry.
pub const JWT_ISSUER: &str = "edge-toolkit";
/// The scope write tokens must grant.
pub const WRITE_SCOPE: &str = "users:write";
/// Responses from this size on are compressed: the API's JSON is small, so the threshold
/// is lower than [`Compression`]'s default.
pub const COMPRESS_FROM: usize = 512;
/// The largest request body a write accepts.
pub const MAX_WRITE_BODY: usize = 64 * 1024;

/// The body of `GET /api/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"healthy"` when the component answers at all.
    pub status: &'static str,
    /// The instance's wall-clock time, RFC 3339 in UTC with seconds.
    pub timestamp: String,
}

fn health(_req: Request) -> Result<Response, Problem> {
    let timestamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Ok(json_response(
        StatusCode::OK,
        &Health {
            status: "healthy",
            timestamp,
        },
    ))
}

/// The secret write tokens are verified with: `JWT_SECRET`, or [`DEV_JWT_SECRET`].
pub fn jwt_secret() -> String {
    std::env::var("JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEV_JWT_SECRET.to_owned())
}

fn cors() -> Cors {
    Cors::new()
        .with_any_origin()
        .with_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .with_headers([http::header::AUTHORIZATION, http::header::CONTENT_TYPE])
        .with_exposed_headers([
            http::header::LOCATION,
            http::header::ETAG,
            crate::middleware::X_REQUEST_ID,
        ])
        .with_max_age(Duration::from_secs(600))
}

/// The application's route table.
pub fn router() -> Result<Router, RouteError> {
    // A health answer is live state: never serve it from a cache.
    let no_store = Stack::new().layer(CacheControlLayer::new(CacheControl::new().with_no_store()));
    let list_cache = Stack::new().layer(CacheControlLayer::new(
        CacheControl::new()
            .with_max_age(Duration::from_secs(60))
            .with_stale_while_revalidate(Duration::from_secs(30)),
    ));
    let item_cache = Stack::new().layer(CacheControlLayer::new(
        CacheControl::new().with_max_age(Duration::from_secs(60)),
    ));
    let auth = JwtAuth::new(
        "edge-toolkit",
        JwtValidator::hs256(jwt_secret()).with_issuer(JWT_ISSUER),
    )
    .with_required_scope(WRITE_SCOPE);
    let writes = Stack::new()
        .layer(auth)
        .layer(BodyLimit::new(MAX_WRITE_BODY));

    Router::new()
        .layer(RequestIdLayer::new())
        .layer(AccessLog::new())
        .layer(SecurityHeaders::new())
        .layer(cors())
        .layer(ConditionalRequests::new())
        .layer(Compression::new().with_min_size(COMPRESS_FROM))
        .route_with(Method::GET, "/api/health", health, no_store)?
        .group("/api/v1", |v1| {
            v1.route_with(Method::GET, "/users", users::list, list_cache)
                .route_with(Method::POST, "/users", users::create, writes.clone())
                .route_with(Method::GET, "/users/{id}", users::get, item_cache)
                .route_with(Method::PUT, "/users/{id}", users::replace, writes.clone())
                .route_with(Method::PATCH, "/users/{id}", users::patch, writes.clone())
                .route_with(Method::DELETE, "/users/{id}", users::delete, writes)
                .get("/events", events::ticks)
        })
}

/// Answers one request with the application, building the route table once per instance.
pub fn handle(req: Request) -> Response {
    static ROUTER: OnceLock<Result<Router, RouteError>> = OnceLock::new();
    match ROUTER.get_or_init(router) {
        Ok(router) => router.handle(req),
        Err(err) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("the route table is invalid: {err}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Response {
        handle(
            http::Request::get(path)
                .body(Vec::new())
                .expect("valid request"),
        )
    }

    fn get_with(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut builder = http::Request::get(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(builder.body(Vec::new()).expect("valid request"))
    }

    fn send(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(
            builder
                .body(body.as_bytes().to_vec())
                .expect("valid request"),
        )
    }

    fn token(scope: &str) -> String {
        let claims = serde_json::json!({
            "sub": "tester", "iss": JWT_ISSUER, "scope": scope,
            "exp": 4_102_444_800_i64,
        });
        format!(
            "Bearer {}",
            crate::middleware::auth::jwt::sign_hs256(&claims, DEV_JWT_SECRET)
        )
    }

    fn body_json(res: &Response) -> serde_json::Value {
        serde_json::from_slice(res.body()).expect("json body")
    }

    #[test]
    fn users_are_listed_and_fetched_from_seed_data() {
        let res = get("/api/v1/users");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["cache-control"],
            "max-age=60, stale-while-revalidate=30"
        );
        assert!(res.headers().contains_key("etag"));
        let users = body_json(&res);
        assert_eq!(users[0]["name"], "Ada Lovelace");

        let res = get("/api/v1/users/2");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "max-age=60");
        assert_eq!(
            body_json(&res),
            serde_json::json!({"id": 2, "name": "Grace Hopper", "email": "grace@example.com"})
        );

        let res = get("/api/v1/users/999");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(!res.headers().contains_key("cache-control"));
        let res = get("/api/v1/users/abc");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn writes_need_a_token_with_the_write_scope() {
        let body = r#"{"name":"Edsger Dijkstra","email":"ewd@example.com"}"#;
        let json = ("content-type", "application/json");
        // (Authorization, status, `error` in WWW-Authenticate)
        let bad_sig = format!(
            "Bearer {}",
            crate::middleware::auth::jwt::sign_hs256(
                &serde_json::json!({"iss": JWT_ISSUER, "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
                "not the secret",
            )
        );
        let cases: Vec<(Option<String>, u16, Option<&str>)> = vec![
            (None, 401, None),
            (Some("Bearer garbage".into()), 401, Some("invalid_token")),
            (Some(bad_sig), 401, Some("invalid_token")),
            (Some(token("users:read")), 403, Some("insufficient_scope")),
            (Some(token(WRITE_SCOPE)), 201, None),
        ];
        for (authorization, status, error) in cases {
            let mut headers = vec![json];
            if let Some(value) = &authorization {
                headers.push(("authorization", value));
            }
            let res = send(Method::POST, "/api/v1/users", &headers, body);
            assert_eq!(res.status(), status, "{authorization:?}");
            if status == 201 {
                continue;
            }
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let challenge = res.headers()["www-authenticate"].to_str().expect("ascii");
            assert!(challenge.starts_with(r#"Bearer realm="edge-toolkit""#));
            match error {
                Some(code) => assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{challenge}"
                ),
                None => assert!(!challenge.contains("error="), "{challenge}"),
            }
        }
    }

    #[test]
    fn create_replace_patch_delete() {
        let auth = token(WRITE_SCOPE);
        let json = ("content-type", "application/json");
        let res = send(
            Method::POST,
            "/api/v1/users",
            &[json, ("authorization", &auth)],
            r#"{"name":" Barbara Liskov ","email":"barbara@example.com"}"#,
        );
        assert_eq!(res.status(), StatusCode::CREATED);
        let created = body_json(&res);
        let id = created["id"].as_u64().expect("id");
        let location = format!("/api/v1/users/{id}");
        assert_eq!(res.headers()["location"], location.as_str());
        assert_eq!(created["name"], "Barbara Liskov");
        let etag = res.headers()["etag"].to_str().expect("ascii").to_owned();
        assert_eq!(get(&location).headers()["etag"], etag.as_str());

        // A stale If-Match loses the update.
        let res = send(
            Method::PUT,
            &location,
            &[json, ("authorization", &auth), ("if-match", "\"stale\"")],
            r#"{"name":"B. Liskov","email":"bl@example.com"}"#,
        );
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        let res = send(
            Method::PUT,
            &location,
            &[json, ("authorization", &auth), ("if-match", &etag)],
            r#"{"name":"B. Liskov","email":"bl@example.com"}"#,
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_json(&res)["email"], "bl@example.com");

        let res = send(
            Method::PATCH,
            &location,
            &[
                ("content-type", "application/merge-patch+json"),
                ("authorization", &auth),
            ],
            r#"{"name":"Barbara"}"#,
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            body_json(&res),
            serde_json::json!({"id": id, "name": "Barbara", "email": "bl@example.com"})
        );
        // Removing a required member is a 422 problem.
        let res = send(
            Method::PATCH,
            &location,
            &[json, ("authorization", &auth)],
            r#"{"email":null}"#,
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let res = send(
            Method::PATCH,
            &location,
            &[json, ("authorization", &auth)],
            r#"{"email":"nope"}"#,
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body_json(&res)["errors"][0]["field"], "email");

        let res = send(Method::DELETE, &location, &[("authorization", &auth)], "");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(res.body().is_empty());
        assert_eq!(get(&location).status(), StatusCode::NOT_FOUND);
        let res = send(Method::DELETE, &location, &[("authorization", &auth)], "");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn bad_bodies_are_415_400_422() {
        let auth = token(WRITE_SCOPE);
        // (Content-Type, body, status)
        let cases = [
            (None, r#"{"name":"A","email":"a@b"}"#, 415),
            (Some("text/plain"), r#"{"name":"A","email":"a@b"}"#, 415),
            (Some("application/json"), r#"{"name":"A","#, 400),
            (Some("application/json"), r#"{"name":"A"}"#, 422),
            (
                Some("application/json"),
                r#"{"name":"A","email":"a@b","x":1}"#,
                422,
            ),
            (Some("application/json"), r#"{"name":"","email":"ab"}"#, 422),
        ];
        for (content_type, body, status) in cases {
            let mut headers = vec![("authorization", auth.as_str())];
            if let Some(ct) = content_type {
                headers.push(("content-type", ct));
            }
            let res = send(Method::POST, "/api/v1/users", &headers, body);
            assert_eq!(res.status(), status, "{content_type:?} {body}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
        let res = send(
            Method::POST,
            "/api/v1/users",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            r#"{"name":"","email":"ab"}"#,
        );
        let fields: Vec<_> = body_json(&res)["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(fields, ["name", "email"]);

        let big = format!(
            r#"{{"name":"{}","email":"a@b"}}"#,
            "x".repeat(MAX_WRITE_BODY)
        );
        let res = send(
            Method::POST,
            "/api/v1/users",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &big,
        );
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn cors_preflight_and_actual_request() {
        let res = send(
            Method::OPTIONS,
            "/api/v1/users",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            "",
        );
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, HEAD, POST, PUT, PATCH, DELETE"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert!(h.contains_key("x-request-id"));

        let res = get_with("/api/v1/users/1", &[("origin", "https://app.example")]);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            res.headers()["access-control-expose-headers"],
            "location, etag, x-request-id"
        );
    }

    #[test]
    fn users_list_is_compressed_with_an_etag_per_coding() {
        use std::io::Read as _;

        let plain = get_with("/api/v1/users", &[("accept-encoding", "identity")]);
        assert!(!plain.headers().contains_key("content-encoding"));
        assert_eq!(plain.headers()["vary"], "Accept-Encoding");
        let plain_etag = plain.headers()["etag"].to_str().expect("ascii").to_owned();

        let gzip = get_with("/api/v1/users", &[("accept-encoding", "gzip")]);
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        assert_eq!(gzip.headers()["vary"], "Accept-Encoding");
        let gzip_etag = gzip.headers()["etag"].to_str().expect("ascii").to_owned();
        assert!(gzip_etag.ends_with("-gzip\""), "{gzip_etag}");
        assert_ne!(gzip_etag, plain_etag);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(gzip.body().as_slice())
            .read_to_end(&mut decoded)
            .expect("gzip");
        let users: serde_json::Value = serde_json::from_slice(&decoded).expect("json");
        assert_eq!(users[0]["name"], "Ada Lovelace");

        let br = get_with("/api/v1/users", &[("accept-encoding", "gzip, br")]);
        assert_eq!(br.headers()["content-encoding"], "br");

        // Revalidation works per coding: the gzip tag matches only a gzip response.
        let res = get_with(
            "/api/v1/users",
            &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)],
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()["etag"], gzip_etag.as_str());
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        let res = get_with(
            "/api/v1/users",
            &[("accept-encoding", "br"), ("if-none-match", &gzip_etag)],
        );
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn events_stream_three_ticks() {
        let res = get_with("/api/v1/events", &[("accept-encoding", "gzip")]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        assert!(!res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("content-encoding"));
        assert!(res.headers().contains_key("x-request-id"));
        let body = String::from_utf8(crate::stream::collect_body(res)).expect("utf-8");
        assert_eq!(
            body,
            "event: tick\nid: 1\ndata: {\"tick\":1}\n\n\
             event: tick\nid: 2\ndata: {\"tick\":2}\n\n\
             event: tick\nid: 3\ndata: {\"tick\":3}\n\n"
        );

        let res = get_with("/api/v1/events", &[("last-event-id", "2")]);
        let body = String::from_utf8(crate::stream::collect_body(res)).expect("utf-8");
        assert_eq!(body, "event: tick\nid: 3\ndata: {\"tick\":3}\n\n");

        // HEAD gets the headers and no stream.
        let res = handle(
            http::Request::head("/api/v1/events")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert!(!crate::stream::BodyStream::is_streaming(&res));
        assert!(crate::stream::collect_body(res).is_empty());
    }

    #[test]
    fn health_is_json_with_rfc3339_timestamp() {
        let res = get("/api/health");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["status"], "healthy");
        let ts = body["timestamp"].as_str().expect("timestamp is a string");
        humantime::parse_rfc3339(ts).expect("timestamp is RFC 3339");
    }

    #[test]
    fn unknown_path_is_problem_json() {
        let res = get("/nope");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }

    #[test]
    fn health_is_not_stored_and_carries_global_headers() {
        let res = get("/api/health");
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(!h.contains_key("strict-transport-security"));
        let id = h["x-request-id"].to_str().expect("ascii");
        assert_eq!(id.len(), 32);
        let etag = crate::cache::ETag::from_header(&h["etag"]).expect("valid ETag");
        assert_eq!(etag, crate::cache::ETag::from_body(res.body()));
    }

    #[test]
    fn request_id_is_kept_and_hsts_sent_over_https() {
        let res = get_with(
            "/api/health",
            &[("x-request-id", "trace-7"), ("x-forwarded-proto", "https")],
        );
        assert_eq!(res.headers()["x-request-id"], "trace-7");
        assert!(res.headers().contains_key("strict-transport-security"));
    }

    #[test]
    fn router_answers_get_global_middleware_too() {
        let res = get_with("/nope", &[("x-request-id", "r-404")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["x-request-id"], "r-404");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(!res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("cache-control"));
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["instance"], "/nope");

        let res = handle(
            http::Request::post("/api/health")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
        assert!(res.headers().contains_key("x-request-id"));
    }

    #[test]
    fn conditional_requests_on_health() {
        // A wildcard If-None-Match matches any current representation: 304, no body.
        let res = get_with("/api/health", &[("if-none-match", "*")]);
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert!(res.body().is_empty());
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("content-type"));
        assert!(res.headers().contains_key("x-request-id"));

        let res = get_with("/api/health", &[("if-match", "\"stale\"")]);
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(res.headers()["content-type"], "application/problem+json");

        let res = get_with("/api/health", &[("if-none-match", "\"stale\"")]);
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn head_health_keeps_etag_of_get() {
        let res = handle(
            http::Request::head("/api/health")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.body().is_empty());
        assert!(res.headers().contains_key("content-length"));
        // Computed from the GET body, not from the empty HEAD body.
        let etag = crate::cache::ETag::from_header(&res.headers()["etag"]).expect("valid");
        assert_ne!(etag, crate::cache::ETag::from_body(b""));
    }
}
