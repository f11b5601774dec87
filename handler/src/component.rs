//! The only place that touches spin-sdk: exports the application as
//! `wasi:http/incoming-handler`.
#![expect(
    unsafe_code,
    reason = "spin-sdk's #[http_component] expands to the unsafe canonical-ABI export"
)]

use spin_sdk::http_component;

/// The component's entry point: one request in, one response out.
#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> anyhow::Result<http::Response<Vec<u8>>> {
    Ok(crate::app::handle(req))
}
