//! Body wrappers: request bodies counted against the limit as they arrive, and response
//! bodies counted for the access log.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::RequestBodyError;

/// A request body that fails once more than `limit` bytes have arrived, and says so through
/// a shared flag, so the host can answer 413 whatever the guest made of the error.
#[derive(Debug)]
pub(crate) struct LimitedBody<B> {
    inner: B,
    remaining: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl<B> LimitedBody<B> {
    pub(crate) fn new(inner: B, limit: u64) -> (Self, Arc<AtomicBool>) {
        let exceeded = Arc::new(AtomicBool::new(false));
        let body = Self {
            inner,
            remaining: limit,
            limit,
            exceeded: exceeded.clone(),
        };
        (body, exceeded)
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<RequestBodyError>,
{
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.exceeded.store(true, Ordering::Release);
                        this.remaining = 0;
                        return Poll::Ready(Some(Err(RequestBodyError::TooLarge {
                            limit: this.limit,
                        })));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that counts the bytes it yields and calls `on_done` with the count once,
/// when it ends or is dropped (a client that went away, a guest that failed mid-stream).
pub(crate) struct CountedBody<B, F: FnOnce(u64, bool)> {
    inner: B,
    bytes: u64,
    on_done: Option<F>,
}

impl<B, F: FnOnce(u64, bool)> CountedBody<B, F> {
    pub(crate) fn new(inner: B, on_done: F) -> Self {
        Self {
            inner,
            bytes: 0,
            on_done: Some(on_done),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(on_done) = self.on_done.take() {
            on_done(self.bytes, complete);
        }
    }
}

impl<B, F: FnOnce(u64, bool)> Drop for CountedBody<B, F> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl<B, F> Body for CountedBody<B, F>
where
    B: Body<Data = Bytes> + Unpin,
    F: FnOnce(u64, bool) + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn limited_body_passes_bodies_up_to_the_limit() {
        let (body, exceeded) = LimitedBody::new(Full::new(Bytes::from_static(b"12345")), 5);
        let bytes = body.collect().await.expect("within the limit").to_bytes();
        assert_eq!(bytes.as_ref(), b"12345");
        assert!(!exceeded.load(Ordering::Acquire));
    }

    #[tokio::test]
    async fn counted_body_reports_bytes_once() {
        let (tx, rx) = std::sync::mpsc::channel();
        let body = CountedBody::new(Full::new(Bytes::from_static(b"hello")), move |n, done| {
            tx.send((n, done)).expect("receiver alive");
        });
        let bytes = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(bytes.len(), 5);
        assert_eq!(rx.recv().expect("reported"), (5, true));
        assert!(rx.try_recv().is_err(), "reported exactly once");
    }
}
