//! The header parsers: Cache-Control, Accept, Accept-Language, Accept-Encoding (through
//! the compression middleware), Cookie, If-Match / If-None-Match lists, HTTP-date and
//! entity tags. None may panic; what parses prints back to something that parses the same.
#![no_main]

use edge_toolkit::cache::{CacheControl, ETag, HttpDate, evaluate};
use edge_toolkit::cookie::parse_cookie_string;
use edge_toolkit::middleware::Compression;
use edge_toolkit::negotiate::{choose_language, choose_media_type, parse_accept};
use edge_toolkit::{Handler, Request, Response, Stack};
use http::{HeaderMap, HeaderValue, Method, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Ok(cc) = text.parse::<CacheControl>() {
        let printed = cc.to_string();
        let again: CacheControl = printed.parse().expect("a printed Cache-Control parses");
        assert_eq!(again.to_string(), printed, "printing is stable");
    }
    if let Ok(date) = text.parse::<HttpDate>() {
        let printed = date.to_string();
        assert_eq!(printed.parse::<HttpDate>().ok(), Some(date), "{printed}");
    }
    if let Ok(tag) = text.parse::<ETag>() {
        let value = tag.to_header_value();
        assert_eq!(ETag::from_header(&value).ok(), Some(tag));
    }
    let _ = parse_cookie_string(&text);

    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for name in [
        header::ACCEPT,
        header::ACCEPT_LANGUAGE,
        header::ACCEPT_ENCODING,
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
        header::COOKIE,
    ] {
        headers.insert(name, value.clone());
    }
    let _ = parse_accept(&headers);
    let _ = choose_media_type(&headers, &["application/json", "text/csv", "text/html"]);
    let _ = choose_language(&headers, &["en", "fr-CA", "de"]);
    let etag = ETag::strong("v1").expect("a valid tag");
    for method in [Method::GET, Method::PUT] {
        let _ = evaluate(
            &headers,
            Some(&etag),
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().ok(),
            &method,
        );
    }
    let _ = edge_toolkit::cookie::Cookies::from_headers(&headers);

    let app = Stack::new()
        .layer(Compression::new().with_min_size(1))
        .handler(|_req: Request| {
            Ok(Response::new(
                b"a body to compress, a body to compress".to_vec(),
            ))
        });
    let mut req = http::Request::new(Vec::new());
    req.headers_mut().insert(header::ACCEPT_ENCODING, value);
    let _ = app.call(req);
});
