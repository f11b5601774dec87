//! What is wrong in a manifest, and where: [`ManifestError`], and how problems are collected
//! and placed (serde's errors included) while a manifest is read.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::DeValue;

/// Why a manifest could not be loaded: every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// The problems, roughly in file order.
    pub problems: Vec<ManifestProblem>,
}

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    /// The dotted key it concerns, such as `component.api.source` or `trigger.http[1].route`;
    /// empty when the file as a whole is concerned (unreadable, not TOML).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// The line (from 1) of the key or value concerned; for a missing key, of the table that
    /// lacks it. `None` when there is no such place (the file is unreadable, a table is absent).
    pub line: Option<usize>,
    /// The column (from 1, in characters) on [`Self::line`].
    pub column: Option<usize>,
}

impl ManifestProblem {
    /// A problem of the file as a whole, at `position` (line, column) when known.
    pub(super) fn of_file(message: String, position: Option<(usize, usize)>) -> Self {
        Self {
            key: String::new(),
            message,
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
        }
    }
}

impl fmt::Display for ManifestProblem {
    /// `` `{key}`: {message} ``, or the message alone for the file as a whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl fmt::Display for ManifestError {
    /// One line per problem: ``{file}: `{key}`: {message}``; the alternate form (`{:#}`)
    /// adds the position where there is one: ``{file}:{line}:{column}: `{key}`: {message}``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}", self.file.display())?;
            if let (true, Some(line), Some(column)) = (f.alternate(), problem.line, problem.column)
            {
                write!(f, ":{line}:{column}")?;
            }
            write!(f, ": {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

/// The one problem of a file that is not TOML.
pub(super) fn syntax(text: &str, error: &toml::de::Error) -> ManifestProblem {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let (line, column) = position(text, span.start);
            ManifestProblem::of_file(
                format!("invalid TOML at line {line}, column {column}: {message}"),
                Some((line, column)),
            )
        }
        None => ManifestProblem::of_file(format!("invalid TOML: {message}"), None),
    }
}

/// The line and column, from 1, of the byte `offset` of `text` (columns in characters).
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `prefix.key`, the key quoted when it is not a bare TOML key.
pub(super) fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// "a string", "an integer"... for a TOML type name such as `string`.
pub(super) fn a(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// The problems found in a manifest so far, each placed in its text.
#[derive(Debug)]
pub(super) struct Problems<'t> {
    text: &'t str,
    list: Vec<ManifestProblem>,
}

impl<'t> Problems<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self {
            text,
            list: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn into_vec(self) -> Vec<ManifestProblem> {
        self.list
    }

    /// A problem at `key`, whose key or value is at the bytes `span` of the text, if known.
    pub(super) fn add(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        let position = span.map(|span| position(self.text, span.start));
        self.list.push(ManifestProblem {
            key: key.into(),
            message: message.into(),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
        });
    }

    /// `value` (at `key`) as a table; a problem when it is something else.
    pub(super) fn table<'v, 'i>(
        &mut self,
        key: &str,
        value: &'v Spanned<DeValue<'i>>,
    ) -> Option<&'v toml::de::DeTable<'i>> {
        let table = value.get_ref().as_table();
        if table.is_none() {
            let found = a(value.get_ref().type_str());
            let message = format!("expected a table, found {found}");
            self.add(key, Some(value.span()), message);
        }
        table
    }

    /// The error serde gave for `item`, the value at `key`: placed at the value below `item`
    /// that it points to (`component.app.environment.B`), and worded as the rest of the
    /// problems ("expected a string, found an integer").
    pub(super) fn serde(
        &mut self,
        key: &str,
        item: &Spanned<DeValue<'_>>,
        error: &toml::de::Error,
    ) {
        let span = error.span();
        let (key, found) = match span.as_ref().and_then(|span| locate(item, span, key)) {
            Some((key, value)) => (key, Some(value.type_str())),
            None => (key.to_owned(), None),
        };
        let message = error.message();
        let message = match message
            .strip_prefix("invalid type: ")
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            Some((unexpected, expected)) => format!(
                "expected {}, found {}",
                expected_as_toml(expected),
                found.map_or_else(|| unexpected.to_owned(), a)
            ),
            None => message.to_owned(),
        };
        self.add(key, span, message);
    }
}

/// What serde expected, in TOML's words (every list of a manifest is one of strings).
fn expected_as_toml(expected: &str) -> &str {
    match expected {
        "a boolean" => "a boolean (true or false)",
        "a sequence" => "a list of strings",
        "a map" => "a table",
        _ if expected.starts_with("struct ") => "a table",
        _ => expected,
    }
}

/// The value at the bytes `span` in `value` (whose key is `key`), with its dotted key; the
/// innermost, since an array of tables shares its span with its first table.
fn locate<'v, 'i>(
    value: &'v Spanned<DeValue<'i>>,
    span: &Range<usize>,
    key: &str,
) -> Option<(String, &'v DeValue<'i>)> {
    let inner = match value.get_ref() {
        DeValue::Table(table) => table
            .iter()
            .find_map(|(name, value)| locate(value, span, &join(key, name.get_ref()))),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, value)| locate(value, span, &format!("{key}[{i}]"))),
        _ => None,
    };
    inner.or_else(|| (value.span() == *span).then(|| (key.to_owned(), value.get_ref())))
}
