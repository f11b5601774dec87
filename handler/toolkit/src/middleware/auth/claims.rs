//! The verified claims of a JSON Web Token ([RFC 7519 §4](https://www.rfc-editor.org/rfc/rfc7519#section-4)).

use serde_json::{Map, Value};

use crate::Request;
use crate::middleware::auth::JwtError;

/// The claims of a verified token: the registered ones typed, every claim in [`Claims::raw`].
///
/// [`JwtAuth`](crate::middleware::auth::JwtAuth) stores them in the request's extensions;
/// handlers read them with [`Claims::of`].
///
/// ```
/// use edge_toolkit::middleware::auth::Claims;
///
/// let claims = Claims::from_json(serde_json::json!({
///     "sub": "ada", "iss": "edge-toolkit", "aud": ["api", "web"],
///     "exp": 2000000000, "scope": "users:read users:write", "team": "core",
/// }))?;
/// assert_eq!(claims.subject(), Some("ada"));
/// assert_eq!(claims.issuer(), Some("edge-toolkit"));
/// assert_eq!(claims.audience(), ["api", "web"]);
/// assert_eq!(claims.expires_at(), Some(2000000000));
/// assert!(claims.has_scope("users:write") && !claims.has_scope("admin"));
/// assert_eq!(claims.get("team"), Some(&serde_json::json!("core")));
/// # Ok::<(), edge_toolkit::middleware::auth::JwtError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    subject: Option<String>,
    issuer: Option<String>,
    audience: Vec<String>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    issued_at: Option<i64>,
    id: Option<String>,
    scopes: Vec<String>,
    raw: Map<String, Value>,
}

impl Claims {
    /// Reads the claims of a token payload, which must be a JSON object whose registered
    /// claims have their registered types (`exp`, `nbf` and `iat` are NumericDates, `aud` a
    /// string or an array of strings). Scopes come from `scope` (space-separated, RFC 8693
    /// §4.2) or `scp` (an array or a string).
    pub fn from_json(value: Value) -> Result<Self, JwtError> {
        let Value::Object(raw) = value else {
            return Err(JwtError::Malformed {
                reason: "the payload is not a JSON object",
            });
        };
        let string = |name: &'static str| -> Result<Option<String>, JwtError> {
            match raw.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(JwtError::InvalidClaim { name }),
            }
        };
        let date = |name: &'static str| -> Result<Option<i64>, JwtError> {
            match raw.get(name) {
                None => Ok(None),
                // NumericDate may have a fraction; whole seconds are precise enough here.
                Some(Value::Number(n)) => n
                    .as_i64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.is_finite())
                            .map(|f| f.floor() as i64)
                    })
                    .map(Some)
                    .ok_or(JwtError::InvalidClaim { name }),
                Some(_) => Err(JwtError::InvalidClaim { name }),
            }
        };
        let strings = |name: &'static str, split: bool| -> Result<Vec<String>, JwtError> {
            match raw.get(name) {
                None => Ok(Vec::new()),
                Some(Value::String(s)) if split => {
                    Ok(s.split_ascii_whitespace().map(str::to_owned).collect())
                }
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(JwtError::InvalidClaim { name }),
                Some(_) => Err(JwtError::InvalidClaim { name }),
            }
        };
        let mut scopes = strings("scope", true)?;
        scopes.extend(strings("scp", true)?);
        Ok(Self {
            subject: string("sub")?,
            issuer: string("iss")?,
            audience: strings("aud", false)?,
            expires_at: date("exp")?,
            not_before: date("nbf")?,
            issued_at: date("iat")?,
            id: string("jti")?,
            scopes,
            raw,
        })
    }

    /// The claims a [`JwtAuth`](crate::middleware::auth::JwtAuth) verified for `req`.
    ///
    /// ```
    /// let req = http::Request::get("/").body(Vec::new()).unwrap();
    /// assert!(edge_toolkit::middleware::auth::Claims::of(&req).is_none());
    /// ```
    pub fn of(req: &Request) -> Option<&Claims> {
        req.extensions().get::<Claims>()
    }

    /// `sub`: whom the token is about.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// `iss`: who issued the token.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// `aud`: the recipients the token is meant for (a single string becomes one item).
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// `exp`: seconds since the Unix epoch from which the token is no longer accepted.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// `nbf`: seconds since the Unix epoch before which the token is not accepted yet.
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }

    /// `iat`: seconds since the Unix epoch at which the token was issued.
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at
    }

    /// `jti`: the token's unique identifier.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The scopes granted, from `scope` and `scp`.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Any claim, registered or private, by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// Every claim as it appeared in the payload.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn registered_claims_are_typed() {
        // (payload, Ok(scopes) or the claim that is invalid)
        let cases: [(Value, Result<Vec<&str>, &str>); 9] = [
            (json!({}), Ok(vec![])),
            (json!({"scope": "a b  c"}), Ok(vec!["a", "b", "c"])),
            (json!({"scp": ["a", "b"]}), Ok(vec!["a", "b"])),
            (json!({"scope": "a", "scp": "b"}), Ok(vec!["a", "b"])),
            (json!({"exp": 1.5}), Ok(vec![])),
            (json!({"exp": "tomorrow"}), Err("exp")),
            (json!({"aud": 7}), Err("aud")),
            (json!({"aud": ["a", 1]}), Err("aud")),
            (json!({"sub": false}), Err("sub")),
        ];
        for (payload, expected) in cases {
            let result = Claims::from_json(payload.clone());
            match (result, expected) {
                (Ok(claims), Ok(scopes)) => assert_eq!(claims.scopes(), scopes, "{payload}"),
                (Err(JwtError::InvalidClaim { name }), Err(claim)) => {
                    assert_eq!(name, claim, "{payload}")
                }
                (other, expected) => panic!("{payload}: {other:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn audience_string_or_array_and_other_fields() {
        let claims = Claims::from_json(json!({
            "aud": "api", "nbf": 10, "iat": 5, "jti": "j1", "exp": 1.9
        }))
        .expect("valid");
        assert_eq!(claims.audience(), ["api"]);
        assert_eq!(claims.not_before(), Some(10));
        assert_eq!(claims.issued_at(), Some(5));
        assert_eq!(claims.id(), Some("j1"));
        assert_eq!(claims.expires_at(), Some(1));
        assert_eq!(claims.raw().len(), 5);
        assert!(matches!(
            Claims::from_json(json!([1])),
            Err(JwtError::Malformed { .. })
        ));
    }
}
