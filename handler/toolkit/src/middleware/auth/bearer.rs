//! The bearer token of a request: `Authorization: Bearer <token68>`
//! ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)).
//!
//! ```text
//! credentials = "Bearer" 1*SP b64token
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```

use http::header;

use crate::Request;
use crate::middleware::auth::AuthError;

/// The bearer token `req` carries.
///
/// - no `Authorization`, or another scheme (`Basic ...`): [`AuthError::Missing`], since the
///   client sent no bearer credentials;
/// - `Bearer` without a valid `b64token`, or several `Authorization` lines:
///   [`AuthError::Malformed`].
///
/// The scheme name is case-insensitive.
///
/// ```
/// use edge_toolkit::middleware::auth::{AuthError, bearer_token};
///
/// let req = http::Request::get("/").header("authorization", "bearer abc.DEF-1").body(vec![]).unwrap();
/// assert_eq!(bearer_token(&req), Ok("abc.DEF-1"));
///
/// let req = http::Request::get("/").header("authorization", "Basic dXNlcg==").body(vec![]).unwrap();
/// assert_eq!(bearer_token(&req), Err(AuthError::Missing));
///
/// let req = http::Request::get("/").header("authorization", "Bearer a b").body(vec![]).unwrap();
/// assert!(matches!(bearer_token(&req), Err(AuthError::Malformed { .. })));
/// ```
pub fn bearer_token(req: &Request) -> Result<&str, AuthError> {
    let mut lines = req.headers().get_all(header::AUTHORIZATION).iter();
    let Some(value) = lines.next() else {
        return Err(AuthError::Missing);
    };
    if lines.next().is_some() {
        return Err(AuthError::Malformed {
            reason: "Authorization is sent more than once",
        });
    }
    let text = value.to_str().map_err(|_| AuthError::Malformed {
        reason: "the header is not ASCII",
    })?;
    let text = text.trim_matches([' ', '\t']);
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(AuthError::Missing);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::Malformed {
            reason: "the Bearer scheme has no token",
        });
    }
    if !is_b64token(token) {
        return Err(AuthError::Malformed {
            reason: "the token is not a b64token",
        });
    }
    Ok(token)
}

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_bearer_tokens() {
        // (Authorization lines, expected)
        let cases: [(&[&str], Result<&str, &str>); 13] = [
            (&[], Err("missing")),
            (&["Bearer abc"], Ok("abc")),
            (&["bearer abc"], Ok("abc")),
            (&["BEARER   a.b.c"], Ok("a.b.c")),
            (&["Bearer ab+/=="], Ok("ab+/==")),
            (&["Basic dXNlcjpwYXNz"], Err("missing")),
            (&["Bearerabc"], Err("missing")),
            (&["Bearer"], Err("malformed")),
            (&["Bearer "], Err("malformed")),
            (&["Bearer a b"], Err("malformed")),
            (&["Bearer a,b"], Err("malformed")),
            (&["Bearer =="], Err("malformed")),
            (&["Bearer a", "Bearer b"], Err("malformed")),
        ];
        for (lines, expected) in cases {
            let mut builder = http::Request::get("/");
            for line in lines {
                builder = builder.header(header::AUTHORIZATION, *line);
            }
            let req = builder.body(Vec::new()).expect("valid");
            let got = match bearer_token(&req) {
                Ok(token) => Ok(token),
                Err(AuthError::Missing) => Err("missing"),
                Err(AuthError::Malformed { .. }) => Err("malformed"),
                Err(other) => panic!("{lines:?}: {other:?}"),
            };
            assert_eq!(got, expected, "{lines:?}");
        }
    }
}
