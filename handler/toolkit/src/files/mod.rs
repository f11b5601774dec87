//! Static files from a directory: [`StaticFiles`], a [`Handler`] serving the file a route's
//! catch-all parameter names, with validators, conditional requests and byte ranges
//! ([RFC 9110 §8.8, §13, §14](https://www.rfc-editor.org/rfc/rfc9110)).
//!
//! In a component the directory is one the host preopens, read-only: in spin.toml,
//! `files = [{ source = "static", destination = "/static" }]` on the component; with
//! `edge-host serve`, `--dir static::/static`. Natively (in tests) it is any directory.
//! Bodies are read from the file as they are sent, 64 KiB at a time
//! ([`BodyStream`]), so a file larger than the instance's memory is served all the same.
//!
//! ```
//! use edge_toolkit::Router;
//! use edge_toolkit::files::StaticFiles;
//! use edge_toolkit::stream::collect_body;
//! use http::{StatusCode, header};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A directory to serve (in a component: the preopened `/static`).
//! let root = std::env::temp_dir().join(format!("edge-toolkit-files-doc-{}", std::process::id()));
//! std::fs::create_dir_all(root.join("css"))?;
//! std::fs::write(root.join("css/site.css"), "body { margin: 0 }")?;
//!
//! let router = Router::new().get("/static/{*path}", StaticFiles::new(&root))?;
//!
//! let res = router.handle(http::Request::get("/static/css/site.css").body(Vec::new())?);
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
//! assert_eq!(res.headers()[header::CONTENT_LENGTH], "18");
//! assert_eq!(res.headers()[header::ACCEPT_RANGES], "bytes");
//! let etag = res.headers()[header::ETAG].clone();
//! assert_eq!(collect_body(res), b"body { margin: 0 }");
//!
//! // A client holding the current copy gets a 304, without a body.
//! let again = http::Request::get("/static/css/site.css").header(header::IF_NONE_MATCH, etag);
//! let res = router.handle(again.body(Vec::new())?);
//! assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
//!
//! // A range of it.
//! let part = http::Request::get("/static/css/site.css").header(header::RANGE, "bytes=0-3");
//! let res = router.handle(part.body(Vec::new())?);
//! assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
//! assert_eq!(res.headers()[header::CONTENT_RANGE], "bytes 0-3/18");
//! assert_eq!(collect_body(res), b"body");
//!
//! // Nothing outside the directory, however the path is spelled.
//! let res = router.handle(http::Request::get("/static/%2e%2e/secret").body(Vec::new())?);
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
//! let res = router.handle(http::Request::get("/static/missing.css").body(Vec::new())?);
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok(())
//! # }
//! ```
//!
//! # What a response carries
//!
//! | Request | Status | Notes |
//! | --- | --- | --- |
//! | a file | `200` | `Content-Type` by extension, `Content-Length`, `ETag`, `Last-Modified`, `Accept-Ranges: bytes`, `X-Content-Type-Options: nosniff` |
//! | `HEAD` | as `GET` | the same header fields, no body, nothing read |
//! | a directory | `200` / `404` | its index file ([`StaticFiles::index`]), else `404` |
//! | `If-Match`, `If-Unmodified-Since` false | `412` | RFC 9110 §13.2.2 order, through [`evaluate`] |
//! | `If-None-Match`, `If-Modified-Since` false | `304` | [`not_modified`] |
//! | `Range: bytes=0-4` (one range) | `206` | `Content-Range: bytes 0-4/len` |
//! | `Range: bytes=0-1,-2` (several) | `206` | `multipart/byteranges`, each part with its `Content-Type` and `Content-Range` |
//! | a `Range` no range of which is in the file | `416` | `Content-Range: bytes */len` |
//! | a `Range` that is invalid, in another unit, of more than 16 ranges or of overlapping ones; an `If-Range` that does not match | `200` | the whole file (RFC 9110 §14.2 lets a server ignore `Range`) |
//! | `..`, an encoded `/`, a `\` or a NUL in the path | `400` | problem+json |
//! | nothing there | `404` | problem+json |
//! | another I/O failure | `500` | problem+json; the error goes to stderr, not to the client |
//! | with [`StaticFiles::with_compression`], a text file and an `Accept-Encoding` that takes `br` or `gzip` | `200` | coded by the handler: `Content-Encoding`, the coding in the `ETag`, `Vary: Accept-Encoding`, no `Accept-Ranges` (a `Range` is served uncoded) |
//!
//! # With other middleware
//!
//! A file's body streams, and the answer to `HEAD` has none, so
//! [`Compression`] leaves both alone (files are sent as
//! they are stored, and `HEAD` gets the header fields of `GET`; a `206` or a
//! `Content-Range` is never compressed in any case), and
//! [`ConditionalRequests`](crate::cache::ConditionalRequests) adds nothing: the handler
//! answers conditional requests itself, with the validators of the file.

mod body;
mod fs;
mod path;
mod range;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use http::{HeaderValue, Method, StatusCode, header};

use crate::cache::{ETag, HttpDate, Outcome, evaluate, not_modified, precondition_failed};
use crate::middleware::{Compression, ContentCoding, choose_content_coding};
use crate::stream::BodyStream;
use crate::{Handler, HandlerFuture, PathParams, Problem, Request, Response};

use body::{FileBody, Segment};
use range::{ByteRange, Ranges};

/// Why a file could not be served, and the status that is answered.
///
/// | Variant | Status |
/// | --- | --- |
/// | [`PathNotAllowed`](FileError::PathNotAllowed) | `400` |
/// | [`NotFound`](FileError::NotFound) | `404` |
/// | [`Io`](FileError::Io) | `500` |
///
/// ```
/// use edge_toolkit::files::FileError;
///
/// let err = FileError::PathNotAllowed { reason: "it has a `..` segment" };
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.to_string(), "the path is not allowed: it has a `..` segment");
/// let res = edge_toolkit::Problem::from(FileError::NotFound).into_response();
/// assert_eq!(res.status(), 404);
/// assert_eq!(res.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The path could name something outside the root (a `..` segment, an encoded `/`, a
    /// `\`), or no file at all (a NUL, a segment that is not UTF-8).
    #[error("the path is not allowed: {reason}")]
    PathNotAllowed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Nothing to serve there: no such file, a directory without its index, something
    /// that is not a regular file, or a symbolic link out of the root.
    #[error("no file is there")]
    NotFound,
    /// The file system failed otherwise (permissions, I/O).
    #[error("the file could not be read: {0}")]
    Io(#[source] io::Error),
}

impl FileError {
    /// The status a request failing with this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            FileError::PathNotAllowed { .. } => StatusCode::BAD_REQUEST,
            FileError::NotFound => StatusCode::NOT_FOUND,
            FileError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An I/O error, as `NotFound` when it says nothing is there.
    fn from_io(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::InvalidFilename => FileError::NotFound,
            _ => FileError::Io(err),
        }
    }
}

/// The problem carries this level's message; an I/O error's own words go to stderr, the
/// host's log, and never to the client.
impl From<FileError> for Problem {
    fn from(err: FileError) -> Self {
        let problem = Problem::new(err.status());
        if matches!(err, FileError::Io(_)) {
            eprintln!("static file: {err}");
            return problem.with_detail("the file could not be read");
        }
        problem.with_detail(err.to_string())
    }
}

/// Serves the files of a directory: the file named by the route's catch-all parameter
/// (`path` unless [`StaticFiles::param`] says otherwise), relative to the root.
///
/// ```
/// use edge_toolkit::Router;
/// use edge_toolkit::files::StaticFiles;
/// use http::HeaderValue;
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let assets = StaticFiles::new("/static")
///     .index(Some("index.html"))
///     .cache_control(HeaderValue::from_static("public, max-age=3600"));
/// let router = Router::new()
///     .get("/static/{*path}", assets.clone())?
///     // A catch-all matches no empty path: this route serves the root's index.
///     .get("/static/", assets)?
///     .get("/downloads/{*file}", StaticFiles::new("/downloads").param("file").index(None))?;
/// # let _ = router;
/// # Ok(())
/// # }
/// ```
///
/// The parameter arrives percent-encoded (the router matches paths as sent) and is decoded
/// segment by segment: `hello%20world.txt` is the file `hello world.txt`, and `%2e%2e` is a
/// `..`, refused like any other. A request without the parameter (a route without it, or
/// no router at all) is for the root.
///
/// It answers `GET` and `HEAD` (the [`Router`](crate::Router) sends `HEAD` to the `GET`
/// route); any other method is `405` with `Allow: GET, HEAD`.
///
/// Natively, a file reached through a symbolic link that leads out of the root is not
/// served (`404`); in a component, the host's preopen already keeps every path inside it.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    param: String,
    index: Option<String>,
    cache_control: Option<HeaderValue>,
    compression: Option<Compression>,
}

/// Largest file [`StaticFiles::with_compression`] compresses: larger ones stream as they are.
pub const MAX_COMPRESSED_FILE: u64 = 1 << 20;

impl StaticFiles {
    /// Serves the files under `root` (in a component, a directory the host preopens, such
    /// as `/static`), through the route parameter `path`, with `index.html` as the index of
    /// a directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            param: "path".to_owned(),
            index: Some("index.html".to_owned()),
            cache_control: None,
            compression: None,
        }
    }

    /// Compresses files as `compression` says (codings, levels, smallest size), up to
    /// [`MAX_COMPRESSED_FILE`], when the client's `Accept-Encoding` takes a coding and the
    /// content type is not compressed already. The handler does it, not the
    /// [`Compression`] middleware (which leaves streamed files alone), so that `HEAD`
    /// gets `GET`'s header fields and conditional requests see the coded representation's
    /// `ETag` (the file's, suffixed with the coding: `"1a-5f-gzip"`). Such an answer has
    /// `Vary: Accept-Encoding` and no `Accept-Ranges`: ranges are served, uncompressed,
    /// of the file itself.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Reads the file's path from the route parameter `name` (`/files/{*name}`) rather than
    /// `path`.
    pub fn param(mut self, name: impl Into<String>) -> Self {
        self.param = name.into();
        self
    }

    /// The file a directory answers with, if any (default `Some("index.html")`); with
    /// `None`, or when the directory has no such file, a directory is `404`.
    ///
    /// # Panics
    ///
    /// When `index` is not the name of a file in a directory (it is empty, `.` or `..`, or
    /// holds a `/`, a `\` or a NUL). This is a mistake in the program, found the first
    /// time the handler is built.
    pub fn index(mut self, index: Option<&str>) -> Self {
        if let Some(name) = index {
            assert!(
                !name.is_empty() && name != "." && path::check_name(name).is_ok(),
                "the index {name:?} is not a file name"
            );
        }
        self.index = index.map(str::to_owned);
        self
    }

    /// Sets `Cache-Control` to `value` on `200`, `206` and `304` responses (none by
    /// default). A [`CacheControl`](crate::cache::CacheControl) gives a typed one.
    pub fn cache_control(mut self, value: HeaderValue) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// The directory files are served from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file `names` (checked path segments) name, with its metadata and path; a
    /// directory's index in its place.
    fn open(&self, names: &[String]) -> Result<(fs::File, fs::Meta, PathBuf), FileError> {
        let mut path = self.root.clone();
        path.extend(names);
        // `metadata` before `open`: opening a FIFO for reading would wait for a writer.
        let mut meta = fs::metadata(&path).map_err(FileError::from_io)?;
        if meta.is_dir {
            let Some(index) = &self.index else {
                return Err(FileError::NotFound);
            };
            path.push(index);
            meta = fs::metadata(&path).map_err(FileError::from_io)?;
        }
        if !meta.is_file || !inside(&self.root, &path).map_err(FileError::from_io)? {
            return Err(FileError::NotFound);
        }
        // The metadata of what was opened, which the validators and the body must agree on.
        let (file, meta) = fs::open(&path).map_err(FileError::from_io)?;
        if !meta.is_file {
            return Err(FileError::NotFound);
        }
        Ok((file, meta, path))
    }

    /// The answer to `req`.
    fn respond(&self, req: &Request) -> Result<Response, Problem> {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            return Err(Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                .with_detail(format!("{method} is not allowed on a static file"))
                .with_header(header::ALLOW, HeaderValue::from_static("GET, HEAD")));
        }
        let raw = PathParams::of(req).get(&self.param).unwrap_or_default();
        let names = path::segments(raw)?;
        let (file, meta, path) = self.open(&names)?;
        let len = meta.len;
        let (etag, last_modified) = validators(&meta);
        let content_type = content_type(&path);

        let mut res = Response::new(Vec::new());
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type.clone());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Some(etag) = &etag {
            headers.insert(header::ETAG, etag.to_header_value());
        }
        if let Some(modified) = last_modified {
            headers.insert(header::LAST_MODIFIED, modified.to_header_value());
        }
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Some(value) = &self.cache_control {
            headers.insert(header::CACHE_CONTROL, value.clone());
        }

        // A coded representation, when the client takes one and no range is asked for.
        let coding = self.coding(req, &content_type, len);
        if self
            .compression
            .as_ref()
            .is_some_and(|_| compressible_type(&content_type) && len <= MAX_COMPRESSED_FILE)
        {
            crate::cache::add_vary(res.headers_mut(), "Accept-Encoding");
        }
        if let (Some(coding), Some(compression)) = (coding, &self.compression) {
            let coded_etag = etag
                .as_ref()
                .map(|tag| tag.for_content_coding(coding.as_str()));
            let headers = res.headers_mut();
            if let Some(tag) = &coded_etag {
                headers.insert(header::ETAG, tag.to_header_value());
            }
            headers.remove(header::ACCEPT_RANGES);
            match evaluate(req.headers(), coded_etag.as_ref(), last_modified, method) {
                Outcome::Proceed => {}
                Outcome::NotModified => return Ok(not_modified(res)),
                Outcome::PreconditionFailed => return Err(precondition_failed()),
            }
            let mut file = file;
            let whole = file.read_at(0, len).map_err(FileError::from_io)?;
            let encoded = compression
                .encode(coding, &whole)
                .map_err(FileError::from_io)?;
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.as_str()),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
            if method != Method::HEAD {
                *res.body_mut() = encoded;
            }
            return Ok(res);
        }

        match evaluate(req.headers(), etag.as_ref(), last_modified, method) {
            Outcome::Proceed => {}
            Outcome::NotModified => return Ok(not_modified(res)),
            Outcome::PreconditionFailed => return Err(precondition_failed()),
        }
        // HEAD: GET's header fields and nothing read (RFC 9110 §9.3.2; range handling is
        // defined for GET alone, §14.2). An empty file has nothing to read either.
        if method == Method::HEAD || len == 0 {
            return Ok(res);
        }

        let honour_range = req.headers().contains_key(header::RANGE)
            && range::if_range_holds(req.headers(), etag.as_ref(), last_modified, HttpDate::now());
        let ranges = if honour_range {
            range::ranges(req.headers(), len)
        } else {
            Ranges::Ignored
        };
        let whole = ByteRange {
            start: 0,
            end: len - 1,
        };
        let segments = match ranges {
            Ranges::Ignored => vec![Segment::File(whole)],
            Ranges::Unsatisfiable => {
                return Err(Problem::new(StatusCode::RANGE_NOT_SATISFIABLE)
                    .with_detail(format!(
                        "no range of the Range header is within the file's {len} bytes"
                    ))
                    .with_header(header::CONTENT_RANGE, unsatisfied_range(len)));
            }
            Ranges::Satisfiable(ranges) => {
                *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                match ranges.as_slice() {
                    [one] => {
                        res.headers_mut()
                            .insert(header::CONTENT_RANGE, content_range(one, len));
                        vec![Segment::File(*one)]
                    }
                    several => {
                        let boundary = boundary();
                        res.headers_mut().insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_str(&format!(
                                "multipart/byteranges; boundary={boundary}"
                            ))
                            .expect("a boundary of hex digits makes a valid header value"),
                        );
                        multipart(several, len, &content_type, &boundary)
                    }
                }
            }
        };
        let body = FileBody::new(file, segments);
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        BodyStream::new(body).attach(&mut res);
        Ok(res)
    }
}

impl StaticFiles {
    /// The coding of the answer to `req` for a file of `len` bytes and `content_type`, if
    /// it is to be compressed: compression on, a compressible type and size, no `Range`
    /// (ranges are of the file itself), and a coding the client accepts.
    fn coding(&self, req: &Request, content_type: &HeaderValue, len: u64) -> Option<ContentCoding> {
        let compression = self.compression.as_ref()?;
        let fits = len > 0
            && len <= MAX_COMPRESSED_FILE
            && usize::try_from(len).is_ok_and(|len| len >= compression.min_size());
        if !fits || !compressible_type(content_type) || req.headers().contains_key(header::RANGE) {
            return None;
        }
        choose_content_coding(req.headers(), &compression.offered())
    }
}

/// Whether a file of `content_type` gains from compression (text, scripts, JSON, SVG...:
/// not images, archives or fonts, which are compressed already).
fn compressible_type(content_type: &HeaderValue) -> bool {
    content_type
        .to_str()
        .is_ok_and(|value| !crate::middleware::is_compressed_media_type(value))
}

impl Handler for StaticFiles {
    fn call(&self, req: Request) -> HandlerFuture<'_> {
        Box::pin(std::future::ready(self.respond(&req)))
    }
}

/// Whether `path`, which exists, is inside `root` once symbolic links are resolved.
#[cfg(not(target_os = "wasi"))]
fn inside(root: &Path, path: &Path) -> io::Result<bool> {
    Ok(std::fs::canonicalize(path)?.starts_with(std::fs::canonicalize(root)?))
}

/// Always: the root is a preopened directory, and `wasi:filesystem` resolves every path
/// (symbolic links included) inside the preopen it starts from, refusing what would leave.
#[cfg(target_os = "wasi")]
fn inside(_root: &Path, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

/// The `Content-Type` of the file at `path`, by its extension: `text/*`, JavaScript and
/// JSON (`+json` included) in UTF-8; `application/octet-stream` when unknown.
fn content_type(path: &Path) -> HeaderValue {
    const UNKNOWN: HeaderValue = HeaderValue::from_static("application/octet-stream");
    let Some(mime) = mime_guess::from_path(path).first() else {
        return UNKNOWN;
    };
    let essence = mime.essence_str();
    let text = essence.starts_with("text/")
        || essence == "application/javascript"
        || essence == "application/json"
        || essence.ends_with("+json");
    let value = if text {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_owned()
    };
    HeaderValue::from_str(&value).unwrap_or(UNKNOWN)
}

/// The validators of a file: a strong `ETag` of its length and modification time (in hex,
/// `"<len>-<secs>"`, with `.<nanos>` when the time has them, as nginx makes them), and its
/// `Last-Modified`. Without a modification time there are none: the length alone would
/// not tell two versions apart.
fn validators(meta: &fs::Meta) -> (Option<ETag>, Option<HttpDate>) {
    let Some(modified) = meta.modified else {
        return (None, None);
    };
    let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (len, secs, nanos) = (meta.len, since.as_secs(), since.subsec_nanos());
    let tag = if nanos == 0 {
        format!("{len:x}-{secs:x}")
    } else {
        format!("{len:x}-{secs:x}.{nanos:x}")
    };
    let etag = ETag::strong(tag).expect("hex digits, `-` and `.` are etagc");
    (Some(etag), Some(HttpDate::from(modified)))
}

fn content_range(range: &ByteRange, len: u64) -> HeaderValue {
    HeaderValue::from_str(&range.content_range(len))
        .expect("`bytes`, digits, `-` and `/` make a valid header value")
}

fn unsatisfied_range(len: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes */{len}"))
        .expect("`bytes */` and digits make a valid header value")
}

/// The segments of a `multipart/byteranges` body (RFC 9110 §14.6) of `ranges` of a file of
/// `len` bytes and type `content_type`: each part a delimiter, its `Content-Type` and
/// `Content-Range`, a blank line and the bytes; then the closing delimiter.
fn multipart(
    ranges: &[ByteRange],
    len: u64,
    content_type: &HeaderValue,
    boundary: &str,
) -> Vec<Segment> {
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, range) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            range.content_range(len)
        );
        segments.push(Segment::Bytes(head.into_bytes()));
        segments.push(Segment::File(*range));
    }
    segments.push(Segment::Bytes(
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ));
    segments
}

/// A boundary no file is likely to hold: 128 random bits in hex. Should the random source
/// fail, the clock and a counter make it instead.
fn boundary() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&(nanos as u64).to_be_bytes());
        bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    crate::hex::lower(&bytes)
}
