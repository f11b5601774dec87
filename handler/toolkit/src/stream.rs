//! Streaming response bodies: chunks sent one by one after the buffered body.
//!
//! The body type of a [`Response`] stays `Vec<u8>`; a handler that streams attaches a
//! [`BodyStream`] to the response's extensions. The component sends the buffered body first
//! (usually empty), then each chunk of the stream as it is produced, flushing after each one.
//! Natively, [`collect_body`] gives the whole body.
//!
//! ```
//! use edge_toolkit::stream::{BodyStream, collect_body, streaming_response};
//! use http::{HeaderMap, StatusCode, header};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
//! let chunks = (1..=3).map(|n| format!("line {n}\n").into_bytes());
//! let res = streaming_response(StatusCode::OK, headers, chunks);
//!
//! assert!(BodyStream::is_streaming(&res));
//! assert!(res.body().is_empty());
//! assert_eq!(collect_body(res), b"line 1\nline 2\nline 3\n");
//! ```
//!
//! Middleware that needs the whole body (compression, ETags from the body) leaves streaming
//! responses alone; `HEAD` drops the stream along with the body.

use std::fmt;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, StatusCode};

use crate::Response;

/// The chunks of a streamed body, produced lazily.
pub type Chunks = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// A streamed body in a response's extensions, taken once by whoever sends the response.
///
/// Extensions must be `Clone + Sync`; clones share the one stream, and the first
/// [`BodyStream::take`] gets it.
///
/// ```
/// use edge_toolkit::stream::BodyStream;
///
/// let mut res = edge_toolkit::Response::new(b"head;".to_vec());
/// BodyStream::new(vec![b"a".to_vec(), b"b".to_vec()].into_iter()).attach(&mut res);
/// let chunks: Vec<Vec<u8>> = BodyStream::take_from(&mut res).unwrap().collect();
/// assert_eq!(chunks, [b"a".to_vec(), b"b".to_vec()]);
/// assert!(BodyStream::take_from(&mut res).is_none());
/// ```
#[derive(Clone)]
pub struct BodyStream {
    chunks: Arc<Mutex<Option<Chunks>>>,
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream").finish_non_exhaustive()
    }
}

impl BodyStream {
    /// A stream of `chunks`.
    pub fn new(chunks: impl Iterator<Item = Vec<u8>> + Send + 'static) -> Self {
        Self {
            chunks: Arc::new(Mutex::new(Some(Box::new(chunks)))),
        }
    }

    /// Attaches the stream to `res`, to be sent after its buffered body.
    pub fn attach(self, res: &mut Response) {
        res.extensions_mut().insert(self);
    }

    /// Whether `res` has a stream attached (taken or not).
    pub fn is_streaming(res: &Response) -> bool {
        res.extensions().get::<BodyStream>().is_some()
    }

    /// Removes the stream from `res` and gives its chunks, if it had one not yet taken.
    pub fn take_from(res: &mut Response) -> Option<Chunks> {
        res.extensions_mut()
            .remove::<BodyStream>()
            .and_then(|stream| stream.take())
    }

    /// The chunks, the first time this (or a clone) is asked.
    pub fn take(&self) -> Option<Chunks> {
        self.chunks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// A response with `status` and `headers`, an empty buffered body, and `chunks` streamed.
///
/// ```
/// let res = edge_toolkit::stream::streaming_response(
///     http::StatusCode::OK,
///     http::HeaderMap::new(),
///     std::iter::once(b"hi".to_vec()),
/// );
/// assert_eq!(res.status(), 200);
/// assert_eq!(edge_toolkit::stream::collect_body(res), b"hi");
/// ```
pub fn streaming_response(
    status: StatusCode,
    headers: HeaderMap,
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> Response {
    let mut res = Response::new(Vec::new());
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    BodyStream::new(chunks).attach(&mut res);
    res
}

/// The whole body of `res`: the buffered body, then every chunk of its stream (for tests
/// and for hosts that cannot stream).
///
/// ```
/// let res = edge_toolkit::Response::new(b"plain".to_vec());
/// assert_eq!(edge_toolkit::stream::collect_body(res), b"plain");
/// ```
pub fn collect_body(mut res: Response) -> Vec<u8> {
    let stream = BodyStream::take_from(&mut res);
    let mut body = res.into_body();
    if let Some(chunks) = stream {
        for chunk in chunks {
            body.extend_from_slice(&chunk);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_body_comes_first_and_clones_share_the_stream() {
        let mut res = Response::new(b"0".to_vec());
        let stream = BodyStream::new((1..=2).map(|n| n.to_string().into_bytes()));
        let clone = stream.clone();
        stream.attach(&mut res);
        assert!(BodyStream::is_streaming(&res));
        assert_eq!(collect_body(res), b"012");
        // The clone shares the stream, which is gone now.
        assert!(clone.take().is_none());
        assert!(format!("{clone:?}").starts_with("BodyStream"));
    }

    #[test]
    fn a_cloned_response_part_keeps_the_stream() {
        let res = streaming_response(StatusCode::ACCEPTED, HeaderMap::new(), std::iter::empty());
        let (parts, _) = res.into_parts();
        let copy = parts.extensions.clone();
        assert!(copy.get::<BodyStream>().is_some());
        assert_eq!(parts.status, StatusCode::ACCEPTED);
    }
}
