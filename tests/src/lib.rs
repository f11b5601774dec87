//! Paths of the guest components this package's build script compiled, and helpers the
//! integration tests share.

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The README's Rust examples compile.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
