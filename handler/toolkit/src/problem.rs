//! Problem details for HTTP APIs ([RFC 9457](https://www.rfc-editor.org/rfc/rfc9457)).

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::Response;

/// The media type of a problem details document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error that reaches HTTP: a status code and an RFC 9457 `application/problem+json` body.
///
/// ```
/// use edge_toolkit::Problem;
/// use http::StatusCode;
///
/// let res = Problem::new(StatusCode::NOT_FOUND)
///     .with_detail("no route matches /nope")
///     .with_instance("/nope")
///     .into_response();
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// assert_eq!(res.headers()["content-type"], "application/problem+json");
/// let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
/// assert_eq!(body["title"], "Not Found");
/// assert_eq!(body["status"], 404);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    // Boxed so `Result<_, Problem>` stays one pointer wide on the happy path.
    details: Box<Details>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Details {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    #[serde(serialize_with = "serialize_status")]
    status: StatusCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(skip)]
    headers: http::HeaderMap,
    /// Extension members (RFC 9457 §3.2), serialised beside the standard ones.
    #[serde(flatten)]
    extensions: serde_json::Map<String, serde_json::Value>,
}

/// The members RFC 9457 §3.1 defines, which an extension member may not replace.
const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem with `type` `about:blank` and the status's reason phrase as `title`, as
    /// RFC 9457 §4.2.1 recommends when no more specific type exists.
    pub fn new(status: StatusCode) -> Self {
        Self {
            details: Box::new(Details {
                kind: "about:blank".to_owned(),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status,
                detail: None,
                instance: None,
                headers: http::HeaderMap::new(),
                extensions: serde_json::Map::new(),
            }),
        }
    }

    /// Sets `detail`: a human-readable explanation specific to this occurrence.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.details.detail = Some(detail.into());
        self
    }

    /// Sets `instance`: a URI reference identifying this occurrence (often the request path).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.details.instance = Some(instance.into());
        self
    }

    /// Sets `type` (a URI reference) and `title` together, for problem types of your own.
    pub fn with_type(mut self, kind: impl Into<String>, title: impl Into<String>) -> Self {
        self.details.kind = kind.into();
        self.details.title = title.into();
        self
    }

    /// Adds a header to the response, such as `Allow` on a 405.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.details.headers.append(name, value);
        self
    }

    /// Adds an extension member (RFC 9457 §3.2), such as a list of invalid fields. A value
    /// that cannot be represented as JSON, or a name of a standard member (`type`, `title`,
    /// `status`, `detail`, `instance`), is ignored.
    ///
    /// ```
    /// use edge_toolkit::Problem;
    /// use http::StatusCode;
    ///
    /// let res = Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
    ///     .with_extension("errors", serde_json::json!([{"pointer": "#/age"}]))
    ///     .with_extension("status", 200) // ignored: a standard member
    ///     .into_response();
    /// let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    /// assert_eq!(body["errors"][0]["pointer"], "#/age");
    /// assert_eq!(body["status"], 422);
    /// ```
    pub fn with_extension(mut self, name: impl Into<String>, value: impl serde::Serialize) -> Self {
        let name = name.into();
        if STANDARD_MEMBERS.contains(&name.as_str()) {
            return self;
        }
        if let Ok(value) = serde_json::to_value(value) {
            self.details.extensions.insert(name, value);
        }
        self
    }

    /// The extension member `name`, if set.
    ///
    /// ```
    /// let p = edge_toolkit::Problem::new(http::StatusCode::CONFLICT).with_extension("id", 7);
    /// assert_eq!(p.extension("id"), Some(&serde_json::json!(7)));
    /// assert_eq!(p.extension("other"), None);
    /// ```
    pub fn extension(&self, name: &str) -> Option<&serde_json::Value> {
        self.details.extensions.get(name)
    }

    /// The HTTP status this problem is answered with.
    pub fn status(&self) -> StatusCode {
        self.details.status
    }

    /// The extra headers the response will carry (`Content-Type` is added when rendering).
    pub fn headers(&self) -> &http::HeaderMap {
        &self.details.headers
    }

    /// The extra headers, for middleware that decorates every response, problems included.
    ///
    /// ```
    /// use edge_toolkit::Problem;
    /// use http::{HeaderValue, StatusCode};
    ///
    /// let mut problem = Problem::new(StatusCode::NOT_FOUND);
    /// problem.headers_mut().insert("x-request-id", HeaderValue::from_static("abc"));
    /// assert_eq!(problem.headers()["x-request-id"], "abc");
    /// assert_eq!(problem.into_response().headers()["x-request-id"], "abc");
    /// ```
    pub fn headers_mut(&mut self) -> &mut http::HeaderMap {
        &mut self.details.headers
    }

    /// The `detail` member, if set.
    pub fn detail(&self) -> Option<&str> {
        self.details.detail.as_deref()
    }

    /// Renders the problem as an `application/problem+json` response.
    pub fn into_response(self) -> Response {
        let body = serde_json::to_vec(&*self.details).unwrap_or_else(|_| {
            // Serialising plain strings and a number cannot fail; keep a valid body regardless.
            br#"{"type":"about:blank","title":"Internal Server Error","status":500}"#.to_vec()
        });
        let mut res = http::Response::new(body);
        *res.status_mut() = self.details.status;
        *res.headers_mut() = self.details.headers;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.details;
        write!(f, "{} {}", d.status.as_u16(), d.title)?;
        if let Some(detail) = &d.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_absent_members_and_keeps_extra_headers() {
        let res = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
            .with_header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
            .into_response();
        assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"type": "about:blank", "title": "Method Not Allowed", "status": 405})
        );
    }

    #[test]
    fn custom_type_and_display() {
        let p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_type("https://example.com/probs/age", "Invalid age")
            .with_detail("age must be positive");
        assert_eq!(p.to_string(), "422 Invalid age: age must be positive");
        let body: serde_json::Value =
            serde_json::from_slice(p.into_response().body()).expect("json");
        assert_eq!(body["type"], "https://example.com/probs/age");
        assert_eq!(body["detail"], "age must be positive");
    }
}
