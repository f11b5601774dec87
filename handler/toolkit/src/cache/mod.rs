//! HTTP caching: the `Cache-Control`, `ETag`, `Vary` and `HTTP-date` header types, and
//! middleware for conditional requests and cache directives.
//!
//! | Item | What it does | Spec |
//! | --- | --- | --- |
//! | [`CacheControl`] | typed `Cache-Control` builder and parser | RFC 9111 §5.2, RFC 5861, RFC 8246 |
//! | [`CacheControlLayer`] | sets `Cache-Control` on `2xx` responses | |
//! | [`ETag`] | entity tags, strong and weak comparison, body digests | RFC 9110 §8.8.3 |
//! | [`HttpDate`] | parses all three `HTTP-date` formats, writes IMF-fixdate | RFC 9110 §5.6.7 |
//! | [`ConditionalRequests`], [`evaluate`], [`evaluate_variants`] | `304` / `412` from `If-*` preconditions | RFC 9110 §13 |
//! | [`add_vary`] | adds a field to `Vary` without duplicates | RFC 9110 §12.5.5 |

mod cache_control;
mod cache_control_layer;
mod conditional;
mod etag;
mod http_date;
mod vary;

pub use cache_control::{CacheControl, InvalidCacheControl, MaxStale};
pub use cache_control_layer::CacheControlLayer;
pub(crate) use conditional::Preconditioned;
pub use conditional::{
    ConditionalRequests, Outcome, evaluate, evaluate_variants, not_modified, precondition_failed,
};
pub use etag::{ETag, InvalidETag};
pub use http_date::{HttpDate, InvalidHttpDate};
pub use vary::add_vary;
