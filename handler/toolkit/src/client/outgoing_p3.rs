//! The transport of WASI 0.3 components: `wasi:http/client@0.3`, awaited, so that while one
//! request waits for its upstream the instance's other requests go on.
//!
//! As on WASI 0.2, the timeout is enforced twice: the request options carry it as the
//! connect, first-byte and between-bytes timeouts (where the host accepts them), and the
//! whole attempt, body included, races one `wasi:clocks/monotonic-clock` wait, so a silent
//! or trickling upstream is a [`ClientError::Timeout`] whatever the host does with the
//! options.

use std::time::Duration;

use bytes::Bytes;
use futures::future::{self, Either};
use http_body_util::{BodyExt, Full};
use wasip3::clocks::monotonic_clock;
use wasip3::http::client;
use wasip3::http::types::{ErrorCode, RequestOptions};
use wasip3::http_compat::{
    RequestOptionsExtension, http_from_wasi_response, http_into_wasi_request,
};

use super::outgoing::{MAX_RESPONSE_BODY, client_error_of, nanos, sent_fields, target_of};
use super::{ClientError, SleepFuture, Sleeper, Transport, TransportFuture};

/// Sends requests through the host's `wasi:http/client@0.3`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiP3Transport;

impl Transport for WasiP3Transport {
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        Box::pin(async move {
            let attempt = std::pin::pin!(attempt(request, timeout));
            let timer = std::pin::pin!(monotonic_clock::wait_for(nanos(timeout)));
            match future::select(attempt, timer).await {
                Either::Left((result, _)) => result,
                Either::Right(((), _)) => Err(ClientError::Timeout(timeout)),
            }
        })
    }
}

/// Waits with `wasi:clocks/monotonic-clock`'s `wait-for`: the instance's other requests go on.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiSleeper;

impl Sleeper for WasiSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        Box::pin(monotonic_clock::wait_for(nanos(duration)))
    }
}

/// The request, sent; the response, read whole (at most [`MAX_RESPONSE_BODY`]).
async fn attempt(
    request: &http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, ClientError> {
    let code = |code: ErrorCode| client_error_of!(ErrorCode, &code, timeout);
    target_of(request)?;
    let mut builder = http::Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone());
    for (name, value) in sent_fields(request) {
        builder = builder.header(name, value);
    }
    let outgoing = builder
        .extension(RequestOptionsExtension(request_options(timeout)))
        .body(Full::new(Bytes::from(request.body().clone())))
        .map_err(|err| ClientError::InvalidRequest(err.to_string()))?;
    // What the host refuses here (a scheme, a header field) is the request's fault: not
    // retried, as on WASI 0.2.
    let outgoing = http_into_wasi_request(outgoing).map_err(|code| {
        ClientError::InvalidRequest(format!("the host refused the request: {code:?}"))
    })?;
    let response = client::send(outgoing).await.map_err(code)?;
    let response = http_from_wasi_response(response).map_err(code)?;
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(code)?.into_data() {
            if bytes.len() + data.len() > MAX_RESPONSE_BODY {
                return Err(ClientError::Transport(format!(
                    "the response body is larger than {MAX_RESPONSE_BODY} bytes"
                )));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(http::Response::from_parts(parts, bytes))
}

/// The attempt's timeout as the connect, first-byte and between-bytes timeouts; a host that
/// refuses one leaves it unset (the attempt's own timer still holds).
fn request_options(timeout: Duration) -> RequestOptions {
    let options = RequestOptions::new();
    let t = Some(nanos(timeout));
    let _ = options.set_connect_timeout(t);
    let _ = options.set_first_byte_timeout(t);
    let _ = options.set_between_bytes_timeout(t);
    options
}
