//! How many `wasi:sockets` sockets guests hold: at most [`GuestLimits::max_sockets`] per
//! instance and [`MAX_SOCKETS`] for all guests of the process together. Each socket is a
//! file descriptor of the host's; without a bound, a few guests could take every one the
//! process may open, and the server could then accept no connection.
//!
//! wasmtime-wasi creates and drops sockets itself and says nothing of either, so the
//! functions that create them (`create-tcp-socket`, `create-udp-socket` of WASI 0.2, the
//! `create` constructors of WASI 0.3) and the sockets' destructors are defined again here,
//! over wasmtime-wasi's own implementations, counting. A guest past a bound gets the
//! interface's `new-socket-limit` error (WASI 0.3: `other("new-socket-limit")`); the sockets a store still holds when it is dropped
//! go back to the process's count with it.
//!
//! [`GuestLimits::max_sockets`]: crate::GuestLimits::max_sockets

use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::sockets::WasiSocketsView;

use super::GuestState;

/// Sockets all guests of this process may hold at once.
pub const MAX_SOCKETS: usize = 4096;

/// Sockets held by every guest of the process.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// The sockets one store holds.
#[derive(Debug)]
pub(crate) struct SocketBudget {
    held: usize,
    max: usize,
}

impl SocketBudget {
    pub(crate) fn new(max: usize) -> Self {
        Self { held: 0, max }
    }

    /// Takes a socket from the instance's and the process's allowance, if both have one.
    fn acquire(&mut self) -> bool {
        if self.held >= self.max {
            return false;
        }
        let taken = HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held < MAX_SOCKETS).then_some(held + 1)
        });
        if taken.is_err() {
            return false;
        }
        self.held += 1;
        true
    }

    fn release(&mut self) {
        if self.held > 0 {
            self.held -= 1;
            HELD.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for SocketBudget {
    fn drop(&mut self) {
        HELD.fetch_sub(self.held, Ordering::AcqRel);
    }
}

/// Sockets the process's guests hold now.
pub fn sockets_held() -> usize {
    HELD.load(Ordering::Acquire)
}

/// Defines the socket constructors and destructors of both WASI versions again, counting.
/// The linker must already hold wasmtime-wasi's.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = p2(linker).and_then(|()| p3(linker));
    linker.allow_shadowing(false);
    added
}

fn limit_reached() {
    crate::throttle::warn_throttled!(
        "socket refused: the instance or the process holds as many sockets as it may"
    );
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
                if !state.socket_budget.acquire() {
                    limit_reached();
                    return Ok((Err(ErrorCode::NewSocketLimit),));
                }
                let mut view = state.sockets();
                let created = tcp_create_socket::Host::create_tcp_socket(&mut view, family);
                let answer = match created {
                    Ok(socket) => return Ok((Ok(socket),)),
                    Err(err) => network::Host::convert_error_code(&mut view, err)?,
                };
                state.socket_budget.release();
                Ok((Err(answer),))
            },
        )?;
    linker
        .instance("wasi:sockets/udp-create-socket@0.2.12")?
        .func_wrap_async(
            "create-udp-socket",
            |mut store, (family,): (IpAddressFamily,)| {
                Box::new(async move {
                    let state: &mut GuestState = store.data_mut();
                    if !state.socket_budget.acquire() {
                        limit_reached();
                        return Ok((Err(ErrorCode::NewSocketLimit),));
                    }
                    let mut view = state.sockets();
                    let created =
                        udp_create_socket::Host::create_udp_socket(&mut view, family).await;
                    let answer = match created {
                        Ok(socket) => return Ok((Ok(socket),)),
                        Err(err) => network::Host::convert_error_code(&mut view, err)?,
                    };
                    state.socket_budget.release();
                    Ok((Err(answer),))
                })
            },
        )?;
    linker.instance("wasi:sockets/tcp@0.2.12")?.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        |mut store, rep| {
            let state: &mut GuestState = store.data_mut();
            state.table.delete(Resource::<TcpSocket>::new_own(rep))?;
            state.socket_budget.release();
            Ok(())
        },
    )?;
    linker.instance("wasi:sockets/udp@0.2.12")?.resource(
        "udp-socket",
        ResourceType::host::<UdpSocket>(),
        |mut store, rep| {
            let state: &mut GuestState = store.data_mut();
            state.table.delete(Resource::<UdpSocket>::new_own(rep))?;
            state.socket_budget.release();
            Ok(())
        },
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
            if !state.socket_budget.acquire() {
                limit_reached();
                return Ok((Err(p3_limit()),));
            }
            let mut view = state.sockets();
            let answer = match HostTcpSocket::create(&mut view, family) {
                Ok(socket) => return Ok((Ok(socket),)),
                Err(err) => types::Host::convert_error_code(&mut view, err)?,
            };
            state.socket_budget.release();
            Ok((Err(answer),))
        },
    )?;
    instance.func_wrap_async(
        "[static]udp-socket.create",
        |mut store, (family,): (IpAddressFamily,)| {
            Box::new(async move {
                let state: &mut GuestState = store.data_mut();
                if !state.socket_budget.acquire() {
                    limit_reached();
                    return Ok((Err(p3_limit()),));
                }
                let mut view = state.sockets();
                let answer = match HostUdpSocket::create(&mut view, family).await {
                    Ok(socket) => return Ok((Ok(socket),)),
                    Err(err) => types::Host::convert_error_code(&mut view, err)?,
                };
                state.socket_budget.release();
                Ok((Err(answer),))
            })
        },
    )?;
    instance.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        |mut store, rep| {
            let state: &mut GuestState = store.data_mut();
            state.table.delete(Resource::<TcpSocket>::new_own(rep))?;
            state.socket_budget.release();
            Ok(())
        },
    )?;
    instance.resource(
        "udp-socket",
        ResourceType::host::<UdpSocket>(),
        |mut store, rep| {
            let state: &mut GuestState = store.data_mut();
            state.table.delete(Resource::<UdpSocket>::new_own(rep))?;
            state.socket_budget.release();
            Ok(())
        },
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
        assert!(budget.acquire());
        assert!(budget.acquire());
        assert!(!budget.acquire(), "past the instance's bound");
        budget.release();
        assert!(budget.acquire(), "a closed socket's place is free again");
        assert!(sockets_held() >= before + 2);
        drop(budget);
        assert_eq!(sockets_held(), before, "a dropped store's sockets are back");
    }
}
