//! The component glue for WASI 0.3: serves a handler as `wasi:http/handler@0.3`, through
//! the `wasip3` crate's bindings. Compiled for `wasm32` with the `wasi-p3` feature.
//!
//! A crate's own component exports the handler with `wasip3`'s `export!` and hands each
//! request to [`serve`]:
//!
//! ```ignore
//! use wasip3::http::types::{ErrorCode, Request, Response};
//!
//! struct Component;
//!
//! impl wasip3::exports::http::handler::Guest for Component {
//!     async fn handle(req: Request) -> Result<Response, ErrorCode> {
//!         edge_toolkit::component::p3::serve(req, my_app::serve).await
//!     }
//! }
//!
//! wasip3::http::service::export!(Component);
//! ```
//!
//! The request is read into an [`http::Request<Vec<u8>>`](crate::Request) (its body whole,
//! or, for a route that streams it, left to the handler's [`Upload`](crate::body::Upload);
//! a request that cannot be read is answered with its `400` problem), the handler (an
//! `async fn(Request) -> Response`) answers it while the instance goes on with its other
//! requests, and the
//! response goes back with its buffered body and then each chunk of its [`BodyStream`],
//! written by a task of its own while the instance goes on with other requests.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use wasip3::http::types::{ErrorCode, Request as WasiRequest, Response as WasiResponse};
use wasip3::http_compat::{http_from_wasi_request, http_into_wasi_response};

use crate::body::{Attached, BodyPlan, BodyReader, attach, metered};
use crate::stream::{BodyStream, Chunks};
use crate::{Problem, Request, Response};

/// Answers one request with `handler`: reads it ([`read_request`]; a request that cannot be
/// read is answered with its `400` problem), then turns what `handler` returns into the
/// `wasi:http` response ([`into_response`]).
pub async fn serve<F, Fut>(req: WasiRequest, handler: F) -> Result<WasiResponse, ErrorCode>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    serve_limited(req, |_| BodyPlan::default(), handler).await
}

/// [`serve`], reading the body as `plan` says for the request's head: a router's
/// [`Router::body_plan`](crate::Router::body_plan) (or [`Router::max_body`](crate::Router::max_body),
/// an `Option<u64>`, for a body always buffered). A body over the limit is answered `413` as
/// soon as its `Content-Length` or the bytes read show it, before it is buffered whole, and
/// `handler` is not called; a streamed body reaches the handler unread, as an
/// [`Upload`](crate::body::Upload), the limit still held.
pub async fn serve_limited<L, P, F, Fut>(
    req: WasiRequest,
    plan: L,
    handler: F,
) -> Result<WasiResponse, ErrorCode>
where
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
    into_response(res)
}

/// The incoming request as an `http::Request`, its body read whole; a `400` problem when its
/// target or body cannot be read.
pub async fn read_request(req: WasiRequest) -> Result<Request, Problem> {
    read_request_limited(req, |_| None).await
}

/// [`read_request`], reading the body frame by frame within the limit `max_body` gives for
/// the request's head: `413` as soon as it is exceeded.
pub async fn read_request_limited<L>(req: WasiRequest, max_body: L) -> Result<Request, Problem>
where
    L: FnOnce(&http::request::Parts) -> Option<u64>,
{
    // A plan that never streams: no body is attached.
    read_planned(req, max_body).await.map(|(req, _)| req)
}

/// The request, its body read as `plan` says: buffered, or attached unread (with the guard
/// that drops it).
async fn read_planned<L, P>(
    req: WasiRequest,
    plan: L,
) -> Result<(Request, Option<Attached>), Problem>
where
    L: FnOnce(&http::request::Parts) -> P,
    P: Into<BodyPlan>,
{
    let bad_request = |detail: String| Problem::new(StatusCode::BAD_REQUEST).with_detail(detail);
    let req = http_from_wasi_request(req)
        .map_err(|code| bad_request(format!("the request cannot be read: {code:?}")))?;
    let (parts, mut body) = req.into_parts();
    let plan = plan(&parts).into();
    let mut reader = BodyReader::new(&parts.headers, plan.limit)?;
    if plan.streamed {
        let frames = futures::stream::unfold(body, |mut body| async move {
            loop {
                match body.frame().await? {
                    Ok(frame) => {
                        if let Ok(data) = frame.into_data() {
                            return Some((Ok(data.to_vec()), body));
                        }
                    }
                    Err(code) => return Some((Err(code), body)),
                }
            }
        });
        let chunks = metered(frames, reader, |code: ErrorCode| format!("{code:?}"));
        let mut req = Request::from_parts(parts, Vec::new());
        let attached = attach(&mut req, chunks);
        return Ok((req, Some(attached)));
    }
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|code| bad_request(format!("reading the request body failed: {code:?}")))?;
        if let Ok(data) = frame.into_data() {
            reader.push(&data)?;
        }
    }
    Ok((Request::from_parts(parts, reader.finish()), None))
}

/// `res` as a `wasi:http` response: its status and headers, the buffered body, then the
/// chunks of its [`BodyStream`], if any. Headers the host refuses give a `500` problem.
pub fn into_response(mut res: Response) -> Result<WasiResponse, ErrorCode> {
    crate::drop_undeliverable_length(&mut res);
    let stream = BodyStream::take_from(&mut res);
    let (parts, body) = res.into_parts();
    let res = http::Response::from_parts(parts, ChunkBody::new(body, stream));
    http_into_wasi_response(res).or_else(|code| {
        let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("the response was refused: {code:?}"))
            .into_response();
        let (parts, body) = problem.into_parts();
        http_into_wasi_response(http::Response::from_parts(
            parts,
            ChunkBody::new(body, None),
        ))
    })
}

/// A response body: the buffered part, then each chunk of the stream as it is produced.
struct ChunkBody {
    head: Option<Vec<u8>>,
    chunks: Option<Chunks>,
}

impl ChunkBody {
    fn new(head: Vec<u8>, chunks: Option<Chunks>) -> Self {
        Self {
            head: Some(head).filter(|head| !head.is_empty()),
            chunks,
        }
    }
}

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(head.into()))));
        }
        let next = self
            .chunks
            .as_mut()
            .and_then(|chunks| chunks.find(|chunk| !chunk.is_empty()));
        match next {
            Some(chunk) => Poll::Ready(Some(Ok(http_body::Frame::data(chunk.into())))),
            None => {
                self.chunks = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.chunks.is_none()
    }
}
