//! A toolkit for serverless HTTP handlers that run as WebAssembly components, and the
//! example application built with it.
//!
//! Everything here works on the [`http`] crate's types, so it compiles and is unit-tested
//! natively. Only the `component` module (compiled for `wasm32` alone) touches spin-sdk: it exports
//! the application as `wasi:http/incoming-handler`.
//!
//! # Quick start
//!
//! ```
//! use handler::{Router, Request, Response, Problem, json_response};
//! use http::{Method, StatusCode};
//!
//! fn hello(req: Request) -> Result<Response, Problem> {
//!     let name = handler::PathParams::of(&req).get("name").unwrap_or("world");
//!     Ok(json_response(StatusCode::OK, &serde_json::json!({ "hello": name })))
//! }
//!
//! # fn main() -> Result<(), handler::RouteError> {
//! let router = Router::new().get("/hello/{name}", hello)?;
//!
//! let req = http::Request::get("/hello/edge").body(Vec::new()).expect("valid request");
//! let res = router.handle(req);
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.body().as_slice(), br#"{"hello":"edge"}"#);
//!
//! let res = router.handle(http::Request::get("/nope").body(Vec::new()).expect("valid request"));
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # Ok(())
//! # }
//! ```
//!
//! # Concepts
//!
//! - A [`Handler`] turns a [`Request`] into a [`Response`] or a [`Problem`] (an RFC 9457
//!   problem+json error that knows its status).
//! - A [`Router`] picks the handler by path (matchit syntax) and method, and answers `404`,
//!   `405` and `OPTIONS` itself.
//! - [`Middleware`] wraps handlers in the onion model: each layer gets the request and a
//!   [`Next`] for the rest of the chain, so it can act before, after or instead of the
//!   handler. [`Router::layer`] wraps the whole router; [`Router::route_with`] one route.
//!
//! ```
//! use handler::{Router, Request, Response, Stack};
//! use handler::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
//! use handler::middleware::{RequestIdLayer, SecurityHeaders};
//! use http::{Method, StatusCode};
//!
//! # fn main() -> Result<(), handler::RouteError> {
//! let router = Router::new()
//!     .layer(RequestIdLayer::new())
//!     .layer(SecurityHeaders::new())
//!     .layer(ConditionalRequests::new())
//!     .route_with(
//!         Method::GET,
//!         "/now",
//!         |_req: Request| Ok(Response::new(b"tick".to_vec())),
//!         Stack::new().layer(CacheControlLayer::new(CacheControl::new().with_no_store())),
//!     )?;
//!
//! let res = router.handle(http::Request::get("/now").body(Vec::new()).expect("valid request"));
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["cache-control"], "no-store");
//! assert_eq!(res.headers()["x-content-type-options"], "nosniff");
//! assert!(res.headers().contains_key("x-request-id"));
//! assert!(res.headers().contains_key("etag"));
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | Module | Item | What it does |
//! | --- | --- | --- |
//! | crate root | [`Router`], [`PathParams`] | method and path routing, `404`/`405`/`OPTIONS`/`HEAD` |
//! | crate root | [`Problem`], [`json_response`] | problem+json errors, JSON responses |
//! | [`middleware`] | [`Middleware`], [`Next`], [`from_fn`], [`Stack`] | the onion middleware model |
//! | [`middleware`] | [`RequestIdLayer`](middleware::RequestIdLayer) | keeps or generates `x-request-id` |
//! | [`middleware`] | [`AccessLog`](middleware::AccessLog) | one JSON line per request |
//! | [`middleware`] | [`Cors`](middleware::Cors) | CORS preflights and headers |
//! | [`middleware`] | [`SecurityHeaders`](middleware::SecurityHeaders) | HSTS, `nosniff`, CSP, `Referrer-Policy` |
//! | [`middleware`] | [`BodyLimit`](middleware::BodyLimit) | `413` for oversized bodies |
//! | [`cache`] | [`ConditionalRequests`](cache::ConditionalRequests), [`evaluate`](cache::evaluate) | `304`/`412` from `If-*` headers (RFC 9110 §13) |
//! | [`cache`] | [`CacheControl`](cache::CacheControl), [`CacheControlLayer`](cache::CacheControlLayer) | typed `Cache-Control` (RFC 9111) |
//! | [`cache`] | [`ETag`](cache::ETag), [`HttpDate`](cache::HttpDate), [`add_vary`](cache::add_vary) | validators and `Vary` |
//! | [`app`] | [`app::handle`] | the example application |

pub mod app;
pub mod cache;
#[cfg(target_arch = "wasm32")]
mod component;
pub mod middleware;
mod problem;
mod response;
mod router;

pub use middleware::{Layered, Middleware, Next, Stack, from_fn};
pub use problem::Problem;
pub use response::json_response;
pub use router::{Handler, PathParams, RouteError, Router};

/// The body type handlers read and write: the whole body, buffered.
pub type Body = Vec<u8>;
/// An incoming request as handlers see it.
pub type Request = http::Request<Body>;
/// A response as handlers produce it.
pub type Response = http::Response<Body>;
