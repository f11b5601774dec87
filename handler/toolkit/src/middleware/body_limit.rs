//! Middleware that rejects request bodies over a size limit.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::BodyLimit;
//!
//! let app = Stack::new()
//!     .layer(BodyLimit::new(4))
//!     .handler(|req: Request| Ok(Response::new(req.into_body())));
//!
//! let small = http::Request::post("/").body(b"abcd".to_vec()).unwrap();
//! assert_eq!(app.call_blocking(small).unwrap().body().as_slice(), b"abcd");
//!
//! let large = http::Request::post("/").body(b"abcde".to_vec()).unwrap();
//! let res = app.call_blocking(large).unwrap_err().into_response();
//! assert_eq!(res.status(), 413);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! ```

use http::{StatusCode, header};

use crate::HandlerFuture;
use crate::{Middleware, Next, Problem, Request};

/// Answers `413 Content Too Large` (as problem+json) when the request body is larger than
/// the limit, by its `Content-Length` or by its actual length, without calling the inner
/// handler.
///
/// On the wasm host the body has already been read into memory by the time middleware runs,
/// so this bounds what handlers work on rather than what the component receives; the
/// `Content-Length` check still rejects an announced oversized body before any parsing.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack};
/// use edge_toolkit::middleware::BodyLimit;
///
/// let app = Stack::new().layer(BodyLimit::new(1024)).handler(|_req: Request| Ok(Response::new(vec![])));
/// let req = http::Request::post("/").header("content-length", "4096").body(vec![]).unwrap();
/// assert_eq!(app.call_blocking(req).unwrap_err().status(), 413);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    max_bytes: usize,
}

impl BodyLimit {
    /// Allows bodies of at most `max_bytes` bytes.
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }

    /// The largest body allowed, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

impl Middleware for BodyLimit {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let actual = req.body().len();
            let too_large =
                |len: u64| usize::try_from(len).map_or(true, |len| len > self.max_bytes);
            if let Some(len) = declared.filter(|&len| too_large(len)) {
                return Err(too_large_problem(len, self.max_bytes));
            }
            if actual > self.max_bytes {
                return Err(too_large_problem(actual as u64, self.max_bytes));
            }
            next.run(req).await
        })
    }

    fn max_body(&self) -> Option<u64> {
        Some(self.max_bytes as u64)
    }
}

/// The `413` problem for a body of `len` bytes where at most `max` are accepted.
pub(crate) fn too_large_problem(len: u64, max: usize) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE).with_detail(format!(
        "the request body is {len} bytes; at most {max} bytes are accepted"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;
    use crate::{Handler, Stack};

    #[test]
    fn limits_by_declared_and_actual_length() {
        // (body length, Content-Length header, accepted?)
        let cases: [(usize, Option<&str>, bool); 9] = [
            (0, None, true),
            (10, None, true),
            (11, None, false),
            (10, Some("10"), true),
            (0, Some("11"), false),
            (11, Some("5"), false),
            (5, Some("99999999999999999999999"), true),
            (5, Some("not a number"), true),
            (0, Some("18446744073709551615"), false),
        ];
        let app = Stack::new()
            .layer(BodyLimit::new(10))
            .handler(|req: Request| Ok(Response::new(req.into_body())));
        for (len, declared, accepted) in cases {
            let mut req = http::Request::post("/")
                .body(vec![b'x'; len])
                .expect("valid");
            if let Some(declared) = declared {
                req.headers_mut().insert(
                    header::CONTENT_LENGTH,
                    declared.parse().expect("header value"),
                );
            }
            match app.call_blocking(req) {
                Ok(res) => {
                    assert!(accepted, "{len} {declared:?} should be rejected");
                    assert_eq!(res.body().len(), len);
                }
                Err(problem) => {
                    assert!(!accepted, "{len} {declared:?} should be accepted");
                    let res = problem.into_response();
                    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
                    assert_eq!(
                        res.headers()[header::CONTENT_TYPE],
                        "application/problem+json"
                    );
                    let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
                    assert_eq!(body["status"], 413);
                    let detail = body["detail"].as_str().expect("detail");
                    assert!(detail.contains("at most 10 bytes"), "{detail}");
                }
            }
        }
    }

    #[test]
    fn rejected_requests_never_reach_the_handler() {
        let app = Stack::new().layer(BodyLimit::new(0)).handler(
            |_req: Request| -> Result<Response, Problem> { panic!("the handler must not run") },
        );
        let req = http::Request::post("/").body(b"x".to_vec()).expect("valid");
        assert_eq!(app.call_blocking(req).expect_err("413").status(), 413);
        assert_eq!(BodyLimit::new(7).max_bytes(), 7);
    }
}
