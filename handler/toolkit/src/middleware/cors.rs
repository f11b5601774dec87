//! Cross-origin resource sharing ([Fetch standard, CORS protocol](https://fetch.spec.whatwg.org/#http-cors-protocol)).
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::Cors;
//! use http::{Method, StatusCode};
//!
//! let cors = Cors::new()
//!     .with_origins(["https://app.example"])
//!     .with_methods([Method::GET, Method::PUT])
//!     .with_headers([http::header::CONTENT_TYPE])
//!     .with_max_age(Duration::from_secs(600));
//! let app = Stack::new().layer(cors).handler(|_req: Request| Ok(Response::new(b"data".to_vec())));
//!
//! // A preflight is answered here, without calling the handler.
//! let preflight = http::Request::options("/items")
//!     .header("origin", "https://app.example")
//!     .header("access-control-request-method", "PUT")
//!     .body(vec![])
//!     .unwrap();
//! let res = app.call_blocking(preflight).unwrap();
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
//! assert_eq!(res.headers()["access-control-allow-methods"], "GET, PUT");
//! assert_eq!(res.headers()["access-control-allow-headers"], "content-type");
//! assert_eq!(res.headers()["access-control-max-age"], "600");
//!
//! // The actual request gets the handler's answer with the origin reflected.
//! let get = http::Request::get("/items").header("origin", "https://app.example").body(vec![]).unwrap();
//! let res = app.call_blocking(get).unwrap();
//! assert_eq!(res.body().as_slice(), b"data");
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
//! assert_eq!(res.headers()["vary"], "Origin");
//!
//! // Another origin gets no CORS headers, so the browser withholds the response.
//! let other = http::Request::get("/items").header("origin", "https://evil.example").body(vec![]).unwrap();
//! assert!(!app.call_blocking(other).unwrap().headers().contains_key("access-control-allow-origin"));
//! ```

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use crate::HandlerFuture;
use crate::cache::add_vary;
use crate::middleware::chain::headers_of;
use crate::{Middleware, Next, Request, Response};

/// Which origins may read responses.
#[derive(Debug, Clone)]
enum Origins {
    List(Vec<String>),
    Any,
}

/// Which request headers a preflight may announce.
#[derive(Debug, Clone)]
enum AllowHeaders {
    List(Vec<HeaderName>),
    /// Whatever `Access-Control-Request-Headers` asks for.
    Mirror,
}

/// Answers CORS preflights and adds CORS headers to responses for allowed origins.
///
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
///   `204` here without calling the inner handler; for an allowed origin it carries
///   `Access-Control-Allow-Origin`, `-Methods`, `-Headers`, `-Credentials` and `-Max-Age`.
/// - Any other request is passed on; when its `Origin` is allowed, the response (problems
///   included) gets `Access-Control-Allow-Origin`, `-Credentials` and `-Expose-Headers`.
/// - `Access-Control-Allow-Origin` is `*` for [`Cors::with_any_origin`]; for listed origins
///   the request's origin is reflected. Any origin together with credentials is refused
///   when the `Cors` is built (as tower-http does): it would let every site read what a
///   user's cookies unlock, so credentials go only with a list of origins.
///   Whenever the answer depends on the origin, `Vary: Origin` is added, even to responses
///   to requests without `Origin`, so that caches keep the variants apart.
///
/// A disallowed origin gets no CORS headers at all: the browser then withholds the response
/// from the page, which is how CORS refuses.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack};
/// use edge_toolkit::middleware::Cors;
///
/// let app = Stack::new()
///     .layer(Cors::new().with_origins(["https://a.example"]).with_credentials())
///     .handler(|_req: Request| Ok(Response::new(vec![])));
/// let req = http::Request::get("/").header("origin", "https://a.example").body(vec![]).unwrap();
/// let res = app.call_blocking(req).unwrap();
/// // With credentials the listed origin is reflected, never `*`.
/// assert_eq!(res.headers()["access-control-allow-origin"], "https://a.example");
/// assert_eq!(res.headers()["access-control-allow-credentials"], "true");
/// assert_eq!(res.headers()["vary"], "Origin");
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    methods: Vec<Method>,
    headers: AllowHeaders,
    credentials: bool,
    max_age: Option<Duration>,
    expose: Vec<HeaderName>,
}

impl Default for Cors {
    fn default() -> Self {
        Self::new()
    }
}

/// Why [`Cors::with_any_origin`] and [`Cors::with_credentials`] do not go together.
const ANY_ORIGIN_WITH_CREDENTIALS: &str = "invalid CORS configuration: any origin cannot be \
    combined with credentials (every site could read what the user's cookies unlock); list \
    the origins with `Cors::with_origins` instead";

const ACCESS_CONTROL_ALLOW_CREDENTIALS_TRUE: HeaderValue = HeaderValue::from_static("true");

fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> Option<HeaderValue> {
    let joined = items.into_iter().collect::<Vec<_>>().join(", ");
    if joined.is_empty() {
        return None;
    }
    Some(
        HeaderValue::from_str(&joined)
            .expect("method and header names are tokens, valid in header values"),
    )
}

impl Cors {
    /// Allows no origin yet; `GET`, `HEAD` and `POST`; no extra request headers; no
    /// credentials.
    pub fn new() -> Self {
        Self {
            origins: Origins::List(Vec::new()),
            methods: vec![Method::GET, Method::HEAD, Method::POST],
            headers: AllowHeaders::List(Vec::new()),
            credentials: false,
            max_age: None,
            expose: Vec::new(),
        }
    }

    /// Allows every origin (`Access-Control-Allow-Origin: *`).
    ///
    /// # Panics
    ///
    /// With [`Cors::with_credentials`]: any origin may not read credentialed responses.
    /// This is a mistake in the program, found the first time the `Cors` is built.
    pub fn with_any_origin(mut self) -> Self {
        assert!(!self.credentials, "{ANY_ORIGIN_WITH_CREDENTIALS}");
        self.origins = Origins::Any;
        self
    }

    /// Allows these origins (`scheme://host[:port]`, compared ASCII case-insensitively),
    /// in addition to those already allowed (no effect after [`Cors::with_any_origin`]).
    pub fn with_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let new = origins.into_iter().map(Into::into);
        match &mut self.origins {
            Origins::Any => {}
            Origins::List(list) => list.extend(new),
        }
        self
    }

    /// Replaces the methods a preflight allows.
    pub fn with_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// Replaces the request headers a preflight allows.
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.headers = AllowHeaders::List(headers.into_iter().collect());
        self
    }

    /// Allows whatever request headers a preflight asks for (reflected, so it works with
    /// credentials too).
    pub fn with_any_header(mut self) -> Self {
        self.headers = AllowHeaders::Mirror;
        self
    }

    /// Allows credentials (cookies, `Authorization`): sends
    /// `Access-Control-Allow-Credentials: true` to the listed origins.
    ///
    /// # Panics
    ///
    /// After [`Cors::with_any_origin`]: list the origins that may read credentialed
    /// responses instead.
    pub fn with_credentials(mut self) -> Self {
        assert!(
            !matches!(self.origins, Origins::Any),
            "{ANY_ORIGIN_WITH_CREDENTIALS}"
        );
        self.credentials = true;
        self
    }

    /// How long a browser may cache the preflight answer (`Access-Control-Max-Age`).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Response headers the page may read beyond the CORS-safelisted ones
    /// (`Access-Control-Expose-Headers`).
    pub fn with_exposed_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.expose = headers.into_iter().collect();
        self
    }

    /// Whether `Access-Control-Allow-Origin` depends on the request's origin (credentials
    /// come only with a list).
    fn reflects(&self) -> bool {
        matches!(self.origins, Origins::List(_))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => origin
                .to_str()
                .is_ok_and(|o| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))),
        }
    }

    /// `Access-Control-Allow-Origin` and `-Credentials` for an allowed `origin`.
    fn allow_origin(&self, headers: &mut HeaderMap, origin: &HeaderValue) {
        let value = if self.reflects() {
            origin.clone()
        } else {
            HeaderValue::from_static("*")
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                ACCESS_CONTROL_ALLOW_CREDENTIALS_TRUE,
            );
        }
    }

    fn preflight(&self, req: &Request, origin: &HeaderValue) -> Response {
        let mut res = Response::new(Vec::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let headers = res.headers_mut();
        if self.reflects() {
            add_vary(headers, "Origin");
        }
        if matches!(self.headers, AllowHeaders::Mirror) {
            add_vary(headers, "Access-Control-Request-Headers");
        }
        if !self.allows(origin) {
            return res;
        }
        self.allow_origin(headers, origin);
        if let Some(methods) = join(self.methods.iter().map(Method::as_str)) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let allow_headers = match &self.headers {
            AllowHeaders::List(list) => join(list.iter().map(HeaderName::as_str)),
            AllowHeaders::Mirror => req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned(),
        };
        if let Some(value) = allow_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        if let Some(max_age) = self.max_age {
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(max_age.as_secs()),
            );
        }
        res
    }
}

impl Middleware for Cors {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let origin = req.headers().get(header::ORIGIN).cloned();
            if let Some(origin) = &origin
                && req.method() == Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
            {
                return Ok(self.preflight(&req, origin));
            }
            let mut result = next.run(req).await;
            let headers = headers_of(&mut result);
            if self.reflects() {
                add_vary(headers, "Origin");
            }
            if let Some(origin) = origin.filter(|o| self.allows(o)) {
                self.allow_origin(headers, &origin);
                if let Some(expose) = join(self.expose.iter().map(HeaderName::as_str)) {
                    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Problem;
    use crate::{Handler, Stack};

    const APP: &str = "https://app.example";
    const EVIL: &str = "https://evil.example";

    fn app(cors: Cors) -> impl Handler {
        Stack::new().layer(cors).handler(|req: Request| {
            if req.uri().path() == "/err" {
                return Err(Problem::new(StatusCode::FORBIDDEN));
            }
            let mut res = Response::new(b"handler".to_vec());
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            Ok(res)
        })
    }

    fn request(method: Method, path: &str, headers: &[(HeaderName, &str)]) -> Request {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Vec::new())
            .expect("valid");
        for (name, value) in headers {
            req.headers_mut()
                .append(name.clone(), HeaderValue::from_str(value).expect("valid"));
        }
        req
    }

    fn header<'a>(res: &'a Response, name: &HeaderName) -> Option<&'a str> {
        res.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// (configuration, request Origin, expected ACAO, ACAC, Vary)
    type Case = (
        Cors,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
    );

    #[test]
    fn actual_requests_by_configuration() {
        let origin = header::ORIGIN;
        let cases: Vec<Case> = vec![
            (
                Cors::new().with_any_origin(),
                Some(APP),
                Some("*"),
                None,
                "Accept-Encoding",
            ),
            (
                Cors::new().with_any_origin(),
                None,
                None,
                None,
                "Accept-Encoding",
            ),
            (
                Cors::new().with_origins([APP]),
                Some(APP),
                Some(APP),
                None,
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new().with_origins(["HTTPS://APP.EXAMPLE"]),
                Some(APP),
                Some(APP),
                None,
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new().with_origins([APP]),
                Some(EVIL),
                None,
                None,
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new().with_origins([APP]),
                None,
                None,
                None,
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new(),
                Some(APP),
                None,
                None,
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new().with_origins([APP, EVIL]).with_credentials(),
                Some(EVIL),
                Some(EVIL),
                Some("true"),
                "Accept-Encoding, Origin",
            ),
            (
                Cors::new().with_origins(["null"]),
                Some("null"),
                Some("null"),
                None,
                "Accept-Encoding, Origin",
            ),
            // Without credentials `*` serves `null` as any other.
            (
                Cors::new().with_any_origin(),
                Some("null"),
                Some("*"),
                None,
                "Accept-Encoding",
            ),
        ];
        for (cors, from, acao, acac, vary) in cases {
            let headers: Vec<_> = from.map(|o| (origin.clone(), o)).into_iter().collect();
            let res = app(cors.clone())
                .call_blocking(request(Method::GET, "/", &headers))
                .expect("ok");
            assert_eq!(res.body().as_slice(), b"handler", "{cors:?} {from:?}");
            assert_eq!(
                header(&res, &header::ACCESS_CONTROL_ALLOW_ORIGIN),
                acao,
                "{cors:?} {from:?}"
            );
            assert_eq!(
                header(&res, &header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
                acac,
                "{cors:?} {from:?}"
            );
            assert_eq!(header(&res, &header::VARY), Some(vary), "{cors:?} {from:?}");
        }
    }

    #[test]
    fn any_origin_with_credentials_is_refused_in_either_order() {
        let builds: [fn() -> Cors; 2] = [
            || Cors::new().with_any_origin().with_credentials(),
            || Cors::new().with_credentials().with_any_origin(),
        ];
        for build in builds {
            let refused = std::panic::catch_unwind(build).expect_err("refused when built");
            let message = refused
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(
                message.contains("any origin cannot be combined with credentials"),
                "{message}"
            );
        }
        // A list of origins with credentials is fine.
        let listed = Cors::new().with_origins([APP]).with_credentials();
        assert!(listed.allows(&HeaderValue::from_static(APP)));
    }

    #[test]
    fn preflight_is_answered_without_the_handler() {
        let cors = Cors::new()
            .with_origins([APP])
            .with_methods([Method::GET, Method::DELETE])
            .with_headers([header::CONTENT_TYPE, HeaderName::from_static("x-token")])
            .with_credentials()
            .with_max_age(Duration::from_secs(86_400));
        let never =
            Stack::new()
                .layer(cors)
                .handler(|_req: Request| -> Result<Response, Problem> {
                    panic!("a preflight must not reach the handler")
                });
        let res = never
            .call_blocking(request(
                Method::OPTIONS,
                "/items/1",
                &[
                    (header::ORIGIN, APP),
                    (header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE"),
                    (header::ACCESS_CONTROL_REQUEST_HEADERS, "x-token"),
                ],
            ))
            .expect("204");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(res.body().is_empty());
        let expected = [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, APP),
            (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, DELETE"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "content-type, x-token",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            (header::VARY, "Origin"),
        ];
        for (name, value) in &expected {
            assert_eq!(header(&res, name), Some(*value), "{name}");
        }
        assert_eq!(res.headers().len(), expected.len());

        // A disallowed origin's preflight still stops here, without CORS headers.
        let res = never
            .call_blocking(request(
                Method::OPTIONS,
                "/items/1",
                &[
                    (header::ORIGIN, EVIL),
                    (header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE"),
                ],
            ))
            .expect("204");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(
            !res.headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        assert_eq!(header(&res, &header::VARY), Some("Origin"));
    }

    #[test]
    fn any_header_mirrors_the_request_and_any_origin_is_star_in_preflight() {
        let res = app(Cors::new().with_any_origin().with_any_header())
            .call_blocking(request(
                Method::OPTIONS,
                "/",
                &[
                    (header::ORIGIN, APP),
                    (header::ACCESS_CONTROL_REQUEST_METHOD, "POST"),
                    (header::ACCESS_CONTROL_REQUEST_HEADERS, "x-a, x-b"),
                ],
            ))
            .expect("204");
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("*")
        );
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_ALLOW_HEADERS),
            Some("x-a, x-b")
        );
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            header(&res, &header::VARY),
            Some("Access-Control-Request-Headers")
        );
        assert!(!res.headers().contains_key(header::ACCESS_CONTROL_MAX_AGE));
        assert!(
            !res.headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        );
    }

    #[test]
    fn plain_options_and_errors_pass_through_with_headers() {
        // OPTIONS without Access-Control-Request-Method is not a preflight.
        let res = app(Cors::new().with_any_origin())
            .call_blocking(request(Method::OPTIONS, "/", &[(header::ORIGIN, APP)]))
            .expect("handler");
        assert_eq!(res.body().as_slice(), b"handler");
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("*")
        );

        let cors = Cors::new()
            .with_origins([APP])
            .with_exposed_headers([HeaderName::from_static("x-total"), header::ETAG]);
        let err = app(cors.clone())
            .call_blocking(request(Method::GET, "/err", &[(header::ORIGIN, APP)]))
            .expect_err("problem");
        let res = err.into_response();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some(APP)
        );
        assert_eq!(
            header(&res, &header::ACCESS_CONTROL_EXPOSE_HEADERS),
            Some("x-total, etag")
        );
        assert_eq!(header(&res, &header::VARY), Some("Origin"));

        let res = app(cors)
            .call_blocking(request(Method::GET, "/", &[(header::ORIGIN, EVIL)]))
            .expect("ok");
        assert!(
            !res.headers()
                .contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        );
    }
}
