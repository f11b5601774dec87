//! Requests in flight per client address: one client (one IP) may hold only so many of the
//! server's in-flight slots, so it cannot take them all from everyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Requests in flight by client address, at most `limit` each.
#[derive(Debug)]
pub(super) struct InFlight {
    limit: usize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in its client's count, given back when dropped.
#[derive(Debug)]
pub(super) struct ClientSlot {
    owner: Arc<InFlight>,
    client: IpAddr,
}

impl InFlight {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            by_client: Mutex::new(HashMap::new()),
        }
    }

    /// The most requests one client may have in flight.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// A slot for one more request of `client`, or `None` when it has `limit` already.
    /// IPv4-mapped IPv6 addresses count as the IPv4 address they are.
    pub(super) fn try_acquire(self: &Arc<Self>, client: IpAddr) -> Option<ClientSlot> {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        let mut by_client = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        let count = by_client.entry(client).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            owner: Arc::clone(self),
            client,
        })
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.by_client.lock().map_or(0, |m| m.len())
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut by_client = self
            .owner
            .by_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                // No entry is kept for a client with nothing in flight: the map holds at
                // most as many addresses as there are requests.
                by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_limit_and_slots_come_back() {
        let in_flight = Arc::new(InFlight::new(2));
        let a: IpAddr = "192.0.2.1".parse().expect("an address");
        let a_mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("an address");
        let b: IpAddr = "2001:db8::2".parse().expect("an address");
        let first = in_flight.try_acquire(a).expect("a's first");
        let second = in_flight.try_acquire(a_mapped).expect("a's second, mapped");
        assert!(in_flight.try_acquire(a).is_none(), "a is at its limit");
        // Another client is not held up by a.
        let other = in_flight.try_acquire(b).expect("b's first");
        drop(first);
        let third = in_flight.try_acquire(a).expect("a's slot came back");
        drop((second, third, other));
        assert_eq!(in_flight.clients(), 0, "no entry outlives its requests");
    }
}
