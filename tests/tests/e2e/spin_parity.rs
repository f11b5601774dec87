//! What Spin applications use beyond HTTP, key-value and variables: plain core modules,
//! `wasi:sockets` TCP granted by `allowed_outbound_hosts`, `sqlite_databases` (through
//! spin-sdk 5.2's `fermyon:spin/sqlite@2.0.0` and spin-sdk 7's `spin:sqlite@3.1.0`); and an
//! access log that says an empty response was sent whole.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{
    FIXTURES_MODULE_WASM, FIXTURES_WASM, Proto, SPIN7_WASM, TestServer, request, send,
};
use crate::up::{AppDir, text};

fn app(component: &str, extra: &str) -> String {
    format!(
        r#"spin_manifest_version = 2

[application]
name = "parity"

[[trigger.http]]
route = "/..."
component = "main"

[component.main]
source = "{component}"
{extra}
"#
    )
}

#[tokio::test]
async fn a_core_module_is_made_a_component_and_served_by_up() -> anyhow::Result<()> {
    let module = std::fs::read(FIXTURES_MODULE_WASM)?;
    assert!(
        wasmparser::Parser::is_core_wasm(&module),
        "the fixture is a plain core module"
    );
    let dir = AppDir::with_component(FIXTURES_MODULE_WASM, "module.wasm", &app("module.wasm", ""))?;
    let server = dir.serve(&[]).await?;
    let ok = server.get("/ok").await?;
    assert_eq!(ok.status(), 200, "{}", text(&ok));
    assert_eq!(ok.body().as_ref(), b"ok");
    // Its WASI imports, through the preview-1 adapter, work: stdout, environment.
    let env = server.get("/env/NOPE").await?;
    assert_eq!(env.status(), 404, "{}", text(&env));
    Ok(())
}

#[tokio::test]
async fn a_module_without_component_type_is_refused_by_name() -> anyhow::Result<()> {
    let dir = AppDir::with_component(FIXTURES_WASM, "x.wasm", &app("plain.wasm", ""))?;
    // (module (func (export "f"))): valid, but nothing says what it imports or exports.
    let bare = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";
    std::fs::write(dir.root.join("plain.wasm"), bare)?;
    let err = dir
        .load(&[], Default::default(), Default::default())
        .expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("core module without component-type metadata"),
        "{message}"
    );
    Ok(())
}

/// An echo server on 127.0.0.1: answers each connection with what it read.
async fn echo_server() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                if socket.read_to_end(&mut buf).await.is_ok() {
                    let _ = socket.write_all(&buf).await;
                }
            });
        }
    });
    Ok(addr)
}

async fn tcp(server: &TestServer, to: SocketAddr, message: &str) -> anyhow::Result<(u16, String)> {
    let res = server
        .call("POST", &format!("/tcp/{to}"), &[], message)
        .await?;
    Ok((res.status().as_u16(), text(&res)))
}

#[tokio::test]
async fn tcp_reaches_exactly_the_allowed_addresses_and_ports() -> anyhow::Result<()> {
    let allowed = echo_server().await?;
    let other_port = echo_server().await?;
    let rules = format!(
        "allowed_outbound_hosts = [\"*://127.0.0.1:{}\", \"http://127.0.0.1:{}\"]",
        allowed.port(),
        other_port.port()
    );
    let dir = AppDir::fixtures(&app("fixtures.wasm", &rules))?;
    let server = dir.serve(&[]).await?;
    assert_eq!(
        tcp(&server, allowed, "hello over tcp").await?,
        (200, "hello over tcp".to_owned())
    );
    // Another port of the same address, though an http:// rule names it.
    let (status, body) = tcp(&server, other_port, "x").await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("access-denied"), "{body}");
    // Another address, same port.
    let elsewhere = SocketAddr::from(([127, 0, 0, 2], allowed.port()));
    let (status, body) = tcp(&server, elsewhere, "x").await?;
    assert_eq!(status, 403, "{body}");
    // And the server goes on.
    assert_eq!(tcp(&server, allowed, "again").await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn a_cidr_rule_allows_the_addresses_inside_it() -> anyhow::Result<()> {
    let echo = echo_server().await?;
    let rules = "allowed_outbound_hosts = [\"tcp://127.0.0.0/24:*\"]";
    let dir = AppDir::fixtures(&app("fixtures.wasm", rules))?;
    let server = dir.serve(&[]).await?;
    assert_eq!(
        tcp(&server, echo, "inside").await?,
        (200, "inside".to_owned())
    );
    let outside = SocketAddr::from(([127, 0, 1, 1], echo.port()));
    assert_eq!(tcp(&server, outside, "x").await?.0, 403);
    Ok(())
}

#[tokio::test]
async fn a_wildcard_rule_does_not_reach_internal_addresses() -> anyhow::Result<()> {
    let echo = echo_server().await?;
    // `*://*:*` grants sockets to the world, not to the host's own loopback (SSRF).
    let dir = AppDir::fixtures(&app(
        "fixtures.wasm",
        "allowed_outbound_hosts = [\"*://*:*\"]",
    ))?;
    let server = dir.serve(&[]).await?;
    let (status, body) = tcp(&server, echo, "x").await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("access-denied"), "{body}");
    // A rule that names `localhost` does reach it.
    let rules = format!(
        "allowed_outbound_hosts = [\"tcp://localhost:{}\"]",
        echo.port()
    );
    let dir = AppDir::fixtures(&app("fixtures.wasm", &rules))?;
    let server = dir.serve(&[]).await?;
    assert_eq!(
        tcp(&server, echo, "named").await?,
        (200, "named".to_owned())
    );
    Ok(())
}

/// An address whose connects are never answered, as behind a firewall that drops: a
/// listener that accepts nothing, its queue already full (Linux then drops the SYN). The
/// listener and the queued connections must outlive the test.
fn unanswered() -> anyhow::Result<(
    tokio::net::TcpListener,
    Vec<std::net::TcpStream>,
    SocketAddr,
)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = socket.listen(1)?;
    let addr = listener.local_addr()?;
    let mut queued = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                return Ok((listener, queued, addr));
            }
            Err(err) => return Err(err.into()),
        }
    }
    anyhow::bail!("the listener's queue never filled")
}

/// `up` serving the fixture `wasm`, whose sockets may reach `silent` and `echo` only, its
/// connects limited to 400 ms.
async fn connecting(
    wasm: &str,
    silent: SocketAddr,
    echo: SocketAddr,
) -> anyhow::Result<(AppDir, TestServer)> {
    let rules = format!("allowed_outbound_hosts = [\"tcp://{silent}\", \"tcp://{echo}\"]");
    let dir = AppDir::with_component(wasm, "fixtures.wasm", &app("fixtures.wasm", &rules))?;
    let outbound = host::OutboundConfig {
        connect_timeout: Duration::from_millis(400),
        ..host::OutboundConfig::default()
    };
    let loaded = dir.load(&[], host::RuntimeConfig::default(), outbound)?;
    let server = TestServer::serve(loaded.app, host::ServerConfig::default()).await?;
    Ok((dir, server))
}

/// A TCP connect takes at most `--outbound-connect-timeout`: past it the guest gets
/// `timeout` and answers for itself, well before its request's deadline (30 s), while the
/// kernel would go on trying for two minutes.
#[tokio::test]
async fn a_tcp_connect_that_is_never_answered_times_out() -> anyhow::Result<()> {
    let (_listener, _queued, silent) = unanswered()?;
    let echo = echo_server().await?;
    let (_dir, server) = connecting(FIXTURES_WASM, silent, echo).await?;
    let (status, body) = tcp(&server, silent, "x").await?;
    assert_eq!(status, 502, "{body}");
    assert!(body.starts_with("connect: "), "{body}");
    assert!(body.contains("timeout"), "{body}");
    // A connect that is answered still goes through, on the next instance.
    assert_eq!(
        tcp(&server, echo, "answered").await?,
        (200, "answered".to_owned())
    );
    Ok(())
}

/// The same limit on WASI 0.3's `connect`.
#[tokio::test]
async fn a_0_3_tcp_connect_that_is_never_answered_times_out() -> anyhow::Result<()> {
    let (_listener, _queued, silent) = unanswered()?;
    let echo = echo_server().await?;
    let (_dir, server) = connecting(crate::support::FIXTURES_P3_WASM, silent, echo).await?;
    let (status, body) = body_of(&server, &format!("/connect/{silent}")).await?;
    assert_eq!(status, 502, "{body}");
    assert!(body.to_lowercase().contains("timeout"), "{body}");
    let (status, body) = body_of(&server, &format!("/connect/{echo}")).await?;
    assert_eq!((status, body.as_str()), (200, "connected"));
    // A denied address is still denied, not timed out.
    let (status, body) = body_of(&server, "/connect/127.0.0.1:9").await?;
    assert_eq!(status, 502, "{body}");
    assert!(body.to_lowercase().contains("accessdenied"), "{body}");
    Ok(())
}

/// Each socket is a host file descriptor: an instance holds at most `max_sockets` at once
/// (the next is `new-socket-limit`), and a closed one gives its place back.
#[tokio::test]
async fn an_instance_holds_at_most_its_share_of_sockets() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&app(
        "fixtures.wasm",
        "allowed_outbound_hosts = [\"tcp://127.0.0.1:9\"]",
    ))?;
    let runtime = host::RuntimeConfig {
        limits: host::GuestLimits {
            max_sockets: 4,
            ..host::GuestLimits::default()
        },
        ..host::RuntimeConfig::default()
    };
    let loaded = dir.load(&[], runtime, Default::default())?;
    let server = TestServer::serve(loaded.app, host::ServerConfig::default()).await?;
    let (status, body) = body_of(&server, "/sockets/4").await?;
    assert_eq!((status, body.as_str()), (200, "4"));
    let (status, body) = body_of(&server, "/sockets/5").await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("socket 4: "), "{body}");
    assert!(body.contains("new-socket-limit"), "{body}");
    // Closed sockets make room: ten in turn, never more than one open.
    let (status, body) = body_of(&server, "/sockets/10/churn").await?;
    assert_eq!((status, body.as_str()), (200, "10"));
    // And the next request's instance has its own allowance.
    assert_eq!(body_of(&server, "/sockets/4").await?.0, 200);
    Ok(())
}

/// The same bound for WASI 0.3 sockets (`wasi:sockets/types@0.3`).
#[tokio::test]
async fn a_0_3_instance_holds_at_most_its_share_of_sockets() -> anyhow::Result<()> {
    let dir = AppDir::with_component(
        crate::support::FIXTURES_P3_WASM,
        "fixtures.wasm",
        &app(
            "fixtures.wasm",
            "allowed_outbound_hosts = [\"tcp://127.0.0.1:9\"]",
        ),
    )?;
    let runtime = host::RuntimeConfig {
        limits: host::GuestLimits {
            max_sockets: 4,
            ..host::GuestLimits::default()
        },
        ..host::RuntimeConfig::default()
    };
    let loaded = dir.load(&[], runtime, Default::default())?;
    let server = TestServer::serve(loaded.app, host::ServerConfig::default()).await?;
    let (status, body) = body_of(&server, "/sockets/4").await?;
    assert_eq!((status, body.as_str()), (200, "4"));
    let (status, body) = body_of(&server, "/sockets/5").await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("socket 4: "), "{body}");
    assert!(body.contains("new-socket-limit"), "{body}");
    // The instance may serve the next request: the sockets it dropped are its again.
    assert_eq!(body_of(&server, "/sockets/4").await?.0, 200);
    Ok(())
}

async fn body_of(server: &TestServer, path: &str) -> anyhow::Result<(u16, String)> {
    let res = server.get(path).await?;
    Ok((res.status().as_u16(), text(&res)))
}

/// A UDP server that sends every datagram back.
async fn udp_echo_server() -> anyhow::Result<SocketAddr> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let addr = socket.local_addr()?;
    tokio::spawn(async move {
        let mut buf = vec![0; 64 * 1024];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    Ok(addr)
}

#[tokio::test]
async fn udp_reaches_exactly_the_allowed_addresses() -> anyhow::Result<()> {
    let allowed = udp_echo_server().await?;
    let other = udp_echo_server().await?;
    let rules = format!(
        "allowed_outbound_hosts = [\"udp://127.0.0.1:{}\"]",
        allowed.port()
    );
    let dir = AppDir::fixtures(&app("fixtures.wasm", &rules))?;
    let server = dir.serve(&[]).await?;
    let call = |to: SocketAddr, message: &'static str| {
        let server = &server;
        async move {
            let res = server
                .call("POST", &format!("/udp/{to}"), &[], message)
                .await?;
            anyhow::Ok((res.status().as_u16(), text(&res)))
        }
    };
    assert_eq!(
        call(allowed, "hello over udp").await?,
        (200, "hello over udp".to_owned())
    );
    let (status, body) = call(other, "x").await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("send"), "{body}");
    Ok(())
}

#[tokio::test]
async fn without_a_rule_no_socket_is_opened() -> anyhow::Result<()> {
    let echo = echo_server().await?;
    let server = TestServer::start(FIXTURES_WASM).await?;
    let (status, body) = tcp(&server, echo, "x").await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("create-tcp-socket"), "{body}");
    Ok(())
}

async fn sql(server: &TestServer, db: &str, lines: &[&str]) -> anyhow::Result<(u16, String)> {
    let res = server
        .call("POST", &format!("/sqlite/{db}"), &[], &lines.join("\n"))
        .await?;
    Ok((res.status().as_u16(), text(&res)))
}

#[tokio::test]
async fn sqlite_data_survives_a_restart_and_unlisted_databases_are_denied() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(&app(
        "fixtures.wasm",
        "sqlite_databases = [\"default\", \"audit\"]",
    ))?;
    let server = dir.serve(&[]).await?;
    let (status, body) = sql(
        &server,
        "default",
        &["CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, weight REAL)"],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    for (name, weight) in [("Rex", "r:12.5"), ("Robert'); DROP TABLE pets;--", "null")] {
        let name = format!("t:{name}");
        let (status, body) = sql(
            &server,
            "default",
            &[
                "INSERT INTO pets (name, weight) VALUES (?, ?)",
                &name,
                weight,
            ],
        )
        .await?;
        assert_eq!(status, 200, "{body}");
    }
    let select = [
        "SELECT id, name, weight FROM pets WHERE id >= ? ORDER BY id",
        "i:1",
    ];
    let expected = "id|name|weight\n1|Rex|12.5\n2|Robert'); DROP TABLE pets;--|null\n";
    assert_eq!(
        sql(&server, "default", &select).await?,
        (200, expected.to_owned())
    );
    // A bad statement is the guest's error to read, and the database goes on.
    let (status, body) = sql(&server, "default", &["SELECT * FROM nowhere"]).await?;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no such table"), "{body}");
    // A listed label of its own.
    let (status, body) = sql(
        &server,
        "audit",
        &["SELECT count(*) AS n FROM sqlite_schema"],
    )
    .await?;
    assert_eq!((status, body.as_str()), (200, "n\n0\n"));
    // Unlisted: denied, whatever exists.
    let (status, body) = sql(&server, "other", &["SELECT 1"]).await?;
    assert_eq!((status, body.as_str()), (403, "access-denied"));
    // No way out of the database.
    let (status, body) = sql(&server, "default", &["ATTACH DATABASE '/tmp/x.db' AS x"]).await?;
    assert_eq!(status, 500, "{body}");
    server.shutdown().await?;

    assert!(
        dir.root.join(".spin/sqlite_db.db").is_file(),
        "Spin's file name"
    );
    assert!(dir.root.join(".spin/audit.db").is_file());
    let server = dir.serve(&[]).await?;
    assert_eq!(
        sql(&server, "default", &select).await?,
        (200, expected.to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn a_spin_sdk_7_component_uses_sqlite_on_the_same_databases() -> anyhow::Result<()> {
    let dir = AppDir::with_component(
        SPIN7_WASM,
        "spin7.wasm",
        &app("spin7.wasm", "sqlite_databases = [\"default\"]"),
    )?;
    let server = dir.serve(&[]).await?;
    let (status, body) = sql(
        &server,
        "default",
        &["CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"],
    )
    .await?;
    assert_eq!(
        (status, body.as_str()),
        (200, "\nrowid=0 changes=0"),
        "nothing inserted yet"
    );
    for (text, rowid) in [("first", 1), ("second", 2)] {
        let (status, body) = sql(
            &server,
            "default",
            &["INSERT INTO notes (text) VALUES (?)", &format!("t:{text}")],
        )
        .await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, format!("\nrowid={rowid} changes=1"));
    }
    let (status, body) = sql(&server, "default", &["UPDATE notes SET text = upper(text)"]).await?;
    // Each request opens a connection of its own: no insert on this one.
    assert_eq!((status, body.as_str()), (200, "\nrowid=0 changes=2"));
    // The rows come back through the interface's stream.
    let select = ["SELECT id, text FROM notes ORDER BY id"];
    let (status, body) = sql(&server, "default", &select).await?;
    assert_eq!(
        (status, body.as_str()),
        (200, "id|text\n1|FIRST\n2|SECOND\nrowid=0 changes=0")
    );
    let (status, body) = sql(&server, "default", &["SELECT * FROM nowhere"]).await?;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no such table"), "{body}");
    let (status, body) = sql(&server, "audit", &["SELECT 1"]).await?;
    assert_eq!((status, body.as_str()), (403, "access-denied"));
    server.shutdown().await?;

    // The same file, read by a spin-sdk 5.2 (fermyon:spin/sqlite@2.0.0) component.
    std::fs::copy(FIXTURES_WASM, dir.root.join("fixtures.wasm"))?;
    std::fs::write(
        dir.root.join("spin.toml"),
        app("fixtures.wasm", "sqlite_databases = [\"default\"]"),
    )?;
    let server = dir.serve(&[]).await?;
    assert_eq!(
        sql(&server, "default", &select).await?,
        (200, "id|text\n1|FIRST\n2|SECOND\n".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn an_empty_response_is_logged_complete() -> anyhow::Result<()> {
    let log = crate::support::access_log();
    let server = TestServer::start(FIXTURES_WASM).await?;
    for (proto, tag) in [(Proto::Http1, "h1"), (Proto::Http2, "h2c")] {
        let path = format!("/empty?proto={tag}");
        let res = send(server.addr, proto, request("GET", &path, "")?).await?;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-length"], "0");
        assert!(res.body().is_empty());
        let line = log
            .wait_for(&format!("path={path}"), Duration::from_secs(5))
            .await?;
        assert!(line.contains("complete=true"), "{line}");
        assert!(line.contains("bytes=0"), "{line}");
    }
    Ok(())
}
