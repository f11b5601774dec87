//! Middleware: code that runs around handlers, in the onion model of [`Middleware`] and
//! [`Next`], and the built-in layers.
//!
//! | Middleware | What it does |
//! | --- | --- |
//! | [`from_fn`] | a middleware from a closure `\|req, next\| ...` |
//! | [`Stack`] | an ordered list of middleware (first added = outermost) around a handler |
//! | [`RequestIdLayer`] | keeps or generates `x-request-id`, stores a [`RequestId`] |
//! | [`AccessLog`] | one JSON line per request on stderr (or a sink of your own) |
//! | [`Cors`] | CORS preflights and response headers |
//! | [`SecurityHeaders`] | HSTS (over https), `nosniff`, CSP `frame-ancestors`, `Referrer-Policy` |
//! | [`BodyLimit`] | `413` for request bodies over a size limit |
//! | [`RateLimit`] | `429` past a token bucket per key (an API key, a user), kept in the key-value store |
//! | [`Compression`] | gzip / br response bodies by `Accept-Encoding` |
//! | [`auth::JwtAuth`], [`auth::StaticTokens`] | bearer authentication: HS256 JWTs or a fixed token set |
//!
//! Caching middleware lives in [`crate::cache`].
//!
//! Naming: a middleware is named for what it does (`Cors`, `BodyLimit`); when that name is
//! taken by the value it handles, it gets a `Layer` suffix (`RequestIdLayer` stores a
//! `RequestId`, [`CacheControlLayer`](crate::cache::CacheControlLayer) sets a
//! [`CacheControl`](crate::cache::CacheControl)).

mod access_log;
pub mod auth;
pub(crate) mod body_limit;
pub(crate) mod chain;
mod compression;
mod cors;
mod rate_limit;
mod request_id;
mod security_headers;

pub use access_log::AccessLog;
pub use body_limit::BodyLimit;
pub use chain::{FromFn, Layered, Middleware, Next, Stack, from_fn};
pub(crate) use compression::is_compressed_media_type;
pub use compression::{Compression, ContentCoding, choose_content_coding};
pub use cors::Cors;
pub use rate_limit::{RATELIMIT, RATELIMIT_POLICY, RateLimit};
pub use request_id::{RequestId, RequestIdLayer, X_REQUEST_ID};
pub use security_headers::SecurityHeaders;
