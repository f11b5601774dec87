//! `GET /api/v1/events`: a short server-sent event stream.

use std::time::Duration;

use edge_toolkit::sse::{Event, sse_response};
use edge_toolkit::{Problem, Request, Response};

/// How many `tick` events one stream carries.
pub const TICKS: u64 = 3;
/// The pause before each event after the first.
pub const TICK_INTERVAL: Duration = Duration::from_millis(50);

/// Streams `tick` events with ids `1..=3`, data `{"tick":n}`, [`TICK_INTERVAL`] apart. A
/// client reconnecting with `Last-Event-ID: n` gets the ticks after `n`; when none is left
/// (`n` of 3 or more), `204 No Content`, which tells an `EventSource` to stop reconnecting
/// (HTML standard, server-sent events §9.2.3).
pub fn ticks(req: Request) -> Result<Response, Problem> {
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let Some(first) = after.checked_add(1).filter(|first| *first <= TICKS) else {
        let mut done = Response::new(Vec::new());
        *done.status_mut() = http::StatusCode::NO_CONTENT;
        return Ok(done);
    };
    let events = (first..=TICKS).map(move |n| {
        if n > first {
            std::thread::sleep(TICK_INTERVAL);
        }
        Event::new()
            .with_event("tick")
            .and_then(|event| event.with_id(n.to_string()))
            .expect("a fixed name and a number have no line breaks")
            .with_data(format!("{{\"tick\":{n}}}"))
    });
    Ok(sse_response(events))
}
