//! The request and response types handlers work on: the [`http`] crate's, with the body
//! buffered.

/// The body type handlers read and write: the whole body, buffered.
pub type Body = Vec<u8>;
/// An incoming request as handlers see it.
pub type Request = http::Request<Body>;
/// A response as handlers produce it.
pub type Response = http::Response<Body>;
