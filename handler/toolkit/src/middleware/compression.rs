//! Response compression with gzip ([RFC 1952](https://www.rfc-editor.org/rfc/rfc1952)) or
//! Brotli ([RFC 7932](https://www.rfc-editor.org/rfc/rfc7932)), chosen by `Accept-Encoding`
//! ([RFC 9110 §12.5.3](https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3)).
//!
//! ```
//! use std::io::Read;
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::Compression;
//! use http::header;
//!
//! let text = "all work and no play makes jack a dull boy\n".repeat(100);
//! let body = text.clone().into_bytes();
//! let app = Stack::new().layer(Compression::new()).handler(move |_req: Request| {
//!     let mut res = Response::new(body.clone());
//!     res.headers_mut().insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
//!     res.headers_mut().insert(header::ETAG, "\"v1\"".parse().unwrap());
//!     Ok(res)
//! });
//!
//! let req = http::Request::get("/").header("accept-encoding", "gzip, br;q=0.5").body(vec![]).unwrap();
//! let res = app.call_blocking(req).unwrap();
//! assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
//! assert_eq!(res.headers()[header::VARY], "Accept-Encoding");
//! assert_eq!(res.headers()[header::ETAG], "\"v1-gzip\"");
//! assert_eq!(res.headers()[header::CONTENT_LENGTH], res.body().len().to_string());
//! let mut plain = String::new();
//! flate2::read::GzDecoder::new(res.body().as_slice()).read_to_string(&mut plain).unwrap();
//! assert_eq!(plain, text);
//!
//! // Without Accept-Encoding the body is sent as it is, but caches still learn it varies.
//! let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
//! assert_eq!(res.headers()[header::VARY], "Accept-Encoding");
//! assert_eq!(res.body().len(), text.len());
//! ```

use std::io::Write as _;

use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::HandlerFuture;
use crate::cache::{CacheControl, ETag, add_vary};
use crate::stream::BodyStream;
use crate::{Middleware, Next, Request, Response};

/// A content coding this middleware can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentCoding {
    /// Brotli, `br`.
    Brotli,
    /// gzip, `gzip` (or `x-gzip`).
    Gzip,
}

impl ContentCoding {
    /// Every coding the middleware can apply, in its order of preference on ties.
    ///
    /// ```
    /// use edge_toolkit::middleware::ContentCoding;
    ///
    /// let codings: Vec<&str> = ContentCoding::ALL.iter().map(|c| c.as_str()).collect();
    /// assert_eq!(codings, ["br", "gzip"]);
    /// ```
    pub const ALL: [ContentCoding; 2] = [ContentCoding::Brotli, ContentCoding::Gzip];

    /// The `Content-Encoding` token.
    ///
    /// ```
    /// assert_eq!(edge_toolkit::middleware::ContentCoding::Brotli.as_str(), "br");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ContentCoding::Brotli => "br",
            ContentCoding::Gzip => "gzip",
        }
    }
}

/// Media types whose content is compressed already: compressing them again costs time and
/// gains nothing. `image/svg+xml` is text, and is compressed.
const INCOMPRESSIBLE: [&str; 16] = [
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-bzip2",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
    "application/x-xz",
    "application/zstd",
    "application/pdf",
    "application/wasm",
    "application/octet-stream",
    "font/woff",
    "font/woff2",
    // Each event must reach the client when it is sent; a compressor would hold it back.
    "text/event-stream",
    "application/vnd.ms-fontobject",
    "multipart/byteranges",
];

/// Compresses response bodies with `br` or `gzip`, whichever the client prefers by
/// `Accept-Encoding` (q-values; `q=0` excludes; `*` stands for any coding not listed; `br`
/// wins ties). Identity is used when the client sends no `Accept-Encoding`, accepts no
/// coding offered, or names `identity` with a higher weight than every coding.
///
/// A response is left as it is when:
/// - the status is `1xx`, `204`, `206` or `304`;
/// - it streams ([`BodyStream`]) or already has a `Content-Encoding` or a `Content-Range`;
/// - its body is empty, or not of the length its `Content-Length` says (a `HEAD` answer
///   without its content: what `GET` gets is not known, so `HEAD` gets no coding either);
/// - its body is smaller than the threshold ([`Compression::with_min_size`], default 1024
///   bytes);
/// - it says `Cache-Control: no-transform` (or has a `Cache-Control` that does not parse,
///   which might);
/// - its content is compressed already (`image/*` but SVG, `video/*`, `audio/*`, zip, gzip,
///   `font/woff2`, ...).
///
/// Every response that could be compressed gets `Vary: Accept-Encoding`, whether it was
/// compressed this time or not. A compressed response gets `Content-Encoding`, a corrected
/// `Content-Length`, and, when it has an `ETag`, one of its own
/// ([`ETag::for_content_coding`]): `"v1"` becomes `"v1-gzip"`.
///
/// # Order
///
/// Put it inside (after) [`ConditionalRequests`](crate::cache::ConditionalRequests): the
/// conditional layer then sees the encoded response, computes (or keeps) a tag per coding,
/// and compares `If-None-Match` against the tag of the coding the client would get. Errors
/// from the inner chain (`Err(Problem)`) are small and pass uncompressed.
///
/// ```
/// use edge_toolkit::Router;
/// use edge_toolkit::cache::ConditionalRequests;
/// use edge_toolkit::middleware::Compression;
///
/// let router = Router::new()
///     .layer(ConditionalRequests::new())
///     .layer(Compression::new().with_min_size(256));
/// # let _ = router;
/// ```
#[derive(Debug, Clone)]
pub struct Compression {
    min_size: usize,
    gzip: bool,
    brotli: bool,
    gzip_level: u32,
    brotli_quality: u32,
}

impl Default for Compression {
    fn default() -> Self {
        Self::new()
    }
}

impl Compression {
    /// `br` and `gzip`, for bodies of 1024 bytes or more; gzip level 6, Brotli quality 5
    /// (fast enough for responses made per request).
    pub fn new() -> Self {
        Self {
            min_size: 1024,
            gzip: true,
            brotli: true,
            gzip_level: 6,
            brotli_quality: 5,
        }
    }

    /// Bodies smaller than `bytes` are sent as they are.
    pub fn with_min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// Whether gzip may be used (default `true`).
    pub fn with_gzip(mut self, enabled: bool) -> Self {
        self.gzip = enabled;
        self
    }

    /// Whether Brotli may be used (default `true`).
    pub fn with_brotli(mut self, enabled: bool) -> Self {
        self.brotli = enabled;
        self
    }

    /// The gzip level, 0 (none) to 9 (smallest), default 6.
    pub fn with_gzip_level(mut self, level: u32) -> Self {
        self.gzip_level = level.min(9);
        self
    }

    /// The Brotli quality, 0 (fastest) to 11 (smallest), default 5.
    pub fn with_brotli_quality(mut self, quality: u32) -> Self {
        self.brotli_quality = quality.min(11);
        self
    }

    /// The threshold below which bodies are not compressed.
    pub fn min_size(&self) -> usize {
        self.min_size
    }

    pub(crate) fn offered(&self) -> Vec<ContentCoding> {
        let mut offered = Vec::with_capacity(2);
        if self.brotli {
            offered.push(ContentCoding::Brotli);
        }
        if self.gzip {
            offered.push(ContentCoding::Gzip);
        }
        offered
    }

    /// Whether `res` may be compressed at all, whatever the client accepts.
    fn compressible(&self, res: &Response) -> bool {
        let status = res.status();
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::PARTIAL_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || res.body().len() < self.min_size
            || !holds_its_content(res)
        {
            return false;
        }
        let headers = res.headers();
        if headers.contains_key(header::CONTENT_ENCODING)
            || headers.contains_key(header::CONTENT_RANGE)
        {
            return false;
        }
        // A Cache-Control that does not parse may still say no-transform: leave it alone.
        if !matches!(CacheControl::from_headers(headers), Ok(cc) if !cc.no_transform()) {
            return false;
        }
        match headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            Some(content_type) => !is_compressed_media_type(content_type),
            None => true,
        }
    }

    pub(crate) fn encode(&self, coding: ContentCoding, body: &[u8]) -> std::io::Result<Vec<u8>> {
        match coding {
            ContentCoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 2),
                    flate2::Compression::new(self.gzip_level),
                );
                encoder.write_all(body)?;
                encoder.finish()
            }
            ContentCoding::Brotli => {
                let mut encoder = brotli::CompressorWriter::new(
                    Vec::with_capacity(body.len() / 2),
                    4096,
                    self.brotli_quality,
                    22,
                );
                encoder.write_all(body)?;
                encoder.flush()?;
                Ok(encoder.into_inner())
            }
        }
    }
}

/// Whether the buffered body of `res` is all of its content, which compressing it would
/// encode: not when it streams ([`BodyStream`]), and not when it is empty (nothing to gain)
/// or of another length than the `Content-Length` it declares, as the answer to a `HEAD`
/// that leaves the content out (a static file's) is: encoding that empty body would give
/// `HEAD` a coding, a length and an `ETag` that the `GET` it stands for does not have.
fn holds_its_content(res: &Response) -> bool {
    if res.body().is_empty() || BodyStream::is_streaming(res) {
        return false;
    }
    res.headers()
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .all(|declared| declared.to_str().ok() == Some(res.body().len().to_string().as_str()))
}

/// Whether content of `content_type` is compressed already.
pub(crate) fn is_compressed_media_type(content_type: &str) -> bool {
    let essence = crate::negotiate::media_type_essence(content_type);
    if essence == "image/svg+xml" {
        return false;
    }
    essence.starts_with("image/")
        || essence.starts_with("video/")
        || essence.starts_with("audio/")
        || INCOMPRESSIBLE.contains(&essence.as_str())
}

/// The coding to use for a request with these headers, among `offered` (in the server's
/// order of preference, which breaks ties); `None` for identity.
///
/// ```
/// use edge_toolkit::middleware::{ContentCoding, choose_content_coding};
/// use http::HeaderMap;
///
/// let offered = [ContentCoding::Brotli, ContentCoding::Gzip];
/// let headers = |value: &str| {
///     let mut h = HeaderMap::new();
///     h.insert("accept-encoding", value.parse().unwrap());
///     h
/// };
/// assert_eq!(choose_content_coding(&headers("gzip, br"), &offered), Some(ContentCoding::Brotli));
/// assert_eq!(choose_content_coding(&headers("gzip;q=1, br;q=0.8"), &offered), Some(ContentCoding::Gzip));
/// assert_eq!(choose_content_coding(&headers("*;q=0.5, br;q=0"), &offered), Some(ContentCoding::Gzip));
/// assert_eq!(choose_content_coding(&headers("identity"), &offered), None);
/// assert_eq!(choose_content_coding(&HeaderMap::new(), &offered), None);
/// ```
pub fn choose_content_coding(
    headers: &HeaderMap,
    offered: &[ContentCoding],
) -> Option<ContentCoding> {
    if !headers.contains_key(header::ACCEPT_ENCODING) {
        return None;
    }
    // q-values in thousandths, for the explicitly listed codings and `*`.
    let listed: Vec<(String, u16)> =
        crate::negotiate::weighted_members(headers, &header::ACCEPT_ENCODING).collect();
    let lookup = |name: &str| {
        listed
            .iter()
            .find(|(coding, _)| coding == name)
            .map(|(_, q)| *q)
    };
    let any = lookup("*");
    let weight = |coding: ContentCoding| {
        let explicit = match coding {
            ContentCoding::Gzip => lookup("gzip").or_else(|| lookup("x-gzip")),
            ContentCoding::Brotli => lookup("br"),
        };
        explicit.or(any).unwrap_or(0)
    };
    // Identity is always acceptable; it is preferred only when listed (by name, or by `*`,
    // which covers it too: RFC 9110 §12.5.3) with a weight above every coding's.
    let identity = lookup("identity").or(any).unwrap_or(0);
    let mut best: Option<(ContentCoding, u16)> = None;
    for &coding in offered {
        let q = weight(coding);
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((coding, q));
        }
    }
    best.filter(|&(_, q)| q >= identity)
        .map(|(coding, _)| coding)
}

impl Middleware for Compression {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let mut accept = HeaderMap::new();
            for value in req.headers().get_all(header::ACCEPT_ENCODING) {
                accept.append(header::ACCEPT_ENCODING, value.clone());
            }
            let mut res = next.run(req).await?;
            if !self.compressible(&res) {
                return Ok(res);
            }
            add_vary(res.headers_mut(), "Accept-Encoding");
            let Some(coding) = choose_content_coding(&accept, &self.offered()) else {
                return Ok(res);
            };
            let Ok(encoded) = self.encode(coding, res.body()) else {
                // Writing into a Vec cannot fail; should an encoder fail anyway, send identity.
                return Ok(res);
            };
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.as_str()),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
            if let Some(etag) = headers
                .get(header::ETAG)
                .and_then(|v| ETag::from_header(v).ok())
            {
                headers.insert(
                    header::ETAG,
                    etag.for_content_coding(coding.as_str()).to_header_value(),
                );
            }
            *res.body_mut() = encoded;
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Problem;
    use std::io::Read as _;

    use super::*;
    use http::Method;

    use crate::{Handler, Stack};

    const BR: Option<ContentCoding> = Some(ContentCoding::Brotli);
    const GZ: Option<ContentCoding> = Some(ContentCoding::Gzip);

    #[test]
    fn negotiation_table() {
        // (Accept-Encoding lines, chosen)
        let cases: [(&[&str], Option<ContentCoding>); 23] = [
            (&[], None),
            (&[""], None),
            (&["gzip"], GZ),
            (&["br"], BR),
            (&["gzip, br"], BR),
            (&["br, gzip"], BR),
            (&["gzip;q=1.0, br;q=0.9"], GZ),
            (&["gzip;q=0.5, br;q=0.5"], BR),
            (&["GZIP"], GZ),
            (&["x-gzip"], GZ),
            (&["*"], BR),
            (&["*;q=0.1, br;q=0"], GZ),
            (&["gzip;q=0"], None),
            (&["br;q=0, gzip;q=0"], None),
            (&["identity"], None),
            (&["deflate, compress"], None),
            (&["gzip;q=0.5, identity;q=1"], None),
            (&["gzip;q=0.5, *;q=0"], GZ),
            (&["gzip;q=bogus, br;q=0.2"], BR),
            (&["gzip", "br"], BR),
            (&["gzip ; q=0.8 , br ; q=0.7"], GZ),
            // `*` covers identity too.
            (&["*;q=0.5, gzip;q=0.2, br;q=0.2"], None),
            (&["*;q=0.5, gzip;q=0.7"], GZ),
        ];
        let offered = [ContentCoding::Brotli, ContentCoding::Gzip];
        for (lines, chosen) in cases {
            let mut headers = HeaderMap::new();
            for line in lines {
                headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static(line));
            }
            assert_eq!(
                choose_content_coding(&headers, &offered),
                chosen,
                "{lines:?}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        assert_eq!(
            choose_content_coding(&headers, &[ContentCoding::Gzip]),
            GZ,
            "only what is offered"
        );
    }

    fn app(
        body: Vec<u8>,
        status: StatusCode,
        headers: &'static [(&'static str, &'static str)],
    ) -> impl Handler {
        Stack::new()
            .layer(Compression::new())
            .handler(move |_req: Request| {
                let mut res = Response::new(body.clone());
                *res.status_mut() = status;
                for (name, value) in headers {
                    res.headers_mut()
                        .append(*name, HeaderValue::from_static(value));
                }
                Ok(res)
            })
    }

    fn call(app: &impl Handler, method: Method, accept: &str) -> Response {
        let req = http::Request::builder()
            .method(method)
            .uri("/")
            .header(header::ACCEPT_ENCODING, accept)
            .body(Vec::new())
            .expect("valid");
        app.call_blocking(req).expect("ok")
    }

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    fn unbrotli(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .expect("valid brotli");
        out
    }

    fn text(len: usize) -> Vec<u8> {
        b"{\"id\":1,\"name\":\"Ada Lovelace\"},"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    /// (status, headers, body length, method, coding sent, Vary added)
    type Case = (
        StatusCode,
        &'static [(&'static str, &'static str)],
        usize,
        Method,
        Option<&'static str>,
        bool,
    );

    /// RFC 9110 §9.3.2: `HEAD` gets the header fields `GET` would, the coding and its ETag
    /// included; the router removes the body afterwards.
    #[test]
    fn head_gets_the_headers_of_get() {
        let body = text(4000);
        let router = crate::Router::new()
            .layer(Compression::new())
            .get("/", move |_req: Request| {
                let mut res = Response::new(body.clone());
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                res.headers_mut().insert(
                    header::ETAG,
                    crate::cache::ETag::from_body(&body).to_header_value(),
                );
                Ok(res)
            })
            .expect("route");
        let send = |method: Method| {
            router.handle(
                http::Request::builder()
                    .method(method)
                    .uri("/")
                    .header(header::ACCEPT_ENCODING, "gzip")
                    .body(Vec::new())
                    .expect("valid"),
            )
        };
        let (get, head) = (send(Method::GET), send(Method::HEAD));
        assert_eq!(get.headers()[header::CONTENT_ENCODING], "gzip");
        for name in [
            header::CONTENT_ENCODING,
            header::CONTENT_LENGTH,
            header::ETAG,
            header::VARY,
        ] {
            assert_eq!(
                head.headers().get(&name),
                get.headers().get(&name),
                "{name}"
            );
        }
        assert!(head.body().is_empty());
    }

    #[test]
    fn which_responses_are_compressed() {
        let cases: [Case; 17] = [
            (
                StatusCode::OK,
                &[("content-type", "application/json")],
                2000,
                Method::GET,
                Some("br"),
                true,
            ),
            (StatusCode::OK, &[], 2000, Method::GET, Some("br"), true),
            (
                StatusCode::OK,
                &[("content-type", "text/html; charset=utf-8")],
                1024,
                Method::GET,
                Some("br"),
                true,
            ),
            (
                StatusCode::OK,
                &[("content-type", "image/svg+xml")],
                2000,
                Method::GET,
                Some("br"),
                true,
            ),
            (
                StatusCode::NOT_FOUND,
                &[("content-type", "application/problem+json")],
                2000,
                Method::GET,
                Some("br"),
                true,
            ),
            (
                StatusCode::OK,
                &[("content-type", "application/json")],
                1023,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-type", "application/json")],
                2000,
                Method::HEAD,
                Some("br"),
                true,
            ),
            (
                StatusCode::OK,
                &[("content-type", "image/png")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-type", "video/mp4")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-type", "audio/ogg")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-type", "application/zip")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-type", "font/woff2")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("content-encoding", "gzip")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("cache-control", "public, no-transform")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (
                StatusCode::OK,
                &[("cache-control", "no-transform, max-age=60;x")],
                2000,
                Method::GET,
                None,
                false,
            ),
            (StatusCode::NO_CONTENT, &[], 2000, Method::GET, None, false),
            (
                StatusCode::NOT_MODIFIED,
                &[],
                2000,
                Method::GET,
                None,
                false,
            ),
        ];
        for (status, headers, len, method, coding, vary) in cases {
            let body = text(len);
            let res = call(
                &app(body.clone(), status, headers),
                method.clone(),
                "br, gzip",
            );
            let what = format!("{status} {headers:?} {len} {method}");
            assert_eq!(res.status(), status, "{what}");
            assert_eq!(
                res.headers()
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().expect("ascii")),
                coding.or(headers
                    .iter()
                    .find(|(n, _)| *n == "content-encoding")
                    .map(|(_, v)| *v)),
                "{what}"
            );
            assert_eq!(res.headers().contains_key(header::VARY), vary, "{what}");
            if coding.is_some() {
                assert_eq!(unbrotli(res.body()), body, "{what}");
                assert!(res.body().len() < body.len(), "{what}");
                assert_eq!(
                    res.headers()[header::CONTENT_LENGTH],
                    res.body().len().to_string()
                );
            } else {
                assert_eq!(res.body(), &body, "{what}");
            }
        }
    }

    #[test]
    fn gzip_round_trip_etag_and_vary_merge() {
        let body = text(4096);
        let app = app(
            body.clone(),
            StatusCode::OK,
            &[
                ("etag", "W/\"v7\""),
                ("vary", "Origin"),
                ("content-length", "4096"),
            ],
        );
        let res = call(&app, Method::GET, "gzip");
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gunzip(res.body()), body);
        assert_eq!(res.headers()[header::ETAG], "W/\"v7-gzip\"");
        assert_eq!(res.headers()[header::VARY], "Origin, Accept-Encoding");
        assert_eq!(
            res.headers()[header::CONTENT_LENGTH],
            res.body().len().to_string()
        );

        let res = call(&app, Method::GET, "identity");
        assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(res.headers()[header::ETAG], "W/\"v7\"");
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "4096");
        assert_eq!(res.headers()[header::VARY], "Origin, Accept-Encoding");
    }

    #[test]
    fn streams_and_problems_pass_untouched() {
        let streaming = Stack::new()
            .layer(Compression::new().with_min_size(0))
            .handler(|_req: Request| {
                Ok(crate::stream::streaming_response(
                    StatusCode::OK,
                    HeaderMap::new(),
                    std::iter::once(text(4096)),
                ))
            });
        let res = call(&streaming, Method::GET, "gzip");
        assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
        assert!(!res.headers().contains_key(header::VARY));
        assert_eq!(crate::stream::collect_body(res), text(4096));

        let failing = Stack::new()
            .layer(Compression::new().with_min_size(0))
            .handler(|_req: Request| -> Result<Response, Problem> {
                Err(Problem::new(StatusCode::BAD_REQUEST))
            });
        let req = http::Request::get("/")
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Vec::new())
            .expect("valid");
        assert_eq!(
            failing.call_blocking(req).expect_err("problem").status(),
            400
        );
    }

    /// Regression: with a threshold of 0, the empty body of a `HEAD` answer that leaves the
    /// content out (a static file's, whose `GET` streams and is never compressed) was
    /// "compressed" to a few bytes, and `HEAD` got a `Content-Encoding`, a `Content-Length`
    /// of the encoded nothing and a suffixed `ETag` that `GET` did not have.
    #[test]
    fn a_head_answer_without_its_content_is_not_compressed() {
        let compression = || Compression::new().with_min_size(0);
        let head = Stack::new().layer(compression()).handler(|_req: Request| {
            let mut res = Response::new(Vec::new());
            let headers = res.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(5000));
            headers.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
            Ok(res)
        });
        let res = call(&head, Method::HEAD, "gzip, br");
        assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
        assert!(!res.headers().contains_key(header::VARY));
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "5000");
        assert_eq!(res.headers()[header::ETAG], "\"v1\"");
        assert!(res.body().is_empty());

        // An empty body has nothing to gain either.
        let empty = Stack::new()
            .layer(compression())
            .handler(|_req: Request| Ok(Response::new(Vec::new())));
        let res = call(&empty, Method::GET, "gzip");
        assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
        assert!(!res.headers().contains_key(header::VARY));
        assert!(res.body().is_empty());

        // A body of the declared length is compressed as before.
        let full = Stack::new().layer(compression()).handler(|_req: Request| {
            let mut res = Response::new(text(2000));
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(2000));
            Ok(res)
        });
        let res = call(&full, Method::GET, "gzip");
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gunzip(res.body()), text(2000));
    }

    /// A compressed range would be a range of the encoded bytes, and a `Content-Range`
    /// would describe the wrong ones: partial content is sent as it is.
    #[test]
    fn partial_content_is_never_compressed() {
        // (status, headers)
        let cases: [(StatusCode, &'static [(&'static str, &'static str)]); 3] = [
            (
                StatusCode::PARTIAL_CONTENT,
                &[
                    ("content-type", "text/plain"),
                    ("content-range", "bytes 0-1999/9000"),
                    ("etag", "\"v1\""),
                ],
            ),
            (
                StatusCode::OK,
                &[
                    ("content-type", "text/plain"),
                    ("content-range", "bytes 0-1999/2000"),
                ],
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                &[("content-type", "multipart/byteranges; boundary=b")],
            ),
        ];
        for (status, headers) in cases {
            let res = call(&app(text(2000), status, headers), Method::GET, "gzip, br");
            assert_eq!(res.status(), status, "{headers:?}");
            assert!(
                !res.headers().contains_key(header::CONTENT_ENCODING),
                "{headers:?}"
            );
            assert!(!res.headers().contains_key(header::VARY), "{headers:?}");
            assert_eq!(res.body(), &text(2000), "{headers:?}");
            for (name, value) in headers {
                assert_eq!(res.headers()[*name], *value, "{headers:?}");
            }
        }
    }

    #[test]
    fn codings_can_be_disabled_and_tuned() {
        let only_gzip = Stack::new()
            .layer(
                Compression::new()
                    .with_brotli(false)
                    .with_gzip_level(9)
                    .with_brotli_quality(99)
                    .with_min_size(10),
            )
            .handler(|_req: Request| Ok(Response::new(text(100))));
        let res = call(&only_gzip, Method::GET, "br, gzip;q=0.1");
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gunzip(res.body()), text(100));
        assert_eq!(Compression::new().with_min_size(5).min_size(), 5);
        let none = Compression::new().with_gzip(false).with_brotli(false);
        assert!(none.offered().is_empty());
    }
}
