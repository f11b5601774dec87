//! `edge-host up`: a Spin application from its manifest, with its key-value store, variables,
//! routes and outbound HTTP (allow-list, retries, circuit breaker).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use host::{App, BreakerConfig, OutboundConfig, RuntimeConfig, ServerConfig, UpOptions};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::{
    FIXTURES_WASM, Proto, TestServer, assert_problem, create_user, json, request_with, send, writer,
};

/// An application directory in the temp dir, removed when dropped.
pub(crate) struct AppDir {
    pub(crate) root: PathBuf,
}

impl AppDir {
    fn empty(name: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "edge-up-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// The repository's own spin.toml, unchanged, with the built example component at the
    /// path its `source` names and the static files its `files` mount.
    pub(crate) fn repository(example: &str) -> anyhow::Result<Self> {
        let dir = Self::empty("repo")?;
        let manifest =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml"))?;
        let source = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("source = "))
            .context("spin.toml has a source")?
            .trim_matches('"');
        let wasm = dir.root.join(source);
        std::fs::create_dir_all(wasm.parent().context("source has a directory")?)?;
        std::fs::copy(example, &wasm)?;
        std::fs::write(dir.root.join("spin.toml"), manifest)?;
        // The static files its `files` mount.
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let statics = Path::new("handler/example/static");
        std::fs::create_dir_all(dir.root.join(statics))?;
        for entry in std::fs::read_dir(repo.join(statics))? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.root.join(statics).join(entry.file_name()))?;
        }
        Ok(dir)
    }

    /// A manifest of the caller's, with the fixture component at `fixtures.wasm`.
    pub(crate) fn fixtures(manifest: &str) -> anyhow::Result<Self> {
        Self::with_component(FIXTURES_WASM, "fixtures.wasm", manifest)
    }

    /// A manifest of the caller's, with the component `wasm` at `file`.
    pub(crate) fn with_component(wasm: &str, file: &str, manifest: &str) -> anyhow::Result<Self> {
        let dir = Self::empty("app")?;
        std::fs::copy(wasm, dir.root.join(file))?;
        std::fs::write(dir.root.join("spin.toml"), manifest)?;
        Ok(dir)
    }

    /// The application served as `edge-host up` serves it.
    pub(crate) async fn serve(&self, env: &[(&str, &str)]) -> anyhow::Result<TestServer> {
        self.up(env, OutboundConfig::default()).await
    }

    /// `edge-host up` on this directory, with `env` as the process environment.
    async fn up(
        &self,
        env: &[(&str, &str)],
        outbound: OutboundConfig,
    ) -> anyhow::Result<TestServer> {
        let loaded = self.load(env, RuntimeConfig::default(), outbound)?;
        TestServer::serve(loaded.app, ServerConfig::default()).await
    }

    /// Loads the application as `edge-host up` does, with `env` as the process environment
    /// (and `SPIN_VARIABLE_JWT_SECRET` [`JWT_SECRET`](crate::support::JWT_SECRET) unless
    /// `env` sets it).
    pub(crate) fn load(
        &self,
        env: &[(&str, &str)],
        defaults: RuntimeConfig,
        outbound: OutboundConfig,
    ) -> anyhow::Result<host::Loaded> {
        self.load_configured(env, defaults, outbound, None, None)
    }

    /// [`Self::load`] with a runtime config file and a state directory of the caller's.
    pub(crate) fn load_configured(
        &self,
        env: &[(&str, &str)],
        defaults: RuntimeConfig,
        outbound: OutboundConfig,
        runtime_config: Option<&host::spin::manifest::RuntimeConfigFile>,
        state_dir: Option<PathBuf>,
    ) -> anyhow::Result<host::Loaded> {
        let mut env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        // As a deployment would set it: the example has no built-in secret.
        env.entry("SPIN_VARIABLE_JWT_SECRET".to_owned())
            .or_insert_with(|| crate::support::JWT_SECRET.to_owned());
        let lookup = |name: &str| env.get(name).cloned();
        Ok(App::up(UpOptions {
            manifest: &self.root.join("spin.toml"),
            env: &lookup,
            state_dir,
            defaults,
            outbound,
            runtime_config,
        })?)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub(crate) fn text(res: &http::Response<Bytes>) -> String {
    String::from_utf8_lossy(res.body()).into_owned()
}

async fn a_user_survives_a_restart_of_the_host(example: &str) -> anyhow::Result<()> {
    let dir = AppDir::repository(example)?;
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let location = create_user(&server, "Grace Hopper", "grace@navy.example").await?;
    let read = server.get(&location).await?;
    assert_eq!(read.status(), 200, "{}", text(&read));
    assert_eq!(json(&read)?["name"], "Grace Hopper");
    let etag = read.headers()["etag"].clone();
    server.shutdown().await?;

    assert!(dir.root.join(".spin/sqlite_key_value.db").is_file());
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let again = server.get(&location).await?;
    assert_eq!(again.status(), 200, "{}", text(&again));
    assert_eq!(json(&again)?["email"], "grace@navy.example");
    assert_eq!(again.headers()["etag"], etag);
    let list = server.get("/api/v1/users").await?;
    assert!(text(&list).contains("Grace Hopper"), "{}", text(&list));
    Ok(())
}

async fn writes_need_the_current_etag_in_if_match(example: &str) -> anyhow::Result<()> {
    let dir = AppDir::repository(example)?;
    let auth = writer();
    let json_type = ("content-type", "application/json");
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let location = create_user(&server, "Ada Lovelace", "ada@example.org").await?;
    let etag = server.get(&location).await?.headers()["etag"]
        .to_str()?
        .to_owned();
    let update = r#"{"name":"Ada King","email":"ada@example.org"}"#;

    let missing = server
        .call(
            "PUT",
            &location,
            &[json_type, ("authorization", &auth)],
            update,
        )
        .await?;
    assert_problem(&missing, 428)?;

    let stale = server
        .call(
            "PUT",
            &location,
            &[
                json_type,
                ("authorization", &auth),
                ("if-match", "\"not-the-etag\""),
            ],
            update,
        )
        .await?;
    assert_problem(&stale, 412)?;

    let ok = server
        .call(
            "PUT",
            &location,
            &[json_type, ("authorization", &auth), ("if-match", &etag)],
            update,
        )
        .await?;
    assert_eq!(ok.status(), 200, "{}", text(&ok));
    assert_ne!(ok.headers()["etag"].to_str()?, etag);

    // The first writer's ETag is stale now: its write would lose the second one.
    let lost_update = server
        .call(
            "PUT",
            &location,
            &[json_type, ("authorization", &auth), ("if-match", &etag)],
            r#"{"name":"Ada Byron","email":"ada@example.org"}"#,
        )
        .await?;
    assert_problem(&lost_update, 412)?;
    assert_eq!(json(&server.get(&location).await?)?["name"], "Ada King");

    // The same stale write without credentials is refused for those first (RFC 9110
    // §13.2.1), and create-only on the collection, which exists, is 412 (§13.1.2): the
    // middleware judges unsafe methods before their handler runs.
    let anonymous = server
        .call("PUT", &location, &[json_type, ("if-match", &etag)], update)
        .await?;
    assert_problem(&anonymous, 401)?;
    let create_only = server
        .call(
            "POST",
            "/api/v1/users",
            &[json_type, ("authorization", &auth), ("if-none-match", "*")],
            r#"{"name":"Ada Twice","email":"ada2@example.org"}"#,
        )
        .await?;
    assert_problem(&create_only, 412)?;
    assert!(!text(&server.get("/api/v1/users").await?).contains("Ada Twice"));
    Ok(())
}

const FIXTURES_APP: &str = r#"
spin_manifest_version = 2

[application]
name = "fixtures"

[variables]
who = { default = "manifest" }
token = { required = true, secret = true }

[[trigger.http]]
route = "/..."
component = "main"

[[trigger.http]]
route = "/b/..."
component = "other"

[[trigger.http]]
route = "/p/:user_id/..."
component = "other"

[[trigger.http]]
route = { private = true }
component = "hidden"

[component.main]
source = "fixtures.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://127.0.0.1:{{ upstream_port }}"]
environment = { NAME = "main" }
[component.main.variables]
who = "{{ who }}"
greeting = "hello from {{ who }}"

[component.other]
source = "fixtures.wasm"
environment = { NAME = "other" }

[component.hidden]
source = "fixtures.wasm"
"#;

fn fixtures_app(upstream_port: u16) -> String {
    FIXTURES_APP.replace(
        "[variables]\n",
        &format!("[variables]\nupstream_port = {{ default = \"{upstream_port}\" }}\n"),
    )
}

#[tokio::test]
async fn only_listed_stores_open_and_data_is_shared_by_instances() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&fixtures_app(9))?;
    let server = dir
        .up(&[("SPIN_VARIABLE_TOKEN", "t")], OutboundConfig::default())
        .await?;

    let put = server
        .call("PUT", "/kv/default/colour", &[], "teal")
        .await?;
    assert_eq!(put.status(), 204, "{}", text(&put));
    let get = server.get("/kv/default/colour").await?;
    assert_eq!(get.status(), 200);
    assert_eq!(text(&get), "teal");

    let denied = server.call("PUT", "/kv/secrets/colour", &[], "red").await?;
    assert_eq!(denied.status(), 403, "{}", text(&denied));
    assert_eq!(text(&denied), "access-denied");

    // The other component lists no store at all.
    let other = server.get("/b/kv/default/colour").await?;
    assert_eq!(other.status(), 403, "{}", text(&other));
    Ok(())
}

#[tokio::test]
async fn variables_come_from_the_manifest_or_the_environment() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&fixtures_app(9))?;
    let server = dir
        .up(&[("SPIN_VARIABLE_TOKEN", "t")], OutboundConfig::default())
        .await?;
    assert_eq!(text(&server.get("/var/who").await?), "manifest");
    assert_eq!(
        text(&server.get("/var/greeting").await?),
        "hello from manifest"
    );
    let undeclared = server.get("/var/token").await?;
    assert_eq!(
        undeclared.status(),
        404,
        "only declared component variables are visible"
    );
    assert_eq!(server.get("/var/Bad-Name").await?.status(), 400);
    server.shutdown().await?;

    let env = [
        ("SPIN_VARIABLE_TOKEN", "t"),
        ("SPIN_VARIABLE_WHO", "environment"),
    ];
    let server = dir.up(&env, OutboundConfig::default()).await?;
    assert_eq!(text(&server.get("/var/who").await?), "environment");
    assert_eq!(
        text(&server.get("/var/greeting").await?),
        "hello from environment"
    );
    Ok(())
}

async fn the_example_greeting_is_configured_by_a_variable(example: &str) -> anyhow::Result<()> {
    let dir = AppDir::repository(example)?;
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let res = server.get("/api/v1/greeting?name=Ada").await?;
    assert_eq!(res.status(), 200, "{}", text(&res));
    assert_eq!(json(&res)?["message"], "Hello, Ada!");
    server.shutdown().await?;

    let server = dir
        .up(
            &[("SPIN_VARIABLE_GREETING", "Howdy")],
            OutboundConfig::default(),
        )
        .await?;
    let res = server.get("/api/v1/greeting?name=Ada").await?;
    assert_eq!(json(&res)?["message"], "Howdy, Ada!");
    Ok(())
}

#[tokio::test]
async fn routes_follow_spin_rules_and_set_spin_headers() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&fixtures_app(9))?;
    let server = dir
        .up(&[("SPIN_VARIABLE_TOKEN", "t")], OutboundConfig::default())
        .await?;

    // The longest prefix wins.
    assert_eq!(text(&server.get("/env/NAME").await?), "main");
    assert_eq!(text(&server.get("/b/env/NAME").await?), "other");

    // What the component sees; a client's own spin-* headers are replaced.
    let res = server
        .call(
            "GET",
            "/b/request?x=1",
            &[
                ("spin-path-info", "/trap"),
                ("spin-full-url", "http://evil/"),
            ],
            "",
        )
        .await?;
    let seen = text(&res);
    assert_eq!(res.status(), 200, "{seen}");
    for line in [
        "spin-path-info: /request",
        "spin-matched-route: /b/...",
        "spin-component-route: /b",
        "spin-raw-component-route: /b/...",
        "spin-base-path: /",
    ] {
        assert!(seen.contains(line), "missing `{line}` in:\n{seen}");
    }
    assert!(
        seen.contains("spin-full-url: http://localhost/b/request?x=1"),
        "{seen}"
    );
    assert!(!seen.contains("evil"), "{seen}");

    // A `:name` segment, named as Spin names it (`_` becomes `-`).
    let res = server.get("/p/42/request").await?;
    let seen = text(&res);
    assert_eq!(res.status(), 200, "{seen}");
    for line in [
        "spin-path-match-user-id: 42",
        "spin-path-info: /request",
        "spin-component-route: /p/:user_id",
        "spin-raw-component-route: /p/:user_id/...",
        "spin-matched-route: /p/:user_id/...",
    ] {
        assert!(seen.contains(line), "missing `{line}` in:\n{seen}");
    }
    Ok(())
}

#[tokio::test]
async fn unset_required_variables_stop_the_start() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&fixtures_app(9))?;
    let err = dir
        .up(&[], OutboundConfig::default())
        .await
        .err()
        .context("a required variable is missing")?;
    let message = format!("{err:#}");
    assert!(message.contains("variables.token"), "{message}");
    assert!(message.contains("SPIN_VARIABLE_TOKEN"), "{message}");
    Ok(())
}

/// A local upstream that counts requests and answers 200 `upstream ok`, or 503 while
/// `failing` is set.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicU32>,
    failing: Arc<AtomicBool>,
}

async fn upstream(failing: bool) -> anyhow::Result<Upstream> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicU32::new(0));
    let failing = Arc::new(AtomicBool::new(failing));
    let (task_hits, task_failing) = (hits.clone(), failing.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (hits, failing) = (task_hits.clone(), task_failing.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let failing = failing.load(Ordering::SeqCst);
                    async move {
                        let (status, body) = if failing {
                            (503, "upstream down")
                        } else {
                            (200, "upstream ok")
                        };
                        http::Response::builder()
                            .status(status)
                            .header("content-type", "text/plain")
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Upstream {
        addr,
        hits,
        failing,
    })
}

fn breaker(failures: u32, reset: Duration) -> OutboundConfig {
    OutboundConfig {
        breaker: BreakerConfig {
            failure_threshold: failures,
            reset_timeout: reset,
        },
        ..OutboundConfig::default()
    }
}

async fn the_allowed_upstream_answers_and_an_unlisted_host_is_denied(
    example: &str,
) -> anyhow::Result<()> {
    let allowed = upstream(false).await?;
    let unlisted = upstream(false).await?;
    let dir = AppDir::repository(example)?;
    let origin = format!("http://{}", allowed.addr);
    let server = dir
        .up(
            &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
            OutboundConfig::default(),
        )
        .await?;
    let res = server.get("/api/v1/upstream/hello?x=1").await?;
    assert_eq!(res.status(), 200, "{}", text(&res));
    assert_eq!(text(&res), "upstream ok");
    assert_eq!(allowed.hits.load(Ordering::SeqCst), 1);

    // The fixture may only reach the port its manifest lists.
    let dir = AppDir::fixtures(&fixtures_app(allowed.addr.port()))?;
    let server = dir
        .up(&[("SPIN_VARIABLE_TOKEN", "t")], OutboundConfig::default())
        .await?;
    let ok = server
        .get(&format!("/fetch?url=http://{}/", allowed.addr))
        .await?;
    assert_eq!(ok.status(), 200, "{}", text(&ok));
    let denied = tokio::time::timeout(
        Duration::from_secs(5),
        server.get(&format!("/fetch?url=http://{}/", unlisted.addr)),
    )
    .await??;
    assert_eq!(denied.status(), 502);
    assert!(
        text(&denied).contains("HttpRequestDenied"),
        "{}",
        text(&denied)
    );
    assert_eq!(unlisted.hits.load(Ordering::SeqCst), 0);
    Ok(())
}

async fn gets_are_retried_and_posts_never(example: &str) -> anyhow::Result<()> {
    let down = upstream(true).await?;
    let dir = AppDir::repository(example)?;
    let origin = format!("http://{}", down.addr);
    let server = dir
        .up(
            &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
            breaker(0, Duration::ZERO),
        )
        .await?;

    let get = server.get("/api/v1/upstream/x").await?;
    assert_eq!(get.status(), 503, "{}", text(&get));
    assert_eq!(get.headers()["upstream-attempts"], "3");
    assert_eq!(down.hits.load(Ordering::SeqCst), 3);

    let post = server
        .call(
            "POST",
            "/api/v1/upstream/x",
            &[("content-type", "text/plain")],
            "hi",
        )
        .await?;
    assert_eq!(post.status(), 503, "{}", text(&post));
    assert_eq!(post.headers()["upstream-attempts"], "1");
    assert_eq!(down.hits.load(Ordering::SeqCst), 4);
    Ok(())
}

async fn the_breaker_opens_fails_fast_half_opens_and_closes(example: &str) -> anyhow::Result<()> {
    let up = upstream(true).await?;
    let dir = AppDir::repository(example)?;
    let origin = format!("http://{}", up.addr);
    let reset = Duration::from_millis(600);
    let server = dir
        .up(
            &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
            breaker(3, reset),
        )
        .await?;
    let post = |server: &TestServer| {
        let addr = server.addr;
        async move {
            send(
                addr,
                Proto::Http1,
                request_with(
                    "POST",
                    "/api/v1/upstream/x",
                    &[("content-type", "text/plain")],
                    "hi",
                )?,
            )
            .await
        }
    };

    // Closed: three failures reach the upstream.
    for n in 1..=3 {
        let res = post(&server).await?;
        assert_eq!(res.status(), 503, "{}", text(&res));
        assert_eq!(up.hits.load(Ordering::SeqCst), n);
    }
    // Open: fast failures that never reach it.
    for _ in 0..2 {
        let res = post(&server).await?;
        let problem = assert_problem(&res, 502)?;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("refused for now"), "{problem}");
    }
    assert_eq!(up.hits.load(Ordering::SeqCst), 3);

    // Half-open after the reset timeout: one probe goes through; its success closes.
    up.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(reset + Duration::from_millis(100)).await;
    let probe = post(&server).await?;
    assert_eq!(probe.status(), 200, "{}", text(&probe));
    assert_eq!(up.hits.load(Ordering::SeqCst), 4);
    let closed = post(&server).await?;
    assert_eq!(closed.status(), 200, "{}", text(&closed));
    assert_eq!(up.hits.load(Ordering::SeqCst), 5);
    Ok(())
}

#[tokio::test]
async fn concurrent_writes_are_all_kept() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&fixtures_app(9))?;
    let server = dir
        .up(&[("SPIN_VARIABLE_TOKEN", "t")], OutboundConfig::default())
        .await?;
    let addr = server.addr;
    let writes: Vec<_> = (0..32)
        .map(|i| {
            tokio::spawn(async move {
                let body = format!("value {i}");
                send(
                    addr,
                    Proto::Http1,
                    request_with("PUT", &format!("/kv/default/key-{i}"), &[], &body)?,
                )
                .await
            })
        })
        .collect();
    for write in writes {
        assert_eq!(write.await??.status(), 204);
    }
    for i in 0..32 {
        let res = server.get(&format!("/kv/default/key-{i}")).await?;
        assert_eq!(text(&res), format!("value {i}"));
    }
    Ok(())
}

/// Accepts connections and never sends a byte.
async fn silent_upstream() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(addr)
}

#[tokio::test]
async fn outbound_requests_in_flight_are_capped_and_the_slot_comes_back() -> anyhow::Result<()> {
    let silent = silent_upstream().await?;
    let dir = AppDir::fixtures(&fixtures_app(silent.port()))?;
    let limits = OutboundConfig {
        first_byte_timeout: Duration::from_millis(1500),
        max_total: 1,
        ..OutboundConfig::default()
    };
    let server = dir.up(&[("SPIN_VARIABLE_TOKEN", "t")], limits).await?;
    let url = format!("/fetch?url=http://{silent}/");
    let holding = server.get(&url);
    let refused = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        let res = server.get(&url).await;
        (res, started.elapsed())
    };
    let (holding, (refused, waited)) = tokio::join!(holding, refused);
    let refused = refused?;
    assert_eq!(refused.status(), 502, "{}", text(&refused));
    assert!(
        text(&refused).contains("too many outbound requests"),
        "{}",
        text(&refused)
    );
    assert!(
        waited < Duration::from_secs(1),
        "refused at once: {waited:?}"
    );
    // The first one ran its course (the upstream never answers).
    let holding = holding?;
    assert!(text(&holding).contains("Timeout"), "{}", text(&holding));
    // Its slot is free again.
    let res = server.get(&url).await?;
    assert!(text(&res).contains("Timeout"), "{}", text(&res));
    Ok(())
}

#[tokio::test]
async fn a_tls_handshake_that_never_ends_is_cut() -> anyhow::Result<()> {
    let silent = silent_upstream().await?;
    let manifest = fixtures_app(silent.port()).replace(
        "\"http://127.0.0.1:{{ upstream_port }}\"",
        "\"https://127.0.0.1:{{ upstream_port }}\"",
    );
    assert!(manifest.contains("https://127.0.0.1"), "{manifest}");
    let dir = AppDir::fixtures(&manifest)?;
    let limits = OutboundConfig {
        connect_timeout: Duration::from_millis(300),
        first_byte_timeout: Duration::from_millis(300),
        ..OutboundConfig::default()
    };
    let server = dir.up(&[("SPIN_VARIABLE_TOKEN", "t")], limits).await?;
    let started = std::time::Instant::now();
    let res = server.get(&format!("/fetch?url=https://{silent}/")).await?;
    assert_eq!(res.status(), 502, "{}", text(&res));
    assert!(text(&res).contains("Timeout"), "{}", text(&res));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn a_silent_upstream_is_cut_at_the_hosts_first_byte_timeout() -> anyhow::Result<()> {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let silent = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let dir = AppDir::fixtures(&fixtures_app(silent.port()))?;
    let defaults = OutboundConfig {
        first_byte_timeout: Duration::from_millis(300),
        ..OutboundConfig::default()
    };
    let server = dir.up(&[("SPIN_VARIABLE_TOKEN", "t")], defaults).await?;
    let started = std::time::Instant::now();
    let res = server.get(&format!("/fetch?url=http://{silent}/")).await?;
    assert_eq!(res.status(), 502, "{}", text(&res));
    assert!(text(&res).contains("Timeout"), "{}", text(&res));
    assert!(started.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[tokio::test]
async fn the_application_base_prefixes_every_route() -> anyhow::Result<()> {
    let manifest = r#"
spin_manifest_version = 2

[application]
name = "based"
[application.trigger.http]
base = "/base"

[[trigger.http]]
route = "/b/..."
component = "main"

[component.main]
source = "fixtures.wasm"
"#;
    let dir = AppDir::fixtures(manifest)?;
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let res = server.get("/base/b/request").await?;
    let seen = text(&res);
    assert_eq!(res.status(), 200, "{seen}");
    for line in [
        "spin-path-info: /request",
        "spin-matched-route: /base/b/...",
        "spin-raw-component-route: /b/...",
        "spin-component-route: /b",
        "spin-base-path: /base",
    ] {
        assert!(seen.contains(line), "missing `{line}` in:\n{seen}");
    }
    assert_problem(&server.get("/b/request").await?, 404)?;
    Ok(())
}

async fn a_silent_upstream_opens_the_circuit_through_the_clients_timeouts(
    example: &str,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let silent = listener.local_addr()?;
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let dir = AppDir::repository(example)?;
    let origin = format!("http://{silent}");
    let server = dir
        .up(
            &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
            breaker(1, Duration::from_secs(60)),
        )
        .await?;

    // The client's 2 s timeout abandons the first attempt: a failure, which opens the
    // circuit; the retry is refused at once, and a refusal is not retried.
    let first = server.get("/api/v1/upstream/x").await?;
    let problem = assert_problem(&first, 502)?;
    assert_eq!(problem["attempts"], 2, "{problem}");
    assert!(
        problem["detail"].to_string().contains("refused for now"),
        "{problem}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let started = std::time::Instant::now();
    let second = server.get("/api/v1/upstream/x").await?;
    let problem = assert_problem(&second, 502)?;
    assert_eq!(problem["attempts"], 1, "{problem}");
    assert!(started.elapsed() < Duration::from_secs(1), "failed fast");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no new connection while open"
    );
    Ok(())
}

async fn racing_writers_holding_the_same_etag_lose_no_update(example: &str) -> anyhow::Result<()> {
    let dir = AppDir::repository(example)?;
    let auth = writer();
    let json_type = ("content-type", "application/json");
    let server = dir.up(&[], OutboundConfig::default()).await?;
    let location = create_user(&server, "Edsger Dijkstra", "ewd@example.org").await?;
    let etag = server.get(&location).await?.headers()["etag"]
        .to_str()?
        .to_owned();

    let addr = server.addr;
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (location, etag, auth) = (location.clone(), etag.clone(), auth.clone());
            tokio::spawn(async move {
                let body = format!(r#"{{"name":"Writer {i}","email":"ewd@example.org"}}"#);
                let res = send(
                    addr,
                    Proto::Http1,
                    request_with(
                        "PUT",
                        &location,
                        &[json_type, ("authorization", &auth), ("if-match", &etag)],
                        &body,
                    )?,
                )
                .await?;
                anyhow::Ok((i, res.status().as_u16()))
            })
        })
        .collect();
    let mut won = Vec::new();
    for writer in writers {
        let (i, status) = writer.await??;
        match status {
            200 => won.push(i),
            412 => {}
            other => anyhow::bail!("writer {i} got {other}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one writer wins: {won:?}");
    let name = json(&server.get(&location).await?)?["name"].clone();
    assert_eq!(name, format!("Writer {}", won[0]).as_str());
    Ok(())
}

/// RFC 9110 §9.3.2: HEAD answers with GET's status and header fields and no content, on
/// every kind of route: plain, cached, an item, server-sent events (a stream), the
/// upstream proxy and a 404; over HTTP/1.1 and HTTP/2; and the guest never declares a
/// length it then fails to match.
async fn head_answers_gets_header_fields_on_every_route(example: &str) -> anyhow::Result<()> {
    let upstream = upstream(false).await?;
    let dir = AppDir::repository(example)?;
    let origin = format!("http://{}", upstream.addr);
    let server = dir
        .up(
            &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
            OutboundConfig::default(),
        )
        .await?;
    let user = create_user(&server, "Ada Lovelace", "ada@example.com").await?;
    // Fields that differ between any two responses, or that frame the content sent.
    let framing = [
        "date",
        "x-request-id",
        "transfer-encoding",
        "content-length",
    ];
    let fields = |res: &http::Response<Bytes>| -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter(|(name, _)| !framing.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        fields.sort();
        fields
    };
    for path in [
        "/api/health",
        "/api/v1/users",
        user.as_str(),
        "/api/v1/greeting",
        "/api/v1/events?count=2",
        "/api/v1/upstream/hello",
        "/api/v1/nope",
    ] {
        for proto in [Proto::Http1, Proto::Http2] {
            let get = send(server.addr, proto, request_with("GET", path, &[], "")?).await?;
            let head = send(server.addr, proto, request_with("HEAD", path, &[], "")?).await?;
            assert_eq!(head.status(), get.status(), "{proto:?} HEAD {path}");
            assert!(head.body().is_empty(), "{proto:?} HEAD {path} sent content");
            assert_eq!(fields(&head), fields(&get), "{proto:?} HEAD {path}");
            // Any length HEAD declares is GET's.
            if let Some(length) = head.headers().get("content-length") {
                assert_eq!(
                    length.to_str()?.parse::<usize>()?,
                    get.body().len(),
                    "{proto:?} HEAD {path}"
                );
            }
        }
    }
    // In-process the guest's body is read to its end, which is where wasi-http holds it to
    // any length it declared: a HEAD answer declaring GET's length fails here.
    let harness = host::Harness::load(example)?;
    for path in ["/api/health", "/api/v1/users", "/api/v1/greeting"] {
        let get = harness.send(http::Request::get(path).body("")?).await?;
        let head = harness.send(http::Request::head(path).body("")?).await?;
        assert_eq!(head.status(), 200, "HEAD {path}: {:?}", head.body());
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert!(head.body().is_empty());
    }
    Ok(())
}

crate::each_world!(
    head_answers_gets_header_fields_on_every_route,
    a_user_survives_a_restart_of_the_host,
    writes_need_the_current_etag_in_if_match,
    the_example_greeting_is_configured_by_a_variable,
    the_allowed_upstream_answers_and_an_unlisted_host_is_denied,
    gets_are_retried_and_posts_never,
    the_breaker_opens_fails_fast_half_opens_and_closes,
    a_silent_upstream_opens_the_circuit_through_the_clients_timeouts,
    racing_writers_holding_the_same_etag_lose_no_update,
);

/// An upstream that holds every response until `release` fires, and says when a request
/// has reached it.
async fn gated_upstream() -> anyhow::Result<(
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    tokio::sync::watch::Sender<bool>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
    let (release, released) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (arrived_tx, released) = (arrived_tx.clone(), released.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let _ = arrived_tx.send(());
                    let mut released = released.clone();
                    async move {
                        let _ = released.wait_for(|open| *open).await;
                        http::Response::builder()
                            .header("content-type", "text/plain")
                            .body(Full::new(Bytes::from_static(b"released")))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, arrived, release))
}

/// While one request waits for its upstream, the same instance (the only one there may be)
/// answers another: the upstream lets the first go only once the second has its answer. The
/// toolkit's handlers are async and its WASI 0.3 client awaits `wasi:http/client@0.3`; on
/// wasmtime 48 the old blocking 0.2 client passes this too (wasmtime suspends a blocking
/// call on a fiber stack of its own), so what this test holds is the pool: with one stack
/// per instance slot, the second waiting request found none and failed the instance (500).
/// The toolkit's own test `a_waiting_handler_lets_other_requests_through` is the one that
/// fails for handlers that block.
#[tokio::test]
async fn a_request_waiting_on_its_upstream_does_not_hold_up_its_instance() -> anyhow::Result<()> {
    let (addr, mut arrived, release) = gated_upstream().await?;
    let dir = AppDir::repository(crate::support::EXAMPLE_P3_WASM)?;
    let origin = format!("http://{addr}");
    let one_instance = RuntimeConfig {
        max_instances: 1,
        ..RuntimeConfig::default()
    };
    let loaded = dir.load(
        &[("SPIN_VARIABLE_UPSTREAM_ORIGIN", &origin)],
        one_instance,
        OutboundConfig::default(),
    )?;
    let server = TestServer::serve(loaded.app, ServerConfig::default()).await?;
    let waiting = tokio::spawn({
        let addr = server.addr;
        async move {
            let req = crate::support::request("GET", "/api/v1/upstream/slow", "")?;
            send(addr, Proto::Http1, req).await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), arrived.recv())
        .await
        .context("the first request reached the upstream")?;
    let health = server.get("/api/health").await?;
    assert_eq!(health.status(), 200, "{}", text(&health));
    assert!(text(&health).contains("healthy"), "{}", text(&health));
    release.send(true)?;
    let proxied = waiting.await??;
    assert_eq!(proxied.status(), 200, "{}", text(&proxied));
    assert_eq!(text(&proxied), "released");
    Ok(())
}
