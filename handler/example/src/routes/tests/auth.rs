//! Write authentication: tokens and scopes, and the JWT settings from the variables.

use super::*;

#[test]
fn writes_need_a_token_with_the_write_scope() {
    let app = App::new();
    let body = r#"{"name":"Edsger Dijkstra","email":"ewd@example.com"}"#;
    // (Authorization, status, `error` in WWW-Authenticate)
    let bad_sig = format!(
        "Bearer {}",
        edge_toolkit::middleware::auth::jwt::sign_hs256(
            &serde_json::json!({"iss": JWT_ISSUER, "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
            "not the secret, though 32 bytes long",
        )
    );
    let wrong_issuer = format!(
        "Bearer {}",
        edge_toolkit::middleware::auth::jwt::sign_hs256(
            &serde_json::json!({"iss": "someone-else", "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64}),
            SECRET,
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
        jwt_secret: "secret-x, another one of 32 bytes or more".to_owned(),
    };
    let router = router_with(&config).expect("valid routes");
    let body = r#"{"name":"A","email":"a@b"}"#;
    let sign = |iss: &str, secret: &str| {
        format!(
            "Bearer {}",
            edge_toolkit::middleware::auth::jwt::sign_hs256(
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
    let secret_x = config.jwt_secret.as_str();
    assert_eq!(post(&sign("issuer-x", secret_x)), StatusCode::CREATED);
    assert_eq!(post(&sign(JWT_ISSUER, SECRET)), StatusCode::UNAUTHORIZED);
    assert_eq!(post(&sign("issuer-x", SECRET)), StatusCode::UNAUTHORIZED);
}

#[test]
fn unreadable_variables_make_writes_500_but_keep_reads() {
    let config = AppConfig::new(SECRET)
        .expect("a long secret")
        .with_users_store("app-test-misconfigured");
    let auth = WriteAuth::from_config(Err(edge_toolkit::config::ConfigError::Provider(
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
    // The provider's words stay in the log.
    assert_eq!(
        body_json(&res)["detail"],
        "configuration error: a variable could not be read"
    );
    let res = router.handle(request(Method::GET, "/api/v1/users", &[], ""));
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn without_a_long_enough_secret_writes_are_disabled_and_reads_kept() {
    let lookup = |secret: Option<&'static str>| {
        move |name: &str| -> Result<Option<String>, ConfigError> {
            Ok(match name {
                VAR_JWT_SECRET => secret.map(str::to_owned),
                _ => None,
            })
        }
    };
    let post = |router: &Router, secret: &str| {
        let claims =
            serde_json::json!({"iss": JWT_ISSUER, "scope": WRITE_SCOPE, "exp": 4_102_444_800_i64});
        let token = edge_toolkit::middleware::auth::jwt::sign_hs256(&claims, secret);
        router.handle(request(
            Method::POST,
            "/api/v1/users",
            &[JSON, ("authorization", &format!("Bearer {token}"))],
            r#"{"name":"Public","email":"secret@example.com"}"#,
        ))
    };
    // Unset, empty or short: no write passes, not even with a token signed with that very
    // secret or with the development secret of old; reads still work.
    for (secret, says) in [
        (None, "is not set"),
        (Some(""), "is not set"),
        (Some(" "), "is not set"),
        (
            Some("edge-toolkit-development-secret"),
            "shorter than 32 bytes",
        ),
    ] {
        let router = router_from(AppConfig::from_lookup(lookup(secret))).expect("valid routes");
        for signed_with in [
            secret.unwrap_or_default(),
            "edge-toolkit-development-secret",
        ] {
            let res = post(&router, signed_with);
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
            assert!(detail.contains(says), "{detail}");
        }
        let res = router.handle(request(Method::GET, "/api/health", &[], ""));
        assert_eq!(res.status(), StatusCode::OK);
    }
}
