//! JSON Web Tokens signed with HMAC SHA-256 (`HS256`,
//! [RFC 7518 §3.2](https://www.rfc-editor.org/rfc/rfc7518#section-3.2)): verification and
//! signing.
//!
//! ```text
//! token = base64url(header) "." base64url(payload) "." base64url(HMAC-SHA256(key, header "." payload))
//! ```
//!
//! Only `HS256` is accepted: a token whose header names another algorithm, `none` included,
//! is refused before its signature is looked at, so an attacker cannot pick the algorithm.
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::middleware::auth::{JwtError, JwtValidator, jwt};
//!
//! // At least 256 bits: HS256 refuses shorter keys (RFC 7518 §3.2).
//! const SECRET: &[u8] = b"a secret of 32 bytes, or longer!";
//! let now = 1_700_000_000;
//! let token = jwt::sign_hs256(
//!     &serde_json::json!({"sub": "ada", "iss": "edge-toolkit", "exp": now + 60}),
//!     SECRET,
//! );
//! let validator = JwtValidator::hs256(SECRET)?.with_issuer("edge-toolkit");
//! let claims = validator.verify_at(&token, now)?;
//! assert_eq!(claims.subject(), Some("ada"));
//!
//! assert_eq!(validator.verify_at(&token, now + 3600), Err(JwtError::Expired));
//! let forged = JwtValidator::hs256(b"another secret of 32 bytes or more")?;
//! assert_eq!(forged.verify_at(&token, now), Err(JwtError::BadSignature));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::middleware::auth::Claims;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key [`JwtValidator::hs256`] accepts: 32 bytes, the size of SHA-256's output
/// (RFC 7518 §3.2).
pub const MIN_HS256_KEY_BYTES: usize = 32;

/// An HS256 key shorter than [`MIN_HS256_KEY_BYTES`]: a configuration error (`500` when it
/// becomes a [`Problem`](crate::Problem), without the key or its length in the detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an HS256 key must be at least {MIN_HS256_KEY_BYTES} bytes (256 bits, RFC 7518 §3.2); \
     this one has {len}: use a random secret, e.g. `openssl rand -hex 32`"
)]
pub struct WeakKey {
    /// The length of the key that was refused, in bytes.
    pub len: usize,
}

impl From<WeakKey> for crate::Problem {
    fn from(_: WeakKey) -> Self {
        crate::Problem::new(http::StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail("token verification is misconfigured")
    }
}

/// Why a token was refused. The messages are safe to send to the client (they become the
/// `error_description` of the `WWW-Authenticate` challenge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url segments of JSON objects.
    #[error("the token is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header's `alg` is not `HS256` (`none` included).
    #[error("the token's algorithm is not accepted; only HS256 is")]
    UnsupportedAlgorithm {
        /// The `alg` the header named.
        alg: String,
    },
    /// The header lists `crit` extensions, none of which this verifier understands.
    #[error("the token uses critical header extensions that are not supported")]
    CriticalExtension,
    /// The signature does not match the header and payload under the key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A claim the validator requires is absent.
    #[error("the token lacks the `{name}` claim")]
    MissingClaim {
        /// The claim's name.
        name: &'static str,
    },
    /// A registered claim does not have its registered type.
    #[error("the token's `{name}` claim has the wrong type")]
    InvalidClaim {
        /// The claim's name.
        name: &'static str,
    },
    /// `iss` is not the expected issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not name the expected audience, or names one when none is expected
    /// (RFC 7519 §4.1.3: a principal not in `aud` rejects the token).
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// The header's `typ` says the token is another kind of JWT (RFC 8725 §3.11).
    #[error("the token's type is not accepted")]
    WrongType,
}

/// The `typ` values accepted when a header has one: a plain JWT or an OAuth access token
/// (RFC 9068), with or without the `application/` prefix, in any case (RFC 7515 §4.1.9).
fn accepted_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ == "jwt" || typ == "at+jwt"
}

/// The rules a token must pass: the HS256 key, and the `iss`, `aud`, `exp` and `nbf` checks.
///
/// By default `exp` is required and a leeway of 30 seconds absorbs clock skew in `exp` and
/// `nbf`; `iss` is checked once an expected value is set; `aud` always: a token that names
/// audiences is accepted only by a validator of one of them (RFC 7519 §4.1.3). A header
/// `typ`, when present, must say `JWT` or `at+jwt` (RFC 8725 §3.11).
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::middleware::auth::{JwtError, JwtValidator, jwt};
///
/// const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
/// let validator = JwtValidator::hs256(KEY)?
///     .with_audience("api")
///     .with_leeway(Duration::from_secs(5));
/// let token = jwt::sign_hs256(&serde_json::json!({"aud": ["web", "api"], "exp": 100}), KEY);
/// assert!(validator.verify_at(&token, 104).is_ok()); // within the leeway
/// assert_eq!(validator.verify_at(&token, 105), Err(JwtError::Expired));
/// # Ok::<(), edge_toolkit::middleware::auth::WeakKey>(())
/// ```
#[derive(Clone)]
pub struct JwtValidator {
    key: Vec<u8>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    require_exp: bool,
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("JwtValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("require_exp", &self.require_exp)
            .finish_non_exhaustive()
    }
}

impl JwtValidator {
    /// Verifies HS256 tokens signed with `secret`, which must be at least 256 bits
    /// ([`MIN_HS256_KEY_BYTES`]): RFC 7518 §3.2 requires a key of at least the hash's
    /// size, and a shorter one (a word, a phrase) can be found by trying candidates offline
    /// against any one token.
    ///
    /// ```
    /// use edge_toolkit::middleware::auth::JwtValidator;
    ///
    /// assert!(JwtValidator::hs256(b"password").is_err());
    /// assert!(JwtValidator::hs256([7u8; 32]).is_ok());
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, WeakKey> {
        let key = secret.as_ref();
        if key.len() < MIN_HS256_KEY_BYTES {
            return Err(WeakKey { len: key.len() });
        }
        Ok(Self {
            key: key.to_vec(),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            require_exp: true,
        })
    }

    /// Requires `iss` to be exactly `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` (a string or an array) to contain `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How far `exp` and `nbf` may be off, for clock skew (default 30 seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Whether a token without `exp` is refused (default `true`: tokens must expire).
    pub fn with_required_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Verifies `token` against the current time.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.verify_at(token, now)
    }

    /// Verifies `token` as of `now` (seconds since the Unix epoch): the algorithm, then the
    /// signature, then the claims.
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed {
                reason: "a JWS compact token has three segments",
            });
        };
        let header = decode_json(header_b64, "the header is not base64url-encoded JSON")?;
        match header.get("alg") {
            Some(Value::String(alg)) if alg == "HS256" => {}
            Some(Value::String(alg)) => {
                return Err(JwtError::UnsupportedAlgorithm { alg: alg.clone() });
            }
            _ => {
                return Err(JwtError::Malformed {
                    reason: "the header has no `alg`",
                });
            }
        }
        if header.get("crit").is_some() {
            return Err(JwtError::CriticalExtension);
        }
        match header.get("typ") {
            None => {}
            Some(Value::String(typ)) if accepted_type(typ) => {}
            Some(_) => return Err(JwtError::WrongType),
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Malformed {
                reason: "the signature is not base64url",
            })?;
        let signed = &token[..header_b64.len() + 1 + payload.len()];
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| JwtError::BadSignature)?;

        let claims = Claims::from_json(decode_json(
            payload,
            "the payload is not base64url-encoded JSON",
        )?)?;
        self.check(&claims, now)?;
        Ok(claims)
    }

    fn check(&self, claims: &Claims, now: i64) -> Result<(), JwtError> {
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        match claims.expires_at() {
            // RFC 7519 §4.1.4: the current time must be before `exp`.
            Some(exp) if now >= exp.saturating_add(leeway) => return Err(JwtError::Expired),
            None if self.require_exp => return Err(JwtError::MissingClaim { name: "exp" }),
            _ => {}
        }
        if let Some(nbf) = claims.not_before()
            && now.saturating_add(leeway) < nbf
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(issuer) = &self.issuer
            && claims.issuer() != Some(issuer.as_str())
        {
            return Err(JwtError::WrongIssuer);
        }
        let audiences = claims.audience();
        let for_us = match &self.audience {
            Some(audience) => audiences.iter().any(|a| a == audience),
            // A token meant for named audiences is not meant for a validator with none.
            None => audiences.is_empty(),
        };
        if !for_us {
            return Err(JwtError::WrongAudience);
        }
        Ok(())
    }
}

fn decode_json(segment: &str, reason: &'static str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed { reason })?;
    match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(JwtError::Malformed { reason }),
    }
}

/// Signs `claims` into an HS256 token with `secret`: for tests, examples and development
/// tools. (A production issuer is usually an identity provider.)
///
/// ```
/// use edge_toolkit::middleware::auth::{JwtValidator, jwt};
///
/// let token = jwt::sign_hs256(&serde_json::json!({"sub": "ada", "exp": 4102444800_i64}), [b'k'; 32]);
/// assert_eq!(token.split('.').count(), 3);
/// assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
/// let claims = JwtValidator::hs256([b'k'; 32])?.verify(&token)?;
/// assert_eq!(claims.subject(), Some("ada"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign_hs256(claims: &Value, secret: impl AsRef<[u8]>) -> String {
    const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
    sign_with_header(HEADER, claims, secret.as_ref())
}

/// A token with any header, signed with HS256: lets tests build tokens a correct issuer
/// would never make.
fn sign_with_header(header: &str, claims: &Value, secret: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    token
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;
    const KEY: &[u8] = b"test-secret-of-thirty-two-bytes!";

    fn validator() -> JwtValidator {
        JwtValidator::hs256(KEY)
            .expect("a long key")
            .with_issuer("edge-toolkit")
            .with_audience("api")
            .with_leeway(Duration::from_secs(10))
    }

    /// RFC 7518 §3.2: an HS256 key is at least as long as the hash, 32 bytes.
    #[test]
    fn keys_shorter_than_256_bits_are_refused() {
        let err = JwtValidator::hs256(&KEY[..31]).expect_err("31 bytes");
        assert_eq!(err, WeakKey { len: 31 });
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        assert!(JwtValidator::hs256(b"").is_err());
        assert!(JwtValidator::hs256(&KEY[..32]).is_ok());
        // As a problem: a 500 that says nothing of the key.
        let problem = crate::Problem::from(err);
        assert_eq!(problem.status(), 500);
        let body = String::from_utf8_lossy(problem.into_response().body()).into_owned();
        assert!(!body.contains("31"), "{body}");
    }

    /// RFC 7519 §4.1.3: a validator that expects no audience rejects a token meant for one.
    #[test]
    fn a_token_with_an_audience_needs_a_validator_of_that_audience() {
        let any = JwtValidator::hs256(KEY).expect("a long key");
        let for_api = sign_hs256(&json!({"aud": "api", "exp": NOW + 60}), KEY);
        let for_none = sign_hs256(&json!({"exp": NOW + 60}), KEY);
        let for_nobody = sign_hs256(&json!({"aud": [], "exp": NOW + 60}), KEY);
        assert_eq!(
            any.verify_at(&for_api, NOW).map(|_| ()),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(any.verify_at(&for_none, NOW).map(|_| ()), Ok(()));
        assert_eq!(any.verify_at(&for_nobody, NOW).map(|_| ()), Ok(()));
        let api = JwtValidator::hs256(KEY)
            .expect("a long key")
            .with_audience("api");
        assert_eq!(api.verify_at(&for_api, NOW).map(|_| ()), Ok(()));
        assert_eq!(
            api.verify_at(&for_none, NOW).map(|_| ()),
            Err(JwtError::WrongAudience)
        );
    }

    fn good() -> Value {
        json!({"sub": "ada", "iss": "edge-toolkit", "aud": "api", "exp": NOW + 60, "nbf": NOW - 60})
    }

    fn with(claim: &str, value: Value) -> Value {
        let mut claims = good();
        claims[claim] = value;
        claims
    }

    fn without(claim: &str) -> Value {
        let mut claims = good();
        if let Value::Object(map) = &mut claims {
            map.remove(claim);
        }
        claims
    }

    #[test]
    fn accepts_and_rejects() {
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(good().to_string())
        );
        // (case, token, expected)
        let cases: Vec<(&str, String, Result<(), JwtError>)> = vec![
            ("valid", sign_hs256(&good(), KEY), Ok(())),
            (
                "audience in an array",
                sign_hs256(&with("aud", json!(["web", "api"])), KEY),
                Ok(()),
            ),
            (
                "expired within leeway",
                sign_hs256(&with("exp", json!(NOW - 9)), KEY),
                Ok(()),
            ),
            (
                "nbf within leeway",
                sign_hs256(&with("nbf", json!(NOW + 10)), KEY),
                Ok(()),
            ),
            (
                "bad signature",
                sign_hs256(&good(), b"another key"),
                Err(JwtError::BadSignature),
            ),
            (
                "expired",
                sign_hs256(&with("exp", json!(NOW - 10)), KEY),
                Err(JwtError::Expired),
            ),
            (
                "not yet valid",
                sign_hs256(&with("nbf", json!(NOW + 11)), KEY),
                Err(JwtError::NotYetValid),
            ),
            (
                "wrong issuer",
                sign_hs256(&with("iss", json!("someone")), KEY),
                Err(JwtError::WrongIssuer),
            ),
            (
                "no issuer",
                sign_hs256(&without("iss"), KEY),
                Err(JwtError::WrongIssuer),
            ),
            (
                "wrong audience",
                sign_hs256(&with("aud", json!(["web"])), KEY),
                Err(JwtError::WrongAudience),
            ),
            (
                "no audience",
                sign_hs256(&without("aud"), KEY),
                Err(JwtError::WrongAudience),
            ),
            (
                "no exp",
                sign_hs256(&without("exp"), KEY),
                Err(JwtError::MissingClaim { name: "exp" }),
            ),
            (
                "exp of the wrong type",
                sign_hs256(&with("exp", json!("soon")), KEY),
                Err(JwtError::InvalidClaim { name: "exp" }),
            ),
            (
                "alg none, unsigned",
                unsigned,
                Err(JwtError::UnsupportedAlgorithm { alg: "none".into() }),
            ),
            (
                "alg none, signed anyway",
                sign_with_header(r#"{"alg":"none"}"#, &good(), KEY),
                Err(JwtError::UnsupportedAlgorithm { alg: "none".into() }),
            ),
            (
                "alg HS512",
                sign_with_header(r#"{"alg":"HS512"}"#, &good(), KEY),
                Err(JwtError::UnsupportedAlgorithm {
                    alg: "HS512".into(),
                }),
            ),
            (
                "alg missing",
                sign_with_header(r#"{"typ":"JWT"}"#, &good(), KEY),
                Err(JwtError::Malformed {
                    reason: "the header has no `alg`",
                }),
            ),
            (
                "typ of another kind of token",
                sign_with_header(r#"{"alg":"HS256","typ":"secevent+jwt"}"#, &good(), KEY),
                Err(JwtError::WrongType),
            ),
            (
                "typ not a string",
                sign_with_header(r#"{"alg":"HS256","typ":1}"#, &good(), KEY),
                Err(JwtError::WrongType),
            ),
            (
                "typ of an access token",
                sign_with_header(
                    r#"{"alg":"HS256","typ":"application/at+JWT"}"#,
                    &good(),
                    KEY,
                ),
                Ok(()),
            ),
            (
                "crit header",
                sign_with_header(r#"{"alg":"HS256","crit":["x"]}"#, &good(), KEY),
                Err(JwtError::CriticalExtension),
            ),
            (
                "payload not an object",
                sign_with_header(r#"{"alg":"HS256"}"#, &json!([1, 2]), KEY),
                Err(JwtError::Malformed {
                    reason: "the payload is not base64url-encoded JSON",
                }),
            ),
        ];
        let validator = validator();
        for (case, token, expected) in cases {
            let result = validator.verify_at(&token, NOW).map(|_| ());
            assert_eq!(result, expected, "{case}");
        }
    }

    #[test]
    fn malformed_tokens() {
        let valid = sign_hs256(&good(), KEY);
        let mut tampered_payload: Vec<&str> = valid.split('.').collect();
        let other_payload = URL_SAFE_NO_PAD.encode(with("sub", json!("eve")).to_string());
        tampered_payload[1] = &other_payload;
        let tampered = tampered_payload.join(".");
        let cases = [
            "".to_owned(),
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            "!!!.e30.sig".to_owned(),
            format!("{}=", valid),
            format!("{valid}.extra"),
        ];
        let validator = validator();
        for token in cases {
            assert!(
                matches!(
                    validator.verify_at(&token, NOW),
                    Err(JwtError::Malformed { .. })
                ),
                "{token:?}: {:?}",
                validator.verify_at(&token, NOW)
            );
        }
        assert_eq!(
            validator.verify_at(&tampered, NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn exp_can_be_optional_and_debug_hides_the_key() {
        let lenient = JwtValidator::hs256(KEY)
            .expect("a long key")
            .with_required_exp(false);
        let token = sign_hs256(&json!({"sub": "x"}), KEY);
        assert!(lenient.verify_at(&token, NOW).is_ok());
        assert!(!format!("{lenient:?}").contains("test-secret"));
        // The current-time variant agrees for a token that expires far in the future.
        let token = sign_hs256(&json!({"exp": 4_102_444_800_i64}), KEY);
        assert!(
            JwtValidator::hs256(KEY)
                .expect("a long key")
                .verify(&token)
                .is_ok()
        );
    }
}
