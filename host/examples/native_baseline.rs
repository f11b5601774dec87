//! The ceiling for `scripts/bench`: a native hyper server answering what the example
//! component's `GET /api/health` answers, with no WebAssembly in the way.
//!
//! ```sh
//! cargo run --release -p host --example native_baseline -- 127.0.0.1:3002
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn health(
    _req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let body = serde_json::json!({
        "status": "healthy",
        "timestamp": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    });
    let mut res = http::Response::new(Full::new(Bytes::from(body.to_string())));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3002".to_owned())
        .parse()?;
    let listener = TcpListener::bind(addr).await?;
    println!(
        "Serving native baseline on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(health);
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
