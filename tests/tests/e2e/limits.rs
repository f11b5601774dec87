//! Limits the server enforces around the guest: body and header sizes, slow clients,
//! requests in flight.

use std::time::Duration;

use host::{RuntimeConfig, ServerConfig, ServerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    FIXTURES_WASM, Proto, TestServer, assert_problem, fixtures_with as fixtures, raw_exchange,
    request, send,
};

/// Whether `/ok` is answered 200 within `tries` attempts 100 ms apart, each given 2 s (a
/// request that hangs counts as not answered).
async fn answers_ok_within(server: &TestServer, tries: u32) -> bool {
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let res = tokio::time::timeout(Duration::from_secs(2), server.get("/ok")).await;
        if res.is_ok_and(|res| res.is_ok_and(|res| res.status() == 200)) {
            return true;
        }
    }
    false
}

fn small_body_limit() -> ServerLimits {
    ServerLimits {
        max_body_bytes: 1024,
        ..ServerLimits::default()
    }
}

#[tokio::test]
async fn bodies_up_to_the_limit_reach_the_guest() -> anyhow::Result<()> {
    let server = fixtures(small_body_limit()).await?;
    let body: &'static str = Box::leak("x".repeat(1024).into_boxed_str());
    let res = send(server.addr, Proto::Http1, request("POST", "/echo", body)?).await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_ref(), b"1024");
    Ok(())
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413() -> anyhow::Result<()> {
    let server = fixtures(small_body_limit()).await?;
    let body: &'static str = Box::leak("x".repeat(1025).into_boxed_str());
    let res = send(server.addr, Proto::Http1, request("POST", "/echo", body)?).await?;
    assert_problem(&res, 413)?;
    Ok(())
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit_with_413() -> anyhow::Result<()> {
    let server = fixtures(small_body_limit()).await?;
    let chunk = "y".repeat(600);
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
         258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = raw_exchange(&server, raw.as_bytes()).await?;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    Ok(())
}

#[tokio::test]
async fn an_oversized_header_section_is_431() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits::default()).await?;
    let raw = format!(
        "GET /ok HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "z".repeat(64 * 1024)
    );
    let answer = raw_exchange(&server, raw.as_bytes()).await?;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert_eq!(server.get("/ok").await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_slow_client_is_disconnected_without_holding_others_up() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ServerLimits::default()
    })
    .await?;
    let mut slow = TcpStream::connect(server.addr).await?;
    slow.write_all(b"GET /ok HTTP/1.1\r\nHost: local").await?;

    // Others are served meanwhile.
    assert_eq!(server.get("/ok").await?.status(), 200);

    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "the slow connection was closed by the server"
    );
    Ok(())
}

/// One client address holds at most `max_in_flight_per_client` slots: its next request is
/// 429 with `Retry-After` at once, while a client from another address is served.
#[tokio::test]
async fn one_client_cannot_take_every_in_flight_slot() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        max_in_flight_per_client: 2,
        ..ServerLimits::default()
    })
    .await?;
    let addr = server.addr;
    let holding: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(async move {
                send(addr, Proto::Http1, request("GET", "/hold/1500", "")?).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;

    let refused = server.get("/ok").await?;
    assert_problem(&refused, 429)?;
    assert_eq!(refused.headers()["retry-after"], "1");

    // Another address (all of 127.0.0.0/8 is loopback) is its own client.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse()?)?;
    let stream = socket.connect(addr).await?;
    let other = crate::support::send_on(
        hyper_util::rt::TokioIo::new(stream),
        Proto::Http1,
        request("GET", "/ok", "")?,
    )
    .await?;
    assert_eq!(other.status(), 200);

    for held in holding {
        assert_eq!(held.await??.status(), 200);
    }
    assert_eq!(
        server.get("/ok").await?.status(),
        200,
        "the client's slots came back"
    );
    Ok(())
}

#[tokio::test]
async fn requests_over_the_in_flight_limit_get_503_with_retry_after() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        max_in_flight: 1,
        ..ServerLimits::default()
    })
    .await?;
    let addr = server.addr;
    let slow =
        tokio::spawn(async move { send(addr, Proto::Http1, request("GET", "/slow", "")?).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rejected = server.get("/ok").await?;
    assert_problem(&rejected, 503)?;
    assert_eq!(rejected.headers()["retry-after"], "1");

    assert_eq!(slow.await??.status(), 200);
    assert_eq!(server.get("/ok").await?.status(), 200, "capacity is back");
    Ok(())
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        idle_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    })
    .await?;
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await?;
    let conn = tokio::spawn(conn);
    let mut req = request("GET", "http://localhost/ok", "")?;
    req.headers_mut().remove("host");
    let res = sender.send_request(req).await?;
    assert_eq!(res.status(), 200);

    // The server sends GOAWAY once the connection has been idle long enough.
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(
        ended.is_ok(),
        "the idle connection was closed by the server"
    );
    Ok(())
}

#[tokio::test]
async fn the_connection_limit_queues_new_clients_until_one_leaves() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        max_connections: 1,
        ..ServerLimits::default()
    })
    .await?;
    // The first client holds the only connection slot with a kept-alive connection.
    let mut first = TcpStream::connect(server.addr).await?;
    first
        .write_all(b"GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut buf = [0u8; 1024];
    let n = first.read(&mut buf).await?;
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // A second client is accepted by the kernel but not served while the slot is taken.
    let addr = server.addr;
    let second =
        tokio::spawn(async move { send(addr, Proto::Http1, request("GET", "/ok", "")?).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "served beyond the connection limit");

    drop(first);
    let res = tokio::time::timeout(Duration::from_secs(5), second).await???;
    assert_eq!(res.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_silent_connection_gets_only_the_header_read_timeout() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(60),
        ..ServerLimits::default()
    })
    .await?;
    // Not a byte: the protocol (HTTP/1.1 or HTTP/2) is never even known.
    let mut silent = TcpStream::connect(server.addr).await?;
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "closed long before the 60 s idle timeout");
    // Half an HTTP/2 preface, likewise.
    let mut slow = TcpStream::connect(server.addr).await?;
    slow.write_all(b"PRI * HTTP/2.0\r\n").await?;
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "closed long before the 60 s idle timeout");
    Ok(())
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_frees_its_slot() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        max_in_flight: 1,
        send_timeout: Duration::from_millis(500),
        ..ServerLimits::default()
    })
    .await?;
    // Far more than the socket buffers hold, and never read.
    let mut stalled = TcpStream::connect(server.addr).await?;
    stalled
        .write_all(b"GET /big/268435456 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_problem(&server.get("/ok").await?, 503)?;

    // Once the send timeout has passed, the slot is free again.
    assert!(
        answers_ok_within(&server, 50).await,
        "the stalled response still holds the only slot"
    );
    drop(stalled);
    Ok(())
}

// On several threads, as the server runs: the spinning guest must not hold up the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_reset_before_its_answer_stops_its_guest() -> anyhow::Result<()> {
    // One instance in all: a guest left running would keep it from the next request.
    let runtime = RuntimeConfig {
        max_instances: 1,
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await?;
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await?;
    tokio::spawn(conn);
    let mut req = request("GET", "http://localhost/loop", "")?;
    req.headers_mut().remove("host");
    // Dropping the response future resets the stream (RST_STREAM CANCEL).
    let pending = sender.send_request(req);
    let _ = tokio::time::timeout(Duration::from_millis(300), pending).await;

    // (Left alone, the guest spins until its 30 s deadline.)
    assert!(
        answers_ok_within(&server, 15).await,
        "the abandoned guest still holds the only instance"
    );
    Ok(())
}

#[tokio::test]
async fn head_over_http2_carries_no_content() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits::default()).await?;
    let res = send(server.addr, Proto::Http2, request("HEAD", "/ok", "")?).await?;
    assert_eq!(res.status(), 200);
    assert!(res.body().is_empty(), "{:?}", res.body());
    Ok(())
}

#[tokio::test]
async fn a_client_still_uploading_a_refused_body_reads_the_413() -> anyhow::Result<()> {
    let server = fixtures(small_body_limit()).await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    let size = 8 << 20;
    stream
        .write_all(
            format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    // The 413 is on its way as soon as the headers are read; the client uploads on (its
    // writes may fail once the server closes, which is not the point: the answer must
    // still be readable, not lost to a reset).
    let chunk = vec![b'u'; 64 * 1024];
    for _ in 0..size / chunk.len() {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(_))),
        "the answer is read in full, not cut by a reset: {read:?}"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    Ok(())
}

// On several threads, as the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_cannot_take_holds_no_slot_past_its_guest() -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        limits: host::GuestLimits {
            deadline: Duration::from_secs(1),
            ..host::GuestLimits::default()
        },
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(
        FIXTURES_WASM,
        runtime,
        ServerConfig {
            limits: ServerLimits {
                max_in_flight: 1,
                send_timeout: Duration::from_secs(2),
                ..ServerLimits::default()
            },
            ..ServerConfig::default()
        },
    )
    .await?;
    // An HTTP/2 client whose streams never open their flow-control window.
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(0)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await?;
    let conn = tokio::spawn(conn);
    let mut req = request("GET", "http://localhost/big/16777216", "")?;
    req.headers_mut().remove("host");
    let stuck = sender.send_request(req).await?;
    assert_eq!(stuck.status(), 200);

    // The body cannot move, but once the guest is done (or stopped at its deadline) the
    // slot is free for others.
    assert!(
        answers_ok_within(&server, 30).await,
        "the stuck response still holds the only slot"
    );

    // And after the send timeout the connection itself is closed.
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(ended.is_ok(), "the stalled connection is still open");
    drop(stuck);
    Ok(())
}

#[tokio::test]
async fn a_guest_streaming_with_pauses_longer_than_the_send_timeout_is_not_cut()
-> anyhow::Result<()> {
    // The fixture pauses 200 ms between lines: waiting for the guest is not a stall.
    let server = fixtures(ServerLimits {
        send_timeout: Duration::from_millis(100),
        ..ServerLimits::default()
    })
    .await?;
    for proto in [Proto::Http1, Proto::Http2] {
        let res = send(server.addr, proto, request("GET", "/slow", "")?).await?;
        assert_eq!(res.status(), 200);
        let text = String::from_utf8_lossy(res.body()).into_owned();
        assert_eq!(text.lines().count(), 5, "{text}");
    }
    Ok(())
}

/// Rapid reset (CVE-2023-44487) after the streams are accepted: a client that opens
/// requests and resets each while the guest works on it gets GOAWAY once it has abandoned
/// more than 200 in 10 s, and the streams it has left finish; other clients are served.
/// One that abandons a few is left alone.
#[tokio::test]
async fn a_client_resetting_stream_after_stream_gets_goaway() -> anyhow::Result<()> {
    // Abandoned requests keep their guest (and slot) for a moment: room for all of them.
    let server = fixtures(ServerLimits {
        max_in_flight_per_client: 256,
        ..ServerLimits::default()
    })
    .await?;
    let connect = || async {
        let stream = TcpStream::connect(server.addr).await?;
        let (sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await?;
        anyhow::Ok((sender, tokio::spawn(conn)))
    };
    let h2 = |path: &str| -> anyhow::Result<_> {
        let mut req = request("GET", &format!("http://localhost{path}"), "")?;
        req.headers_mut().remove("host");
        Ok(req)
    };
    // Sends `n` requests to a guest that holds each for a while, lets them reach it, then
    // drops them all: hyper's client resets each stream (RST_STREAM CANCEL).
    async fn abandon(
        sender: &hyper::client::conn::http2::SendRequest<http_body_util::Full<bytes::Bytes>>,
        requests: Vec<http::Request<http_body_util::Full<bytes::Bytes>>>,
    ) {
        let pending: Vec<_> = requests
            .into_iter()
            .map(|req| {
                let mut sender = sender.clone();
                tokio::spawn(async move { sender.send_request(req).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(150)).await;
        for task in pending {
            task.abort();
        }
    }

    // A few abandoned requests: the connection goes on serving.
    let (mut polite, _polite_conn) = connect().await?;
    abandon(
        &polite,
        (0..10).map(|_| h2("/hold/400")).collect::<Result<_, _>>()?,
    )
    .await;
    let res = polite.send_request(h2("/ok")?).await?;
    assert_eq!(res.status(), 200);

    // Hundreds: GOAWAY, and the connection ends.
    let (mut rude, rude_conn) = connect().await?;
    for _ in 0..6 {
        abandon(
            &rude,
            (0..50).map(|_| h2("/hold/400")).collect::<Result<_, _>>()?,
        )
        .await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), rude_conn).await;
    assert!(ended.is_ok(), "the server closed the abusive connection");
    assert!(
        rude.send_request(h2("/ok")?).await.is_err(),
        "no new stream on a connection that got GOAWAY"
    );

    // Everyone else is served, the polite connection included.
    assert_eq!(server.get("/ok").await?.status(), 200);
    let res = polite.send_request(h2("/ok")?).await?;
    assert_eq!(res.status(), 200);
    Ok(())
}

/// A request body that trickles in (slowloris on the body) is cut once the client has kept
/// it waiting for the header-read timeout plus a second per `min_body_rate` bytes: 408 and
/// the connection closed; a slow but steady body passes, and others are served meanwhile.
#[tokio::test]
async fn a_trickling_request_body_is_cut_off_with_408() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        min_body_rate: 1024,
        ..ServerLimits::default()
    })
    .await?;

    let mut trickle = TcpStream::connect(server.addr).await?;
    trickle
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nabc")
        .await?;
    let addr = server.addr;
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        // A byte every 400 ms: far below 1 KiB/s.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if trickle.write_all(b"x").await.is_err() {
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), trickle.read_to_end(&mut out)).await;
        (
            String::from_utf8_lossy(&out).into_owned(),
            started.elapsed(),
        )
    });
    // Served meanwhile.
    assert_eq!(server.get("/ok").await?.status(), 200);
    let (answer, took) = reader.await?;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(took < Duration::from_secs(9), "cut after {took:?}");

    // 6 KiB in three chunks 700 ms apart: slow, but it pays for its waits.
    let mut steady = TcpStream::connect(addr).await?;
    steady
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6144\r\nConnection: close\r\n\r\n")
        .await?;
    for _ in 0..3 {
        steady.write_all(&[b'y'; 2048]).await?;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), steady.read_to_end(&mut out)).await??;
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    assert!(
        body.contains("\r\n6144\r\n"),
        "all of it was read: {answer}"
    );
    Ok(())
}
