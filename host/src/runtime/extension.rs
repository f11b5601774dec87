//! How platform interfaces plug into a runtime: a [`LinkerExtension`] adds host functions
//! beside WASI and `wasi:http` and gives every new store its state; an [`OutgoingHttp`]
//! decides what a guest's outgoing `wasi:http` requests do. The runtime itself knows no
//! platform: Spin's key-value store, variables and outbound rules are extensions of
//! [`crate::spin`].

use std::future::Future;

use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpHooks;

use super::GuestState;

/// Host interfaces a component may import beyond WASI and `wasi:http`.
///
/// The runtime calls [`add_to_linker`](Self::add_to_linker) once when it loads a component
/// and [`init_store`](Self::init_store) for every new instance; the host functions reach
/// that state through [`GuestState::extension_mut`] or
/// [`GuestState::table_and_extension`].
pub trait LinkerExtension: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> &'static str;

    /// Adds the extension's host functions to `linker`.
    fn add_to_linker(&self, linker: &mut Linker<GuestState>) -> wasmtime::Result<()>;

    /// Puts the extension's state for one new instance into its store's data.
    fn init_store(&self, state: &mut GuestState);
}

/// The wasmtime-wasi-http hooks of one store: what an outgoing request does.
pub type OutgoingHooks = Box<dyn WasiHttpHooks + Send>;

/// Decides what guests' outgoing `wasi:http` requests do: the allow-list, timeouts and
/// circuit breaking of the platform. Without one, every outgoing request is refused with
/// `HTTP-request-denied`.
pub trait OutgoingHttp: Send + Sync + 'static {
    /// The hooks for a new store.
    fn hooks(&self) -> OutgoingHooks;
}

/// Refuses every outgoing request: the default of a runtime without [`OutgoingHttp`].
pub(super) struct DenyOutgoing;

/// What [`WasiHttpHooks::send_request`] resolves to.
pub type OutgoingResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        tracing::warn!(
            host = request.uri().host().unwrap_or_default(),
            "outbound request denied: no outbound HTTP is allowed"
        );
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
