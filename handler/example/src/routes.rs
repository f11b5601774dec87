//! The application's route table: its routes, its middleware and the write
//! authentication, built once per instance ([`init`] or the first request, [`handle`]).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};
use serde::Serialize;

use edge_toolkit::HandlerFuture;
use edge_toolkit::body::BodyPlan;
use edge_toolkit::cache::{CacheControl, CacheControlLayer, ConditionalRequests};
use edge_toolkit::config::ConfigError;
use edge_toolkit::files::StaticFiles;
use edge_toolkit::middleware::auth::{JwtAuth, JwtValidator};
use edge_toolkit::middleware::{
    AccessLog, BodyLimit, Compression, Cors, RequestIdLayer, SecurityHeaders,
};
use edge_toolkit::{
    Middleware, Next, Problem, Request, Response, RouteError, Router, Stack, json_response,
};

use crate::digest::{self, MAX_DIGEST_BODY};
use crate::settings::{AppConfig, USERS_STORE};
use crate::upstream::{self, UPSTREAM_ATTEMPTS};
use crate::users::Users;
use crate::{events, greeting};

/// The scope write tokens must grant.
pub const WRITE_SCOPE: &str = "users:write";
/// Responses from this size on are compressed: the API's JSON is small, so the threshold
/// is lower than [`Compression`]'s default.
pub const COMPRESS_FROM: usize = 512;
/// The largest request body a write accepts.
pub const MAX_WRITE_BODY: usize = 64 * 1024;
/// The largest request body `POST /api/v1/upstream/...` forwards.
pub const MAX_UPSTREAM_BODY: usize = 1024 * 1024;
/// Where the component finds its static files: spin.toml mounts `handler/example/static`
/// there (`files`), as `edge-host serve --dir handler/example/static::/static` does.
pub const STATIC_DIR: &str = "/static";

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
            edge_toolkit::middleware::X_REQUEST_ID,
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
            Ok(config) => match jwt_auth(&config) {
                Ok(auth) => WriteAuth::Jwt(Box::new(auth)),
                Err(problem) => WriteAuth::Misconfigured(problem),
            },
            Err(err) => WriteAuth::Misconfigured(misconfigured(err)),
        }
    }
}

fn jwt_auth(config: &AppConfig) -> Result<JwtAuth, Problem> {
    let validator = JwtValidator::hs256(&config.jwt_secret)?;
    Ok(JwtAuth::new(
        "edge-toolkit",
        validator.with_issuer(config.jwt_issuer.as_str()),
    )
    .with_required_scope(WRITE_SCOPE))
}

/// The problem every write is answered with when write authentication cannot be
/// configured, said once in the log (per instance) as well.
fn misconfigured(err: ConfigError) -> Problem {
    eprintln!("example: {err}");
    Problem::from(err)
}

impl Middleware for WriteAuth {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let auth = match self {
                WriteAuth::Jwt(auth) => auth,
                WriteAuth::Misconfigured(problem) => return Err(problem.clone()),
                WriteAuth::FromVariables(auth) => match auth.get_or_init(|| {
                    AppConfig::from_variables()
                        .map_err(misconfigured)
                        .and_then(|config| jwt_auth(&config))
                }) {
                    Ok(auth) => auth,
                    Err(problem) => return Err(problem.clone()),
                },
            };
            auth.handle(req, next).await
        })
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
        .get(
            "/static/{*path}",
            StaticFiles::new(STATIC_DIR)
                .cache_control(http::HeaderValue::from_static("public, max-age=300"))
                .with_compression(Compression::new().with_min_size(256)),
        )?
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
                .route_with(
                    Method::POST,
                    "/digest",
                    digest::digest,
                    Stack::new().layer(BodyLimit::new(MAX_DIGEST_BODY)),
                )
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

/// How the component reads the body of the route of `head` ([`Router::body_plan`]): no more
/// than its limit (`413` before the rest is read), and streamed to the handler for
/// `/api/v1/digest`.
pub fn body_plan(head: &http::request::Parts) -> BodyPlan {
    ROUTER
        .get_or_init(router)
        .as_ref()
        .map(|router| router.body_plan(head))
        .unwrap_or_default()
}

/// The largest body the route of `head` accepts ([`Router::max_body`]).
pub fn max_body(head: &http::request::Parts) -> Option<u64> {
    body_plan(head).limit
}

/// Answers one request with the application, building the route table once per instance.
/// The component's glue awaits it: on a WASI 0.3 instance, other requests go on while one
/// waits (for the upstream, say).
pub async fn serve(req: Request) -> Response {
    match ROUTER.get_or_init(router) {
        Ok(router) => router.serve(req).await,
        Err(err) => invalid_route_table(err),
    }
}

/// [`serve`] run to completion on this thread ([`Router::handle`]): for tests and
/// benchmarks, natively.
pub fn handle(req: Request) -> Response {
    match ROUTER.get_or_init(router) {
        Ok(router) => router.handle(req),
        Err(err) => invalid_route_table(err),
    }
}

/// The `500` an invalid route table answers.
fn invalid_route_table(err: &RouteError) -> Response {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail(format!("the route table is invalid: {err}"))
        .into_response()
}

#[cfg(test)]
mod tests;
