//! The toolkit through the real host: conditional requests, CORS, bearer JWTs, JSON bodies,
//! compression and server-sent events of the example application, over real sockets.

use std::io::Read as _;
use std::time::{Duration, Instant};

use host::{PlatformConfig, RuntimeConfig, ServerConfig, Variable};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{
    Proto, TestServer, assert_problem, create_user, json, request, request_with, send, token,
};

async fn etag_revalidation_is_a_304_round_trip(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let location = create_user(&server, "Ada Lovelace", "ada@example.org").await?;
    let first = server.get(&location).await?;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "max-age=60");
    assert_eq!(json(&first)?["name"], "Ada Lovelace");
    let etag = first.headers()["etag"].to_str()?.to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    let res = send(
        server.addr,
        Proto::Http1,
        request_with("GET", &location, &[("if-none-match", &etag)], "")?,
    )
    .await?;
    assert_eq!(res.status(), 304);
    assert!(res.body().is_empty());
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert_eq!(res.headers()["cache-control"], "max-age=60");
    assert!(!res.headers().contains_key("content-type"));

    // Another tag is not a match: the full representation again.
    let res = send(
        server.addr,
        Proto::Http2,
        request_with("GET", &location, &[("if-none-match", "\"other\"")], "")?,
    )
    .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], etag.as_str());
    Ok(())
}

async fn cors_preflight_is_answered_204(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let res = send(
        server.addr,
        Proto::Http1,
        request_with(
            "OPTIONS",
            "/api/v1/users",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            "",
        )?,
    )
    .await?;
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-methods"],
        "GET, HEAD, POST, PUT, PATCH, DELETE"
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization, content-type, if-match, if-none-match"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert!(res.body().is_empty());
    Ok(())
}

async fn writes_are_401_without_a_token_and_201_with_one(example: &str) -> anyhow::Result<()> {
    let secret = "e2e-secret-from-the-environment, 32+";
    let platform = PlatformConfig {
        variables: [("jwt_secret".to_owned(), Variable::secret(secret))].into(),
        ..PlatformConfig::default()
    };
    let server = TestServer::start_platform(
        example,
        RuntimeConfig::default(),
        platform,
        ServerConfig::default(),
    )
    .await?;
    let body = r#"{"name":"Grace Hopper","email":"grace@navy.example"}"#;
    let json_type = ("content-type", "application/json");

    let res = send(
        server.addr,
        Proto::Http1,
        request_with("POST", "/api/v1/users", &[json_type], body)?,
    )
    .await?;
    assert_problem(&res, 401)?;
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="edge-toolkit""#
    );

    // Signed with the tests' usual secret, which the `jwt_secret` variable replaced.
    let stale = token(crate::support::JWT_SECRET, example::WRITE_SCOPE);
    let res = send(
        server.addr,
        Proto::Http1,
        request_with(
            "POST",
            "/api/v1/users",
            &[json_type, ("authorization", &stale)],
            body,
        )?,
    )
    .await?;
    assert_problem(&res, 401)?;
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="edge-toolkit", error="invalid_token", error_description="the token's signature is invalid""#
    );

    let reader = token(secret, "users:read");
    let res = send(
        server.addr,
        Proto::Http1,
        request_with(
            "POST",
            "/api/v1/users",
            &[json_type, ("authorization", &reader)],
            body,
        )?,
    )
    .await?;
    assert_problem(&res, 403)?;
    assert!(
        res.headers()["www-authenticate"]
            .to_str()?
            .contains(r#"error="insufficient_scope""#)
    );

    let writer = token(secret, example::WRITE_SCOPE);
    let res = send(
        server.addr,
        Proto::Http1,
        request_with(
            "POST",
            "/api/v1/users",
            &[json_type, ("authorization", &writer)],
            body,
        )?,
    )
    .await?;
    assert_eq!(res.status(), 201, "{}", String::from_utf8_lossy(res.body()));
    assert_eq!(res.headers()["content-type"], "application/json");
    let created = json(&res)?;
    let id = created["id"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 32, "{created}");
    assert_eq!(
        res.headers()["location"],
        format!("/api/v1/users/{id}").as_str()
    );
    assert_eq!(created["name"], "Grace Hopper");
    assert_eq!(created["email"], "grace@navy.example");
    Ok(())
}

async fn bad_bodies_are_415_400_and_422(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let auth = crate::support::writer();
    // (Content-Type, body, status, fragment of the detail)
    let cases = [
        (
            "text/plain",
            r#"{"name":"A","email":"a@b"}"#,
            415,
            "text/plain",
        ),
        (
            "application/json",
            "{\"name\": \"A\",\n \"email\": }",
            400,
            "line 2 column",
        ),
        (
            "application/json",
            r#"{"name":"A"}"#,
            422,
            "missing field `email`",
        ),
        (
            "application/json",
            r#"{"name":" ","email":"nope"}"#,
            422,
            "2 field(s)",
        ),
    ];
    for (content_type, body, status, fragment) in cases {
        let res = send(
            server.addr,
            Proto::Http1,
            request_with(
                "POST",
                "/api/v1/users",
                &[("content-type", content_type), ("authorization", &auth)],
                body,
            )?,
        )
        .await?;
        let problem = assert_problem(&res, status)?;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(fragment), "{status}: {detail}");
        if status == 422 && fragment == "2 field(s)" {
            assert_eq!(
                problem["errors"],
                serde_json::json!([
                    {"field": "name", "pointer": "#/name", "detail": "must not be blank"},
                    {"field": "email", "pointer": "#/email", "detail": "must be an address like name@example.com"},
                ])
            );
        }
    }
    Ok(())
}

async fn gzip_and_br_decompress_to_the_identity_json(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    for n in 0..10 {
        create_user(&server, &format!("User number {n}"), "someone@example.org").await?;
    }
    let get = |coding: &'static str| {
        let addr = server.addr;
        async move {
            send(
                addr,
                Proto::Http1,
                request_with("GET", "/api/v1/users", &[("accept-encoding", coding)], "")?,
            )
            .await
        }
    };
    let plain = get("identity").await?;
    assert_eq!(plain.status(), 200);
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.headers()["vary"], "Accept, Accept-Encoding");
    let users = json(&plain)?;
    assert_eq!(users.as_array().map(Vec::len), Some(10));

    let gzip = get("gzip").await?;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.headers()["vary"], "Accept, Accept-Encoding");
    assert!(gzip.body().len() < plain.body().len());
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gzip.body().as_ref()).read_to_end(&mut decoded)?;
    assert_eq!(decoded, plain.body().as_ref());
    let gzip_etag = gzip.headers()["etag"].to_str()?;
    assert!(gzip_etag.ends_with("-gzip\""), "{gzip_etag}");
    assert_ne!(gzip.headers()["etag"], plain.headers()["etag"]);

    let br = get("gzip;q=0.5, br").await?;
    assert_eq!(br.headers()["content-encoding"], "br");
    let mut decoded = Vec::new();
    brotli::Decompressor::new(br.body().as_ref(), 4096).read_to_end(&mut decoded)?;
    assert_eq!(decoded, plain.body().as_ref());
    Ok(())
}

async fn server_sent_events_arrive_one_by_one(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let stream = TcpStream::connect(server.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let start = Instant::now();
    let res = sender
        .send_request(request_with(
            "GET",
            "/api/v1/events",
            &[
                ("accept", "text/event-stream"),
                ("accept-encoding", "gzip, br"),
            ],
            "",
        )?)
        .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(!res.headers().contains_key("content-encoding"));
    assert!(!res.headers().contains_key("etag"));

    let mut body = res.into_body();
    let mut frames: Vec<(Duration, String)> = Vec::new();
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(10), body.frame()).await? {
        if let Ok(data) = frame?.into_data() {
            frames.push((start.elapsed(), String::from_utf8(data.to_vec())?));
        }
    }
    let text: String = frames.iter().map(|(_, chunk)| chunk.as_str()).collect();
    assert_eq!(
        text,
        "event: tick\nid: 1\ndata: {\"tick\":1}\n\n\
         event: tick\nid: 2\ndata: {\"tick\":2}\n\n\
         event: tick\nid: 3\ndata: {\"tick\":3}\n\n"
    );
    // Streamed, not buffered: the first event arrived on its own, before the last was made.
    assert!(frames.len() >= 2, "{frames:?}");
    assert!(!frames[0].1.contains("id: 3"), "{frames:?}");

    // A reconnecting client resumes after Last-Event-ID.
    let res = send(
        server.addr,
        Proto::Http1,
        request_with("GET", "/api/v1/events", &[("last-event-id", "2")], "")?,
    )
    .await?;
    assert_eq!(
        String::from_utf8_lossy(res.body()),
        "event: tick\nid: 3\ndata: {\"tick\":3}\n\n"
    );
    Ok(())
}

async fn health_and_unknown_paths_are_unchanged(example: &str) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    let res = server.get("/api/health").await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(json(&res)?["status"], "healthy");
    let res = send(
        server.addr,
        Proto::Http1,
        request("GET", "/api/v9/users", "")?,
    )
    .await?;
    assert_problem(&res, 404)?;
    Ok(())
}

async fn representations_are_negotiated_by_accept_and_accept_language(
    example: &str,
) -> anyhow::Result<()> {
    let server = TestServer::start(example).await?;
    create_user(&server, "Ada, Countess", "ada@example.com").await?;
    let res = server
        .call("GET", "/api/v1/users", &[("accept", "text/csv")], "")
        .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/csv; charset=utf-8; header=present"
    );
    let vary = res.headers()["vary"].to_str()?;
    assert!(vary.contains("Accept"), "{vary}");
    let body = String::from_utf8_lossy(res.body()).into_owned();
    assert!(body.starts_with("id,name,email\r\n"), "{body}");
    assert!(
        body.contains("\"Ada, Countess\",ada@example.com\r\n"),
        "{body}"
    );

    let res = server
        .call("GET", "/api/v1/users", &[("accept", "application/xml")], "")
        .await?;
    assert_problem(&res, 406)?;
    let detail = json(&res)?["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("text/csv"), "{detail}");

    let res = server
        .call(
            "GET",
            "/api/v1/greeting?name=Ada",
            &[("accept-language", "es-MX, en;q=0.3")],
            "",
        )
        .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-language"], "es");
    assert_eq!(res.headers()["vary"], "Accept-Language");
    assert_eq!(json(&res)?["message"], "Hola, Ada!");
    Ok(())
}

/// The route's own body limit (64 KiB for writes) acts before the body is read: the guest
/// answers `413` to the head alone, while the client has sent none of the body.
async fn a_body_over_the_route_limit_is_413_before_it_is_sent(example: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = TestServer::start(example).await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    stream
        .write_all(
            b"POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{",
        )
        .await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), read).await??;
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    // Under the limit, the same route reads the body and goes on (to authentication).
    let res = server
        .call(
            "POST",
            "/api/v1/users",
            &[("content-type", "application/json")],
            "{}",
        )
        .await?;
    assert_problem(&res, 401)?;
    Ok(())
}

/// `POST /api/v1/digest` reads its body as an `Upload`: a body larger than the instance may
/// hold in memory is hashed as it streams in. Buffered, it would exceed the memory limit
/// (a 500).
async fn an_upload_larger_than_the_instance_memory_streams_to_its_handler(
    example: &str,
) -> anyhow::Result<()> {
    use sha2::{Digest, Sha256};
    let mut runtime = RuntimeConfig::default();
    runtime.limits.max_memory_bytes = 32 << 20;
    let mut server = ServerConfig::default();
    server.limits.max_body_bytes = 256 << 20;
    let server =
        TestServer::start_platform(example, runtime, PlatformConfig::default(), server).await?;
    let body: String = (0..48u32 << 20)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let expected: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    for proto in [Proto::Http1, Proto::Http2] {
        let res = send(
            server.addr,
            proto,
            request_with("POST", "/api/v1/digest", &[], &body)?,
        )
        .await?;
        assert_eq!(res.status(), 200, "{:?}", res.body());
        let answer = json(&res)?;
        assert_eq!(answer["bytes"], 48u64 << 20);
        assert_eq!(answer["sha256"], expected.as_str());
    }
    // Small bodies, and the empty one, take the same path.
    let res = send(
        server.addr,
        Proto::Http1,
        request_with("POST", "/api/v1/digest", &[], "abc")?,
    )
    .await?;
    assert_eq!(
        json(&res)?["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    Ok(())
}

crate::each_world!(
    an_upload_larger_than_the_instance_memory_streams_to_its_handler,
    a_body_over_the_route_limit_is_413_before_it_is_sent,
    representations_are_negotiated_by_accept_and_accept_language,
    etag_revalidation_is_a_304_round_trip,
    cors_preflight_is_answered_204,
    writes_are_401_without_a_token_and_201_with_one,
    bad_bodies_are_415_400_and_422,
    gzip_and_br_decompress_to_the_identity_json,
    server_sent_events_arrive_one_by_one,
    health_and_unknown_paths_are_unchanged,
);
