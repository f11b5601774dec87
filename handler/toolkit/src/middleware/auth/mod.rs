//! Bearer authentication ([RFC 6750](https://www.rfc-editor.org/rfc/rfc6750)): a static set of
//! tokens, or JSON Web Tokens signed with HS256 ([RFC 7519](https://www.rfc-editor.org/rfc/rfc7519)).
//!
//! | Item | What it does |
//! | --- | --- |
//! | [`StaticTokens`] | accepts a fixed set of opaque tokens, compared in constant time |
//! | [`JwtAuth`] | verifies HS256 JWTs and stores their [`Claims`] in the request |
//! | [`JwtValidator`] | the verification rules: key, `iss`, `aud`, `exp`/`nbf` leeway |
//! | [`jwt::sign_hs256`] | signs claims into a token (tests, examples, development) |
//! | [`AuthError`] | why a request was refused; renders as `401`/`403` with `WWW-Authenticate` |
//! | [`bearer_token`] | the token of `Authorization: Bearer <token>` |

mod bearer;
mod claims;
mod error;
pub mod jwt;
mod jwt_auth;
mod static_tokens;

pub use bearer::bearer_token;
pub use claims::Claims;
pub use error::AuthError;
pub use jwt::{JwtError, JwtValidator, MIN_HS256_KEY_BYTES, WeakKey};
pub use jwt_auth::JwtAuth;
pub use static_tokens::StaticTokens;
