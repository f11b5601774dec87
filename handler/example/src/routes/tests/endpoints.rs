//! The other endpoints (health, greeting, upstream, events) and the middleware every
//! response passes.

use super::*;

#[test]
fn greeting_uses_the_variable_default() {
    let res = get("/api/v1/greeting");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(
        body_json(&res),
        serde_json::json!({"message": "Hello, world!"})
    );
    let res = get("/api/v1/greeting?name=Ada");
    assert_eq!(res.body().as_slice(), br#"{"message":"Hello, Ada!"}"#);
    let res = get("/api/v1/greeting?name=Ada+Lovelace&x=1");
    assert_eq!(body_json(&res)["message"], "Hello, Ada Lovelace!");
    let res = get("/api/v1/greeting?name=%C3%89mile");
    assert_eq!(body_json(&res)["message"], "Hello, Émile!");

    let longest = "é".repeat(MAX_NAME_CHARS);
    let res = get(&format!(
        "/api/v1/greeting?name={}",
        "%C3%A9".repeat(MAX_NAME_CHARS)
    ));
    assert_eq!(body_json(&res)["message"], format!("Hello, {longest}!"));
    let res = get(&format!(
        "/api/v1/greeting?name={}",
        "x".repeat(MAX_NAME_CHARS + 1)
    ));
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(body_json(&res)["errors"][0]["parameter"], "name");

    let res = get("/api/v1/greeting?name=%FF");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn upstream_routes_answer_502_natively() {
    // Natively there is no network: the default transport refuses at once, untried again.
    for method in [Method::GET, Method::POST] {
        let res = send(method.clone(), "/api/v1/upstream/items?x=1", &[], "");
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{method}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.headers()["upstream-attempts"], "1");
        let detail = body_json(&res)["detail"]
            .as_str()
            .expect("detail")
            .to_owned();
        // The forwarded path only: no origin, no query.
        assert!(
            detail.starts_with(&format!(
                "{method} /items failed after 1 attempt: the host refused the destination"
            )),
            "{detail}"
        );
        for leak in ["127.0.0.1", "8081", "http", "x=1"] {
            assert!(!detail.contains(leak), "{leak} in {detail}");
        }
    }
    let res = send(Method::PUT, "/api/v1/upstream/items", &[], "");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, POST, HEAD, OPTIONS");
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
                "authorization, content-type, if-match",
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
        "authorization, content-type, if-match, if-none-match"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h.contains_key("x-request-id"));

    let res = get_with("/api/health", &[("origin", "https://app.example")]);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        res.headers()["access-control-expose-headers"],
        "location, etag, x-request-id, upstream-attempts"
    );
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
    let body = String::from_utf8(edge_toolkit::stream::collect_body(res)).expect("utf-8");
    assert_eq!(
        body,
        "event: tick\nid: 1\ndata: {\"tick\":1}\n\n\
         event: tick\nid: 2\ndata: {\"tick\":2}\n\n\
         event: tick\nid: 3\ndata: {\"tick\":3}\n\n"
    );

    let res = get_with("/api/v1/events", &[("last-event-id", "2")]);
    let body = String::from_utf8(edge_toolkit::stream::collect_body(res)).expect("utf-8");
    assert_eq!(body, "event: tick\nid: 3\ndata: {\"tick\":3}\n\n");

    // Nothing left to send: 204, so the client stops reconnecting; an id at the top of the
    // range is no overflow.
    for id in ["3", "4", "18446744073709551615"] {
        let res = get_with("/api/v1/events", &[("last-event-id", id)]);
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{id}");
        assert!(
            !edge_toolkit::stream::BodyStream::is_streaming(&res),
            "{id}"
        );
    }

    // HEAD gets the headers and no stream.
    let res = handle(
        http::Request::head("/api/v1/events")
            .body(Vec::new())
            .expect("valid request"),
    );
    assert!(!edge_toolkit::stream::BodyStream::is_streaming(&res));
    assert!(edge_toolkit::stream::collect_body(res).is_empty());
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
    let etag = edge_toolkit::cache::ETag::from_header(&h["etag"]).expect("valid ETag");
    assert_eq!(etag, edge_toolkit::cache::ETag::from_body(res.body()));
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
    let etag = edge_toolkit::cache::ETag::from_header(&res.headers()["etag"]).expect("valid");
    assert_ne!(etag, edge_toolkit::cache::ETag::from_body(b""));
}

#[test]
fn the_greeting_speaks_the_preferred_language() {
    let res = get("/api/v1/greeting?name=Ada");
    assert_eq!(res.headers()["content-language"], "en");
    assert_eq!(res.headers()["vary"], "Accept-Language");
    let res = get_with(
        "/api/v1/greeting?name=Ada",
        &[("accept-language", "fr-CH, fr;q=0.9, en;q=0.5")],
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-language"], "fr");
    assert_eq!(body_json(&res)["message"], "Bonjour, Ada!");
    let res = get_with("/api/v1/greeting", &[("accept-language", "de-DE")]);
    assert_eq!(body_json(&res)["message"], "Hallo, world!");
    // Nothing offered is acceptable: the default language, not an error.
    let res = get_with("/api/v1/greeting", &[("accept-language", "ja")]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-language"], "en");
    assert_eq!(body_json(&res)["message"], "Hello, world!");
}
