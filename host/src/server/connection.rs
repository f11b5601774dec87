//! One accepted connection: TLS, protocol detection (HTTP/1.1, HTTP/2 by ALPN or prior
//! knowledge), its timeouts, and each request's way to the handler and back: in-flight
//! slot, body limit, forwarding headers, problem+json for errors, the access-log line.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{HeaderValue, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_io_timeout::TimeoutStream;

use super::Shared;
use super::activity::{self, Active, Activity, Counting, WatchedBody};
use super::body::{CountedBody, LimitedBody, MinRate, PacedBody};
use super::preface::{self, Rewind, Start};
use super::problem;
use crate::trace::{Attribute, TraceContext};
use crate::{RequestContext, RequestError, ResponseBody, ServerLimits, StopSignal};

/// The response bytes one HTTP/2 stream may hold waiting for the client's flow-control
/// window: the default initial window, so a client that reads keeps the pipe full.
pub(super) const H2_MAX_SEND_BUFFER: usize = 64 * 1024;

pub(super) fn connection_builder(limits: &ServerLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(limits.h2_keep_alive)
        .keep_alive_timeout(limits.h2_keep_alive)
        // Each stream's response data waiting for the client's window: a client that
        // stops reading pins at most this per stream (h2's default is 400 KiB).
        .max_send_buf_size(H2_MAX_SEND_BUFFER)
        // Streams the client resets before they are accepted, and streams the server had
        // to reset for the client's errors, before a GOAWAY (h2's defaults, made explicit:
        // RUSTSEC-2023-0034, RUSTSEC-2024-0003). Streams reset after they are accepted are
        // counted by the connection (`activity::MAX_ABANDONED`).
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(1024);
    builder
}

/// The byte stream under HTTP: a TCP socket, or TLS over one.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// One accepted connection.
pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) builder: Arc<auto::Builder<TokioExecutor>>,
    pub(super) stop: watch::Receiver<bool>,
}

impl Connection {
    pub(super) async fn serve(
        self,
        stream: TcpStream,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let peer = self.peer;
        let timeout = self.shared.limits.header_read_timeout;
        let (mut io, h2): (Box<dyn Io>, bool) = match acceptor {
            None => (Box::new(stream), false),
            Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    (Box::new(tls), h2)
                }
                Ok(Err(err)) => {
                    tracing::debug!(client = %peer, "TLS handshake failed: {err}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client = %peer, "TLS handshake timed out");
                    return;
                }
            },
        };
        let first = match tokio::time::timeout(timeout, preface::read_start(&mut io, h2)).await {
            Ok(Ok(Start::Serve(first))) => first,
            Ok(Ok(Start::InvalidPreface)) => {
                tracing::debug!(client = %peer, "invalid HTTP/2 connection preface: GOAWAY");
                preface::refuse(&mut io).await;
                return;
            }
            Ok(Ok(Start::Closed)) | Ok(Err(_)) | Err(_) => return,
        };
        let io = Rewind::new(first, io);
        // A client that stops taking response bytes (a zero TCP or HTTP/2 window) makes a
        // write wait; past the send timeout the write fails and the connection ends, with
        // its requests and their in-flight slots.
        let activity = Arc::new(Activity::default());
        let mut io = TimeoutStream::new(Counting {
            inner: io,
            written: activity.clone(),
        });
        io.set_write_timeout(Some(self.shared.limits.send_timeout));
        let service = ConnService {
            shared: self.shared.clone(),
            peer,
            activity: activity.clone(),
        };
        let conn = self
            .builder
            .serve_connection(TokioIo::new(Box::pin(io)), service);
        tokio::pin!(conn);
        let mut stop = self.stop;
        let limits = &self.shared.limits;
        let mut closing = false;
        let result = loop {
            // Until its first request a connection gets the header-read timeout, whatever
            // the protocol (hyper's own header timer covers HTTP/1.1 requests only, not the
            // protocol detection, the HTTP/2 preface or silence after a TLS handshake).
            let limit = if activity.seen_any() {
                limits.idle_timeout
            } else {
                limits.header_read_timeout
            };
            let tick = limit.min(limits.send_timeout).min(Duration::from_secs(1));
            let idle_check = tokio::time::sleep(tick);
            tokio::select! {
                result = conn.as_mut() => break result,
                () = activity.abandoning.notified(), if !closing => {
                    tracing::info!(
                        client = %peer,
                        "closing a connection whose client abandoned more than {} requests in {:?} (rapid reset)",
                        activity::MAX_ABANDONED,
                        activity::ABANDON_WINDOW,
                    );
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                changed = stop.changed(), if !closing => {
                    // A send of `true` or the server going away: either way, wind down.
                    let _ = changed;
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = idle_check => {
                    if !closing && activity.idle_for().is_some_and(|idle| idle >= limit) {
                        tracing::debug!(client = %peer, "closing idle connection");
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    // A response that has bytes for the client but is not taken (a zero
                    // HTTP/2 window, a full TCP buffer) ends the connection, graceful or not.
                    if activity
                        .stalled_for()
                        .is_some_and(|stalled| stalled >= limits.send_timeout)
                    {
                        tracing::info!(client = %peer, "closing a connection whose client takes no response bytes");
                        break Ok(());
                    }
                }
            }
        };
        if let Err(err) = result {
            tracing::debug!(client = %peer, "connection ended with an error: {err}");
        }
    }
}

/// The hyper service of one connection.
#[derive(Clone)]
struct ConnService {
    shared: Arc<Shared>,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<http::Request<Incoming>> for ConnService {
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let active = this.activity.start();
            // Dropped unanswered when the client abandons the request (its stream reset, its
            // connection closed) before the response head.
            let abandon = Abandoned(Some(this.activity.clone()));
            let response = this.shared.respond(req, this.peer, active).await;
            abandon.answered();
            Ok(response)
        })
    }
}

/// Counts its request as abandoned unless [`Abandoned::answered`] first.
struct Abandoned(Option<Arc<Activity>>);

impl Abandoned {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(activity) = self.0.take() {
            activity.abandoned();
        }
    }
}

impl Shared {
    /// Answers one request and arranges its access-log line for when the body is done.
    async fn respond(
        self: Arc<Self>,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        active: Active,
    ) -> http::Response<ResponseBody> {
        let start = Instant::now();
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), ToString::to_string);
        let version = req.version();
        let route = self
            .handler
            .route(req.uri().path())
            .unwrap_or_else(|| "other".to_owned());
        // The request's server span: the guest sees it as the parent in `traceparent`.
        let trace = TraceContext::for_request(req.headers(), self.exporter.as_ref());
        let span = trace.server(format!("{method} {route}"));
        let mut req = req;
        req.extensions_mut().insert(trace);

        // Held while the guest works on the request (streaming included), released when it
        // returns or is stopped; how fast the client reads is the connection's business.
        // Rate limits first: a refused request takes no slot and runs no guest.
        let rate = match &self.rate {
            Some(limiter) => limiter.check(peer.ip(), req.uri().path()).await,
            None => Ok(None),
        };
        let response = match (rate, self.per_client.try_acquire(peer.ip())) {
            (Err(limited), _) => Err(RequestError::RateLimited {
                rule: limited.rule,
                retry_after: limited.retry_after,
                policy: limited.fields.policy,
                state: limited.fields.state,
            }),
            (Ok(_), None) => Err(RequestError::ClientBusy {
                limit: self.per_client.limit(),
            }),
            (Ok(fields), Some(client)) => match self.in_flight.clone().try_acquire_owned() {
                Ok(permit) => self
                    .dispatch(req, peer, request_id, (permit, client))
                    .await
                    .map(|mut res| {
                        if let Some(fields) = fields {
                            problem::rate_fields(res.headers_mut(), &fields.policy, &fields.state);
                        }
                        res
                    }),
                Err(_) => Err(RequestError::Overloaded),
            },
        };
        let response = response.unwrap_or_else(|err| {
            if err.is_guest_fault() {
                tracing::warn!(request_id, "answering {}: {err}", err.status().as_u16());
            } else {
                tracing::info!(request_id, "answering {}: {err}", err.status().as_u16());
            }
            problem::for_error(&err)
        });
        let status = response.status().as_u16();
        // No content for HEAD, whatever the guest wrote (hyper drops it on HTTP/1.1 only).
        let head = method == http::Method::HEAD;
        // hyper stops reading a body once it has the bytes Content-Length declared (none at
        // all for a declared 0), so such a body is dropped without being seen to end; and a
        // 204 or 304 answer has no content to send (RFC 9110 §6.4.1).
        let declared = declared_length(response.headers());
        let no_content = head
            || response.status() == http::StatusCode::NO_CONTENT
            || response.status() == http::StatusCode::NOT_MODIFIED;
        response.map(move |body| {
            let body = if head {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync()
            } else {
                body
            };
            let watched = active.0.watch();
            let body = WatchedBody {
                inner: body,
                watched,
            };
            let shared = self.clone();
            let span_path = req_path_only(&path);
            CountedBody::new(body, move |bytes, complete| {
                let complete = complete || no_content || declared == Some(bytes);
                drop(active);
                span.end(
                    vec![
                        ("http.request.method", Attribute::Text(method.to_string())),
                        ("url.path", Attribute::Text(span_path)),
                        ("http.route", Attribute::Text(route.clone())),
                        ("http.response.status_code", Attribute::Int(status.into())),
                        ("client.address", Attribute::Text(peer.ip().to_string())),
                    ],
                    status >= 500,
                );
                shared
                    .metrics
                    .observe(route, status, start.elapsed().as_secs_f64());
                tracing::info!(
                    target: "access",
                    request_id,
                    client = %peer,
                    method = %method,
                    path = %path,
                    protocol = ?version,
                    status,
                    bytes,
                    complete,
                    duration_ms = start.elapsed().as_secs_f64() * 1000.0,
                );
            })
            .boxed_unsync()
        })
    }

    async fn dispatch(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        request_id: u64,
        permit: (
            tokio::sync::OwnedSemaphorePermit,
            super::clients::ClientSlot,
        ),
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        check_host(req.headers())?;
        check_framing(req.headers())?;
        let limit = self.limits.max_body_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(RequestError::BodyTooLarge { limit });
        }

        let (mut parts, body) = req.into_parts();
        set_forwarding_headers(&mut parts.headers, peer, self.https);
        if let Some(trace) = parts.extensions.get::<TraceContext>() {
            parts.headers.insert(
                http::HeaderName::from_static(crate::trace::TRACEPARENT),
                trace.traceparent(),
            );
        }
        let (body, too_slow) = PacedBody::new(
            body,
            MinRate {
                bytes_per_sec: self.limits.min_body_rate,
                grace: self.limits.header_read_timeout,
            },
        );
        let (body, exceeded) = LimitedBody::new(body, limit);
        let ctx = RequestContext {
            https: self.https,
            client_addr: Some(peer),
            request_id,
            guard: Some(Arc::new(permit)),
            stop: StopSignal::new(self.cut.subscribe()),
        };
        let req = http::Request::from_parts(parts, body.boxed_unsync());
        let result = self.handler.call(req, ctx).await;
        if exceeded.load(Ordering::Acquire) {
            return Err(RequestError::BodyTooLarge { limit });
        }
        if too_slow.load(Ordering::Acquire) {
            return Err(RequestError::BodyTooSlow {
                bytes_per_sec: self.limits.min_body_rate,
            });
        }
        result
    }
}

/// The path of a path-and-query (a query may hold secrets: spans leave it out).
fn req_path_only(path_and_query: &str) -> String {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
        .to_owned()
}

/// The body length a response declares with one valid `Content-Length`, if it does.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.parse().ok()
}

/// RFC 9112 §3.2: a request with more than one `Host` field line, or a `Host` that is not a
/// valid `uri-host [ ":" port ]` (RFC 9110 §7.2: no user info; an `http(s)` authority with
/// an empty host is invalid, RFC 9110 §4.2.1), is answered `400` before any guest runs.
/// RFC 9112 §6.1: `chunked` is applied once, last. hyper refuses a final coding other than
/// `chunked`; a message that names it twice (which a proxy in front may frame another way)
/// is refused here, before any guest runs, and its connection closed.
fn check_framing(headers: &http::HeaderMap) -> Result<(), RequestError> {
    let mut chunked = 0;
    for line in headers.get_all(header::TRANSFER_ENCODING) {
        let text = String::from_utf8_lossy(line.as_bytes());
        chunked += text
            .split(',')
            .filter(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
            .count();
    }
    if chunked > 1 {
        return Err(RequestError::BadRequest(
            "the request applies the chunked transfer coding more than once".to_owned(),
        ));
    }
    Ok(())
}

fn check_host(headers: &http::HeaderMap) -> Result<(), RequestError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let Some(host) = hosts.next() else {
        // HTTP/1.1 without Host is refused by hyper; HTTP/2 has `:authority` instead.
        return Ok(());
    };
    if hosts.next().is_some() {
        return Err(RequestError::BadRequest(
            "the request has more than one Host header".to_owned(),
        ));
    }
    let invalid = |why: &str| {
        RequestError::BadRequest(format!(
            "the Host header {:?} is invalid: {why}",
            String::from_utf8_lossy(host.as_bytes())
        ))
    };
    let authority =
        http::uri::Authority::try_from(host.as_bytes()).map_err(|err| invalid(&err.to_string()))?;
    if authority.as_str().contains('@') {
        return Err(invalid("it has user info"));
    }
    if authority.host().is_empty() {
        return Err(invalid("the host is empty"));
    }
    // A port, when there is one, is a number a port can be.
    let after_host = &authority.as_str()[authority.as_str().rfind(']').unwrap_or(0)..];
    if let Some((_, port)) = after_host.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(invalid("the port is not a number from 0 to 65535"));
    }
    Ok(())
}

/// Tells the guest who the client is. This host is the edge: whatever forwarding headers
/// the client sent are replaced, never trusted.
fn set_forwarding_headers(headers: &mut http::HeaderMap, peer: SocketAddr, https: bool) {
    let proto = if https { "https" } else { "http" };
    let ip = peer.ip().to_string();
    let node = match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let pairs = [
        ("x-forwarded-for", ip.clone()),
        ("x-forwarded-proto", proto.to_owned()),
        ("forwarded", format!("for={node};proto={proto}")),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    // Other proxies' spellings, which only a proxy in front could have set: there is none.
    for name in ["x-forwarded-host", "x-forwarded-port", "x-real-ip"] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules_of_rfc_9112() {
        let check = |values: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for value in values {
                headers.append(header::HOST, HeaderValue::from_str(value).expect("a value"));
            }
            check_host(&headers).map_err(|err| err.to_string())
        };
        for ok in [
            &[][..],
            &["example.com"],
            &["example.com:8080"],
            &["[::1]:3000"],
            &["[::1]"],
            &["127.0.0.1"],
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
        for (bad, why) in [
            (&["a", "b"][..], "more than one Host"),
            (&["a b"], "invalid"),
            (&["user@example.com"], "user info"),
            (&[""], "invalid"),
            (&["example.com:99999"], "port"),
            (&["example.com:x"], "invalid"),
        ] {
            let err = check(bad).expect_err("refused");
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn forwarding_headers_replace_client_supplied_ones() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        headers.insert("x-real-ip", HeaderValue::from_static("6.6.6.6"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        let peer: SocketAddr = "[::1]:4000".parse().expect("addr");
        set_forwarding_headers(&mut headers, peer, true);
        assert_eq!(headers["x-forwarded-for"], "::1");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["forwarded"], "for=\"[::1]\";proto=https");
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
        assert!(!headers.contains_key("x-real-ip"));
        assert!(!headers.contains_key("x-forwarded-host"));
    }
}
