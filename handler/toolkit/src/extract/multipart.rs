//! `multipart/form-data` uploads ([RFC 7578](https://www.rfc-editor.org/rfc/rfc7578)),
//! parsed by [`multer`] within [`MultipartLimits`].

use std::convert::Infallible;

use bytes::Bytes;
use http::{StatusCode, header};

use super::FromRequest;
use crate::HandlerFuture;
use crate::{Middleware, Next, Problem, Request};

/// How much a `multipart/form-data` body may hold: bytes per part, bytes in all, and parts.
/// Defaults: 1 MiB per part, 8 MiB in all, 64 parts.
///
/// Also a [`Middleware`]: as a layer of a route (or a router, or a group), it sets the limits
/// the [`Multipart`] extractor applies to the requests it sees.
///
/// ```
/// use edge_toolkit::extract::{Multipart, MultipartLimits};
/// use edge_toolkit::{Router, Stack};
/// use http::Method;
///
/// fn upload(form: Multipart) -> String {
///     let names: Vec<_> = form.parts().iter().filter_map(|part| part.name()).collect();
///     names.join(",")
/// }
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let small = Stack::new().layer(MultipartLimits::new().with_part_bytes(8));
/// let router = Router::new().route_with(Method::POST, "/upload", upload, small)?;
/// let send = |body: &str| {
///     router.handle(
///         http::Request::post("/upload")
///             .header("content-type", "multipart/form-data; boundary=X")
///             .body(body.replace('\n', "\r\n").into_bytes())
///             .unwrap(),
///     )
/// };
/// let ok = send("--X\nContent-Disposition: form-data; name=\"a\"\n\nsmall\n--X--\n");
/// assert_eq!(ok.body().as_slice(), b"a");
/// let big = send("--X\nContent-Disposition: form-data; name=\"a\"\n\nmuch too large\n--X--\n");
/// assert_eq!(big.status(), 413);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    part_bytes: u64,
    total_bytes: u64,
    parts: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            part_bytes: 1 << 20,
            total_bytes: 8 << 20,
            parts: 64,
        }
    }
}

impl MultipartLimits {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest part, in bytes (`413` above it).
    pub fn with_part_bytes(mut self, bytes: u64) -> Self {
        self.part_bytes = bytes;
        self
    }

    /// The largest body, in bytes (`413` above it).
    pub fn with_total_bytes(mut self, bytes: u64) -> Self {
        self.total_bytes = bytes;
        self
    }

    /// The most parts (`413` above it).
    pub fn with_parts(mut self, parts: usize) -> Self {
        self.parts = parts;
        self
    }
}

impl Middleware for MultipartLimits {
    fn handle<'a>(&'a self, mut req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            req.extensions_mut().insert(*self);
            next.run(req).await
        })
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

impl Part {
    /// The form field's name (`Content-Disposition: form-data; name=...`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The file name a browser sent for a file input, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The part's `Content-Type`, if it has one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The part's content.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The part's content, taken.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The content as text; `None` when it is not UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// A `multipart/form-data` body, every part read within the request's [`MultipartLimits`]
/// (the defaults unless a layer set others): `415` for another media type, `400` for a
/// missing boundary or a malformed body, `413` naming the limit a part or the body went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    parts: Vec<Part>,
}

impl Multipart {
    /// The parts, in body order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|part| part.name() == Some(name))
    }

    /// The parts, taken.
    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }
}

fn too_large(detail: String) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE).with_detail(detail)
}

fn rejection(err: &multer::Error) -> Problem {
    match err {
        multer::Error::FieldSizeExceeded { limit, field_name } => too_large(match field_name {
            Some(name) => format!("the part `{name}` is larger than {limit} bytes"),
            None => format!("a part is larger than {limit} bytes"),
        }),
        multer::Error::StreamSizeExceeded { limit } => {
            too_large(format!("the body is larger than {limit} bytes"))
        }
        other => Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the multipart body is malformed: {other}")),
    }
}

impl FromRequest for Multipart {
    fn from_request(req: Request) -> Result<Self, Problem> {
        let limits = req
            .extensions()
            .get::<MultipartLimits>()
            .copied()
            .unwrap_or_default();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("multipart/form-data") {
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("expected a body of type multipart/form-data"));
        }
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            Problem::new(StatusCode::BAD_REQUEST)
                .with_detail("the multipart/form-data Content-Type has no boundary")
        })?;
        if req.body().len() as u64 > limits.total_bytes {
            return Err(too_large(format!(
                "the body is larger than {} bytes",
                limits.total_bytes
            )));
        }
        let body = Bytes::from(req.into_body());
        let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(limits.total_bytes)
                .per_field(limits.part_bytes),
        );
        let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
        // The body is in memory: every future below is ready at once, so one poll ends it
        // (no executor: this may run inside one).
        let parse = async {
            let mut parts = Vec::new();
            while let Some(field) = multipart.next_field().await.map_err(|e| rejection(&e))? {
                if parts.len() == limits.parts {
                    return Err(too_large(format!(
                        "the body has more than {} parts",
                        limits.parts
                    )));
                }
                let name = field.name().map(str::to_owned);
                let file_name = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(ToString::to_string);
                let data = field.bytes().await.map_err(|e| rejection(&e))?.to_vec();
                parts.push(Part {
                    name,
                    file_name,
                    content_type,
                    data,
                });
            }
            Ok(Multipart { parts })
        };
        futures::FutureExt::now_or_never(parse).unwrap_or_else(|| {
            Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail("the multipart parser waited on a body already in memory"))
        })
    }
}
