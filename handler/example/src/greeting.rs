//! `GET /api/v1/greeting?name=Ada`: `{"message":"Hello, Ada!"}`, the greeting from the
//! `greeting` variable.

use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::settings::{DEFAULT_GREETING, VAR_GREETING};
use edge_toolkit::extract::{Json, Query};
use edge_toolkit::negotiate::choose_language;
use edge_toolkit::{IntoResponse, Problem, config};

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

/// The languages the greeting is offered in, by `Accept-Language`: the first, the default
/// (also for a client that accepts none of them), says the `greeting` variable; the others
/// their own word.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", ""),
    ("fr", "Bonjour"),
    ("de", "Hallo"),
    ("es", "Hola"),
];

/// The query of `GET /api/v1/greeting`.
#[derive(Debug, Default, Deserialize)]
pub struct GreetingQuery {
    /// Who is greeted; [`DEFAULT_NAME`] when absent or empty.
    pub name: Option<String>,
}

/// Greets the query's `name` ([`DEFAULT_NAME`] when absent or empty) in the language the
/// client prefers of [`LANGUAGES`], with `Content-Language` and `Vary: Accept-Language`; in
/// English, with the `greeting` variable ([`DEFAULT_GREETING`] when undefined). A name over
/// [`MAX_NAME_CHARS`] characters is a `422` problem; a query that is not valid form-encoded
/// UTF-8, or names `name` twice, a `400` (the [`Query`] extractor's); an unreadable
/// variable a `500`.
pub fn greet(
    headers: HeaderMap,
    Query(query): Query<GreetingQuery>,
) -> Result<impl IntoResponse, Problem> {
    let name = query
        .name
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
    let tags: Vec<&str> = LANGUAGES.iter().map(|(tag, _)| *tag).collect();
    let language = choose_language(&headers, &tags).unwrap_or(tags[0]);
    let greeting = match LANGUAGES.iter().find(|(tag, _)| *tag == language) {
        Some((_, word)) if !word.is_empty() => (*word).to_owned(),
        _ => config::get_or(VAR_GREETING, DEFAULT_GREETING)?,
    };
    let headers = [
        (header::CONTENT_LANGUAGE, language),
        (header::VARY, "Accept-Language"),
    ];
    let message = format!("{greeting}, {name}!");
    Ok((headers, Json(Greeting { message })))
}
