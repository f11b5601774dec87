//! Middleware that writes one structured line per request.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::AccessLog;
//!
//! let lines = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&lines);
//! let app = Stack::new()
//!     .layer(AccessLog::with_sink(move |line: &str| sink.lock().unwrap().push(line.to_owned())))
//!     .handler(|_req: Request| Ok(Response::new(vec![])));
//!
//! app.call_blocking(http::Request::get("/hello?x=1").body(vec![]).unwrap()).unwrap();
//! let lines = lines.lock().unwrap();
//! let entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
//! assert_eq!(entry["method"], "GET");
//! assert_eq!(entry["path"], "/hello");
//! assert_eq!(entry["status"], 200);
//! assert!(entry["duration_ms"].as_f64().unwrap() >= 0.0);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::HandlerFuture;
use crate::middleware::RequestId;
use crate::middleware::chain::status_of;
use crate::{Middleware, Next, Request};

type Sink = dyn Fn(&str) + Send + Sync;

/// Writes one JSON line per request: `method`, `path` (without the query, which may carry
/// secrets), `status`, `duration_ms` and, when a
/// [`RequestIdLayer`](crate::middleware::RequestIdLayer) runs outside it, `request_id`.
///
/// Lines go to standard error by default, which the host shows as the guest's log; a sink of
/// your own (for tests, or another format of transport) takes each line without its newline.
///
/// ```text
/// {"method":"GET","path":"/api/health","status":200,"duration_ms":0.412,"request_id":"3f2a..."}
/// ```
///
/// ```
/// use edge_toolkit::Router;
/// use edge_toolkit::middleware::{AccessLog, RequestIdLayer};
///
/// // The request id layer goes outside the log, so the log can include the id.
/// let router = Router::new().layer(RequestIdLayer::new()).layer(AccessLog::new());
/// let res = router.handle(http::Request::get("/missing").body(vec![]).unwrap());
/// assert_eq!(res.status(), 404); // and stderr has the line for it
/// ```
#[derive(Clone)]
pub struct AccessLog {
    sink: Arc<Sink>,
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

impl Default for AccessLog {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl AccessLog {
    /// Logs to standard error.
    pub fn new() -> Self {
        Self::with_sink(|line: &str| eprintln!("{line}"))
    }

    /// Logs to `sink`, called once per request with the line (no trailing newline).
    pub fn with_sink(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self {
            sink: Arc::new(sink),
        }
    }
}

impl Middleware for AccessLog {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let start = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let request_id = RequestId::of(&req).cloned();
            let result = next.run(req).await;
            let entry = Entry {
                method: method.as_str(),
                path: &path,
                status: status_of(&result).as_u16(),
                duration_ms: (start.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0,
                request_id: request_id.as_ref().map(RequestId::as_str),
            };
            // Serialising strings and numbers cannot fail; a line is never worth a failed request.
            if let Ok(line) = serde_json::to_string(&entry) {
                (self.sink)(&line);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Problem, Response};
    use std::sync::Mutex;

    use http::{Method, StatusCode};

    use super::*;
    use crate::middleware::RequestIdLayer;
    use crate::{Handler, Stack};

    fn capture() -> (AccessLog, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let log = AccessLog::with_sink(move |line: &str| {
            sink.lock().expect("unpoisoned").push(line.to_owned());
        });
        (log, lines)
    }

    fn entries(lines: &Mutex<Vec<String>>) -> Vec<serde_json::Value> {
        lines
            .lock()
            .expect("unpoisoned")
            .iter()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn one_line_per_request_with_status_of_responses_and_problems() {
        let (log, lines) = capture();
        let app = Stack::new()
            .layer(log)
            .handler(|req: Request| match req.uri().path() {
                "/ok" => Ok(Response::new(Vec::new())),
                "/created" => {
                    let mut res = Response::new(Vec::new());
                    *res.status_mut() = StatusCode::CREATED;
                    Ok(res)
                }
                _ => Err(Problem::new(StatusCode::NOT_FOUND)),
            });
        // (method, uri, logged path, status)
        let cases = [
            (Method::GET, "/ok", "/ok", 200),
            (Method::POST, "/created?token=secret", "/created", 201),
            (Method::DELETE, "/missing", "/missing", 404),
        ];
        for (method, uri, _, status) in &cases {
            let req = http::Request::builder()
                .method(method.clone())
                .uri(*uri)
                .body(Vec::new())
                .expect("valid");
            let result = app.call_blocking(req);
            assert_eq!(status_of(&result), *status);
        }
        let logged = entries(&lines);
        assert_eq!(logged.len(), cases.len());
        for (entry, (method, uri, path, status)) in logged.iter().zip(&cases) {
            assert_eq!(entry["method"], method.as_str(), "{uri}");
            assert_eq!(entry["path"], *path, "{uri}");
            assert_eq!(entry["status"], *status, "{uri}");
            assert!(entry["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
            assert!(entry.get("request_id").is_none());
        }
        assert!(
            !lines
                .lock()
                .expect("unpoisoned")
                .iter()
                .any(|l| l.contains("secret"))
        );
    }

    #[test]
    fn includes_request_id_from_an_outer_layer() {
        let (log, lines) = capture();
        let app = Stack::new()
            .layer(RequestIdLayer::new())
            .layer(log)
            .handler(|_req: Request| Ok(Response::new(Vec::new())));
        let req = http::Request::get("/")
            .header("x-request-id", "req-1")
            .body(Vec::new())
            .expect("valid");
        app.call_blocking(req).expect("ok");
        assert_eq!(entries(&lines)[0]["request_id"], "req-1");
    }

    #[test]
    fn escapes_unusual_paths() {
        let (log, lines) = capture();
        let app = Stack::new()
            .layer(log)
            .handler(|_req: Request| Ok(Response::new(Vec::new())));
        app.call_blocking(
            http::Request::get("/a%22b\\")
                .body(Vec::new())
                .expect("valid"),
        )
        .expect("ok");
        let raw = lines.lock().expect("unpoisoned")[0].clone();
        assert!(raw.contains(r#""path":"/a%22b\\""#), "{raw}");
        assert_eq!(entries(&lines)[0]["path"], "/a%22b\\");
    }
}
