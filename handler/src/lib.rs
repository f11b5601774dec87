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

pub mod app;
#[cfg(target_arch = "wasm32")]
mod component;
mod problem;
mod response;
mod router;

pub use problem::Problem;
pub use response::json_response;
pub use router::{Handler, PathParams, RouteError, Router};

/// The body type handlers read and write: the whole body, buffered.
pub type Body = Vec<u8>;
/// An incoming request as handlers see it.
pub type Request = http::Request<Body>;
/// A response as handlers produce it.
pub type Response = http::Response<Body>;
