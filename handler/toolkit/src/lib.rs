//! A toolkit for serverless HTTP handlers that run as WebAssembly components.
//!
//! Everything here works on the [`http`] crate's types, so it compiles and is unit-tested
//! natively. The `component` module (compiled for `wasm32` alone) serves a handler as
//! `wasi:http/incoming-handler`; the platform modules [`kv`], [`config`] and [`client`] call
//! the host (spin-sdk's key-value store and variables, `wasi:http/outgoing-handler`) in the
//! component and have native stand-ins (an in-memory store, the environment, a transport
//! that refuses), so handlers using them are unit-tested natively too.
//!
//! # Quick start
//!
//! A handler is a function of [extractors](extract), each read from the request, returning
//! anything that becomes a response ([`IntoResponse`]), or a [`Problem`] for an error:
//!
//! ```
//! use edge_toolkit::extract::{Json, Path};
//! use edge_toolkit::Router;
//! use http::StatusCode;
//!
//! fn hello(Path(name): Path<String>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "hello": name }))
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
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
//! The [`tutorial`] walks from a first route through extractors, async handlers,
//! middleware, caching, state, the component, testing and deployment.
//!
//! The project template `edge-host new my-handler` writes (a crate on this toolkit, its
//! spin.toml and a test through the host's harness) is the quickest start of all.
//!
//! # Concepts
//!
//! - A [`Handler`] turns a [`Request`] into a [`Response`] or a [`Problem`] (an RFC 9457
//!   problem+json error that knows its status). Functions of extractors become handlers
//!   ([`IntoHandler`]): [`Path`](extract::Path), [`Query`](extract::Query),
//!   [`Json`](extract::Json), [`Form`](extract::Form), [`Multipart`](extract::Multipart),
//!   [`State`](extract::State) (from [`Router::with_state`]) and more, each failing with the
//!   problem a client should get (`400`, `415`, `422`, `413`...).
//! - Handlers and middleware may be `async`: [`Handler::call`] and [`Middleware::handle`]
//!   return a [`HandlerFuture`], and the component glue awaits [`Router::serve`], so on a
//!   WASI 0.3 instance a request that waits (an outbound [`client::Client::send`], a
//!   back-off) lets the instance's other requests go on. [`Router::handle`] and
//!   [`Handler::call_blocking`] run one to completion, for tests.
//!
//!   ```
//!   use edge_toolkit::extract::Path;
//!   use edge_toolkit::{Next, Request, Router, from_fn};
//!
//!   async fn shout(Path(word): Path<String>) -> String {
//!       word.to_uppercase() // an outbound call would be awaited here
//!   }
//!
//!   # fn main() -> Result<(), edge_toolkit::RouteError> {
//!   let router = Router::new()
//!       .layer(from_fn(async |req: Request, next: Next<'_>| {
//!           let mut res = next.run(req).await?;
//!           res.headers_mut().insert("x-shouted", http::HeaderValue::from_static("yes"));
//!           Ok(res)
//!       }))
//!       .get("/shout/{word}", shout)?;
//!   let res = router.handle(http::Request::get("/shout/hi").body(Vec::new()).expect("valid"));
//!   assert_eq!(res.body().as_slice(), b"HI");
//!   assert_eq!(res.headers()["x-shouted"], "yes");
//!   # Ok(())
//!   # }
//!   ```
//! - A [`Router`] picks the handler by path (matchit syntax) and method, and answers `404`,
//!   `405` and `OPTIONS` itself.
//! - [`Middleware`] wraps handlers in the onion model: each layer gets the request and a
//!   [`Next`] for the rest of the chain, so it can act before, after or instead of the
//!   handler. [`Router::layer`] wraps the whole router; [`Router::route_with`] one route.
//!
//! ```
//! use edge_toolkit::{Router, Request, Response, Stack};
//! use edge_toolkit::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
//! use edge_toolkit::middleware::{RequestIdLayer, SecurityHeaders};
//! use http::{Method, StatusCode};
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
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
//! | crate root | [`Router::group`], [`Group`] | routes under a prefix (`/api/v1`) with middleware of their own |
//! | crate root | [`Problem`], [`json_response`] | problem+json errors (with extension members), JSON responses |
//! | crate root | [`IntoResponse`], [`Html`] | what handlers return: text, bytes, JSON, HTML, statuses, `(status, headers, body)` tuples |
//! | [`extract`] | [`Path`](extract::Path), [`Query`](extract::Query), [`Form`](extract::Form), [`Json`](extract::Json), [`Multipart`](extract::Multipart), [`State`](extract::State) | handler arguments read from the request, with problem+json failures |
//! | [`body`] | [`json`](body::json), [`json_valid`](body::json_valid), [`Validate`](body::Validate) | JSON bodies: `415`, `400` with line/column, `422` with an `errors` list |
//! | [`negotiate`] | [`negotiate_media_type`](negotiate::negotiate_media_type), [`choose_language`](negotiate::choose_language) | `Accept` (q-values, specificity, `406`) and `Accept-Language` (RFC 4647 basic filtering) |
//! | [`cookie`] | [`Cookies`](cookie::Cookies), [`SetCookie`](cookie::SetCookie) | `Cookie` parsing, validated `Set-Cookie` with `SameSite`, `Max-Age`, `Expires` |
//! | [`files`] | [`StaticFiles`](files::StaticFiles) | static files from a (preopened) directory: validators, `304`/`412`, byte ranges (`206`, `multipart/byteranges`, `416`), streamed |
//! | [`stream`] | [`BodyStream`](stream::BodyStream), [`streaming_response`](stream::streaming_response) | bodies sent chunk by chunk after the buffered body |
//! | [`sse`] | [`Event`](sse::Event), [`sse_response`](sse::sse_response) | server-sent events, serialised per the HTML standard |
//! | [`middleware`] | [`Middleware`], [`Next`], [`from_fn`], [`Stack`] | the onion middleware model |
//! | [`middleware`] | [`RequestIdLayer`](middleware::RequestIdLayer) | keeps or generates `x-request-id` |
//! | [`middleware`] | [`AccessLog`](middleware::AccessLog) | one JSON line per request |
//! | [`middleware`] | [`Cors`](middleware::Cors) | CORS preflights and headers |
//! | [`middleware`] | [`SecurityHeaders`](middleware::SecurityHeaders) | HSTS, `nosniff`, CSP, `Referrer-Policy` |
//! | [`middleware`] | [`BodyLimit`](middleware::BodyLimit) | `413` for oversized bodies |
//! | [`middleware`] | [`RateLimit`](middleware::RateLimit) | `429` past a token bucket per key the handler chooses, kept in the key-value store; `RateLimit` fields |
//! | [`middleware`] | [`Compression`](middleware::Compression) | gzip / br by `Accept-Encoding`, an `ETag` per coding |
//! | [`middleware::auth`] | [`JwtAuth`](middleware::auth::JwtAuth), [`StaticTokens`](middleware::auth::StaticTokens) | bearer auth: HS256 JWTs (`exp`, `nbf`, `iss`, `aud`, scopes) or fixed tokens; RFC 6750 challenges |
//! | [`cache`] | [`ConditionalRequests`](cache::ConditionalRequests), [`evaluate`](cache::evaluate) | `304`/`412` from `If-*` headers (RFC 9110 §13) |
//! | [`cache`] | [`CacheControl`](cache::CacheControl), [`CacheControlLayer`](cache::CacheControlLayer) | typed `Cache-Control` (RFC 9111) |
//! | [`cache`] | [`ETag`](cache::ETag), [`HttpDate`](cache::HttpDate), [`add_vary`](cache::add_vary) | validators and `Vary` |
//! | [`kv`] | [`Store`](kv::Store), [`Cas`](kv::Cas), [`KvError`](kv::KvError) | key-value storage (Spin's `key-value`, compare-and-swap through `wasi:keyvalue/atomics`); errors know their status |
//! | [`config`] | [`get`](config::get), [`get_or`](config::get_or) | configuration variables (Spin's `variables`); `SPIN_VARIABLE_*` natively |
//! | [`client`] | [`Client`](client::Client), [`RetryPolicy`](client::RetryPolicy), [`ClientError`](client::ClientError) | outbound HTTP with a per-attempt timeout and retries (exponential backoff, full jitter) of idempotent requests |
//! | `component` (`wasm32` only) | `serve_limited`, `serve`, `read_request`, `write_response` | the component's glue: a `#[http_component]` export answered by a handler, the route's body limit applied before the body is read, responses streamed |
//!
//! # How it works
//!
//! A component is a crate of its own, a `cdylib` depending on this one (the repository's
//! `handler/example` is such a crate). Its one `wasm32`-only file exports
//! `wasi:http/incoming-handler` with spin-sdk's `#[http_component]` and hands each request
//! to `component::serve_limited` with its handler, an `async fn(Request) -> Response`
//! (awaiting [`Router::serve`]), and the
//! route's body plan, a `fn(&http::request::Parts) -> BodyPlan` (a router's
//! [`Router::body_plan`]: the limit, and whether the handler streams the body as an
//! [`Upload`](body::Upload)):
//!
//! ```ignore
//! use spin_sdk::http::{IncomingRequest, ResponseOutparam};
//!
//! #[spin_sdk::http_component]
//! async fn handle(req: IncomingRequest, out: ResponseOutparam) {
//!     edge_toolkit::component::serve_limited(req, out, my_app::body_plan, my_app::serve).await;
//! }
//! ```
//!
//! It reads the request into an [`http::Request<Vec<u8>>`](Request) (`413` as soon as the
//! body goes over the limit, without reading the rest; for an `Upload`, the body is left
//! to the handler to read as it arrives), calls the
//! handler, and writes the response: status, headers, the buffered body, then, if the
//! response carries a [`BodyStream`](stream::BodyStream), each chunk as the iterator
//! produces it. Middleware that needs the whole body (compression, body-derived `ETag`s)
//! leaves streams alone.
//!
//! # Cargo features
//!
//! `spin-platform` (default): [`kv`] and [`config`] use Spin's key-value store and variables
//! in the component. Without it the component imports WASI alone, for hosts that offer
//! nothing else (`wasmtime serve`): the store lives in the instance, variables come from the
//! environment (`SPIN_VARIABLE_<NAME>`). A crate depending on the toolkit forwards it
//! (`spin-platform = ["edge-toolkit/spin-platform"]`, the dependency without default
//! features) so that its own `--no-default-features` reaches the toolkit.

mod blocking;
pub mod body;
pub mod cache;
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod component;
pub mod config;
pub mod cookie;
pub mod extract;
pub mod files;
mod group;
mod hex;
pub mod kv;
pub mod middleware;
pub mod negotiate;
mod problem;
mod response;
mod router;
pub mod sse;
pub mod stream;
pub mod tutorial;
mod types;

pub use group::Group;
pub use middleware::auth::jwt;
pub use middleware::{Layered, Middleware, Next, Stack, from_fn};
pub use problem::{PROBLEM_JSON, Problem};
pub use response::{
    Html, IntoHandlerResult, IntoResponse, drop_undeliverable_length, json_response,
};
pub use router::{
    AsyncExtracting, AsyncRequestFn, Extracting, Handler, HandlerFuture, IntoHandler, PathParams,
    RouteError, Router, ViaAsync, ViaAsyncRequest, ViaExtractors, ViaHandler,
};
pub use types::{Body, Request, Response};
