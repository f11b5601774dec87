//! W3C `traceparent`: accepted from the client, seen by the guest with the host's span as
//! its parent, put on the guest's outbound requests; spans exported by OTLP/HTTP to a
//! collector stand-in.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use host::{RuntimeConfig, ServerConfig};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use crate::support::TestServer;
use crate::up::{AppDir, text};

/// A request as a [`Recorder`] saw it: its `traceparent` and its body.
type Seen = (Option<String>, Bytes);

/// A server that keeps what it was sent.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start(&self) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = self.seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            async move {
                                let traceparent = req
                                    .headers()
                                    .get("traceparent")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned);
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                seen.lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push((traceparent, body));
                                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                    Bytes::from_static(b"recorded"),
                                )))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The spans of every export so far (OTLP JSON).
    fn spans(&self) -> Vec<serde_json::Value> {
        self.seen()
            .into_iter()
            .filter_map(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .flat_map(|export| {
                export["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// The span id of a `traceparent` of trace [`TRACE`].
fn span_of(traceparent: &str, flags: &str) -> String {
    let rest = traceparent
        .strip_prefix(&format!("00-{TRACE}-"))
        .unwrap_or_else(|| panic!("not in the trace: {traceparent}"));
    let (span, found_flags) = rest.split_once('-').expect("four fields");
    assert_eq!(found_flags, flags, "{traceparent}");
    assert_eq!(span.len(), 16, "{traceparent}");
    assert_ne!(span, CLIENT_SPAN, "the host's span is the parent now");
    span.to_owned()
}

#[tokio::test]
async fn traceparent_reaches_the_guest_and_the_upstream_and_spans_are_exported()
-> anyhow::Result<()> {
    let collector = Recorder::default();
    let collector_addr = collector.start().await?;
    let upstream = Recorder::default();
    let upstream_addr = upstream.start().await?;
    let dir = AppDir::fixtures(&format!(
        "spin_manifest_version = 2\n[application]\nname = \"traced\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"app\"\n[component.app]\nsource = \"fixtures.wasm\"\nallowed_outbound_hosts = [\"http://{upstream_addr}\"]\n"
    ))?;
    let loaded = dir.load(&[], RuntimeConfig::default(), Default::default())?;
    let config = ServerConfig {
        otlp_endpoint: Some(format!("http://{collector_addr}")),
        ..ServerConfig::default()
    };
    let server = TestServer::serve(loaded.app, config).await?;
    let sampled = format!("00-{TRACE}-{CLIENT_SPAN}-01");

    // The guest sees the trace, with the host's span as the parent.
    let seen = server
        .call("GET", "/request", &[("traceparent", &sampled)], "")
        .await?;
    assert_eq!(seen.status(), 200, "{}", text(&seen));
    let guest_line = text(&seen)
        .lines()
        .find_map(|line| line.strip_prefix("traceparent: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no traceparent: {}", text(&seen)));
    let request_span = span_of(&guest_line, "01");

    // The guest's outbound request carries it on, from a client span of its own.
    let url = format!("http://{upstream_addr}/x");
    let fetched = server
        .call(
            "GET",
            &format!("/fetch?url={url}"),
            &[("traceparent", &sampled)],
            "",
        )
        .await?;
    assert_eq!(fetched.status(), 200, "{}", text(&fetched));
    assert_eq!(text(&fetched), "recorded");
    let upstream_line = upstream.seen()[0]
        .0
        .clone()
        .expect("a traceparent upstream");
    let outbound_span = span_of(&upstream_line, "01");
    assert_ne!(outbound_span, request_span);

    // Without a traceparent, a new trace; an unsampled one is carried on, not exported.
    let fresh = server.get("/request").await?;
    assert!(
        text(&fresh).contains("traceparent: 00-"),
        "{}",
        text(&fresh)
    );
    assert!(!text(&fresh).contains(TRACE));
    let unsampled = format!("00-{TRACE}-{CLIENT_SPAN}-00");
    let quiet = server
        .call("GET", "/ok", &[("traceparent", &unsampled)], "")
        .await?;
    assert_eq!(quiet.status(), 200);

    // The spans: the two server spans under the client's, and the client span under the
    // second server span.
    let mut spans = Vec::new();
    for _ in 0..50 {
        spans = collector
            .spans()
            .into_iter()
            .filter(|span| span["traceId"] == TRACE)
            .collect();
        if spans.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let find = |id: &str| {
        spans
            .iter()
            .find(|span| span["spanId"] == id)
            .unwrap_or_else(|| panic!("no span {id} in {spans:#?}"))
            .clone()
    };
    let request = find(&request_span);
    assert_eq!(request["parentSpanId"], CLIENT_SPAN);
    assert_eq!(request["kind"], 2);
    assert_eq!(request["name"], "GET /...");
    let attribute = |span: &serde_json::Value, key: &str| {
        span["attributes"]
            .as_array()
            .and_then(|attrs| attrs.iter().find(|a| a["key"] == key))
            .map(|a| a["value"].clone())
            .unwrap_or_default()
    };
    assert_eq!(attribute(&request, "url.path")["stringValue"], "/request");
    assert_eq!(
        attribute(&request, "http.response.status_code")["intValue"],
        "200"
    );
    let outbound = find(&outbound_span);
    assert_eq!(outbound["kind"], 3);
    assert_eq!(
        attribute(&outbound, "url.full")["stringValue"],
        url.as_str()
    );
    let fetch = spans
        .iter()
        .find(|span| span["spanId"] == outbound["parentSpanId"])
        .unwrap_or_else(|| panic!("the client span's parent is not exported: {spans:#?}"));
    assert_eq!(attribute(fetch, "url.path")["stringValue"], "/fetch");
    assert_eq!(fetch["parentSpanId"], CLIENT_SPAN);
    // The unsampled request's span is not exported, not even a batch later.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let all: Vec<_> = collector
        .spans()
        .into_iter()
        .filter(|span| span["traceId"] == TRACE)
        .collect();
    assert_eq!(all.len(), 3, "{all:#?}");
    Ok(())
}
