//! The component's transport: WASI 0.2 outgoing HTTP (`wasi:http/outgoing-handler`), with a
//! real per-attempt timeout.
//!
//! The timeout is enforced twice. The request options carry it as the connect, first-byte
//! and between-bytes timeouts, so the host gives up on its side; and every wait (for the
//! request body to drain, for the response, for each chunk of its body) polls the operation
//! together with one `wasi:clocks/monotonic-clock` timer for the whole attempt
//! (`wasi:io/poll`), so an upstream that accepts the connection and then says nothing, or
//! trickles its body, is a [`ClientError::Timeout`] when the attempt's time is up whatever
//! the host does with the options.

use std::time::Duration;

use ::wasi::clocks::monotonic_clock;
use ::wasi::http::outgoing_handler;
use ::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use ::wasi::io::error::Error as IoError;
use ::wasi::io::poll::{self, Pollable};
use ::wasi::io::streams::StreamError;

use super::{ClientError, Transport, TransportFuture};

/// The largest response body read: a bigger one is a [`ClientError::Transport`].
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// How much of the response body one read asks for.
const READ_CHUNK: u64 = 64 * 1024;
/// Request header fields not sent: hop-by-hop fields, which the host forbids, and
/// `Content-Length`, which is set from the body.
const NOT_FORWARDED: [&str; 11] = [
    "connection",
    "content-length",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Sends requests through the host's `wasi:http/outgoing-handler`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiTransport;

impl Transport for WasiTransport {
    /// Blocks the instance until the attempt ends (WASI 0.2 has one request per instance),
    /// then answers a ready future.
    fn send<'a>(
        &'a self,
        request: &'a http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        Box::pin(std::future::ready(send_blocking(request, timeout)))
    }
}

/// One attempt, through `wasi:http/outgoing-handler` and `wasi:io/poll`.
fn send_blocking(
    request: &http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, ClientError> {
    {
        let deadline = Deadline::new(timeout);
        let outgoing = outgoing_request(request)?;
        let body = outgoing.body().map_err(|()| {
            ClientError::InvalidRequest("the request body was already taken".to_owned())
        })?;
        let future = outgoing_handler::handle(outgoing, Some(request_options(timeout)))
            .map_err(|code| from_error_code(&code, timeout))?;
        // When the body cannot be written, the response future says why: the host refused
        // the request (denied, circuit open) or the upstream answered early.
        let written = write_body(body, request.body(), &deadline);
        let response = match (written, await_response(&future, &deadline)) {
            (_, Ok(response)) => response,
            (Err(write), Err(ClientError::Timeout(_))) => return Err(write),
            (_, Err(err)) => return Err(err),
        };
        read_response(response, &deadline)
    }
}

/// The end of one attempt: a timer pollable, checked at every wait.
struct Deadline {
    timer: Pollable,
    timeout: Duration,
}

impl Deadline {
    fn new(timeout: Duration) -> Self {
        Self {
            timer: monotonic_clock::subscribe_duration(nanos(timeout)),
            timeout,
        }
    }

    fn timed_out(&self) -> ClientError {
        ClientError::Timeout(self.timeout)
    }

    /// `Err(Timeout)` once the attempt's time is up.
    fn check(&self) -> Result<(), ClientError> {
        if self.timer.ready() {
            Err(self.timed_out())
        } else {
            Ok(())
        }
    }

    /// Blocks until `pollable` is ready, or fails when the attempt's time is up first.
    fn wait(&self, pollable: &Pollable) -> Result<(), ClientError> {
        let ready = poll::poll(&[pollable, &self.timer]);
        if ready.contains(&0) {
            Ok(())
        } else {
            Err(self.timed_out())
        }
    }
}

/// A duration as WASI's nanoseconds, saturating.
pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn request_options(timeout: Duration) -> RequestOptions {
    let options = RequestOptions::new();
    let timeout = Some(nanos(timeout));
    // A host that does not support one of these says so with an error; the deadline still
    // bounds the attempt.
    let _ = options.set_connect_timeout(timeout);
    let _ = options.set_first_byte_timeout(timeout);
    let _ = options.set_between_bytes_timeout(timeout);
    options
}

fn method_of(method: &http::Method) -> Method {
    match method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// The scheme and authority of `request`'s URI, which must be absolute.
pub(super) fn target_of(
    request: &http::Request<Vec<u8>>,
) -> Result<(&str, &http::uri::Authority), ClientError> {
    let uri = request.uri();
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| ClientError::InvalidRequest(format!("{uri} is not an absolute URI")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| ClientError::InvalidRequest(format!("{uri} has no authority")))?;
    Ok((scheme, authority))
}

/// The header fields sent with `request`: its own but [`NOT_FORWARDED`], and a
/// `Content-Length` of its body when it has one or its method expects one.
pub(super) fn sent_fields(request: &http::Request<Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = request
        .headers()
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let body_expected = matches!(
        *request.method(),
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    );
    if body_expected || !request.body().is_empty() {
        entries.push((
            "content-length".to_owned(),
            request.body().len().to_string().into_bytes(),
        ));
    }
    entries
}

fn outgoing_request(request: &http::Request<Vec<u8>>) -> Result<OutgoingRequest, ClientError> {
    let invalid = |detail: String| ClientError::InvalidRequest(detail);
    let uri = request.uri();
    let (scheme, authority) = target_of(request)?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());

    let entries = sent_fields(request);
    let fields = Fields::from_list(&entries).map_err(|err| {
        invalid(format!(
            "the host refused the request's header fields: {err:?}"
        ))
    })?;

    let outgoing = OutgoingRequest::new(fields);
    outgoing
        .set_method(&method_of(request.method()))
        .map_err(|()| invalid(format!("the method {} is refused", request.method())))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid(format!("the scheme of {uri} is refused")))?;
    outgoing
        .set_authority(Some(authority.as_str()))
        .map_err(|()| invalid(format!("the authority {authority} is refused")))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| invalid(format!("the path {path} is refused")))?;
    Ok(outgoing)
}

/// Writes `bytes` as the request body, within the deadline, and finishes it.
fn write_body(body: OutgoingBody, bytes: &[u8], deadline: &Deadline) -> Result<(), ClientError> {
    if !bytes.is_empty() {
        // The stream is a child of the body: it must be gone before the body is finished.
        let stream = body.write().map_err(|()| {
            ClientError::InvalidRequest("the request body stream was already taken".to_owned())
        })?;
        let pollable = stream.subscribe();
        let stream_error = |err| from_stream_error(err, deadline.timeout);
        let mut rest = bytes;
        while !rest.is_empty() {
            deadline.check()?;
            let permitted = stream.check_write().map_err(stream_error)?;
            if permitted == 0 {
                deadline.wait(&pollable)?;
                continue;
            }
            let len = usize::try_from(permitted)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            let (chunk, tail) = rest.split_at(len);
            stream.write(chunk).map_err(stream_error)?;
            rest = tail;
        }
        stream.flush().map_err(stream_error)?;
        // check-write answers 0 until the flush has completed.
        while stream.check_write().map_err(stream_error)? == 0 {
            deadline.wait(&pollable)?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|code| from_error_code(&code, deadline.timeout))
}

fn await_response(
    future: &FutureIncomingResponse,
    deadline: &Deadline,
) -> Result<IncomingResponse, ClientError> {
    let pollable = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(from_error_code(&code, deadline.timeout)),
            Some(Err(())) => {
                return Err(ClientError::Transport(
                    "the response was already taken".to_owned(),
                ));
            }
            None => deadline.wait(&pollable)?,
        }
    }
}

fn read_response(
    response: IncomingResponse,
    deadline: &Deadline,
) -> Result<http::Response<Vec<u8>>, ClientError> {
    let mut res = http::Response::new(Vec::new());
    *res.status_mut() = http::StatusCode::from_u16(response.status()).map_err(|_| {
        ClientError::Transport(format!(
            "the upstream answered the invalid status {}",
            response.status()
        ))
    })?;
    {
        let fields = response.headers();
        for (name, value) in fields.entries() {
            // Fields the host let through are valid HTTP; skip any that `http` disagrees with.
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(&value),
            ) {
                res.headers_mut().append(name, value);
            }
        }
    }
    let body = response
        .consume()
        .map_err(|()| ClientError::Transport("the response body was already taken".to_owned()))?;
    *res.body_mut() = read_body(&body, deadline)?;
    // Trailers are not waited for.
    drop(IncomingBody::finish(body));
    Ok(res)
}

fn read_body(body: &IncomingBody, deadline: &Deadline) -> Result<Vec<u8>, ClientError> {
    let stream = body
        .stream()
        .map_err(|()| ClientError::Transport("the response body was already taken".to_owned()))?;
    let pollable = stream.subscribe();
    let mut bytes = Vec::new();
    loop {
        deadline.check()?;
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => deadline.wait(&pollable)?,
            Ok(chunk) => {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(ClientError::Transport(format!(
                        "the response body is larger than {MAX_RESPONSE_BODY} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(from_io_error(&err, deadline.timeout));
            }
        }
    }
}

fn from_stream_error(err: StreamError, timeout: Duration) -> ClientError {
    match err {
        StreamError::Closed => ClientError::Transport(
            "the connection closed while the request body was sent".to_owned(),
        ),
        StreamError::LastOperationFailed(err) => from_io_error(&err, timeout),
    }
}

fn from_io_error(err: &IoError, timeout: Duration) -> ClientError {
    match http_error_code(err) {
        Some(code) => from_error_code(&code, timeout),
        None => ClientError::Transport(err.to_debug_string()),
    }
}

/// The [`ClientError`] for a wasi-http `error-code`.
/// A `wasi:http` error code (of WASI 0.2's bindings or 0.3's, whose variants are the same) as
/// a [`ClientError`]: `$E` names the `ErrorCode` type in scope.
macro_rules! client_error_of {
    ($E:ident, $code:expr, $timeout:expr) => {{
        let code = $code;
        let timeout = $timeout;
        // `ErrorCode::ConnectionRefused` → `ConnectionRefused`.
        let text = format!("{code:?}");
        let text = text
            .strip_prefix("ErrorCode::")
            .map_or_else(|| text.clone(), str::to_owned);
        match code {
            $E::DnsTimeout
            | $E::ConnectionTimeout
            | $E::ConnectionReadTimeout
            | $E::ConnectionWriteTimeout
            | $E::HttpResponseTimeout => ClientError::Timeout(timeout),
            $E::HttpRequestDenied | $E::DestinationIpProhibited => ClientError::Denied(text),
            $E::InternalError(message) => ClientError::from_internal_error(message.clone()),
            $E::DnsError(_)
            | $E::DestinationNotFound
            | $E::DestinationUnavailable
            | $E::DestinationIpUnroutable
            | $E::ConnectionRefused
            | $E::ConnectionLimitReached
            | $E::TlsProtocolError
            | $E::TlsCertificateError
            | $E::TlsAlertReceived(_) => ClientError::Connect(text),
            $E::HttpRequestLengthRequired
            | $E::HttpRequestBodySize(_)
            | $E::HttpRequestMethodInvalid
            | $E::HttpRequestUriInvalid
            | $E::HttpRequestUriTooLong
            | $E::HttpRequestHeaderSectionSize(_)
            | $E::HttpRequestHeaderSize(_)
            | $E::HttpRequestTrailerSectionSize(_)
            | $E::HttpRequestTrailerSize(_)
            | $E::ConfigurationError => ClientError::InvalidRequest(text),
            // The connection broke or the upstream's response was unusable.
            $E::ConnectionTerminated
            | $E::HttpResponseIncomplete
            | $E::HttpResponseHeaderSectionSize(_)
            | $E::HttpResponseHeaderSize(_)
            | $E::HttpResponseBodySize(_)
            | $E::HttpResponseTrailerSectionSize(_)
            | $E::HttpResponseTrailerSize(_)
            | $E::HttpResponseTransferCoding(_)
            | $E::HttpResponseContentCoding(_)
            | $E::HttpUpgradeFailed
            | $E::HttpProtocolError
            | $E::LoopDetected => ClientError::Transport(text),
        }
    }};
}
#[cfg(feature = "wasi-p3")]
pub(super) use client_error_of;

fn from_error_code(code: &ErrorCode, timeout: Duration) -> ClientError {
    client_error_of!(ErrorCode, code, timeout)
}
