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
//! let first = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert_eq!(first.status(), StatusCode::OK);
//! let etag = first.headers()[header::ETAG].clone();
//!
//! // Revalidating with it gives 304 Not Modified, without a body.
//! let revalidate = http::Request::get("/")
//!     .header(header::IF_NONE_MATCH, etag.clone())
//!     .body(vec![])
//!     .unwrap();
//! let res = app.call_blocking(revalidate).unwrap();
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
//! assert_eq!(app.call_blocking(stale).unwrap_err().status(), StatusCode::PRECONDITION_FAILED);
//! ```
//!
//! For state-changing methods (`PUT`, `DELETE`, ...), see [`ConditionalRequests`].

use http::{HeaderMap, HeaderName, Method, StatusCode, header};

use crate::HandlerFuture;
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
    evaluate_judged(headers, etags, last_modified, exists, method)
}

/// [`evaluate_variants`] where whether a current representation `exists` is known apart
/// from its validators.
fn evaluate_judged(
    headers: &HeaderMap,
    etags: &[ETag],
    last_modified: Option<HttpDate>,
    exists: bool,
    method: &Method,
) -> Outcome {
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
/// The preconditions of a `PUT`, `POST`, `PATCH` or `DELETE` must be judged *before* it
/// acts (RFC 9110 §13.1), against the resource as it is now. When such a request carries
/// `If-Match`, `If-None-Match` or `If-Unmodified-Since`, the middleware first asks the
/// inner chain for the current representation: a `GET` of the same target with the same
/// header fields (credentials included) but without the conditions, the body, its
/// `Content-*` fields and `Accept-Encoding`. Then:
///
/// - a `2xx` answer is the current representation: its `ETag` (or, as for `GET`, one
///   computed from its body) and `Last-Modified` are the validators, and a tag also matches
///   in each content coding [`Compression`](crate::middleware::Compression) may give it
///   ([`evaluate_variants`]); a representation without validators still matches `*`;
/// - any other answer (`404`, `401`, `405`, a redirect, a fault) leaves the request to the
///   handler unevaluated: RFC 9110 §13.2.1 puts those before preconditions, and only the
///   handler knows whether a `PUT` to a missing target creates it (`If-Match` is then
///   false) or answers `404` (preconditions ignored). `If-None-Match: *` holds either way.
///
/// A false precondition is answered `412` just before the handler of the unsafe method
/// would run: after the middleware of its route and group (so a write without credentials
/// is still `401`, a body too large still `413`), and the handler is never called. So
/// `If-None-Match: *` on a `POST` or `PUT` to a target that exists is a `412`, and a lost
/// update (`If-Match` with an old tag) never reaches the handler. Every handler the
/// [`Router`](crate::Router) or a [`Stack`](crate::Stack) runs is behind that check,
/// however it was registered. The middleware only decides from what a `GET` shows: a
/// handler that writes should still compare atomically with the state it writes over, as
/// [`evaluate`] lets it:
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
///
/// The probing `GET` runs the middleware inside this one and the `GET` route's own (its
/// authentication included, with the request's credentials).
///
/// [`ConditionalRequests::with_unsafe_methods`] turns this off.
#[derive(Debug, Clone)]
pub struct ConditionalRequests {
    generate_etags: bool,
    unsafe_methods: bool,
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
            unsafe_methods: true,
        }
    }

    /// Whether the preconditions of other methods than `GET` and `HEAD` are evaluated
    /// here, against a `GET` of the same target, before the handler runs (default `true`;
    /// see [State-changing methods](ConditionalRequests#state-changing-methods)).
    pub fn with_unsafe_methods(mut self, evaluate: bool) -> Self {
        self.unsafe_methods = evaluate;
        self
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
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let method = req.method().clone();
            if method != Method::GET && method != Method::HEAD {
                if self.unsafe_methods && method != Method::OPTIONS && method != Method::TRACE {
                    return self.unsafe_method(req, next).await;
                }
                return next.run(req).await;
            }
            let conditions = conditions_of(req.headers());

            let mut res = next.run(req).await?;
            if !res.status().is_success() {
                return Ok(res);
            }
            if crate::stream::BodyStream::is_streaming(&res) {
                // The body is not known yet: there is nothing to compute a tag from, and a
                // live stream is not something to revalidate.
                return Ok(res);
            }
            self.tag(&mut res);
            if conditions.is_empty() {
                return Ok(res);
            }
            let (etag, last_modified) = validators(&res);
            match evaluate(&conditions, etag.as_ref(), last_modified, &method) {
                Outcome::Proceed => Ok(res),
                Outcome::NotModified => Ok(not_modified(res)),
                Outcome::PreconditionFailed => Err(precondition_failed()),
            }
        })
    }
}

impl ConditionalRequests {
    /// Adds a strong `ETag` computed from the body when the response has none (and tags are
    /// generated).
    fn tag(&self, res: &mut Response) {
        if !self.generate_etags || res.headers().contains_key(header::ETAG) {
            return;
        }
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

    /// A state-changing request: its preconditions judged against a `GET` of its target
    /// before it runs.
    async fn unsafe_method(&self, req: Request, next: Next<'_>) -> Result<Response, Problem> {
        let conditions = conditions_of(req.headers());
        // If-Modified-Since applies to GET and HEAD only (RFC 9110 §13.1.3).
        let judged = [
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_UNMODIFIED_SINCE,
        ];
        if !judged.iter().any(|name| conditions.contains_key(name)) {
            return next.run(req).await;
        }
        let probe = probe_of(&req);
        let (etags, last_modified) = match next.run(probe).await {
            Ok(mut current) if current.status().is_success() => {
                if !crate::stream::BodyStream::is_streaming(&current) {
                    self.tag(&mut current);
                }
                let (etag, last_modified) = validators(&current);
                let etags = etag.map(|etag| {
                    let codings = crate::middleware::ContentCoding::ALL
                        .iter()
                        .map(|coding| etag.for_content_coding(coding.as_str()));
                    std::iter::once(etag.clone())
                        .chain(codings)
                        .collect::<Vec<_>>()
                });
                (etags.unwrap_or_default(), last_modified)
            }
            // Nothing there, or a redirect, a refusal or a fault: preconditions come after
            // all of these (RFC 9110 §13.2.1), and only the handler knows whether the method
            // would create the resource (`If-Match` false) or answer `404` (preconditions
            // ignored). `If-None-Match: *` holds either way.
            _ => return next.run(req).await,
        };
        // A representation without validators still exists: `*` matches it.
        match evaluate_judged(&conditions, &etags, last_modified, true, req.method()) {
            Outcome::Proceed => next.run(req).await,
            Outcome::NotModified | Outcome::PreconditionFailed => {
                // Answered `412` just before the handler, once the route's own middleware
                // (authentication, limits) has had its say (RFC 9110 §13.2.1).
                let mut req = req;
                req.extensions_mut().insert(PreconditionFailed);
                next.run(req).await
            }
        }
    }
}

/// Put on a request whose preconditions [`ConditionalRequests`] found false: the handler
/// must not run; [`Preconditioned`] answers `412` instead.
#[derive(Debug, Clone, Copy)]
struct PreconditionFailed;

/// A handler behind the check for [`PreconditionFailed`]: every handler the router or a
/// [`Stack`](crate::Stack) runs is one, so no handler acts on a failed precondition however
/// it was registered.
pub(crate) struct Preconditioned<H>(pub(crate) H);

impl<H: crate::Handler> crate::Handler for Preconditioned<H> {
    fn call(&self, req: Request) -> HandlerFuture<'_> {
        if req.extensions().get::<PreconditionFailed>().is_some() {
            return Box::pin(std::future::ready(Err(precondition_failed())));
        }
        self.0.call(req)
    }

    fn max_body(&self) -> Option<u64> {
        self.0.max_body()
    }

    fn streams_body(&self) -> bool {
        self.0.streams_body()
    }

    fn answers_preconditions(&self) -> bool {
        true
    }
}

/// The conditional header fields of `headers`.
fn conditions_of(headers: &HeaderMap) -> HeaderMap {
    let mut conditions = HeaderMap::new();
    for name in CONDITIONAL_HEADERS {
        for value in headers.get_all(&name) {
            conditions.append(name.clone(), value.clone());
        }
    }
    conditions
}

/// The `ETag` and `Last-Modified` of a response, where valid.
fn validators(res: &Response) -> (Option<ETag>, Option<HttpDate>) {
    let etag = res
        .headers()
        .get(header::ETAG)
        .and_then(|v| ETag::from_header(v).ok());
    let last_modified = res
        .headers()
        .get(header::LAST_MODIFIED)
        .and_then(|v| HttpDate::from_header(v).ok());
    (etag, last_modified)
}

/// A `GET` of `req`'s target with its header fields and extensions, less the conditions,
/// the content and `Accept-Encoding` (the identity representation, whose tag every coding's
/// tag derives from).
fn probe_of(req: &Request) -> Request {
    let mut probe = http::Request::new(Vec::new());
    *probe.method_mut() = Method::GET;
    *probe.uri_mut() = req.uri().clone();
    *probe.version_mut() = req.version();
    let headers = probe.headers_mut();
    for (name, value) in req.headers() {
        let content = name.as_str().starts_with("content-") || *name == header::TRANSFER_ENCODING;
        if content || CONDITIONAL_HEADERS.contains(name) || *name == header::ACCEPT_ENCODING {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    *probe.extensions_mut() = req.extensions().clone();
    // The body streaming in is the request's, not the probe's: a `GET` handler taking an
    // `Upload` must not read it away.
    crate::body::detach(&mut probe);
    probe
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
