//! Why a request was refused, and the `WWW-Authenticate` challenge that says so
//! ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)).

use http::{HeaderValue, StatusCode, header};

use crate::Problem;
use crate::middleware::auth::JwtError;

/// Why bearer authentication refused a request. Knows its status and renders as a
/// problem+json response with a `WWW-Authenticate: Bearer ...` challenge.
///
/// | Variant | Status | `error` |
/// | --- | --- | --- |
/// | [`Missing`](AuthError::Missing) | 401 | none: the client has not tried yet |
/// | [`Malformed`](AuthError::Malformed) (not `Bearer <b64token>`, or repeated) | 400 | `invalid_request` (RFC 6750 §3.1) |
/// | [`Rejected`](AuthError::Rejected), [`Jwt`](AuthError::Jwt) | 401 | `invalid_token` |
/// | [`InsufficientScope`](AuthError::InsufficientScope) | 403 | `insufficient_scope` |
///
/// ```
/// use edge_toolkit::middleware::auth::AuthError;
///
/// let res = AuthError::Missing.into_problem("api").into_response();
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="api""#);
///
/// let res = AuthError::InsufficientScope { scope: "users:write".into() }
///     .into_problem("api")
///     .into_response();
/// assert_eq!(res.status(), 403);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scope users:write", scope="users:write""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` credentials were sent.
    #[error("the request carries no bearer token")]
    Missing,
    /// `Authorization` is not `Bearer <token68>`, or is repeated.
    #[error("the Authorization header is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token is not one of the accepted tokens.
    #[error("the token is not recognised")]
    Rejected,
    /// The JSON Web Token did not verify.
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// The token is valid but does not grant `scope`.
    #[error("the token lacks the scope {scope}")]
    InsufficientScope {
        /// The scope required.
        scope: String,
    },
}

impl AuthError {
    /// `401 Unauthorized`; `400 Bad Request` for [`AuthError::Malformed`] and `403
    /// Forbidden` for [`AuthError::InsufficientScope`] (RFC 6750 §3.1).
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Malformed { .. } => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 §3.1 error code; `None` when the client sent no credentials at all.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::Malformed { .. } => Some("invalid_request"),
            AuthError::InsufficientScope { .. } => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    /// The `WWW-Authenticate` challenge for `realm`.
    ///
    /// ```
    /// use edge_toolkit::middleware::auth::{AuthError, JwtError};
    ///
    /// let challenge = AuthError::Jwt(JwtError::Expired).challenge("api");
    /// assert_eq!(
    ///     challenge,
    ///     r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
    /// );
    /// ```
    pub fn challenge(&self, realm: &str) -> HeaderValue {
        let mut value = format!("Bearer realm=\"{}\"", quotable(realm));
        if let Some(code) = self.error_code() {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quotable(&self.to_string())
            ));
        }
        if let AuthError::InsufficientScope { scope } = self {
            value.push_str(&format!(", scope=\"{}\"", quotable(scope)));
        }
        HeaderValue::from_str(&value).expect("only printable ASCII is left in the challenge")
    }

    /// The problem+json answer: the status, the challenge, and the reason as `detail`.
    pub fn into_problem(self, realm: &str) -> Problem {
        let challenge = self.challenge(realm);
        Problem::new(self.status())
            .with_detail(self.to_string())
            .with_header(header::WWW_AUTHENTICATE, challenge)
    }
}

/// `text` with only the characters RFC 6750 allows in quoted attribute values
/// (`%x20-21 / %x23-5B / %x5D-7E`): quotes, backslashes and the rest become `?`.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '?',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_code_and_challenge() {
        // (error, status, challenge)
        let cases = [
            (AuthError::Missing, 401, r#"Bearer realm="r""#),
            (
                AuthError::Malformed { reason: "no token" },
                400,
                r#"Bearer realm="r", error="invalid_request", error_description="the Authorization header is malformed: no token""#,
            ),
            (
                AuthError::Rejected,
                401,
                r#"Bearer realm="r", error="invalid_token", error_description="the token is not recognised""#,
            ),
            (
                AuthError::Jwt(JwtError::UnsupportedAlgorithm { alg: "none".into() }),
                401,
                r#"Bearer realm="r", error="invalid_token", error_description="the token's algorithm is not accepted; only HS256 is""#,
            ),
            (
                AuthError::InsufficientScope {
                    scope: "a\"b".into(),
                },
                403,
                r#"Bearer realm="r", error="insufficient_scope", error_description="the token lacks the scope a?b", scope="a?b""#,
            ),
        ];
        for (error, status, challenge) in cases {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.challenge("r"), challenge, "{error:?}");
            let res = error.clone().into_problem("r").into_response();
            assert_eq!(res.status(), status);
            assert_eq!(res.headers()[header::WWW_AUTHENTICATE], challenge);
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "application/problem+json"
            );
            let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
            assert_eq!(body["detail"], error.to_string());
        }
    }

    #[test]
    fn realm_is_quoted_safely() {
        assert_eq!(
            AuthError::Missing.challenge("my \"realm\"\n"),
            r#"Bearer realm="my ?realm??""#
        );
    }
}
