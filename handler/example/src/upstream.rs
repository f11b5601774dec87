//! `GET` and `POST /api/v1/upstream/{*path}`: forwards to `{upstream_origin}/{path}` through
//! the resilient [`Client`].
//!
//! Each attempt has [`UPSTREAM_TIMEOUT`]; `GET` (and `HEAD`) are retried per
//! [`UPSTREAM_RETRY`] (at most 3 attempts), `POST` is tried once. The upstream's status,
//! `Content-Type`, `Content-Encoding`, `Location`, `Retry-After`, `Allow`,
//! `WWW-Authenticate`, `Cache-Control`, `Vary` and body come back as they are, with
//! `upstream-attempts: <n>`. When no
//! response comes, the answer is a problem with the [`ClientError`]'s status: `504` for a
//! timeout, `502` otherwise.
//!
//! The problem's `detail` names the method, the forwarded path (`/{path}`) and the kind of
//! failure, and its `attempts` member the number of attempts: never the origin (which may
//! carry credentials, `https://user:token@host`), the query, or the text of the transport's
//! error (which may quote the target URI, and a host's circuit breaker names the authority).
//! A wasi-http error-code name (`ConnectionRefused`) is kept. A bad `upstream_origin` is a
//! `500` naming the variable, not its value.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, StatusCode, header};

use crate::settings::{DEFAULT_UPSTREAM_ORIGIN, VAR_UPSTREAM_ORIGIN};
use edge_toolkit::client::{Client, ClientError, RetryPolicy, Sleeper, Transport};
use edge_toolkit::middleware::X_REQUEST_ID;
use edge_toolkit::{Handler, IntoHandler, PathParams, Problem, Request, Response, config};

/// The time one attempt may take, body included.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Two retries, from 50 ms up to 1 s apart.
pub const UPSTREAM_RETRY: RetryPolicy =
    RetryPolicy::new(2, Duration::from_millis(50), Duration::from_secs(1));
/// The response header saying how many attempts were made.
pub const UPSTREAM_ATTEMPTS: HeaderName = HeaderName::from_static("upstream-attempts");
/// The response header fields passed back from the upstream: what the client needs to read
/// the body (`Content-Type`, `Content-Encoding`), to follow or retry (`Location`,
/// `Retry-After`, `Allow`, `WWW-Authenticate`) and to cache it (`Cache-Control`, `Vary`).
const PASSED_BACK: [HeaderName; 8] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::LOCATION,
    header::RETRY_AFTER,
    header::ALLOW,
    header::WWW_AUTHENTICATE,
    header::CACHE_CONTROL,
    header::VARY,
];
/// The request header fields passed on to the upstream.
const FORWARDED: [HeaderName; 3] = [header::ACCEPT, header::CONTENT_TYPE, X_REQUEST_ID];

/// The client the route uses: [`UPSTREAM_TIMEOUT`] and [`UPSTREAM_RETRY`] over the default
/// transport.
pub fn client() -> Client {
    Client::new()
        .with_policy(UPSTREAM_RETRY)
        .with_timeout(UPSTREAM_TIMEOUT)
}

/// The route handler: reads `upstream_origin` per request ([`DEFAULT_UPSTREAM_ORIGIN`] when
/// undefined) and [`forward`]s through `client`.
pub fn handler<T, S>(client: Client<T, S>) -> impl Handler
where
    T: Transport + Send + Sync + 'static,
    S: Sleeper + Send + Sync + 'static,
{
    let client = Arc::new(client);
    // Async: on a WASI 0.3 instance, the instance's other requests go on while this one
    // waits for the upstream.
    IntoHandler::into_handler(move |req: Request| {
        let client = Arc::clone(&client);
        async move {
            let origin = config::get_or(VAR_UPSTREAM_ORIGIN, DEFAULT_UPSTREAM_ORIGIN)?;
            forward(&req, &client, &origin).await
        }
    })
}

/// Forwards `req` (routed with a `{*path}` parameter) to `{origin}/{path}?{query}` with its
/// method (`GET` for `HEAD`), `Accept`, `Content-Type`, `x-request-id` and body.
pub async fn forward<T: Transport, S: Sleeper>(
    req: &Request,
    client: &Client<T, S>,
    origin: &str,
) -> Result<Response, Problem> {
    let path = PathParams::of(req).get("path").unwrap_or("");
    let target = target_uri(origin, path, req.uri().query())?;
    // HEAD is answered as GET would be (the router removes the content): asking the
    // upstream with HEAD would give an empty body, and so another ETag and length.
    let method = match req.method() {
        &Method::HEAD => Method::GET,
        other => other.clone(),
    };
    let mut builder = http::Request::builder().method(method).uri(target);
    for name in FORWARDED {
        for value in req.headers().get_all(&name) {
            builder = builder.header(&name, value);
        }
    }
    let outgoing = builder.body(req.body().clone()).map_err(|err| {
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the request cannot be forwarded: {err}"))
    })?;

    let sent = client.execute(&outgoing).await;
    let attempts = HeaderValue::from(sent.attempts);
    match sent.result {
        Ok(upstream) => {
            let (parts, body) = upstream.into_parts();
            let mut res = Response::new(body);
            *res.status_mut() = parts.status;
            for name in PASSED_BACK {
                for value in parts.headers.get_all(&name) {
                    res.headers_mut().append(name.clone(), value.clone());
                }
            }
            res.headers_mut().insert(UPSTREAM_ATTEMPTS, attempts);
            Ok(res)
        }
        Err(err) => {
            let plural = if sent.attempts == 1 { "" } else { "s" };
            Err(Problem::new(err.status())
                .with_detail(format!(
                    "{} /{path} failed after {} attempt{plural}: {}",
                    req.method(),
                    sent.attempts,
                    failure(&err)
                ))
                .with_extension("attempts", sent.attempts)
                .with_header(UPSTREAM_ATTEMPTS, attempts))
        }
    }
}

/// What a client is told of `err`: its kind, and the wasi-http error-code name it carries,
/// if any; nothing the transport or the host wrote about the target.
fn failure(err: &ClientError) -> String {
    let (kind, message) = match err {
        // "no response from the upstream within 2s": the configured timeout only.
        ClientError::Timeout(_) => return err.to_string(),
        ClientError::CircuitOpen(_) => {
            return "the upstream is failing, and requests to it are refused for now".to_owned();
        }
        ClientError::Connect(message) => ("cannot connect to the upstream", message),
        ClientError::Transport(message) => ("the exchange with the upstream failed", message),
        ClientError::Denied(message) => ("the host refused the destination", message),
        ClientError::InvalidRequest(message) => ("the request cannot be sent", message),
        // `ClientError` may gain variants (it is `#[non_exhaustive]`): the kind alone.
        _ => return "the request to the upstream failed".to_owned(),
    };
    match error_code_name(message) {
        Some(code) => format!("{kind}: {code}"),
        None => kind.to_owned(),
    }
}

/// The name of a wasi-http `error-code` at the start of `message` (`ConnectionRefused`,
/// `DnsError` of `DnsError(DnsErrorPayload { .. })`): an upper camel case word, alone or
/// followed by its payload, which is dropped.
fn error_code_name(message: &str) -> Option<&str> {
    let end = message
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(message.len());
    let (name, rest) = message.split_at(end);
    let camel = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.contains(|c: char| c.is_ascii_lowercase());
    (camel && (rest.is_empty() || rest.starts_with('('))).then_some(name)
}

/// `{origin}/{path}?{query}`; an origin that is not `scheme://authority` is a `500` (the
/// variable is misconfigured), a path that does not make a URI a `400`.
fn target_uri(origin: &str, path: &str, query: Option<&str>) -> Result<http::Uri, Problem> {
    // The value is not echoed: it may hold credentials (`https://user:token@host`).
    let misconfigured = || {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_detail(format!(
            "the variable {VAR_UPSTREAM_ORIGIN} is not a valid origin like http://host:port"
        ))
    };
    let parsed: http::Uri = origin.parse().map_err(|_| misconfigured())?;
    let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority()) else {
        return Err(misconfigured());
    };
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(misconfigured());
    }
    let mut target = format!("{scheme}://{authority}/{path}");
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    target.parse().map_err(|err| {
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the path {path:?} cannot be forwarded: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http::Method;

    use super::*;
    use edge_toolkit::Router;
    use edge_toolkit::client::{SleepFuture, TransportFuture};

    type Reply = Result<(u16, &'static str, &'static str), ClientError>;

    /// One request as the fake saw it: method, URI, headers, body, timeout.
    type Seen = (Method, String, Vec<(String, String)>, Vec<u8>, Duration);

    /// Answers every call with the next reply (the last one repeats), recording the requests.
    struct Fake {
        replies: Mutex<Vec<Reply>>,
        seen: Mutex<Vec<Seen>>,
    }

    impl Fake {
        fn new(replies: Vec<Reply>) -> Arc<Self> {
            Arc::new(Self {
                replies: Mutex::new(replies),
                seen: Mutex::new(Vec::new()),
            })
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().expect("lock").clone()
        }
    }

    impl Transport for Fake {
        fn send<'a>(
            &'a self,
            request: &'a http::Request<Vec<u8>>,
            timeout: Duration,
        ) -> TransportFuture<'a> {
            let result = (|| -> Result<http::Response<Vec<u8>>, ClientError> {
                let headers = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                    .collect();
                self.seen.lock().expect("lock").push((
                    request.method().clone(),
                    request.uri().to_string(),
                    headers,
                    request.body().clone(),
                    timeout,
                ));
                let mut replies = self.replies.lock().expect("lock");
                let reply = if replies.len() > 1 {
                    replies.remove(0)
                } else {
                    replies[0].clone()
                };
                let (status, content_type, body) = reply?;
                let mut builder = http::Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .header("x-upstream-secret", "not passed on");
                if status == 200 {
                    // The fields a proxy passes back (a 200 keeps them out of retry decisions).
                    builder = builder
                        .header("location", "/elsewhere")
                        .header("retry-after", "5")
                        .header("allow", "GET, POST")
                        .header("www-authenticate", "Basic realm=\"up\"")
                        .header("www-authenticate", "Bearer")
                        .header("cache-control", "max-age=5")
                        .header("vary", "Accept")
                        .header("content-encoding", "identity");
                }
                Ok(builder
                    .body(body.as_bytes().to_vec())
                    .expect("valid response"))
            })();
            Box::pin(std::future::ready(result))
        }
    }

    struct NoSleep;

    impl Sleeper for NoSleep {
        fn sleep(&self, _duration: Duration) -> SleepFuture<'_> {
            Box::pin(std::future::ready(()))
        }
    }

    fn router(fake: &Arc<Fake>, origin: &'static str) -> Router {
        let client = Client::with_transport(Arc::clone(fake), NoSleep)
            .with_policy(UPSTREAM_RETRY)
            .with_timeout(UPSTREAM_TIMEOUT);
        let client = Arc::new(client);
        let get = Arc::clone(&client);
        Router::new()
            .get("/api/v1/upstream/{*path}", move |req: Request| {
                let get = Arc::clone(&get);
                async move { forward(&req, &get, origin).await }
            })
            .and_then(|r| {
                r.post("/api/v1/upstream/{*path}", move |req: Request| {
                    let client = Arc::clone(&client);
                    async move { forward(&req, &client, origin).await }
                })
            })
            .expect("valid routes")
    }

    fn send(
        router: &Router,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        router.handle(
            builder
                .body(body.as_bytes().to_vec())
                .expect("valid request"),
        )
    }

    #[test]
    fn get_is_forwarded_with_path_and_query() {
        let fake = Fake::new(vec![Ok((200, "text/plain", "upstream ok"))]);
        let router = router(&fake, "http://127.0.0.1:8081");
        let res = send(
            &router,
            Method::GET,
            "/api/v1/upstream/items/7?full=1&x=%20",
            &[
                ("accept", "text/plain"),
                ("authorization", "Bearer keep-me-here"),
                ("x-request-id", "r-1"),
            ],
            "",
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(res.headers()["upstream-attempts"], "1");
        assert!(!res.headers().contains_key("x-upstream-secret"));
        for (name, value) in [
            ("location", "/elsewhere"),
            ("retry-after", "5"),
            ("allow", "GET, POST"),
            ("cache-control", "max-age=5"),
            ("vary", "Accept"),
            ("content-encoding", "identity"),
        ] {
            assert_eq!(res.headers()[name], value, "{name}");
        }
        let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
        assert_eq!(challenges, ["Basic realm=\"up\"", "Bearer"]);
        assert_eq!(res.body().as_slice(), b"upstream ok");
        let seen = fake.seen();
        assert_eq!(seen.len(), 1);
        let (method, uri, headers, body, timeout) = &seen[0];
        assert_eq!(method, Method::GET);
        assert_eq!(uri, "http://127.0.0.1:8081/items/7?full=1&x=%20");
        assert_eq!(
            headers,
            &[
                ("accept".to_owned(), "text/plain".to_owned()),
                ("x-request-id".to_owned(), "r-1".to_owned())
            ]
        );
        assert!(body.is_empty());
        assert_eq!(*timeout, UPSTREAM_TIMEOUT);
    }

    #[test]
    fn head_is_asked_upstream_as_get_and_answered_with_its_fields() {
        let fake = Fake::new(vec![Ok((200, "text/plain", "upstream ok"))]);
        let router = router(&fake, "http://127.0.0.1:8081");
        let get = send(&router, Method::GET, "/api/v1/upstream/a", &[], "");
        let head = send(&router, Method::HEAD, "/api/v1/upstream/a", &[], "");
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.body().is_empty());
        assert_eq!(head.headers()["content-length"], "11");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"]
        );
        let methods: Vec<Method> = fake.seen().into_iter().map(|seen| seen.0).collect();
        assert_eq!(methods, [Method::GET, Method::GET]);
    }

    #[test]
    fn get_is_retried_on_503_and_the_upstream_status_passes_through() {
        let fake = Fake::new(vec![
            Ok((503, "text/plain", "busy")),
            Ok((404, "application/json", r#"{"missing":true}"#)),
        ]);
        let router = router(&fake, "http://up.test/");
        let res = send(&router, Method::GET, "/api/v1/upstream/a", &[], "");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["upstream-attempts"], "2");
        assert_eq!(res.body().as_slice(), br#"{"missing":true}"#);

        // Still 503 after three attempts: the 503 is the answer.
        let fake = Fake::new(vec![Ok((503, "text/plain", "busy"))]);
        let res = send(
            &router_for(&fake),
            Method::GET,
            "/api/v1/upstream/a",
            &[],
            "",
        );
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["upstream-attempts"], "3");
        assert_eq!(fake.seen().len(), 3);
    }

    fn router_for(fake: &Arc<Fake>) -> Router {
        router(fake, "http://up.test")
    }

    #[test]
    fn post_is_forwarded_once_with_body_and_content_type() {
        let fake = Fake::new(vec![Err(ClientError::Connect("connection refused".into()))]);
        let router = router_for(&fake);
        let res = send(
            &router,
            Method::POST,
            "/api/v1/upstream/orders",
            &[("content-type", "application/json")],
            r#"{"qty":1}"#,
        );
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.headers()["upstream-attempts"], "1");
        let problem: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(problem["attempts"], 1);
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail == "POST /orders failed after 1 attempt: cannot connect to the upstream",
            "{detail}"
        );
        let seen = fake.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, Method::POST);
        assert_eq!(seen[0].3, br#"{"qty":1}"#);
        assert!(
            seen[0]
                .2
                .contains(&("content-type".to_owned(), "application/json".to_owned()))
        );

        let fake = Fake::new(vec![Ok((201, "application/json", r#"{"id":1}"#))]);
        let res = send(
            &router_for(&fake),
            Method::POST,
            "/api/v1/upstream/orders",
            &[],
            "{}",
        );
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.body().as_slice(), br#"{"id":1}"#);
    }

    #[test]
    fn timeouts_are_504_after_every_attempt() {
        let fake = Fake::new(vec![Err(ClientError::Timeout(UPSTREAM_TIMEOUT))]);
        let res = send(
            &router_for(&fake),
            Method::GET,
            "/api/v1/upstream/slow",
            &[],
            "",
        );
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(res.headers()["upstream-attempts"], "3");
        let problem: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(problem["attempts"], 3);
        assert_eq!(
            problem["detail"],
            "GET /slow failed after 3 attempts: no response from the upstream within 2s"
        );
        assert_eq!(fake.seen().len(), 3);
    }

    #[test]
    fn denied_and_open_circuits_are_502_at_once() {
        // (error, the end of the detail)
        let cases = [
            (
                ClientError::Denied("HttpRequestDenied".into()),
                "the host refused the destination: HttpRequestDenied",
            ),
            (
                ClientError::CircuitOpen("circuit open for up.test".into()),
                "the upstream is failing, and requests to it are refused for now",
            ),
        ];
        for (err, end) in cases {
            let fake = Fake::new(vec![Err(err.clone())]);
            let res = send(
                &router_for(&fake),
                Method::GET,
                "/api/v1/upstream/x",
                &[],
                "",
            );
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{err:?}");
            assert_eq!(res.headers()["upstream-attempts"], "1");
            let problem: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
            let detail = problem["detail"].as_str().expect("detail");
            assert_eq!(detail, format!("GET /x failed after 1 attempt: {end}"));
        }
    }

    #[test]
    fn failures_do_not_reveal_the_upstream() {
        // Whatever the transport or the host say, the detail names the method, the
        // forwarded path and the kind of failure: never the origin, its credentials or the
        // query.
        let target = "https://svc:tok@internal.test:8443/items/7?key=hunter2";
        let cases = [
            (
                ClientError::Connect(format!("DnsError for {target}")),
                "cannot connect to the upstream",
            ),
            (
                ClientError::Connect("ConnectionRefused".into()),
                "cannot connect to the upstream: ConnectionRefused",
            ),
            (
                ClientError::Connect(
                    "DnsError(DnsErrorPayload { rcode: Some(\"internal.test\") })".into(),
                ),
                "cannot connect to the upstream: DnsError",
            ),
            (
                ClientError::Transport(format!("internal error: {target} reset")),
                "the exchange with the upstream failed",
            ),
            (
                ClientError::Denied(format!("GET {target}: no wasi-http host")),
                "the host refused the destination",
            ),
            (
                ClientError::InvalidRequest(target.to_owned()),
                "the request cannot be sent",
            ),
            (
                ClientError::CircuitOpen("circuit open for svc:tok@internal.test:8443".into()),
                "the upstream is failing, and requests to it are refused for now",
            ),
        ];
        for (err, reason) in cases {
            let fake = Fake::new(vec![Err(err.clone())]);
            let router = router(&fake, "https://svc:tok@internal.test:8443");
            let res = send(
                &router,
                Method::POST,
                "/api/v1/upstream/items/7?key=hunter2",
                &[],
                "",
            );
            assert_eq!(fake.seen()[0].1, target, "{err:?}");
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{err:?}");
            assert_eq!(res.headers()["upstream-attempts"], "1");
            let problem: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
            assert_eq!(problem["attempts"], 1);
            let detail = problem["detail"].as_str().expect("detail");
            assert_eq!(
                detail,
                format!("POST /items/7 failed after 1 attempt: {reason}"),
                "{err:?}"
            );
            for leak in ["svc", "tok", "internal", "8443", "hunter2", "https"] {
                assert!(
                    !res.body().windows(leak.len()).any(|w| w == leak.as_bytes()),
                    "{leak} in {detail}"
                );
            }
        }
    }

    #[test]
    fn origins_are_checked() {
        for origin in ["http://up.test", "http://up.test/", "https://up.test:8443"] {
            assert!(target_uri(origin, "a", None).is_ok(), "{origin}");
        }
        for origin in [
            "",
            "https://svc:tok@internal.test/base",
            "https://svc:tok@internal.test/?key=hunter2",
            "up.test",
            "/relative",
            "http://up.test/base",
            "http://up.test/?q",
            "not a uri",
        ] {
            let err = target_uri(origin, "a", None).expect_err(origin);
            assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR, "{origin}");
            assert_eq!(
                err.detail(),
                Some("the variable upstream_origin is not a valid origin like http://host:port"),
                "{origin}"
            );
        }
        assert_eq!(
            target_uri("http://up.test", "a/b", Some("c=d"))
                .expect("valid")
                .to_string(),
            "http://up.test/a/b?c=d"
        );
    }
}
