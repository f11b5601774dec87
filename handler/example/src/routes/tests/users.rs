//! The users resource through the whole application: creating, reading, conditional
//! writes, bodies, compression and store failures.

use super::*;

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
        edge_toolkit::cache::ETag::from_body(res.body()).to_header_value(),
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
            assert_eq!(body_json(res)["detail"], failure.summary());
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
fn users_list_is_compressed_with_an_etag_per_coding() {
    use std::io::Read as _;

    let app = App::new();
    for n in 0..10 {
        app.create(&format!("User number {n}"), &format!("user{n}@example.com"));
    }
    let plain = app.get("/api/v1/users", &[("accept-encoding", "identity")]);
    assert!(plain.body().len() >= COMPRESS_FROM);
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.headers()["vary"], "Accept, Accept-Encoding");
    let plain_etag = header(&plain, "etag");

    let gzip = app.get("/api/v1/users", &[("accept-encoding", "gzip")]);
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.headers()["vary"], "Accept, Accept-Encoding");
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
    assert_eq!(res.headers()["vary"], "Accept, Accept-Encoding");
    let res = app.get(
        "/api/v1/users",
        &[("accept-encoding", "br"), ("if-none-match", &gzip_etag)],
    );
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn the_users_list_is_json_or_csv_by_accept_and_406_otherwise() {
    let app = App::new();
    app.create("Ada, Countess", "ada@example.com");
    app.create("Grace \"Amazing\" Hopper", "grace@example.com");
    let json = app.get("/api/v1/users", &[]);
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(json.headers()["vary"], "Accept");
    let users = body_json(&json);

    let csv = app.get("/api/v1/users", &[("accept", "text/csv")]);
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(
        csv.headers()["content-type"],
        "text/csv; charset=utf-8; header=present"
    );
    assert_eq!(csv.headers()["vary"], "Accept");
    let text = std::str::from_utf8(csv.body()).expect("UTF-8");
    let mut lines = text.split("\r\n");
    assert_eq!(lines.next(), Some("id,name,email"));
    let rows: Vec<&str> = lines.filter(|line| !line.is_empty()).collect();
    assert_eq!(rows.len(), 2);
    for (row, user) in rows.iter().zip(users.as_array().expect("a list")) {
        let id = user["id"].as_str().expect("an id");
        assert!(row.starts_with(&format!("{id},")), "{row}");
    }
    assert!(text.contains("\"Ada, Countess\",ada@example.com"), "{text}");
    assert!(text.contains("\"Grace \"\"Amazing\"\" Hopper\""), "{text}");
    assert_ne!(csv.headers()["etag"], json.headers()["etag"]);

    let preferred = app.get(
        "/api/v1/users",
        &[("accept", "text/csv;q=0.5, application/json")],
    );
    assert_eq!(preferred.headers()["content-type"], "application/json");
    let refused = app.get("/api/v1/users", &[("accept", "application/xml")]);
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let detail = body_json(&refused)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("application/json") && detail.contains("text/csv"),
        "{detail}"
    );
}
