//! Middleware accepting a fixed set of opaque bearer tokens.
//!
//! ```
//! use edge_toolkit::{Handler, Request, Response, Stack};
//! use edge_toolkit::middleware::auth::StaticTokens;
//!
//! let app = Stack::new()
//!     .layer(StaticTokens::new("admin", ["s3cret-token", "second-token"]))
//!     .handler(|_req: Request| Ok(Response::new(b"welcome".to_vec())));
//!
//! let ok = http::Request::get("/").header("authorization", "Bearer s3cret-token").body(vec![]).unwrap();
//! assert_eq!(app.call_blocking(ok).unwrap().body().as_slice(), b"welcome");
//!
//! let none = http::Request::get("/").body(vec![]).unwrap();
//! let res = app.call_blocking(none).unwrap_err().into_response();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="admin""#);
//!
//! let wrong = http::Request::get("/").header("authorization", "Bearer guess").body(vec![]).unwrap();
//! let res = app.call_blocking(wrong).unwrap_err().into_response();
//! assert_eq!(res.status(), 401);
//! assert!(res.headers()["www-authenticate"].to_str().unwrap().contains(r#"error="invalid_token""#));
//! ```

use std::fmt;

use sha2::{Digest, Sha256};

use crate::HandlerFuture;
use crate::middleware::auth::{AuthError, bearer_token};
use crate::{Middleware, Next, Request};

/// Accepts requests whose bearer token is one of a fixed set; answers `401` with a
/// `WWW-Authenticate` challenge otherwise ([`AuthError`]).
///
/// Tokens are compared in constant time: the SHA-256 digest of the presented token is
/// compared with every accepted token's digest, without stopping at the first difference or
/// the first match, so neither the timing nor the token length tells an attacker how close a
/// guess was.
///
/// ```
/// use edge_toolkit::middleware::auth::StaticTokens;
///
/// let auth = StaticTokens::new("api", ["t1"]);
/// assert!(auth.accepts("t1"));
/// assert!(!auth.accepts("t2"));
/// assert!(!format!("{auth:?}").contains("t1")); // Debug never shows tokens
/// ```
#[derive(Clone)]
pub struct StaticTokens {
    realm: String,
    digests: Vec<[u8; 32]>,
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokens")
            .field("realm", &self.realm)
            .field("tokens", &self.digests.len())
            .finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl StaticTokens {
    /// Accepts `tokens` in the protection space `realm`.
    pub fn new<I, S>(realm: impl Into<String>, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Self {
            realm: realm.into(),
            digests: tokens.into_iter().map(|t| digest(t.as_ref())).collect(),
        }
    }

    /// Whether `token` is one of the accepted tokens (in constant time).
    pub fn accepts(&self, token: &str) -> bool {
        let presented = digest(token.as_bytes());
        let mut matched = 0u8;
        for accepted in &self.digests {
            let difference = accepted
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            matched |= u8::from(difference == 0);
        }
        std::hint::black_box(matched) == 1
    }
}

impl Middleware for StaticTokens {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let verdict = bearer_token(&req).and_then(|token| {
                if self.accepts(token) {
                    Ok(())
                } else {
                    Err(AuthError::Rejected)
                }
            });
            match verdict {
                Ok(()) => next.run(req).await,
                Err(err) => Err(err.into_problem(&self.realm)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Response;
    use http::{StatusCode, header};

    use super::*;
    use crate::{Handler, Stack};

    #[test]
    fn accepts_only_listed_tokens() {
        let app = Stack::new()
            .layer(StaticTokens::new("r", ["alpha", "beta"]))
            .handler(|_req: Request| Ok(Response::new(b"in".to_vec())));
        // (Authorization, status, challenge has error=invalid_token)
        let cases = [
            (Some("Bearer alpha"), 200, false),
            (Some("Bearer beta"), 200, false),
            (Some("Bearer alph"), 401, true),
            (Some("Bearer alphaa"), 401, true),
            (Some("Bearer "), 400, false),
            (Some("Basic YWxwaGE="), 401, false),
            (None, 401, false),
        ];
        for (authorization, status, invalid) in cases {
            let mut builder = http::Request::get("/");
            if let Some(value) = authorization {
                builder = builder.header(header::AUTHORIZATION, value);
            }
            let res = match app.call_blocking(builder.body(Vec::new()).expect("valid")) {
                Ok(res) => res,
                Err(problem) => problem.into_response(),
            };
            assert_eq!(res.status(), status, "{authorization:?}");
            if status == StatusCode::OK {
                assert_eq!(res.body().as_slice(), b"in");
                continue;
            }
            let challenge = res.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii");
            assert!(challenge.starts_with("Bearer realm=\"r\""), "{challenge}");
            assert_eq!(
                challenge.contains("error=\"invalid_token\""),
                invalid,
                "{authorization:?}: {challenge}"
            );
            assert_eq!(
                challenge.contains("error=\"invalid_request\""),
                status == StatusCode::BAD_REQUEST,
                "{authorization:?}: {challenge}"
            );
        }
    }

    #[test]
    fn empty_set_accepts_nothing() {
        let auth = StaticTokens::new("r", Vec::<String>::new());
        assert!(!auth.accepts(""));
        assert!(!auth.accepts("x"));
    }
}
