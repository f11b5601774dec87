//! The example application: what `spin up` and the host serve from this crate's component.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/health` | `200` `{"status":"healthy","timestamp":"<RFC 3339>"}`, `Cache-Control: no-store` |
//! | `GET /api/v1/greeting?name=Ada` | `200` `{"message":"Hello, Ada!"}` (the `greeting` variable; `name` defaults to `world`); `422` for a name over 100 characters |
//! | `GET /api/v1/users` | `200` every user, sorted by id, `Cache-Control: max-age=60, stale-while-revalidate=30` |
//! | `POST /api/v1/users` | auth; `201` with `Location`, `ETag` and the user; `415`/`400`/`422` for bad bodies |
//! | `GET /api/v1/users/{id}` | `200` the user with its `ETag` (`max-age=60`), `304` for a matching `If-None-Match`, or `404` |
//! | `PUT /api/v1/users/{id}` | auth; replaces the user, `200`; `If-Match` required: `428` without, `412` when stale or changed concurrently (compare-and-swap) |
//! | `PATCH /api/v1/users/{id}` | auth; JSON merge patch (RFC 7396), `200`; `If-Match` required (`428`/`412`) |
//! | `DELETE /api/v1/users/{id}` | auth; `204`; `If-Match` required (`428`/`412`) |
//! | `GET /api/v1/upstream/{*path}` | forwarded to `{upstream_origin}/{path}?{query}`: the upstream's status, `Content-Type` and body, `upstream-attempts: <n>` (up to 3 attempts of 2 s); `502`/`504` problem when no response |
//! | `POST /api/v1/upstream/{*path}` | the same, with the body and `Content-Type`, tried once |
//! | `GET /api/v1/events` | `text/event-stream`: three `tick` events, ids 1 to 3, 50 ms apart |
//! | anything else | `404` (or `405` with `Allow`) as `application/problem+json` |
//!
//! "auth" is a bearer JWT signed with HS256 under the `jwt_secret` variable (development
//! default: [`DEV_JWT_SECRET`]), issued by the `jwt_issuer` variable (default
//! [`JWT_ISSUER`]), granting the scope [`WRITE_SCOPE`]. Without a token a write is `401`; with
//! a token lacking the scope, `403`. Either variable defined but empty is a configuration
//! error, not the default: every write is then `500` (reads keep working).
//!
//! # Platform
//!
//! | Capability | Used for |
//! | --- | --- |
//! | key-value store `default` ([`kv`](crate::kv)) | the users, one JSON document per key `users/<id>` ([`Users`]); `PUT`/`PATCH` through `wasi:keyvalue/atomics` compare-and-swap |
//! | variables ([`config`](crate::config)) | `greeting`, `jwt_issuer`, `jwt_secret`, `upstream_origin`, each with a built-in default ([`AppConfig`], the `VAR_*` and `DEFAULT_*` constants) |
//! | outbound HTTP ([`client`](crate::client)) | the upstream routes, with timeouts and retries |
//!
//! Under Spin the manifest grants the store (`key_value_stores = ["default"]`), declares the
//! variables and allows the upstream (`allowed_outbound_hosts`). A store or a variable that
//! fails is answered as a problem with its status (`500`/`503`), never a panic.
//!
//! # Middleware order
//!
//! Every response passes, outermost first, through:
//!
//! 1. [`RequestIdLayer`]: keeps or generates `x-request-id`;
//! 2. [`AccessLog`]: one JSON line per request on stderr, with the request id;
//! 3. [`SecurityHeaders`]: `nosniff`, CSP `frame-ancestors`, `Referrer-Policy`, HSTS over https;
//! 4. [`Cors`]: answers preflights, so they never reach authentication;
//! 5. [`ConditionalRequests`]: `ETag`, `304`, `412`;
//! 6. [`Compression`]: gzip or br by `Accept-Encoding`, from [`COMPRESS_FROM`] bytes.
//!
//! Compression sits *inside* conditional requests: the `ETag` is computed from the body as it
//! will be sent, and the coding is suffixed to it (`"<digest>-br"`), so each coding has its
//! own validator and a `304` is only ever given for the coding the client holds. Were the
//! order reversed, a gzip and an identity response would share a strong tag, which RFC 9110
//! §8.8.3 forbids. Writes (`POST`, `PUT`, `PATCH`, `DELETE`) also pass [`JwtAuth`] and a
//! 64 KiB [`BodyLimit`] of their own; upstream `POST`s a [`MAX_UPSTREAM_BODY`] limit.

#[cfg(target_arch = "wasm32")]
mod component;
mod events;
mod greeting;
mod settings;
mod upstream;
mod users;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};
use serde::Serialize;

use crate::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
use crate::config::ConfigError;
use crate::middleware::auth::{JwtAuth, JwtValidator};
use crate::middleware::{AccessLog, BodyLimit, Compression, Cors, RequestIdLayer, SecurityHeaders};
use crate::{
    Middleware, Next, Problem, Request, Response, RouteError, Router, Stack, json_response,
};

pub use greeting::{DEFAULT_NAME, Greeting, MAX_NAME_CHARS};
pub use settings::{
    AppConfig, DEFAULT_GREETING, DEFAULT_UPSTREAM_ORIGIN, DEV_JWT_SECRET, JWT_ISSUER, USERS_STORE,
    VAR_GREETING, VAR_JWT_ISSUER, VAR_JWT_SECRET, VAR_UPSTREAM_ORIGIN,
};
pub use upstream::{UPSTREAM_ATTEMPTS, UPSTREAM_RETRY, UPSTREAM_TIMEOUT};
pub use users::{KEY_PREFIX, USERS_PATH, User, UserInput, Users, user_key};

/// The scope write tokens must grant.
pub const WRITE_SCOPE: &str = "users:write";
/// Responses from this size on are compressed: the API's JSON is small, so the threshold
/// is lower than [`Compression`]'s default.
pub const COMPRESS_FROM: usize = 512;
/// The largest request body a write accepts.
pub const MAX_WRITE_BODY: usize = 64 * 1024;
/// The largest request body `POST /api/v1/upstream/...` forwards.
pub const MAX_UPSTREAM_BODY: usize = 1024 * 1024;

/// The body of `GET /api/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"healthy"` when the component answers at all.
    pub status: &'static str,
    /// The instance's wall-clock time, RFC 3339 in UTC with seconds.
    pub timestamp: String,
}

fn health(_req: Request) -> Result<Response, Problem> {
    let timestamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Ok(json_response(
        StatusCode::OK,
        &Health {
            status: "healthy",
            timestamp,
        },
    ))
}

fn cors() -> Cors {
    Cors::new()
        .with_any_origin()
        .with_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .with_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            http::header::IF_MATCH,
            http::header::IF_NONE_MATCH,
        ])
        .with_exposed_headers([
            http::header::LOCATION,
            http::header::ETAG,
            crate::middleware::X_REQUEST_ID,
            UPSTREAM_ATTEMPTS,
        ])
        .with_max_age(Duration::from_secs(600))
}

/// Authentication of writes: JWTs, or, when the variables configuring it could not be read,
/// a `500` for every write (reads keep working).
enum WriteAuth {
    Jwt(Box<JwtAuth>),
    Misconfigured(Problem),
    /// Configured from the variables at the instance's first write, so that building the
    /// route table calls nothing on the host (and can be done ahead of time, see [`init`]);
    /// reads never wait on the variables.
    FromVariables(OnceLock<Result<JwtAuth, Problem>>),
}

impl WriteAuth {
    fn from_config(config: Result<AppConfig, ConfigError>) -> Self {
        match config {
            Ok(config) => WriteAuth::Jwt(Box::new(jwt_auth(&config))),
            Err(err) => WriteAuth::Misconfigured(Problem::from(err)),
        }
    }
}

fn jwt_auth(config: &AppConfig) -> JwtAuth {
    JwtAuth::new(
        "edge-toolkit",
        JwtValidator::hs256(&config.jwt_secret).with_issuer(config.jwt_issuer.as_str()),
    )
    .with_required_scope(WRITE_SCOPE)
}

impl Middleware for WriteAuth {
    fn handle(&self, req: Request, next: Next<'_>) -> Result<Response, Problem> {
        let auth = match self {
            WriteAuth::Jwt(auth) => auth,
            WriteAuth::Misconfigured(problem) => return Err(problem.clone()),
            WriteAuth::FromVariables(auth) => match auth.get_or_init(|| {
                AppConfig::from_variables()
                    .map(|config| jwt_auth(&config))
                    .map_err(Problem::from)
            }) {
                Ok(auth) => auth,
                Err(problem) => return Err(problem.clone()),
            },
        };
        auth.handle(req, next)
    }
}

/// The application's route table, write authentication configured from the variables
/// ([`AppConfig::from_variables`]) at the first write. Should they not be readable, every
/// write is answered `500`; reads keep working.
pub fn router() -> Result<Router, RouteError> {
    build(WriteAuth::FromVariables(OnceLock::new()), USERS_STORE)
}

/// The route table for the configuration read from the variables, or, when reading failed,
/// for the defaults with every write answered with the error.
#[cfg(test)]
fn router_from(config: Result<AppConfig, ConfigError>) -> Result<Router, RouteError> {
    build(WriteAuth::from_config(config), USERS_STORE)
}

/// The application's route table with `config`, for tests (a store of their own) and
/// embedders.
pub fn router_with(config: &AppConfig) -> Result<Router, RouteError> {
    build(
        WriteAuth::from_config(Ok(config.clone())),
        &config.users_store,
    )
}

fn build(auth: WriteAuth, users_store: &str) -> Result<Router, RouteError> {
    // A health answer is live state: never serve it from a cache.
    let no_store = Stack::new().layer(CacheControlLayer::new(CacheControl::new().with_no_store()));
    let list_cache = Stack::new().layer(CacheControlLayer::new(
        CacheControl::new()
            .with_max_age(Duration::from_secs(60))
            .with_stale_while_revalidate(Duration::from_secs(30)),
    ));
    let item_cache = Stack::new().layer(CacheControlLayer::new(
        CacheControl::new().with_max_age(Duration::from_secs(60)),
    ));
    let writes = Stack::new()
        .layer(auth)
        .layer(BodyLimit::new(MAX_WRITE_BODY));
    let upstream_post = Stack::new().layer(BodyLimit::new(MAX_UPSTREAM_BODY));
    let users = Users::new(users_store);
    let upstream = upstream::client();
    let upstream_get = upstream::handler(upstream.clone());

    Router::new()
        .layer(RequestIdLayer::new())
        .layer(AccessLog::new())
        .layer(SecurityHeaders::new())
        .layer(cors())
        .layer(ConditionalRequests::new())
        .layer(Compression::new().with_min_size(COMPRESS_FROM))
        .route_with(Method::GET, "/api/health", health, no_store)?
        .group("/api/v1", |v1| {
            v1.get("/greeting", greeting::greet)
                .route_with(
                    Method::GET,
                    "/users",
                    users.handler(Users::list),
                    list_cache,
                )
                .route_with(
                    Method::POST,
                    "/users",
                    users.handler(Users::create),
                    writes.clone(),
                )
                .route_with(
                    Method::GET,
                    "/users/{id}",
                    users.handler(Users::get),
                    item_cache,
                )
                .route_with(
                    Method::PUT,
                    "/users/{id}",
                    users.handler(Users::replace),
                    writes.clone(),
                )
                .route_with(
                    Method::PATCH,
                    "/users/{id}",
                    users.handler(Users::patch),
                    writes.clone(),
                )
                .route_with(
                    Method::DELETE,
                    "/users/{id}",
                    users.handler(Users::delete),
                    writes,
                )
                .get("/upstream/{*path}", upstream_get)
                .route_with(
                    Method::POST,
                    "/upstream/{*path}",
                    upstream::handler(upstream),
                    upstream_post,
                )
                .get("/events", events::ticks)
        })
}

/// The instance's route table, built at its first request, or ahead of time by [`init`].
static ROUTER: OnceLock<Result<Router, RouteError>> = OnceLock::new();

/// Builds the instance's route table now. The component exports it as
/// `wizer-initialize`, so that a host (or `wasmtime wizer`) can run it once and snapshot the
/// result: every instance made from the snapshot starts with its routes built. It calls
/// nothing on the host. Without it, the first request builds them.
pub fn init() {
    ROUTER.get_or_init(router);
}

/// Answers one request with the application, building the route table once per instance.
pub fn handle(req: Request) -> Response {
    match ROUTER.get_or_init(router) {
        Ok(router) => router.handle(req),
        Err(err) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("the route table is invalid: {err}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::kv::{KvError, Store, inject_failure};

    fn get(path: &str) -> Response {
        get_with(path, &[])
    }

    fn get_with(path: &str, headers: &[(&str, &str)]) -> Response {
        send(Method::GET, path, headers, "")
    }

    fn send(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        handle(request(method, path, headers, body))
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(body.as_bytes().to_vec())
            .expect("valid request")
    }

    fn token(scope: &str) -> String {
        let claims = serde_json::json!({
            "sub": "tester", "iss": JWT_ISSUER, "scope": scope,
            "exp": 4_102_444_800_i64,
        });
        format!(
            "Bearer {}",
            crate::middleware::auth::jwt::sign_hs256(&claims, DEV_JWT_SECRET)
        )
    }

    fn body_json(res: &Response) -> serde_json::Value {
        serde_json::from_slice(res.body()).expect("json body")
    }

    fn header(res: &Response, name: &str) -> String {
        res.headers()[name].to_str().expect("ascii").to_owned()
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    /// The application over an empty key-value store of its own.
    struct App {
        router: Router,
        label: String,
        auth: String,
    }

    impl App {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let label = format!("app-test-{}", NEXT.fetch_add(1, Ordering::Relaxed));
            Store::open(&label)
                .and_then(|store| store.clear())
                .expect("an in-memory store");
            let config = AppConfig::default().with_users_store(label.as_str());
            Self {
                router: router_with(&config).expect("valid routes"),
                label,
                auth: token(WRITE_SCOPE),
            }
        }

        fn send(
            &self,
            method: Method,
            path: &str,
            headers: &[(&str, &str)],
            body: &str,
        ) -> Response {
            self.router.handle(request(method, path, headers, body))
        }

        fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
            self.send(Method::GET, path, headers, "")
        }

        /// A write with the token, JSON, and these extra headers.
        fn write(
            &self,
            method: Method,
            path: &str,
            headers: &[(&str, &str)],
            body: &str,
        ) -> Response {
            let mut all = vec![("authorization", self.auth.as_str()), JSON];
            all.extend_from_slice(headers);
            self.send(method, path, &all, body)
        }

        /// Creates a user: (location, ETag, body).
        fn create(&self, name: &str, email: &str) -> (String, String, serde_json::Value) {
            let body = serde_json::json!({"name": name, "email": email}).to_string();
            let res = self.write(Method::POST, "/api/v1/users", &[], &body);
            assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.body());
            (
                header(&res, "location"),
                header(&res, "etag"),
                body_json(&res),
            )
        }
    }

    #[test]
    fn users_start_empty_and_are_created_listed_and_fetched() {
        let app = App::new();
        let res = app.get("/api/v1/users", &[]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"[]");
        assert_eq!(
            res.headers()["cache-control"],
            "max-age=60, stale-while-revalidate=30"
        );

        let (ada, ada_etag, ada_body) = app.create(" Ada Lovelace ", "ada@example.com");
        let (grace, _, grace_body) = app.create("Grace Hopper", "grace@example.com");
        let ada_id = ada_body["id"].as_str().expect("id").to_owned();
        let grace_id = grace_body["id"].as_str().expect("id").to_owned();
        assert_ne!(ada_id, grace_id);
        assert_eq!(ada_id.len(), 32);
        assert!(
            ada_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(ada, format!("/api/v1/users/{ada_id}"));
        assert_eq!(grace, format!("/api/v1/users/{grace_id}"));
        assert_eq!(
            ada_body,
            serde_json::json!({"id": ada_id, "name": "Ada Lovelace", "email": "ada@example.com"})
        );

        // Stored as JSON under users/<id>.
        let stored = Store::open(&app.label)
            .and_then(|store| store.get(&user_key(&ada_id)))
            .expect("readable")
            .expect("stored");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&stored).expect("json"),
            ada_body
        );

        let list = body_json(&app.get("/api/v1/users", &[]));
        let mut ids = vec![ada_id.clone(), grace_id.clone()];
        ids.sort();
        let listed: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|user| user["id"].as_str().expect("id"))
            .collect();
        assert_eq!(listed, ids);

        let res = app.get(&ada, &[]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "max-age=60");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(header(&res, "etag"), ada_etag);
        assert_eq!(body_json(&res), ada_body);
        assert_eq!(
            crate::cache::ETag::from_body(res.body()).to_header_value(),
            ada_etag.as_str()
        );

        // Revalidation: 304 with the tag, 200 for another.
        let res = app.get(&ada, &[("if-none-match", &ada_etag)]);
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert!(res.body().is_empty());
        assert_eq!(header(&res, "etag"), ada_etag);
        let res = app.get(&ada, &[("if-none-match", "\"other\"")]);
        assert_eq!(res.status(), StatusCode::OK);

        // Ids that cannot exist, and one that does not.
        for path in [
            "/api/v1/users/abc",
            "/api/v1/users/1",
            &format!("/api/v1/users/{}", "0".repeat(32)),
        ] {
            let res = app.get(path, &[]);
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
    }

    #[test]
    fn writes_need_a_token_with_the_write_scope() {
        let app = App::new();
        let body = r#"{"name":"Edsger Dijkstra","email":"ewd@example.com"}"#;
        // (Authorization, status, `error` in WWW-Authenticate)
        let bad_sig = format!(
            "Bearer {}",
            crate::middleware::auth::jwt::sign_hs256(
                &serde_json::json!({"iss": JWT_ISSUER, "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
                "not the secret",
            )
        );
        let wrong_issuer = format!(
            "Bearer {}",
            crate::middleware::auth::jwt::sign_hs256(
                &serde_json::json!({"iss": "someone-else", "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
                DEV_JWT_SECRET,
            )
        );
        let cases: Vec<(Option<String>, u16, Option<&str>)> = vec![
            (None, 401, None),
            (Some("Bearer garbage".into()), 401, Some("invalid_token")),
            (Some(bad_sig), 401, Some("invalid_token")),
            (Some(wrong_issuer), 401, Some("invalid_token")),
            (Some(token("users:read")), 403, Some("insufficient_scope")),
            (Some(token(WRITE_SCOPE)), 201, None),
        ];
        for (authorization, status, error) in cases {
            let mut headers = vec![JSON];
            if let Some(value) = &authorization {
                headers.push(("authorization", value));
            }
            let res = app.send(Method::POST, "/api/v1/users", &headers, body);
            assert_eq!(res.status(), status, "{authorization:?}");
            if status == 201 {
                continue;
            }
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let challenge = res.headers()["www-authenticate"].to_str().expect("ascii");
            assert!(challenge.starts_with(r#"Bearer realm="edge-toolkit""#));
            match error {
                Some(code) => assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{challenge}"
                ),
                None => assert!(!challenge.contains("error="), "{challenge}"),
            }
        }
        // Exactly one user was created.
        assert_eq!(
            body_json(&app.get("/api/v1/users", &[]))
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn the_jwt_settings_come_from_the_config() {
        let label = "app-test-jwt-config";
        let config = AppConfig {
            users_store: label.to_owned(),
            jwt_issuer: "issuer-x".to_owned(),
            jwt_secret: "secret-x".to_owned(),
        };
        let router = router_with(&config).expect("valid routes");
        let body = r#"{"name":"A","email":"a@b"}"#;
        let sign = |iss: &str, secret: &str| {
            format!(
                "Bearer {}",
                crate::middleware::auth::jwt::sign_hs256(
                    &serde_json::json!({"iss": iss, "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
                    secret,
                )
            )
        };
        let post = |authorization: &str| {
            router
                .handle(request(
                    Method::POST,
                    "/api/v1/users",
                    &[JSON, ("authorization", authorization)],
                    body,
                ))
                .status()
        };
        assert_eq!(post(&sign("issuer-x", "secret-x")), StatusCode::CREATED);
        assert_eq!(
            post(&sign(JWT_ISSUER, DEV_JWT_SECRET)),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            post(&sign("issuer-x", DEV_JWT_SECRET)),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn unreadable_variables_make_writes_500_but_keep_reads() {
        let config = AppConfig::default().with_users_store("app-test-misconfigured");
        let auth = WriteAuth::from_config(Err(crate::config::ConfigError::Provider(
            "vault sealed".into(),
        )));
        let router = build(auth, &config.users_store).expect("valid routes");
        let res = router.handle(request(
            Method::POST,
            "/api/v1/users",
            &[JSON, ("authorization", &token(WRITE_SCOPE))],
            r#"{"name":"A","email":"a@b"}"#,
        ));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert!(
            body_json(&res)["detail"]
                .as_str()
                .is_some_and(|d| d.contains("vault sealed"))
        );
        let res = router.handle(request(Method::GET, "/api/v1/users", &[], ""));
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn updates_and_deletes_require_if_match() {
        let app = App::new();
        let (location, etag, _) = app.create("Barbara Liskov", "barbara@example.com");
        let put = r#"{"name":"B. Liskov","email":"bl@example.com"}"#;
        let patch = r#"{"name":"Barbara"}"#;
        for (method, body) in [
            (Method::PUT, put),
            (Method::PATCH, patch),
            (Method::DELETE, ""),
        ] {
            // Missing: 428.
            let res = app.write(method.clone(), &location, &[], body);
            assert_eq!(res.status(), StatusCode::PRECONDITION_REQUIRED, "{method}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let problem = body_json(&res);
            assert_eq!(problem["status"], 428);
            assert_eq!(problem["title"], "Precondition Required");
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("If-Match"))
            );
            // Stale: 412.
            let res = app.write(
                method.clone(),
                &location,
                &[("if-match", "\"stale\"")],
                body,
            );
            assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{method}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            // A weak tag never matches If-Match (strong comparison).
            let weak = format!("W/{etag}");
            let res = app.write(method.clone(), &location, &[("if-match", &weak)], body);
            assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{method}");
        }
        // Nothing changed.
        let res = app.get(&location, &[]);
        assert_eq!(header(&res, "etag"), etag);
        assert_eq!(body_json(&res)["name"], "Barbara Liskov");

        // A write to a user that does not exist is 404, whatever If-Match says.
        let missing = format!("/api/v1/users/{}", "f".repeat(32));
        let res = app.write(Method::PUT, &missing, &[("if-match", "*")], put);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn large_users_can_be_written_with_the_etag_of_a_compressed_read() {
        let app = App::new();
        // 100 three-byte characters and a long address: a JSON document over COMPRESS_FROM.
        let name = "\u{20ac}".repeat(100);
        let email = format!("{}@example.com", "a".repeat(150));
        let (location, identity_etag, _) = app.create(&name, &email);
        let fetch = |coding: &str| {
            let res = app.get(&location, &[("accept-encoding", coding)]);
            assert_eq!(res.status(), StatusCode::OK);
            if coding == "identity" {
                assert!(res.body().len() >= COMPRESS_FROM, "{}", res.body().len());
            } else {
                assert_eq!(res.headers()["content-encoding"], coding);
            }
            header(&res, "etag")
        };
        assert_eq!(fetch("identity"), identity_etag);

        // PUT with the tag of a gzip read.
        let gzip_etag = fetch("gzip");
        assert_ne!(gzip_etag, identity_etag);
        assert!(gzip_etag.ends_with("-gzip\""), "{gzip_etag}");
        let put = serde_json::json!({"name": name, "email": email}).to_string();
        let res = app.write(
            Method::PUT,
            &location,
            &[("accept-encoding", "gzip"), ("if-match", &gzip_etag)],
            &put,
        );
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());

        // PATCH with the tag of a br read; the PUT made no change, so the tag still holds.
        let br_etag = fetch("br");
        assert!(br_etag.ends_with("-br\""), "{br_etag}");
        let res = app.write(
            Method::PATCH,
            &location,
            &[("if-match", &br_etag)],
            r#"{"name":"Short"}"#,
        );
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
        // It is stale now, in every coding.
        for stale in [&gzip_etag, &br_etag, &identity_etag] {
            let res = app.write(Method::DELETE, &location, &[("if-match", stale)], "");
            assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{stale}");
        }

        // If-None-Match compares the same way: a coding of the current tag matches.
        let long = serde_json::json!({"name": name, "email": email}).to_string();
        let res = app.write(Method::PUT, &location, &[("if-match", "*")], &long);
        assert_eq!(res.status(), StatusCode::OK);
        let gzip_etag = fetch("gzip");
        let res = app.write(
            Method::PUT,
            &location,
            &[("if-match", "*"), ("if-none-match", &gzip_etag)],
            &long,
        );
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        let weak = format!("W/{gzip_etag}");
        let res = app.write(Method::DELETE, &location, &[("if-match", &weak)], "");
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        let res = app.write(Method::DELETE, &location, &[("if-match", &gzip_etag)], "");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }

    #[test]
    fn preconditions_are_evaluated_before_the_body() {
        let app = App::new();
        let (location, etag, _) = app.create("Frances Allen", "fran@example.com");
        let missing = format!("/api/v1/users/{}", "f".repeat(32));
        // (Content-Type, body): 415, 400 and 422 when the preconditions hold.
        let bad_bodies = [
            ("text/plain", r#"{"name":"A","email":"a@b"}"#),
            ("application/json", r#"{"name":"A","#),
            ("application/json", r#"{"name":"","email":"nope"}"#),
            ("application/json", "[1]"),
        ];
        for method in [Method::PUT, Method::PATCH] {
            for (content_type, body) in bad_bodies {
                let case = format!("{method} {content_type} {body}");
                let send = |path: &str, extra: &[(&str, &str)], auth: bool| {
                    let mut headers = vec![("content-type", content_type)];
                    if auth {
                        headers.push(("authorization", app.auth.as_str()));
                    }
                    headers.extend_from_slice(extra);
                    app.send(method.clone(), path, &headers, body).status()
                };
                // Authentication first, then 404, then 428 and 412, and only then the body.
                assert_eq!(
                    send(&location, &[("if-match", "\"stale\"")], false),
                    StatusCode::UNAUTHORIZED,
                    "{case}"
                );
                assert_eq!(send(&missing, &[], true), StatusCode::NOT_FOUND, "{case}");
                assert_eq!(
                    send(&missing, &[("if-match", "\"stale\"")], true),
                    StatusCode::NOT_FOUND,
                    "{case}"
                );
                assert_eq!(
                    send(&location, &[], true),
                    StatusCode::PRECONDITION_REQUIRED,
                    "{case}"
                );
                assert_eq!(
                    send(&location, &[("if-match", "\"stale\"")], true),
                    StatusCode::PRECONDITION_FAILED,
                    "{case}"
                );
                assert_eq!(
                    send(
                        &location,
                        &[("if-none-match", "*"), ("if-match", &etag)],
                        true
                    ),
                    StatusCode::PRECONDITION_FAILED,
                    "{case}"
                );
                let status = send(&location, &[("if-match", &etag)], true);
                assert!(
                    matches!(status.as_u16(), 400 | 415 | 422),
                    "{case}: {status}"
                );
            }
        }
        // DELETE: 404 before 428.
        let res = app.write(Method::DELETE, &missing, &[], "");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        // Nothing changed.
        assert_eq!(header(&app.get(&location, &[]), "etag"), etag);
    }

    #[test]
    fn an_empty_jwt_secret_is_a_configuration_error() {
        let lookup = |secret: Option<&'static str>| {
            move |name: &str| -> Result<Option<String>, ConfigError> {
                Ok(match name {
                    VAR_JWT_SECRET => secret.map(str::to_owned),
                    _ => None,
                })
            }
        };
        let post = |router: &Router| {
            router.handle(request(
                Method::POST,
                "/api/v1/users",
                &[JSON, ("authorization", &token(WRITE_SCOPE))],
                r#"{"name":"Public","email":"secret@example.com"}"#,
            ))
        };
        // Defined but empty: no write passes, not even with a token signed with the public
        // development secret; reads still work.
        for secret in ["", " "] {
            let router =
                router_from(AppConfig::from_lookup(lookup(Some(secret)))).expect("valid routes");
            let res = post(&router);
            assert_eq!(
                res.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{secret:?}"
            );
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let detail = body_json(&res)["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(detail.contains(VAR_JWT_SECRET), "{detail}");
            let res = router.handle(request(Method::GET, "/api/health", &[], ""));
            assert_eq!(res.status(), StatusCode::OK);
        }
        // Undefined: the development default, for local runs.
        let config = AppConfig::from_lookup(lookup(None)).expect("the defaults");
        assert_eq!(config.jwt_secret, DEV_JWT_SECRET);
    }

    #[test]
    fn replace_patch_delete_with_current_etags() {
        let app = App::new();
        let (location, etag, created) = app.create("Barbara Liskov", "barbara@example.com");
        let id = created["id"].as_str().expect("id").to_owned();

        let res = app.write(
            Method::PUT,
            &location,
            &[("if-match", &etag)],
            r#"{"name":"B. Liskov","email":"bl@example.com"}"#,
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_json(&res)["email"], "bl@example.com");
        let put_etag = header(&res, "etag");
        assert_ne!(put_etag, etag);
        assert_eq!(header(&app.get(&location, &[]), "etag"), put_etag);

        // The old tag is stale now.
        let res = app.write(
            Method::PATCH,
            &location,
            &[("if-match", &etag)],
            r#"{"name":"X"}"#,
        );
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);

        // A list of tags matches when one of them is current.
        let list = format!("\"nope\", {put_etag}");
        let res = app.send(
            Method::PATCH,
            &location,
            &[
                ("content-type", "application/merge-patch+json"),
                ("authorization", &app.auth),
                ("if-match", &list),
            ],
            r#"{"name":"Barbara"}"#,
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            body_json(&res),
            serde_json::json!({"id": id, "name": "Barbara", "email": "bl@example.com"})
        );
        let patch_etag = header(&res, "etag");

        // Removing a required member, or an invalid value, is a 422 problem; nothing changes.
        let res = app.write(
            Method::PATCH,
            &location,
            &[("if-match", "*")],
            r#"{"email":null}"#,
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let res = app.write(
            Method::PATCH,
            &location,
            &[("if-match", "*")],
            r#"{"email":"nope"}"#,
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body_json(&res)["errors"][0]["field"], "email");
        let res = app.write(Method::PATCH, &location, &[("if-match", "*")], "[1]");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let res = app.write(
            Method::PUT,
            &location,
            &[("if-match", "*")],
            r#"{"name":""}"#,
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(header(&app.get(&location, &[]), "etag"), patch_etag);

        // If-Match: * matches whatever exists.
        let res = app.write(Method::DELETE, &location, &[("if-match", "*")], "");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(res.body().is_empty());
        assert_eq!(app.get(&location, &[]).status(), StatusCode::NOT_FOUND);
        let res = app.write(Method::DELETE, &location, &[("if-match", "*")], "");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/v1/users", &[]).body().as_slice(), b"[]");
    }

    #[test]
    fn bad_bodies_are_415_400_422() {
        let app = App::new();
        let auth = app.auth.as_str();
        // (Content-Type, body, status)
        let cases = [
            (None, r#"{"name":"A","email":"a@b"}"#, 415),
            (Some("text/plain"), r#"{"name":"A","email":"a@b"}"#, 415),
            (Some("application/json"), r#"{"name":"A","#, 400),
            (Some("application/json"), r#"{"name":"A"}"#, 422),
            (
                Some("application/json"),
                r#"{"name":"A","email":"a@b","x":1}"#,
                422,
            ),
            (Some("application/json"), r#"{"name":"","email":"ab"}"#, 422),
        ];
        for (content_type, body, status) in cases {
            let mut headers = vec![("authorization", auth)];
            if let Some(ct) = content_type {
                headers.push(("content-type", ct));
            }
            let res = app.send(Method::POST, "/api/v1/users", &headers, body);
            assert_eq!(res.status(), status, "{content_type:?} {body}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
        let res = app.write(
            Method::POST,
            "/api/v1/users",
            &[],
            r#"{"name":"","email":"ab"}"#,
        );
        let fields: Vec<_> = body_json(&res)["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(fields, ["name", "email"]);

        let big = format!(
            r#"{{"name":"{}","email":"a@b"}}"#,
            "x".repeat(MAX_WRITE_BODY)
        );
        let res = app.write(Method::POST, "/api/v1/users", &[], &big);
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(app.get("/api/v1/users", &[]).body().as_slice(), b"[]");
    }

    #[test]
    fn store_failures_are_problems_with_their_status() {
        let app = App::new();
        let (location, _, _) = app.create("Ada", "ada@example.com");
        // (failure, status)
        let cases = [
            (KvError::NoSuchStore, 500),
            (KvError::AccessDenied, 500),
            (KvError::StoreTableFull, 503),
            (
                KvError::Other("connection to the database lost".into()),
                503,
            ),
        ];
        for (failure, status) in cases {
            inject_failure(&app.label, Some(failure.clone()));
            let reads = [app.get("/api/v1/users", &[]), app.get(&location, &[])];
            let writes = [
                app.write(
                    Method::POST,
                    "/api/v1/users",
                    &[],
                    r#"{"name":"B","email":"b@c"}"#,
                ),
                app.write(Method::DELETE, &location, &[("if-match", "*")], ""),
            ];
            for res in reads.iter().chain(&writes) {
                assert_eq!(res.status(), status, "{failure:?}");
                assert_eq!(res.headers()["content-type"], "application/problem+json");
                assert_eq!(body_json(res)["detail"], failure.to_string());
            }
        }
        inject_failure(&app.label, None);
        assert_eq!(app.get(&location, &[]).status(), StatusCode::OK);

        // A stored value that is not a user is a 500, not a panic.
        Store::open(&app.label)
            .and_then(|store| store.set(&user_key(&"e".repeat(32)), b"garbage"))
            .expect("writable");
        let res = app.get(&format!("/api/v1/users/{}", "e".repeat(32)), &[]);
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            app.get("/api/v1/users", &[]).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn greeting_uses_the_variable_default() {
        let res = get("/api/v1/greeting");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(
            body_json(&res),
            serde_json::json!({"message": "Hello, world!"})
        );
        let res = get("/api/v1/greeting?name=Ada");
        assert_eq!(res.body().as_slice(), br#"{"message":"Hello, Ada!"}"#);
        let res = get("/api/v1/greeting?name=Ada+Lovelace&x=1");
        assert_eq!(body_json(&res)["message"], "Hello, Ada Lovelace!");
        let res = get("/api/v1/greeting?name=%C3%89mile");
        assert_eq!(body_json(&res)["message"], "Hello, Émile!");

        let longest = "é".repeat(MAX_NAME_CHARS);
        let res = get(&format!(
            "/api/v1/greeting?name={}",
            "%C3%A9".repeat(MAX_NAME_CHARS)
        ));
        assert_eq!(body_json(&res)["message"], format!("Hello, {longest}!"));
        let res = get(&format!(
            "/api/v1/greeting?name={}",
            "x".repeat(MAX_NAME_CHARS + 1)
        ));
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(body_json(&res)["errors"][0]["parameter"], "name");

        let res = get("/api/v1/greeting?name=%FF");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn upstream_routes_answer_502_natively() {
        // Natively there is no network: the default transport refuses at once, untried again.
        for method in [Method::GET, Method::POST] {
            let res = send(method.clone(), "/api/v1/upstream/items?x=1", &[], "");
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{method}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            assert_eq!(res.headers()["upstream-attempts"], "1");
            let detail = body_json(&res)["detail"]
                .as_str()
                .expect("detail")
                .to_owned();
            // The forwarded path only: no origin, no query.
            assert!(
                detail.starts_with(&format!(
                    "{method} /items failed after 1 attempt: the host refused the destination"
                )),
                "{detail}"
            );
            for leak in ["127.0.0.1", "8081", "http", "x=1"] {
                assert!(!detail.contains(leak), "{leak} in {detail}");
            }
        }
        let res = send(Method::PUT, "/api/v1/upstream/items", &[], "");
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "GET, POST, HEAD, OPTIONS");
    }

    #[test]
    fn cors_preflight_and_actual_request() {
        let res = send(
            Method::OPTIONS,
            "/api/v1/users",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type, if-match",
                ),
            ],
            "",
        );
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
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
        assert!(h.contains_key("x-request-id"));

        let res = get_with("/api/health", &[("origin", "https://app.example")]);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            res.headers()["access-control-expose-headers"],
            "location, etag, x-request-id, upstream-attempts"
        );
    }

    #[test]
    fn users_list_is_compressed_with_an_etag_per_coding() {
        use std::io::Read as _;

        let app = App::new();
        for n in 0..10 {
            app.create(&format!("User number {n}"), &format!("user{n}@example.com"));
        }
        let plain = app.get("/api/v1/users", &[("accept-encoding", "identity")]);
        assert!(plain.body().len() >= COMPRESS_FROM);
        assert!(!plain.headers().contains_key("content-encoding"));
        assert_eq!(plain.headers()["vary"], "Accept-Encoding");
        let plain_etag = header(&plain, "etag");

        let gzip = app.get("/api/v1/users", &[("accept-encoding", "gzip")]);
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        assert_eq!(gzip.headers()["vary"], "Accept-Encoding");
        let gzip_etag = header(&gzip, "etag");
        assert!(gzip_etag.ends_with("-gzip\""), "{gzip_etag}");
        assert_ne!(gzip_etag, plain_etag);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(gzip.body().as_slice())
            .read_to_end(&mut decoded)
            .expect("gzip");
        assert_eq!(decoded, *plain.body());

        let br = app.get("/api/v1/users", &[("accept-encoding", "gzip, br")]);
        assert_eq!(br.headers()["content-encoding"], "br");

        // Revalidation works per coding: the gzip tag matches only a gzip response.
        let res = app.get(
            "/api/v1/users",
            &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)],
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()["etag"], gzip_etag.as_str());
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        let res = app.get(
            "/api/v1/users",
            &[("accept-encoding", "br"), ("if-none-match", &gzip_etag)],
        );
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn events_stream_three_ticks() {
        let res = get_with("/api/v1/events", &[("accept-encoding", "gzip")]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        assert!(!res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("content-encoding"));
        assert!(res.headers().contains_key("x-request-id"));
        let body = String::from_utf8(crate::stream::collect_body(res)).expect("utf-8");
        assert_eq!(
            body,
            "event: tick\nid: 1\ndata: {\"tick\":1}\n\n\
             event: tick\nid: 2\ndata: {\"tick\":2}\n\n\
             event: tick\nid: 3\ndata: {\"tick\":3}\n\n"
        );

        let res = get_with("/api/v1/events", &[("last-event-id", "2")]);
        let body = String::from_utf8(crate::stream::collect_body(res)).expect("utf-8");
        assert_eq!(body, "event: tick\nid: 3\ndata: {\"tick\":3}\n\n");

        // HEAD gets the headers and no stream.
        let res = handle(
            http::Request::head("/api/v1/events")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert!(!crate::stream::BodyStream::is_streaming(&res));
        assert!(crate::stream::collect_body(res).is_empty());
    }

    #[test]
    fn health_is_json_with_rfc3339_timestamp() {
        let res = get("/api/health");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["status"], "healthy");
        let ts = body["timestamp"].as_str().expect("timestamp is a string");
        humantime::parse_rfc3339(ts).expect("timestamp is RFC 3339");
    }

    #[test]
    fn unknown_path_is_problem_json() {
        let res = get("/nope");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }

    #[test]
    fn health_is_not_stored_and_carries_global_headers() {
        let res = get("/api/health");
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(!h.contains_key("strict-transport-security"));
        let id = h["x-request-id"].to_str().expect("ascii");
        assert_eq!(id.len(), 32);
        let etag = crate::cache::ETag::from_header(&h["etag"]).expect("valid ETag");
        assert_eq!(etag, crate::cache::ETag::from_body(res.body()));
    }

    #[test]
    fn request_id_is_kept_and_hsts_sent_over_https() {
        let res = get_with(
            "/api/health",
            &[("x-request-id", "trace-7"), ("x-forwarded-proto", "https")],
        );
        assert_eq!(res.headers()["x-request-id"], "trace-7");
        assert!(res.headers().contains_key("strict-transport-security"));
    }

    #[test]
    fn router_answers_get_global_middleware_too() {
        let res = get_with("/nope", &[("x-request-id", "r-404")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["x-request-id"], "r-404");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(!res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("cache-control"));
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["instance"], "/nope");

        let res = handle(
            http::Request::post("/api/health")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
        assert!(res.headers().contains_key("x-request-id"));
    }

    #[test]
    fn conditional_requests_on_health() {
        // A wildcard If-None-Match matches any current representation: 304, no body.
        let res = get_with("/api/health", &[("if-none-match", "*")]);
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert!(res.body().is_empty());
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers().contains_key("etag"));
        assert!(!res.headers().contains_key("content-type"));
        assert!(res.headers().contains_key("x-request-id"));

        let res = get_with("/api/health", &[("if-match", "\"stale\"")]);
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(res.headers()["content-type"], "application/problem+json");

        let res = get_with("/api/health", &[("if-none-match", "\"stale\"")]);
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[test]
    fn head_health_keeps_etag_of_get() {
        let res = handle(
            http::Request::head("/api/health")
                .body(Vec::new())
                .expect("valid request"),
        );
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.body().is_empty());
        assert!(res.headers().contains_key("content-length"));
        // Computed from the GET body, not from the empty HEAD body.
        let etag = crate::cache::ETag::from_header(&res.headers()["etag"]).expect("valid");
        assert_ne!(etag, crate::cache::ETag::from_body(b""));
    }
}
