//! Entity tags ([RFC 9110 §8.8.3](https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3)).
//!
//! ```text
//! ETag       = entity-tag
//! entity-tag = [ weak ] opaque-tag
//! weak       = %s"W/"
//! opaque-tag = DQUOTE *etagc DQUOTE
//! etagc      = %x21 / %x23-7E / obs-text
//! ```

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;
use sha2::{Digest, Sha256};

/// How many bytes of the SHA-256 digest a body-derived tag keeps: 128 bits, written as
/// 32 hex digits, is plenty to tell representations of one resource apart.
const DIGEST_BYTES: usize = 16;

/// An entity tag: an opaque validator for one representation, strong or weak.
///
/// The tag is stored without its quotes and `W/` prefix; [`Display`](fmt::Display) and
/// [`ETag::to_header_value`] give the wire form.
///
/// ```
/// use edge_toolkit::cache::ETag;
///
/// let strong: ETag = "\"v1\"".parse()?;
/// let weak: ETag = "W/\"v1\"".parse()?;
/// assert!(!strong.is_weak() && weak.is_weak());
/// assert_eq!(weak.tag(), "v1");
/// assert!(!strong.strong_eq(&weak));   // strong comparison: both must be strong
/// assert!(strong.weak_eq(&weak));      // weak comparison: the tags must match
/// assert_eq!(weak.to_string(), "W/\"v1\"");
///
/// // The default tag of a response: a digest of its body.
/// let tag = ETag::from_body(b"hello");
/// assert!(!tag.is_weak());
/// assert_eq!(tag.tag().len(), 32);
/// assert_eq!(tag, ETag::from_body(b"hello"));
/// assert_ne!(tag, ETag::from_body(b"hello!"));
///
/// // A compressed representation is a different representation: it needs its own tag.
/// assert_eq!(ETag::strong("v1")?.for_content_coding("gzip").to_string(), "\"v1-gzip\"");
/// # Ok::<(), edge_toolkit::cache::InvalidETag>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag {
    weak: bool,
    tag: String,
}

/// A value that is not an `entity-tag`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidETag {
    /// The value is not a double-quoted string, optionally after `W/`.
    #[error("entity tag {value:?} is not a quoted string, optionally prefixed by W/")]
    NotQuoted {
        /// The value as received.
        value: String,
    },
    /// The opaque tag contains a character `etagc` does not allow (a space, a `"`, a
    /// control character).
    #[error("entity tag {value:?} contains {character:?}, which an entity tag cannot hold")]
    Character {
        /// The opaque tag as given.
        value: String,
        /// The first character not allowed.
        character: char,
    },
}

/// Whether `c` is an `etagc`: `%x21 / %x23-7E / obs-text` (every non-ASCII character is
/// encoded as obs-text bytes).
fn is_etagc(c: char) -> bool {
    c == '\x21' || ('\x23'..='\x7e').contains(&c) || !c.is_ascii()
}

impl ETag {
    fn new(weak: bool, tag: String) -> Result<Self, InvalidETag> {
        match tag.chars().find(|&c| !is_etagc(c)) {
            Some(character) => Err(InvalidETag::Character {
                value: tag,
                character,
            }),
            None => Ok(Self { weak, tag }),
        }
    }

    /// A strong tag with the opaque value `tag` (without quotes).
    pub fn strong(tag: impl Into<String>) -> Result<Self, InvalidETag> {
        Self::new(false, tag.into())
    }

    /// A weak tag with the opaque value `tag` (without quotes or `W/`).
    pub fn weak(tag: impl Into<String>) -> Result<Self, InvalidETag> {
        Self::new(true, tag.into())
    }

    /// A strong tag derived from the content: the first 128 bits of its SHA-256, in hex.
    pub fn from_body(body: &[u8]) -> Self {
        let digest = Sha256::digest(body);
        Self {
            weak: false,
            tag: crate::hex::lower(&digest[..DIGEST_BYTES]),
        }
    }

    /// Parses an `ETag` header value.
    pub fn from_header(value: &HeaderValue) -> Result<Self, InvalidETag> {
        match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => text.parse(),
            Err(_) => Err(InvalidETag::NotQuoted {
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            }),
        }
    }

    /// Whether the tag is weak (`W/"..."`): it identifies semantically equivalent content,
    /// not identical bytes.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque tag, without quotes or `W/`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both tags are strong and identical. Used by
    /// `If-Match`.
    pub fn strong_eq(&self, other: &ETag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): the opaque tags are identical, whether strong or
    /// weak. Used by `If-None-Match`.
    pub fn weak_eq(&self, other: &ETag) -> bool {
        self.tag == other.tag
    }

    /// The tag of this representation once encoded with `content_coding` (a
    /// `Content-Encoding` value such as `gzip` or `gzip, br`): each coding is suffixed to the
    /// tag, so every coding of a representation has a tag of its own (RFC 9110 §8.8.3).
    /// `identity` and blank codings change nothing.
    pub fn for_content_coding(&self, content_coding: &str) -> ETag {
        let mut tag = self.tag.clone();
        for coding in content_coding.split(',').map(str::trim) {
            if coding.is_empty()
                || coding.eq_ignore_ascii_case("identity")
                || !coding.chars().all(|c| c.is_ascii() && is_etagc(c))
            {
                continue;
            }
            tag.push('-');
            tag.push_str(&coding.to_ascii_lowercase());
        }
        ETag {
            weak: self.weak,
            tag,
        }
    }

    /// The tag as an `ETag` header value.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.to_string())
            .expect("etagc characters and quotes are valid header value bytes")
    }
}

impl FromStr for ETag {
    type Err = InvalidETag;

    /// Parses `"tag"` or `W/"tag"`, ignoring surrounding whitespace. The `W/` prefix is
    /// case-sensitive, as the grammar says.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let (weak, quoted) = match trimmed.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let tag = quoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or_else(|| InvalidETag::NotQuoted {
                value: s.to_owned(),
            })?;
        Self::new(weak, tag.to_owned())
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        // (input, weak, opaque tag, canonical form)
        let cases = [
            ("\"xyzzy\"", false, "xyzzy", "\"xyzzy\""),
            ("W/\"xyzzy\"", true, "xyzzy", "W/\"xyzzy\""),
            ("\"\"", false, "", "\"\""),
            ("  \"a-b_c.1\"  ", false, "a-b_c.1", "\"a-b_c.1\""),
            (
                "\"!#$%&'()*+,/:;<=>?@[]^`{|}~\"",
                false,
                "!#$%&'()*+,/:;<=>?@[]^`{|}~",
                "\"!#$%&'()*+,/:;<=>?@[]^`{|}~\"",
            ),
            ("\"caf\u{e9}\"", false, "caf\u{e9}", "\"caf\u{e9}\""),
        ];
        for (input, weak, tag, canonical) in cases {
            let etag: ETag = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(etag.is_weak(), weak, "{input:?}");
            assert_eq!(etag.tag(), tag, "{input:?}");
            assert_eq!(etag.to_string(), canonical, "{input:?}");
            assert_eq!(etag.to_string().parse::<ETag>(), Ok(etag.clone()));
            assert_eq!(ETag::from_header(&etag.to_header_value()), Ok(etag));
        }
    }

    #[test]
    fn rejects_invalid_tags() {
        let cases = [
            "xyzzy",
            "\"xyzzy",
            "xyzzy\"",
            "w/\"xyzzy\"",
            "W/xyzzy",
            "W/ \"xyzzy\"",
            "\"a\"b\"",
            "\"a b\"",
            "\"tab\there\"",
            "*",
            "",
        ];
        for input in cases {
            assert!(input.parse::<ETag>().is_err(), "{input:?} must not parse");
        }
        assert!(matches!(
            ETag::strong("a b"),
            Err(InvalidETag::Character { character: ' ', .. })
        ));
        assert!(matches!(
            ETag::weak("a\"b"),
            Err(InvalidETag::Character { character: '"', .. })
        ));
        assert!(matches!(
            "nope".parse::<ETag>(),
            Err(InvalidETag::NotQuoted { .. })
        ));
    }

    #[test]
    fn comparison_table_of_rfc_9110() {
        // RFC 9110 §8.8.3.2, Table 3: (a, b, strong comparison, weak comparison).
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (a, b, strong, weak) in cases {
            let a: ETag = a.parse().expect("valid");
            let b: ETag = b.parse().expect("valid");
            assert_eq!(a.strong_eq(&b), strong, "{a} vs {b}");
            assert_eq!(b.strong_eq(&a), strong, "{b} vs {a}");
            assert_eq!(a.weak_eq(&b), weak, "{a} vs {b}");
            assert_eq!(b.weak_eq(&a), weak, "{b} vs {a}");
        }
    }

    #[test]
    fn body_digest_is_strong_stable_and_hex() {
        let empty = ETag::from_body(b"");
        // SHA-256("") starts e3b0c442 98fc1c14 9afbf4c8 996fb924.
        assert_eq!(empty.tag(), "e3b0c44298fc1c149afbf4c8996fb924");
        assert!(!empty.is_weak());
        let tag = ETag::from_body(b"{\"status\":\"healthy\"}");
        assert_eq!(tag.tag().len(), 32);
        assert!(tag.tag().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(tag, empty);
    }

    #[test]
    fn content_coding_changes_the_tag() {
        let base = ETag::strong("abc").expect("valid");
        let cases = [
            ("gzip", "abc-gzip"),
            ("GZip", "abc-gzip"),
            ("br", "abc-br"),
            ("gzip, br", "abc-gzip-br"),
            ("identity", "abc"),
            ("", "abc"),
            (" , ", "abc"),
            ("bad\"coding", "abc"),
        ];
        for (coding, tag) in cases {
            assert_eq!(base.for_content_coding(coding).tag(), tag, "{coding:?}");
        }
        let weak = ETag::weak("abc").expect("valid").for_content_coding("gzip");
        assert_eq!(weak.to_string(), "W/\"abc-gzip\"");
        assert!(!base.weak_eq(&base.for_content_coding("gzip")));
    }

    #[test]
    fn non_utf8_header_is_rejected() {
        let value = HeaderValue::from_bytes(b"\"\xff\"").expect("obs-text bytes");
        assert!(ETag::from_header(&value).is_err());
    }
}
