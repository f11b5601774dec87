//! `GET /api/v1/greeting?name=Ada`: `{"message":"Hello, Ada!"}`, the greeting from the
//! `greeting` variable.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::settings::{DEFAULT_GREETING, VAR_GREETING};
use edge_toolkit::extract::{Json, Query};
use edge_toolkit::{Problem, config};

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

/// The query of `GET /api/v1/greeting`.
#[derive(Debug, Default, Deserialize)]
pub struct GreetingQuery {
    /// Who is greeted; [`DEFAULT_NAME`] when absent or empty.
    pub name: Option<String>,
}

/// Greets the query's `name` ([`DEFAULT_NAME`] when absent or empty) with the `greeting`
/// variable ([`DEFAULT_GREETING`] when undefined). A name over [`MAX_NAME_CHARS`]
/// characters is a `422` problem; a query that is not valid form-encoded UTF-8, or names
/// `name` twice, a `400` (the [`Query`] extractor's); an unreadable variable a `500`.
pub fn greet(Query(query): Query<GreetingQuery>) -> Result<Json<Greeting>, Problem> {
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
    let greeting = config::get_or(VAR_GREETING, DEFAULT_GREETING)?;
    Ok(Json(Greeting {
        message: format!("{greeting}, {name}!"),
    }))
}
