//! Cookies ([RFC 6265](https://www.rfc-editor.org/rfc/rfc6265)): reading the `Cookie` header
//! and building `Set-Cookie`.
//!
//! ```text
//! cookie-header = "Cookie:" OWS cookie-string OWS
//! cookie-string = cookie-pair *( ";" SP cookie-pair )
//! cookie-pair   = cookie-name "=" cookie-value
//! cookie-name   = token
//! cookie-value  = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
//! cookie-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! ```
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::cookie::{Cookies, SameSite, SetCookie};
//!
//! let req = http::Request::get("/")
//!     .header("cookie", "session=abc123; theme=\"dark\";lang=en")
//!     .body(vec![])
//!     .unwrap();
//! let cookies = Cookies::of(&req);
//! assert_eq!(cookies.get("session"), Some("abc123"));
//! assert_eq!(cookies.get("theme"), Some("dark"));
//! assert_eq!(cookies.get("lang"), Some("en"));
//!
//! let set = SetCookie::new("session", "xyz789")?
//!     .with_path("/")?
//!     .with_secure()
//!     .with_http_only()
//!     .with_same_site(SameSite::Lax)
//!     .with_max_age(Duration::from_secs(3600));
//! assert_eq!(
//!     set.to_header_value()?,
//!     "session=xyz789; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
//! );
//! # Ok::<(), edge_toolkit::cookie::CookieError>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, header};

use crate::Request;
use crate::cache::HttpDate;

/// Why a cookie cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is not a `token` (empty, or with a separator, space or control character).
    #[error("invalid cookie name {name:?}: it must be a token")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The value has a character outside `cookie-octet` (a space, `"`, `,`, `;`, `\`, a
    /// control or non-ASCII character).
    #[error("invalid cookie value {value:?}: only cookie-octets are allowed")]
    InvalidValue {
        /// The value as given.
        value: String,
    },
    /// An attribute value (`Path`, `Domain`) has a `;` or a control character.
    #[error("invalid {attribute} attribute {value:?}")]
    InvalidAttribute {
        /// `Path` or `Domain`.
        attribute: &'static str,
        /// The value as given.
        value: String,
    },
    /// `SameSite=None` without `Secure`, which browsers reject.
    #[error("SameSite=None requires Secure")]
    SameSiteNoneWithoutSecure,
    /// A `__Secure-` or `__Host-` cookie without what its prefix requires (`Secure`; for
    /// `__Host-` also `Path=/` and no `Domain`).
    #[error("the cookie {name:?} does not meet the requirements of its prefix")]
    Prefix {
        /// The cookie's name.
        name: String,
    },
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Whether `value` is a valid `cookie-value`: cookie-octets, optionally in double quotes.
///
/// ```
/// use edge_toolkit::cookie::is_cookie_value;
///
/// assert!(is_cookie_value("abc-123_=="));
/// assert!(is_cookie_value("\"quoted\""));
/// assert!(is_cookie_value(""));
/// assert!(!is_cookie_value("a b"));
/// assert!(!is_cookie_value("a;b"));
/// ```
pub fn is_cookie_value(value: &str) -> bool {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    inner.bytes().all(is_cookie_octet)
}

/// The cookies of a request, in the order sent (RFC 6265 §4.2). Parsing is lenient: spaces
/// around `;` and `=` are tolerated, double quotes around a value are removed, and pairs
/// without `=` or with an invalid name are skipped. Several `Cookie` lines (as HTTP/2 may
/// send) are read in order.
///
/// ```
/// use edge_toolkit::cookie::Cookies;
///
/// let mut headers = http::HeaderMap::new();
/// headers.append("cookie", "a=1; b=2".parse().unwrap());
/// headers.append("cookie", "a=3".parse().unwrap());
/// let cookies = Cookies::from_headers(&headers);
/// assert_eq!(cookies.len(), 3);
/// assert_eq!(cookies.get("a"), Some("1")); // the first wins
/// assert_eq!(cookies.get_all("a").collect::<Vec<_>>(), ["1", "3"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pairs: Vec<(String, String)>,
}

impl Cookies {
    /// The cookies in every `Cookie` line of `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut pairs = Vec::new();
        for line in headers.get_all(header::COOKIE) {
            let text = String::from_utf8_lossy(line.as_bytes());
            pairs.extend(parse_cookie_string(&text));
        }
        Self { pairs }
    }

    /// The cookies of `req`.
    pub fn of(req: &Request) -> Self {
        Self::from_headers(req.headers())
    }

    /// The value of the first cookie called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of every cookie called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The pairs of one `cookie-string`, leniently (see [`Cookies`]).
///
/// ```
/// let pairs = edge_toolkit::cookie::parse_cookie_string(" a = 1 ;b=\"two\"; junk; =x; c=");
/// assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "two".into()), ("c".into(), "".into())]);
/// ```
pub fn parse_cookie_string(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            if !is_token(name) {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with same-site requests.
    Strict,
    /// Also sent with top-level cross-site navigations (the browsers' default).
    Lax,
    /// Sent with every request; requires `Secure`.
    None,
}

impl SameSite {
    /// The attribute value.
    ///
    /// ```
    /// assert_eq!(edge_toolkit::cookie::SameSite::Strict.as_str(), "Strict");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A `Set-Cookie` header value (RFC 6265 §4.1), validated as it is built.
///
/// Attributes are written in the order `Path`, `Domain`, `Max-Age`, `Expires`, `Secure`,
/// `HttpOnly`, `SameSite`. [`SetCookie::to_header_value`] also checks the rules that span
/// attributes: `SameSite=None` needs `Secure`, and the `__Secure-` / `__Host-` name prefixes
/// their requirements.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use edge_toolkit::cookie::{CookieError, SameSite, SetCookie};
///
/// let c = SetCookie::new("id", "a3fWa")?
///     .with_domain("example.com")?
///     .with_expires(UNIX_EPOCH + Duration::from_secs(1_445_412_480));
/// assert_eq!(c.to_string(), "id=a3fWa; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
///
/// let cross_site = SetCookie::new("t", "1")?.with_same_site(SameSite::None);
/// assert_eq!(cross_site.to_header_value(), Err(CookieError::SameSiteNoneWithoutSecure));
///
/// assert!(matches!(SetCookie::new("bad name", "x"), Err(CookieError::InvalidName { .. })));
/// assert!(matches!(SetCookie::new("n", "a,b"), Err(CookieError::InvalidValue { .. })));
/// # Ok::<(), CookieError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    expires: Option<HttpDate>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

fn attribute(attribute: &'static str, value: &str) -> Result<String, CookieError> {
    if value.is_empty()
        || value
            .bytes()
            .any(|b| b == b';' || b.is_ascii_control() || !b.is_ascii())
    {
        return Err(CookieError::InvalidAttribute {
            attribute,
            value: value.to_owned(),
        });
    }
    Ok(value.to_owned())
}

impl SetCookie {
    /// A session cookie `name=value`; the name must be a token, the value cookie-octets
    /// (optionally in double quotes).
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Result<Self, CookieError> {
        let name = name.into();
        let value = value.into();
        if !is_token(&name) {
            return Err(CookieError::InvalidName { name });
        }
        if !is_cookie_value(&value) {
            return Err(CookieError::InvalidValue { value });
        }
        Ok(Self {
            name,
            value,
            path: None,
            domain: None,
            max_age: None,
            expires: None,
            secure: false,
            http_only: false,
            same_site: None,
        })
    }

    /// A cookie that tells the browser to delete `name`: empty, with an `Expires` in the
    /// past (RFC 6265 §3.1; `Max-Age=0` is outside the grammar servers may send, §4.1.1).
    /// Give it the `Path` and `Domain` the cookie was set with.
    ///
    /// ```
    /// let gone = edge_toolkit::cookie::SetCookie::removal("session")?.with_path("/")?;
    /// assert_eq!(gone.to_string(), "session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    /// # Ok::<(), edge_toolkit::cookie::CookieError>(())
    /// ```
    pub fn removal(name: impl Into<String>) -> Result<Self, CookieError> {
        Ok(Self::new(name, "")?.with_expires(SystemTime::UNIX_EPOCH))
    }

    /// `Path`: the path prefix the cookie is sent for; it must start with `/` (a browser
    /// ignores any other, RFC 6265 §5.2.4).
    pub fn with_path(mut self, path: &str) -> Result<Self, CookieError> {
        if !path.starts_with('/') {
            return Err(CookieError::InvalidAttribute {
                attribute: "Path",
                value: path.to_owned(),
            });
        }
        self.path = Some(attribute("Path", path)?);
        Ok(self)
    }

    /// `Domain`: the domain (and subdomains) the cookie is sent to; without it, only the
    /// origin host.
    pub fn with_domain(mut self, domain: &str) -> Result<Self, CookieError> {
        self.domain = Some(attribute("Domain", domain)?);
        Ok(self)
    }

    /// `Max-Age`, in whole seconds, rounded up (half a second is `Max-Age=1`, not an
    /// immediate expiry); takes precedence over `Expires` in browsers.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// `Expires`, written as an IMF-fixdate `HTTP-date`.
    pub fn with_expires(mut self, expires: SystemTime) -> Self {
        self.expires = Some(HttpDate::from(expires));
        self
    }

    /// `Secure`: sent over https only.
    pub fn with_secure(mut self) -> Self {
        self.secure = true;
        self
    }

    /// `HttpOnly`: hidden from scripts.
    pub fn with_http_only(mut self) -> Self {
        self.http_only = true;
        self
    }

    /// `SameSite`; [`SameSite::None`] also needs [`SetCookie::with_secure`].
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Checks the rules between attributes.
    fn check(&self) -> Result<(), CookieError> {
        if self.same_site == Some(SameSite::None) && !self.secure {
            return Err(CookieError::SameSiteNoneWithoutSecure);
        }
        // Browsers match the prefixes case-insensitively (RFC 6265bis §4.1.3).
        let name = self.name.to_ascii_lowercase();
        let prefix_ok = if name.starts_with("__host-") {
            self.secure && self.path.as_deref() == Some("/") && self.domain.is_none()
        } else if name.starts_with("__secure-") {
            self.secure
        } else {
            true
        };
        if !prefix_ok {
            return Err(CookieError::Prefix {
                name: self.name.clone(),
            });
        }
        Ok(())
    }

    /// The `Set-Cookie` header value, once the rules between attributes hold.
    pub fn to_header_value(&self) -> Result<HeaderValue, CookieError> {
        self.check()?;
        Ok(HeaderValue::from_str(&self.to_string())
            .expect("names, values and attributes were checked to be visible ASCII"))
    }

    /// Appends the cookie to `headers` as a `Set-Cookie` line.
    ///
    /// ```
    /// let mut res = edge_toolkit::Response::new(vec![]);
    /// edge_toolkit::cookie::SetCookie::new("a", "1")?.append_to(res.headers_mut())?;
    /// edge_toolkit::cookie::SetCookie::new("b", "2")?.append_to(res.headers_mut())?;
    /// assert_eq!(res.headers().get_all("set-cookie").iter().count(), 2);
    /// # Ok::<(), edge_toolkit::cookie::CookieError>(())
    /// ```
    pub fn append_to(&self, headers: &mut HeaderMap) -> Result<(), CookieError> {
        headers.append(header::SET_COOKIE, self.to_header_value()?);
        Ok(())
    }
}

impl fmt::Display for SetCookie {
    /// The header value as built, without checking the rules between attributes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)?;
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        if let Some(domain) = &self.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(max_age) = self.max_age {
            let secs = max_age
                .as_secs()
                .saturating_add(u64::from(max_age.subsec_nanos() > 0));
            write!(f, "; Max-Age={secs}")?;
        }
        if let Some(expires) = self.expires {
            write!(f, "; Expires={expires}")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if let Some(same_site) = self.same_site {
            write!(f, "; SameSite={}", same_site.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cookie_strings() {
        // (Cookie value, pairs)
        let cases: [(&str, &[(&str, &str)]); 10] = [
            ("", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1; b=2", &[("a", "1"), ("b", "2")]),
            ("a=1;b=2", &[("a", "1"), ("b", "2")]),
            ("  a = 1 ;  b=2  ", &[("a", "1"), ("b", "2")]),
            ("a=\"quoted value\"", &[("a", "quoted value")]),
            ("a=\"unbalanced", &[("a", "\"unbalanced")]),
            ("a==b=", &[("a", "=b=")]),
            ("noequals; =novalue; bad name=1; c=", &[("c", "")]),
            ("a=1; a=2", &[("a", "1"), ("a", "2")]),
        ];
        for (text, expected) in cases {
            let pairs = parse_cookie_string(text);
            let got: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, expected, "{text:?}");
        }
    }

    #[test]
    fn validates_names_and_values() {
        // (name, value, ok)
        let cases = [
            ("id", "abc", true),
            ("id", "", true),
            ("id", "\"abc\"", true),
            ("id", "!#$%&'()*+-./:<=>?@[]^_`{|}~", true),
            ("", "x", false),
            ("a b", "x", false),
            ("a=b", "x", false),
            ("a;b", "x", false),
            ("a(b)", "x", false),
            ("id", "a b", false),
            ("id", "a\"b", false),
            ("id", "a,b", false),
            ("id", "a;b", false),
            ("id", "a\\b", false),
            ("id", "caf\u{e9}", false),
            ("id", "tab\t", false),
        ];
        for (name, value, ok) in cases {
            let result = SetCookie::new(name, value);
            assert_eq!(result.is_ok(), ok, "{name:?}={value:?}: {result:?}");
            if let Err(err) = result {
                let by_name = matches!(err, CookieError::InvalidName { .. });
                assert_eq!(by_name, !is_token(name), "{name:?}");
            }
        }
    }

    #[test]
    fn attributes_and_rules() -> Result<(), CookieError> {
        let base = || SetCookie::new("s", "v");
        // (cookie, header value or error)
        let cases: Vec<(SetCookie, Result<&str, CookieError>)> = vec![
            (base()?, Ok("s=v")),
            (
                base()?.with_same_site(SameSite::Strict),
                Ok("s=v; SameSite=Strict"),
            ),
            (
                base()?.with_same_site(SameSite::None).with_secure(),
                Ok("s=v; Secure; SameSite=None"),
            ),
            (
                base()?.with_same_site(SameSite::None),
                Err(CookieError::SameSiteNoneWithoutSecure),
            ),
            (
                base()?.with_max_age(Duration::from_millis(1500)),
                Ok("s=v; Max-Age=2"),
            ),
            (
                base()?.with_max_age(Duration::from_millis(500)),
                Ok("s=v; Max-Age=1"),
            ),
            (
                base()?.with_max_age(Duration::MAX),
                Ok("s=v; Max-Age=18446744073709551615"),
            ),
            (
                SetCookie::new("__host-id", "1")?.with_path("/")?,
                Err(CookieError::Prefix {
                    name: "__host-id".into(),
                }),
            ),
            (
                SetCookie::new("__SECURE-id", "1")?,
                Err(CookieError::Prefix {
                    name: "__SECURE-id".into(),
                }),
            ),
            (
                SetCookie::new("__Secure-id", "1")?.with_secure(),
                Ok("__Secure-id=1; Secure"),
            ),
            (
                SetCookie::new("__Secure-id", "1")?,
                Err(CookieError::Prefix {
                    name: "__Secure-id".into(),
                }),
            ),
            (
                SetCookie::new("__Host-id", "1")?
                    .with_secure()
                    .with_path("/")?,
                Ok("__Host-id=1; Path=/; Secure"),
            ),
            (
                SetCookie::new("__Host-id", "1")?
                    .with_secure()
                    .with_path("/")?
                    .with_domain("example.com")?,
                Err(CookieError::Prefix {
                    name: "__Host-id".into(),
                }),
            ),
            (
                base()?
                    .with_http_only()
                    .with_secure()
                    .with_path("/app")?
                    .with_domain("example.com")?
                    .with_max_age(Duration::from_secs(60))
                    .with_expires(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
                    .with_same_site(SameSite::Lax),
                Ok("s=v; Path=/app; Domain=example.com; Max-Age=60; \
                    Expires=Sun, 06 Nov 1994 08:49:37 GMT; Secure; HttpOnly; SameSite=Lax"),
            ),
        ];
        for (cookie, expected) in cases {
            let got = cookie.to_header_value();
            match expected {
                Ok(text) => assert_eq!(got.as_ref().map(|v| v.to_str().ok()), Ok(Some(text))),
                Err(err) => assert_eq!(got, Err(err)),
            }
        }
        for bad in ["app", "/a;b"] {
            assert!(matches!(
                base()?.with_path(bad),
                Err(CookieError::InvalidAttribute {
                    attribute: "Path",
                    ..
                })
            ));
        }
        for bad in ["", "a;b", "a\nb", "caf\u{e9}"] {
            assert!(matches!(
                base()?.with_path(bad),
                Err(CookieError::InvalidAttribute {
                    attribute: "Path",
                    ..
                })
            ));
            assert!(matches!(
                base()?.with_domain(bad),
                Err(CookieError::InvalidAttribute {
                    attribute: "Domain",
                    ..
                })
            ));
        }
        let c = base()?;
        assert_eq!((c.name(), c.value()), ("s", "v"));
        Ok(())
    }

    #[test]
    fn cookies_of_a_request() {
        let req = http::Request::get("/")
            .header(header::COOKIE, "a=1; b=2")
            .header(header::COOKIE, "c=3")
            .body(Vec::new())
            .expect("valid");
        let cookies = Cookies::of(&req);
        assert_eq!(
            cookies.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "2"), ("c", "3")]
        );
        assert!(!cookies.is_empty());
        assert!(Cookies::default().is_empty());
        assert_eq!(cookies.get("missing"), None);
    }
}
