//! Middleware that gives successful responses a `Cache-Control` header.
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::cache::{CacheControl, CacheControlLayer};
//! use http::header;
//!
//! let app = Stack::new()
//!     .layer(CacheControlLayer::new(CacheControl::new().with_public().with_max_age(Duration::from_secs(300))))
//!     .handler(|req: Request| {
//!         let mut res = Response::new(b"ok".to_vec());
//!         if req.uri().path() == "/private" {
//!             // A handler's own Cache-Control wins.
//!             res.headers_mut().insert(header::CACHE_CONTROL, "private".parse().unwrap());
//!         }
//!         Ok(res)
//!     });
//!
//! let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=300");
//! let res = app.call_blocking(http::Request::get("/private").body(vec![]).unwrap()).unwrap();
//! assert_eq!(res.headers()[header::CACHE_CONTROL], "private");
//! ```

use http::{HeaderValue, header};

use crate::HandlerFuture;
use crate::cache::CacheControl;
use crate::{Middleware, Next, Request};

/// Sets `Cache-Control` on `2xx` responses that do not have one; other responses (errors,
/// redirects) pass through untouched. Attach it to one route with
/// [`Router::route_with`](crate::Router::route_with).
///
/// ```
/// use edge_toolkit::{Request, Response, Router, Stack};
/// use edge_toolkit::cache::{CacheControl, CacheControlLayer};
/// use http::Method;
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let no_store = Stack::new().layer(CacheControlLayer::new(CacheControl::new().with_no_store()));
/// let router = Router::new()
///     .route_with(Method::GET, "/live", |_req: Request| Ok(Response::new(vec![])), no_store)?;
/// let res = router.handle(http::Request::get("/live").body(vec![]).unwrap());
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CacheControlLayer {
    value: HeaderValue,
}

impl CacheControlLayer {
    /// Sets `cache_control` on successful responses.
    pub fn new(cache_control: CacheControl) -> Self {
        Self {
            value: cache_control.to_header_value(),
        }
    }
}

impl Middleware for CacheControlLayer {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let mut res = next.run(req).await?;
            if res.status().is_success() && !self.value.is_empty() {
                res.headers_mut()
                    .entry(header::CACHE_CONTROL)
                    .or_insert_with(|| self.value.clone());
            }
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Problem, Response};
    use http::StatusCode;

    use super::*;
    use crate::{Handler, Stack};

    fn respond(status: StatusCode) -> impl Handler {
        move |_req: Request| {
            let mut res = Response::new(b"body".to_vec());
            *res.status_mut() = status;
            Ok(res)
        }
    }

    #[test]
    fn sets_header_only_on_success() {
        let layer = CacheControlLayer::new(CacheControl::new().with_no_store());
        // (status of the inner response, Cache-Control expected)
        let cases = [
            (StatusCode::OK, Some("no-store")),
            (StatusCode::CREATED, Some("no-store")),
            (StatusCode::NO_CONTENT, Some("no-store")),
            (StatusCode::MOVED_PERMANENTLY, None),
            (StatusCode::NOT_FOUND, None),
            (StatusCode::INTERNAL_SERVER_ERROR, None),
        ];
        for (status, expected) in cases {
            let app = Stack::new().layer(layer.clone()).handler(respond(status));
            let res = app
                .call_blocking(http::Request::get("/").body(Vec::new()).expect("valid"))
                .expect("ok");
            assert_eq!(res.status(), status);
            assert_eq!(res.body().as_slice(), b"body");
            assert_eq!(
                res.headers()
                    .get(header::CACHE_CONTROL)
                    .map(|v| v.as_bytes()),
                expected.map(str::as_bytes),
                "{status}"
            );
        }
    }

    #[test]
    fn problems_pass_through_and_empty_directives_add_nothing() {
        let app = Stack::new()
            .layer(CacheControlLayer::new(CacheControl::new().with_no_store()))
            .handler(|_req: Request| Err::<Response, _>(Problem::new(StatusCode::CONFLICT)));
        let err = app
            .call_blocking(http::Request::get("/").body(Vec::new()).expect("valid"))
            .expect_err("problem");
        assert!(!err.headers().contains_key(header::CACHE_CONTROL));

        let app = Stack::new()
            .layer(CacheControlLayer::new(CacheControl::new()))
            .handler(respond(StatusCode::OK));
        let res = app
            .call_blocking(http::Request::get("/").body(Vec::new()).expect("valid"))
            .expect("ok");
        assert!(!res.headers().contains_key(header::CACHE_CONTROL));
    }
}
