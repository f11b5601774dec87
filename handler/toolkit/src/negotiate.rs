//! Proactive content negotiation ([RFC 9110 §12](https://www.rfc-editor.org/rfc/rfc9110#section-12)):
//! choosing a media type by `Accept` and a language by `Accept-Language`.
//!
//! ```text
//! Accept        = #( media-range [ weight ] )
//! media-range   = ( "*/*" / ( type "/*" ) / ( type "/" subtype ) ) parameters
//! weight        = OWS ";" OWS "q=" qvalue
//! qvalue        = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//! ```
//!
//! ```
//! use edge_toolkit::{Problem, Request, Response};
//! use edge_toolkit::negotiate::{negotiate_media_type, negotiated};
//!
//! fn report(req: Request) -> Result<Response, Problem> {
//!     let media_type = negotiate_media_type(&req, &["application/json", "text/csv"])?;
//!     let body = match media_type {
//!         "text/csv" => b"id,name\n1,Ada\n".to_vec(),
//!         _ => br#"[{"id":1,"name":"Ada"}]"#.to_vec(),
//!     };
//!     Ok(negotiated(Response::new(body), media_type))
//! }
//!
//! let ask = |accept: &str| {
//!     let req = http::Request::get("/report").header("accept", accept).body(vec![]).unwrap();
//!     report(req).unwrap_or_else(Problem::into_response)
//! };
//! let res = ask("text/csv, application/json;q=0.5");
//! assert_eq!(res.headers()["content-type"], "text/csv");
//! assert_eq!(res.headers()["vary"], "Accept");
//! assert_eq!(ask("text/*").headers()["content-type"], "text/csv");
//! assert_eq!(ask("*/*").headers()["content-type"], "application/json");
//! assert_eq!(ask("image/png").status(), 406);
//! ```

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::cache::add_vary;
use crate::{Problem, Request, Response};

/// Parses a `qvalue` into thousandths (`"0.5"` is 500); `None` when it breaks the grammar.
///
/// ```
/// use edge_toolkit::negotiate::parse_qvalue;
///
/// assert_eq!(parse_qvalue("1"), Some(1000));
/// assert_eq!(parse_qvalue("0.25"), Some(250));
/// assert_eq!(parse_qvalue("0.125"), Some(125));
/// assert_eq!(parse_qvalue("1.5"), None);
/// assert_eq!(parse_qvalue("0.1234"), None);
/// ```
pub fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// One member of an `Accept` list.
///
/// ```
/// use edge_toolkit::negotiate::MediaRange;
///
/// let range: MediaRange = "Text/HTML; level=1; q=0.7".parse().unwrap();
/// assert_eq!(range.essence(), "text/html");
/// assert_eq!(range.quality(), 700);
/// assert!(range.matches("text/html; level=1; charset=utf-8"));
/// assert!(!range.matches("text/html"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    kind: String,
    subtype: String,
    params: Vec<(String, String)>,
    quality: u16,
}

/// A media range that breaks the `Accept` grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid media range {0:?}")]
pub struct InvalidMediaRange(pub String);

/// A media type's parameters: lowercase names, unquoted values.
type Params = Vec<(String, String)>;

/// `text` split at each `sep` outside quoted strings (RFC 9110 §5.6.4), so a `,` or `;`
/// inside a parameter's quoted value does not split it.
fn split_unquoted(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut cuts = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            cuts.push(&text[start..i]);
            start = i + 1;
        }
    }
    cuts.push(&text[start..]);
    cuts.into_iter()
}

/// A parameter value: a token as it is, a quoted string without its quotes and escapes.
fn unquote(value: &str) -> String {
    match value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            out
        }
        None => value.to_owned(),
    }
}

/// `type/subtype` (lowercased) and its parameters, `q` included.
fn split_media_type(text: &str) -> Option<(String, String, Params)> {
    let mut parts = split_unquoted(text, b';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut params = Vec::new();
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=')?;
        params.push((name.trim().to_ascii_lowercase(), unquote(value.trim())));
    }
    Some((kind.to_owned(), subtype.to_owned(), params))
}

impl std::str::FromStr for MediaRange {
    type Err = InvalidMediaRange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMediaRange(text.to_owned());
        let (kind, subtype, all) = split_media_type(text).ok_or_else(invalid)?;
        let mut params = Vec::new();
        let mut quality = 1000;
        for (name, value) in all {
            if name == "q" {
                // Parameters after the weight are accept-ext, which nothing here uses.
                quality = parse_qvalue(&value).ok_or_else(invalid)?;
                break;
            }
            params.push((name, value));
        }
        Ok(Self {
            kind,
            subtype,
            params,
            quality,
        })
    }
}

impl MediaRange {
    /// `type/subtype` in lowercase, wildcards included.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    /// The weight in thousandths (1000 when absent).
    pub fn quality(&self) -> u16 {
        self.quality
    }

    /// Whether `media_type` (a concrete type, possibly with parameters) falls in this range:
    /// wildcards match, and every parameter of the range must be among the type's.
    pub fn matches(&self, media_type: &str) -> bool {
        let Some((kind, subtype, params)) = split_media_type(media_type) else {
            return false;
        };
        (self.kind == "*" || self.kind == kind)
            && (self.subtype == "*" || self.subtype == subtype)
            && self.params.iter().all(|(name, value)| {
                params
                    .iter()
                    .any(|(n, v)| n == name && v.eq_ignore_ascii_case(value))
            })
    }

    /// How specific the range is (RFC 9110 §12.5.1): `*/*` < `type/*` < `type/subtype` <
    /// `type/subtype` with parameters (more is more specific).
    pub fn specificity(&self) -> usize {
        match (self.kind.as_str(), self.subtype.as_str()) {
            ("*", _) => 0,
            (_, "*") => 1,
            _ => 2 + self.params.len(),
        }
    }
}

/// Every valid media range of every `Accept` line, in order; invalid members are skipped.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("accept", "text/html, bogus, */*;q=0.1".parse().unwrap());
/// let ranges = edge_toolkit::negotiate::parse_accept(&headers);
/// assert_eq!(ranges.len(), 2);
/// assert_eq!(ranges[1].essence(), "*/*");
/// ```
pub fn parse_accept(headers: &HeaderMap) -> Vec<MediaRange> {
    list_members(headers, &header::ACCEPT)
        .filter_map(|member| member.parse().ok())
        .collect()
}

/// The lowercased `type/subtype` of a `Content-Type`-like value, parameters dropped.
pub(crate) fn media_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The members of a weighted list header (`Accept-Encoding`, `Accept-Language`) across all
/// its lines: each member's value, lowercased, and its `q` in thousandths (1000 when absent).
/// Members with an invalid `q` are left out.
pub(crate) fn weighted_members<'a>(
    headers: &'a HeaderMap,
    name: &'a HeaderName,
) -> impl Iterator<Item = (String, u16)> + 'a {
    list_members(headers, name).filter_map(|member| {
        let mut parts = split_unquoted(member, b';');
        let value = parts.next()?.trim().to_ascii_lowercase();
        let mut q = 1000;
        for param in parts {
            if let Some((name, raw)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = parse_qvalue(raw.trim())?;
            }
        }
        Some((value, q))
    })
}

fn list_members<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| split_unquoted(line, b','))
        .map(str::trim)
        .filter(|member| !member.is_empty())
}

/// The offered media type the client prefers, by `Accept`: each offer takes the weight of
/// the most specific range that matches it; the highest weight above zero wins, ties going
/// to the earlier offer. No `Accept` (or none valid) accepts anything: the first offer.
///
/// ```
/// use edge_toolkit::negotiate::choose_media_type;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("accept", "text/*;q=0.3, text/html;q=0.7, text/html;level=1, */*;q=0.5".parse().unwrap());
/// let offers = ["text/plain", "text/html", "text/html;level=1", "image/jpeg"];
/// assert_eq!(choose_media_type(&headers, &offers), Some("text/html;level=1"));
/// assert_eq!(choose_media_type(&headers, &["text/plain", "image/jpeg"]), Some("image/jpeg"));
/// ```
pub fn choose_media_type<'a>(headers: &HeaderMap, offered: &[&'a str]) -> Option<&'a str> {
    let ranges = parse_accept(headers);
    if ranges.is_empty() {
        return offered.first().copied();
    }
    let weight = |offer: &str| {
        ranges
            .iter()
            .filter(|range| range.matches(offer))
            .max_by_key(|range| range.specificity())
            .map_or(0, MediaRange::quality)
    };
    best(offered, weight)
}

/// The highest-weighted offer above zero; the first among equals.
fn best<'a, W: Ord + Default + Copy>(
    offered: &[&'a str],
    weight: impl Fn(&str) -> W,
) -> Option<&'a str> {
    let mut best: Option<(&'a str, W)> = None;
    for &offer in offered {
        let q = weight(offer);
        if q > W::default() && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((offer, q));
        }
    }
    best.map(|(offer, _)| offer)
}

/// [`choose_media_type`] for a request, or a `406 Not Acceptable` problem listing the
/// offers (with `Vary: Accept`).
///
/// ```
/// let req = http::Request::get("/").header("accept", "application/xml").body(vec![]).unwrap();
/// let problem = edge_toolkit::negotiate::negotiate_media_type(&req, &["application/json"]).unwrap_err();
/// assert_eq!(problem.status(), 406);
/// assert_eq!(problem.headers()["vary"], "Accept");
/// ```
pub fn negotiate_media_type<'a>(req: &Request, offered: &[&'a str]) -> Result<&'a str, Problem> {
    choose_media_type(req.headers(), offered).ok_or_else(|| {
        Problem::new(StatusCode::NOT_ACCEPTABLE)
            .with_detail(format!(
                "no acceptable representation; available: {}",
                offered.join(", ")
            ))
            .with_extension("available", offered)
            .with_header(header::VARY, HeaderValue::from_static("Accept"))
    })
}

/// Marks `res` as the outcome of negotiating `media_type`: sets `Content-Type` and adds
/// `Vary: Accept`, so caches keep the representations apart.
///
/// ```
/// let res = edge_toolkit::negotiate::negotiated(edge_toolkit::Response::new(vec![]), "text/csv");
/// assert_eq!(res.headers()["content-type"], "text/csv");
/// assert_eq!(res.headers()["vary"], "Accept");
/// ```
pub fn negotiated(mut res: Response, media_type: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(media_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    add_vary(res.headers_mut(), "Accept");
    res
}

/// The available language tag the client prefers by `Accept-Language`, with the basic
/// filtering of [RFC 4647 §3.3.1](https://www.rfc-editor.org/rfc/rfc4647#section-3.3.1): a
/// range matches a tag equal to it or starting with it followed by `-` (case-insensitive);
/// `*` matches any tag. A range more specific than any available tag also falls back to
/// the tags it truncates to, as in the lookup of
/// [§3.4](https://www.rfc-editor.org/rfc/rfc4647#section-3.4) (`de-DE` is served by `de`),
/// ranking below the filtering matches and above `*`. Each tag takes the weight of its most
/// specific match; the highest weight above zero wins, ties going to the earlier tag.
/// Without `Accept-Language`, the first tag. Add `Vary: Accept-Language` ([`add_vary`]) to
/// the response.
///
/// ```
/// use edge_toolkit::negotiate::choose_language;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("accept-language", "fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5".parse().unwrap());
/// assert_eq!(choose_language(&headers, &["en-US", "fr"]), Some("fr"));
/// assert_eq!(choose_language(&headers, &["de", "en-GB"]), Some("en-GB"));
/// assert_eq!(choose_language(&headers, &["de"]), Some("de")); // by `*`
///
/// headers.insert("accept-language", "de-DE, en;q=0.5".parse().unwrap());
/// assert_eq!(choose_language(&headers, &["en", "de"]), Some("de")); // de-DE falls back
/// ```
pub fn choose_language<'a>(headers: &HeaderMap, available: &[&'a str]) -> Option<&'a str> {
    let ranges: Vec<(String, u16)> = weighted_members(headers, &header::ACCEPT_LANGUAGE)
        .filter(|(range, _)| {
            range == "*"
                || (!range.is_empty()
                    && range.split('-').all(|sub| {
                        (1..=8).contains(&sub.len())
                            && sub.bytes().all(|b| b.is_ascii_alphanumeric())
                    }))
        })
        .collect();
    if ranges.is_empty() {
        return available.first().copied();
    }
    let weight = |tag: &str| {
        let tag = tag.to_ascii_lowercase();
        // How specifically `range` matches `tag`, if it does: `*` least, then a range that
        // truncates to the tag (only when it is wanted at all: `de-DE;q=0` says nothing
        // against `de`), then filtering matches, longer ranges first.
        let specificity = |(range, q): &(String, u16)| {
            if range == "*" {
                Some(0)
            } else if *range == tag
                || tag
                    .strip_prefix(range.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            {
                Some(range.len() + 2)
            } else if *q > 0
                && range
                    .strip_prefix(tag.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            {
                Some(1)
            } else {
                None
            }
        };
        // The weight, then the kind of match: of two tags the client wants as much, the one
        // a range names beats a fallback, which beats one only `*` covers.
        ranges
            .iter()
            .filter_map(|entry| specificity(entry).map(|s| (s, entry.1)))
            // The most specific match; among equals (fallbacks), the highest weight,
            // whatever their order in the header.
            .max_by_key(|&(s, q)| (s, q))
            .map_or((0, 0), |(s, q)| if q == 0 { (0, 0) } else { (q, s.min(2)) })
    };
    best(available, weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("valid"));
        headers
    }

    #[test]
    fn qvalues() {
        let cases = [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.001", Some(1)),
            ("0.5", Some(500)),
            ("0.50", Some(500)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("2", None),
            ("0.0001", None),
            (".5", None),
            ("-0", None),
            ("0.a", None),
            ("", None),
        ];
        for (text, q) in cases {
            assert_eq!(parse_qvalue(text), q, "{text:?}");
        }
    }

    #[test]
    fn media_type_choice() {
        let offers = ["application/json", "text/html", "text/plain"];
        // (Accept, chosen)
        let cases = [
            ("", Some("application/json")),
            ("garbage", Some("application/json")),
            ("*/*", Some("application/json")),
            ("text/html", Some("text/html")),
            ("TEXT/HTML", Some("text/html")),
            ("text/*", Some("text/html")),
            ("text/*, text/plain;q=1", Some("text/html")),
            ("text/*;q=0.5, text/plain", Some("text/plain")),
            ("text/*, text/html;q=0", Some("text/plain")),
            ("*/*;q=0.1, application/json;q=0", Some("text/html")),
            (
                "application/json;q=0.2, text/html;q=0.2",
                Some("application/json"),
            ),
            ("image/png", None),
            ("*/*;q=0", None),
            ("text/html;q=1.5, text/plain", Some("text/plain")),
            ("text/html;level=1", None),
            ("*/html", Some("application/json")),
        ];
        for (accept, chosen) in cases {
            let h = headers(header::ACCEPT, accept);
            assert_eq!(choose_media_type(&h, &offers), chosen, "{accept:?}");
        }
    }

    #[test]
    fn rfc_9110_example_weights() {
        // RFC 9110 §12.5.1: the quality each media type gets.
        let accept = "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, \
                      text/plain;format=fixed;q=0.4, */*;q=0.5";
        let ranges = parse_accept(&headers(header::ACCEPT, accept));
        let cases = [
            ("text/plain;format=flowed", 1000),
            ("text/plain", 700),
            ("text/html", 300),
            ("image/jpeg", 500),
            ("text/plain;format=fixed", 400),
            ("text/html;level=3", 300),
        ];
        for (media_type, quality) in cases {
            let q = ranges
                .iter()
                .filter(|r| r.matches(media_type))
                .max_by_key(|r| r.specificity())
                .map_or(0, MediaRange::quality);
            assert_eq!(q, quality, "{media_type}");
        }
    }

    #[test]
    fn not_acceptable_problem() {
        let req = http::Request::get("/")
            .header(header::ACCEPT, "text/csv")
            .body(Vec::new())
            .expect("valid");
        let res = negotiate_media_type(&req, &["application/json", "text/html"])
            .expect_err("406")
            .into_response();
        assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(res.headers()[header::VARY], "Accept");
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(
            body["available"],
            serde_json::json!(["application/json", "text/html"])
        );
    }

    #[test]
    fn language_choice() {
        let available = ["en", "en-GB", "de-CH", "fr"];
        // (Accept-Language, chosen)
        let cases = [
            ("", Some("en")),
            ("de", Some("de-CH")),
            ("de-ch", Some("de-CH")),
            ("de-DE", None),
            ("en-gb", Some("en-GB")),
            ("en-GB;q=0.5, en", Some("en")),
            ("en;q=0.5, fr", Some("fr")),
            ("*", Some("en")),
            // `en` also covers en-GB, which leaves de-CH and fr to `*`.
            ("*;q=0.1, en;q=0", Some("de-CH")),
            ("*;q=0.1, en;q=0, en-gb", Some("en-GB")),
            ("en;q=0, *;q=0.1", Some("de-CH")),
            ("e", None),
            ("fr;q=0", None),
            ("toolongsubtag", Some("en")),
            ("es, fr;q=0.3", Some("fr")),
        ];
        for (accept, chosen) in cases {
            let h = headers(header::ACCEPT_LANGUAGE, accept);
            assert_eq!(choose_language(&h, &available), chosen, "{accept:?}");
        }
    }

    #[test]
    fn quoted_parameters_keep_their_commas_and_semicolons() {
        let h = headers(
            header::ACCEPT,
            r#"text/html;foo="a,b;c\"d";q=0.5, application/json;q=0.9"#,
        );
        let ranges = parse_accept(&h);
        assert_eq!(ranges.len(), 2, "{ranges:?}");
        assert_eq!(ranges[0].quality(), 500);
        assert!(ranges[0].matches(r#"text/html; foo="a,b;c\"d""#));
        assert!(!ranges[0].matches("text/html; foo=other"));
        assert_eq!(
            choose_media_type(&h, &["text/html", "application/json"]),
            Some("application/json")
        );
    }

    #[test]
    fn language_lookup_falls_back_to_shorter_tags() {
        let available = ["en", "de", "zh-Hant"];
        let cases = [
            ("de-DE", Some("de")),
            ("de-DE-1996", Some("de")),
            ("zh-Hant-TW", Some("zh-Hant")),
            ("zh-Hans-CN", None),
            // A filtering match outranks a fallback of the same weight...
            ("de-DE, en", Some("en")),
            ("de-AT;q=0.9, en", Some("en")),
            // ...and the fallback outranks `*`.
            ("*;q=0.5, de-DE;q=0.8", Some("de")),
            // Refusing the region refuses nothing else.
            ("de-DE;q=0, *;q=0.1", Some("en")),
            ("de-DE;q=0", None),
            // Two fallbacks to one tag: the better weight counts, in either order.
            ("de-AT;q=0.9, de-DE;q=0.5, en;q=0.8", Some("de")),
            ("de-DE;q=0.5, de-AT;q=0.9, en;q=0.8", Some("de")),
        ];
        for (accept, chosen) in cases {
            let h = headers(header::ACCEPT_LANGUAGE, accept);
            assert_eq!(choose_language(&h, &available), chosen, "{accept:?}");
        }
    }
}
