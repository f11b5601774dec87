//! How many `wasi:sockets` sockets guests hold: at most [`GuestLimits::max_sockets`] per
//! instance and [`MAX_SOCKETS`] for all guests of the process together. Each socket is a
//! file descriptor of the host's; without a bound, a few guests could take every one the
//! process may open, and the server could then accept no connection.
//!
//! wasmtime-wasi creates and drops sockets itself and says nothing of either, so the
//! functions that create them (`create-tcp-socket`, `create-udp-socket` of WASI 0.2, the
//! `create` constructors of WASI 0.3) and the sockets' destructors are defined again here,
//! over wasmtime-wasi's own implementations, counting. A guest past a bound gets the
//! interface's `new-socket-limit` error (WASI 0.3: `other("new-socket-limit")`); the sockets
//! a store still holds when it is dropped go back to the process's count with it.
//!
//! What is counted is sockets, not descriptors. In WASI 0.2 a socket's streams are its
//! children, so it cannot be dropped while they are open. In WASI 0.3 the streams of
//! `receive` and `send` share the connection without being children: a guest that drops
//! the socket and keeps them keeps its descriptor outside this count, bounded then by the
//! instance's handle limit (`max_resources`) alone.
//!
//! A TCP connect is bounded in time as well ([`connect`]).
//!
//! [`GuestLimits::max_sockets`]: crate::GuestLimits::max_sockets

mod connect;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::sockets::WasiSocketsView;

use super::GuestState;

pub(crate) use self::connect::Connects;

/// Sockets all guests of this process may hold at once.
pub const MAX_SOCKETS: usize = 4096;

/// Sockets held by every guest of the process.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// The sockets one store holds: the table entries (reps) of those it created through the
/// constructors below. A socket that came another way (accepted, where a policy allows
/// listening) is not counted, and its drop frees nothing.
#[derive(Debug)]
pub(crate) struct SocketBudget {
    held: HashSet<u32>,
    max: usize,
}

impl SocketBudget {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            held: HashSet::new(),
            max,
        }
    }

    /// Takes a place in the instance's and the process's allowance, if both have one; it is
    /// the socket's once [`SocketBudget::record`]ed, or given back with
    /// [`SocketBudget::cancel`].
    fn reserve(&mut self) -> bool {
        if self.held.len() >= self.max {
            return false;
        }
        HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held < MAX_SOCKETS).then_some(held + 1)
        })
        .is_ok()
    }

    fn record(&mut self, rep: u32) {
        if !self.held.insert(rep) {
            // A rep is in the table once: never reached, but the count stays exact.
            HELD.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn cancel(&mut self) {
        HELD.fetch_sub(1, Ordering::AcqRel);
    }

    /// The socket at `rep` is gone.
    fn release(&mut self, rep: u32) {
        if self.held.remove(&rep) {
            HELD.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for SocketBudget {
    fn drop(&mut self) {
        HELD.fetch_sub(self.held.len(), Ordering::AcqRel);
    }
}

/// Sockets the process's guests hold now.
pub fn sockets_held() -> usize {
    HELD.load(Ordering::Acquire)
}

/// Defines the socket constructors and destructors of both WASI versions again, counting,
/// and the TCP connects, timed. The linker must already hold wasmtime-wasi's.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = p2(linker)
        .and_then(|()| p3(linker))
        .and_then(|()| connect::add_to_linker(linker));
    linker.allow_shadowing(false);
    added
}

fn limit_reached() {
    crate::throttle::warn_throttled!(
        "socket refused: the instance or the process holds as many sockets as it may"
    );
}

/// Counts what a constructor made of a reserved place: the socket's, or given back.
fn settle<R: 'static, E>(
    budget: &mut SocketBudget,
    created: wasmtime::Result<Result<Resource<R>, E>>,
) -> wasmtime::Result<(Result<Resource<R>, E>,)> {
    match created {
        Ok(Ok(socket)) => {
            budget.record(socket.rep());
            Ok((Ok(socket),))
        }
        Ok(Err(code)) => {
            budget.cancel();
            Ok((Err(code),))
        }
        Err(trap) => {
            budget.cancel();
            Err(trap)
        }
    }
}

/// A destructor that frees the socket's place, deleting it as wasmtime-wasi's does.
fn destructor<R: Send + 'static>(
    mut store: wasmtime::StoreContextMut<'_, GuestState>,
    rep: u32,
) -> wasmtime::Result<()> {
    let state = store.data_mut();
    state.table.delete(Resource::<R>::new_own(rep))?;
    state.socket_budget.release(rep);
    state.connects.finished(rep);
    Ok(())
}

fn p2(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddressFamily};
    use wasmtime_wasi::p2::bindings::sockets::{tcp_create_socket, udp_create_socket};
    use wasmtime_wasi::p2::{TcpSocket, UdpSocket};

    linker
        .instance("wasi:sockets/tcp-create-socket@0.2.12")?
        .func_wrap(
            "create-tcp-socket",
            |mut store, (family,): (IpAddressFamily,)| {
                let state: &mut GuestState = store.data_mut();
                if !state.socket_budget.reserve() {
                    limit_reached();
                    return Ok((Err(ErrorCode::NewSocketLimit),));
                }
                let created = {
                    let mut view = state.sockets();
                    match tcp_create_socket::Host::create_tcp_socket(&mut view, family) {
                        Ok(socket) => Ok(Ok(socket)),
                        Err(err) => network::Host::convert_error_code(&mut view, err).map(Err),
                    }
                };
                settle(&mut state.socket_budget, created)
            },
        )?;
    linker
        .instance("wasi:sockets/udp-create-socket@0.2.12")?
        .func_wrap_async(
            "create-udp-socket",
            |mut store, (family,): (IpAddressFamily,)| {
                Box::new(async move {
                    let state: &mut GuestState = store.data_mut();
                    if !state.socket_budget.reserve() {
                        limit_reached();
                        return Ok((Err(ErrorCode::NewSocketLimit),));
                    }
                    let created = {
                        let mut view = state.sockets();
                        match udp_create_socket::Host::create_udp_socket(&mut view, family).await {
                            Ok(socket) => Ok(Ok(socket)),
                            Err(err) => network::Host::convert_error_code(&mut view, err).map(Err),
                        }
                    };
                    settle(&mut state.socket_budget, created)
                })
            },
        )?;
    linker.instance("wasi:sockets/tcp@0.2.12")?.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        destructor::<TcpSocket>,
    )?;
    linker.instance("wasi:sockets/udp@0.2.12")?.resource(
        "udp-socket",
        ResourceType::host::<UdpSocket>(),
        destructor::<UdpSocket>,
    )?;
    Ok(())
}

fn p3(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p3::bindings::sockets::types::{
        self, ErrorCode, HostTcpSocket, HostUdpSocket, IpAddressFamily,
    };
    use wasmtime_wasi::sockets::{TcpSocket, UdpSocket};

    // WASI 0.3 has no `new-socket-limit`: its catch-all, named as 0.2 names the case.
    fn p3_limit() -> ErrorCode {
        ErrorCode::Other(Some("new-socket-limit".to_owned()))
    }

    let mut instance = linker.instance("wasi:sockets/types@0.3.0")?;
    instance.func_wrap(
        "[static]tcp-socket.create",
        |mut store, (family,): (IpAddressFamily,)| {
            let state: &mut GuestState = store.data_mut();
            if !state.socket_budget.reserve() {
                limit_reached();
                return Ok((Err(p3_limit()),));
            }
            let created = {
                let mut view = state.sockets();
                match HostTcpSocket::create(&mut view, family) {
                    Ok(socket) => Ok(Ok(socket)),
                    Err(err) => types::Host::convert_error_code(&mut view, err).map(Err),
                }
            };
            settle(&mut state.socket_budget, created)
        },
    )?;
    instance.func_wrap_async(
        "[static]udp-socket.create",
        |mut store, (family,): (IpAddressFamily,)| {
            Box::new(async move {
                let state: &mut GuestState = store.data_mut();
                if !state.socket_budget.reserve() {
                    limit_reached();
                    return Ok((Err(p3_limit()),));
                }
                let created = {
                    let mut view = state.sockets();
                    match HostUdpSocket::create(&mut view, family).await {
                        Ok(socket) => Ok(Ok(socket)),
                        Err(err) => types::Host::convert_error_code(&mut view, err).map(Err),
                    }
                };
                settle(&mut state.socket_budget, created)
            })
        },
    )?;
    instance.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        destructor::<TcpSocket>,
    )?;
    instance.resource(
        "udp-socket",
        ResourceType::host::<UdpSocket>(),
        destructor::<UdpSocket>,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_holds_at_most_its_share_and_gives_it_back() {
        let before = sockets_held();
        let mut budget = SocketBudget::new(2);
        assert!(budget.reserve());
        budget.record(7);
        assert!(budget.reserve());
        budget.record(8);
        assert!(!budget.reserve(), "past the instance's bound");
        // A socket the budget did not count frees nothing.
        budget.release(99);
        assert!(!budget.reserve());
        budget.release(7);
        assert!(budget.reserve(), "a closed socket's place is free again");
        budget.cancel();
        assert_eq!(sockets_held(), before + 1, "8 is still held");
        drop(budget);
        assert_eq!(sockets_held(), before, "a dropped store's sockets are back");
    }
}
