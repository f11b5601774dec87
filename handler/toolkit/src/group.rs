//! Route groups: routes under a common path prefix that share middleware, such as an API
//! version.
//!
//! ```
//! use edge_toolkit::{Request, Response, Router, from_fn, Next};
//! use http::{HeaderValue, StatusCode};
//!
//! fn version(v: &'static str) -> impl edge_toolkit::Middleware {
//!     from_fn(async move |req: Request, next: Next<'_>| {
//!         let mut res = next.run(req).await?;
//!         res.headers_mut().insert("api-version", HeaderValue::from_static(v));
//!         Ok(res)
//!     })
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .group("/api/v1", |v1| {
//!         v1.layer(version("1"))
//!             .get("/users", |_req: Request| Ok(Response::new(b"v1 users".to_vec())))
//!     })?
//!     .group("/api/v2", |v2| {
//!         v2.layer(version("2"))
//!             .get("/users", |_req: Request| Ok(Response::new(b"v2 users".to_vec())))
//!     })?;
//!
//! let res = router.handle(http::Request::get("/api/v1/users").body(vec![]).unwrap());
//! assert_eq!(res.body().as_slice(), b"v1 users");
//! assert_eq!(res.headers()["api-version"], "1");
//! let res = router.handle(http::Request::get("/api/v2/users").body(vec![]).unwrap());
//! assert_eq!(res.headers()["api-version"], "2");
//! assert_eq!(router.handle(http::Request::get("/api/v3/users").body(vec![]).unwrap()).status(), 404);
//! # Ok(())
//! # }
//! ```

use std::fmt;

use http::Method;

use crate::{Handler, IntoHandler, Middleware, Request, RouteError, Router, Stack};

/// Routes under one path prefix, with middleware of their own; built by [`Router::group`].
///
/// The group's layers (added with [`Group::layer`], in any order relative to its routes)
/// wrap every route of the group, inside the router's global layers and outside each route's
/// own [`Stack`]. They run only when one of the group's routes matched: the router's own
/// `404`, `405` and `OPTIONS` answers under the prefix pass only the global layers.
///
/// Paths inside a group are written relative to the prefix (matchit syntax); `""` is the
/// prefix itself. Groups nest, prefixes and layers adding up outside-in.
///
/// ```
/// use edge_toolkit::{Request, Response, Router};
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let router = Router::new().group("/api", |api| {
///     api.get("", |_req: Request| Ok(Response::new(b"index".to_vec())))
///         .group("/v1", |v1| v1.get("/ping", |_req: Request| Ok(Response::new(b"pong".to_vec()))))
/// })?;
/// let get = |path: &str| router.handle(http::Request::get(path).body(vec![]).unwrap());
/// assert_eq!(get("/api").body().as_slice(), b"index");
/// assert_eq!(get("/api/v1/ping").body().as_slice(), b"pong");
/// # Ok(())
/// # }
/// ```
pub struct Group {
    prefix: String,
    stack: Stack,
    routes: Vec<GroupRoute>,
}

struct GroupRoute {
    method: Method,
    path: String,
    handler: Box<dyn Handler>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<_> = self
            .routes
            .iter()
            .map(|r| format!("{} {}{}", r.method, self.prefix, r.path))
            .collect();
        f.debug_struct("Group")
            .field("prefix", &self.prefix)
            .field("routes", &routes)
            .field("layers", &self.stack.len())
            .finish()
    }
}

/// A boxed handler is a handler.
struct Boxed(Box<dyn Handler>);

impl Handler for Boxed {
    fn call(&self, req: Request) -> crate::HandlerFuture<'_> {
        self.0.call(req)
    }

    fn max_body(&self) -> Option<u64> {
        self.0.max_body()
    }

    fn streams_body(&self) -> bool {
        self.0.streams_body()
    }

    fn answers_preconditions(&self) -> bool {
        self.0.answers_preconditions()
    }
}

impl Group {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            stack: Stack::new(),
            routes: Vec::new(),
        }
    }

    /// Adds `middleware` around every route of the group, inside the layers added so far.
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.stack = self.stack.layer(middleware);
        self
    }

    /// Registers `handler` for `method` requests to `prefix + path`. Conflicts are reported
    /// by [`Router::group`].
    pub fn route<M>(mut self, method: Method, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.routes.push(GroupRoute {
            method,
            path: path.to_owned(),
            handler: crate::router::answering_preconditions(handler.into_handler()),
        });
        self
    }

    /// Registers `handler` wrapped in its own `stack`, which runs inside the group's layers.
    pub fn route_with<M>(
        self,
        method: Method,
        path: &str,
        handler: impl IntoHandler<M>,
        stack: Stack,
    ) -> Self {
        self.route(method, path, stack.handler(handler))
    }

    /// Registers a `GET` route (which also answers `HEAD`).
    pub fn get<M>(self, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.route(Method::GET, path, handler)
    }

    /// Registers a `POST` route.
    pub fn post<M>(self, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.route(Method::POST, path, handler)
    }

    /// Registers a `PUT` route.
    pub fn put<M>(self, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.route(Method::PUT, path, handler)
    }

    /// Registers a `PATCH` route.
    pub fn patch<M>(self, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.route(Method::PATCH, path, handler)
    }

    /// Registers a `DELETE` route.
    pub fn delete<M>(self, path: &str, handler: impl IntoHandler<M>) -> Self {
        self.route(Method::DELETE, path, handler)
    }

    /// A nested group under `prefix` (relative to this group's prefix).
    pub fn group(mut self, prefix: &str, build: impl FnOnce(Group) -> Group) -> Self {
        let inner = build(Group::new(prefix));
        self.routes.extend(inner.into_routes());
        self
    }

    /// The group's routes with full paths, each wrapped in the group's layers.
    fn into_routes(self) -> Vec<GroupRoute> {
        let Group {
            prefix,
            stack,
            routes,
        } = self;
        routes
            .into_iter()
            .map(|route| GroupRoute {
                method: route.method,
                path: [prefix.as_str(), &route.path].concat(),
                handler: if stack.is_empty() {
                    route.handler
                } else {
                    Box::new(stack.clone().handler(Boxed(route.handler)))
                },
            })
            .collect()
    }
}

impl Router {
    /// Adds the routes `build` registers on a [`Group`] under `prefix` (such as `/api/v1`; a
    /// trailing `/` is ignored), each wrapped in the group's layers.
    pub fn group(
        mut self,
        prefix: &str,
        build: impl FnOnce(Group) -> Group,
    ) -> Result<Self, RouteError> {
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(RouteError::Prefix {
                prefix: prefix.to_owned(),
            });
        }
        for route in build(Group::new(prefix)).into_routes() {
            self = self.route(route.method, &route.path, Boxed(route.handler))?;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::Response;
    use http::{HeaderValue, StatusCode};

    use super::*;
    use crate::{Next, from_fn};

    fn stamp(name: &'static str) -> impl Middleware {
        from_fn(async move |req: Request, next: Next<'_>| {
            let mut res = next.run(req).await?;
            res.headers_mut()
                .append("x-layer", HeaderValue::from_static(name));
            Ok(res)
        })
    }

    fn ok(body: &'static str) -> impl Handler {
        move |_req: Request| Ok(Response::new(body.as_bytes().to_vec()))
    }

    fn router() -> Router {
        Router::new()
            .layer(stamp("global"))
            .get("/", ok("root"))
            .and_then(|r| {
                r.group("/api/v1/", |v1| {
                    v1.get("/users", ok("v1 list"))
                        .layer(stamp("v1"))
                        .route_with(
                            Method::POST,
                            "/users",
                            ok("v1 create"),
                            Stack::new().layer(stamp("route")),
                        )
                        .get("/users/{id}", |req: Request| {
                            let id: u32 = crate::PathParams::of(&req).parse("id")?;
                            Ok(Response::new(format!("v1 user {id}").into_bytes()))
                        })
                        .group("/admin", |admin| {
                            admin.layer(stamp("admin")).delete("/cache", ok("purged"))
                        })
                })
            })
            .and_then(|r| r.group("/api/v2", |v2| v2.get("/users", ok("v2 list"))))
            .expect("valid routes")
    }

    #[test]
    fn prefixes_and_layers() {
        // (method, path, status, body, layers innermost first)
        let cases: [(Method, &str, u16, &str, &[&str]); 9] = [
            (Method::GET, "/", 200, "root", &["global"]),
            (
                Method::GET,
                "/api/v1/users",
                200,
                "v1 list",
                &["v1", "global"],
            ),
            (
                Method::POST,
                "/api/v1/users",
                200,
                "v1 create",
                &["route", "v1", "global"],
            ),
            (
                Method::GET,
                "/api/v1/users/7",
                200,
                "v1 user 7",
                &["v1", "global"],
            ),
            (
                Method::DELETE,
                "/api/v1/admin/cache",
                200,
                "purged",
                &["admin", "v1", "global"],
            ),
            (Method::GET, "/api/v2/users", 200, "v2 list", &["global"]),
            (Method::HEAD, "/api/v1/users", 200, "", &["v1", "global"]),
            // The router's own answers under a prefix pass only the global layers.
            (Method::GET, "/api/v1/nope", 404, "", &["global"]),
            (Method::PUT, "/api/v1/users", 405, "", &["global"]),
        ];
        let router = router();
        for (method, path, status, body, layers) in cases {
            let req = http::Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Vec::new())
                .expect("valid");
            let res = router.handle(req);
            assert_eq!(res.status(), status, "{method} {path}");
            if status == StatusCode::OK {
                assert_eq!(res.body().as_slice(), body.as_bytes(), "{method} {path}");
            }
            let seen: Vec<_> = res.headers().get_all("x-layer").iter().collect();
            assert_eq!(seen, layers, "{method} {path}");
        }
    }

    #[test]
    fn conflicts_and_bad_prefixes_are_errors() {
        let dup = Router::new()
            .get("/api/users", ok("a"))
            .and_then(|r| r.group("/api", |g| g.get("/users", ok("b"))));
        assert!(matches!(dup, Err(RouteError::Duplicate { .. })));
        let bad = Router::new().group("api", |g| g.get("/x", ok("x")));
        assert!(matches!(bad, Err(RouteError::Prefix { .. })));
        let group = Group::new("/g").layer(stamp("a")).get("/x", ok("x"));
        let debug = format!("{group:?}");
        assert!(
            debug.contains("GET /g/x") && debug.contains("layers: 1"),
            "{debug}"
        );
    }
}
