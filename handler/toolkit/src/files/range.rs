//! `Range` ([RFC 9110 §14.2](https://www.rfc-editor.org/rfc/rfc9110#section-14.2)) and
//! `If-Range` ([§13.1.5](https://www.rfc-editor.org/rfc/rfc9110#section-13.1.5)) for byte
//! ranges of a representation of known length.
//!
//! ```text
//! Range            = ranges-specifier
//! ranges-specifier = range-unit "=" range-set
//! range-set        = 1#range-spec
//! range-spec       = int-range / suffix-range / other-range
//! int-range        = first-pos "-" [ last-pos ]
//! suffix-range     = "-" suffix-length
//! If-Range         = entity-tag / HTTP-date
//! ```

use http::{HeaderMap, header};

use crate::cache::{ETag, HttpDate};

/// The most ranges one request may ask for; a `Range` with more is ignored (RFC 9110 §14.2
/// lets a server ignore a `Range` it finds excessive), so that a client cannot make one
/// small request cost a part header per byte.
pub(super) const MAX_RANGES: usize = 16;

/// A satisfiable byte range: `start..=end`, both within the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ByteRange {
    /// The first byte.
    pub(super) start: u64,
    /// The last byte, inclusive.
    pub(super) end: u64,
}

impl ByteRange {
    /// How many bytes the range holds.
    pub(super) fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// The `Content-Range` value of this range of a representation of `total` bytes.
    pub(super) fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.start, self.end)
    }
}

/// What a request's `Range` asks of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ranges {
    /// No `Range`, or one to ignore (invalid, another unit, too many or overlapping ranges,
    /// an empty representation): the whole representation, `200`.
    Ignored,
    /// Valid, but no range overlaps the representation: `416`.
    Unsatisfiable,
    /// The satisfiable ranges, in the order asked (at least one): `206`.
    Satisfiable(Vec<ByteRange>),
}

/// One `range-spec` as written, before the representation's length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-pos "-" [ last-pos ]`; `u64::MAX` for an omitted `last-pos`.
    Int { first: u64, last: u64 },
    /// `"-" suffix-length`.
    Suffix(u64),
}

/// `1*DIGIT`, saturating at `u64::MAX` (a position past any representation is as good as
/// the largest one); `None` for anything else, signs included.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// The `range-spec`s of a `bytes` `Range` value; `None` when the value is not one (another
/// unit, a syntax error, a `last-pos` before its `first-pos`, more than [`MAX_RANGES`]).
fn specs(value: &str) -> Option<Vec<Spec>> {
    let (unit, set) = value.split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // `1#` lists allow empty elements and optional whitespace around the commas.
    for element in set.split(',').map(|e| e.trim_matches([' ', '\t'])) {
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGES {
            return None;
        }
        let (first, last) = element.split_once('-')?;
        let spec = match (first, last) {
            ("", suffix) => Spec::Suffix(digits(suffix)?),
            (first, "") => Spec::Int {
                first: digits(first)?,
                last: u64::MAX,
            },
            (first, last) => {
                let (first, last) = (digits(first)?, digits(last)?);
                if last < first {
                    return None;
                }
                Spec::Int { first, last }
            }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// What the `Range` of a request with `headers` asks of a representation of `len` bytes.
///
/// The unit is `bytes` (case-insensitive); a `Range` in another unit, one that does not
/// parse, one sent on several lines, one of more than [`MAX_RANGES`] ranges or of ranges
/// that overlap is [`Ranges::Ignored`], and so is any `Range` of an empty representation
/// (which no `Content-Range` can describe). Ranges past the end are dropped, a `last-pos`
/// past it is clamped, and a suffix longer than the representation is all of it.
pub(super) fn ranges(headers: &HeaderMap, len: u64) -> Ranges {
    let mut lines = headers.get_all(header::RANGE).iter();
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Ranges::Ignored;
    };
    let Some(specs) = line.to_str().ok().and_then(specs) else {
        return Ranges::Ignored;
    };
    if len == 0 {
        return Ranges::Ignored;
    }
    let last_byte = len - 1;
    let satisfiable: Vec<ByteRange> = specs
        .into_iter()
        .filter_map(|spec| match spec {
            Spec::Int { first, last } => (first < len).then(|| ByteRange {
                start: first,
                end: last.min(last_byte),
            }),
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => Some(ByteRange {
                start: len - n.min(len),
                end: last_byte,
            }),
        })
        .collect();
    if satisfiable.is_empty() {
        return Ranges::Unsatisfiable;
    }
    let mut sorted = satisfiable.clone();
    sorted.sort_by_key(|r| r.start);
    if sorted.windows(2).any(|pair| pair[1].start <= pair[0].end) {
        return Ranges::Ignored;
    }
    Ranges::Satisfiable(satisfiable)
}

/// Whether the `If-Range` of a request with `headers` lets its `Range` be honoured: true
/// without one; with an entity tag, when it is strongly equal to `etag`; with an
/// `HTTP-date`, when it is exactly `last_modified` and that date is strong, at least a
/// second before `now` (RFC 9110 §8.8.2.2: a file changed within the second may change
/// again unseen). Anything else, an invalid value included, is false.
pub(super) fn if_range_holds(
    headers: &HeaderMap,
    etag: Option<&ETag>,
    last_modified: Option<HttpDate>,
    now: HttpDate,
) -> bool {
    let mut lines = headers.get_all(header::IF_RANGE).iter();
    let Some(line) = lines.next() else {
        return true;
    };
    if lines.next().is_some() {
        return false;
    }
    let Ok(text) = line.to_str() else {
        return false;
    };
    let text = text.trim();
    if text.starts_with('"') || text.starts_with("W/") {
        return match (text.parse::<ETag>(), etag) {
            (Ok(sent), Some(current)) => sent.strong_eq(current),
            _ => false,
        };
    }
    match (text.parse::<HttpDate>(), last_modified) {
        (Ok(sent), Some(modified)) => sent == modified && modified < now,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(name: header::HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                name.clone(),
                HeaderValue::from_str(value).expect("valid value"),
            );
        }
        headers
    }

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn range_table_for_a_representation_of_10_bytes() {
        use Ranges::{Ignored, Satisfiable, Unsatisfiable};
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        let disjoint: Vec<String> = (0..MAX_RANGES).map(|i| format!("{i}-{i}")).collect();
        let most = format!("bytes={}", disjoint.join(","));
        // (Range lines, what they ask)
        let cases: Vec<(Vec<&str>, Ranges)> = vec![
            (vec![], Ignored),
            (vec!["bytes=0-4"], Satisfiable(vec![range(0, 4)])),
            (vec!["bytes=5-"], Satisfiable(vec![range(5, 9)])),
            (vec!["bytes=-3"], Satisfiable(vec![range(7, 9)])),
            (vec!["bytes=-30"], Satisfiable(vec![range(0, 9)])),
            (vec!["bytes=3-3"], Satisfiable(vec![range(3, 3)])),
            (vec!["bytes=8-100"], Satisfiable(vec![range(8, 9)])),
            (
                vec!["bytes=0-99999999999999999999999"],
                Satisfiable(vec![range(0, 9)]),
            ),
            (vec!["BYTES=0-0"], Satisfiable(vec![range(0, 0)])),
            (
                vec!["bytes=0-1, 4-5,,-2"],
                Satisfiable(vec![range(0, 1), range(4, 5), range(8, 9)]),
            ),
            // Out of order is fine; only the satisfiable ones are kept.
            (
                vec!["bytes=6-7,0-1,50-60"],
                Satisfiable(vec![range(6, 7), range(0, 1)]),
            ),
            (vec!["bytes=10-"], Unsatisfiable),
            (vec!["bytes=10-20, 30-"], Unsatisfiable),
            (vec!["bytes=-0"], Unsatisfiable),
            (vec!["bytes=99999999999999999999999-"], Unsatisfiable),
            // Invalid, another unit, or too much: ignored.
            (vec!["bytes=5-2"], Ignored),
            (vec!["bytes="], Ignored),
            (vec!["bytes=,"], Ignored),
            (vec!["bytes=abc"], Ignored),
            (vec!["bytes=1"], Ignored),
            (vec!["bytes=+1-2"], Ignored),
            (vec!["bytes=1-2-3"], Ignored),
            (vec!["bytes 0-1"], Ignored),
            (vec!["bytes =0-1"], Ignored),
            (vec!["items=0-1"], Ignored),
            (vec!["bytes=0-1", "bytes=2-3"], Ignored),
            (vec!["bytes=0-4,3-6"], Ignored),
            (vec!["bytes=0-4,-6"], Ignored),
            (vec![many.as_str()], Ignored),
        ];
        for (lines, expected) in cases {
            assert_eq!(
                ranges(&with(header::RANGE, &lines), 10),
                expected,
                "{lines:?}"
            );
        }
        let Satisfiable(all) = ranges(&with(header::RANGE, &[most.as_str()]), 100) else {
            panic!("{MAX_RANGES} disjoint ranges are served");
        };
        assert_eq!(all.len(), MAX_RANGES);
        // An empty representation has no range to describe.
        assert_eq!(ranges(&with(header::RANGE, &["bytes=-5"]), 0), Ignored);
        assert_eq!(ranges(&with(header::RANGE, &["bytes=0-"]), 0), Ignored);
    }

    #[test]
    fn content_range_and_length() {
        assert_eq!(range(0, 4).len(), 5);
        assert_eq!(range(0, 4).content_range(26), "bytes 0-4/26");
        assert_eq!(range(25, 25).len(), 1);
    }

    #[test]
    fn if_range_table() {
        let etag = ETag::strong("1a-65").expect("valid tag");
        let modified = HttpDate::from_unix_seconds(1_700_000_000);
        let later = HttpDate::from_unix_seconds(1_700_000_100);
        let date = modified.to_string();
        // (If-Range lines, holds)
        let cases: Vec<(Vec<&str>, bool)> = vec![
            (vec![], true),
            (vec!["\"1a-65\""], true),
            (vec![" \"1a-65\" "], true),
            (vec!["\"other\""], false),
            (vec!["W/\"1a-65\""], false),
            (vec![date.as_str()], true),
            (vec!["Tue, 14 Nov 2023 22:13:21 GMT"], false),
            (vec!["yesterday"], false),
            (vec!["\"1a-65"], false),
            (vec!["\"1a-65\"", "\"1a-65\""], false),
        ];
        for (lines, holds) in cases {
            let headers = with(header::IF_RANGE, &lines);
            assert_eq!(
                if_range_holds(&headers, Some(&etag), Some(modified), later),
                holds,
                "{lines:?}"
            );
        }
        // A date matching a Last-Modified of this very second is weak: no match.
        let headers = with(header::IF_RANGE, &[date.as_str()]);
        assert!(!if_range_holds(
            &headers,
            Some(&etag),
            Some(modified),
            modified
        ));
        // Without validators nothing matches.
        assert!(!if_range_holds(&headers, None, None, later));
        let headers = with(header::IF_RANGE, &["\"1a-65\""]);
        assert!(!if_range_holds(&headers, None, None, later));
    }
}
