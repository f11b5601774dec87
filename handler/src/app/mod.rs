//! The example application: what `spin up` and the host serve from this crate's component.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/health` | `200` `{"status":"healthy","timestamp":"<RFC 3339>"}`, `Cache-Control: no-store` |
//! | anything else | `404` (or `405` with `Allow`) as `application/problem+json` |
//!
//! Every response passes, outermost first, through [`RequestIdLayer`] (keeps or generates
//! `x-request-id`), [`SecurityHeaders`] and [`ConditionalRequests`] (`ETag`, `304`, `412`).

use std::sync::OnceLock;
use std::time::SystemTime;

use http::{Method, StatusCode};
use serde::Serialize;

use crate::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
use crate::middleware::{RequestIdLayer, SecurityHeaders};
use crate::{Problem, Request, Response, RouteError, Router, Stack, json_response};

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

/// The application's route table.
pub fn router() -> Result<Router, RouteError> {
    // A health answer is live state: never serve it from a cache.
    let no_store = Stack::new().layer(CacheControlLayer::new(CacheControl::new().with_no_store()));
    Router::new()
        .layer(RequestIdLayer::new())
        .layer(SecurityHeaders::new())
        .layer(ConditionalRequests::new())
        .route_with(Method::GET, "/api/health", health, no_store)
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
