//! A time limit on `wasi:sockets` TCP connects: [`SocketPolicy::connect_timeout`].
//!
//! wasmtime-wasi connects with no limit of its own. A peer that never answers the SYN (a
//! firewall that drops, a listener whose queue is full) leaves the guest waiting for the
//! kernel to give up, about two minutes on Linux, and holding its socket all along. Here a
//! connect that has not completed within the policy's timeout fails with the interface's
//! `timeout` error, so the guest can answer for itself well within its request's deadline.
//!
//! - WASI 0.3's `connect` is one async call: it is defined again, wrapped in the timeout.
//! - WASI 0.2 splits a connect into `start-connect`, a pollable and `finish-connect`.
//!   `start-connect` notes the connect's deadline, `subscribe` the pollables that wait for
//!   it. `wasi:io/poll` (`poll`, `pollable.block`, `pollable.ready`) reports such a pollable
//!   ready once the deadline has passed, and `finish-connect` then answers `timeout` for as
//!   long as the connect is still pending.
//!
//! Either way the socket keeps the attempt the kernel is still making until the guest drops
//! it, which closes its descriptor. All of this is bookkeeping of the store, outside the
//! guest's memory, bounded by its socket and handle limits.
//!
//! [`SocketPolicy::connect_timeout`]: crate::SocketPolicy::connect_timeout

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use wasmtime::component::{Accessor, Linker, Resource, ResourceType};
use wasmtime_wasi::sockets::WasiSocketsView;

use crate::runtime::GuestState;

/// The connects a store is waiting for, and the pollables that wait for them.
#[derive(Debug)]
pub(crate) struct Connects {
    timeout: Duration,
    /// Connecting WASI 0.2 sockets (their table reps): when the connect times out, and where to.
    pending: HashMap<u32, (Instant, SocketAddr)>,
    /// Pollables subscribed to a connecting socket: pollable rep → socket rep.
    pollables: HashMap<u32, u32>,
}

impl Connects {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            pending: HashMap::new(),
            pollables: HashMap::new(),
        }
    }

    fn started(&mut self, socket: u32, to: SocketAddr) {
        // A timeout too far off to be represented is no timeout.
        if let Some(deadline) = Instant::now().checked_add(self.timeout) {
            self.pending.insert(socket, (deadline, to));
        }
    }

    fn subscribed(&mut self, socket: u32, pollable: u32) {
        if self.pending.contains_key(&socket) {
            self.pollables.insert(pollable, socket);
        }
    }

    /// The socket's connect completed, failed, or the socket is gone.
    pub(super) fn finished(&mut self, socket: u32) {
        if self.pending.remove(&socket).is_some() {
            self.pollables.retain(|_, waits_for| *waits_for != socket);
        }
    }

    fn pollable_dropped(&mut self, pollable: u32) {
        if !self.pollables.is_empty() {
            self.pollables.remove(&pollable);
        }
    }

    /// Where the socket was connecting to, if its connect is pending past its deadline.
    fn expired(&self, socket: u32, now: Instant) -> Option<SocketAddr> {
        self.pending
            .get(&socket)
            .and_then(|&(deadline, to)| (deadline <= now).then_some(to))
    }

    /// When the pollable at `rep` is to be reported ready, if it waits for a connect.
    fn deadline_of(&self, pollable: u32) -> Option<Instant> {
        let socket = self.pollables.get(&pollable)?;
        self.pending.get(socket).map(|&(deadline, _)| deadline)
    }

    /// The earliest deadline among the pollables at `reps`, if any waits for a connect.
    fn earliest(&self, reps: &[u32]) -> Option<Instant> {
        if self.pollables.is_empty() {
            return None;
        }
        reps.iter().filter_map(|&rep| self.deadline_of(rep)).min()
    }

    /// The indices in `reps` whose connect deadline has passed by `now`.
    fn expired_indices(&self, reps: &[u32], now: Instant) -> Vec<u32> {
        (0u32..)
            .zip(reps)
            .filter(|&(_, &rep)| {
                self.deadline_of(rep)
                    .is_some_and(|deadline| deadline <= now)
            })
            .map(|(index, _)| index)
            .collect()
    }
}

/// What `wait` comes to, or `None` if `deadline` (when there is one) passes first.
async fn until<F: std::future::Future>(deadline: Option<Instant>, wait: F) -> Option<F::Output> {
    match deadline {
        None => Some(wait.await),
        Some(deadline) => tokio::time::timeout_at(deadline.into(), wait).await.ok(),
    }
}

fn timed_out(to: SocketAddr, after: Duration) {
    crate::throttle::warn_throttled!(%to, ?after, "socket connect timed out");
}

/// Defines the WASI 0.2 connect functions, `subscribe`, `wasi:io/poll` and the pollable's
/// destructor again, and WASI 0.3's `connect`, over wasmtime-wasi's own. Shadowing must be
/// allowed.
pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    p2_tcp(linker)?;
    p2_poll(linker)?;
    p3(linker)
}

fn p2_tcp(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpSocketAddress};
    use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket;
    use wasmtime_wasi::p2::{Network, SocketError, TcpSocket};

    fn code(state: &mut GuestState, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut state.sockets(), error)
    }

    let mut tcp = linker.instance("wasi:sockets/tcp@0.2.12")?;
    tcp.func_wrap(
        "[method]tcp-socket.start-connect",
        |mut store,
         (socket, network, remote): (Resource<TcpSocket>, Resource<Network>, IpSocketAddress)| {
            let state = store.data_mut();
            let rep = socket.rep();
            let to = SocketAddr::from(remote);
            match HostTcpSocket::start_connect(&mut state.sockets(), socket, network, remote) {
                Ok(()) => {
                    state.connects.started(rep, to);
                    Ok((Ok(()),))
                }
                Err(error) => Ok((Err(code(state, error)?),)),
            }
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.finish-connect",
        |mut store, (socket,): (Resource<TcpSocket>,)| {
            let state = store.data_mut();
            let rep = socket.rep();
            match HostTcpSocket::finish_connect(&mut state.sockets(), socket) {
                Ok(streams) => {
                    state.connects.finished(rep);
                    Ok((Ok(streams),))
                }
                Err(error) => {
                    let error = code(state, error)?;
                    if error != ErrorCode::WouldBlock {
                        state.connects.finished(rep);
                    } else if let Some(to) = state.connects.expired(rep, Instant::now()) {
                        timed_out(to, state.connects.timeout);
                        return Ok((Err(ErrorCode::Timeout),));
                    }
                    Ok((Err(error),))
                }
            }
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.subscribe",
        |mut store, (socket,): (Resource<TcpSocket>,)| {
            let state = store.data_mut();
            let rep = socket.rep();
            let pollable = HostTcpSocket::subscribe(&mut state.sockets(), socket)?;
            state.connects.subscribed(rep, pollable.rep());
            Ok((pollable,))
        },
    )?;
    Ok(())
}

fn p2_poll(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::DynPollable;
    use wasmtime_wasi::p2::bindings::io::poll::{Host, HostPollable};

    let mut poll = linker.instance("wasi:io/poll@0.2.12")?;
    poll.func_wrap_async(
        "poll",
        |mut store, (pollables,): (Vec<Resource<DynPollable>>,)| {
            Box::new(async move {
                let state = store.data_mut();
                let reps: Vec<u32> = if state.connects.pollables.is_empty() {
                    Vec::new()
                } else {
                    pollables.iter().map(Resource::rep).collect()
                };
                let deadline = state.connects.earliest(&reps);
                match until(deadline, Host::poll(&mut state.table, pollables)).await {
                    Some(ready) => Ok((ready?,)),
                    // The connects past their deadline are ready: `finish-connect` says `timeout`.
                    None => Ok((state.connects.expired_indices(&reps, Instant::now()),)),
                }
            })
        },
    )?;
    poll.func_wrap_async(
        "[method]pollable.block",
        |mut store, (pollable,): (Resource<DynPollable>,)| {
            Box::new(async move {
                let state = store.data_mut();
                let deadline = state.connects.earliest(&[pollable.rep()]);
                until(deadline, HostPollable::block(&mut state.table, pollable))
                    .await
                    .unwrap_or(Ok(()))
            })
        },
    )?;
    poll.func_wrap_async(
        "[method]pollable.ready",
        |mut store, (pollable,): (Resource<DynPollable>,)| {
            Box::new(async move {
                let state = store.data_mut();
                let expired = state
                    .connects
                    .earliest(&[pollable.rep()])
                    .is_some_and(|deadline| deadline <= Instant::now());
                if expired {
                    return Ok((true,));
                }
                Ok((HostPollable::ready(&mut state.table, pollable).await?,))
            })
        },
    )?;
    poll.resource(
        "pollable",
        ResourceType::host::<DynPollable>(),
        |mut store, rep| {
            let state = store.data_mut();
            HostPollable::drop(&mut state.table, Resource::new_own(rep))?;
            state.connects.pollable_dropped(rep);
            Ok(())
        },
    )?;
    Ok(())
}

fn p3(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p3::bindings::sockets::types::{
        ErrorCode, HostTcpSocketWithStore, IpSocketAddress,
    };
    use wasmtime_wasi::sockets::{TcpSocket, WasiSockets, WasiSocketsCtxView};

    fn sockets(state: &mut GuestState) -> WasiSocketsCtxView<'_> {
        state.sockets()
    }

    linker
        .instance("wasi:sockets/types@0.3.0")?
        .func_wrap_concurrent(
            "[method]tcp-socket.connect",
            |accessor: &Accessor<GuestState>,
             (socket, remote): (Resource<TcpSocket>, IpSocketAddress)| {
                Box::pin(async move {
                    let timeout = accessor.with(|mut access| access.get().connects.timeout);
                    let to = SocketAddr::from(remote);
                    let view = accessor.with_getter::<WasiSockets>(sockets);
                    let connect = <WasiSockets as HostTcpSocketWithStore<GuestState>>::connect(
                        &view, socket, remote,
                    );
                    match tokio::time::timeout(timeout, connect).await {
                        Ok(Ok(())) => Ok((Ok(()),)),
                        Ok(Err(error)) => Ok((Err(error.downcast()?),)),
                        Err(_) => {
                            timed_out(to, timeout);
                            Ok((Err(ErrorCode::Timeout),))
                        }
                    }
                })
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], 9))
    }

    #[test]
    fn a_pollable_waits_for_its_connect_until_the_deadline() {
        let mut connects = Connects::new(Duration::from_secs(5));
        connects.subscribed(1, 10);
        assert_eq!(connects.earliest(&[10]), None, "socket 1 is not connecting");
        connects.started(1, addr());
        connects.subscribed(1, 11);
        let deadline = connects.earliest(&[10, 11]).expect("a deadline");
        assert!(deadline > Instant::now());
        assert_eq!(connects.expired(1, Instant::now()), None);
        assert_eq!(connects.expired(1, deadline), Some(addr()));
        assert_eq!(connects.expired_indices(&[3, 11, 11], deadline), vec![1, 2]);
        assert!(connects.expired_indices(&[11], Instant::now()).is_empty());
    }

    #[test]
    fn a_finished_connect_or_a_dropped_pollable_is_forgotten() {
        let mut connects = Connects::new(Duration::from_secs(5));
        connects.started(1, addr());
        connects.started(2, addr());
        connects.subscribed(1, 10);
        connects.subscribed(2, 20);
        connects.pollable_dropped(10);
        assert_eq!(connects.earliest(&[10]), None);
        connects.finished(2);
        assert_eq!(connects.earliest(&[20]), None);
        assert_eq!(
            connects.expired(2, Instant::now() + Duration::from_secs(9)),
            None
        );
        assert!(connects.pending.contains_key(&1));
        assert!(connects.pollables.is_empty());
    }

    #[test]
    fn a_timeout_too_far_off_is_none() {
        let mut connects = Connects::new(Duration::MAX);
        connects.started(1, addr());
        connects.subscribed(1, 10);
        assert_eq!(connects.earliest(&[10]), None);
    }
}
