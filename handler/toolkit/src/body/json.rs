//! JSON request bodies.
//!
//! ```
//! use edge_toolkit::{Problem, Request, Response, json_response};
//! use edge_toolkit::body::{FieldError, Validate, json_valid};
//!
//! #[derive(serde::Deserialize)]
//! struct NewUser { name: String }
//!
//! impl Validate for NewUser {
//!     fn validate(&self) -> Result<(), Vec<FieldError>> {
//!         if self.name.trim().is_empty() {
//!             return Err(vec![FieldError::new("name", "must not be blank")]);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! fn create(req: Request) -> Result<Response, Problem> {
//!     let user: NewUser = json_valid(&req)?;
//!     Ok(json_response(http::StatusCode::CREATED, &serde_json::json!({"name": user.name})))
//! }
//!
//! let post = |content_type: &str, body: &str| {
//!     let req = http::Request::post("/users")
//!         .header("content-type", content_type)
//!         .body(body.as_bytes().to_vec())
//!         .unwrap();
//!     create(req).unwrap_or_else(Problem::into_response)
//! };
//! assert_eq!(post("application/json", r#"{"name":"Ada"}"#).status(), 201);
//! assert_eq!(post("text/plain", r#"{"name":"Ada"}"#).status(), 415);
//! assert_eq!(post("application/json", r#"{"name":"#).status(), 400);
//! assert_eq!(post("application/json", r#"{"name":7}"#).status(), 422);
//! let res = post("application/json; charset=utf-8", r#"{"name":"  "}"#);
//! assert_eq!(res.status(), 422);
//! let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
//! assert_eq!(body["errors"][0]["pointer"], "#/name");
//! assert_eq!(body["errors"][0]["detail"], "must not be blank");
//! ```

use http::{StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Problem, Request};

/// One invalid field of a request body, as reported in a `422`'s `errors` extension member:
/// `{"field": "email", "pointer": "#/email", "detail": "must contain @"}` (the `pointer` and
/// `detail` members follow the example of RFC 9457 §3).
///
/// ```
/// let error = edge_toolkit::body::FieldError::new("address/city", "must not be blank");
/// assert_eq!(error.field(), "address/city");
/// assert_eq!(
///     serde_json::to_value(&error).unwrap(),
///     serde_json::json!({"field": "address/city", "pointer": "#/address/city", "detail": "must not be blank"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    field: String,
    pointer: String,
    detail: String,
}

impl FieldError {
    /// An error for `field` (a JSON Pointer path without the leading `/`, such as `email` or
    /// `address/city`).
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            pointer: format!("#/{field}"),
            field,
            detail: detail.into(),
        }
    }

    /// The field's path.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// Field-level validation of a deserialised body, beyond what its types express.
///
/// ```
/// use edge_toolkit::body::{FieldError, Validate};
///
/// struct Age(i32);
/// impl Validate for Age {
///     fn validate(&self) -> Result<(), Vec<FieldError>> {
///         if self.0 < 0 { Err(vec![FieldError::new("age", "must not be negative")]) } else { Ok(()) }
///     }
/// }
/// assert!(Age(3).validate().is_ok());
/// assert_eq!(Age(-1).validate().unwrap_err()[0].field(), "age");
/// ```
pub trait Validate {
    /// `Ok` when every field is valid, otherwise every invalid field.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
}

/// Why a JSON body was refused. Converts into a [`Problem`] with its status.
///
/// ```
/// use edge_toolkit::body::{JsonRejection, parse_json};
///
/// let req = http::Request::post("/").body(b"{}".to_vec()).unwrap();
/// let err = parse_json::<serde_json::Value>(&req).unwrap_err();
/// assert!(matches!(err, JsonRejection::UnsupportedMediaType { found: None }));
/// assert_eq!(err.status(), 415);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonRejection {
    /// `Content-Type` is missing or is not `application/json` or `*/*+json`.
    #[error("{}", match found {
        Some(found) => format!("the body must be application/json, not {found}"),
        None => "the body must be application/json, but Content-Type is missing".to_owned(),
    })]
    UnsupportedMediaType {
        /// The `Content-Type` sent, if any.
        found: Option<String>,
    },
    /// The body is not well-formed JSON (or is empty).
    #[error("the body is not valid JSON: {source}")]
    Syntax {
        /// serde_json's error, with line and column.
        source: serde_json::Error,
    },
    /// The body is JSON, but not of the expected shape (a missing field, a wrong type).
    #[error("the body does not have the expected shape: {source}")]
    Data {
        /// serde_json's error, with line and column.
        source: serde_json::Error,
    },
    /// The body has the expected shape but some fields are invalid.
    #[error("{} field(s) of the body are invalid", errors.len())]
    Invalid {
        /// Every invalid field.
        errors: Vec<FieldError>,
    },
}

impl JsonRejection {
    /// `415`, `400`, or `422` for [`Data`](JsonRejection::Data) and
    /// [`Invalid`](JsonRejection::Invalid).
    pub fn status(&self) -> StatusCode {
        match self {
            JsonRejection::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::Syntax { .. } => StatusCode::BAD_REQUEST,
            JsonRejection::Data { .. } | JsonRejection::Invalid { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let problem = Problem::new(rejection.status()).with_detail(rejection.to_string());
        match rejection {
            JsonRejection::UnsupportedMediaType { .. } => problem.with_header(
                // RFC 9110 §15.5.16: say which media type would have worked.
                header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            ),
            JsonRejection::Invalid { errors } => problem.with_extension("errors", errors),
            _ => problem,
        }
    }
}

/// Whether `content_type` is JSON: `application/json` or any `+json` suffix type, in any
/// case, with any parameters.
///
/// ```
/// use edge_toolkit::body::is_json_media_type;
///
/// assert!(is_json_media_type("application/json"));
/// assert!(is_json_media_type("Application/JSON; charset=utf-8"));
/// assert!(is_json_media_type("application/merge-patch+json"));
/// assert!(!is_json_media_type("text/json+x"));
/// assert!(!is_json_media_type("text/plain"));
/// ```
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = crate::negotiate::media_type_essence(content_type);
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    !kind.is_empty()
        && !kind.contains(char::is_whitespace)
        && (essence == "application/json" || (subtype.len() > 5 && subtype.ends_with("+json")))
}

/// Deserialises the body of `req` as JSON, with a typed [`JsonRejection`] on failure.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, JsonRejection> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match &content_type {
        Some(ct) if is_json_media_type(ct) => {}
        _ => {
            return Err(JsonRejection::UnsupportedMediaType {
                found: content_type,
            });
        }
    }
    serde_json::from_slice(req.body()).map_err(|source| match source.classify() {
        serde_json::error::Category::Data => JsonRejection::Data { source },
        _ => JsonRejection::Syntax { source },
    })
}

/// Deserialises the body of `req` as JSON: `415` when `Content-Type` is not JSON, `400` when
/// the body is not well-formed (the detail gives serde's line and column), `422` when it has
/// the wrong shape.
///
/// ```
/// let req = http::Request::post("/")
///     .header("content-type", "application/json")
///     .body(b"{\n  \"a\": x\n}".to_vec())
///     .unwrap();
/// let problem = edge_toolkit::body::json::<serde_json::Value>(&req).unwrap_err();
/// assert_eq!(problem.status(), 400);
/// assert!(problem.detail().unwrap().contains("line 2 column 8"));
/// ```
pub fn json<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    parse_json(req).map_err(Problem::from)
}

/// [`json`], then [`Validate::validate`]: invalid fields are a `422` problem whose `errors`
/// extension member lists every [`FieldError`].
pub fn json_valid<T: DeserializeOwned + Validate>(req: &Request) -> Result<T, Problem> {
    let value: T = json(req)?;
    value
        .validate()
        .map_err(|errors| Problem::from(JsonRejection::Invalid { errors }))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Item {
        name: String,
        count: u32,
    }

    impl Validate for Item {
        fn validate(&self) -> Result<(), Vec<FieldError>> {
            let mut errors = Vec::new();
            if self.name.is_empty() {
                errors.push(FieldError::new("name", "must not be empty"));
            }
            if self.count > 10 {
                errors.push(FieldError::new("count", "must be at most 10"));
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::post("/");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(body.as_bytes().to_vec()).expect("valid")
    }

    #[test]
    fn media_types() {
        let cases = [
            ("application/json", true),
            ("application/json;charset=utf-8", true),
            (" APPLICATION/JSON ; charset=\"utf-8\"", true),
            ("application/problem+json", true),
            ("application/vnd.api+json", true),
            ("application/+json", false),
            ("application/jsonx", false),
            ("application/json-seq", false),
            ("text/plain", false),
            ("json", false),
            ("", false),
        ];
        for (ct, json) in cases {
            assert_eq!(is_json_media_type(ct), json, "{ct:?}");
        }
    }

    #[test]
    fn statuses_and_details() {
        // (Content-Type, body, status, fragment of detail)
        let cases = [
            (
                Some("application/json"),
                r#"{"name":"a","count":1}"#,
                200,
                "",
            ),
            (None, "{}", 415, "Content-Type is missing"),
            (Some("text/plain"), "{}", 415, "not text/plain"),
            (Some("application/json"), "", 400, "line 1 column 0"),
            (
                Some("application/json"),
                "{\"name\": \"a\",\n \"count\": }",
                400,
                "line 2 column 11",
            ),
            (
                Some("application/json"),
                r#"{"name":"a","count":1} x"#,
                400,
                "trailing characters",
            ),
            (
                Some("application/json"),
                r#"{"name":"a"}"#,
                422,
                "missing field `count`",
            ),
            (
                Some("application/json"),
                r#"{"name":"a","count":-1}"#,
                422,
                "line 1 column 22",
            ),
            (
                Some("application/json"),
                r#"{"name":"","count":11}"#,
                422,
                "2 field(s)",
            ),
        ];
        for (ct, body, status, fragment) in cases {
            let result = json_valid::<Item>(&request(ct, body));
            match result {
                Ok(item) => {
                    assert_eq!(status, 200, "{body}");
                    assert_eq!((item.name.as_str(), item.count), ("a", 1));
                }
                Err(problem) => {
                    let res = problem.into_response();
                    assert_eq!(res.status(), status, "{ct:?} {body}");
                    assert_eq!(
                        res.headers()[header::CONTENT_TYPE],
                        "application/problem+json"
                    );
                    let body: Value = serde_json::from_slice(res.body()).expect("json");
                    let detail = body["detail"].as_str().expect("detail");
                    assert!(detail.contains(fragment), "{detail:?} lacks {fragment:?}");
                    if status == 415 {
                        assert_eq!(res.headers()[header::ACCEPT], "application/json");
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_fields_are_listed() {
        let problem = json_valid::<Item>(&request(
            Some("application/json"),
            r#"{"name":"","count":11}"#,
        ))
        .expect_err("invalid");
        assert_eq!(problem.status(), 422);
        assert_eq!(
            problem.extension("errors"),
            Some(&serde_json::json!([
                {"field": "name", "pointer": "#/name", "detail": "must not be empty"},
                {"field": "count", "pointer": "#/count", "detail": "must be at most 10"},
            ]))
        );
        // Without validation the same body is fine.
        assert!(
            json::<Item>(&request(
                Some("application/json"),
                r#"{"name":"","count":11}"#
            ))
            .is_ok()
        );
    }
}
