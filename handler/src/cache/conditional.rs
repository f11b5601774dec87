//! Conditional requests ([RFC 9110 §13](https://www.rfc-editor.org/rfc/rfc9110#section-13)):
//! `If-Match`, `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since`.
//!
//! ```
//! use handler::{Handler, Request, Response, Stack};
//! use handler::cache::ConditionalRequests;
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
/// use handler::cache::{ETag, HttpDate, Outcome, evaluate};
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
/// # Ok::<(), handler::cache::InvalidETag>(())
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
/// use handler::cache::{ETag, Outcome, evaluate, evaluate_variants};
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
/// # Ok::<(), handler::cache::InvalidETag>(())
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
/// assert_eq!(handler::cache::precondition_failed().status(), 412);
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
/// use handler::Response;
/// use http::{StatusCode, header};
///
/// let mut res = Response::new(b"body".to_vec());
/// res.headers_mut().insert(header::ETAG, "\"v1\"".parse().unwrap());
/// res.headers_mut().insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
/// let res = handler::cache::not_modified(res);
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
/// use handler::{Problem, Request, Response};
/// use handler::cache::{ETag, Outcome, evaluate, precondition_failed};
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
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::{Handler, Stack};

    const TAG: &str = "\"v1\"";
    const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sat, 05 Nov 1994 08:49:37 GMT";
    const LATER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("valid"));
        }
        map
    }

    /// (method, request headers, current ETag, Last-Modified, expected outcome)
    type Case = (
        Method,
        Vec<(HeaderName, &'static str)>,
        Option<&'static str>,
        Option<&'static str>,
        Outcome,
    );

    #[test]
    fn evaluation_order_of_rfc_9110() {
        use Outcome::{NotModified as N, PreconditionFailed as F, Proceed as P};
        let im = header::IF_MATCH;
        let inm = header::IF_NONE_MATCH;
        let ims = header::IF_MODIFIED_SINCE;
        let ius = header::IF_UNMODIFIED_SINCE;
        let (get, head, put, post) = (Method::GET, Method::HEAD, Method::PUT, Method::POST);
        let cases: Vec<Case> = vec![
            (get.clone(), vec![], Some(TAG), Some(MODIFIED), P),
            // If-Match: strong comparison, lists, `*`.
            (get.clone(), vec![(im.clone(), TAG)], Some(TAG), None, P),
            (put.clone(), vec![(im.clone(), TAG)], Some(TAG), None, P),
            (
                put.clone(),
                vec![(im.clone(), "\"v0\"")],
                Some(TAG),
                None,
                F,
            ),
            (
                put.clone(),
                vec![(im.clone(), "\"v0\", \"v1\"")],
                Some(TAG),
                None,
                P,
            ),
            (
                put.clone(),
                vec![(im.clone(), "\"v0\""), (im.clone(), "\"v1\"")],
                Some(TAG),
                None,
                P,
            ),
            (
                put.clone(),
                vec![(im.clone(), "W/\"v1\"")],
                Some(TAG),
                None,
                F,
            ),
            (
                put.clone(),
                vec![(im.clone(), TAG)],
                Some("W/\"v1\""),
                None,
                F,
            ),
            (put.clone(), vec![(im.clone(), "*")], Some(TAG), None, P),
            (
                put.clone(),
                vec![(im.clone(), "*")],
                None,
                Some(MODIFIED),
                P,
            ),
            (put.clone(), vec![(im.clone(), "*")], None, None, F),
            (
                put.clone(),
                vec![(im.clone(), TAG)],
                None,
                Some(MODIFIED),
                F,
            ),
            (
                get.clone(),
                vec![(im.clone(), "\"v0\"")],
                Some(TAG),
                None,
                F,
            ),
            (
                put.clone(),
                vec![(im.clone(), "garbage")],
                Some(TAG),
                None,
                F,
            ),
            (
                put.clone(),
                vec![(im.clone(), "garbage, \"v1\"")],
                Some(TAG),
                None,
                P,
            ),
            (
                put.clone(),
                vec![(im.clone(), "\"a,b\", \"v1\"")],
                Some(TAG),
                None,
                P,
            ),
            // If-Unmodified-Since: only without If-Match.
            (
                put.clone(),
                vec![(ius.clone(), MODIFIED)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(ius.clone(), LATER)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(ius.clone(), EARLIER)],
                Some(TAG),
                Some(MODIFIED),
                F,
            ),
            (
                put.clone(),
                vec![(ius.clone(), EARLIER)],
                Some(TAG),
                None,
                P,
            ),
            (
                put.clone(),
                vec![(ius.clone(), "not a date")],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(ius.clone(), EARLIER), (ius.clone(), EARLIER)],
                None,
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(im.clone(), TAG), (ius.clone(), EARLIER)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(im.clone(), "\"v0\""), (ius.clone(), LATER)],
                Some(TAG),
                Some(MODIFIED),
                F,
            ),
            // If-None-Match: weak comparison, lists, `*`; 304 for GET/HEAD, 412 otherwise.
            (get.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, N),
            (head.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, N),
            (
                get.clone(),
                vec![(inm.clone(), "W/\"v1\"")],
                Some(TAG),
                None,
                N,
            ),
            (
                get.clone(),
                vec![(inm.clone(), TAG)],
                Some("W/\"v1\""),
                None,
                N,
            ),
            (
                get.clone(),
                vec![(inm.clone(), "\"v0\"")],
                Some(TAG),
                None,
                P,
            ),
            (
                get.clone(),
                vec![(inm.clone(), "\"v0\", W/\"v1\"")],
                Some(TAG),
                None,
                N,
            ),
            (get.clone(), vec![(inm.clone(), "*")], Some(TAG), None, N),
            (get.clone(), vec![(inm.clone(), "*")], None, None, P),
            (put.clone(), vec![(inm.clone(), "*")], Some(TAG), None, F),
            (put.clone(), vec![(inm.clone(), "*")], None, None, P),
            (post.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, F),
            (
                post.clone(),
                vec![(inm.clone(), "\"v0\"")],
                Some(TAG),
                None,
                P,
            ),
            (
                get.clone(),
                vec![(inm.clone(), TAG)],
                None,
                Some(MODIFIED),
                P,
            ),
            // If-Match is evaluated before If-None-Match.
            (
                get.clone(),
                vec![(im.clone(), "\"v0\""), (inm.clone(), TAG)],
                Some(TAG),
                None,
                F,
            ),
            (
                get.clone(),
                vec![(im.clone(), TAG), (inm.clone(), TAG)],
                Some(TAG),
                None,
                N,
            ),
            // If-Modified-Since: GET/HEAD only, ignored with If-None-Match.
            (
                get.clone(),
                vec![(ims.clone(), MODIFIED)],
                Some(TAG),
                Some(MODIFIED),
                N,
            ),
            (
                get.clone(),
                vec![(ims.clone(), LATER)],
                Some(TAG),
                Some(MODIFIED),
                N,
            ),
            (
                get.clone(),
                vec![(ims.clone(), EARLIER)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                head.clone(),
                vec![(ims.clone(), MODIFIED)],
                None,
                Some(MODIFIED),
                N,
            ),
            (
                get.clone(),
                vec![(ims.clone(), MODIFIED)],
                Some(TAG),
                None,
                P,
            ),
            (
                get.clone(),
                vec![(ims.clone(), "Sunday, 06-Nov-94 08:49:37 GMT")],
                None,
                Some(MODIFIED),
                N,
            ),
            (
                get.clone(),
                vec![(ims.clone(), "Sun Nov  6 08:49:37 1994")],
                None,
                Some(MODIFIED),
                N,
            ),
            (
                get.clone(),
                vec![(ims.clone(), "garbage")],
                None,
                Some(MODIFIED),
                P,
            ),
            (
                get.clone(),
                vec![(ims.clone(), MODIFIED), (ims.clone(), MODIFIED)],
                None,
                Some(MODIFIED),
                P,
            ),
            (
                put.clone(),
                vec![(ims.clone(), MODIFIED)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                post.clone(),
                vec![(ims.clone(), LATER)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                get.clone(),
                vec![(inm.clone(), "\"v0\""), (ims.clone(), LATER)],
                Some(TAG),
                Some(MODIFIED),
                P,
            ),
            (
                get.clone(),
                vec![(inm.clone(), TAG), (ims.clone(), EARLIER)],
                Some(TAG),
                Some(MODIFIED),
                N,
            ),
        ];
        for (method, pairs, etag, modified, expected) in cases {
            let etag: Option<ETag> = etag.map(|t| t.parse().expect("valid tag"));
            let modified: Option<HttpDate> = modified.map(|d| d.parse().expect("valid date"));
            let got = evaluate(&headers(&pairs), etag.as_ref(), modified, &method);
            assert_eq!(
                got, expected,
                "{method} {pairs:?} etag={etag:?} lm={modified:?}"
            );
        }
    }

    fn app(handler: impl Handler) -> impl Handler {
        Stack::new()
            .layer(ConditionalRequests::new())
            .handler(handler)
    }

    fn request(method: Method, pairs: &[(HeaderName, &str)]) -> Request {
        let mut req = http::Request::builder()
            .method(method)
            .uri("/r")
            .body(Vec::new())
            .expect("valid request");
        *req.headers_mut() = headers(pairs);
        req
    }

    fn full_response(_req: Request) -> Result<Response, Problem> {
        let mut res = Response::new(b"content".to_vec());
        let h = res.headers_mut();
        for (name, value) in [
            (header::ETAG, TAG),
            (header::LAST_MODIFIED, MODIFIED),
            (header::CACHE_CONTROL, "max-age=60"),
            (header::CONTENT_LOCATION, "/r.json"),
            (header::DATE, LATER),
            (header::EXPIRES, LATER),
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_LENGTH, "7"),
            (header::SET_COOKIE, "a=b"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        h.append(header::VARY, HeaderValue::from_static("Accept"));
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        Ok(res)
    }

    #[test]
    fn not_modified_drops_the_representation_metadata() {
        let res = app(full_response)
            .call(request(Method::GET, &[(header::IF_NONE_MATCH, TAG)]))
            .expect("304");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert!(res.body().is_empty());
        let mut names: Vec<_> = res.headers().keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "cache-control",
                "content-location",
                "date",
                "etag",
                "expires",
                "set-cookie",
                "vary"
            ]
        );
        let vary: Vec<_> = res.headers().get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept", "Origin"]);
        assert_eq!(res.headers()[header::ETAG], TAG);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "max-age=60");
    }

    #[test]
    fn not_modified_keeps_last_modified_only_without_an_etag() {
        let no_etag = |req| {
            full_response(req).map(|mut res| {
                res.headers_mut().remove(header::ETAG);
                res
            })
        };
        let res = Stack::new()
            .layer(ConditionalRequests::new().with_generated_etags(false))
            .handler(no_etag)
            .call(request(Method::GET, &[(header::IF_MODIFIED_SINCE, LATER)]))
            .expect("304");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[header::LAST_MODIFIED], MODIFIED);
        assert!(!res.headers().contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn if_modified_since_gives_304_from_last_modified() {
        let res = app(full_response)
            .call(request(Method::HEAD, &[(header::IF_MODIFIED_SINCE, LATER)]))
            .expect("304");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        let res = app(full_response)
            .call(request(
                Method::GET,
                &[(header::IF_MODIFIED_SINCE, EARLIER)],
            ))
            .expect("200");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"content");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn failed_if_match_is_412_problem() {
        let err = app(full_response)
            .call(request(Method::GET, &[(header::IF_MATCH, "\"v0\"")]))
            .expect_err("412");
        assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
        let res = err.into_response();
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["status"], 412);
    }

    #[test]
    fn generates_strong_etag_from_body_when_absent() {
        let handler = |_req: Request| Ok(Response::new(b"hello".to_vec()));
        let res = app(handler).call(request(Method::GET, &[])).expect("200");
        let expected = ETag::from_body(b"hello").to_header_value();
        assert_eq!(res.headers()[header::ETAG], expected);
        assert_eq!(res.body().as_slice(), b"hello");

        let res = app(handler)
            .call(request(
                Method::GET,
                &[(header::IF_NONE_MATCH, expected.to_str().expect("ascii"))],
            ))
            .expect("304");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn generated_etag_differs_per_content_coding() {
        let encoded = |_req: Request| {
            let mut res = Response::new(b"hello".to_vec());
            res.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Ok(res)
        };
        let res = app(encoded).call(request(Method::GET, &[])).expect("200");
        let tag = ETag::from_header(&res.headers()[header::ETAG]).expect("valid tag");
        assert_eq!(tag, ETag::from_body(b"hello").for_content_coding("gzip"));
        assert!(tag.tag().ends_with("-gzip"));
    }

    #[test]
    fn handler_etag_is_kept_and_generation_can_be_disabled() {
        let res = app(full_response)
            .call(request(Method::GET, &[]))
            .expect("200");
        assert_eq!(res.headers()[header::ETAG], TAG);

        let plain = Stack::new()
            .layer(ConditionalRequests::new().with_generated_etags(false))
            .handler(|_req: Request| Ok(Response::new(b"x".to_vec())));
        let res = plain
            .call(request(Method::GET, &[(header::IF_NONE_MATCH, "*")]))
            .expect("200");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(!res.headers().contains_key(header::ETAG));
        assert!(
            !ConditionalRequests::new()
                .with_generated_etags(false)
                .generated_etags()
        );
    }

    #[test]
    fn leaves_non_2xx_and_unsafe_methods_alone() {
        let not_found = |_req: Request| Err(Problem::new(StatusCode::NOT_FOUND));
        let err = app(not_found)
            .call(request(Method::GET, &[(header::IF_MATCH, "\"v0\"")]))
            .expect_err("404 passes through");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);

        let redirect = |_req: Request| {
            let mut res = Response::new(Vec::new());
            *res.status_mut() = StatusCode::FOUND;
            Ok(res)
        };
        let res = app(redirect)
            .call(request(Method::GET, &[(header::IF_NONE_MATCH, "*")]))
            .expect("302");
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(!res.headers().contains_key(header::ETAG));

        // A PUT already acted; judging its preconditions afterwards would be wrong.
        let res = app(full_response)
            .call(request(Method::PUT, &[(header::IF_MATCH, "\"v0\"")]))
            .expect("passes through");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"content");
    }
}
