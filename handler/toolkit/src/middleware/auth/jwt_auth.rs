//! Middleware verifying HS256 JSON Web Tokens and handing their claims to the handler.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::auth::{Claims, JwtAuth, JwtValidator, jwt};
//!
//! const SECRET: &[u8] = b"dev-secret-dev-secret-dev-secret";
//! let auth = JwtAuth::new("api", JwtValidator::hs256(SECRET)?.with_issuer("edge-toolkit"))
//!     .with_required_scope("users:write");
//! let app = Stack::new().layer(auth).handler(|req: Request| {
//!     let who = Claims::of(&req).and_then(Claims::subject).unwrap_or("nobody").to_owned();
//!     Ok(Response::new(who.into_bytes()))
//! });
//!
//! let token = jwt::sign_hs256(
//!     &serde_json::json!({"sub": "ada", "iss": "edge-toolkit", "exp": 4102444800_i64, "scope": "users:write"}),
//!     SECRET,
//! );
//! let req = http::Request::post("/users")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(vec![])
//!     .unwrap();
//! assert_eq!(app.call_blocking(req).unwrap().body().as_slice(), b"ada");
//!
//! // Valid, but without the scope: 403 insufficient_scope.
//! let reader = jwt::sign_hs256(
//!     &serde_json::json!({"sub": "bob", "iss": "edge-toolkit", "exp": 4102444800_i64, "scope": "users:read"}),
//!     SECRET,
//! );
//! let req = http::Request::post("/users")
//!     .header("authorization", format!("Bearer {reader}"))
//!     .body(vec![])
//!     .unwrap();
//! let res = app.call_blocking(req).unwrap_err().into_response();
//! assert_eq!(res.status(), 403);
//! assert!(res.headers()["www-authenticate"].to_str().unwrap().contains(r#"error="insufficient_scope""#));
//! # Ok::<(), edge_toolkit::middleware::auth::WeakKey>(())
//! ```

use crate::HandlerFuture;
use crate::middleware::auth::{AuthError, JwtValidator, bearer_token};
use crate::{Middleware, Next, Request};

/// Verifies the request's bearer token as an HS256 JWT ([`JwtValidator`]), checks the
/// required scopes and claims, and stores the verified [`Claims`](crate::middleware::auth::Claims)
/// in the request's extensions for the handler.
///
/// Refusals are [`AuthError`]s: `401` with `WWW-Authenticate: Bearer realm="...", error=
/// "invalid_token", error_description="..."` for a missing (without `error`), malformed or
/// unverifiable token, `403` with `error="insufficient_scope"` for a valid token that lacks
/// a required scope or claim.
///
/// ```
/// use edge_toolkit::middleware::auth::{JwtAuth, JwtValidator};
///
/// let auth = JwtAuth::new("api", JwtValidator::hs256([b'k'; 32])?)
///     .with_required_scope("read")
///     .with_required_claim("email");
/// assert_eq!(auth.realm(), "api");
/// # Ok::<(), edge_toolkit::middleware::auth::WeakKey>(())
/// ```
#[derive(Debug, Clone)]
pub struct JwtAuth {
    realm: String,
    validator: JwtValidator,
    scopes: Vec<String>,
    claims: Vec<String>,
}

impl JwtAuth {
    /// Verifies tokens with `validator`, in the protection space `realm`.
    pub fn new(realm: impl Into<String>, validator: JwtValidator) -> Self {
        Self {
            realm: realm.into(),
            validator,
            scopes: Vec::new(),
            claims: Vec::new(),
        }
    }

    /// Also requires the token to grant `scope` (in `scope` or `scp`).
    pub fn with_required_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Also requires the token to carry the claim `name` (any value).
    pub fn with_required_claim(mut self, name: impl Into<String>) -> Self {
        self.claims.push(name.into());
        self
    }

    /// The protection space named in challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn authenticate(&self, req: &Request) -> Result<crate::middleware::auth::Claims, AuthError> {
        let token = bearer_token(req)?;
        let claims = self.validator.verify(token)?;
        if let Some(scope) = self.scopes.iter().find(|s| !claims.has_scope(s)) {
            return Err(AuthError::InsufficientScope {
                scope: scope.clone(),
            });
        }
        if let Some(name) = self.claims.iter().find(|c| claims.get(c).is_none()) {
            return Err(AuthError::InsufficientScope {
                scope: format!("claim:{name}"),
            });
        }
        Ok(claims)
    }
}

impl Middleware for JwtAuth {
    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            match self.authenticate(&req) {
                Ok(claims) => {
                    req.extensions_mut().insert(claims);
                    next.run(req).await
                }
                Err(err) => Err(err.into_problem(&self.realm)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Problem, Response};
    use http::header;
    use serde_json::{Value, json};

    use super::*;
    use crate::middleware::auth::{Claims, jwt};
    use crate::{Handler, Stack};

    const KEY: &[u8] = b"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
    const FAR: i64 = 4_102_444_800;

    fn app() -> impl Handler {
        let auth = JwtAuth::new(
            "api",
            JwtValidator::hs256(KEY)
                .expect("a long key")
                .with_issuer("me"),
        )
        .with_required_scope("write")
        .with_required_claim("email");
        Stack::new().layer(auth).handler(|req: Request| {
            let claims = Claims::of(&req).expect("stored by JwtAuth");
            Ok(Response::new(
                claims.subject().unwrap_or_default().as_bytes().to_vec(),
            ))
        })
    }

    fn bearer(claims: &Value, key: &[u8]) -> String {
        format!("Bearer {}", jwt::sign_hs256(claims, key))
    }

    /// RFC 6750 §3.1: a repeated or malformed `Authorization` is a bad request
    /// (`invalid_request`), not a bad token.
    #[test]
    fn malformed_or_repeated_authorization_is_400_invalid_request() {
        let good = json!({"sub": "ada", "iss": "me", "exp": FAR, "scope": "write", "email": "e"});
        let token = bearer(&good, KEY);
        let cases: [&[&str]; 3] = [&[&token, &token], &["Bearer a b"], &["Bearer"]];
        for values in cases {
            let mut builder = http::Request::get("/");
            for value in values {
                builder = builder.header(header::AUTHORIZATION, *value);
            }
            let res = app()
                .call_blocking(builder.body(Vec::new()).expect("valid"))
                .unwrap_or_else(Problem::into_response);
            assert_eq!(res.status(), 400, "{values:?}");
            let challenge = res.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii");
            assert!(
                challenge.contains(r#"error="invalid_request""#),
                "{challenge}"
            );
        }
    }

    #[test]
    fn statuses_and_challenges() {
        let good =
            json!({"sub": "ada", "iss": "me", "exp": FAR, "scope": "read write", "email": "a@x"});
        // (Authorization, status, `error` in the challenge, body or description fragment)
        let cases: Vec<(Option<String>, u16, Option<&str>, &str)> = vec![
            (Some(bearer(&good, KEY)), 200, None, "ada"),
            (None, 401, None, "no bearer token"),
            (
                Some("Bearer not-a-jwt".into()),
                401,
                Some("invalid_token"),
                "three segments",
            ),
            (
                Some(bearer(&good, b"wrong")),
                401,
                Some("invalid_token"),
                "signature is invalid",
            ),
            (
                Some(bearer(
                    &json!({"sub": "ada", "iss": "me", "exp": 1, "scope": "write", "email": "e"}),
                    KEY,
                )),
                401,
                Some("invalid_token"),
                "expired",
            ),
            (
                Some(bearer(
                    &json!({"sub": "ada", "iss": "me", "exp": FAR, "scope": "read", "email": "e"}),
                    KEY,
                )),
                403,
                Some("insufficient_scope"),
                "lacks the scope write",
            ),
            (
                Some(bearer(
                    &json!({"sub": "ada", "iss": "me", "exp": FAR, "scope": "write"}),
                    KEY,
                )),
                403,
                Some("insufficient_scope"),
                "claim:email",
            ),
        ];
        let app = app();
        for (authorization, status, error, text) in cases {
            let mut builder = http::Request::post("/");
            if let Some(value) = &authorization {
                builder = builder.header(header::AUTHORIZATION, value);
            }
            let res = match app.call_blocking(builder.body(Vec::new()).expect("valid")) {
                Ok(res) => res,
                Err(problem) => problem.into_response(),
            };
            assert_eq!(res.status(), status, "{authorization:?}");
            if status == 200 {
                assert_eq!(res.body().as_slice(), text.as_bytes());
                assert!(!res.headers().contains_key(header::WWW_AUTHENTICATE));
                continue;
            }
            let challenge = res.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii");
            assert!(
                challenge.starts_with(r#"Bearer realm="api""#),
                "{challenge}"
            );
            match error {
                Some(code) => {
                    assert!(
                        challenge.contains(&format!("error=\"{code}\"")),
                        "{challenge}"
                    )
                }
                None => assert!(!challenge.contains("error="), "{challenge}"),
            }
            let body: Value = serde_json::from_slice(res.body()).expect("json");
            let detail = body["detail"].as_str().expect("detail");
            assert!(detail.contains(text), "{detail}");
        }
    }
}
