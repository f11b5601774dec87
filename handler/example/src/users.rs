//! The `/api/v1/users` resource, persisted in a key-value store.
//!
//! Each user is stored as its JSON representation (`{"id":..,"name":..,"email":..}`) under
//! the key `users/<id>` of the store the [`Users`] were made with (`default` in the
//! component). Ids are 128 random bits as 32 lowercase hex digits, so creates in concurrent
//! instances never collide; the list is every `users/` key, sorted.
//!
//! # Optimistic concurrency
//!
//! A user's strong `ETag` is the digest of its stored representation, which is also the
//! body of `GET`, so the tag [`ConditionalRequests`](edge_toolkit::cache::ConditionalRequests) would
//! compute and the one the write handlers check are the same. `PUT`, `PATCH` and `DELETE`
//! must carry `If-Match`:
//!
//! | `If-Match` | Answer |
//! | --- | --- |
//! | missing | `428 Precondition Required` (RFC 6585) |
//! | the current tag, or `*` | the write is made |
//! | any other tag | `412 Precondition Failed` |
//!
//! [`Compression`](edge_toolkit::middleware::Compression) gives a compressed read a tag of its own
//! (`"<digest>-gzip"`, `"<digest>-br"`, [`ETag::for_content_coding`]), so the check accepts
//! the stored tag in every coding the middleware may apply, in `If-Match` and
//! `If-None-Match` alike: a client can write back with whichever tag its read carried.
//!
//! The order follows RFC 9110 §13.2.1: authentication (`401`/`403`, middleware) first, then
//! a missing user (`404`), then the preconditions (`428`, `412`), and only then the body
//! (`415`, `400`, `422`): a stale write is `412` whatever it carries.
//!
//! `PUT` and `PATCH` check and write atomically: they take a compare-and-swap snapshot of
//! the user ([`Store::cas`]), answer `404`, `428` or `412` against that snapshot, and
//! [`swap`](edge_toolkit::kv::Cas::swap) the new representation in. If another write landed
//! between the snapshot and the swap, the swap is refused and the request is answered
//! `412` ("the user changed while this request was processed"), the other write kept: of
//! two writers holding the same tag, exactly one succeeds. `DELETE` does the same with an
//! empty value, a tombstone (`wasi:keyvalue` has no conditional delete), and then deletes
//! the key: a write landing between its check and its swap makes it `412`, and once the
//! tombstone is in, the user is gone for every reader and writer (an empty value is never
//! a user), whether or not the key's deletion that follows succeeds.
//!
//! A store failure is answered with the [`KvError`](edge_toolkit::kv::KvError)'s status (`500` or
//! `503`) as problem+json.

use std::sync::Arc;

use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use edge_toolkit::body::{FieldError, JsonRejection, Validate, json, json_valid};
use edge_toolkit::cache::{ETag, Outcome, evaluate_variants, precondition_failed};
use edge_toolkit::kv::{Cas, Store, SwapError};
use edge_toolkit::middleware::ContentCoding;
use edge_toolkit::negotiate::{negotiate_media_type, negotiated};
use edge_toolkit::{Handler, PathParams, Problem, Request, Response};

/// The path users are created under; `Location` is this plus `/{id}`.
pub const USERS_PATH: &str = "/api/v1/users";
/// The prefix of the users' keys in the store.
pub const KEY_PREFIX: &str = "users/";
/// The value a `DELETE` swaps in before deleting the key: no user is empty.
const TOMBSTONE: &[u8] = b"";

/// A user as the API shows it, and as it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Assigned by the server on creation: 32 lowercase hex digits.
    pub id: String,
    /// A display name, 1 to 100 characters.
    pub name: String,
    /// An address with one `@`.
    pub email: String,
}

/// The body of `POST` and `PUT`, and what a `PATCH` must leave behind.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// A display name, 1 to 100 characters.
    pub name: String,
    /// An address with one `@`.
    pub email: String,
}

impl Validate for UserInput {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(FieldError::new("name", "must not be blank"));
        } else if name.chars().count() > 100 {
            errors.push(FieldError::new("name", "must be at most 100 characters"));
        }
        let valid_email = match self.email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !self.email.contains(char::is_whitespace)
                    && self.email.len() <= 254
            }
            None => false,
        };
        if !valid_email {
            errors.push(FieldError::new(
                "email",
                "must be an address like name@example.com",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl UserInput {
    fn into_user(self, id: String) -> User {
        User {
            id,
            name: self.name.trim().to_owned(),
            email: self.email,
        }
    }
}

/// The key of user `id`.
///
/// ```
/// assert_eq!(example::user_key("0a1b"), "users/0a1b");
/// ```
pub fn user_key(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

/// Whether `id` could be a user id: 32 lowercase hex digits. Anything else cannot exist, so
/// it is a `404` without asking the store (and never becomes a key).
fn is_user_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new user id: 16 random bytes as 32 lowercase hex digits.
fn new_id() -> Result<String, Problem> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| {
        eprintln!("no random source for a user id: {err}");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail("no random source for a user id")
    })?;
    Ok(hex(&bytes))
}

/// `bytes` as lowercase hex digits, two per byte, in one allocation.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The media types `GET /api/v1/users` offers, the first the default.
const JSON: &str = "application/json";
const CSV: &str = "text/csv";
/// CSV's `Content-Type` as sent.
const CSV_UTF8: &str = "text/csv; charset=utf-8; header=present";

/// The users as CSV (RFC 4180): a header line `id,name,email`, then one line per user, each
/// ending in CRLF; a field with a comma, a quote or a line break is quoted, its quotes
/// doubled.
pub fn users_csv(users: &[User]) -> Vec<u8> {
    fn field(out: &mut String, value: &str) {
        if value.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&value.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(value);
        }
    }
    let mut out = String::from("id,name,email\r\n");
    for user in users {
        field(&mut out, &user.id);
        out.push(',');
        field(&mut out, &user.name);
        out.push(',');
        field(&mut out, &user.email);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A user as read from (or written to) the store: the value, its bytes and their tag.
struct Stored {
    user: User,
    bytes: Vec<u8>,
    etag: ETag,
}

impl Stored {
    fn new(user: User) -> Result<Self, Problem> {
        let bytes = serde_json::to_vec(&user).map_err(|err| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail(format!("the user could not be serialised: {err}"))
        })?;
        let etag = ETag::from_body(&bytes);
        Ok(Self { user, bytes, etag })
    }

    fn parse(id: &str, bytes: Vec<u8>) -> Result<Self, Problem> {
        let user: User = serde_json::from_slice(&bytes).map_err(|err| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail(format!("the stored user {id} is not readable: {err}"))
        })?;
        let etag = ETag::from_body(&bytes);
        Ok(Self { user, bytes, etag })
    }

    /// A JSON response with the stored bytes as its body and their tag as `ETag`.
    fn into_response(self, status: StatusCode) -> Response {
        let mut res = Response::new(self.bytes);
        *res.status_mut() = status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut()
            .insert(header::ETAG, self.etag.to_header_value());
        res
    }
}

fn not_found(id: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND).with_detail(format!("there is no user {id}"))
}

/// The `{id}` of the request; an id that cannot exist is a `404`.
fn path_id(req: &Request) -> Result<String, Problem> {
    let id = PathParams::of(req).get("id").unwrap_or_default();
    if is_user_id(id) {
        Ok(id.to_owned())
    } else {
        Err(not_found(id))
    }
}

/// `428` unless the request carries `If-Match`.
fn require_if_match(req: &Request) -> Result<(), Problem> {
    if req.headers().contains_key(header::IF_MATCH) {
        return Ok(());
    }
    Err(Problem::new(StatusCode::PRECONDITION_REQUIRED).with_detail(
        "this request must be conditional: send If-Match with the user's current ETag \
         (or If-Match: * to act on whatever version exists)",
    ))
}

/// `428` without `If-Match`, `412` unless the request's preconditions hold for `current`
/// in any of the codings its representation may be sent in.
fn check_preconditions(req: &Request, current: &Stored) -> Result<(), Problem> {
    require_if_match(req)?;
    let variants: Vec<ETag> = std::iter::once(current.etag.clone())
        .chain(
            ContentCoding::ALL
                .iter()
                .map(|coding| current.etag.for_content_coding(coding.as_str())),
        )
        .collect();
    match evaluate_variants(req.headers(), &variants, None, req.method()) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified | Outcome::PreconditionFailed => Err(precondition_failed()),
    }
}

/// The handlers of the users resource, over the key-value store with one label.
///
/// ```
/// use edge_toolkit::Router;
/// use example::Users;
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let users = Users::new("users-doc-example");
/// let router = Router::new().get("/users", users.handler(Users::list))?;
/// let res = router.handle(http::Request::get("/users").body(vec![]).unwrap());
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.body().as_slice(), b"[]");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Users {
    label: Arc<str>,
}

impl Users {
    /// The users kept in the store labelled `label`.
    pub fn new(label: &str) -> Self {
        Self {
            label: Arc::from(label),
        }
    }

    /// The label of their store.
    pub fn store_label(&self) -> &str {
        &self.label
    }

    /// One of the methods below as a route handler.
    pub fn handler(
        &self,
        method: fn(&Users, Request) -> Result<Response, Problem>,
    ) -> impl Handler {
        let users = self.clone();
        move |req: Request| method(&users, req)
    }

    fn store(&self) -> Result<Store, Problem> {
        Ok(Store::open(&self.label)?)
    }

    /// The user `id`, if there is one (a tombstone is none).
    fn load(store: &Store, id: &str) -> Result<Option<Stored>, Problem> {
        match store.get(&user_key(id))? {
            Some(bytes) if bytes != TOMBSTONE => Ok(Some(Stored::parse(id, bytes)?)),
            _ => Ok(None),
        }
    }

    fn save(store: &Store, user: User) -> Result<Stored, Problem> {
        let stored = Stored::new(user)?;
        store.set(&user_key(&stored.user.id), &stored.bytes)?;
        Ok(stored)
    }

    /// Writes `user` over the snapshot `cas` was taken of, if the user has not changed
    /// since: `412` when it has.
    fn swap(cas: Cas, user: User) -> Result<Stored, Problem> {
        let stored = Stored::new(user)?;
        Self::swap_bytes(cas, &stored.bytes)?;
        Ok(stored)
    }

    fn swap_bytes(cas: Cas, bytes: &[u8]) -> Result<(), Problem> {
        #[cfg(test)]
        tests::before_swap();
        match cas.swap(bytes) {
            Ok(()) => Ok(()),
            Err(SwapError::Conflict) => Err(Problem::new(StatusCode::PRECONDITION_FAILED)
                .with_detail("the user changed while this request was processed")),
            Err(SwapError::Store(err)) => Err(err.into()),
            // `SwapError` may gain variants (it is `#[non_exhaustive]`): a failed write.
            Err(err) => {
                eprintln!("the user could not be written: {err}");
                Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .with_detail("the user could not be written"))
            }
        }
    }

    /// `GET /api/v1/users`: every user, sorted by id, as JSON or CSV by `Accept` (JSON
    /// without one; `406` with the offered types when neither is acceptable); `Vary:
    /// Accept` either way.
    pub fn list(&self, req: Request) -> Result<Response, Problem> {
        let media_type = negotiate_media_type(&req, &[JSON, CSV])?;
        let store = self.store()?;
        let mut users = Vec::new();
        for key in store.keys_with_prefix(KEY_PREFIX)? {
            let id = &key[KEY_PREFIX.len()..];
            // A user deleted since the keys were listed is simply not there any more.
            if let Some(stored) = Self::load(&store, id)? {
                users.push(stored.user);
            }
        }
        let res = if media_type == CSV {
            let mut res = negotiated(Response::new(users_csv(&users)), CSV);
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV_UTF8));
            res
        } else {
            negotiated(edge_toolkit::json_response(StatusCode::OK, &users), JSON)
        };
        Ok(res)
    }

    /// `GET /api/v1/users/{id}`: the user with its `ETag`.
    pub fn get(&self, req: Request) -> Result<Response, Problem> {
        let id = path_id(&req)?;
        let store = self.store()?;
        let stored = Self::load(&store, &id)?.ok_or_else(|| not_found(&id))?;
        Ok(stored.into_response(StatusCode::OK))
    }

    /// `POST /api/v1/users`: `201` with `Location`, `ETag` and the new user.
    pub fn create(&self, req: Request) -> Result<Response, Problem> {
        let input: UserInput = json_valid(&req)?;
        let store = self.store()?;
        let stored = Self::save(&store, input.into_user(new_id()?))?;
        let location =
            HeaderValue::from_str(&format!("{USERS_PATH}/{}", stored.user.id)).map_err(|err| {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .with_detail(format!("the user's location is not a header value: {err}"))
            })?;
        let mut res = stored.into_response(StatusCode::CREATED);
        res.headers_mut().insert(header::LOCATION, location);
        Ok(res)
    }

    /// The user a write is aimed at, from a compare-and-swap snapshot, once it exists
    /// (`404`) and the request's preconditions hold for it (`428`, `412`): before the body
    /// is looked at. Answers the user's id, the snapshot to [`swap`](Self::swap) the new
    /// user in with, and the user as the snapshot saw it.
    fn snapshot_for_write(&self, req: &Request) -> Result<(String, Cas, Stored), Problem> {
        let id = path_id(req)?;
        let store = self.store()?;
        let cas = store.cas(&user_key(&id))?;
        let bytes = match cas.current() {
            Some(bytes) if bytes != TOMBSTONE => bytes,
            _ => return Err(not_found(&id)),
        };
        let current = Stored::parse(&id, bytes.to_vec())?;
        check_preconditions(req, &current)?;
        Ok((id, cas, current))
    }

    /// `PUT /api/v1/users/{id}`: replaces an existing user; `If-Match` required. The check
    /// and the write are one compare-and-swap: a concurrent write in between is `412`.
    pub fn replace(&self, req: Request) -> Result<Response, Problem> {
        let (id, cas, _) = self.snapshot_for_write(&req)?;
        let input: UserInput = json_valid(&req)?;
        let stored = Self::swap(cas, input.into_user(id))?;
        Ok(stored.into_response(StatusCode::OK))
    }

    /// `PATCH /api/v1/users/{id}`: a JSON merge patch (RFC 7396) of `name` and `email`;
    /// `If-Match` required. The patch applies to the user the preconditions were checked
    /// against, and is written only if that is still the user: a concurrent write is `412`.
    pub fn patch(&self, req: Request) -> Result<Response, Problem> {
        let (id, cas, current) = self.snapshot_for_write(&req)?;
        let patch: Value = json(&req)?;
        if !patch.is_object() {
            return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail("a merge patch of a user must be a JSON object"));
        }
        let mut merged =
            serde_json::json!({"name": current.user.name, "email": current.user.email});
        merge_patch(&mut merged, &patch);
        let input: UserInput = serde_json::from_value(merged).map_err(|err| {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                .with_detail(format!("the patched user is not valid: {err}"))
        })?;
        input
            .validate()
            .map_err(|errors| Problem::from(JsonRejection::Invalid { errors }))?;
        let stored = Self::swap(cas, input.into_user(id))?;
        Ok(stored.into_response(StatusCode::OK))
    }

    /// `DELETE /api/v1/users/{id}`: `204`; `If-Match` required.
    ///
    /// As atomic as `PUT`: the check and a swap to the tombstone are one compare-and-swap
    /// (a concurrent write in between is `412`, and kept); only then is the key deleted.
    pub fn delete(&self, req: Request) -> Result<Response, Problem> {
        let (id, cas, _) = self.snapshot_for_write(&req)?;
        Self::swap_bytes(cas, TOMBSTONE)?;
        // The user is gone from here on; a tombstone left by a failed delete stays invisible
        // and is overwritten by nothing (ids are never reused).
        if let Err(err) = self
            .store()
            .and_then(|store| Ok(store.delete(&user_key(&id))?))
        {
            eprintln!(
                "users: deleting the tombstone of {id} failed: {}",
                err.detail().unwrap_or_default()
            );
        }
        let mut res = Response::new(Vec::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        Ok(res)
    }
}

/// RFC 7396 §2: `null` removes a member, an object merges recursively, anything else
/// replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests;
