use std::cell::RefCell;
use std::rc::Rc;

use http::Method;
use serde_json::json;

use super::*;
use edge_toolkit::Router;

type Hook = Box<dyn FnOnce()>;

thread_local! {
    /// Run (once) by [`Users::swap`] between the snapshot and the swap, on this test's
    /// thread only.
    static BEFORE_SWAP: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

pub(super) fn before_swap() {
    if let Some(hook) = BEFORE_SWAP.with(|hook| hook.borrow_mut().take()) {
        hook();
    }
}

fn router(users: &Users) -> Router {
    let path = "/api/v1/users/{id}";
    Router::new()
        .get(path, users.handler(Users::get))
        .and_then(|r| r.put(path, users.handler(Users::replace)))
        .and_then(|r| r.patch(path, users.handler(Users::patch)))
        .and_then(|r| r.delete(path, users.handler(Users::delete)))
        .and_then(|r| r.get(USERS_PATH, users.handler(Users::list)))
        .expect("valid routes")
}

fn send(users: &Users, method: Method, path: &str, if_match: &str, body: &str) -> Response {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("if-match", if_match)
        .body(body.as_bytes().to_vec())
        .expect("valid request");
    router(users).handle(req)
}

#[test]
fn a_write_between_the_snapshot_and_the_swap_wins_and_the_request_is_412() {
    let label = "users-test-cas-race";
    let store = Store::open(label).expect("an in-memory store");
    store.clear().expect("clearable");
    let users = Users::new(label);
    let id = "a".repeat(32);
    let path = format!("{USERS_PATH}/{id}");
    let user = User {
        id: id.clone(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
    };
    Users::save(&store, user).expect("writable");

    let cases = [
        (Method::PUT, r#"{"name":"Mine","email":"mine@example.com"}"#),
        (Method::PATCH, r#"{"name":"Mine"}"#),
    ];
    for (method, body) in cases {
        let res = send(&users, Method::GET, &path, "*", "");
        let etag = res.headers()[header::ETAG]
            .to_str()
            .expect("ascii")
            .to_owned();

        // Another writer holding the same tag completes between our check and our swap.
        let theirs = Rc::new(RefCell::new(None));
        let (other, tag, slot) = (users.clone(), etag.clone(), Rc::clone(&theirs));
        let other_path = path.clone();
        BEFORE_SWAP.with(|hook| {
            *hook.borrow_mut() = Some(Box::new(move || {
                let body = r#"{"name":"Theirs","email":"theirs@example.com"}"#;
                *slot.borrow_mut() = Some(send(&other, Method::PUT, &other_path, &tag, body));
            }));
        });

        let res = send(&users, method.clone(), &path, &etag, body);
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED, "{method}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(
            problem["detail"],
            "the user changed while this request was processed"
        );

        // The other write went through, and is what is stored.
        let theirs = theirs.borrow_mut().take().expect("the hook ran");
        assert_eq!(theirs.status(), StatusCode::OK, "{method}");
        let res = send(&users, Method::GET, &path, "*", "");
        assert_eq!(res.body(), theirs.body());
        assert_eq!(res.headers()[header::ETAG], theirs.headers()[header::ETAG]);
        let stored: User = serde_json::from_slice(res.body()).expect("a user");
        assert_eq!(stored.name, "Theirs");

        // Our tag is now stale: a retry with it is the ordinary 412, one with the new
        // tag goes through.
        let res = send(&users, method.clone(), &path, &etag, body);
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        let fresh = theirs.headers()[header::ETAG].to_str().expect("ascii");
        let res = send(&users, method.clone(), &path, fresh, body);
        assert_eq!(res.status(), StatusCode::OK, "{method}");
        let stored: User = serde_json::from_slice(res.body()).expect("a user");
        assert_eq!(stored.name, "Mine");
    }
}

#[test]
fn a_write_between_the_check_and_the_tombstone_keeps_the_user_and_the_delete_is_412() {
    let label = "users-test-delete-race";
    let store = Store::open(label).expect("an in-memory store");
    store.clear().expect("clearable");
    let users = Users::new(label);
    let id = "d".repeat(32);
    let path = format!("{USERS_PATH}/{id}");
    let user = User {
        id: id.clone(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
    };
    let etag = Users::save(&store, user).expect("writable").etag;
    let etag = etag.to_header_value().to_str().expect("ascii").to_owned();

    let theirs = Rc::new(RefCell::new(None));
    let (other, tag, slot, other_path) = (
        users.clone(),
        etag.clone(),
        Rc::clone(&theirs),
        path.clone(),
    );
    BEFORE_SWAP.with(|hook| {
        *hook.borrow_mut() = Some(Box::new(move || {
            let body = r#"{"name":"Theirs","email":"theirs@example.com"}"#;
            *slot.borrow_mut() = Some(send(&other, Method::PUT, &other_path, &tag, body));
        }));
    });
    let res = send(&users, Method::DELETE, &path, &etag, "");
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let theirs = theirs.borrow_mut().take().expect("the hook ran");
    assert_eq!(theirs.status(), StatusCode::OK);
    let res = send(&users, Method::GET, &path, "*", "");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), theirs.body());

    // With the current tag the delete goes through, and the key is gone.
    let fresh = theirs.headers()[header::ETAG].to_str().expect("ascii");
    let res = send(&users, Method::DELETE, &path, fresh, "");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.get(&user_key(&id)).expect("readable"), None);
    assert_eq!(send(&users, Method::GET, &path, "*", "").status(), 404);
}

#[test]
fn a_tombstone_is_no_user() {
    let label = "users-test-tombstone";
    let store = Store::open(label).expect("an in-memory store");
    store.clear().expect("clearable");
    let users = Users::new(label);
    let id = "e".repeat(32);
    let path = format!("{USERS_PATH}/{id}");
    // What a delete whose final key deletion failed leaves behind.
    store.set(&user_key(&id), TOMBSTONE).expect("writable");
    assert_eq!(send(&users, Method::GET, &path, "*", "").status(), 404);
    let body = r#"{"name":"Ada","email":"ada@example.com"}"#;
    assert_eq!(send(&users, Method::PUT, &path, "*", body).status(), 404);
    assert_eq!(send(&users, Method::PATCH, &path, "*", body).status(), 404);
    assert_eq!(send(&users, Method::DELETE, &path, "*", "").status(), 404);
    let res = send(&users, Method::GET, USERS_PATH, "*", "");
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_slice(), b"[]");
}

#[test]
fn a_swap_without_a_concurrent_write_goes_through() {
    let label = "users-test-cas-quiet";
    let store = Store::open(label).expect("an in-memory store");
    store.clear().expect("clearable");
    let users = Users::new(label);
    let id = "b".repeat(32);
    let path = format!("{USERS_PATH}/{id}");
    let user = User {
        id,
        name: "Grace".into(),
        email: "grace@example.com".into(),
    };
    let etag = Users::save(&store, user).expect("writable").etag;
    // A read in between is not a change.
    BEFORE_SWAP.with(|hook| {
        let (reader, path) = (users.clone(), path.clone());
        *hook.borrow_mut() = Some(Box::new(move || {
            assert_eq!(send(&reader, Method::GET, &path, "*", "").status(), 200);
        }));
    });
    let tag = etag.to_header_value();
    let res = send(
        &users,
        Method::PATCH,
        &path,
        tag.to_str().expect("ascii"),
        r#"{"email":"hopper@example.com"}"#,
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        BEFORE_SWAP.with(|hook| hook.borrow().is_none()),
        "the hook ran"
    );
    let stored: User = serde_json::from_slice(res.body()).expect("a user");
    assert_eq!(stored.email, "hopper@example.com");
    // A missing user is still 404 with a snapshot, before the preconditions.
    let res = send(
        &users,
        Method::PUT,
        &format!("{USERS_PATH}/{}", "c".repeat(32)),
        "\"stale\"",
        "{}",
    );
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

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

#[test]
fn ids_are_random_lowercase_hex() {
    let a = new_id().expect("random");
    let b = new_id().expect("random");
    assert_ne!(a, b);
    assert!(is_user_id(&a), "{a}");
    for bad in [
        "",
        "1",
        &a.to_uppercase(),
        &format!("{a}0"),
        "../../../etc/passwd",
    ] {
        assert!(!is_user_id(bad), "{bad}");
    }
    assert_eq!(user_key(&a), format!("users/{a}"));
}

#[test]
fn the_stored_bytes_are_the_body_and_the_tag() {
    let user = User {
        id: "0".repeat(32),
        name: "Ada".into(),
        email: "ada@example.com".into(),
    };
    let stored = Stored::new(user.clone()).expect("serialisable");
    let etag = stored.etag.clone();
    let parsed = Stored::parse(&user.id, stored.bytes.clone()).expect("readable");
    assert_eq!(parsed.user, user);
    assert_eq!(parsed.etag, etag);
    let res = stored.into_response(StatusCode::OK);
    assert_eq!(ETag::from_body(res.body()), etag);
    assert_eq!(res.headers()[header::ETAG], etag.to_header_value());
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let err = Stored::parse("x", b"not json".to_vec())
        .err()
        .expect("corrupt");
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
