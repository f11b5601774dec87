//! `Cache-Control` ([RFC 9111 §5.2](https://www.rfc-editor.org/rfc/rfc9111#section-5.2)),
//! with `immutable` ([RFC 8246](https://www.rfc-editor.org/rfc/rfc8246)) and
//! `stale-while-revalidate` / `stale-if-error` ([RFC 5861](https://www.rfc-editor.org/rfc/rfc5861)).
//!
//! ```text
//! Cache-Control   = #cache-directive
//! cache-directive = token [ "=" ( token / quoted-string ) ]
//! delta-seconds   = 1*DIGIT
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};

/// The value a `delta-seconds` too large to represent is taken as (RFC 9111 §1.2.2).
const DELTA_SECONDS_MAX: u64 = 1 << 31;

/// A typed `Cache-Control` value: request and response directives alike.
///
/// Build one with `with_*` setters, read it with plain getters, and convert with
/// [`Display`](fmt::Display) / [`FromStr`]. Parsing is tolerant: directive names are
/// case-insensitive, values may be tokens or quoted strings, the first occurrence of a
/// repeated directive wins, a known directive with an unusable value is ignored, and unknown
/// directives are kept as extensions (and written back out).
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::cache::CacheControl;
///
/// let cc = CacheControl::new()
///     .with_public()
///     .with_max_age(Duration::from_secs(3600))
///     .with_immutable();
/// assert_eq!(cc.to_string(), "public, max-age=3600, immutable");
///
/// let parsed: CacheControl = "Private=\"Set-Cookie\", MAX-AGE=\"60\", community=\"UCI\"".parse()?;
/// assert!(parsed.private());
/// assert_eq!(parsed.private_fields(), ["Set-Cookie"]);
/// assert_eq!(parsed.max_age(), Some(Duration::from_secs(60)));
/// assert_eq!(parsed.extensions().collect::<Vec<_>>(), [("community", Some("UCI"))]);
/// assert_eq!(parsed.to_string(), "private=\"Set-Cookie\", max-age=60, community=UCI");
/// # Ok::<(), edge_toolkit::cache::InvalidCacheControl>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    max_age: Option<Duration>,
    s_maxage: Option<Duration>,
    no_cache: Option<Vec<String>>,
    no_store: bool,
    no_transform: bool,
    must_revalidate: bool,
    proxy_revalidate: bool,
    must_understand: bool,
    private: Option<Vec<String>>,
    public: bool,
    max_stale: Option<MaxStale>,
    min_fresh: Option<Duration>,
    only_if_cached: bool,
    immutable: bool,
    stale_while_revalidate: Option<Duration>,
    stale_if_error: Option<Duration>,
    extensions: Vec<(String, Option<String>)>,
}

/// The request directive `max-stale`: how stale a response the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxStale {
    /// `max-stale` without a value: any staleness.
    Any,
    /// `max-stale=N`: stale by at most this long.
    Limit(Duration),
}

/// A `Cache-Control` value that cannot be split into directives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCacheControl {
    /// A character that cannot start or follow a directive at this point.
    #[error("unexpected {character:?} at byte {position} of Cache-Control")]
    UnexpectedCharacter {
        /// Byte offset in the value.
        position: usize,
        /// The character found.
        character: char,
    },
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string at byte {position} of Cache-Control")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        position: usize,
    },
    /// The header value is not valid UTF-8.
    #[error("Cache-Control is not valid UTF-8")]
    NotUtf8,
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// Whether `s` can sit in a quoted string inside a header value (no control characters).
fn is_quotable(s: &str) -> bool {
    s.chars().all(|c| c == '\t' || !c.is_control())
}

/// `delta-seconds`, capped at 2^31 as RFC 9111 §1.2.2 allows.
fn delta_seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = value.parse::<u64>().unwrap_or(DELTA_SECONDS_MAX);
    Some(Duration::from_secs(secs.min(DELTA_SECONDS_MAX)))
}

fn field_list<I, S>(fields: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    fields
        .into_iter()
        .map(Into::into)
        .filter(|f| is_token(f))
        .collect()
}

/// Adds `new` to a `no-cache` / `private` list; an unqualified directive (empty list) absorbs
/// any fields.
fn merge_fields(slot: &mut Option<Vec<String>>, new: Vec<String>) {
    match slot {
        None => *slot = Some(new),
        Some(existing) if existing.is_empty() => {}
        Some(_) if new.is_empty() => *slot = Some(Vec::new()),
        Some(existing) => existing.extend(new),
    }
}

impl CacheControl {
    /// No directives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses every `Cache-Control` line of `headers` as one list; empty when there is none.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, InvalidCacheControl> {
        let mut joined = String::new();
        for value in headers.get_all(header::CACHE_CONTROL) {
            let text =
                std::str::from_utf8(value.as_bytes()).map_err(|_| InvalidCacheControl::NotUtf8)?;
            if !joined.is_empty() {
                joined.push_str(", ");
            }
            joined.push_str(text);
        }
        joined.parse()
    }

    /// The directives as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.to_string())
            .expect("setters and the parser only store tokens and control-free quoted text")
    }

    /// Whether no directive is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `max-age=N`: fresh for this long (whole seconds).
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// `s-maxage=N`: `max-age` for shared caches.
    pub fn with_s_maxage(mut self, age: Duration) -> Self {
        self.s_maxage = Some(age);
        self
    }

    /// `no-cache`: a cache must revalidate before every reuse.
    pub fn with_no_cache(mut self) -> Self {
        self.no_cache = Some(Vec::new());
        self
    }

    /// `no-cache="a, b"`: the listed fields must not be reused without revalidation.
    /// Names that are not tokens are dropped.
    pub fn with_no_cache_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        merge_fields(&mut self.no_cache, field_list(fields));
        self
    }

    /// `no-store`: no cache may store the request or response.
    pub fn with_no_store(mut self) -> Self {
        self.no_store = true;
        self
    }

    /// `no-transform`: intermediaries must not transform the content.
    pub fn with_no_transform(mut self) -> Self {
        self.no_transform = true;
        self
    }

    /// `must-revalidate`: once stale, never reuse without revalidation.
    pub fn with_must_revalidate(mut self) -> Self {
        self.must_revalidate = true;
        self
    }

    /// `proxy-revalidate`: `must-revalidate` for shared caches.
    pub fn with_proxy_revalidate(mut self) -> Self {
        self.proxy_revalidate = true;
        self
    }

    /// `must-understand`: store only if the status code's caching rules are understood.
    pub fn with_must_understand(mut self) -> Self {
        self.must_understand = true;
        self
    }

    /// `private`: only a private (browser) cache may store the response.
    pub fn with_private(mut self) -> Self {
        self.private = Some(Vec::new());
        self
    }

    /// `private="a, b"`: a shared cache may store the response without the listed fields.
    /// Names that are not tokens are dropped.
    pub fn with_private_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        merge_fields(&mut self.private, field_list(fields));
        self
    }

    /// `public`: any cache may store the response, even one that normally would not.
    pub fn with_public(mut self) -> Self {
        self.public = true;
        self
    }

    /// `max-stale` / `max-stale=N` (request): accept a stale response.
    pub fn with_max_stale(mut self, max_stale: MaxStale) -> Self {
        self.max_stale = Some(max_stale);
        self
    }

    /// `min-fresh=N` (request): the response must stay fresh at least this long.
    pub fn with_min_fresh(mut self, fresh: Duration) -> Self {
        self.min_fresh = Some(fresh);
        self
    }

    /// `only-if-cached` (request): answer from a cache or with 504.
    pub fn with_only_if_cached(mut self) -> Self {
        self.only_if_cached = true;
        self
    }

    /// `immutable` (RFC 8246): the content will not change while fresh.
    pub fn with_immutable(mut self) -> Self {
        self.immutable = true;
        self
    }

    /// `stale-while-revalidate=N` (RFC 5861): serve stale while revalidating in the background.
    pub fn with_stale_while_revalidate(mut self, window: Duration) -> Self {
        self.stale_while_revalidate = Some(window);
        self
    }

    /// `stale-if-error=N` (RFC 5861): serve stale when revalidation fails.
    pub fn with_stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = Some(window);
        self
    }

    /// An extension directive `name` or `name=value`. The name is lowercased; one that is not
    /// a token, or a value with control characters, is dropped.
    pub fn with_extension(mut self, name: &str, value: Option<&str>) -> Self {
        if is_token(name) && value.is_none_or(is_quotable) {
            self.extensions
                .push((name.to_ascii_lowercase(), value.map(str::to_owned)));
        }
        self
    }

    /// `max-age`, if set.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// `s-maxage`, if set.
    pub fn s_maxage(&self) -> Option<Duration> {
        self.s_maxage
    }

    /// Whether `no-cache` is present, with or without fields.
    pub fn no_cache(&self) -> bool {
        self.no_cache.is_some()
    }

    /// The fields of `no-cache="..."`; empty for an unqualified `no-cache` (or none).
    pub fn no_cache_fields(&self) -> &[String] {
        self.no_cache.as_deref().unwrap_or_default()
    }

    /// Whether `no-store` is present.
    pub fn no_store(&self) -> bool {
        self.no_store
    }

    /// Whether `no-transform` is present.
    pub fn no_transform(&self) -> bool {
        self.no_transform
    }

    /// Whether `must-revalidate` is present.
    pub fn must_revalidate(&self) -> bool {
        self.must_revalidate
    }

    /// Whether `proxy-revalidate` is present.
    pub fn proxy_revalidate(&self) -> bool {
        self.proxy_revalidate
    }

    /// Whether `must-understand` is present.
    pub fn must_understand(&self) -> bool {
        self.must_understand
    }

    /// Whether `private` is present, with or without fields.
    pub fn private(&self) -> bool {
        self.private.is_some()
    }

    /// The fields of `private="..."`; empty for an unqualified `private` (or none).
    pub fn private_fields(&self) -> &[String] {
        self.private.as_deref().unwrap_or_default()
    }

    /// Whether `public` is present.
    pub fn public(&self) -> bool {
        self.public
    }

    /// `max-stale`, if present.
    pub fn max_stale(&self) -> Option<MaxStale> {
        self.max_stale
    }

    /// `min-fresh`, if set.
    pub fn min_fresh(&self) -> Option<Duration> {
        self.min_fresh
    }

    /// Whether `only-if-cached` is present.
    pub fn only_if_cached(&self) -> bool {
        self.only_if_cached
    }

    /// Whether `immutable` is present.
    pub fn immutable(&self) -> bool {
        self.immutable
    }

    /// `stale-while-revalidate`, if set.
    pub fn stale_while_revalidate(&self) -> Option<Duration> {
        self.stale_while_revalidate
    }

    /// `stale-if-error`, if set.
    pub fn stale_if_error(&self) -> Option<Duration> {
        self.stale_if_error
    }

    /// Unknown directives in order: lowercased name and value, if any.
    pub fn extensions(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.extensions
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_deref()))
    }

    /// Records one parsed directive; `name` is lowercase.
    fn apply(&mut self, name: &str, value: Option<String>) {
        let delta = value.as_deref().and_then(delta_seconds);
        let set_once = |slot: &mut Option<Duration>| {
            if slot.is_none() {
                *slot = delta;
            }
        };
        let fields = |value: Option<String>| -> Vec<String> {
            value
                .map(|v| field_list(v.split(',').map(str::trim)))
                .unwrap_or_default()
        };
        match name {
            "max-age" => set_once(&mut self.max_age),
            "s-maxage" => set_once(&mut self.s_maxage),
            "min-fresh" => set_once(&mut self.min_fresh),
            "stale-while-revalidate" => set_once(&mut self.stale_while_revalidate),
            "stale-if-error" => set_once(&mut self.stale_if_error),
            "max-stale" if self.max_stale.is_none() => match (&value, delta) {
                (None, _) => self.max_stale = Some(MaxStale::Any),
                (Some(_), Some(limit)) => self.max_stale = Some(MaxStale::Limit(limit)),
                (Some(_), None) => {}
            },
            "max-stale" => {}
            "no-cache" => merge_fields(&mut self.no_cache, fields(value)),
            "private" => merge_fields(&mut self.private, fields(value)),
            "no-store" => self.no_store = true,
            "no-transform" => self.no_transform = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "public" => self.public = true,
            "only-if-cached" => self.only_if_cached = true,
            "immutable" => self.immutable = true,
            _ => self.extensions.push((name.to_owned(), value)),
        }
    }
}

impl FromStr for CacheControl {
    type Err = InvalidCacheControl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut cc = CacheControl::new();
        let mut chars = s.char_indices().peekable();
        let skip_ows = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
            while chars.next_if(|&(_, c)| c == ' ' || c == '\t').is_some() {}
        };
        loop {
            while chars
                .next_if(|&(_, c)| c == ' ' || c == '\t' || c == ',')
                .is_some()
            {}
            let Some(&(start, first)) = chars.peek() else {
                break;
            };
            if !is_tchar(first) {
                return Err(InvalidCacheControl::UnexpectedCharacter {
                    position: start,
                    character: first,
                });
            }
            let mut name = String::new();
            while let Some((_, c)) = chars.next_if(|&(_, c)| is_tchar(c)) {
                name.push(c.to_ascii_lowercase());
            }
            skip_ows(&mut chars);
            let mut value = None;
            if chars.next_if(|&(_, c)| c == '=').is_some() {
                skip_ows(&mut chars);
                let mut text = String::new();
                match chars.peek() {
                    Some(&(open, '"')) => {
                        chars.next();
                        loop {
                            match chars.next() {
                                Some((_, '"')) => break,
                                Some((_, '\\')) => match chars.next() {
                                    Some((_, c)) => text.push(c),
                                    None => {
                                        return Err(InvalidCacheControl::UnterminatedQuote {
                                            position: open,
                                        });
                                    }
                                },
                                Some((_, c)) => text.push(c),
                                None => {
                                    return Err(InvalidCacheControl::UnterminatedQuote {
                                        position: open,
                                    });
                                }
                            }
                        }
                    }
                    _ => {
                        while let Some((_, c)) = chars.next_if(|&(_, c)| is_tchar(c)) {
                            text.push(c);
                        }
                    }
                }
                value = Some(text);
            }
            skip_ows(&mut chars);
            match chars.next() {
                None | Some((_, ',')) => {}
                Some((position, character)) => {
                    return Err(InvalidCacheControl::UnexpectedCharacter {
                        position,
                        character,
                    });
                }
            }
            if value.as_deref().is_none_or(is_quotable) {
                cc.apply(&name, value);
            }
        }
        Ok(cc)
    }
}

/// Writes `value` as a token when it is one, else as a quoted string.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if is_token(value) {
        return f.write_str(value);
    }
    f.write_str("\"")?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for CacheControl {
    /// Writes the directives in a fixed order (`public`, `private`, `no-cache`, `no-store`,
    /// ..., then extensions as added), separated by `", "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if !std::mem::take(&mut first) {
                f.write_str(", ")?;
            }
            Ok(())
        };
        if self.public {
            sep(f)?;
            f.write_str("public")?;
        }
        for (name, list) in [("private", &self.private), ("no-cache", &self.no_cache)] {
            if let Some(fields) = list {
                sep(f)?;
                f.write_str(name)?;
                if !fields.is_empty() {
                    write!(f, "=\"{}\"", fields.join(", "))?;
                }
            }
        }
        for (on, name) in [
            (self.no_store, "no-store"),
            (self.no_transform, "no-transform"),
            (self.must_revalidate, "must-revalidate"),
            (self.proxy_revalidate, "proxy-revalidate"),
            (self.must_understand, "must-understand"),
        ] {
            if on {
                sep(f)?;
                f.write_str(name)?;
            }
        }
        for (secs, name) in [(self.max_age, "max-age"), (self.s_maxage, "s-maxage")] {
            if let Some(d) = secs {
                sep(f)?;
                write!(f, "{name}={}", d.as_secs())?;
            }
        }
        match self.max_stale {
            Some(MaxStale::Any) => {
                sep(f)?;
                f.write_str("max-stale")?;
            }
            Some(MaxStale::Limit(d)) => {
                sep(f)?;
                write!(f, "max-stale={}", d.as_secs())?;
            }
            None => {}
        }
        if let Some(d) = self.min_fresh {
            sep(f)?;
            write!(f, "min-fresh={}", d.as_secs())?;
        }
        for (on, name) in [
            (self.only_if_cached, "only-if-cached"),
            (self.immutable, "immutable"),
        ] {
            if on {
                sep(f)?;
                f.write_str(name)?;
            }
        }
        for (secs, name) in [
            (self.stale_while_revalidate, "stale-while-revalidate"),
            (self.stale_if_error, "stale-if-error"),
        ] {
            if let Some(d) = secs {
                sep(f)?;
                write!(f, "{name}={}", d.as_secs())?;
            }
        }
        for (name, value) in &self.extensions {
            sep(f)?;
            f.write_str(name)?;
            if let Some(value) = value {
                f.write_str("=")?;
                write_value(f, value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
