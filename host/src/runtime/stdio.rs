//! The guest's stdout and stderr, forwarded to the host's log line by line, each line
//! tagged with the request it belongs to, within a per-request byte budget: past it, the
//! request's lines are dropped and counted (one line says so when it starts, one how much
//! went when the next request or the instance's end comes). The `edge-host` binary gives
//! these lines (target `guest`) a log lane of their own that drops rather than waits when
//! the sink is slow.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Lines longer than this are logged in pieces, so a guest cannot grow the buffer unbounded.
const MAX_LINE: usize = 16 * 1024;

/// One of a guest's output streams.
#[derive(Debug, Clone)]
pub(crate) struct GuestOutput {
    /// The request the instance is serving now (an instance may serve several in turn).
    pub(crate) request_id: Arc<AtomicU64>,
    pub(crate) stream: &'static str,
    /// Shared by the instance's stdout and stderr.
    pub(crate) budget: Arc<OutputBudget>,
}

/// How many bytes of output each request of an instance may log.
#[derive(Debug)]
pub(crate) struct OutputBudget {
    max_bytes: usize,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    request_id: u64,
    logged: usize,
    dropped: usize,
}

/// What becomes of a line.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    Log,
    /// The first line over the budget: dropped, and the log says the rest will be.
    FirstDropped,
    Dropped,
}

impl OutputBudget {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            state: Mutex::new(BudgetState::default()),
        }
    }

    fn admit(&self, request_id: u64, len: usize) -> Admit {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.request_id != request_id {
            report_dropped(&state);
            *state = BudgetState {
                request_id,
                ..BudgetState::default()
            };
        }
        if state.dropped == 0 && state.logged + len <= self.max_bytes {
            state.logged += len;
            return Admit::Log;
        }
        state.dropped += len;
        if state.dropped == len {
            Admit::FirstDropped
        } else {
            Admit::Dropped
        }
    }
}

fn report_dropped(state: &BudgetState) {
    if state.dropped > 0 {
        tracing::warn!(
            target: "guest",
            request_id = state.request_id,
            dropped_bytes = state.dropped,
            "guest output over the request's budget was dropped"
        );
    }
}

impl Drop for OutputBudget {
    fn drop(&mut self) {
        report_dropped(&self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl GuestOutput {
    fn emit(&self, line: &[u8]) {
        let request_id = self.request_id.load(Ordering::Relaxed);
        match self.budget.admit(request_id, line.len() + 1) {
            Admit::Log => {}
            Admit::FirstDropped => {
                tracing::warn!(
                    target: "guest",
                    request_id,
                    max_bytes = self.budget.max_bytes,
                    "guest output over the request's budget: the rest of it is dropped"
                );
                return;
            }
            Admit::Dropped => return,
        }
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if line.contains(|c: char| c.is_control() && c != '\t') {
            // A CR or an escape sequence in the middle could forge or hide log lines.
            let line = escape_controls(line);
            tracing::info!(target: "guest", request_id, stream = self.stream, "{line}");
        } else {
            tracing::info!(target: "guest", request_id, stream = self.stream, "{line}");
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.line_writer())
    }

    /// Writes straight into the line buffer: logging never blocks, so the stream needs no
    /// worker task (the default adapter spawns one per stream, that is per request).
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.line_writer())
    }
}

impl GuestOutput {
    fn line_writer(&self) -> LineWriter {
        LineWriter {
            out: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// `line` with its control characters but tabs written as escapes (`\r`, `\u{1b}`).
fn escape_controls(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

struct LineWriter {
    out: GuestOutput,
    buf: Vec<u8>,
}

impl LineWriter {
    fn emit_complete_lines(&mut self) {
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            self.out.emit(&self.buf[start..start + pos]);
            start += pos + 1;
        }
        // A line too long is logged in pieces, all cut before the buffer moves once.
        while self.buf.len() - start >= MAX_LINE {
            self.out.emit(&self.buf[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        self.buf.drain(..start);
    }

    fn emit_rest(&mut self) {
        if !self.buf.is_empty() {
            self.out.emit(&self.buf);
            self.buf.clear();
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // The WASI contract: no more than `check_write` allowed. Holding the guest to it
        // bounds the work of one call, which its deadline cannot interrupt.
        if bytes.len() > MAX_LINE {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "write of {} bytes to {} exceeds the {MAX_LINE} allowed by check-write",
                bytes.len(),
                self.out.stream
            )));
        }
        self.buf.extend_from_slice(&bytes);
        self.emit_complete_lines();
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.emit_complete_lines();
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.emit_rest();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit_rest();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\rb\u{1b}[31mc\td"),
            "a\\rb\\u{1b}[31mc\td"
        );
    }

    #[test]
    fn long_output_is_cut_in_pieces_without_losing_bytes() {
        let mut writer = GuestOutput {
            request_id: Arc::new(AtomicU64::new(1)),
            stream: "stdout",
            budget: Arc::new(OutputBudget::new(1 << 20)),
        }
        .line_writer();
        for _ in 0..3 {
            OutputStream::write(&mut writer, Bytes::from(vec![b'x'; MAX_LINE])).expect("written");
        }
        OutputStream::write(&mut writer, Bytes::from(vec![b'x'; 10])).expect("written");
        assert_eq!(
            writer.buf.len(),
            10,
            "three full pieces logged, the rest kept"
        );
        assert!(
            OutputStream::write(&mut writer, Bytes::from(vec![b'x'; MAX_LINE + 1])).is_err(),
            "more than check-write allows"
        );
        OutputStream::write(&mut writer, Bytes::from_static(b"y\nz")).expect("written");
        assert_eq!(writer.buf, b"z");
    }

    #[test]
    fn each_request_gets_its_budget() {
        let budget = OutputBudget::new(10);
        assert_eq!(budget.admit(1, 6), Admit::Log);
        assert_eq!(budget.admit(1, 4), Admit::Log);
        assert_eq!(budget.admit(1, 1), Admit::FirstDropped);
        // Once over, the request's later lines are dropped even when short.
        assert_eq!(budget.admit(1, 1), Admit::Dropped);
        // The next request on the instance starts afresh.
        assert_eq!(budget.admit(2, 10), Admit::Log);
        assert_eq!(budget.admit(2, 11), Admit::FirstDropped);
    }
}
