//! What a connection is doing: requests in flight (for the idle timeout), and responses
//! waiting for a client that takes no bytes (for the send timeout).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests in flight on one connection, since when it has had none, and which of its
/// responses wait for the client to take bytes.
#[derive(Debug)]
pub(super) struct Activity {
    active: AtomicUsize,
    seen: AtomicBool,
    idle_since: Mutex<Instant>,
    /// Per response that has bytes ready the server has not asked for again: since when,
    /// and how many bytes the connection had written then.
    waiting: Mutex<HashMap<u64, (Instant, u64)>>,
    next_response: AtomicU64,
    /// Bytes written to the transport so far.
    written: AtomicU64,
    /// Requests the client abandoned before their response head: since when they are
    /// counted, and how many.
    abandoned: Mutex<(Instant, u32)>,
    /// Woken once the client abandons more than [`MAX_ABANDONED`] requests in a window.
    pub(super) abandoning: tokio::sync::Notify,
}

/// How many requests a client may abandon (an HTTP/2 `RST_STREAM`, or a closed connection)
/// before their response head within [`ABANDON_WINDOW`] before the connection is sent
/// `GOAWAY`: every abandoned request has started a guest for nothing, which is the
/// "rapid reset" attack (CVE-2023-44487) once streams are accepted. A browser cancels a
/// few streams when the user navigates away; this is far beyond that.
pub(super) const MAX_ABANDONED: u32 = 200;
/// The window [`MAX_ABANDONED`] counts in.
pub(super) const ABANDON_WINDOW: Duration = Duration::from_secs(10);

impl Default for Activity {
    fn default() -> Self {
        Self {
            active: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            waiting: Mutex::new(HashMap::new()),
            next_response: AtomicU64::new(0),
            written: AtomicU64::new(0),
            abandoned: Mutex::new((Instant::now(), 0)),
            abandoning: tokio::sync::Notify::new(),
        }
    }
}

/// One request in flight on a connection; dropping it (the response done, or the request
/// abandoned by the client) ends it.
pub(super) struct Active(pub(super) Arc<Activity>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl Activity {
    pub(super) fn start(self: &Arc<Self>) -> Active {
        self.seen.store(true, Ordering::Release);
        self.active.fetch_add(1, Ordering::AcqRel);
        Active(self.clone())
    }

    fn finish(&self) {
        let mut since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        *since = Instant::now();
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Counts a request the client abandoned before its response head; past
    /// [`MAX_ABANDONED`] in [`ABANDON_WINDOW`], wakes [`Activity::abandoning`].
    pub(super) fn abandoned(&self) {
        let mut abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        let (since, count) = &mut *abandoned;
        if since.elapsed() >= ABANDON_WINDOW {
            *since = Instant::now();
            *count = 0;
        }
        *count = count.saturating_add(1);
        if *count == MAX_ABANDONED + 1 {
            self.abandoning.notify_one();
        }
    }

    /// Whether a request has arrived on the connection.
    pub(super) fn seen_any(&self) -> bool {
        self.seen.load(Ordering::Acquire)
    }

    /// How long a response has waited with the transport making no progress: no more than
    /// a few bytes written (HTTP/2 pings, say) since. A client that reads slowly but steadily
    /// moves the clock forward; one that takes nothing does not.
    pub(super) fn stalled_for(&self) -> Option<Duration> {
        /// Less than this written means no progress.
        const PROGRESS: u64 = 1024;
        let written = self.written.load(Ordering::Relaxed);
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for (since, at) in waiting.values_mut() {
            if written.saturating_sub(*at) >= PROGRESS {
                *since = Instant::now();
                *at = written;
            }
        }
        waiting.values().map(|(since, _)| since.elapsed()).max()
    }

    /// A new response body to watch; it is waiting for the transport until first polled.
    pub(super) fn watch(self: &Arc<Self>) -> Watched {
        let id = self.next_response.fetch_add(1, Ordering::Relaxed);
        self.set_waiting(id, true);
        Watched {
            activity: self.clone(),
            id,
        }
    }

    /// How long the connection has had no request in flight, or `None` while it has one.
    pub(super) fn idle_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        Some(since.elapsed())
    }

    fn set_waiting(&self, id: u64, waiting: bool) {
        let mut map = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting {
            let written = self.written.load(Ordering::Relaxed);
            map.insert(id, (Instant::now(), written));
        } else {
            map.remove(&id);
        }
    }
}

/// The connection's transport, counting the bytes written for [`Activity::stalled_for`].
pub(super) struct Counting<T> {
    pub(super) inner: T,
    pub(super) written: Arc<Activity>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            this.written.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            this.written.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One response body under watch (see [`Activity::stalled_for`]).
pub(super) struct Watched {
    activity: Arc<Activity>,
    id: u64,
}

impl Watched {
    /// The server asked for the body's next frame: whatever it had was taken.
    fn polled(&self) {
        self.activity.set_waiting(self.id, false);
    }

    /// The body gave a frame: until the server asks again, the transport holds it up.
    fn gave_frame(&self) {
        self.activity.set_waiting(self.id, true);
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.activity.set_waiting(self.id, false);
    }
}

/// A response body that reports to its connection's [`Activity`] when the server takes
/// frames from it.
pub(super) struct WatchedBody<B> {
    pub(super) inner: B,
    pub(super) watched: Watched,
}

impl<B: http_body::Body + Unpin> http_body::Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        this.watched.polled();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(_))) = &polled {
            this.watched.gave_frame();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_stalls_only_while_the_transport_makes_no_progress() {
        let activity = Arc::new(Activity::default());
        assert_eq!(activity.stalled_for(), None);
        let watched = activity.watch();
        std::thread::sleep(Duration::from_millis(60));
        // A ping or two is no progress.
        activity.written.fetch_add(100, Ordering::Relaxed);
        assert!(activity.stalled_for() >= Some(Duration::from_millis(50)));
        // A slow reader taking bytes moves the clock forward.
        activity.written.fetch_add(4096, Ordering::Relaxed);
        assert!(activity.stalled_for() < Some(Duration::from_millis(50)));
        // Asked for its next frame: not waiting at all.
        watched.polled();
        assert_eq!(activity.stalled_for(), None);
        watched.gave_frame();
        assert!(activity.stalled_for().is_some());
        drop(watched);
        assert_eq!(activity.stalled_for(), None);
    }
}
