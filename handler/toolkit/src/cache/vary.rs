//! Adding a field name to `Vary`
//! ([RFC 9110 §12.5.5](https://www.rfc-editor.org/rfc/rfc9110#section-12.5.5)).
//!
//! ```text
//! Vary = #( "*" / field-name )
//! ```

use http::{HeaderMap, HeaderValue, header};

/// Adds `field` to the response's `Vary` unless it is already listed (field names compare
/// case-insensitively). `*` absorbs everything: once either side is `*`, `Vary` is `*`.
///
/// Several `Vary` lines are folded into one; an unchanged list is left as it was.
///
/// ```
/// use edge_toolkit::cache::add_vary;
/// use http::{HeaderMap, header};
///
/// let mut headers = HeaderMap::new();
/// add_vary(&mut headers, "Origin");
/// add_vary(&mut headers, "accept-encoding");
/// add_vary(&mut headers, "ORIGIN");
/// assert_eq!(headers[header::VARY], "Origin, accept-encoding");
///
/// add_vary(&mut headers, "*");
/// assert_eq!(headers[header::VARY], "*");
/// ```
pub fn add_vary(headers: &mut HeaderMap, field: &str) {
    let field = field.trim();
    if field.is_empty() {
        return;
    }
    let mut names: Vec<String> = Vec::new();
    for value in headers.get_all(header::VARY) {
        let text = String::from_utf8_lossy(value.as_bytes());
        names.extend(
            text.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
        );
    }
    let lines = headers.get_all(header::VARY).iter().count();
    let merged = if field == "*" || names.iter().any(|name| name == "*") {
        if names.len() == 1 && names[0] == "*" && lines == 1 {
            return;
        }
        "*".to_owned()
    } else if names.iter().any(|name| name.eq_ignore_ascii_case(field)) {
        if lines <= 1 {
            return;
        }
        names.join(", ")
    } else {
        names.push(field.to_owned());
        names.join(", ")
    };
    // An invalid `field` (a control character, say) leaves Vary alone.
    if let Ok(value) = HeaderValue::from_str(&merged) {
        headers.insert(header::VARY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_without_duplicates() {
        // (existing Vary lines, field to add, expected single Vary value)
        let cases: [(&[&str], &str, &str); 12] = [
            (&[], "Origin", "Origin"),
            (&["Origin"], "Origin", "Origin"),
            (&["origin"], "Origin", "origin"),
            (&["Accept"], "Origin", "Accept, Origin"),
            (
                &["Accept, Accept-Encoding"],
                "accept-encoding",
                "Accept, Accept-Encoding",
            ),
            (&["Accept", "Cookie"], "Origin", "Accept, Cookie, Origin"),
            (&["Accept", "Cookie"], "cookie", "Accept, Cookie"),
            (&["*"], "Origin", "*"),
            (&["Accept"], "*", "*"),
            (&["Accept", "*"], "Origin", "*"),
            (&[" Accept ,, "], "Origin", "Accept, Origin"),
            (&[], "  ", ""),
        ];
        for (existing, field, expected) in cases {
            let mut headers = HeaderMap::new();
            for line in existing {
                headers.append(header::VARY, HeaderValue::from_static(line));
            }
            add_vary(&mut headers, field);
            let all: Vec<_> = headers.get_all(header::VARY).iter().collect();
            if expected.is_empty() {
                assert!(all.is_empty(), "{existing:?} + {field:?}");
            } else {
                assert_eq!(all, [expected], "{existing:?} + {field:?}");
            }
        }
    }

    #[test]
    fn invalid_field_leaves_vary_alone() {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        add_vary(&mut headers, "bad\nname");
        assert_eq!(headers[header::VARY], "Accept");
    }

    #[test]
    fn other_headers_are_untouched() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("\"x\""));
        add_vary(&mut headers, "Origin");
        assert_eq!(headers[header::ETAG], "\"x\"");
        assert_eq!(headers.len(), 2);
    }
}
