//! Starting a host in-process and talking to it over real sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use host::{App, Handler, PlatformConfig, RuntimeConfig, Server, ServerConfig, ServerLimits};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use tests::{
    EXAMPLE_P3_WASM, EXAMPLE_WASM, FIXTURES_MODULE_WASM, FIXTURES_P3_WASM, FIXTURES_WASM,
    SPIN7_WASM,
};

/// Runs each named test, an `async fn(example: &str) -> anyhow::Result<()>` given the
/// example application's component, once per build of it: `p2::NAME` on the WASI 0.2
/// component, `p3::NAME` on the WASI 0.3 one. One suite for both worlds, where the
/// behaviour is the same.
#[macro_export]
macro_rules! each_world {
    ($($name:ident),* $(,)?) => {
        mod p2 {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::support::EXAMPLE_WASM).await
                }
            )*
        }
        mod p3 {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::support::EXAMPLE_P3_WASM).await
                }
            )*
        }
    };
}

/// A host serving one component on 127.0.0.1:0, shut down when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub fingerprint: Option<String>,
    /// The admin listener's address, when the configuration asked for one.
    pub admin: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<host::ShutdownReport, host::ServeError>>>,
}

impl TestServer {
    pub async fn start(component: &str) -> anyhow::Result<Self> {
        Self::start_with(component, RuntimeConfig::default(), ServerConfig::default()).await
    }

    pub async fn start_with(
        component: &str,
        runtime: RuntimeConfig,
        server: ServerConfig,
    ) -> anyhow::Result<Self> {
        Self::start_platform(component, runtime, PlatformConfig::default(), server).await
    }

    /// Serves `component` as `edge-host serve` does, with Spin's platform as `platform` says.
    /// `jwt_secret` is [`JWT_SECRET`] unless `platform` defines it.
    pub async fn start_platform(
        component: &str,
        runtime: RuntimeConfig,
        mut platform: PlatformConfig,
        server: ServerConfig,
    ) -> anyhow::Result<Self> {
        platform
            .variables
            .entry("jwt_secret".to_owned())
            .or_insert_with(|| host::Variable::secret(JWT_SECRET));
        let app = App::single(component.as_ref(), runtime, platform)?;
        Self::serve(app, server).await
    }

    /// Serves an application (or any handler) on 127.0.0.1:0.
    pub async fn serve(app: impl Handler, mut server: ServerConfig) -> anyhow::Result<Self> {
        server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = Server::bind(server, app).await?;
        let addr = server.local_addr();
        let fingerprint = server.tls_fingerprint().map(str::to_owned);
        let admin = server.admin_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            fingerprint,
            admin,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Signals shutdown and waits for `run_until` to return.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown_report().await.map(drop)
    }

    /// Signals shutdown and answers what `run_until` says it cut off.
    pub async fn shutdown_report(mut self) -> anyhow::Result<host::ShutdownReport> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().context("already shut down")?;
        Ok(task.await??)
    }

    /// An HTTP/1.1 request with headers and a body, on a new connection.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<http::Response<Bytes>> {
        send(
            self.addr,
            Proto::Http1,
            request_with(method, path, headers, body)?,
        )
        .await
    }

    /// A plain HTTP/1.1 GET on a new connection.
    pub async fn get(&self, path: &str) -> anyhow::Result<http::Response<Bytes>> {
        send(self.addr, Proto::Http1, request("GET", path, "")?).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A request with `Host: localhost`.
pub fn request(
    method: &str,
    path: &str,
    body: &'static str,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    request_with(method, path, &[], body)
}

/// A request with `Host: localhost`, extra headers and a body.
pub fn request_with(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    Ok(builder.body(Full::new(Bytes::from(body.to_owned())))?)
}

/// `Authorization: Bearer <JWT>` signed with `secret`, as the example application checks it
/// (its default issuer, the given scope, far from expiry).
pub fn token(secret: &str, scope: &str) -> String {
    let claims = serde_json::json!({
        "sub": "e2e",
        "iss": example::JWT_ISSUER,
        "scope": scope,
        "exp": 4_102_444_800_i64,
    });
    format!(
        "Bearer {}",
        edge_toolkit::middleware::auth::jwt::sign_hs256(&claims, secret)
    )
}

/// The `jwt_secret` every server of these tests gives its components unless the test sets
/// one itself (the example has no built-in secret).
pub const JWT_SECRET: &str = "the end-to-end tests' secret, 32+ bytes";

/// A write token for [`JWT_SECRET`].
pub fn writer() -> String {
    token(JWT_SECRET, example::WRITE_SCOPE)
}

/// Creates a user in the example application; returns its path.
pub async fn create_user(server: &TestServer, name: &str, email: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"name": name, "email": email}).to_string();
    let auth = writer();
    let res = server
        .call(
            "POST",
            "/api/v1/users",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            &body,
        )
        .await?;
    assert_eq!(res.status(), 201, "{}", String::from_utf8_lossy(res.body()));
    Ok(res.headers()["location"].to_str()?.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http1,
    /// HTTP/2 with prior knowledge.
    Http2,
}

/// Sends one request on a new plain connection and collects the response.
pub async fn send(
    addr: SocketAddr,
    proto: Proto,
    req: http::Request<Full<Bytes>>,
) -> anyhow::Result<http::Response<Bytes>> {
    let stream = TcpStream::connect(addr).await?;
    send_on(TokioIo::new(stream), proto, req).await
}

/// Sends one request over an established transport and collects the response.
pub async fn send_on<T>(
    io: TokioIo<T>,
    proto: Proto,
    req: http::Request<Full<Bytes>>,
) -> anyhow::Result<http::Response<Bytes>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let res = match proto {
        Proto::Http1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            sender.send_request(req).await?
        }
        Proto::Http2 => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            let (mut parts, body) = req.into_parts();
            // HTTP/2 carries the authority in the URI, not in Host.
            parts.headers.remove("host");
            parts.uri = format!("http://localhost{}", parts.uri).parse()?;
            sender
                .send_request(http::Request::from_parts(parts, body))
                .await?
        }
    };
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .context("response body did not finish in 30 s")??
        .to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// The body as JSON.
pub fn json(res: &http::Response<Bytes>) -> anyhow::Result<serde_json::Value> {
    serde_json::from_slice(res.body())
        .with_context(|| format!("body is not JSON: {}", String::from_utf8_lossy(res.body())))
}

/// Asserts a problem+json body with the given status.
pub fn assert_problem(
    res: &http::Response<Bytes>,
    status: u16,
) -> anyhow::Result<serde_json::Value> {
    assert_eq!(
        res.status(),
        status,
        "body: {}",
        String::from_utf8_lossy(res.body())
    );
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body = json(res)?;
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string(), "problem has a title: {body}");
    Ok(body)
}

/// A rustls client that trusts exactly `cert_der` and offers the given ALPN protocols.
pub fn tls_client(cert_der: &[u8], alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A local upstream answering `upstream ok` to everything.
pub async fn upstream_ok() -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"upstream ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// The access-log lines of this test process (target `access`), captured by a global
/// subscriber installed on first use.
pub struct AccessLog {
    lines: std::sync::Mutex<Vec<u8>>,
}

struct AccessLogWriter(&'static AccessLog);

impl std::io::Write for AccessLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's access log, capturing from the first call on.
pub fn access_log() -> &'static AccessLog {
    static LOG: std::sync::OnceLock<&'static AccessLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static AccessLog = Box::leak(Box::new(AccessLog {
            lines: std::sync::Mutex::new(Vec::new()),
        }));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("access=info,guest=info"))
            .with_ansi(false)
            .with_writer(move || AccessLogWriter(log))
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the e2e tests");
        log
    })
}

impl AccessLog {
    /// The first captured line containing `needle`, waiting up to `timeout` for it.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        self.wait_for_all(&[needle], timeout).await
    }

    /// The first captured line containing every one of `needles`, waiting up to `timeout`.
    pub async fn wait_for_all(
        &self,
        needles: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = {
                let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                String::from_utf8_lossy(&lines)
                    .lines()
                    .find(|line| needles.iter().all(|needle| line.contains(needle)))
                    .map(str::to_owned)
            };
            if let Some(line) = found {
                return Ok(line);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "no log line with {needles:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many captured lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&lines)
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}

/// The fixture component served with the server limits `limits`.
pub async fn fixtures_with(limits: ServerLimits) -> anyhow::Result<TestServer> {
    let config = ServerConfig {
        limits,
        ..ServerConfig::default()
    };
    TestServer::start_with(FIXTURES_WASM, RuntimeConfig::default(), config).await
}

/// Writes raw bytes on a fresh connection and reads until the server closes it or 5 s
/// pass.
pub async fn raw_exchange(server: &TestServer, bytes: &[u8]) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(server.addr).await?;
    stream.write_all(bytes).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The HTTP/2 frames in `bytes`: (type, flags, stream, payload).
pub fn h2_frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        let payload = bytes[9..(9 + len).min(bytes.len())].to_vec();
        out.push((bytes[3], bytes[4], stream, payload));
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    out
}

/// The test process's resident memory, in bytes.
pub fn resident_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?
        .trim()
        .parse::<u64>()?;
    Ok(kib * 1024)
}

/// A `redis-server` of its own on a free loopback port, stopped when dropped. The tests
/// that need one fail (they do not skip) when `redis-server` is not installed: `.ci/run`
/// installs it.
pub struct RedisServer {
    child: std::process::Child,
    pub url: String,
}

impl RedisServer {
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .context(
                "redis-server could not be started (is it installed? apt-get install redis-server)",
            )?;
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        for _ in 0..100 {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await {
                stream.write_all(b"PING\r\n").await?;
                let mut reply = [0_u8; 7];
                if stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n" {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("redis-server did not answer on port {port}")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
