//! The `/api/v1/users` resource: a small in-instance store of users.
//!
//! The store is a `Mutex<BTreeMap>` in a static, seeded with ten users. Under a wasi-http
//! host every request gets a fresh component instance, so writes are visible only within
//! the request that made them: reads always see the seed data. Persistence (a key-value
//! store behind the same handlers) comes later.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{FieldError, JsonRejection, Validate, json, json_valid};
use crate::cache::{ETag, Outcome, evaluate, precondition_failed};
use crate::{PathParams, Problem, Request, Response, json_response};

/// The path users are created under; `Location` is this plus `/{id}`.
pub const USERS_PATH: &str = "/api/v1/users";

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Assigned by the server on creation.
    pub id: u64,
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

fn seed() -> BTreeMap<u64, User> {
    [
        (1, "Ada Lovelace", "ada@example.com"),
        (2, "Grace Hopper", "grace@example.com"),
        (3, "Alan Turing", "alan@example.com"),
        (4, "Edsger Dijkstra", "edsger@example.com"),
        (5, "Barbara Liskov", "barbara@example.com"),
        (6, "Donald Knuth", "don@example.com"),
        (7, "Margaret Hamilton", "margaret@example.com"),
        (8, "Tony Hoare", "tony@example.com"),
        (9, "Frances Allen", "frances@example.com"),
        (10, "John McCarthy", "john@example.com"),
    ]
    .into_iter()
    .map(|(id, name, email)| {
        (
            id,
            User {
                id,
                name: name.to_owned(),
                email: email.to_owned(),
            },
        )
    })
    .collect()
}

static USERS: LazyLock<Mutex<BTreeMap<u64, User>>> = LazyLock::new(|| Mutex::new(seed()));

fn store() -> MutexGuard<'static, BTreeMap<u64, User>> {
    // A handler that panicked mid-write traps the instance under the host; natively, keep
    // serving whatever state it left.
    USERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn not_found(id: u64) -> Problem {
    Problem::new(StatusCode::NOT_FOUND).with_detail(format!("there is no user {id}"))
}

/// The strong validator of a user's JSON representation: the same tag
/// [`ConditionalRequests`](crate::cache::ConditionalRequests) gives the `GET` response.
fn etag_of(user: &User) -> ETag {
    ETag::from_body(&serde_json::to_vec(user).unwrap_or_default())
}

/// `If-Match` / `If-Unmodified-Since` of a write, checked before it acts.
fn check_preconditions(req: &Request, user: &User) -> Result<(), Problem> {
    match evaluate(req.headers(), Some(&etag_of(user)), None, req.method()) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified | Outcome::PreconditionFailed => Err(precondition_failed()),
    }
}

fn with_etag(mut res: Response, user: &User) -> Response {
    res.headers_mut()
        .insert(header::ETAG, etag_of(user).to_header_value());
    res
}

/// `GET /api/v1/users`: every user, by id.
pub fn list(_req: Request) -> Result<Response, Problem> {
    let users: Vec<User> = store().values().cloned().collect();
    Ok(json_response(StatusCode::OK, &users))
}

/// `GET /api/v1/users/{id}`.
pub fn get(req: Request) -> Result<Response, Problem> {
    let id: u64 = PathParams::of(&req).parse("id")?;
    let user = store().get(&id).cloned().ok_or_else(|| not_found(id))?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `POST /api/v1/users`: `201` with `Location` and the new user.
pub fn create(req: Request) -> Result<Response, Problem> {
    let input: UserInput = json_valid(&req)?;
    let user = {
        let mut users = store();
        let id = users.keys().next_back().map_or(1, |last| last + 1);
        let user = User {
            id,
            name: input.name.trim().to_owned(),
            email: input.email,
        };
        users.insert(id, user.clone());
        user
    };
    let mut res = json_response(StatusCode::CREATED, &user);
    let location = HeaderValue::from_str(&format!("{USERS_PATH}/{}", user.id))
        .expect("a path and a number are a valid header value");
    res.headers_mut().insert(header::LOCATION, location);
    Ok(with_etag(res, &user))
}

/// `PUT /api/v1/users/{id}`: replaces an existing user.
pub fn replace(req: Request) -> Result<Response, Problem> {
    let id: u64 = PathParams::of(&req).parse("id")?;
    let input: UserInput = json_valid(&req)?;
    let mut users = store();
    let current = users.get(&id).ok_or_else(|| not_found(id))?;
    check_preconditions(&req, current)?;
    let user = User {
        id,
        name: input.name.trim().to_owned(),
        email: input.email,
    };
    users.insert(id, user.clone());
    Ok(with_etag(json_response(StatusCode::OK, &user), &user))
}

/// `PATCH /api/v1/users/{id}`: a JSON merge patch (RFC 7396) of `name` and `email`.
pub fn patch(req: Request) -> Result<Response, Problem> {
    let id: u64 = PathParams::of(&req).parse("id")?;
    let patch: Value = json(&req)?;
    if !patch.is_object() {
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail("a merge patch of a user must be a JSON object"));
    }
    let mut users = store();
    let current = users.get(&id).ok_or_else(|| not_found(id))?;
    check_preconditions(&req, current)?;
    let mut merged = serde_json::json!({"name": current.name, "email": current.email});
    merge_patch(&mut merged, &patch);
    let input: UserInput = serde_json::from_value(merged).map_err(|err| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail(format!("the patched user is not valid: {err}"))
    })?;
    input
        .validate()
        .map_err(|errors| Problem::from(JsonRejection::Invalid { errors }))?;
    let user = User {
        id,
        name: input.name.trim().to_owned(),
        email: input.email,
    };
    users.insert(id, user.clone());
    Ok(with_etag(json_response(StatusCode::OK, &user), &user))
}

/// `DELETE /api/v1/users/{id}`: `204`.
pub fn delete(req: Request) -> Result<Response, Problem> {
    let id: u64 = PathParams::of(&req).parse("id")?;
    let mut users = store();
    let current = users.get(&id).ok_or_else(|| not_found(id))?;
    check_preconditions(&req, current)?;
    users.remove(&id);
    let mut res = Response::new(Vec::new());
    *res.status_mut() = StatusCode::NO_CONTENT;
    Ok(res)
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
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        // RFC 7396 Appendix A: (original, patch, result)
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, result) in cases {
            let mut target = original.clone();
            merge_patch(&mut target, &patch);
            assert_eq!(target, result, "{original} + {patch}");
        }
    }

    #[test]
    fn input_validation() {
        // (name, email, invalid fields)
        let long = "x".repeat(101);
        let cases: [(&str, &str, &[&str]); 7] = [
            ("Ada", "ada@example.com", &[]),
            ("  ", "ada@example.com", &["name"]),
            (&long, "ada@example.com", &["name"]),
            ("Ada", "ada", &["email"]),
            ("Ada", "@example.com", &["email"]),
            ("Ada", "a@b@c", &["email"]),
            ("", "a b@c", &["name", "email"]),
        ];
        for (name, email, fields) in cases {
            let input = UserInput {
                name: name.to_owned(),
                email: email.to_owned(),
            };
            let got: Vec<String> = match input.validate() {
                Ok(()) => Vec::new(),
                Err(errors) => errors.iter().map(|e| e.field().to_owned()).collect(),
            };
            assert_eq!(got, fields, "{name:?} {email:?}");
        }
    }
}
