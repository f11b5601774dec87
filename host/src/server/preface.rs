//! RFC 9113 §3.4: a connection that is to speak HTTP/2 (ALPN `h2`, or a cleartext one that
//! starts as the HTTP/2 preface does) but sends an invalid connection preface gets the
//! server's preface (an empty `SETTINGS`) and a `GOAWAY` with `PROTOCOL_ERROR` before it is
//! closed, not a bare close. Anything else is passed on to protocol detection with the
//! bytes read so far put back in front.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// What every HTTP/2 client sends first.
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The request line of the preface: a cleartext connection that starts with it means
/// HTTP/2 (no HTTP/1.1 request has that method and version).
const PREFACE_LINE: &[u8] = b"PRI * HTTP/2.0";

/// An empty `SETTINGS` frame, then `GOAWAY(last-stream-id 0, PROTOCOL_ERROR)`.
pub(super) const GOAWAY_PROTOCOL_ERROR: [u8; 26] = [
    0, 0, 0, 0x4, 0, 0, 0, 0, 0, // SETTINGS, empty, stream 0
    0, 0, 8, 0x7, 0, 0, 0, 0, 0, // GOAWAY, 8 bytes, stream 0
    0, 0, 0, 0, // last stream id
    0, 0, 0, 1, // PROTOCOL_ERROR
];

/// What the first bytes of a connection are.
pub(super) enum Start {
    /// Not (or a valid) HTTP/2 preface: serve it; these bytes come first.
    Serve(Vec<u8>),
    /// An invalid HTTP/2 preface: answered with a `GOAWAY` and closed.
    InvalidPreface,
    /// The client closed before sending anything that tells.
    Closed,
}

/// Reads no more than it takes to tell: as long as what came so far could still be the
/// preface, and only as far as its 24 bytes. `h2` says the connection negotiated HTTP/2.
pub(super) async fn read_start<R: AsyncRead + Unpin>(io: &mut R, h2: bool) -> io::Result<Start> {
    let mut buf = Vec::with_capacity(PREFACE.len());
    while buf.len() < PREFACE.len() && PREFACE.starts_with(&buf) {
        let mut chunk = [0_u8; 24];
        let want = PREFACE.len() - buf.len();
        let n = io.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Ok(if buf.is_empty() {
                Start::Closed
            } else if h2 || buf.starts_with(PREFACE_LINE) {
                Start::InvalidPreface
            } else {
                Start::Serve(buf)
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.as_slice() == PREFACE.as_slice() {
        return Ok(Start::Serve(buf));
    }
    if h2 || buf.starts_with(PREFACE_LINE) {
        Ok(Start::InvalidPreface)
    } else {
        Ok(Start::Serve(buf))
    }
}

/// Tells an HTTP/2 client its preface was invalid, and closes the connection.
pub(super) async fn refuse<W: AsyncWrite + Unpin>(io: &mut W) {
    let _ = io.write_all(&GOAWAY_PROTOCOL_ERROR).await;
    let _ = io.flush().await;
    let _ = io.shutdown().await;
}

/// `inner`, with `first` read before it.
pub(super) struct Rewind<T> {
    first: Vec<u8>,
    at: usize,
    inner: T,
}

impl<T> Rewind<T> {
    pub(super) fn new(first: Vec<u8>, inner: T) -> Self {
        Self {
            first,
            at: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.first.len() {
            let n = buf.remaining().min(self.first.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.first[at..at + n]);
            self.at += n;
            if self.at == self.first.len() {
                self.first = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(bytes: &[u8], h2: bool) -> Start {
        let mut io = bytes;
        read_start(&mut io, h2).await.expect("read")
    }

    #[tokio::test]
    async fn only_an_invalid_http2_preface_is_refused() {
        // HTTP/1.1 requests, even short ones, pass with their bytes.
        for request in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"G",
            b"PUT /x HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            match start(request, false).await {
                Start::Serve(first) => assert!(request.starts_with(&first), "{first:?}"),
                _ => panic!("{request:?} is served"),
            }
        }
        assert!(matches!(start(PREFACE, false).await, Start::Serve(b) if b == PREFACE));
        assert!(matches!(start(PREFACE, true).await, Start::Serve(_)));
        // The preface line, then something else.
        assert!(matches!(
            start(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", false).await,
            Start::InvalidPreface
        ));
        // After ALPN h2, anything but the preface.
        assert!(matches!(
            start(b"GET / HTTP/1.1\r\n\r\n", true).await,
            Start::InvalidPreface
        ));
        assert!(matches!(start(b"", false).await, Start::Closed));
    }

    #[tokio::test]
    async fn rewind_gives_the_first_bytes_back() {
        let mut io = Rewind::new(b"GET ".to_vec(), &b"/ HTTP/1.1\r\n"[..]);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, b"GET / HTTP/1.1\r\n");
    }
}
