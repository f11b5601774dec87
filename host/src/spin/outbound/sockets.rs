//! `wasi:sockets` of Spin components, granted by the same `allowed_outbound_hosts` as
//! outbound HTTP, with Spin's semantics: a rule whose scheme is `*`, `tcp` or `udp` lets the
//! component connect (TCP) or send datagrams (UDP) to the addresses and ports it names (an
//! IP, an IP range in CIDR form, `*`, or a host name, which is looked up when the
//! connection is made and allows the addresses it resolves to). Binding a local address is
//! allowed where the protocol is; listening for and accepting connections is not (a
//! component serves through `wasi:http`). Everything else is `access-denied`.
//!
//! As for outbound HTTP, an internal address (loopback, link-local and cloud metadata,
//! private...: [`is_internal`]) is reached only when a rule names it: as an IP, as a CIDR
//! range holding it, or as the host `localhost` for a loopback address. A wildcard host
//! (`tcp://*:*`) or another name that resolves there does not reach it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::OutboundRule;
use super::connect::is_internal;
use super::rules::canonical;
use crate::{SocketAddrUse, SocketCheck, SocketPolicy, SocketUses};

/// The socket rules of one component.
#[derive(Debug, Clone)]
pub(crate) struct SocketRules {
    rules: Arc<[OutboundRule]>,
    connect_timeout: Duration,
}

impl SocketRules {
    /// The rules' sockets, whose TCP connects take at most `connect_timeout` (outbound HTTP's).
    pub(crate) fn new(rules: &[OutboundRule], connect_timeout: Duration) -> Self {
        Self {
            rules: rules
                .iter()
                .filter(|rule| rule.covers_protocol("tcp") || rule.covers_protocol("udp"))
                .cloned()
                .collect(),
            connect_timeout,
        }
    }

    fn covers(&self, protocol: &str) -> bool {
        self.rules.iter().any(|rule| rule.covers_protocol(protocol))
    }
}

/// Whether `rules` allow `addr` over `protocol`, looking host names up as needed.
async fn allowed(rules: Arc<[OutboundRule]>, protocol: &'static str, addr: SocketAddr) -> bool {
    let internal = is_internal(addr.ip());
    let mut names = Vec::new();
    for rule in rules.iter() {
        match rule.allows_socket_addr(protocol, addr) {
            Some(true) if !internal || rule.names_address(protocol, addr.ip(), addr.port()) => {
                return true;
            }
            Some(_) => {}
            None => names.extend(rule.host_name().map(str::to_owned)),
        }
    }
    if internal {
        // Of the names, only `localhost` may lead to an internal address, and only to its own.
        names.retain(|name| {
            name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
                && canonical(addr.ip()).is_loopback()
        });
    }
    for name in names {
        match tokio::net::lookup_host((name.as_str(), addr.port())).await {
            Ok(mut resolved) => {
                if resolved.any(|candidate| candidate.ip() == addr.ip()) {
                    return true;
                }
            }
            Err(err) => tracing::debug!(host = %name, "cannot look up an allowed host: {err}"),
        }
    }
    false
}

impl SocketPolicy for SocketRules {
    fn uses(&self) -> SocketUses {
        let (tcp, udp) = (self.covers("tcp"), self.covers("udp"));
        SocketUses {
            tcp,
            udp,
            name_lookup: self.rules.iter().any(|rule| rule.host_name().is_some()),
        }
    }

    fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    fn check(&self, addr: SocketAddr, usage: SocketAddrUse) -> SocketCheck {
        let protocol = match usage {
            SocketAddrUse::TcpBind => return ready(self.covers("tcp")),
            SocketAddrUse::UdpBind => return ready(self.covers("udp")),
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => {
                crate::throttle::warn_throttled!(%addr, "socket denied: components may not listen for connections");
                return ready(false);
            }
            SocketAddrUse::TcpConnect => "tcp",
            // A datagram received from a peer no rule names is dropped before the guest sees it.
            SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => "udp",
        };
        let rules = Arc::clone(&self.rules);
        Box::pin(async move {
            let ok = allowed(rules, protocol, addr).await;
            if !ok {
                crate::throttle::warn_throttled!(%addr, protocol, "socket denied: not in allowed_outbound_hosts");
            }
            ok
        })
    }
}

fn ready(answer: bool) -> SocketCheck {
    Box::pin(std::future::ready(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> SocketRules {
        let parsed: Vec<OutboundRule> = list
            .iter()
            .map(|r| r.parse().expect("a valid rule"))
            .collect();
        SocketRules::new(&parsed, Duration::from_secs(5))
    }

    async fn check(policy: &SocketRules, addr: &str, usage: SocketAddrUse) -> bool {
        policy.check(addr.parse().expect("addr"), usage).await
    }

    #[tokio::test]
    async fn connections_need_a_rule_for_their_protocol_and_address() {
        let policy = rules(&[
            "tcp://127.0.0.1:7000",
            "*://10.0.0.0/8:*",
            "udp://127.0.0.1:53",
            "https://example.com",
        ]);
        assert_eq!(
            policy.uses(),
            SocketUses {
                tcp: true,
                udp: true,
                name_lookup: false
            }
        );
        assert!(check(&policy, "127.0.0.1:7000", SocketAddrUse::TcpConnect).await);
        assert!(!check(&policy, "127.0.0.1:7001", SocketAddrUse::TcpConnect).await);
        assert!(!check(&policy, "127.0.0.2:7000", SocketAddrUse::TcpConnect).await);
        assert!(check(&policy, "10.20.30.40:9", SocketAddrUse::TcpConnect).await);
        assert!(check(&policy, "10.20.30.40:9", SocketAddrUse::UdpSend).await);
        assert!(check(&policy, "127.0.0.1:53", SocketAddrUse::UdpReceive).await);
        assert!(!check(&policy, "127.0.0.1:53", SocketAddrUse::TcpConnect).await);
        assert!(check(&policy, "0.0.0.0:0", SocketAddrUse::TcpBind).await);
        assert!(!check(&policy, "0.0.0.0:8080", SocketAddrUse::TcpListen).await);
        assert!(!check(&policy, "1.2.3.4:5", SocketAddrUse::TcpAccept).await);
    }

    #[tokio::test]
    async fn http_rules_grant_no_sockets_and_names_are_looked_up() {
        let policy = rules(&["http://127.0.0.1:8080", "https://*.example.com"]);
        assert_eq!(policy.uses(), SocketUses::default());
        assert!(!check(&policy, "127.0.0.1:8080", SocketAddrUse::TcpConnect).await);
        assert!(!check(&policy, "0.0.0.0:0", SocketAddrUse::TcpBind).await);
        let named = rules(&["tcp://localhost:7000"]);
        assert!(named.uses().name_lookup);
        assert!(check(&named, "127.0.0.1:7000", SocketAddrUse::TcpConnect).await);
        assert!(!check(&named, "127.0.0.1:7001", SocketAddrUse::TcpConnect).await);
        assert!(!check(&named, "192.0.2.1:7000", SocketAddrUse::TcpConnect).await);
    }

    #[tokio::test]
    async fn internal_addresses_need_a_rule_that_names_them() {
        let wildcard = rules(&["*://*:*"]);
        for internal in [
            "127.0.0.1:6379",
            "[::1]:6379",
            "[::ffff:127.0.0.1]:6379",
            "169.254.169.254:80",
            "10.1.2.3:5432",
            "192.168.1.1:53",
            "0.0.0.0:80",
        ] {
            assert!(
                !check(&wildcard, internal, SocketAddrUse::TcpConnect).await,
                "{internal} over tcp behind a wildcard"
            );
            assert!(
                !check(&wildcard, internal, SocketAddrUse::UdpSend).await,
                "{internal} over udp behind a wildcard"
            );
        }
        assert!(check(&wildcard, "93.184.215.14:443", SocketAddrUse::TcpConnect).await);
        assert!(check(&wildcard, "0.0.0.0:0", SocketAddrUse::TcpBind).await);

        // Named by address, by range or as localhost: reached.
        let named = rules(&[
            "tcp://127.0.0.1:6379",
            "tcp://10.0.0.0/8:5432",
            "udp://localhost:53",
        ]);
        assert!(check(&named, "127.0.0.1:6379", SocketAddrUse::TcpConnect).await);
        assert!(check(&named, "10.9.8.7:5432", SocketAddrUse::TcpConnect).await);
        assert!(check(&named, "127.0.0.1:53", SocketAddrUse::UdpSend).await);
        assert!(!check(&named, "10.9.8.7:5433", SocketAddrUse::TcpConnect).await);
        assert!(!check(&named, "169.254.169.254:53", SocketAddrUse::UdpSend).await);
    }
}
