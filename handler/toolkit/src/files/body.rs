//! The streamed body of a file response: byte ranges of the open file read chunk by chunk,
//! with the part headers of a `multipart/byteranges` body between them.

use std::collections::VecDeque;

use super::range::ByteRange;

/// The largest chunk read at once: the body is in memory one chunk at a time, however
/// large the file.
pub(super) const CHUNK_SIZE: u64 = 64 * 1024;

/// One piece of a body.
#[derive(Debug)]
pub(super) enum Segment {
    /// Bytes made in memory (a part's header, the closing delimiter).
    Bytes(Vec<u8>),
    /// A range of the file.
    File(ByteRange),
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            // A usize always fits a u64 on the targets the toolkit builds for.
            Segment::Bytes(bytes) => bytes.len() as u64,
            Segment::File(range) => range.len(),
        }
    }
}

/// The chunks of a body of `segments` of `file`: an [`Iterator`] for a
/// [`BodyStream`](crate::stream::BodyStream). Each file range is read from its start in
/// chunks of at most [`CHUNK_SIZE`]; nothing is read before the first chunk is asked for.
///
/// The response already declared its length, so should the file fail or come up short
/// (truncated since it was opened), the stream ends there, and the error goes to stderr:
/// the host sees a body shorter than declared and fails the response rather than send
/// something else.
#[derive(Debug)]
pub(super) struct FileBody {
    file: super::fs::File,
    /// Where the next read of the file starts.
    offset: u64,
    segments: VecDeque<Segment>,
    /// The bytes left to read of the file range being sent.
    remaining: u64,
}

impl FileBody {
    /// The body of `segments` read from `file`.
    pub(super) fn new(file: super::fs::File, segments: Vec<Segment>) -> Self {
        Self {
            file,
            offset: 0,
            segments: segments.into(),
            remaining: 0,
        }
    }

    /// How many bytes the body has in all: its `Content-Length`.
    pub(super) fn len(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Ends the body after a failure.
    fn fail(&mut self, what: &str) {
        eprintln!("static file: {what}; the response body ends early");
        self.segments.clear();
        self.remaining = 0;
    }
}

impl Iterator for FileBody {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        while self.remaining == 0 {
            match self.segments.pop_front()? {
                Segment::Bytes(bytes) => return Some(bytes),
                Segment::File(range) => {
                    self.offset = range.start;
                    self.remaining = range.len();
                }
            }
        }
        let want = self.remaining.min(CHUNK_SIZE);
        match self.file.read_at(self.offset, want) {
            Ok(chunk) if chunk.len() as u64 == want => {
                self.remaining -= want;
                self.offset += want;
                Some(chunk)
            }
            Ok(chunk) => {
                let missing = self.remaining - chunk.len() as u64;
                self.fail(&format!("the file ended {missing} bytes early"));
                // What was read is still sent; nothing after it.
                (!chunk.is_empty()).then_some(chunk)
            }
            Err(err) => {
                self.fail(&format!("reading failed: {err}"));
                None
            }
        }
    }
}
