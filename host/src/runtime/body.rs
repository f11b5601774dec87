//! Bodies between the guest and the server: request-body errors as the `wasi:http` error
//! codes the guest sees, and response bodies that end in an error when the guest failed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::{BoxError, RequestBodyError};

impl From<RequestBodyError> for wasmtime_wasi_http::Error {
    fn from(err: RequestBodyError) -> Self {
        match err {
            RequestBodyError::TooLarge { limit } => Self::HttpRequestBodySize(Some(limit)),
            RequestBodyError::TooSlow { .. } => Self::ConnectionReadTimeout,
            RequestBodyError::Client(err) => err.into(),
        }
    }
}

/// A guest's response body that ends with an error, not a clean end, when the guest failed
/// before finishing it (a trap or the deadline mid-stream). Without this, a killed guest's
/// body would end as if complete and the client would take a truncated response for whole.
pub(super) struct FaultAwareBody<B> {
    inner: B,
    fault: Arc<std::sync::OnceLock<crate::RequestError>>,
    /// Held until the body is done with (the server's in-flight permit, where the guest task
    /// does not hold it).
    _guard: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl<B> FaultAwareBody<B> {
    pub(super) fn new(inner: B, fault: Arc<std::sync::OnceLock<crate::RequestError>>) -> Self {
        Self {
            inner,
            fault,
            _guard: None,
        }
    }

    /// Holds `guard` until the body is dropped.
    pub(super) fn with_guard(
        mut self,
        guard: Option<Arc<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        self._guard = guard;
        self
    }
}

impl<B> Body for FaultAwareBody<B>
where
    B: Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) if self.fault.get().is_some() => Poll::Ready(Some(Err(Box::new(
                wasmtime_wasi_http::Error::HttpResponseIncomplete,
            )))),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Box::new(err)))),
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Never claim the end early: the fault check happens when the inner body ends.
        false
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use http_body_util::{BodyExt, StreamBody};

    use super::*;
    use crate::server::LimitedBody;

    /// The guest sees a body over the server's limit as `HTTP-request-body-size`.
    #[tokio::test]
    async fn limited_body_fails_and_flags_past_the_limit() {
        let chunks = ["abc", "def"].map(|c| {
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(c.as_bytes())))
        });
        let stream = StreamBody::new(futures::stream::iter(chunks));
        let (body, exceeded) = LimitedBody::new(stream, 4);
        let err: wasmtime_wasi_http::Error =
            body.collect().await.expect_err("over the limit").into();
        assert!(matches!(
            err,
            wasmtime_wasi_http::Error::HttpRequestBodySize(Some(4))
        ));
        assert!(exceeded.load(Ordering::Acquire));
    }
}
