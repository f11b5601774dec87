//! The component glue: serves a handler through spin-sdk's streaming
//! `wasi:http/incoming-handler@0.2` signature ([`serve`]), or as `wasi:http/handler@0.3`
//! with the `wasi-p3` feature ([`p3::serve`]). Compiled for `wasm32` alone. (The platform modules
//! [`kv`](crate::kv), [`config`](crate::config) and [`client`](crate::client) hold the other
//! host calls.)
//!
//! A crate's own component exports the handler with spin-sdk's `#[http_component]` and
//! hands each request to [`serve`]:
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
//! The request is read into an [`http::Request<Vec<u8>>`](crate::Request) (its body whole,
//! or, for a route that streams it, left to the handler's [`Upload`](crate::body::Upload)),
//! the handler (an `async fn(Request) -> Response`, such as one awaiting
//! [`Router::serve`](crate::Router::serve)) answers it, and the response is written
//! through the `ResponseOutparam`: status and
//! headers, the buffered body, then each chunk of a [`BodyStream`], flushed as it comes, so
//! server-sent events reach the client one by one. Dropping the body sink finishes the body.

#[cfg(feature = "wasi-p3")]
pub mod p3;

use std::future::Future;

use futures::{SinkExt, StreamExt};
use http::StatusCode;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam, Scheme};

use crate::body::{Attached, BodyPlan, BodyReader, attach, metered};
use crate::stream::BodyStream;
use crate::{Problem, Request, Response};

/// Answers one request with `handler`: reads it ([`read_request`]; a request that cannot be
/// read is answered with its `400` problem, not passed on), then sends what `handler`
/// returns ([`write_response`]).
pub async fn serve<F, Fut>(req: IncomingRequest, out: ResponseOutparam, handler: F)
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    serve_limited(req, out, |_| BodyPlan::default(), handler).await;
}

/// [`serve`], reading the body as `plan` says for the request's head: a router's
/// [`Router::body_plan`](crate::Router::body_plan) (or [`Router::max_body`](crate::Router::max_body),
/// an `Option<u64>`, for a body always buffered). A body over the limit is answered `413` as
/// soon as its `Content-Length` or the bytes read show it, before it is buffered whole, and
/// `handler` is not called; a streamed body reaches the handler unread, as an
/// [`Upload`](crate::body::Upload), the limit still held.
pub async fn serve_limited<L, P, F, Fut>(
    req: IncomingRequest,
    out: ResponseOutparam,
    plan: L,
    handler: F,
) where
    L: FnOnce(&http::request::Parts) -> P,
    P: Into<BodyPlan>,
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let res = match read_planned(req, plan).await {
        Ok((req, attached)) => {
            let res = handler(req).await;
            drop(attached);
            res
        }
        Err(problem) => problem.into_response(),
    };
    write_response(res, out).await;
}

/// The incoming request as an `http::Request`, its body read whole; a `400` problem when its
/// method, target or body cannot be read.
pub async fn read_request(req: IncomingRequest) -> Result<Request, Problem> {
    read_request_limited(req, |_| None).await
}

/// [`read_request`], reading the body chunk by chunk within the limit `max_body` gives for
/// the request's head: `413` as soon as it is exceeded.
pub async fn read_request_limited<L>(req: IncomingRequest, max_body: L) -> Result<Request, Problem>
where
    L: FnOnce(&http::request::Parts) -> Option<u64>,
{
    // A plan that never streams: no body is attached.
    read_planned(req, max_body).await.map(|(req, _)| req)
}

/// The request, its body read as `plan` says: buffered, or attached unread (with the guard
/// that drops it).
async fn read_planned<L, P>(
    req: IncomingRequest,
    plan: L,
) -> Result<(Request, Option<Attached>), Problem>
where
    L: FnOnce(&http::request::Parts) -> P,
    P: Into<BodyPlan>,
{
    let parts = read_head(&req)?;
    let plan = plan(&parts).into();
    let mut reader = BodyReader::new(&parts.headers, plan.limit)?;
    if plan.streamed {
        let chunks = metered(req.into_body_stream(), reader, |err| format!("{err:?}"));
        let mut req = Request::from_parts(parts, Vec::new());
        let attached = attach(&mut req, chunks);
        return Ok((req, Some(attached)));
    }
    let mut chunks = req.into_body_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| {
            Problem::new(StatusCode::BAD_REQUEST)
                .with_detail(format!("reading the request body failed: {err:?}"))
        })?;
        reader.push(&chunk)?;
    }
    Ok((Request::from_parts(parts, reader.finish()), None))
}

/// The method, target and header fields of `req`; a `400` problem when one cannot be read.
fn read_head(req: &IncomingRequest) -> Result<http::request::Parts, Problem> {
    let bad_request = |detail: String| Problem::new(StatusCode::BAD_REQUEST).with_detail(detail);
    let method = req.method().to_string();
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| bad_request(format!("the method {method:?} is not a token")))?;
    let path = req.path_with_query().unwrap_or_else(|| "/".to_owned());
    let scheme = req.scheme().map(|scheme| match scheme {
        Scheme::Http => "http".to_owned(),
        Scheme::Https => "https".to_owned(),
        Scheme::Other(other) => other,
    });
    // An absolute URI when the host gives scheme and authority, as spin-sdk's own conversion
    // does; the path alone otherwise, or when they do not make a valid URI.
    let uri = match (scheme, req.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}")
            .parse::<http::Uri>()
            .ok(),
        _ => None,
    };
    let uri = match uri {
        Some(uri) => uri,
        None => path
            .parse::<http::Uri>()
            .map_err(|err| bad_request(format!("the request target {path:?} is invalid: {err}")))?,
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let (parts, ()) = builder
        .body(())
        .map_err(|err| bad_request(format!("the request is invalid: {err}")))?
        .into_parts();
    Ok(parts)
}

/// The header fields of `res` as wasi-http fields; a response the host refuses them for
/// (a forbidden header, say) becomes a 500 problem.
fn fields_of(res: Response) -> (Response, Fields) {
    let list: Vec<(String, Vec<u8>)> = res
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    match Fields::from_list(&list) {
        Ok(fields) => (res, fields),
        Err(err) => {
            let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail(format!("the response headers were refused: {err:?}"))
                .into_response();
            let fields = Fields::from_list(&[(
                "content-type".to_owned(),
                crate::problem::PROBLEM_JSON.as_bytes().to_vec(),
            )])
            .expect("content-type with a media type is an allowed header");
            (problem, fields)
        }
    }
}

/// Sends `res` through `out`: status and headers (headers the host refuses make it a `500`
/// problem), the buffered body, then the chunks of its [`BodyStream`], if any.
pub async fn write_response(mut res: Response, out: ResponseOutparam) {
    crate::drop_undeliverable_length(&mut res);
    // After `fields_of`: a response replaced by a 500 problem has no stream to send.
    let (mut res, fields) = fields_of(res);
    let stream = BodyStream::take_from(&mut res);
    let (parts, body) = res.into_parts();
    let response = OutgoingResponse::new(fields);
    // Every StatusCode is in 100..=999, which wasi-http accepts.
    let _ = response.set_status_code(parts.status.as_u16());
    let mut sink = response.take_body();
    out.set(response);
    if !body.is_empty() && sink.send(body).await.is_err() {
        // The client went away; there is no one left to tell.
        return;
    }
    for chunk in stream.into_iter().flatten() {
        if chunk.is_empty() {
            continue;
        }
        if sink.send(chunk).await.is_err() {
            return;
        }
    }
}
