//! The example application: what `spin up` and the host serve from this crate's component.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/health` | `200` `{"status":"healthy","timestamp":"<RFC 3339>"}` |
//! | anything else | `404` (or `405` with `Allow`) as `application/problem+json` |

use std::sync::OnceLock;
use std::time::SystemTime;

use http::StatusCode;
use serde::Serialize;

use crate::{Problem, Request, Response, RouteError, Router, json_response};

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
    Router::new().get("/api/health", health)
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
}
