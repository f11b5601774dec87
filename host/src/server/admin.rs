//! The admin listener (`--admin-listen`): what operators and orchestrators ask of a running
//! server, apart from the traffic it serves, on an address of its own (keep it off the
//! public network):
//!
//! | Path | Answer |
//! | --- | --- |
//! | `GET /metrics` | the metrics, as OpenMetrics text (which Prometheus scrapes) |
//! | `GET /healthz` | `200 ok` while the process serves (liveness) |
//! | `GET /readyz` | `200 ready` while it takes requests, `503` once its shutdown began (readiness: a load balancer stops sending) |
//!
//! The server's own metrics: `edge_host_requests_total{route,status}` (every answer, the
//! host's own `4xx`/`5xx` included, counted when its body is done),
//! `edge_host_request_duration_seconds{route}` (a histogram, to the end of the body),
//! `edge_host_requests_in_flight` and `edge_host_connections_open`; the handler adds its
//! own ([`Handler::register_metrics`](crate::Handler::register_metrics)).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Shared;

/// Latency buckets, in seconds: 1 ms to 30 s.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The labels of a request count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: String,
    pub status: u16,
}

/// The label of a latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabel {
    pub route: String,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The server's own metrics.
pub(crate) struct ServerMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Family<RouteLabel, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    pub connections: Gauge,
    /// Whether the server takes requests (`/readyz`).
    pub ready: AtomicBool,
}

impl ServerMetrics {
    pub(crate) fn new() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(histogram),
            in_flight: Gauge::default(),
            connections: Gauge::default(),
            ready: AtomicBool::new(false),
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "edge_host_requests",
            "Requests answered, by route and status",
            self.requests.clone(),
        );
        registry.register(
            "edge_host_request_duration_seconds",
            "Time from the request to the end of its response body, by route",
            self.duration.clone(),
        );
        registry.register(
            "edge_host_requests_in_flight",
            "Requests being handled now",
            self.in_flight.clone(),
        );
        registry.register(
            "edge_host_connections_open",
            "Client connections open now",
            self.connections.clone(),
        );
    }

    /// Counts a request whose response body is done.
    pub(crate) fn observe(&self, route: String, status: u16, seconds: f64) {
        self.duration
            .get_or_create(&RouteLabel {
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }
}

/// An open connection, counted in `edge_host_connections_open` while it lives.
pub(crate) struct Open(Gauge);

impl Open {
    pub(crate) fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The registry the admin listener encodes: the server's metrics and the handler's.
pub(crate) fn registry(shared: &Shared) -> Registry {
    let mut registry = Registry::default();
    shared.metrics.register(&mut registry);
    shared.handler.register_metrics(&mut registry);
    registry
}

/// Serves the admin paths on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let (shared, registry) = (shared.clone(), registry.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = answer(&req, &shared, &registry);
                async move { Ok::<_, Infallible>(answer) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.wait_for(|stop| *stop) => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

fn answer(
    req: &http::Request<Incoming>,
    shared: &Shared,
    registry: &Registry,
) -> http::Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &'static str, body: String| {
        let mut res = http::Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    };
    let plain = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = text(
            StatusCode::METHOD_NOT_ALLOWED,
            plain,
            "GET only\n".to_owned(),
        );
        res.headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    match req.uri().path() {
        "/metrics" => {
            shared.handler.refresh_metrics();
            let in_flight = shared.limits.max_in_flight - shared.in_flight.available_permits();
            shared
                .metrics
                .in_flight
                .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
            let mut body = String::new();
            match prometheus_client::encoding::text::encode(&mut body, registry) {
                Ok(()) => text(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    body,
                ),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, plain, format!("{e}\n")),
            }
        }
        "/healthz" => text(StatusCode::OK, plain, "ok\n".to_owned()),
        "/readyz" if shared.metrics.ready.load(Ordering::Acquire) => {
            text(StatusCode::OK, plain, "ready\n".to_owned())
        }
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            plain,
            "not ready: starting or shutting down\n".to_owned(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            plain,
            "not found: /metrics, /healthz, /readyz\n".to_owned(),
        ),
    }
}
