//! Request bodies streamed to the handler rather than read before it: [`Upload`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, StreamExt};
use http::StatusCode;

use crate::body::BodyReader;
use crate::extract::FromRequest;
use crate::{Problem, Request};

/// The chunks of a streamed request body, in order: the bytes as they arrived, or the
/// problem reading stopped at (`413` past the route's limit, `400` when the body broke off),
/// after which there are no more.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Problem>>>>;

/// How the component glue reads a request's body, decided from its head before any of it
/// is read: at most `limit` bytes (`413` past it), and either buffered whole before the
/// handler runs, or `streamed` to it as an [`Upload`]. [`Router::body_plan`] answers it for
/// the route a request is for; an `Option<u64>` is the plan of a buffered body with that
/// limit.
///
/// [`Router::body_plan`]: crate::Router::body_plan
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyPlan {
    /// The most bytes the body may have.
    pub limit: Option<u64>,
    /// Whether the handler reads the body itself, as an [`Upload`].
    pub streamed: bool,
}

impl From<Option<u64>> for BodyPlan {
    fn from(limit: Option<u64>) -> Self {
        Self {
            limit,
            streamed: false,
        }
    }
}

thread_local! {
    /// Bodies waiting for their handler, by request. A component has one thread; on a WASI
    /// 0.3 instance the requests it serves at once each have an entry here.
    static PENDING: RefCell<HashMap<u64, Chunks>> = RefCell::new(HashMap::new());
}

static NEXT_BODY: AtomicU64 = AtomicU64::new(0);

/// In a request's extensions: its body waits in [`PENDING`] (a stream of host resources
/// can be neither cloned nor sent, as extensions must).
#[derive(Debug, Clone, Copy)]
struct PendingBody(u64);

/// Gives `req` the streamed body `chunks`, for an [`Upload`] to take. The body is dropped
/// with the guard, whether or not the handler took it.
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "the component glue and the tests attach bodies")
)]
pub(crate) fn attach(req: &mut Request, chunks: Chunks) -> Attached {
    let id = NEXT_BODY.fetch_add(1, Ordering::Relaxed);
    PENDING.with(|pending| pending.borrow_mut().insert(id, chunks));
    req.extensions_mut().insert(PendingBody(id));
    Attached(id)
}

/// `chunks` held to `reader`'s limit (`413` once the bytes read go over it), a chunk that
/// failed to arrive described by `describe` as a `400`; nothing after the first problem.
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "the component glue and the tests meter bodies")
)]
pub(crate) fn metered<S, E>(chunks: S, reader: BodyReader, describe: fn(E) -> String) -> Chunks
where
    S: Stream<Item = Result<Vec<u8>, E>> + 'static,
    E: 'static,
{
    // After a problem nothing more is read (not even one more chunk from a client that
    // stalls); fused, so that a handler asking again after the end gets `None` again rather
    // than a panic (which would fail the instance, with its other requests).
    let state = (Box::pin(chunks), reader, false);
    let metered =
        futures::stream::unfold(state, move |(mut chunks, mut reader, failed)| async move {
            if failed {
                return None;
            }
            let item = match chunks.next().await? {
                Ok(chunk) => reader.count(&chunk).map(|()| chunk),
                Err(err) => Err(Problem::new(StatusCode::BAD_REQUEST).with_detail(format!(
                    "reading the request body failed: {}",
                    describe(err)
                ))),
            };
            let failed = item.is_err();
            Some((item, (chunks, reader, failed)))
        });
    Box::pin(metered.fuse())
}

/// Takes away the streamed body `req` carries, if any: for a request made from another
/// (a precondition probe), which must not read the original's body.
pub(crate) fn detach(req: &mut Request) {
    req.extensions_mut().remove::<PendingBody>();
}

/// Drops a body its handler left unread ([`attach`]).
#[derive(Debug)]
pub(crate) struct Attached(u64);

impl Drop for Attached {
    fn drop(&mut self) {
        let left = PENDING.with(|pending| pending.borrow_mut().remove(&self.0));
        drop(left);
    }
}

/// The request body, read by the handler chunk by chunk as it arrives: an extractor, the
/// last argument of an `async` handler. A route whose handler takes one has its body
/// streamed by the component glue instead of buffered (see [`BodyPlan`]); the route's body
/// limit still holds, as a `413` chunk once the bytes go over it.
///
/// ```
/// use edge_toolkit::body::Upload;
/// use edge_toolkit::{Problem, Router};
///
/// async fn count(mut upload: Upload) -> Result<String, Problem> {
///     let mut bytes = 0;
///     while let Some(chunk) = upload.chunk().await {
///         bytes += chunk?.len();
///     }
///     Ok(format!("{bytes} bytes"))
/// }
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let router = Router::new().post("/upload", count)?;
/// let head = http::Request::post("/upload").body(()).unwrap().into_parts().0;
/// assert!(router.body_plan(&head).streamed);
///
/// // Natively (and from a host that gave the body whole) it is one chunk.
/// let req = http::Request::post("/upload").body(vec![7; 1000]).unwrap();
/// assert_eq!(router.handle(req).body().as_slice(), b"1000 bytes");
/// # Ok(())
/// # }
/// ```
pub struct Upload {
    chunks: Chunks,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload").finish_non_exhaustive()
    }
}

impl Upload {
    /// An upload of `chunks`, for tests of handlers that take one.
    pub fn from_chunks(chunks: impl Stream<Item = Result<Vec<u8>, Problem>> + 'static) -> Self {
        Self {
            chunks: Box::pin(chunks.fuse()),
        }
    }

    /// The next chunk, once it has arrived; `None` at the end of the body (and after it).
    pub async fn chunk(&mut self) -> Option<Result<Vec<u8>, Problem>> {
        self.chunks.next().await
    }

    /// The chunks, as a stream.
    pub fn into_chunks(self) -> Chunks {
        self.chunks
    }
}

impl FromRequest for Upload {
    const STREAMS: bool = true;

    fn from_request(mut req: Request) -> Result<Self, Problem> {
        if let Some(PendingBody(id)) = req.extensions_mut().remove::<PendingBody>() {
            return PENDING
                .with(|pending| pending.borrow_mut().remove(&id))
                .map(|chunks| Self { chunks })
                .ok_or_else(|| {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                        .with_detail("the request body was taken already")
                });
        }
        // A body read whole (natively, or by a host or a glue that buffered it).
        let body = req.into_body();
        Ok(Self::from_chunks(futures::stream::iter(
            (!body.is_empty()).then_some(Ok(body)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RouteError, Router};

    async fn sizes(mut upload: Upload) -> Result<String, Problem> {
        let mut sizes = Vec::new();
        while let Some(chunk) = upload.chunk().await {
            sizes.push(chunk?.len().to_string());
        }
        Ok(sizes.join(","))
    }

    fn post(path: &str) -> Request {
        http::Request::post(path)
            .body(Vec::new())
            .expect("valid request")
    }

    #[test]
    fn a_route_taking_an_upload_is_streamed_and_others_are_buffered() -> Result<(), RouteError> {
        let router = Router::new()
            .layer(crate::middleware::BodyLimit::new(100))
            .post("/up", sizes)?
            .post("/buffered", |body: Vec<u8>| body)?;
        let head = |path: &str| post(path).map(|_| ()).into_parts().0;
        assert_eq!(
            router.body_plan(&head("/up")),
            BodyPlan {
                limit: Some(100),
                streamed: true
            }
        );
        assert_eq!(router.body_plan(&head("/buffered")), Some(100).into());
        assert!(!router.body_plan(&head("/nowhere")).streamed);
        Ok(())
    }

    #[test]
    fn an_attached_body_reaches_the_handler_chunk_by_chunk() -> Result<(), RouteError> {
        let router = Router::new().post("/up", sizes)?;
        let mut req = post("/up");
        let chunks = futures::stream::iter([Ok(vec![1; 3]), Ok(vec![2; 5])]);
        let attached = attach(&mut req, Box::pin(chunks));
        assert_eq!(router.handle(req).body().as_slice(), b"3,5");
        drop(attached);

        // A problem in the stream (the limit, say) ends the handler with it.
        let mut req = post("/up");
        let too_large = Problem::new(StatusCode::PAYLOAD_TOO_LARGE);
        let chunks = futures::stream::iter([Ok(vec![1; 3]), Err(too_large)]);
        let _attached = attach(&mut req, Box::pin(chunks));
        assert_eq!(router.handle(req).status(), StatusCode::PAYLOAD_TOO_LARGE);
        Ok(())
    }

    #[test]
    fn an_unread_body_is_dropped_with_its_guard() {
        let mut req = post("/");
        let attached = attach(&mut req, Box::pin(futures::stream::empty()));
        let Some(PendingBody(id)) = req.extensions().get::<PendingBody>().copied() else {
            panic!("the request has a pending body");
        };
        assert!(PENDING.with(|p| p.borrow().contains_key(&id)));
        drop(attached);
        assert!(!PENDING.with(|p| p.borrow().contains_key(&id)));
        // Taken after its guard went: a 500, not a panic.
        let err = Upload::from_request(req).expect_err("gone");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_metered_body_stops_at_its_limit_or_its_first_failure() {
        let collect = |chunks: Chunks| {
            crate::blocking::block_on(chunks.collect::<Vec<_>>())
                .into_iter()
                .map(|chunk| chunk.map(|bytes| bytes.len()).map_err(|p| p.status()))
                .collect::<Vec<_>>()
        };
        let reader = || BodyReader::new(&http::HeaderMap::new(), Some(10)).expect("no length");
        let source = futures::stream::iter([Ok(vec![0; 6]), Ok(vec![0; 6]), Ok(vec![0; 1])]);
        assert_eq!(
            collect(metered(source, reader(), |e: &str| e.to_owned())),
            [Ok(6), Err(StatusCode::PAYLOAD_TOO_LARGE)]
        );
        let source = futures::stream::iter([Ok(vec![0; 2]), Err("reset"), Ok(vec![0; 1])]);
        assert_eq!(
            collect(metered(source, reader(), |e: &str| e.to_owned())),
            [Ok(2), Err(StatusCode::BAD_REQUEST)]
        );
    }

    #[test]
    fn an_upload_asked_again_after_its_end_or_its_problem_stays_ended() {
        let reader = || BodyReader::new(&http::HeaderMap::new(), Some(4)).expect("no length");
        let ended = |source: Vec<Result<Vec<u8>, &'static str>>| {
            let mut upload = Upload {
                chunks: metered(futures::stream::iter(source), reader(), |e: &str| {
                    e.to_owned()
                }),
            };
            crate::blocking::block_on(async {
                while upload.chunk().await.is_some() {}
                (
                    upload.chunk().await.is_none(),
                    upload.chunk().await.is_none(),
                )
            })
        };
        assert_eq!(ended(vec![Ok(vec![1])]), (true, true));
        assert_eq!(ended(vec![Ok(vec![1; 9]), Ok(vec![1])]), (true, true));
    }

    #[test]
    fn a_probe_made_from_a_request_does_not_carry_its_body() {
        let mut req = post("/");
        let _attached = attach(&mut req, Box::pin(futures::stream::empty()));
        let mut probe = http::Request::new(Vec::new());
        *probe.extensions_mut() = req.extensions().clone();
        detach(&mut probe);
        assert!(probe.extensions().get::<PendingBody>().is_none());
        assert!(req.extensions().get::<PendingBody>().is_some());
    }
}
