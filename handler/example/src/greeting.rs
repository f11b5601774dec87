//! `GET /api/v1/greeting?name=Ada`: `{"message":"Hello, Ada!"}`, the greeting from the
//! `greeting` variable.

use http::StatusCode;
use serde::Serialize;

use crate::settings::{DEFAULT_GREETING, VAR_GREETING};
use edge_toolkit::{Problem, Request, Response, config, json_response};

/// The longest `name` greeted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Who is greeted without a `name`.
pub const DEFAULT_NAME: &str = "world";

/// The body of `GET /api/v1/greeting`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Greeting {
    /// `"<greeting>, <name>!"`.
    pub message: String,
}

/// Greets the query's `name` (form-encoded; [`DEFAULT_NAME`] when absent or empty) with the
/// `greeting` variable ([`DEFAULT_GREETING`] when undefined). A name over
/// [`MAX_NAME_CHARS`] characters is a `422` problem, a query that is not valid
/// form-encoded UTF-8 a `400`, an unreadable variable a `500`.
pub fn greet(req: Request) -> Result<Response, Problem> {
    let name = query_param(req.uri().query(), "name")?
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    if name.chars().count() > MAX_NAME_CHARS {
        let detail = format!("must be at most {MAX_NAME_CHARS} characters");
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail(format!("the query parameter `name` {detail}"))
            .with_extension(
                "errors",
                serde_json::json!([{"parameter": "name", "detail": detail}]),
            ));
    }
    let greeting = config::get_or(VAR_GREETING, DEFAULT_GREETING)?;
    Ok(json_response(
        StatusCode::OK,
        &Greeting {
            message: format!("{greeting}, {name}!"),
        },
    ))
}

/// The first value of `name` in a form-encoded query (`+` is a space, `%XX` a byte).
fn query_param(query: Option<&str>, name: &str) -> Result<Option<String>, Problem> {
    let Some(query) = query else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(key).as_deref() == Some(name) {
            return form_decode(value).map(Some).ok_or_else(|| {
                Problem::new(StatusCode::BAD_REQUEST).with_detail(format!(
                    "the query parameter `{name}` is not valid percent-encoded UTF-8"
                ))
            });
        }
    }
    Ok(None)
}

/// `application/x-www-form-urlencoded` decoding; `None` for a bad escape or invalid UTF-8.
fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            b'%' => {
                let hex = tail.get(..2)?;
                // `from_str_radix` would take a sign: check for two hex digits first.
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        // (encoded, decoded)
        let cases = [
            ("Ada", Some("Ada")),
            ("Ada+Lovelace", Some("Ada Lovelace")),
            ("Ada%20Lovelace", Some("Ada Lovelace")),
            ("%C3%A9mile", Some("émile")),
            ("100%25", Some("100%")),
            ("%2", None),
            ("%zz", None),
            ("%+1", None),
            ("%FF", None),
            ("", Some("")),
        ];
        for (encoded, decoded) in cases {
            assert_eq!(form_decode(encoded).as_deref(), decoded, "{encoded}");
        }
    }

    #[test]
    fn query_parameters() {
        let get = |query: Option<&str>| query_param(query, "name").map_err(|p| p.status());
        assert_eq!(get(None), Ok(None));
        assert_eq!(get(Some("")), Ok(None));
        assert_eq!(get(Some("other=1")), Ok(None));
        assert_eq!(get(Some("name=Ada")), Ok(Some("Ada".into())));
        assert_eq!(get(Some("x=1&name=Ada&name=Bob")), Ok(Some("Ada".into())));
        assert_eq!(get(Some("n%61me=Ada")), Ok(Some("Ada".into())));
        assert_eq!(get(Some("name")), Ok(Some(String::new())));
        assert_eq!(get(Some("name=%E2%28")), Err(StatusCode::BAD_REQUEST));
    }
}
