//! Small constructors for common responses.

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::{Problem, Response};

/// A JSON response with `Content-Type: application/json`.
///
/// A value that cannot be serialised (a map with non-string keys, say) becomes a 500 problem.
///
/// ```
/// let res = edge_toolkit::json_response(http::StatusCode::CREATED, &serde_json::json!({"id": 7}));
/// assert_eq!(res.status(), 201);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// assert_eq!(res.body().as_slice(), br#"{"id":7}"#);
/// ```
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut res = http::Response::new(body);
            *res.status_mut() = status;
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(err) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("response could not be serialised as JSON: {err}"))
            .into_response(),
    }
}
