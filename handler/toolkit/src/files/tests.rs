//! [`StaticFiles`] on a directory made for each test, through a [`Router`] as a component
//! would use it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::*;
use crate::stream::collect_body;
use crate::{Router, Stack};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
/// The modification time every file gets: 2023-11-14T22:13:20Z.
const MTIME: u64 = 1_700_000_000;
/// `"<len hex>-<mtime hex>"` of `alphabet.txt`.
const ALPHABET_ETAG: &str = "\"1a-6553f100\"";
const ALPHABET_DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

/// A directory of its own under the system's temporary directory, removed when dropped:
/// `site/` is served, `secret.txt` beside it is not.
struct Fixture {
    base: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let base = std::env::temp_dir().join(format!(
            "edge-toolkit-files-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let fixture = Self { base };
        fixture.write("secret.txt", b"outside the root");
        fixture.write("site/alphabet.txt", ALPHABET);
        fixture.write("site/index.html", b"<h1>home</h1>");
        fixture.write("site/docs/index.html", b"<h1>docs</h1>");
        fixture.write("site/docs/guide.md", b"# guide");
        fixture.write("site/hello world.txt", b"spaced");
        fixture.write("site/empty.txt", b"");
        std::fs::create_dir_all(fixture.site().join("no-index")).expect("a directory");
        fixture
    }

    fn site(&self) -> PathBuf {
        self.base.join("site")
    }

    /// Writes `contents` to `relative`, modified at [`MTIME`].
    fn write(&self, relative: &str, contents: &[u8]) -> PathBuf {
        let path = self.base.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a directory");
        }
        std::fs::write(&path, contents).expect("a file");
        set_mtime(&path, UNIX_EPOCH + Duration::from_secs(MTIME));
        path
    }

    /// The router of a component serving `site/` under `/static/`.
    fn router(&self) -> Router {
        self.router_with(StaticFiles::new(self.site()))
    }

    fn router_with(&self, files: StaticFiles) -> Router {
        Router::new()
            .get("/static/{*path}", files)
            .expect("a valid route")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(time))
        .expect("the modification time can be set");
}

fn send(router: &Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    router.handle(builder.body(Vec::new()).expect("a valid request"))
}

fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
    send(router, Method::GET, uri, headers)
}

fn header(res: &Response, name: header::HeaderName) -> &str {
    res.headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", res.headers()))
        .to_str()
        .expect("a visible ASCII value")
}

/// The problem+json body of `res`, after checking it is one with `status`.
fn problem(res: Response, status: StatusCode) -> serde_json::Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()[header::CONTENT_TYPE], crate::PROBLEM_JSON);
    let body: serde_json::Value = serde_json::from_slice(res.body()).expect("a JSON body");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// Request header fields, `(name, value)`.
type Fields = &'static [(&'static str, &'static str)];

/// The headers every full answer for `alphabet.txt` carries.
fn assert_alphabet_headers(headers: &HeaderMap) {
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CONTENT_LENGTH], "26");
    assert_eq!(headers[header::ETAG], ALPHABET_ETAG);
    assert_eq!(headers[header::LAST_MODIFIED], ALPHABET_DATE);
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[test]
fn get_serves_the_file_streamed_with_validators() {
    let fixture = Fixture::new();
    let res = get(&fixture.router(), "/static/alphabet.txt", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_alphabet_headers(res.headers());
    assert!(!res.headers().contains_key(header::CACHE_CONTROL));
    assert!(!res.headers().contains_key(header::CONTENT_RANGE));
    assert!(BodyStream::is_streaming(&res));
    assert!(res.body().is_empty(), "nothing buffered");
    assert_eq!(collect_body(res), ALPHABET);
}

#[test]
fn large_files_are_read_in_chunks_of_64_kib() {
    let fixture = Fixture::new();
    let big: Vec<u8> = (0..150 * 1024).map(|i| (i % 251) as u8).collect();
    fixture.write("site/big.bin", &big);
    let mut res = get(&fixture.router(), "/static/big.bin", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, header::CONTENT_TYPE),
        "application/octet-stream"
    );
    assert_eq!(header(&res, header::CONTENT_LENGTH), big.len().to_string());
    let chunks: Vec<Vec<u8>> = BodyStream::take_from(&mut res)
        .expect("a streamed body")
        .collect();
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [65536, 65536, 22528]);
    assert_eq!(chunks.concat(), big);

    // A range is read from where it starts, across chunk boundaries.
    let res = get(
        &fixture.router(),
        "/static/big.bin",
        &[("range", "bytes=65530-65545")],
    );
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&res, header::CONTENT_LENGTH), "16");
    assert_eq!(collect_body(res), &big[65530..=65545]);
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let fixture = Fixture::new();
    let router = fixture.router_with(
        StaticFiles::new(fixture.site()).cache_control(HeaderValue::from_static("max-age=60")),
    );
    for uri in ["/static/alphabet.txt", "/static/docs/", "/static/empty.txt"] {
        let get = get(&router, uri, &[]);
        let head = send(&router, Method::HEAD, uri, &[]);
        assert_eq!(head.status(), get.status(), "{uri}");
        assert_eq!(head.headers(), get.headers(), "{uri}");
        assert!(head.body().is_empty(), "{uri}");
        assert!(!BodyStream::is_streaming(&head), "{uri}");
    }
    let head = send(&router, Method::HEAD, "/static/alphabet.txt", &[]);
    assert_alphabet_headers(head.headers());

    // HEAD ignores Range (range handling is defined for GET alone).
    let head = send(
        &router,
        Method::HEAD,
        "/static/alphabet.txt",
        &[("range", "bytes=0-4")],
    );
    assert_eq!(head.status(), StatusCode::OK);
    assert_alphabet_headers(head.headers());

    // Called directly, without the router's help, HEAD has no body either.
    let files = StaticFiles::new(fixture.site());
    let req = http::Request::head("/").body(Vec::new()).expect("valid");
    let res = files.call_blocking(req).expect("the root's index");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_LENGTH], "13");
    assert!(res.body().is_empty());
    assert!(!BodyStream::is_streaming(&res));
}

#[test]
fn not_modified_by_if_none_match() {
    let fixture = Fixture::new();
    let router = fixture.router_with(
        StaticFiles::new(fixture.site()).cache_control(HeaderValue::from_static("max-age=60")),
    );
    let matching = [
        ALPHABET_ETAG,
        "W/\"1a-6553f100\"",
        "\"other\", \"1a-6553f100\"",
        "*",
    ];
    for tags in matching {
        for method in [Method::GET, Method::HEAD] {
            let res = send(
                &router,
                method.clone(),
                "/static/alphabet.txt",
                &[("if-none-match", tags)],
            );
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{method} {tags}");
            assert_eq!(res.headers()[header::ETAG], ALPHABET_ETAG);
            assert_eq!(res.headers()[header::CACHE_CONTROL], "max-age=60");
            assert!(!res.headers().contains_key(header::CONTENT_TYPE));
            assert!(!res.headers().contains_key(header::CONTENT_LENGTH));
            assert!(!BodyStream::is_streaming(&res));
            assert!(res.body().is_empty());
        }
    }
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let res = get(
        &router,
        "/static/alphabet.txt",
        &[
            ("if-none-match", "\"stale\""),
            ("if-modified-since", ALPHABET_DATE),
        ],
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), ALPHABET);
}

#[test]
fn not_modified_by_if_modified_since() {
    let fixture = Fixture::new();
    let router = fixture.router();
    for since in [ALPHABET_DATE, "Wed, 15 Nov 2023 00:00:00 GMT"] {
        let res = get(
            &router,
            "/static/alphabet.txt",
            &[("if-modified-since", since)],
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{since}");
        assert_eq!(res.headers()[header::ETAG], ALPHABET_ETAG);
        assert!(res.body().is_empty());
    }
    let earlier = "Tue, 14 Nov 2023 22:13:19 GMT";
    let res = get(
        &router,
        "/static/alphabet.txt",
        &[("if-modified-since", earlier)],
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert_alphabet_headers(res.headers());
    assert_eq!(collect_body(res), ALPHABET);
}

#[test]
fn precondition_failed_by_if_match_and_if_unmodified_since() {
    let fixture = Fixture::new();
    let router = fixture.router();
    let failing = [
        ("if-match", "\"other\""),
        // If-Match compares strongly: a weak tag never matches.
        ("if-match", "W/\"1a-6553f100\""),
        ("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT"),
    ];
    for (name, value) in failing {
        let res = get(&router, "/static/alphabet.txt", &[(name, value)]);
        let body = problem(res, StatusCode::PRECONDITION_FAILED);
        assert!(body["detail"].as_str().is_some(), "{name}: {value}");
    }
    let holding = [
        ("if-match", ALPHABET_ETAG),
        ("if-match", "*"),
        ("if-unmodified-since", ALPHABET_DATE),
    ];
    for (name, value) in holding {
        let res = get(&router, "/static/alphabet.txt", &[(name, value)]);
        assert_eq!(res.status(), StatusCode::OK, "{name}: {value}");
        assert_eq!(collect_body(res), ALPHABET);
    }
    // If-Match is judged before Range.
    let res = get(
        &router,
        "/static/alphabet.txt",
        &[("if-match", "\"other\""), ("range", "bytes=0-1")],
    );
    problem(res, StatusCode::PRECONDITION_FAILED);
}

#[test]
fn a_single_range_is_206_with_content_range() {
    let fixture = Fixture::new();
    let router = fixture.router_with(
        StaticFiles::new(fixture.site()).cache_control(HeaderValue::from_static("max-age=60")),
    );
    // (Range, Content-Range, body)
    let cases: [(&str, &str, &[u8]); 6] = [
        ("bytes=0-4", "bytes 0-4/26", b"abcde"),
        ("bytes=-3", "bytes 23-25/26", b"xyz"),
        ("bytes=5-", "bytes 5-25/26", b"fghijklmnopqrstuvwxyz"),
        ("bytes=20-99", "bytes 20-25/26", b"uvwxyz"),
        ("bytes=-100", "bytes 0-25/26", ALPHABET),
        // Of several ranges only one is satisfiable: a single part.
        ("bytes=25-25, 40-50", "bytes 25-25/26", b"z"),
    ];
    for (range, content_range, body) in cases {
        let res = get(&router, "/static/alphabet.txt", &[("range", range)]);
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let headers = res.headers();
        assert_eq!(headers[header::CONTENT_RANGE], content_range, "{range}");
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            body.len().to_string(),
            "{range}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(headers[header::ETAG], ALPHABET_ETAG);
        assert_eq!(headers[header::LAST_MODIFIED], ALPHABET_DATE);
        assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");
        assert_eq!(collect_body(res), body, "{range}");
    }
}

/// One part of a `multipart/byteranges` body: its header fields and its content.
type Part = (Vec<(String, String)>, Vec<u8>);

/// The parts of a `multipart/byteranges` body with `boundary`, checked to be well formed
/// (delimiters, CRLFs, the closing delimiter last).
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let text = body.to_vec();
    let mut rest = text
        .strip_prefix(delimiter.as_bytes())
        .expect("the body opens with a delimiter");
    let mut parts = Vec::new();
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        let blank = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a blank line after the part's header");
        let head = std::str::from_utf8(&rest[..blank]).expect("an ASCII header");
        let fields = head
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("name: value");
                (name.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        rest = &rest[blank + 4..];
        let next = format!("\r\n{delimiter}");
        let end = rest
            .windows(next.len())
            .position(|w| w == next.as_bytes())
            .expect("a delimiter after the part");
        parts.push((fields, rest[..end].to_vec()));
        rest = &rest[end + next.len()..];
    }
}

#[test]
fn several_ranges_are_a_multipart_body() {
    let fixture = Fixture::new();
    let router = fixture.router();
    let res = get(
        &router,
        "/static/alphabet.txt",
        &[("range", "bytes=0-1, 10-12, -2")],
    );
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let content_type = header(&res, header::CONTENT_TYPE).to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("a multipart type")
        .to_owned();
    assert_eq!(boundary.len(), 32);
    assert!(boundary.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!res.headers().contains_key(header::CONTENT_RANGE));
    assert_eq!(res.headers()[header::ETAG], ALPHABET_ETAG);
    let length: usize = header(&res, header::CONTENT_LENGTH)
        .parse()
        .expect("a number");
    let body = collect_body(res);
    assert_eq!(body.len(), length, "Content-Length is the body's");
    let parts = parse_multipart(&body, &boundary);
    let expected: [(&str, &[u8]); 3] = [
        ("bytes 0-1/26", b"ab"),
        ("bytes 10-12/26", b"klm"),
        ("bytes 24-25/26", b"yz"),
    ];
    assert_eq!(parts.len(), expected.len());
    for ((fields, data), (content_range, bytes)) in parts.iter().zip(expected) {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(field("content-range"), Some(content_range));
        assert_eq!(fields.len(), 2);
        assert_eq!(data.as_slice(), bytes);
    }
    // Each response has a boundary of its own.
    let again = get(
        &router,
        "/static/alphabet.txt",
        &[("range", "bytes=0-1,3-4")],
    );
    assert_ne!(header(&again, header::CONTENT_TYPE), content_type);
}

#[test]
fn unsatisfiable_range_is_416_with_the_length() {
    let fixture = Fixture::new();
    let router = fixture.router_with(
        StaticFiles::new(fixture.site()).cache_control(HeaderValue::from_static("max-age=60")),
    );
    for range in ["bytes=26-", "bytes=100-200, 30-", "bytes=-0"] {
        let res = get(&router, "/static/alphabet.txt", &[("range", range)]);
        assert_eq!(
            res.headers()[header::CONTENT_RANGE],
            "bytes */26",
            "{range}"
        );
        assert!(!res.headers().contains_key(header::CACHE_CONTROL));
        let body = problem(res, StatusCode::RANGE_NOT_SATISFIABLE);
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("26 bytes")),
            "{body}"
        );
    }
}

#[test]
fn if_range_decides_whether_the_range_is_honoured() {
    let fixture = Fixture::new();
    let router = fixture.router();
    // (If-Range, status)
    let cases = [
        (ALPHABET_ETAG, StatusCode::PARTIAL_CONTENT),
        (ALPHABET_DATE, StatusCode::PARTIAL_CONTENT),
        ("\"1a-0\"", StatusCode::OK),
        ("W/\"1a-6553f100\"", StatusCode::OK),
        ("Tue, 14 Nov 2023 22:13:21 GMT", StatusCode::OK),
        ("not a validator", StatusCode::OK),
    ];
    for (if_range, status) in cases {
        let res = get(
            &router,
            "/static/alphabet.txt",
            &[("range", "bytes=0-4"), ("if-range", if_range)],
        );
        assert_eq!(res.status(), status, "{if_range}");
        if status == StatusCode::OK {
            assert_alphabet_headers(res.headers());
            assert!(!res.headers().contains_key(header::CONTENT_RANGE));
            assert_eq!(collect_body(res), ALPHABET, "{if_range}");
        } else {
            assert_eq!(res.headers()[header::CONTENT_RANGE], "bytes 0-4/26");
            assert_eq!(collect_body(res), b"abcde", "{if_range}");
        }
    }
    // A file modified this very second has a weak Last-Modified: a date cannot match.
    let fresh = fixture.write("site/fresh.txt", b"0123456789");
    set_mtime(&fresh, SystemTime::now());
    let res = get(&router, "/static/fresh.txt", &[]);
    let date = header(&res, header::LAST_MODIFIED).to_owned();
    let res = get(
        &router,
        "/static/fresh.txt",
        &[("range", "bytes=0-1"), ("if-range", &date)],
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), b"0123456789");
}

#[test]
fn a_range_to_ignore_gives_the_whole_file() {
    let fixture = Fixture::new();
    let router = fixture.router();
    let many = format!("bytes={}", vec!["0-0"; 17].join(","));
    let ignored = [
        "bytes=5-2",
        "bytes=abc",
        "bytes=",
        "bytes 0-4",
        "items=0-4",
        "bytes=0-4,2-8",
        many.as_str(),
    ];
    for range in ignored {
        let res = get(&router, "/static/alphabet.txt", &[("range", range)]);
        assert_eq!(res.status(), StatusCode::OK, "{range}");
        assert_alphabet_headers(res.headers());
        assert!(!res.headers().contains_key(header::CONTENT_RANGE));
        assert_eq!(collect_body(res), ALPHABET, "{range}");
    }
    // An empty file has no range to give.
    let res = get(&router, "/static/empty.txt", &[("range", "bytes=-5")]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_LENGTH], "0");
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert!(collect_body(res).is_empty());
}

#[test]
fn traversal_is_refused_with_400() {
    let fixture = Fixture::new();
    let router = fixture.router();
    let refused = [
        ("/static/../secret.txt", "`..`"),
        ("/static/docs/../../secret.txt", "`..`"),
        ("/static/%2e%2e/secret.txt", "`..`"),
        ("/static/%2E%2E/secret.txt", "`..`"),
        ("/static/.%2e/secret.txt", "`..`"),
        ("/static/docs%2F..%2F..%2Fsecret.txt", "encoded `/`"),
        ("/static/%2Fetc%2Fpasswd", "encoded `/`"),
        ("/static/..%5Csecret.txt", "`\\`"),
        ("/static/docs%5c..%5c..%5csecret.txt", "`\\`"),
        ("/static/alphabet.txt%00.html", "NUL"),
        ("/static/%FF", "UTF-8"),
    ];
    for (uri, reason) in refused {
        let res = get(&router, uri, &[]);
        let body = problem(res, StatusCode::BAD_REQUEST);
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("the path is not allowed"),
            "{uri}: {detail}"
        );
        assert!(detail.contains(reason), "{uri}: {detail}");
        assert_eq!(body["instance"], uri);
    }
    // A raw backslash, which the URI parser refuses, reaches the handler directly.
    let files = StaticFiles::new(fixture.site()).param("p");
    let router = Router::new().get("/{*p}", files).expect("a valid route");
    let mut req = http::Request::get("/x").body(Vec::new()).expect("valid");
    req.headers_mut().insert(
        crate::router::SPIN_PATH_INFO,
        HeaderValue::from_static("/..\\secret.txt"),
    );
    problem(router.handle(req), StatusCode::BAD_REQUEST);
}

#[test]
fn nothing_there_is_404() {
    let fixture = Fixture::new();
    let router = fixture.router();
    for uri in [
        "/static/missing.txt",
        "/static/missing/dir/file",
        "/static/alphabet.txt/inside",
        "/static/no-index",
        "/static/no-index/",
    ] {
        let body = problem(get(&router, uri, &[]), StatusCode::NOT_FOUND);
        assert_eq!(body["detail"], "no file is there", "{uri}");
        assert_eq!(body["instance"], uri);
    }
    // A HEAD of a missing file is a 404 without a body.
    let res = send(&router, Method::HEAD, "/static/missing.txt", &[]);
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.body().is_empty());
}

#[test]
fn a_directory_answers_its_index() {
    let fixture = Fixture::new();
    let router = fixture.router();
    for (uri, body) in [
        ("/static/docs", b"<h1>docs</h1>"),
        ("/static/docs/", b"<h1>docs</h1>"),
        ("/static/./docs//", b"<h1>docs</h1>"),
        ("/static/docs/index.html", b"<h1>docs</h1>"),
        ("/static/.", b"<h1>home</h1>"),
    ] {
        let res = get(&router, uri, &[]);
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "13");
        assert!(res.headers().contains_key(header::ETAG));
        assert_eq!(collect_body(res), body, "{uri}");
    }

    // Another index, or none.
    let router = fixture.router_with(StaticFiles::new(fixture.site()).index(Some("guide.md")));
    let res = get(&router, "/static/docs/", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/markdown; charset=utf-8"
    );
    assert_eq!(collect_body(res), b"# guide");
    let router = fixture.router_with(StaticFiles::new(fixture.site()).index(None));
    problem(get(&router, "/static/docs/", &[]), StatusCode::NOT_FOUND);
    let res = get(&router, "/static/docs/index.html", &[]);
    assert_eq!(collect_body(res), b"<h1>docs</h1>");

    // The catch-all does not match `/static/`: a route of its own serves the root's index.
    let files = StaticFiles::new(fixture.site());
    let router = Router::new()
        .get("/static/{*path}", files.clone())
        .and_then(|r| r.get("/static/", files))
        .expect("valid routes");
    let res = get(&router, "/static/", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), b"<h1>home</h1>");
}

#[test]
#[should_panic(expected = "is not a file name")]
fn an_index_that_is_a_path_is_a_mistake() {
    let _ = StaticFiles::new("/static").index(Some("../index.html"));
}

#[test]
fn content_type_by_extension() {
    let fixture = Fixture::new();
    // (file, Content-Type)
    let cases = [
        ("page.html", "text/html; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("module.mjs", "application/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        (
            "app.webmanifest",
            "application/manifest+json; charset=utf-8",
        ),
        ("logo.svg", "image/svg+xml"),
        ("photo.PNG", "image/png"),
        ("module.wasm", "application/wasm"),
        ("archive.zip", "application/zip"),
        ("notes.unknownext", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
    ];
    for (name, _) in cases {
        fixture.write(&format!("site/types/{name}"), b"x");
    }
    let router = fixture.router();
    for (name, content_type) in cases {
        let res = get(&router, &format!("/static/types/{name}"), &[]);
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], content_type, "{name}");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(collect_body(res), b"x");
    }
}

#[test]
fn names_are_percent_decoded() {
    let fixture = Fixture::new();
    fixture.write("site/caf\u{e9}.txt", b"cafe");
    let router = fixture.router();
    let res = get(&router, "/static/hello%20world.txt", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), b"spaced");
    let res = get(&router, "/static/caf%C3%A9.txt", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), b"cafe");
    let res = get(&router, "/static/%61lphabet.txt", &[]);
    assert_eq!(collect_body(res), ALPHABET);
}

#[test]
fn another_parameter_name() {
    let fixture = Fixture::new();
    let router = Router::new()
        .get(
            "/files/{*file}",
            StaticFiles::new(fixture.site()).param("file"),
        )
        .expect("a valid route");
    let res = get(&router, "/files/docs/guide.md", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), b"# guide");
    assert_eq!(StaticFiles::new("/static").root(), Path::new("/static"));
}

#[test]
fn cache_control_on_200_206_and_304_only() {
    let fixture = Fixture::new();
    let router = fixture.router_with(
        StaticFiles::new(fixture.site())
            .cache_control(HeaderValue::from_static("public, max-age=3600")),
    );
    // (request headers, status, has Cache-Control)
    let cases: [(Fields, StatusCode, bool); 4] = [
        (&[], StatusCode::OK, true),
        (&[("range", "bytes=0-0")], StatusCode::PARTIAL_CONTENT, true),
        (
            &[("if-none-match", ALPHABET_ETAG)],
            StatusCode::NOT_MODIFIED,
            true,
        ),
        (
            &[("range", "bytes=99-")],
            StatusCode::RANGE_NOT_SATISFIABLE,
            false,
        ),
    ];
    for (headers, status, cached) in cases {
        let res = get(&router, "/static/alphabet.txt", headers);
        assert_eq!(res.status(), status, "{headers:?}");
        assert_eq!(
            res.headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().expect("ascii")),
            cached.then_some("public, max-age=3600"),
            "{headers:?}"
        );
    }
    let res = get(&router, "/static/missing", &[]);
    assert!(!res.headers().contains_key(header::CACHE_CONTROL));
}

#[test]
fn other_methods_are_405() {
    let fixture = Fixture::new();
    // Through the router, which knows only GET (and so HEAD) on the route.
    let res = send(&fixture.router(), Method::POST, "/static/alphabet.txt", &[]);
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
    // Registered for another method by mistake, the handler refuses it itself.
    let router = Router::new()
        .route(
            Method::DELETE,
            "/static/{*path}",
            StaticFiles::new(fixture.site()),
        )
        .expect("a valid route");
    let res = send(&router, Method::DELETE, "/static/alphabet.txt", &[]);
    assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");
    problem(res, StatusCode::METHOD_NOT_ALLOWED);
    assert!(fixture.site().join("alphabet.txt").exists());
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_root_is_not_followed() {
    let fixture = Fixture::new();
    std::os::unix::fs::symlink(
        fixture.base.join("secret.txt"),
        fixture.site().join("leak.txt"),
    )
    .expect("a symbolic link");
    std::os::unix::fs::symlink(
        fixture.site().join("alphabet.txt"),
        fixture.site().join("abc"),
    )
    .expect("a symbolic link");
    let router = fixture.router();
    let body = problem(get(&router, "/static/leak.txt", &[]), StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "no file is there");
    // A link that stays inside is served.
    let res = get(&router, "/static/abc", &[]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect_body(res), ALPHABET);
}

/// A link to itself cannot be resolved (`ELOOP`): a failure that is not "nothing there",
/// whoever runs the test.
#[cfg(unix)]
#[test]
fn other_io_errors_are_500_without_host_paths() {
    let fixture = Fixture::new();
    std::os::unix::fs::symlink("loop", fixture.site().join("loop")).expect("a symbolic link");
    let res = get(&fixture.router(), "/static/loop", &[]);
    let body = problem(res, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["detail"], "the file could not be read");
    assert!(!body.to_string().contains(&*fixture.base.to_string_lossy()));
}

#[test]
fn file_errors_know_their_status() {
    let cases = [
        (FileError::PathNotAllowed { reason: "r" }, 400),
        (FileError::NotFound, 404),
        (FileError::Io(io::Error::other("disk on fire")), 500),
    ];
    for (err, status) in cases {
        assert_eq!(err.status(), status);
        let problem = Problem::from(err);
        assert_eq!(problem.status(), status);
    }
    let problem = Problem::from(FileError::Io(io::Error::other("/srv/secret/path")));
    assert_eq!(problem.detail(), Some("the file could not be read"));
    assert!(matches!(
        FileError::from_io(io::ErrorKind::NotFound.into()),
        FileError::NotFound
    ));
    assert!(matches!(
        FileError::from_io(io::ErrorKind::PermissionDenied.into()),
        FileError::Io(_)
    ));
}

/// Files stream, so the middleware that needs whole bodies leaves them as they are: no
/// coding, the strong tag unchanged, a `206` untouched, and `HEAD` the same as `GET`.
#[test]
fn compression_and_conditional_requests_leave_files_alone() {
    let fixture = Fixture::new();
    let text = "all work and no play makes jack a dull boy\n".repeat(200);
    fixture.write("site/long.txt", text.as_bytes());
    let router = Router::new()
        .layer(crate::cache::ConditionalRequests::new())
        .layer(crate::middleware::Compression::new().with_min_size(0))
        .get("/static/{*path}", StaticFiles::new(fixture.site()))
        .expect("a valid route");
    let gzip = [("accept-encoding", "gzip, br")];
    let full = get(&router, "/static/long.txt", &gzip);
    assert_eq!(full.status(), StatusCode::OK);
    assert!(!full.headers().contains_key(header::CONTENT_ENCODING));
    let etag = header(&full, header::ETAG).to_owned();
    assert!(!etag.starts_with("W/") && !etag.contains("gzip") && !etag.contains("br"));
    assert_eq!(
        header(&full, header::CONTENT_LENGTH),
        text.len().to_string()
    );
    let head = send(&router, Method::HEAD, "/static/long.txt", &gzip);
    assert_eq!(head.headers(), full.headers());
    assert_eq!(collect_body(full), text.as_bytes());

    let part = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "gzip"), ("range", "bytes=0-8")],
    );
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert!(!part.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(part.headers()[header::ETAG], etag.as_str());
    assert_eq!(collect_body(part), b"all work ");

    let revalidate = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    );
    assert_eq!(revalidate.status(), StatusCode::NOT_MODIFIED);

    // In a route's stack too.
    let router = Router::new()
        .route_with(
            Method::GET,
            "/static/{*path}",
            StaticFiles::new(fixture.site()),
            Stack::new().layer(crate::middleware::Compression::new().with_min_size(0)),
        )
        .expect("a valid route");
    let head = send(&router, Method::HEAD, "/static/long.txt", &gzip);
    assert!(!head.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(head.headers()[header::ETAG], etag.as_str());
}

/// With compression on, the handler codes small text files itself: `HEAD` has `GET`'s
/// fields, the coded representation has its own `ETag`, ranges stay of the file.
#[test]
fn compression_codes_the_file_in_the_handler() {
    use std::io::Read as _;

    let fixture = Fixture::new();
    let text = "all work and no play makes jack a dull boy\n".repeat(200);
    fixture.write("site/long.txt", text.as_bytes());
    fixture.write("site/pixel.png", &[0x89, b'P', b'N', b'G', 0, 0, 0, 0]);
    let files = StaticFiles::new(fixture.site())
        .with_compression(crate::middleware::Compression::new().with_min_size(0));
    let router = fixture.router_with(files);
    let identity = get(&router, "/static/long.txt", &[]);
    assert_eq!(identity.status(), StatusCode::OK);
    assert!(!identity.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(header(&identity, header::VARY), "Accept-Encoding");
    assert_eq!(header(&identity, header::ACCEPT_RANGES), "bytes");
    let plain_etag = header(&identity, header::ETAG).to_owned();
    assert_eq!(collect_body(identity), text.as_bytes());

    let gzip = [("accept-encoding", "gzip")];
    let coded = get(&router, "/static/long.txt", &gzip);
    assert_eq!(coded.status(), StatusCode::OK);
    assert_eq!(header(&coded, header::CONTENT_ENCODING), "gzip");
    assert_eq!(header(&coded, header::VARY), "Accept-Encoding");
    assert!(!coded.headers().contains_key(header::ACCEPT_RANGES));
    let coded_etag = header(&coded, header::ETAG).to_owned();
    assert_eq!(
        coded_etag,
        format!("{}-gzip\"", plain_etag.trim_end_matches('"'))
    );
    assert_eq!(
        header(&coded, header::CONTENT_LENGTH),
        coded.body().len().to_string()
    );
    assert!(coded.body().len() < text.len() / 10, "compressed");
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(coded.body().as_slice())
        .read_to_string(&mut decoded)
        .expect("gzip");
    assert_eq!(decoded, text);
    let coded_headers = coded.headers().clone();

    // HEAD: GET's fields, no body.
    let head = send(&router, Method::HEAD, "/static/long.txt", &gzip);
    assert_eq!(head.headers(), &coded_headers);
    assert!(head.body().is_empty());
    // Conditional requests on the coded representation.
    let fresh = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "gzip"), ("if-none-match", &coded_etag)],
    );
    assert_eq!(fresh.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&fresh, header::ETAG), coded_etag);
    let other = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "gzip"), ("if-none-match", &plain_etag)],
    );
    assert_eq!(other.status(), StatusCode::OK);
    // Brotli when preferred.
    let br = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "br, gzip")],
    );
    assert_eq!(header(&br, header::CONTENT_ENCODING), "br");
    // A range is of the file itself, uncoded.
    let part = get(
        &router,
        "/static/long.txt",
        &[("accept-encoding", "gzip"), ("range", "bytes=0-8")],
    );
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert!(!part.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(header(&part, header::ETAG), plain_etag);
    assert_eq!(collect_body(part), b"all work ");
    // Images are compressed already.
    let png = get(&router, "/static/pixel.png", &gzip);
    assert!(!png.headers().contains_key(header::CONTENT_ENCODING));
    assert!(!png.headers().contains_key(header::VARY));
}
