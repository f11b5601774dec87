//! W3C Trace Context (`traceparent`, `tracestate`) and OTLP span export.
//!
//! Every request gets a server span: its trace is the client's (a valid `traceparent`) or a
//! new one. The guest sees `traceparent` naming that span as its parent (and the client's
//! `tracestate` as it came), so a guest that traces carries on the same trace; an outbound
//! request of the guest that sets no `traceparent` of its own gets one naming a client span
//! of that trace. For a WASI 0.3 instance serving several requests at once, an outbound
//! request is put in the trace of the instance's newest request (the host cannot tell which
//! of them the guest sends it for); a guest that forwards the `traceparent` it was given
//! is always right.
//!
//! With an OTLP endpoint ([`ServerConfig::otlp_endpoint`](crate::ServerConfig::otlp_endpoint), which
//! `edge-host` takes from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, as Spin does), sampled spans are exported in batches by
//! OTLP/HTTP with the JSON encoding (`POST {endpoint}/v1/traces`, `application/json`),
//! at most [`QUEUE`] waiting (past it new spans are dropped and counted): an exporter that
//! is slow or down costs the requests nothing.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// Spans waiting for export at most.
pub const QUEUE: usize = 4096;
/// Spans in one export request at most.
const BATCH: usize = 512;
/// How long a span waits for its batch at most.
const FLUSH: Duration = Duration::from_secs(1);

/// The `traceparent` field (`tracestate` passes through as the client sent it).
pub(crate) const TRACEPARENT: &str = "traceparent";

/// The trace a request belongs to and its server span, carried in the request's extensions
/// from the server to the runtime.
#[derive(Clone)]
pub struct TraceContext {
    trace_id: [u8; 16],
    /// The host's server span.
    span_id: [u8; 8],
    /// The client's span, when the request came with a `traceparent`.
    parent: Option<[u8; 8]>,
    sampled: bool,
    exporter: Option<Exporter>,
}

impl std::fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TraceContext({})", self.traceparent_value(&self.span_id))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    // An id is never all zeros (invalid in W3C Trace Context).
    while bytes.iter().all(|b| *b == 0) {
        if getrandom::fill(&mut bytes).is_err() {
            // No entropy source: a process-unique counter, still distinct ids.
            static NEXT: AtomicU64 = AtomicU64::new(1);
            let n = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
            for (byte, n) in bytes.iter_mut().rev().zip(n.iter().rev()) {
                *byte = *n;
            }
        }
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0_u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    (out.iter().any(|b| *b != 0)).then_some(out)
}

/// A valid `traceparent`: `(trace id, parent span, sampled)`. Version `00` must have
/// exactly four fields; a later version may have more (W3C Trace Context §3.2.4), and
/// version `ff` is invalid.
fn parse(value: &str) -> Option<([u8; 16], [u8; 8], bool)> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2 || version == "ff" || u8::from_str_radix(version, 16).is_err() {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let flags: [u8; 1] = unhex(flags).or_else(|| (flags == "00").then_some([0]))?;
    Some((unhex(trace)?, unhex(parent)?, flags[0] & 1 == 1))
}

impl TraceContext {
    /// The server span of a request with `headers`: in the client's trace when its
    /// `traceparent` is valid (and sampled as it says), else in a new, sampled one.
    pub(crate) fn for_request(headers: &http::HeaderMap, exporter: Option<&Exporter>) -> Self {
        let incoming = headers
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse);
        let (trace_id, parent, sampled) = match incoming {
            Some((trace, parent, sampled)) => (trace, Some(parent), sampled),
            None => (random(), None, true),
        };
        Self {
            trace_id,
            span_id: random(),
            parent,
            sampled,
            exporter: exporter.cloned(),
        }
    }

    fn traceparent_value(&self, span: &[u8; 8]) -> String {
        format!(
            "00-{}-{}-{}",
            hex(&self.trace_id),
            hex(span),
            if self.sampled { "01" } else { "00" }
        )
    }

    /// The `traceparent` the guest sees: this request's server span as the parent.
    pub(crate) fn traceparent(&self) -> HeaderValue {
        HeaderValue::from_str(&self.traceparent_value(&self.span_id))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The trace id, as 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// A client span of this trace (an outbound request): its `traceparent` and the span
    /// to record when it ends.
    pub(crate) fn client(&self, name: String) -> (HeaderValue, SpanStart) {
        let span_id = random();
        let header = HeaderValue::from_str(&self.traceparent_value(&span_id))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        (
            header,
            SpanStart {
                trace: self.clone(),
                span_id,
                parent: Some(self.span_id),
                kind: Kind::Client,
                name,
                start: SystemTime::now(),
            },
        )
    }

    /// The server span, to record when the response is done.
    pub(crate) fn server(&self, name: String) -> SpanStart {
        SpanStart {
            trace: self.clone(),
            span_id: self.span_id,
            parent: self.parent,
            kind: Kind::Server,
            name,
            start: SystemTime::now(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Server,
    Client,
}

/// A span begun, ended by [`SpanStart::end`].
pub(crate) struct SpanStart {
    trace: TraceContext,
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    kind: Kind,
    name: String,
    start: SystemTime,
}

impl SpanStart {
    /// Ends the span with its attributes (string or integer values) and whether it failed;
    /// it is exported if the trace is sampled and there is an exporter.
    pub(crate) fn end(self, attributes: Vec<(&'static str, Attribute)>, error: bool) {
        let Some(exporter) = self.trace.exporter.clone().filter(|_| self.trace.sampled) else {
            return;
        };
        exporter.push(Span {
            trace_id: self.trace.trace_id,
            span_id: self.span_id,
            parent: self.parent,
            kind: self.kind,
            name: self.name,
            start: self.start,
            end: SystemTime::now(),
            attributes,
            error,
        });
    }
}

/// An attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Attribute {
    Text(String),
    Int(i64),
}

struct Span {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    kind: Kind,
    name: String,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<(&'static str, Attribute)>,
    error: bool,
}

fn nanos(at: SystemTime) -> String {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

impl Span {
    /// The span in OTLP's JSON encoding (ids in hex, times as decimal strings).
    fn to_json(&self) -> serde_json::Value {
        let attributes: Vec<_> = self
            .attributes
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Attribute::Text(text) => serde_json::json!({ "stringValue": text }),
                    Attribute::Int(n) => serde_json::json!({ "intValue": n.to_string() }),
                };
                serde_json::json!({ "key": key, "value": value })
            })
            .collect();
        let mut span = serde_json::json!({
            "traceId": hex(&self.trace_id),
            "spanId": hex(&self.span_id),
            "name": self.name,
            "kind": match self.kind { Kind::Server => 2, Kind::Client => 3 },
            "startTimeUnixNano": nanos(self.start),
            "endTimeUnixNano": nanos(self.end),
            "attributes": attributes,
            "status": { "code": if self.error { 2 } else { 0 } },
        });
        if let Some(parent) = &self.parent {
            span["parentSpanId"] = serde_json::Value::String(hex(parent));
        }
        span
    }
}

/// Where spans go: an OTLP/HTTP endpoint, fed by a background task. Cloning shares it.
#[derive(Clone)]
pub struct Exporter {
    queue: mpsc::Sender<Span>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exporter")
    }
}

/// Why an OTLP endpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OTLP endpoint `{endpoint}`: {reason}")]
pub struct ExporterError {
    endpoint: String,
    reason: String,
}

impl Exporter {
    /// An exporter to `endpoint` (`http://collector:4318`; the spans go to
    /// `/v1/traces` below it, unless it already ends so), running on the current tokio
    /// runtime.
    pub fn start(endpoint: &str) -> Result<Self, ExporterError> {
        let fail = |reason: &str| ExporterError {
            endpoint: endpoint.to_owned(),
            reason: reason.to_owned(),
        };
        let base = endpoint.trim_end_matches('/');
        let url = if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        };
        let uri: http::Uri = url.parse().map_err(|_| fail("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(fail(
                "only http:// endpoints are supported (run the collector beside the host)",
            ));
        }
        if uri.host().is_none() {
            return Err(fail("no host"));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| fail("no async runtime to export from"))?;
        let (queue, spans) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        runtime.spawn(export_loop(uri, spans, dropped.clone()));
        Ok(Self { queue, dropped })
    }

    fn push(&self, span: Span) {
        if self.queue.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn export_loop(uri: http::Uri, mut spans: mpsc::Receiver<Span>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::new();
    loop {
        let Some(first) = spans.recv().await else {
            return;
        };
        batch.push(first);
        let flush_at = tokio::time::Instant::now() + FLUSH;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(flush_at, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let count = batch.len();
        let body = serde_json::json!({
            "resourceSpans": [{
                "resource": { "attributes": [
                    { "key": "service.name", "value": { "stringValue": "edge-host" } },
                    { "key": "service.version", "value": { "stringValue": env!("CARGO_PKG_VERSION") } },
                ]},
                "scopeSpans": [{
                    "scope": { "name": "edge-host" },
                    "spans": batch.drain(..).map(|span| span.to_json()).collect::<Vec<_>>(),
                }],
            }],
        });
        if let Err(err) = post(&uri, body.to_string()).await {
            dropped.fetch_add(count as u64, Ordering::Relaxed);
            crate::throttle::warn_throttled!(endpoint = %uri, "cannot export {count} spans: {err}");
        }
    }
}

/// One POST on a new connection, within 10 s.
async fn post(uri: &http::Uri, body: String) -> Result<(), String> {
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let authority = uri
            .authority()
            .map_or_else(String::new, ToString::to_string);
        let req = http::Request::post(uri.path())
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let _ = res.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_as_the_recommendation_says() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (trace, parent, sampled) = parse(valid).expect("valid");
        assert_eq!(hex(&trace), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&parent), "00f067aa0ba902b7");
        assert!(sampled);
        assert!(
            !parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .expect("valid")
                .2
        );
        // A later version may carry more fields.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        for invalid in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(parse(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn a_request_continues_the_clients_trace_or_starts_one() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let ctx = TraceContext::for_request(&headers, None);
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let seen = ctx.traceparent();
        let seen = seen.to_str().expect("ascii");
        assert!(
            seen.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{seen}"
        );
        assert!(seen.ends_with("-01"));
        assert!(
            !seen.contains("00f067aa0ba902b7"),
            "the host's span is the parent now"
        );
        let (client, _) = ctx.client("GET".to_owned());
        let client = client.to_str().expect("ascii").to_owned();
        assert_ne!(client, seen);
        assert!(client.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));

        let fresh = TraceContext::for_request(&http::HeaderMap::new(), None);
        assert_ne!(fresh.trace_id(), ctx.trace_id());
        assert!(parse(fresh.traceparent().to_str().expect("ascii")).is_some());
    }
}
