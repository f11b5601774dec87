//! Extractors: a handler's arguments, each read from the request, with a problem+json answer
//! of the right status when the request does not have what the handler asks for.
//!
//! A handler is any function whose arguments are extractors and whose result is an
//! [`IntoResponse`] (or `Result<_, Problem>` of one). Every argument
//! but the last reads the request's head ([`FromRequestParts`]); the last may also read its
//! body ([`FromRequest`]: [`Json`], [`Form`], `String`, `Vec<u8>`). A handler taking the
//! whole [`Request`] is still `fn(Request) -> Result<Response, Problem>`.
//!
//! | Extractor | Reads | When it does not fit |
//! | --- | --- | --- |
//! | [`Path<T>`] | the route's parameters, percent-decoded: one into a scalar, several into a tuple (route order) or a struct (by name) | `400` |
//! | [`Query<T>`] | the query string (`application/x-www-form-urlencoded`) into a serde type | `400` (values that do not fit, a repeated field, invalid percent-encoded UTF-8) |
//! | [`Form<T>`] | an `application/x-www-form-urlencoded` body | `415` other media type, `400` invalid percent-encoded UTF-8, `422` values that do not fit |
//! | [`Json<T>`] | a JSON body | `415` not JSON, `400` malformed, `422` wrong shape |
//! | [`ValidJson<T>`] | a JSON body, then [`Validate`] | as `Json`, and `422` with the field errors |
//! | [`Multipart`] | a `multipart/form-data` body, within the route's [`MultipartLimits`] | `415` other media type, `400` malformed, `413` a part, the parts or the body too large |
//! | [`State<T>`] | the application state given to [`Router::with_state`](crate::Router::with_state) | `500` (none of that type) |
//! | `HeaderMap`, `Method`, `Uri`, [`PathParams`] | the request's head | never fails |
//! | `Option<T>` | `T` when it fits, `None` otherwise | never fails |
//! | `String`, `Vec<u8>` | the body (`String`: UTF-8) | `400` not UTF-8 |
//!
//! ```
//! use edge_toolkit::extract::{Json, Path, Query, State};
//! use edge_toolkit::{IntoResponse, Problem, Router};
//! use http::StatusCode;
//!
//! #[derive(serde::Deserialize)]
//! struct Page { limit: Option<u32> }
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Item { name: String }
//!
//! #[derive(Clone)]
//! struct Shop { name: &'static str }
//!
//! fn list(State(shop): State<Shop>, Query(page): Query<Page>) -> String {
//!     format!("{}: {} items", shop.name, page.limit.unwrap_or(10))
//! }
//!
//! fn show(Path((shelf, id)): Path<(String, u32)>) -> Result<Json<Item>, Problem> {
//!     if id == 0 {
//!         return Err(Problem::new(StatusCode::NOT_FOUND));
//!     }
//!     Ok(Json(Item { name: format!("{shelf} #{id}") }))
//! }
//!
//! fn create(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
//!     (StatusCode::CREATED, Json(item))
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .with_state(Shop { name: "corner" })
//!     .get("/items", list)?
//!     .get("/items/{shelf}/{id}", show)?
//!     .post("/items", create)?;
//!
//! let res = router.handle(http::Request::get("/items?limit=3").body(vec![]).unwrap());
//! assert_eq!(res.body().as_slice(), b"corner: 3 items");
//! let res = router.handle(http::Request::get("/items/top%20shelf/7").body(vec![]).unwrap());
//! assert_eq!(res.body().as_slice(), br#"{"name":"top shelf #7"}"#);
//! let res = router.handle(http::Request::get("/items/top/x").body(vec![]).unwrap());
//! assert_eq!(res.status(), 400);
//! let res = router.handle(
//!     http::Request::post("/items")
//!         .header("content-type", "application/json")
//!         .body(br#"{"name":"pen"}"#.to_vec())
//!         .unwrap(),
//! );
//! assert_eq!(res.status(), 201);
//! # Ok(())
//! # }
//! ```

mod multipart;
mod path;

pub use multipart::{Multipart, MultipartLimits, Part};

use std::borrow::Cow;

use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::body::{Validate, json, json_valid};
use crate::{IntoResponse, PathParams, Problem, Request, Response, json_response};

/// Reads something from a request's head (method, URI, headers, extensions). Any argument
/// of a handler.
pub trait FromRequestParts: Sized {
    /// The value, or the problem the request is answered with.
    fn from_request_parts(req: &Request) -> Result<Self, Problem>;
}

/// Reads something from a whole request, body included: the last argument of a handler.
/// Everything that reads the head alone ([`FromRequestParts`]) does too.
pub trait FromRequest: Sized {
    /// Whether it reads the body as it streams in ([`Upload`](crate::body::Upload)), so
    /// that the component glue must not read it first.
    const STREAMS: bool = false;

    /// The value, or the problem the request is answered with.
    fn from_request(req: Request) -> Result<Self, Problem>;
}

impl<T: FromRequestParts> FromRequest for T {
    fn from_request(req: Request) -> Result<Self, Problem> {
        T::from_request_parts(&req)
    }
}

fn bad_request(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST).with_detail(detail)
}

/// The route's path parameters, percent-decoded, into `T`: a scalar for a route of one
/// parameter (`Path<u64>`), a tuple in route order (`Path<(String, u32)>`), or a struct or
/// map by name. A value that is not valid percent-encoded UTF-8 or does not parse is `400`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Path<T> {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        let mut decoded = Vec::new();
        for (name, raw) in PathParams::of(req).iter() {
            let value = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| {
                    bad_request(format!(
                        "path parameter `{name}` is not valid percent-encoded UTF-8"
                    ))
                })?;
            decoded.push((name.to_owned(), Cow::Owned(value.into_owned())));
        }
        T::deserialize(path::Params(&decoded))
            .map(Path)
            .map_err(|err| bad_request(err.to_string()))
    }
}

/// The query string, as `application/x-www-form-urlencoded`, into `T` (a struct whose
/// optional fields may be absent); `400` when it does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<T>(pub T);

/// Checks that every name and value of a form-encoded `text` decodes to UTF-8 (the decoder
/// behind serde_urlencoded would replace what does not); the offending one otherwise.
fn check_form_utf8(text: &[u8]) -> Result<(), String> {
    for part in text.split(|&b| b == b'&' || b == b'=') {
        let plus_as_space: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let decoded: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
        if std::str::from_utf8(&decoded).is_err() {
            return Err(format!(
                "{:?} is not valid percent-encoded UTF-8",
                String::from_utf8_lossy(part)
            ));
        }
    }
    Ok(())
}

impl<T: DeserializeOwned> FromRequestParts for Query<T> {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        let query = req.uri().query().unwrap_or("");
        check_form_utf8(query.as_bytes())
            .map_err(|err| bad_request(format!("the query string: {err}")))?;
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|err| bad_request(format!("the query string does not fit: {err}")))
    }
}

/// An `application/x-www-form-urlencoded` body into `T`: `415` for another media type, `422`
/// when the fields do not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form<T>(pub T);

/// The form media type.
const FORM: &str = "application/x-www-form-urlencoded";

impl<T: DeserializeOwned> FromRequest for Form<T> {
    fn from_request(req: Request) -> Result<Self, Problem> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case(FORM) {
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail(format!("expected a body of type {FORM}")));
        }
        check_form_utf8(req.body()).map_err(|err| bad_request(format!("the form: {err}")))?;
        serde_urlencoded::from_bytes(req.body())
            .map(Form)
            .map_err(|err| {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(format!("the form does not fit: {err}"))
            })
    }
}

/// A JSON body into `T` (`415` when the body is not JSON, `400` malformed, `422` of the wrong
/// shape); as a return value, `T` serialised with `200` and `Content-Type:
/// application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(req: Request) -> Result<Self, Problem> {
        json(&req).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, &self.0)
    }
}

/// A JSON body into `T`, then checked with its [`Validate`]: as [`Json`], plus `422` with
/// the field errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + Validate> FromRequest for ValidJson<T> {
    fn from_request(req: Request) -> Result<Self, Problem> {
        json_valid(&req).map(ValidJson)
    }
}

/// Application state shared by every request: what
/// [`Router::with_state`](crate::Router::with_state) was given, cloned for each request
/// (an `Arc` inside keeps that cheap). `500` when the router has no state of that type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequestParts for State<T> {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        req.extensions().get::<State<T>>().cloned().ok_or_else(|| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_detail(format!(
                "the router has no state of type {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl FromRequestParts for HeaderMap {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        Ok(req.headers().clone())
    }
}

impl FromRequestParts for Method {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        Ok(req.method().clone())
    }
}

impl FromRequestParts for Uri {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        Ok(req.uri().clone())
    }
}

impl FromRequestParts for PathParams {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        Ok(PathParams::of(req).clone())
    }
}

impl<T: FromRequestParts> FromRequestParts for Option<T> {
    fn from_request_parts(req: &Request) -> Result<Self, Problem> {
        Ok(T::from_request_parts(req).ok())
    }
}

impl FromRequest for Vec<u8> {
    fn from_request(req: Request) -> Result<Self, Problem> {
        Ok(req.into_body())
    }
}

impl FromRequest for String {
    fn from_request(req: Request) -> Result<Self, Problem> {
        String::from_utf8(req.into_body()).map_err(|_| bad_request("the body is not UTF-8"))
    }
}

#[cfg(test)]
mod tests;
