//! Middleware that adds protective response headers.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::SecurityHeaders;
//! use http::HeaderValue;
//!
//! let app = Stack::new()
//!     .layer(SecurityHeaders::new().with_referrer_policy(HeaderValue::from_static("same-origin")))
//!     .handler(|_req: Request| Ok(Response::new(vec![])));
//!
//! let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert_eq!(res.headers()["x-content-type-options"], "nosniff");
//! assert_eq!(res.headers()["content-security-policy"], "frame-ancestors 'none'");
//! assert_eq!(res.headers()["referrer-policy"], "same-origin");
//! // HSTS only over https: a plain-http answer must not pin the host.
//! assert!(!res.headers().contains_key("strict-transport-security"));
//!
//! let https = http::Request::get("/").header("x-forwarded-proto", "https").body(vec![]).unwrap();
//! let res = app.call_blocking(https).unwrap();
//! assert_eq!(res.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
//! ```

use http::uri::Scheme;
use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::HandlerFuture;
use crate::middleware::chain::headers_of;
use crate::{Middleware, Next, Request};

/// The default `Strict-Transport-Security`: two years, subdomains included.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds `Strict-Transport-Security` (only when the request came over https),
/// `X-Content-Type-Options: nosniff`, `Content-Security-Policy: frame-ancestors 'none'` and
/// `Referrer-Policy: no-referrer` to every response, problems included.
///
/// A header the handler already set is left as it is. Each value can be replaced with a
/// `with_*` setter or turned off with a `without_*` one.
///
/// A request counts as https when its URI scheme is `https`, or its first
/// `X-Forwarded-Proto` value is `https`, or the first element of `Forwarded` has
/// `proto=https`. The forwarding headers are trusted as the platform in front of the
/// component sets them; behind a proxy that passes client-supplied values through, the worst
/// outcome is an HSTS header over plain http, which browsers ignore.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack};
/// use edge_toolkit::middleware::SecurityHeaders;
///
/// let app = Stack::new()
///     .layer(SecurityHeaders::new().without_referrer_policy())
///     .handler(|_req: Request| Ok(Response::new(vec![])));
/// let res = app.call_blocking(http::Request::get("https://example.com/").body(vec![]).unwrap()).unwrap();
/// assert_eq!(res.headers()["x-content-type-options"], "nosniff");
/// assert!(res.headers().contains_key("strict-transport-security"));
/// assert!(!res.headers().contains_key("referrer-policy"));
/// ```
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
    content_type_options: Option<HeaderValue>,
    content_security_policy: Option<HeaderValue>,
    referrer_policy: Option<HeaderValue>,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityHeaders {
    /// All four headers with their default values.
    pub fn new() -> Self {
        Self {
            hsts: Some(HeaderValue::from_static(HSTS)),
            content_type_options: Some(HeaderValue::from_static("nosniff")),
            content_security_policy: Some(HeaderValue::from_static("frame-ancestors 'none'")),
            referrer_policy: Some(HeaderValue::from_static("no-referrer")),
        }
    }

    /// Replaces the `Strict-Transport-Security` value (default
    /// `max-age=63072000; includeSubDomains`).
    pub fn with_hsts(mut self, value: HeaderValue) -> Self {
        self.hsts = Some(value);
        self
    }

    /// Sends no `Strict-Transport-Security`.
    pub fn without_hsts(mut self) -> Self {
        self.hsts = None;
        self
    }

    /// Replaces the `X-Content-Type-Options` value (default `nosniff`).
    pub fn with_content_type_options(mut self, value: HeaderValue) -> Self {
        self.content_type_options = Some(value);
        self
    }

    /// Sends no `X-Content-Type-Options`.
    pub fn without_content_type_options(mut self) -> Self {
        self.content_type_options = None;
        self
    }

    /// Replaces the `Content-Security-Policy` value (default `frame-ancestors 'none'`).
    pub fn with_content_security_policy(mut self, value: HeaderValue) -> Self {
        self.content_security_policy = Some(value);
        self
    }

    /// Sends no `Content-Security-Policy`.
    pub fn without_content_security_policy(mut self) -> Self {
        self.content_security_policy = None;
        self
    }

    /// Replaces the `Referrer-Policy` value (default `no-referrer`).
    pub fn with_referrer_policy(mut self, value: HeaderValue) -> Self {
        self.referrer_policy = Some(value);
        self
    }

    /// Sends no `Referrer-Policy`.
    pub fn without_referrer_policy(mut self) -> Self {
        self.referrer_policy = None;
        self
    }
}

/// Whether `req` reached the platform over https.
fn is_https(req: &Request) -> bool {
    if req.uri().scheme() == Some(&Scheme::HTTPS) {
        return true;
    }
    let first_value = |name: HeaderName| -> Option<String> {
        let value = req.headers().get(name)?.to_str().ok()?;
        value.split(',').next().map(|v| v.trim().to_owned())
    };
    if first_value(header::HeaderName::from_static("x-forwarded-proto"))
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    {
        return true;
    }
    first_value(header::FORWARDED).is_some_and(|element| {
        element.split(';').any(|pair| {
            pair.split_once('=').is_some_and(|(key, value)| {
                key.trim().eq_ignore_ascii_case("proto")
                    && value.trim().trim_matches('"').eq_ignore_ascii_case("https")
            })
        })
    })
}

fn set_if_absent(headers: &mut HeaderMap, name: HeaderName, value: Option<&HeaderValue>) {
    if let Some(value) = value {
        headers.entry(name).or_insert_with(|| value.clone());
    }
}

impl Middleware for SecurityHeaders {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let https = is_https(&req);
            let mut result = next.run(req).await;
            let headers = headers_of(&mut result);
            if https {
                set_if_absent(
                    headers,
                    header::STRICT_TRANSPORT_SECURITY,
                    self.hsts.as_ref(),
                );
            }
            set_if_absent(
                headers,
                header::X_CONTENT_TYPE_OPTIONS,
                self.content_type_options.as_ref(),
            );
            set_if_absent(
                headers,
                header::CONTENT_SECURITY_POLICY,
                self.content_security_policy.as_ref(),
            );
            set_if_absent(
                headers,
                header::REFERRER_POLICY,
                self.referrer_policy.as_ref(),
            );
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Problem, Response};
    use http::StatusCode;

    use super::*;
    use crate::{Handler, Stack};

    fn call(layer: SecurityHeaders, req: Request) -> Response {
        Stack::new()
            .layer(layer)
            .handler(|_req: Request| Ok(Response::new(b"ok".to_vec())))
            .call_blocking(req)
            .expect("ok")
    }

    fn get(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::get(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Vec::new()).expect("valid request")
    }

    /// (uri, request headers, HSTS expected)
    type Case = (&'static str, &'static [(&'static str, &'static str)], bool);

    #[test]
    fn hsts_only_over_https() {
        let cases: [Case; 13] = [
            ("/", &[], false),
            ("http://example.com/", &[], false),
            ("https://example.com/", &[], true),
            ("/", &[("x-forwarded-proto", "https")], true),
            ("/", &[("x-forwarded-proto", "HTTPS")], true),
            ("/", &[("x-forwarded-proto", "https, http")], true),
            ("/", &[("x-forwarded-proto", "http, https")], false),
            ("/", &[("x-forwarded-proto", "http")], false),
            (
                "/",
                &[("forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43")],
                true,
            ),
            ("/", &[("forwarded", "proto=\"https\"")], true),
            ("/", &[("forwarded", "Proto=HTTPS, proto=http")], true),
            ("/", &[("forwarded", "proto=http, proto=https")], false),
            ("/", &[("forwarded", "for=\"_hidden\"")], false),
        ];
        for (uri, headers, hsts) in cases {
            let res = call(SecurityHeaders::new(), get(uri, headers));
            assert_eq!(
                res.headers()
                    .contains_key(header::STRICT_TRANSPORT_SECURITY),
                hsts,
                "{uri} {headers:?}"
            );
            assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(res.body().as_slice(), b"ok");
        }
    }

    #[test]
    fn defaults_overrides_and_disabling() {
        let https = || get("https://example.com/", &[]);
        let res = call(SecurityHeaders::new(), https());
        let h = res.headers();
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "frame-ancestors 'none'");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");

        let custom = SecurityHeaders::new()
            .with_hsts(HeaderValue::from_static("max-age=60"))
            .with_content_type_options(HeaderValue::from_static("nosniff"))
            .with_content_security_policy(HeaderValue::from_static("default-src 'self'"))
            .with_referrer_policy(HeaderValue::from_static("strict-origin"));
        let res = call(custom, https());
        let h = res.headers();
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], "max-age=60");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'self'");
        assert_eq!(h[header::REFERRER_POLICY], "strict-origin");

        let none = SecurityHeaders::new()
            .without_hsts()
            .without_content_type_options()
            .without_content_security_policy()
            .without_referrer_policy();
        let res = call(none, https());
        assert!(res.headers().is_empty());
    }

    #[test]
    fn keeps_handler_headers_and_decorates_problems() {
        let app = Stack::new()
            .layer(SecurityHeaders::new())
            .handler(|req: Request| {
                if req.uri().path() == "/err" {
                    return Err(Problem::new(StatusCode::NOT_FOUND));
                }
                let mut res = Response::new(Vec::new());
                res.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'"),
                );
                Ok(res)
            });
        let res = app.call_blocking(get("/", &[])).expect("ok");
        assert_eq!(
            res.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'"
        );
        assert_eq!(
            res.headers()
                .get_all(header::CONTENT_SECURITY_POLICY)
                .iter()
                .count(),
            1
        );
        assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");

        let err = app.call_blocking(get("/err", &[])).expect_err("problem");
        let res = err.into_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
