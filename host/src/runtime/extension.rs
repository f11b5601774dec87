//! How platform interfaces plug into a runtime: a [`LinkerExtension`] adds host functions
//! beside WASI and `wasi:http` and gives every new store its state; an [`OutgoingHttp`]
//! decides what a guest's outgoing `wasi:http` requests do, a [`SocketPolicy`] which
//! addresses its `wasi:sockets` may reach. The runtime itself knows no platform: Spin's
//! key-value store, variables and outbound rules are extensions of [`crate::spin`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

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

    /// The upstreams whose circuit breaker has tripped, each with whether its circuit is
    /// open (or half open: a probe is out) now, for the admin listener's metrics. None by
    /// default.
    fn circuits(&self) -> Vec<(String, bool)> {
        Vec::new()
    }
}

/// What a [`SocketPolicy`] lets a guest use of `wasi:sockets` at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketUses {
    /// TCP sockets.
    pub tcp: bool,
    /// UDP sockets.
    pub udp: bool,
    /// `wasi:sockets/ip-name-lookup`.
    pub name_lookup: bool,
}

/// Whether a guest may use a socket address: a connection, a bind, a datagram.
pub use wasmtime_wasi::sockets::SocketAddrUse;

/// What [`SocketPolicy::check`] resolves to: whether the use is allowed.
pub type SocketCheck = Pin<Box<dyn Future<Output = bool> + Send + Sync>>;

/// Decides what guests' `wasi:sockets` may reach. Without one, every socket is refused
/// (`access-denied`) and names are not looked up.
pub trait SocketPolicy: Send + Sync + 'static {
    /// Which kinds of socket the guest may create at all.
    fn uses(&self) -> SocketUses;

    /// Whether the guest may use `addr` for `usage` (checked on every connect, bind and
    /// datagram, with the address the host is about to use).
    fn check(&self, addr: SocketAddr, usage: SocketAddrUse) -> SocketCheck;

    /// Longest a TCP connect may take, [`check`](Self::check) included; past it the guest
    /// gets the interface's `timeout` error. [`DEFAULT_CONNECT_TIMEOUT`] unless the policy
    /// says otherwise.
    fn connect_timeout(&self) -> Duration {
        DEFAULT_CONNECT_TIMEOUT
    }
}

/// How long a guest's TCP connect may take unless its [`SocketPolicy`] says otherwise: as
/// long as an outbound HTTP request's connect by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
        crate::throttle::warn_throttled!(
            host = request.uri().host().unwrap_or_default(),
            "outbound request denied: no outbound HTTP is allowed"
        );
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
