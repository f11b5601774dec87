//! Middleware that gives every request an id, kept from the client or generated.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::{RequestId, RequestIdLayer};
//!
//! let app = Stack::new()
//!     .layer(RequestIdLayer::new())
//!     .handler(|req: Request| {
//!         // Handlers find the id in the request's extensions.
//!         let id = RequestId::of(&req).map(|id| id.as_str().to_owned()).unwrap_or_default();
//!         Ok(Response::new(id.into_bytes()))
//!     });
//!
//! // A valid incoming id is kept and echoed.
//! let req = http::Request::get("/").header("x-request-id", "abc-123").body(vec![]).unwrap();
//! let res = app.call_blocking(req).unwrap();
//! assert_eq!(res.headers()["x-request-id"], "abc-123");
//! assert_eq!(res.body().as_slice(), b"abc-123");
//!
//! // Otherwise a random one is generated: 32 hex digits.
//! let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! let id = res.headers()["x-request-id"].to_str().unwrap();
//! assert_eq!(id.len(), 32);
//! assert_eq!(res.body().as_slice(), id.as_bytes());
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};

use crate::HandlerFuture;
use crate::middleware::chain::headers_of;
use crate::{Middleware, Next, Request};

/// The header the id travels in by default.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id that is kept.
const MAX_LEN: usize = 128;

/// The id of the current request, stored in its extensions by [`RequestIdLayer`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The id of `req`, if a [`RequestIdLayer`] has run.
    pub fn of(req: &Request) -> Option<&RequestId> {
        req.extensions().get::<RequestId>()
    }

    /// A valid incoming id: 1 to 128 visible ASCII characters.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic);
        valid.then(|| Self(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// A new id: 16 random bytes as 32 lowercase hex digits.
    ///
    /// Should the system's random source fail, the id is made from the clock and a
    /// per-instance counter instead: unique within the instance, but guessable.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let count = COUNTER.fetch_add(1, Ordering::Relaxed);
            bytes[..8].copy_from_slice(&(nanos as u64).to_be_bytes());
            bytes[8..].copy_from_slice(&count.to_be_bytes());
        }
        Self(crate::hex::lower(&bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("ids are visible ASCII, valid header values")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps a valid incoming `x-request-id` (1 to 128 visible ASCII characters) or generates
/// one ([`RequestId::generate`]), stores it in the request's extensions as a [`RequestId`],
/// sets it on the request header the inner handler sees, and sets it on the response
/// (problems included), replacing any other value there.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack};
/// use edge_toolkit::middleware::RequestIdLayer;
///
/// let app = Stack::new().layer(RequestIdLayer::new()).handler(|_req: Request| Ok(Response::new(vec![])));
/// let res = app.call_blocking(http::Request::get("/").header("x-request-id", "r1").body(vec![]).unwrap()).unwrap();
/// assert_eq!(res.headers()["x-request-id"], "r1");
/// ```
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    header: HeaderName,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIdLayer {
    /// Uses the `x-request-id` header.
    pub fn new() -> Self {
        Self {
            header: X_REQUEST_ID,
        }
    }

    /// Uses another header, such as `x-correlation-id`.
    pub fn with_header_name(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// The header the id is read from and written to.
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }
}

impl Middleware for RequestIdLayer {
    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let id = req
                .headers()
                .get(&self.header)
                .and_then(RequestId::parse)
                .unwrap_or_else(RequestId::generate);
            let value = id.to_header_value();
            req.headers_mut().insert(self.header.clone(), value.clone());
            req.extensions_mut().insert(id);
            let mut result = next.run(req).await;
            headers_of(&mut result).insert(self.header.clone(), value);
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

    fn echo() -> impl Handler {
        Stack::new()
            .layer(RequestIdLayer::new())
            .handler(|req: Request| {
                let from_ext = RequestId::of(&req)
                    .map(|id| id.to_string())
                    .unwrap_or_default();
                let from_header = req
                    .headers()
                    .get(X_REQUEST_ID)
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default();
                assert_eq!(from_ext.as_bytes(), from_header.as_slice());
                Ok(Response::new(from_ext.into_bytes()))
            })
    }

    fn call(app: &impl Handler, id: Option<&[u8]>) -> Response {
        let mut req = http::Request::get("/").body(Vec::new()).expect("valid");
        if let Some(id) = id {
            req.headers_mut().insert(
                X_REQUEST_ID,
                HeaderValue::from_bytes(id).expect("header bytes"),
            );
        }
        app.call_blocking(req).expect("ok")
    }

    fn is_generated(id: &[u8]) -> bool {
        id.len() == 32
            && id
                .iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }

    #[test]
    fn keeps_valid_ids_and_replaces_invalid_ones() {
        let long_ok = "a".repeat(128);
        let too_long = "a".repeat(129);
        // (incoming id, kept?)
        let cases: [(Option<&[u8]>, bool); 9] = [
            (Some(b"abc"), true),
            (Some(b"0"), true),
            (Some(b"~!@#$%^&*()_+{}|:<>?"), true),
            (Some(long_ok.as_bytes()), true),
            (Some(too_long.as_bytes()), false),
            (Some(b""), false),
            (Some(b"has space"), false),
            (Some(b"caf\xc3\xa9"), false),
            (None, false),
        ];
        let app = echo();
        for (incoming, kept) in cases {
            let res = call(&app, incoming);
            let echoed = res.headers()[X_REQUEST_ID].as_bytes();
            assert_eq!(res.body().as_slice(), echoed, "{incoming:?}");
            if kept {
                assert_eq!(Some(echoed), incoming, "{incoming:?}");
            } else {
                assert!(is_generated(echoed), "{incoming:?} -> {echoed:?}");
            }
        }
    }

    #[test]
    fn generated_ids_differ() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert!(is_generated(a.as_str().as_bytes()));
    }

    #[test]
    fn echoes_on_problems_and_overrides_handler_value() {
        let app = Stack::new()
            .layer(RequestIdLayer::new())
            .handler(|_req: Request| Err::<Response, _>(Problem::new(StatusCode::NOT_FOUND)));
        let req = http::Request::get("/")
            .header(X_REQUEST_ID, "from-client")
            .body(Vec::new())
            .expect("valid");
        let err = app.call_blocking(req).expect_err("problem");
        assert_eq!(err.headers()[X_REQUEST_ID], "from-client");

        let app = Stack::new()
            .layer(RequestIdLayer::new())
            .handler(|_req: Request| {
                let mut res = Response::new(Vec::new());
                res.headers_mut()
                    .insert(X_REQUEST_ID, HeaderValue::from_static("handler"));
                Ok(res)
            });
        let res = call(&app, Some(b"client"));
        assert_eq!(res.headers()[X_REQUEST_ID], "client");
        assert_eq!(res.headers().get_all(X_REQUEST_ID).iter().count(), 1);
    }

    #[test]
    fn custom_header_name() {
        let name = HeaderName::from_static("x-correlation-id");
        let layer = RequestIdLayer::new().with_header_name(name.clone());
        assert_eq!(layer.header_name(), &name);
        let app = Stack::new()
            .layer(layer)
            .handler(|_req: Request| Ok(Response::new(Vec::new())));
        let req = http::Request::get("/")
            .header("x-correlation-id", "corr")
            .header(X_REQUEST_ID, "ignored")
            .body(Vec::new())
            .expect("valid");
        let res = app.call_blocking(req).expect("ok");
        assert_eq!(res.headers()["x-correlation-id"], "corr");
        assert!(!res.headers().contains_key(X_REQUEST_ID));
    }
}
