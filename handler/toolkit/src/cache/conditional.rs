//! Conditional requests ([RFC 9110 §13](https://www.rfc-editor.org/rfc/rfc9110#section-13)):
//! `If-Match`, `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since`.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::cache::ConditionalRequests;
//! use http::{StatusCode, header};
//!
//! let app = Stack::new()
//!     .layer(ConditionalRequests::new())
//!     .handler(|_req: Request| {
//!         let mut res = Response::new(b"hello".to_vec());
//!         res.headers_mut().insert(header::CACHE_CONTROL, "max-age=60".parse().unwrap());
//!         Ok(res)
//!     });
//!
//! // The first response carries a strong ETag computed from the body.
//! let first = app.call(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert_eq!(first.status(), StatusCode::OK);
//! let etag = first.headers()[header::ETAG].clone();
//!
//! // Revalidating with it gives 304 Not Modified, without a body.
//! let revalidate = http::Request::get("/")
//!     .header(header::IF_NONE_MATCH, etag.clone())
//!     .body(vec![])
//!     .unwrap();
//! let res = app.call(revalidate).unwrap();
//! assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
//! assert!(res.body().is_empty());
//! assert_eq!(res.headers()[header::ETAG], etag);
//! assert_eq!(res.headers()[header::CACHE_CONTROL], "max-age=60");
//!
//! // If-Match with another tag fails the precondition.
//! let stale = http::Request::get("/")
//!     .header(header::IF_MATCH, "\"other\"")
//!     .body(vec![])
//!     .unwrap();
//! assert_eq!(app.call(stale).unwrap_err().status(), StatusCode::PRECONDITION_FAILED);
//! ```
//!
//! For state-changing methods (`PUT`, `DELETE`, ...), see [`ConditionalRequests`].

use http::{HeaderMap, HeaderName, Method, StatusCode, header};

use crate::cache::{ETag, HttpDate};
use crate::{Middleware, Next, Problem, Request, Response};

/// What the preconditions of a request decide
/// ([RFC 9110 §13.2.2](https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// Every precondition holds (or none was sent): perform the method.
    Proceed,
    /// `GET`/`HEAD` only: the client's copy is current; answer `304 Not Modified`.
    NotModified,
    /// A precondition is false: answer `412 Precondition Failed` without acting.
    PreconditionFailed,
}

/// The request header fields [`evaluate`] reads.
const CONDITIONAL_HEADERS: [HeaderName; 4] = [
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
];

/// The representation metadata a `304` drops (RFC 9110 §15.4.5: no metadata beyond
/// `Cache-Control`, `Content-Location`, `Date`, `ETag`, `Expires` and `Vary`, which it
/// keeps, unless it guides cache updates); fields that are not about the content
/// (`Set-Cookie`, security policies, CORS) stay.
const REPRESENTATION_HEADERS: [&str; 10] = [
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "content-range",
    "content-disposition",
    "content-digest",
    "repr-digest",
    "content-md5",
    "transfer-encoding",
];

/// Evaluates the preconditions in `headers` against the selected representation's
/// validators, in the order of RFC 9110 §13.2.2:
///
/// 1. `If-Match` (strong comparison, `*`, lists), or when absent `If-Unmodified-Since`:
///    false → [`Outcome::PreconditionFailed`];
/// 2. `If-None-Match` (weak comparison, `*`, lists): false → [`Outcome::NotModified`] for
///    `GET`/`HEAD`, [`Outcome::PreconditionFailed`] otherwise; or when absent, for `GET` and
///    `HEAD` only, `If-Modified-Since`: false → [`Outcome::NotModified`];
/// 3. otherwise [`Outcome::Proceed`].
///
/// `*` matches when a current representation exists, which is taken to be so when either
/// validator is given: a handler about to create a resource passes `None` for both. A date
/// header that is not a single valid `HTTP-date` is ignored, and so is a date condition when
/// `last_modified` is `None`. Malformed members of a tag list are skipped.
///
/// ```
/// use edge_toolkit::cache::{ETag, HttpDate, Outcome, evaluate};
/// use http::{HeaderMap, Method, header};
///
/// let etag = ETag::strong("v2")?;
/// let mut headers = HeaderMap::new();
/// headers.insert(header::IF_NONE_MATCH, "\"v1\", W/\"v2\"".parse().unwrap());
/// assert_eq!(evaluate(&headers, Some(&etag), None, &Method::GET), Outcome::NotModified);
/// assert_eq!(evaluate(&headers, Some(&etag), None, &Method::DELETE), Outcome::PreconditionFailed);
///
/// // If-None-Match: * guards against overwriting a resource that already exists.
/// let mut create_only = HeaderMap::new();
/// create_only.insert(header::IF_NONE_MATCH, "*".parse().unwrap());
/// assert_eq!(evaluate(&create_only, None, None, &Method::PUT), Outcome::Proceed);
/// assert_eq!(evaluate(&create_only, Some(&etag), None, &Method::PUT), Outcome::PreconditionFailed);
/// # Ok::<(), edge_toolkit::cache::InvalidETag>(())
/// ```
pub fn evaluate(
    headers: &HeaderMap,
    etag: Option<&ETag>,
    last_modified: Option<HttpDate>,
    method: &Method,
) -> Outcome {
    evaluate_variants(
        headers,
        etag.map(std::slice::from_ref).unwrap_or_default(),
        last_modified,
        method,
    )
}

/// [`evaluate`] for a representation known by several tags: the tag of its content and the
/// tag of each content coding it may be sent in ([`ETag::for_content_coding`], as
/// [`Compression`](crate::middleware::Compression) rewrites it). A tag in `If-Match` or
/// `If-None-Match` matches when it matches any of `etags` (strong and weak comparison as
/// in [`evaluate`]); an empty `etags` is no tag at all.
///
/// A handler of a state-changing method uses it so that a client holding the tag of a
/// compressed read (`"<digest>-gzip"`) can still write.
///
/// ```
/// use edge_toolkit::cache::{ETag, Outcome, evaluate, evaluate_variants};
/// use http::{HeaderMap, Method, header};
///
/// let current = ETag::strong("v2")?;
/// let variants = [current.clone(), current.for_content_coding("gzip")];
/// let mut headers = HeaderMap::new();
/// headers.insert(header::IF_MATCH, "\"v2-gzip\"".parse().unwrap());
/// assert_eq!(evaluate(&headers, Some(&current), None, &Method::PUT), Outcome::PreconditionFailed);
/// assert_eq!(evaluate_variants(&headers, &variants, None, &Method::PUT), Outcome::Proceed);
///
/// // If-None-Match compares the same way: the client holds the current representation.
/// let mut headers = HeaderMap::new();
/// headers.insert(header::IF_NONE_MATCH, "\"v2-gzip\"".parse().unwrap());
/// assert_eq!(evaluate_variants(&headers, &variants, None, &Method::PUT), Outcome::PreconditionFailed);
/// # Ok::<(), edge_toolkit::cache::InvalidETag>(())
/// ```
pub fn evaluate_variants(
    headers: &HeaderMap,
    etags: &[ETag],
    last_modified: Option<HttpDate>,
    method: &Method,
) -> Outcome {
    let exists = !etags.is_empty() || last_modified.is_some();
    let safe = *method == Method::GET || *method == Method::HEAD;

    // Step 1 (If-Match) and step 2 (If-Unmodified-Since, only without If-Match).
    if let Some(tags) = tag_list(headers, &header::IF_MATCH) {
        let holds = match tags {
            TagList::Any => exists,
            TagList::Tags(tags) => etags.iter().any(|e| tags.iter().any(|t| t.strong_eq(e))),
        };
        if !holds {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(since), Some(modified)) = (
        single_date(headers, &header::IF_UNMODIFIED_SINCE),
        last_modified,
    ) && modified > since
    {
        return Outcome::PreconditionFailed;
    }

    // Step 3 (If-None-Match) and step 4 (If-Modified-Since, only without If-None-Match).
    let failed = if let Some(tags) = tag_list(headers, &header::IF_NONE_MATCH) {
        match tags {
            TagList::Any => exists,
            TagList::Tags(tags) => etags.iter().any(|e| tags.iter().any(|t| t.weak_eq(e))),
        }
    } else if safe
        && let (Some(since), Some(modified)) = (
            single_date(headers, &header::IF_MODIFIED_SINCE),
            last_modified,
        )
    {
        // Only GET/HEAD reach here, so a false condition is always a 304.
        modified <= since
    } else {
        false
    };
    match (failed, safe) {
        (false, _) => Outcome::Proceed,
        (true, true) => Outcome::NotModified,
        (true, false) => Outcome::PreconditionFailed,
    }
}

/// The problem a false precondition is answered with: `412 Precondition Failed`.
///
/// ```
/// assert_eq!(edge_toolkit::cache::precondition_failed().status(), 412);
/// ```
pub fn precondition_failed() -> Problem {
    Problem::new(StatusCode::PRECONDITION_FAILED)
        .with_detail("a precondition in the request does not hold for the current representation")
}

/// Turns `res` into a `304 Not Modified` for it: no body, and no representation metadata
/// but what RFC 9110 §15.4.5 asks a `304` to repeat (`Cache-Control`, `Content-Location`,
/// `Date`, `ETag`, `Expires`, `Vary`) and `Last-Modified` when there is no `ETag` (the
/// RFC's example of metadata that guides cache updates). Fields that do not describe the
/// content, such as `Set-Cookie` or security headers, are kept.
///
/// ```
/// use edge_toolkit::Response;
/// use http::{StatusCode, header};
///
/// let mut res = Response::new(b"body".to_vec());
/// res.headers_mut().insert(header::ETAG, "\"v1\"".parse().unwrap());
/// res.headers_mut().insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
/// let res = edge_toolkit::cache::not_modified(res);
/// assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
/// assert!(res.body().is_empty());
/// assert_eq!(res.headers()[header::ETAG], "\"v1\"");
/// assert!(!res.headers().contains_key(header::CONTENT_TYPE));
/// ```
pub fn not_modified(res: Response) -> Response {
    let (mut parts, _body) = res.into_parts();
    for name in REPRESENTATION_HEADERS {
        parts.headers.remove(name);
    }
    if parts.headers.contains_key(header::ETAG) {
        parts.headers.remove(header::LAST_MODIFIED);
    }
    parts.status = StatusCode::NOT_MODIFIED;
    parts.extensions.remove::<crate::stream::BodyStream>();
    Response::from_parts(parts, Vec::new())
}

/// Middleware answering conditional `GET` and `HEAD` requests with `304` or `412`.
///
/// It runs the inner handler, then looks at a `2xx` response: if it has no `ETag`, a strong
/// one is computed from the body ([`ETag::from_body`], suffixed with any `Content-Encoding`
/// via [`ETag::for_content_coding`]) and added; a tag the handler set is
/// kept as it is. With the response's `ETag` and `Last-Modified` it then [`evaluate`]s the
/// request's preconditions and turns the response into a `304` ([`not_modified`]) or a `412`
/// problem as they decide. Other statuses, other methods and streaming responses
/// ([`BodyStream`](crate::stream::BodyStream)) pass through untouched.
///
/// # State-changing methods
///
/// [`ConditionalRequests`] evaluates preconditions *after* the handler has run, which is
/// only right for `GET` and `HEAD`: a `PUT` must check `If-Match` *before* it writes. So the
/// middleware leaves every other method alone, and a handler of a state-changing method
/// calls [`evaluate`] with the validators of the current representation before acting:
///
/// ```
/// use edge_toolkit::{Problem, Request, Response};
/// use edge_toolkit::cache::{ETag, Outcome, evaluate, precondition_failed};
///
/// fn put(req: Request) -> Result<Response, Problem> {
///     let current = ETag::strong("v1").expect("a valid tag");
///     match evaluate(req.headers(), Some(&current), None, req.method()) {
///         Outcome::Proceed => {}
///         // NotModified only ever comes back for GET and HEAD.
///         Outcome::NotModified | Outcome::PreconditionFailed => {
///             return Err(precondition_failed());
///         }
///     }
///     // ... write the new state ...
///     Ok(Response::new(Vec::new()))
/// }
///
/// let lost_update = http::Request::put("/doc").header("if-match", "\"v0\"").body(vec![]).unwrap();
/// assert_eq!(put(lost_update).unwrap_err().status(), 412);
/// let fresh = http::Request::put("/doc").header("if-match", "\"v1\"").body(vec![]).unwrap();
/// assert!(put(fresh).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct ConditionalRequests {
    generate_etags: bool,
}

impl Default for ConditionalRequests {
    fn default() -> Self {
        Self::new()
    }
}

impl ConditionalRequests {
    /// Evaluates preconditions, generating ETags for responses that lack one.
    pub fn new() -> Self {
        Self {
            generate_etags: true,
        }
    }

    /// Whether to compute an `ETag` from the body when the handler set none (default `true`).
    /// Without it, only `Last-Modified` and handler-set tags are validated.
    pub fn with_generated_etags(mut self, generate: bool) -> Self {
        self.generate_etags = generate;
        self
    }

    /// Whether ETags are computed for responses that lack one.
    pub fn generated_etags(&self) -> bool {
        self.generate_etags
    }
}

impl Middleware for ConditionalRequests {
    fn handle(&self, req: Request, next: Next<'_>) -> Result<Response, Problem> {
        let method = req.method().clone();
        if method != Method::GET && method != Method::HEAD {
            return next.run(req);
        }
        let mut conditions = HeaderMap::new();
        for name in CONDITIONAL_HEADERS {
            for value in req.headers().get_all(&name) {
                conditions.append(name.clone(), value.clone());
            }
        }

        let mut res = next.run(req)?;
        if !res.status().is_success() {
            return Ok(res);
        }
        if crate::stream::BodyStream::is_streaming(&res) {
            // The body is not known yet: there is nothing to compute a tag from, and a
            // live stream is not something to revalidate.
            return Ok(res);
        }
        if self.generate_etags && !res.headers().contains_key(header::ETAG) {
            let mut etag = ETag::from_body(res.body());
            if let Some(coding) = res
                .headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
            {
                etag = etag.for_content_coding(coding);
            }
            res.headers_mut()
                .insert(header::ETAG, etag.to_header_value());
        }
        if conditions.is_empty() {
            return Ok(res);
        }
        let etag = res
            .headers()
            .get(header::ETAG)
            .and_then(|v| ETag::from_header(v).ok());
        let last_modified = res
            .headers()
            .get(header::LAST_MODIFIED)
            .and_then(|v| HttpDate::from_header(v).ok());
        match evaluate(&conditions, etag.as_ref(), last_modified, &method) {
            Outcome::Proceed => Ok(res),
            Outcome::NotModified => Ok(not_modified(res)),
            Outcome::PreconditionFailed => Err(precondition_failed()),
        }
    }
}

/// An `If-Match` / `If-None-Match` value: `"*" / #entity-tag`.
enum TagList {
    Any,
    Tags(Vec<ETag>),
}

/// The tag list in every `name` line of `headers`; `None` when there is no such line.
fn tag_list(headers: &HeaderMap, name: &HeaderName) -> Option<TagList> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    let mut tags = Vec::new();
    for line in lines {
        let text = String::from_utf8_lossy(line.as_bytes());
        let mut rest = text.as_ref();
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            if rest.starts_with('*') {
                return Some(TagList::Any);
            }
            let unweak = rest.strip_prefix("W/").unwrap_or(rest);
            if let Some(quoted) = unweak.strip_prefix('"')
                && let Some(end) = quoted.find('"')
            {
                // The member runs from the optional `W/` to the closing quote.
                let member = &rest[..rest.len() - quoted.len() + end + 1];
                if let Ok(tag) = member.parse() {
                    tags.push(tag);
                }
                rest = &quoted[end + 1..];
            }
            // Skip the rest of a malformed member.
            rest = rest.find(',').map_or("", |i| &rest[i..]);
        }
    }
    Some(TagList::Tags(tags))
}

/// The date in `name`, when it is exactly one line holding one valid `HTTP-date`.
fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<HttpDate> {
    let mut lines = headers.get_all(name).iter();
    let value = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    HttpDate::from_header(value).ok()
}

#[cfg(test)]
mod tests;
