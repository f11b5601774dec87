//! Body wrappers: request bodies counted against the limit as they arrive, and response
//! bodies counted for the access log.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

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

/// The slowest a request body may arrive: `grace` of waiting for the client, then one more
/// second per `bytes_per_sec` bytes received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinRate {
    pub(crate) bytes_per_sec: u64,
    pub(crate) grace: Duration,
}

/// A request body that fails once the client has kept it waiting longer than its bytes pay
/// for ([`MinRate`]): a body that trickles (slowloris on the body) is cut off, and says so
/// through a shared flag, so the host answers 408. Only time spent waiting on the client
/// counts, not time the guest takes before asking for more.
pub(crate) struct PacedBody<B> {
    inner: B,
    rate: MinRate,
    received: u64,
    /// Time spent waiting on the client so far, not counting the current wait.
    waited: Duration,
    /// Since when the current wait has lasted.
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    too_slow: Arc<AtomicBool>,
}

impl<B> PacedBody<B> {
    pub(crate) fn new(inner: B, rate: MinRate) -> (Self, Arc<AtomicBool>) {
        let too_slow = Arc::new(AtomicBool::new(false));
        let body = Self {
            inner,
            rate,
            received: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
            too_slow: too_slow.clone(),
        };
        (body, too_slow)
    }

    /// How long the client may have kept the body waiting, in all, for what it has sent.
    fn allowance(&self) -> Duration {
        let paid = Duration::from_secs_f64(self.received as f64 / self.rate.bytes_per_sec as f64);
        self.rate.grace.saturating_add(paid)
    }
}

impl<B> Body for PacedBody<B>
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
        if this.rate.bytes_per_sec == 0 {
            return Pin::new(&mut this.inner)
                .poll_frame(cx)
                .map(|frame| frame.map(|f| f.map_err(Into::into)));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if !polled.is_pending() {
            if let Some(since) = this.waiting_since.take() {
                this.waited += since.elapsed();
            }
            this.timer = None;
        }
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let since = *this.waiting_since.get_or_insert_with(Instant::now);
                let left = this.allowance().saturating_sub(this.waited);
                let deadline = since + left;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    this.too_slow.store(true, Ordering::Release);
                    this.timer = None;
                    return Poll::Ready(Some(Err(RequestBodyError::TooSlow {
                        bytes_per_sec: this.rate.bytes_per_sec,
                    })));
                }
                Poll::Pending
            }
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

    /// A body fed by hand: `(delay, bytes)` chunks, then its end.
    fn trickle(
        chunks: Vec<(u64, &'static [u8])>,
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        use futures::StreamExt;
        let stream = futures::stream::iter(chunks).then(|(delay, bytes)| async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            Ok(Frame::data(Bytes::from_static(bytes)))
        });
        http_body_util::StreamBody::new(Box::pin(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn paced_body_cuts_a_trickle_and_passes_a_slow_steady_body() {
        let rate = MinRate {
            bytes_per_sec: 1024,
            grace: Duration::from_secs(1),
        };
        // 2 KiB, then 2 KiB after 2 s: within 1 s + 2 s of allowance.
        let steady = trickle(vec![(0, &[b'a'; 2048]), (2000, &[b'b'; 2048])]);
        let (body, too_slow) = PacedBody::new(steady, rate);
        let bytes = body.collect().await.expect("fast enough").to_bytes();
        assert_eq!(bytes.len(), 4096);
        assert!(!too_slow.load(Ordering::Acquire));

        // A byte every 900 ms: the grace and what the bytes pay for run out.
        let slow = trickle((0..20).map(|_| (900, &b"x"[..])).collect());
        let (body, too_slow) = PacedBody::new(slow, rate);
        let started = Instant::now();
        let err = body.collect().await.expect_err("too slow");
        assert!(
            matches!(
                err,
                RequestBodyError::TooSlow {
                    bytes_per_sec: 1024
                }
            ),
            "{err}"
        );
        assert!(too_slow.load(Ordering::Acquire));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn paced_body_does_not_count_the_readers_own_pauses() {
        let rate = MinRate {
            bytes_per_sec: 1024,
            grace: Duration::from_millis(500),
        };
        let (mut body, too_slow) = PacedBody::new(Full::new(Bytes::from_static(b"x")), rate);
        // The guest takes 10 s before it reads: nothing is waiting on the client meanwhile.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let frame = body.frame().await.expect("a frame").expect("in time");
        assert_eq!(frame.into_data().expect("data").as_ref(), b"x");
        assert!(!too_slow.load(Ordering::Acquire));
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
