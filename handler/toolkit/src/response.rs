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

/// Removes a `Content-Length` that `res` declares but has no content to match: the
/// answer to `HEAD` declares `GET`'s length and sends nothing (RFC 9110 §9.3.2), and
/// `wasi:http` fails an outgoing body shorter than its declared length, so the length is
/// left out before the response reaches it (§8.6 lets a `HEAD` response omit it). Answers
/// whether it removed one. The component glue calls it on every response.
///
/// ```
/// let mut res = http::Response::new(Vec::new());
/// res.headers_mut().insert("content-length", http::HeaderValue::from(42));
/// assert!(edge_toolkit::drop_undeliverable_length(&mut res));
/// assert!(res.headers().get("content-length").is_none());
/// ```
pub fn drop_undeliverable_length(res: &mut Response) -> bool {
    let declares_content = res
        .headers()
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .any(|value| value.as_bytes() != b"0");
    if declares_content && res.body().is_empty() && !crate::stream::BodyStream::is_streaming(res) {
        res.headers_mut().remove(header::CONTENT_LENGTH);
        return true;
    }
    false
}

/// What a handler may return: anything that becomes a [`Response`].
///
/// Implemented for [`Response`], [`Problem`], [`StatusCode`] (an empty body), text
/// (`&'static str`, `String`: `text/plain; charset=utf-8`), bytes (`Vec<u8>`, `&'static
/// [u8]`: `application/octet-stream`), [`Json`](crate::extract::Json) and [`Html`], `()`
/// (an empty `200`), and tuples that add a status and headers to one of them:
/// `(StatusCode, T)`, `([(name, value); N], T)`, `(StatusCode, [(name, value); N], T)`. A
/// handler may also return `Result<T, Problem>` for any such `T`.
///
/// ```
/// use edge_toolkit::IntoResponse;
/// use http::{StatusCode, header};
///
/// let res = (StatusCode::CREATED, [(header::LOCATION, "/users/7")], "made").into_response();
/// assert_eq!(res.status(), 201);
/// assert_eq!(res.headers()["location"], "/users/7");
/// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
/// assert_eq!(res.body().as_slice(), b"made");
/// ```
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;
}

/// What the router accepts from a handler: an [`IntoResponse`], or `Result<T, Problem>` of
/// one (the problem rendered by the router, with the request path as its `instance`).
pub trait IntoHandlerResult {
    /// The response, or the problem to answer with.
    fn into_handler_result(self) -> Result<Response, Problem>;
}

impl<T: IntoResponse> IntoHandlerResult for T {
    fn into_handler_result(self) -> Result<Response, Problem> {
        Ok(self.into_response())
    }
}

impl<T: IntoResponse> IntoHandlerResult for Result<T, Problem> {
    fn into_handler_result(self) -> Result<Response, Problem> {
        self.map(IntoResponse::into_response)
    }
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        Problem::into_response(self)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = Response::new(Vec::new());
        *res.status_mut() = self;
        res
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Vec::new())
    }
}

fn with_type(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut res = Response::new(body);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// `text/plain; charset=utf-8`.
const TEXT: &str = "text/plain; charset=utf-8";

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(self.as_bytes().to_vec(), TEXT)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(self.into_bytes(), TEXT)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_type(self, "application/octet-stream")
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_type(self.to_vec(), "application/octet-stream")
    }
}

/// An HTML body: `text/html; charset=utf-8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<String>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_type(self.0.into().into_bytes(), "text/html; charset=utf-8")
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

/// Adds `headers` to `res`, each replacing a header of its name; a name or value that is not
/// valid is the 500 problem in `Err`.
fn with_headers<K, V, const N: usize>(
    mut res: Response,
    headers: [(K, V); N],
) -> Result<Response, Problem>
where
    K: TryInto<header::HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
{
    for (name, value) in headers {
        let name = name.try_into().map_err(|err| header_problem(&err))?;
        let value = value.try_into().map_err(|err| header_problem(&err))?;
        res.headers_mut().insert(name, value);
    }
    Ok(res)
}

fn header_problem(err: &dyn std::fmt::Display) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail(format!("the handler set an invalid header: {err}"))
}

impl<K, V, T, const N: usize> IntoResponse for ([(K, V); N], T)
where
    K: TryInto<header::HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
    T: IntoResponse,
{
    fn into_response(self) -> Response {
        with_headers(self.1.into_response(), self.0).unwrap_or_else(Problem::into_response)
    }
}

impl<K, V, T, const N: usize> IntoResponse for (StatusCode, [(K, V); N], T)
where
    K: TryInto<header::HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
    T: IntoResponse,
{
    fn into_response(self) -> Response {
        match with_headers(self.2.into_response(), self.1) {
            Ok(mut res) => {
                *res.status_mut() = self.0;
                res
            }
            Err(problem) => problem.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_length_without_content_is_dropped() {
        let with_length = |body: &[u8], length: &'static str| {
            let mut res = http::Response::new(body.to_vec());
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static(length));
            res
        };
        // HEAD's answer: GET's length, no content.
        let mut head = with_length(b"", "120");
        assert!(drop_undeliverable_length(&mut head));
        assert!(head.headers().get(header::CONTENT_LENGTH).is_none());
        // An empty body that says so, and a body that matches, keep theirs.
        for (body, length) in [(&b""[..], "0"), (&b"hello"[..], "5")] {
            let mut res = with_length(body, length);
            assert!(!drop_undeliverable_length(&mut res));
            assert_eq!(res.headers()[header::CONTENT_LENGTH], length);
        }
        // A streamed body's content is still to come.
        let mut streamed = with_length(b"", "5");
        crate::stream::BodyStream::new(vec![b"chunk".to_vec()].into_iter()).attach(&mut streamed);
        assert!(!drop_undeliverable_length(&mut streamed));
        // No length at all: nothing to do.
        let mut bare = http::Response::new(Vec::new());
        assert!(!drop_undeliverable_length(&mut bare));
    }

    #[test]
    fn text_bytes_and_status() {
        let res = "hi".into_response();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], TEXT);
        assert_eq!(res.body().as_slice(), b"hi");
        let res = String::from("yo").into_response();
        assert_eq!(res.body().as_slice(), b"yo");
        let res = vec![1u8, 2].into_response();
        assert_eq!(res.headers()["content-type"], "application/octet-stream");
        let res = StatusCode::NO_CONTENT.into_response();
        assert_eq!(res.status(), 204);
        assert!(res.body().is_empty() && res.headers().is_empty());
        let res = Html("<p>x</p>").into_response();
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(().into_response().status(), 200);
    }

    #[test]
    fn tuples_set_status_and_headers() {
        let res = (StatusCode::ACCEPTED, "queued").into_response();
        assert_eq!(
            (res.status(), res.body().as_slice()),
            (StatusCode::ACCEPTED, &b"queued"[..])
        );
        let res = ([("x-a", "1"), ("content-type", "text/csv")], "a,b").into_response();
        assert_eq!(res.headers()["x-a"], "1");
        assert_eq!(res.headers()["content-type"], "text/csv");
        let res = (StatusCode::CREATED, [(header::LOCATION, "/x")], ()).into_response();
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["location"], "/x");
    }

    #[test]
    fn an_invalid_header_is_a_500_problem() {
        let res = (StatusCode::OK, [("x-bad", "line\nbreak")], "body").into_response();
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers()["content-type"], crate::PROBLEM_JSON);
        let res = ([("bad name", "v")], "body").into_response();
        assert_eq!(res.status(), 500);
    }

    #[test]
    fn results_keep_problems_for_the_router() {
        let ok: Result<&str, Problem> = Ok("fine");
        assert_eq!(
            ok.into_handler_result().map(|r| r.status()).ok(),
            Some(StatusCode::OK)
        );
        let err: Result<&str, Problem> = Err(Problem::new(StatusCode::CONFLICT));
        assert_eq!(
            err.into_handler_result().err().map(|p| p.status()),
            Some(StatusCode::CONFLICT)
        );
        let problem = Problem::new(StatusCode::GONE).into_handler_result();
        assert_eq!(problem.map(|r| r.status()).ok(), Some(StatusCode::GONE));
    }
}
