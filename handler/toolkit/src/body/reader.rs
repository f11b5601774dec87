//! Reading a request body within a limit, for the component glue.

use http::{HeaderMap, header};

use crate::Problem;
use crate::middleware::body_limit::too_large_problem;

/// Collects a request body chunk by chunk, refusing it with `413` as soon as its declared
/// `Content-Length` or the bytes read go over the limit: a body too large is never buffered
/// whole. The component glue reads each request through one, with the limit of the route
/// the request is for ([`Router::max_body`](crate::Router::max_body)).
///
/// ```
/// use edge_toolkit::body::BodyReader;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("content-length", "100".parse().unwrap());
/// assert_eq!(BodyReader::new(&headers, Some(10)).unwrap_err().status(), 413);
///
/// let mut reader = BodyReader::new(&http::HeaderMap::new(), Some(10)).unwrap();
/// reader.push(b"hello").unwrap();
/// assert_eq!(reader.push(b", world").unwrap_err().status(), 413);
/// ```
#[derive(Debug)]
pub struct BodyReader {
    limit: Option<u64>,
    body: Vec<u8>,
    read: u64,
}

impl BodyReader {
    /// A reader for a request with `headers`; `413` at once when its `Content-Length` is
    /// over `limit`. The buffer is sized for the declared length, up to the limit.
    pub fn new(headers: &HeaderMap, limit: Option<u64>) -> Result<Self, Problem> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(len), Some(max)) = (declared, limit)
            && len > max
        {
            return Err(too_large_problem(
                len,
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
        // Never more than 1 MiB ahead of the bytes themselves.
        let capacity = declared
            .unwrap_or(0)
            .min(limit.unwrap_or(u64::MAX))
            .min(1 << 20);
        Ok(Self {
            limit,
            body: Vec::with_capacity(usize::try_from(capacity).unwrap_or(0)),
            read: 0,
        })
    }

    /// Adds `chunk`; `413` when the body is now over the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Problem> {
        self.count(chunk)?;
        self.body.extend_from_slice(chunk);
        Ok(())
    }

    /// Counts `chunk` without keeping it, for a body streamed to the handler
    /// ([`Upload`](crate::body::Upload)); `413` when the body is now over the limit.
    pub fn count(&mut self, chunk: &[u8]) -> Result<(), Problem> {
        let len = self.read + chunk.len() as u64;
        if let Some(max) = self.limit
            && len > max
        {
            return Err(too_large_problem(
                len,
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
        self.read = len;
        Ok(())
    }

    /// The body read.
    pub fn finish(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_and_read_lengths_are_held_to_the_limit() {
        let headers = |len: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_LENGTH, len.parse().expect("a header value"));
            headers
        };
        assert!(BodyReader::new(&headers("10"), Some(10)).is_ok());
        assert_eq!(
            BodyReader::new(&headers("11"), Some(10))
                .map(|_| ())
                .map_err(|p| p.status()),
            Err(http::StatusCode::PAYLOAD_TOO_LARGE)
        );
        // No limit: anything goes; an unreadable length is left to the bytes.
        let mut reader = BodyReader::new(&headers("99999999999"), None).expect("no limit");
        reader.push(&[1; 100]).expect("no limit");
        assert_eq!(reader.finish().len(), 100);
        let mut reader = BodyReader::new(&headers("junk"), Some(4)).expect("length unknown");
        reader.push(b"abcd").expect("at the limit");
        let problem = reader.push(b"e").expect_err("over it");
        assert_eq!(problem.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            problem
                .detail()
                .unwrap_or_default()
                .contains("at most 4 bytes")
        );
    }
}
