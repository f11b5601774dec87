//! Server-sent events ([HTML Living Standard §9.2](https://html.spec.whatwg.org/multipage/server-sent-events.html)):
//! an [`Event`] builder that serialises exactly as the `text/event-stream` format says, and
//! [`sse_response`], a streaming response of events.
//!
//! ```text
//! stream  = [ bom ] *event
//! event   = *( comment / field ) end-of-line
//! comment = colon *any-char end-of-line
//! field   = 1*name-char [ colon [ space ] *any-char ] end-of-line
//! ```
//!
//! ```
//! use std::time::Duration;
//! use edge_toolkit::sse::{Event, sse_response};
//! use edge_toolkit::stream::collect_body;
//!
//! let events = (1..=2).map(|n| {
//!     Event::new()
//!         .with_event("tick")
//!         .and_then(|e| e.with_id(n.to_string()))
//!         .expect("no line breaks")
//!         .with_data(format!("tick {n}\nof 2"))
//! });
//! let res = sse_response(events);
//! assert_eq!(res.headers()["content-type"], "text/event-stream");
//! assert_eq!(res.headers()["cache-control"], "no-cache");
//! assert_eq!(
//!     String::from_utf8(collect_body(res)).unwrap(),
//!     "event: tick\nid: 1\ndata: tick 1\ndata: of 2\n\n\
//!      event: tick\nid: 2\ndata: tick 2\ndata: of 2\n\n"
//! );
//! ```

use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::Response;
use crate::stream::streaming_response;

/// A field value that the format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEvent {
    /// An `event` type or an `id` contains a line break, which would end the field early.
    #[error("the `{field}` field cannot contain a line break")]
    LineBreak {
        /// `event` or `id`.
        field: &'static str,
    },
    /// An `id` contains NUL, which makes clients ignore it.
    #[error("the `id` field cannot contain NUL")]
    Nul,
}

/// One event of an event stream.
///
/// Data and comments may span lines: each line (split at CRLF, LF or CR) becomes a field of
/// its own, which clients join back with `\n`. Fields are written in the order comments,
/// `event`, `id`, `retry`, `data`, then the blank line that dispatches the event.
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::sse::Event;
///
/// let event = Event::new()
///     .with_comment("keep-alive")
///     .with_retry(Duration::from_millis(1500))
///     .with_data("first\r\nsecond");
/// assert_eq!(event.to_string(), ": keep-alive\nretry: 1500\ndata: first\ndata: second\n\n");
///
/// assert!(Event::new().with_id("a\nb").is_err());
/// assert_eq!(Event::new().with_data("").to_string(), "data:\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    comments: Vec<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
}

fn no_line_break(field: &'static str, value: &str) -> Result<(), InvalidEvent> {
    if value.contains(['\r', '\n']) {
        return Err(InvalidEvent::LineBreak { field });
    }
    Ok(())
}

/// `text` split at CRLF, LF or CR, as the parser splits lines.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            Some(i) => {
                let skip = if text[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[i + skip..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

impl Event {
    /// An empty event: with no data, clients do not dispatch it (useful for comments and
    /// `retry` alone).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the data, replacing any set before; line breaks split it into `data` lines.
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets the event type (`event:`), which clients dispatch to listeners of that name.
    pub fn with_event(mut self, event: impl Into<String>) -> Result<Self, InvalidEvent> {
        let event = event.into();
        no_line_break("event", &event)?;
        self.event = Some(event);
        Ok(self)
    }

    /// Sets the id (`id:`), which clients send back as `Last-Event-ID` when they reconnect.
    pub fn with_id(mut self, id: impl Into<String>) -> Result<Self, InvalidEvent> {
        let id = id.into();
        no_line_break("id", &id)?;
        if id.contains('\0') {
            return Err(InvalidEvent::Nul);
        }
        self.id = Some(id);
        Ok(self)
    }

    /// Sets the reconnection time (`retry:`, in whole milliseconds).
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds a comment (`: text`), which clients ignore; often sent to keep a connection open.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comments.push(comment.into());
        self
    }

    /// The event in wire form, ending with the blank line.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A single space after the colon is dropped by the parser, so a value's own leading
        // space survives; an empty value is written without one.
        let field = |f: &mut std::fmt::Formatter<'_>, name: &str, value: &str| {
            if value.is_empty() {
                writeln!(f, "{name}:")
            } else {
                writeln!(f, "{name}: {value}")
            }
        };
        for comment in &self.comments {
            for line in lines(comment) {
                field(f, "", line)?;
            }
        }
        if let Some(event) = &self.event {
            field(f, "event", event)?;
        }
        if let Some(id) = &self.id {
            field(f, "id", id)?;
        }
        if let Some(retry) = self.retry {
            field(f, "retry", &retry.as_millis().to_string())?;
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                field(f, "data", line)?;
            }
        }
        writeln!(f)
    }
}

/// A `200` event stream of `events`, each sent as soon as it is produced:
/// `Content-Type: text/event-stream` and `Cache-Control: no-cache`.
///
/// ```
/// let res = edge_toolkit::sse::sse_response(std::iter::once(edge_toolkit::sse::Event::new().with_data("hi")));
/// assert_eq!(edge_toolkit::stream::collect_body(res), b"data: hi\n\n");
/// ```
pub fn sse_response(events: impl Iterator<Item = Event> + Send + 'static) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    streaming_response(
        StatusCode::OK,
        headers,
        events.map(|event| event.to_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_table() {
        // (event, wire form)
        let cases = [
            (Event::new(), "\n"),
            (Event::new().with_data("x"), "data: x\n\n"),
            (Event::new().with_data(" lead"), "data:  lead\n\n"),
            (Event::new().with_data("a\nb"), "data: a\ndata: b\n\n"),
            (
                Event::new().with_data("a\r\nb\rc"),
                "data: a\ndata: b\ndata: c\n\n",
            ),
            (Event::new().with_data("a\n"), "data: a\ndata:\n\n"),
            (Event::new().with_data("\n"), "data:\ndata:\n\n"),
            (
                Event::new().with_data("a\n\nb"),
                "data: a\ndata:\ndata: b\n\n",
            ),
            (Event::new().with_comment("c1\nc2"), ": c1\n: c2\n\n"),
            (Event::new().with_comment(""), ":\n\n"),
            (
                Event::new().with_retry(Duration::from_secs(3)),
                "retry: 3000\n\n",
            ),
            (
                Event::new()
                    .with_data("d")
                    .with_id("7")
                    .and_then(|e| e.with_event("update"))
                    .expect("valid")
                    .with_comment("c"),
                ": c\nevent: update\nid: 7\ndata: d\n\n",
            ),
            (Event::new().with_id("").expect("valid"), "id:\n\n"),
        ];
        for (event, wire) in cases {
            assert_eq!(event.to_string(), wire, "{event:?}");
            assert_eq!(event.to_bytes(), wire.as_bytes());
        }
    }

    #[test]
    fn invalid_fields() {
        let cases = [
            (
                Event::new().with_id("a\rb"),
                InvalidEvent::LineBreak { field: "id" },
            ),
            (Event::new().with_id("a\0"), InvalidEvent::Nul),
            (
                Event::new().with_event("x\ny"),
                InvalidEvent::LineBreak { field: "event" },
            ),
        ];
        for (result, error) in cases {
            assert_eq!(result, Err(error));
        }
    }

    #[test]
    fn response_streams_lazily() {
        let produced = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&produced);
        let res = sse_response((0..3).map(move |n| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Event::new().with_data(n.to_string())
        }));
        assert_eq!(produced.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(res.body().is_empty());
        assert_eq!(
            crate::stream::collect_body(res),
            b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        );
        assert_eq!(produced.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
