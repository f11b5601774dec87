//! The example application of the [edge toolkit](edge_toolkit): a JSON API with users in a
//! key-value store, configuration variables, an upstream behind a retrying client and
//! server-sent events, compiled to the component `example.wasm` that `spin up` and
//! `edge-host` serve (see the repository's `spin.toml`).
//!
//! It is also what a crate of your own looks like. It depends on `edge-toolkit` like any
//! other crate (a path or version dependency, nothing private) and is laid out as such a
//! crate would be:
//!
//! | File | What |
//! | --- | --- |
//! | `Cargo.toml` | `crate-type = ["cdylib", "rlib"]`; `edge-toolkit`, and spin-sdk for `wasm32` only; the `spin-platform` feature forwarded to the toolkit |
//! | `build.rs` | links the component with 8 MiB of initial memory, so a fresh instance does not grow its memory on every request |
//! | `src/lib.rs` | this table of contents |
//! | `src/routes.rs` | the route table and its middleware: [`router`], [`handle`], [`init`] |
//! | `src/users.rs`, `src/greeting.rs`, `src/upstream.rs`, `src/events.rs` | one module per resource, with its handlers and tests |
//! | `src/settings.rs` | the variables it reads and their defaults ([`AppConfig`]) |
//! | `src/component.rs` | `wasm32` only: the `wasi:http/incoming-handler` export (spin-sdk's `#[http_component]` calling `edge_toolkit::component::serve` with [`handle`]) and the `wizer-initialize` export (running [`init`]) |
//!
//! Everything but `component.rs` compiles natively, so the application is unit-tested with a
//! plain `cargo test -p example`; `scripts/build-guest -p example` builds the component.
//!
//! # Routes
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/health` | `200` `{"status":"healthy","timestamp":"<RFC 3339>"}`, `Cache-Control: no-store` |
//! | `GET /api/v1/greeting?name=Ada` | `200` `{"message":"Hello, Ada!"}` (the `greeting` variable; `name` defaults to `world`), in the language `Accept-Language` prefers of en, fr, de, es (`Content-Language`, `Vary`); `422` for a name over 100 characters |
//! | `GET /api/v1/users` | `200` every user, sorted by id, as JSON or CSV by `Accept` (`406` otherwise, `Vary: Accept`), `Cache-Control: max-age=60, stale-while-revalidate=30` |
//! | `POST /api/v1/users` | auth; `201` with `Location`, `ETag` and the user; `415`/`400`/`422` for bad bodies |
//! | `GET /api/v1/users/{id}` | `200` the user with its `ETag` (`max-age=60`), `304` for a matching `If-None-Match`, or `404` |
//! | `PUT /api/v1/users/{id}` | auth; replaces the user, `200`; `If-Match` required: `428` without, `412` when stale or changed concurrently (compare-and-swap) |
//! | `PATCH /api/v1/users/{id}` | auth; JSON merge patch (RFC 7396), `200`; `If-Match` required (`428`/`412`) |
//! | `DELETE /api/v1/users/{id}` | auth; `204`; `If-Match` required (`428`/`412`) |
//! | `GET /api/v1/upstream/{*path}` | forwarded to `{upstream_origin}/{path}?{query}`: the upstream's status, body and `Content-Type`, `Content-Encoding`, `Location`, `Retry-After`, `Allow`, `WWW-Authenticate`, `Cache-Control`, `Vary`, `upstream-attempts: <n>` (up to 3 attempts of 2 s); `502`/`504` problem when no response |
//! | `POST /api/v1/upstream/{*path}` | the same, with the body and `Content-Type`, tried once |
//! | `GET /api/v1/events` | `text/event-stream`: three `tick` events, ids 1 to 3, 50 ms apart; those after `Last-Event-ID`, or `204` when none is left |
//! | `POST /api/v1/digest` | `200` `{"bytes":N,"sha256":"…"}` of the body, read as it streams in (at most 1 GiB, `413` past it) |
//! | `GET /static/{*path}` | the file below [`STATIC_DIR`] (`handler/example/static`, mounted by spin.toml's `files`), with `ETag`, `Last-Modified`, `Cache-Control: public, max-age=300`, `304`/`412`, `Range` (`206`, `416`), gzip or br from 256 bytes ([`StaticFiles`](edge_toolkit::files::StaticFiles)); `404` when the host mounts nothing |
//! | anything else | `404` (or `405` with `Allow`) as `application/problem+json` |
//!
//! "auth" is a bearer JWT signed with HS256 under the `jwt_secret` variable (no default: at
//! least [`MIN_JWT_SECRET_BYTES`] random bytes, e.g. `openssl rand -hex 32`), issued by the
//! `jwt_issuer` variable (default [`JWT_ISSUER`]), granting the scope [`WRITE_SCOPE`].
//! Without a token a write is `401`; with a token lacking the scope, `403`. With
//! `jwt_secret` unset, empty or too short, or `jwt_issuer` defined but empty, every write is
//! `500` with a problem saying so, said in the log too (reads keep working).
//!
//! # Platform
//!
//! | Capability | Used for |
//! | --- | --- |
//! | key-value store `default` ([`kv`](edge_toolkit::kv)) | the users, one JSON document per key `users/<id>` ([`Users`]); `PUT`/`PATCH` through `wasi:keyvalue/atomics` compare-and-swap |
//! | variables ([`config`](edge_toolkit::config)) | `greeting`, `jwt_issuer`, `jwt_secret`, `upstream_origin`, each but `jwt_secret` with a built-in default ([`AppConfig`], the `VAR_*` and `DEFAULT_*` constants) |
//! | outbound HTTP ([`client`](edge_toolkit::client)) | the upstream routes, with timeouts and retries |
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
//!
//! [`RequestIdLayer`]: edge_toolkit::middleware::RequestIdLayer
//! [`AccessLog`]: edge_toolkit::middleware::AccessLog
//! [`SecurityHeaders`]: edge_toolkit::middleware::SecurityHeaders
//! [`Cors`]: edge_toolkit::middleware::Cors
//! [`ConditionalRequests`]: edge_toolkit::cache::ConditionalRequests
//! [`Compression`]: edge_toolkit::middleware::Compression
//! [`JwtAuth`]: edge_toolkit::middleware::auth::JwtAuth
//! [`BodyLimit`]: edge_toolkit::middleware::BodyLimit

#[cfg(target_arch = "wasm32")]
mod component;
mod digest;
mod events;
mod greeting;
mod routes;
mod settings;
mod upstream;
mod users;

pub use digest::{BodyDigest, MAX_DIGEST_BODY};
pub use greeting::{DEFAULT_NAME, Greeting, GreetingQuery, LANGUAGES, MAX_NAME_CHARS};
pub use routes::{
    COMPRESS_FROM, Health, MAX_UPSTREAM_BODY, MAX_WRITE_BODY, STATIC_DIR, WRITE_SCOPE, body_plan,
    handle, init, max_body, router, router_with, serve,
};
pub use settings::{
    AppConfig, DEFAULT_GREETING, DEFAULT_UPSTREAM_ORIGIN, JWT_ISSUER, MIN_JWT_SECRET_BYTES,
    USERS_STORE, VAR_GREETING, VAR_JWT_ISSUER, VAR_JWT_SECRET, VAR_UPSTREAM_ORIGIN,
};
pub use upstream::{UPSTREAM_ATTEMPTS, UPSTREAM_RETRY, UPSTREAM_TIMEOUT};
pub use users::{KEY_PREFIX, USERS_PATH, User, UserInput, Users, user_key, users_csv};
