//! A tour of the toolkit, from a first route to a deployed component. Every example here
//! is compiled and run as a doc test, natively: the toolkit's types are the `http` crate's,
//! and the platform (key-value store, variables, outbound HTTP) has native stand-ins.
//!
//! `edge-host new my-handler` writes a crate that already has all of this wired up; this
//! page says what each piece is.
//!
//! # 1. A first route
//!
//! A handler is a function returning anything that becomes a response
//! ([`IntoResponse`](crate::IntoResponse): text, bytes, [`Json`](crate::extract::Json),
//! [`Html`](crate::Html), a [`StatusCode`](http::StatusCode), tuples of status, headers and
//! body), or a `Result` of one with a [`Problem`](crate::Problem) for the error. A
//! [`Router`](crate::Router) maps paths and methods to handlers, and answers `404`, `405`
//! (with `Allow`), `HEAD` and `OPTIONS` itself.
//!
//! ```
//! use edge_toolkit::Router;
//! use http::StatusCode;
//!
//! fn hello() -> &'static str {
//!     "Hello, edge!"
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new().get("/", hello)?;
//!
//! let res = router.handle(http::Request::get("/").body(Vec::new()).expect("valid"));
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.body().as_slice(), b"Hello, edge!");
//!
//! let res = router.handle(http::Request::delete("/").body(Vec::new()).expect("valid"));
//! assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
//! # Ok(())
//! # }
//! ```
//!
//! [`Router::handle`](crate::Router::handle) runs a request to completion on the calling
//! thread, which is what tests want; the component awaits
//! [`Router::serve`](crate::Router::serve) instead (section 7).
//!
//! # 2. Extractors
//!
//! A handler's arguments are [extractors](crate::extract), each read from the request. The
//! last may read the body; the others read the head. One that fails answers with the
//! problem a client should get, and the handler does not run.
//!
//! ```
//! use edge_toolkit::extract::{Json, Path, Query};
//! use edge_toolkit::{Problem, Router};
//! use http::StatusCode;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Page {
//!     limit: Option<u32>,
//! }
//!
//! #[derive(Deserialize)]
//! struct NewNote {
//!     text: String,
//! }
//!
//! fn list(Query(page): Query<Page>) -> String {
//!     format!("up to {} notes", page.limit.unwrap_or(10).min(50))
//! }
//!
//! fn show(Path(id): Path<u64>) -> String {
//!     format!("note {id}")
//! }
//!
//! fn create(Json(note): Json<NewNote>) -> Result<(StatusCode, String), Problem> {
//!     if note.text.is_empty() {
//!         return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail("empty note"));
//!     }
//!     Ok((StatusCode::CREATED, note.text))
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .get("/notes", list)?
//!     .post("/notes", create)?
//!     .get("/notes/{id}", show)?;
//! let get = |uri: &str| router.handle(http::Request::get(uri).body(Vec::new()).expect("valid"));
//!
//! assert_eq!(get("/notes?limit=500").body().as_slice(), b"up to 50 notes");
//! assert_eq!(get("/notes/7").body().as_slice(), b"note 7");
//! // Not a number: 400, as problem+json.
//! assert_eq!(get("/notes/x").status(), StatusCode::BAD_REQUEST);
//! assert_eq!(get("/notes/x").headers()["content-type"], "application/problem+json");
//!
//! let post = |body: &str, content_type: &str| {
//!     router.handle(
//!         http::Request::post("/notes")
//!             .header("content-type", content_type)
//!             .body(body.as_bytes().to_vec())
//!             .expect("valid"),
//!     )
//! };
//! assert_eq!(post(r#"{"text":"hi"}"#, "application/json").status(), StatusCode::CREATED);
//! assert_eq!(post(r#"{"text":"hi"}"#, "text/plain").status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
//! assert_eq!(post(r#"{"text":"#, "application/json").status(), StatusCode::BAD_REQUEST);
//! assert_eq!(post(r#"{"text":""}"#, "application/json").status(), StatusCode::UNPROCESSABLE_ENTITY);
//! # Ok(())
//! # }
//! ```
//!
//! [`Form`](crate::extract::Form) reads `application/x-www-form-urlencoded` bodies,
//! [`Multipart`](crate::extract::Multipart) `multipart/form-data` uploads (with per-part
//! limits), and `HeaderMap`, `Method`, `Uri`, `String` and `Vec<u8>` are extractors too.
//!
//! # 3. Async handlers
//!
//! A handler may be an `async fn` (or a closure returning an `async` block). While it waits
//! (on an outbound request through [`client::Client`](crate::client::Client), or a timer),
//! a WASI 0.3 instance goes on with its other requests.
//!
//! ```
//! use edge_toolkit::extract::Path;
//! use edge_toolkit::{Request, Router};
//!
//! async fn shout(Path(word): Path<String>) -> String {
//!     // An outbound call would be awaited here.
//!     word.to_uppercase()
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .get("/shout/{word}", shout)?
//!     .post("/echo", |req: Request| async move { req.into_body() })?;
//!
//! let res = router.handle(http::Request::get("/shout/hi").body(Vec::new()).expect("valid"));
//! assert_eq!(res.body().as_slice(), b"HI");
//! let res = router.handle(http::Request::post("/echo").body(b"back".to_vec()).expect("valid"));
//! assert_eq!(res.body().as_slice(), b"back");
//! # Ok(())
//! # }
//! ```
//!
//! # 4. Middleware
//!
//! [`Middleware`](crate::Middleware) wraps handlers in the onion model: it gets the request
//! and a [`Next`](crate::Next) for the rest of the chain, and may act before, after or
//! instead of it. [`Router::layer`](crate::Router::layer) wraps every request (the router's
//! own `404`s too); [`Router::route_with`](crate::Router::route_with) and
//! [`Router::group`](crate::Router::group) wrap some routes. [`from_fn`](crate::from_fn)
//! makes one from an `async` closure; the toolkit has request ids, access logs, CORS,
//! security headers, body limits, rate limits, compression and bearer authentication ready
//! made.
//!
//! ```
//! use edge_toolkit::middleware::{BodyLimit, RequestIdLayer, SecurityHeaders};
//! use edge_toolkit::{Next, Problem, Request, Router, from_fn};
//! use http::StatusCode;
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .layer(RequestIdLayer::new())
//!     .layer(SecurityHeaders::new())
//!     .layer(BodyLimit::new(1024))
//!     .group("/admin", |admin| {
//!         admin
//!             .layer(from_fn(async |req: Request, next: Next<'_>| {
//!                 if !req.headers().contains_key("x-admin") {
//!                     return Err(Problem::new(StatusCode::FORBIDDEN));
//!                 }
//!                 next.run(req).await
//!             }))
//!             .get("/stats", || "42 requests")
//!     })?;
//!
//! let res = router.handle(http::Request::get("/admin/stats").body(Vec::new()).expect("valid"));
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! // The global layers saw the problem too.
//! assert!(res.headers().contains_key("x-request-id"));
//! assert_eq!(res.headers()["x-content-type-options"], "nosniff");
//!
//! let req = http::Request::get("/admin/stats").header("x-admin", "1").body(Vec::new());
//! let res = router.handle(req.expect("valid"));
//! assert_eq!(res.body().as_slice(), b"42 requests");
//!
//! let big = http::Request::post("/admin/stats").body(vec![b'x'; 2048]).expect("valid");
//! assert_eq!(router.handle(big).status(), StatusCode::PAYLOAD_TOO_LARGE);
//! # Ok(())
//! # }
//! ```
//!
//! In the component, a body over the route's [`BodyLimit`](crate::middleware::BodyLimit)
//! is refused with `413` before it is read ([`Router::body_plan`](crate::Router::body_plan)).
//!
//! ## Rate limits per key
//!
//! [`RateLimit`](crate::middleware::RateLimit) limits requests per key the handler knows: an
//! API key, the subject of a verified JWT, a tenant. Each key has a token bucket in the
//! key-value store ([`kv`](crate::kv)), so every instance and replica sharing the store
//! shares the limit. A request past it gets `429` with `Retry-After`; every limited answer
//! carries the `RateLimit-Policy` and `RateLimit` fields, as the host's own limiter words
//! them. A request without a key is not limited, and a failing store lets requests pass.
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::middleware::RateLimit;
//! use edge_toolkit::{Request, Router};
//! use http::StatusCode;
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! // 10 requests a minute per API key, in bursts of up to 10.
//! let per_api_key = RateLimit::new("api-key", 10, Duration::from_secs(60))
//!     .with_key(|req: &Request| {
//!         req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
//!     })
//!     .with_store("tutorial-rate-limits"); // a label in spin.toml's key_value_stores
//! let router = Router::new().layer(per_api_key).get("/quote", || "buy low")?;
//!
//! let call = |key: &str| {
//!     let req = http::Request::get("/quote").header("x-api-key", key).body(Vec::new());
//!     router.handle(req.expect("valid"))
//! };
//! for _ in 0..10 {
//!     assert_eq!(call("key-1").status(), StatusCode::OK);
//! }
//! let res = call("key-1");
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["retry-after"], "6"); // a token every 6 s
//! assert_eq!(res.headers()["ratelimit-policy"], r#""api-key";q=10;w=60"#);
//! assert_eq!(res.headers()["ratelimit"], r#""api-key";r=0;t=60"#);
//!
//! // Another key has its own bucket.
//! assert_eq!(call("key-2").headers()["ratelimit"], r#""api-key";r=9;t=6"#);
//! # Ok(())
//! # }
//! ```
//!
//! Per route, put it in the route's [`Stack`](crate::Stack)
//! ([`Router::route_with`](crate::Router::route_with)) or a [`group`](crate::Router::group).
//!
//! # 5. Caching
//!
//! [`ConditionalRequests`](crate::cache::ConditionalRequests) gives responses an `ETag`
//! (from the body, unless the handler set one) and answers `If-None-Match` with `304` and
//! failed preconditions with `412` (RFC 9110 §13);
//! [`CacheControlLayer`](crate::cache::CacheControlLayer) sets a typed `Cache-Control`
//! (RFC 9111).
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
//! use edge_toolkit::{Router, Stack};
//! use http::{Method, StatusCode};
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let public = CacheControl::new().with_public().with_max_age(Duration::from_secs(60));
//! let router = Router::new()
//!     .layer(ConditionalRequests::new())
//!     .route_with(Method::GET, "/logo", || "an image", Stack::new().layer(CacheControlLayer::new(public)))?;
//!
//! let first = router.handle(http::Request::get("/logo").body(Vec::new()).expect("valid"));
//! assert_eq!(first.headers()["cache-control"], "public, max-age=60");
//! let etag = first.headers()["etag"].clone();
//!
//! let again = http::Request::get("/logo").header("if-none-match", etag).body(Vec::new());
//! let res = router.handle(again.expect("valid"));
//! assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
//! assert!(res.body().is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! ## Static files
//!
//! [`StaticFiles`](crate::files::StaticFiles) serves a directory: the file a route's
//! catch-all parameter names, with `ETag` and `Last-Modified`, `304`/`412` for conditional
//! requests, byte ranges (`206`, `416`), `Content-Type` by extension, and bodies read as
//! they are sent, 64 KiB at a time. In a component the directory is one the host
//! preopens. With Spin, it is the component's `files` in spin.toml:
//!
//! ```toml
//! [component.my-app]
//! source = "target/wasm32-wasip2/release/my_app.wasm"
//! files = [{ source = "static", destination = "/static" }]
//! ```
//!
//! and with `edge-host serve`, the flag `--dir static::/static` (the host directory, then
//! where the component sees it). The route is the same either way:
//!
//! ```
//! use edge_toolkit::Router;
//! use edge_toolkit::files::StaticFiles;
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new().get("/static/{*path}", StaticFiles::new("/static"))?;
//!
//! // However the path is spelled, nothing outside the directory is reached.
//! let res = router.handle(http::Request::get("/static/%2e%2e/etc/passwd").body(Vec::new()).expect("valid"));
//! assert_eq!(res.status(), http::StatusCode::BAD_REQUEST);
//! # Ok(())
//! # }
//! ```
//!
//! [`files`](crate::files) has an example over a real directory and the whole table of
//! answers.
//!
//! # 6. State and the platform
//!
//! [`Router::with_state`](crate::Router::with_state) gives every request a value, read with
//! the [`State`](crate::extract::State) extractor (wrap what is large or shared in an
//! `Arc`). The platform modules reach the host: [`kv`](crate::kv) (Spin's key-value
//! store; an in-memory one natively), [`config`](crate::config) (Spin's variables;
//! `SPIN_VARIABLE_<NAME>` natively) and [`client`](crate::client) (outbound HTTP with
//! timeouts and retries). Their errors become problems with the right status through `?`.
//!
//! ```
//! use std::sync::Arc;
//! use edge_toolkit::extract::{Path, State};
//! use edge_toolkit::{Problem, Router, kv};
//! use http::StatusCode;
//!
//! struct Settings {
//!     prefix: String,
//! }
//!
//! fn save(
//!     State(settings): State<Arc<Settings>>,
//!     Path(key): Path<String>,
//!     body: Vec<u8>,
//! ) -> Result<StatusCode, Problem> {
//!     kv::Store::open_default()?.set(&format!("{}{key}", settings.prefix), &body)?;
//!     Ok(StatusCode::NO_CONTENT)
//! }
//!
//! fn load(
//!     State(settings): State<Arc<Settings>>,
//!     Path(key): Path<String>,
//! ) -> Result<Vec<u8>, Problem> {
//!     kv::Store::open_default()?
//!         .get(&format!("{}{key}", settings.prefix))?
//!         .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND).with_detail(format!("no `{key}`")))
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new()
//!     .with_state(Arc::new(Settings { prefix: "tour:".to_owned() }))
//!     .put("/kv/{key}", save)?
//!     .get("/kv/{key}", load)?;
//!
//! let put = http::Request::put("/kv/greeting").body(b"hello".to_vec()).expect("valid");
//! assert_eq!(router.handle(put).status(), StatusCode::NO_CONTENT);
//! let res = router.handle(http::Request::get("/kv/greeting").body(Vec::new()).expect("valid"));
//! assert_eq!(res.body().as_slice(), b"hello");
//! let res = router.handle(http::Request::get("/kv/other").body(Vec::new()).expect("valid"));
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # Ok(())
//! # }
//! ```
//!
//! # 7. The component
//!
//! The crate is a `cdylib` (the component) and an `rlib` (for native tests). One file,
//! compiled for `wasm32` alone, exports the handler and hands each request to the glue,
//! which reads it (within the route's body limit), awaits the router and writes the
//! response, streamed bodies included. For WASI 0.2 (`wasi:http/incoming-handler@0.2`,
//! through spin-sdk):
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
//! For WASI 0.3 (`wasi:http/handler@0.3`, through `wasip3`, with this crate's `wasi-p3`
//! feature), where one instance serves several requests at once:
//!
//! ```ignore
//! struct Component;
//!
//! impl wasip3::exports::http::handler::Guest for Component {
//!     async fn handle(
//!         req: wasip3::http::types::Request,
//!     ) -> Result<wasip3::http::types::Response, wasip3::http::types::ErrorCode> {
//!         edge_toolkit::component::p3::serve_limited(req, my_app::body_plan, my_app::serve).await
//!     }
//! }
//!
//! wasip3::http::service::export!(Component);
//! ```
//!
//! where `my_app::serve` is `async fn serve(req: Request) -> Response` awaiting
//! [`Router::serve`](crate::Router::serve) and `my_app::body_plan` is the router's
//! [`Router::body_plan`](crate::Router::body_plan): the route's body limit, and whether its
//! handler reads the body itself as it streams in, an [`Upload`](crate::body::Upload):
//!
//! ```
//! use edge_toolkit::body::Upload;
//! use edge_toolkit::{Problem, Router};
//!
//! async fn count(mut upload: Upload) -> Result<String, Problem> {
//!     let mut bytes = 0;
//!     while let Some(chunk) = upload.chunk().await {
//!         bytes += chunk?.len(); // a `413` past the route's limit ends the loop
//!     }
//!     Ok(format!("{bytes} bytes"))
//! }
//!
//! # fn main() -> Result<(), edge_toolkit::RouteError> {
//! let router = Router::new().post("/upload", count)?;
//! let head = http::Request::post("/upload").body(()).expect("valid").into_parts().0;
//! assert!(router.body_plan(&head).streamed);
//! # Ok(())
//! # }
//! ```
//!
//! # 8. Testing
//!
//! Unit tests drive the router natively, as every example above does. To test the
//! component itself, through a real host, the `edge-host` crate (a dev-dependency) has a
//! harness: it builds the component, loads it with its spin.toml (variables, an in-memory
//! key-value store, outbound rules) and sends requests over a socket:
//!
//! ```ignore
//! use edge_host::Harness;
//!
//! #[tokio::test]
//! async fn greets() -> anyhow::Result<()> {
//!     let app = Harness::manifest("spin.toml")
//!         .build_first()
//!         .variable("greeting", "Howdy")
//!         .load()?;
//!     let res = app.get("/hello/Ada").await?;
//!     res.assert_status(200).assert_header("content-type", "application/json");
//!     assert_eq!(res.json::<serde_json::Value>()?["message"], "Howdy, Ada!");
//!     Ok(())
//! }
//! ```
//!
//! The generated project's `tests/http.rs` is such a test; the host's README has the
//! harness's whole API.
//!
//! # 9. Running and deploying
//!
//! | Where | How |
//! | --- | --- |
//! | locally | `edge-host up --build` (or `--watch`, which rebuilds and swaps on changes), or `spin up` |
//! | any wasi-http host | `wasmtime serve target/wasm32-wasip2/release/my_app.wasm` (a component built without `spin-platform` imports nothing but WASI) |
//! | Fermyon / Akamai | `spin deploy`, with the same spin.toml |
//! | Kubernetes | SpinKube: `spin registry push`, then a `SpinApp` naming the image |
//!
//! Variables come from spin.toml's `[variables]` (and, under `edge-host up`, from
//! `SPIN_VARIABLE_<NAME>`); a secret such as a JWT key is set in the environment, never
//! in the manifest.
