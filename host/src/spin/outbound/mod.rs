//! Outbound HTTP of Spin components: requests to a destination on the component's
//! `allowed_outbound_hosts` ([`OutboundRule`]) are sent within the host's timeouts
//! ([`OutboundConfig`]) and through the upstream's circuit breaker
//! ([`CircuitBreakers`]); others get `HTTP-request-denied` at once. Plugged into the
//! runtime as its [`OutgoingHttp`]. The same rules grant `wasi:sockets` (`sockets.rs`),
//! plugged in as its [`SocketPolicy`](crate::SocketPolicy).

mod breaker;
mod connect;
mod rules;
mod sockets;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::WasiHttpHooks;

pub use self::breaker::{BreakerConfig, CircuitBreakers, CircuitOpen, Permit};
pub use self::rules::{InvalidOutboundRule, OutboundRule};
pub(crate) use self::sockets::SocketRules;

use crate::runtime::OutgoingResult;
use crate::{OutgoingHooks, OutgoingHttp};

/// Outbound HTTP: timeouts the host enforces whatever the guest asks, and circuit breaking.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Longest wait for a connection (a guest may ask for less), for HTTP requests and for
    /// `wasi:sockets` TCP connects.
    pub connect_timeout: Duration,
    /// Longest wait for the response head once connected (a guest may ask for less).
    pub first_byte_timeout: Duration,
    /// When an upstream's circuit opens, and for how long.
    pub breaker: BreakerConfig,
    /// Outbound requests one instance may have in flight at once (response body included);
    /// more fail at once with `internal-error`.
    pub max_per_instance: usize,
    /// Outbound requests all instances of a component may have in flight at once.
    pub max_total: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            breaker: BreakerConfig::default(),
            max_per_instance: 32,
            max_total: 512,
        }
    }
}

/// Outbound HTTP from guests: requests to a destination on the allow-list are sent, within
/// the host's timeouts and through the upstream's circuit breaker; others get
/// `HTTP-request-denied` at once, never a hang.
#[derive(Clone)]
pub(crate) struct OutboundPolicy {
    allowed: Arc<[OutboundRule]>,
    breakers: CircuitBreakers,
    limits: OutboundConfig,
    /// In-flight slots of the whole component.
    total: Arc<Semaphore>,
}

impl OutboundPolicy {
    /// The policy of one component: its rules, its circuits and the host's timeouts.
    pub(crate) fn new(allowed: Vec<OutboundRule>, limits: OutboundConfig) -> Self {
        Self {
            allowed: allowed.into(),
            breakers: CircuitBreakers::new(limits.breaker.clone()),
            total: Arc::new(Semaphore::new(limits.max_total)),
            limits,
        }
    }
}

impl OutgoingHttp for OutboundPolicy {
    fn hooks(&self) -> OutgoingHooks {
        Box::new(InstanceOutbound {
            policy: self.clone(),
            slots: Arc::new(Semaphore::new(self.limits.max_per_instance)),
        })
    }

    fn circuits(&self) -> Vec<(String, bool)> {
        self.breakers.states()
    }
}

/// One instance's outbound HTTP: the component's policy and the instance's own slots.
struct InstanceOutbound {
    policy: OutboundPolicy,
    slots: Arc<Semaphore>,
}

impl InstanceOutbound {
    /// A slot of the instance's and one of the component's, or why there is none.
    fn slots(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), String> {
        let mine = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            format!(
                "too many outbound requests in flight: an instance may have {}",
                self.policy.limits.max_per_instance
            )
        })?;
        let total = Arc::clone(&self.policy.total)
            .try_acquire_owned()
            .map_err(|_| {
                format!(
                    "too many outbound requests in flight: the component may have {}",
                    self.policy.limits.max_total
                )
            })?;
        Ok((mine, total))
    }
}

impl WasiHttpHooks for InstanceOutbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        let slots = match self.slots() {
            Ok(slots) => slots,
            Err(message) => {
                crate::throttle::warn_throttled!(upstream = %upstream_key(request.uri()), "outbound request refused: {message}");
                return Box::new(async move {
                    Err(wasmtime_wasi_http::Error::InternalError(Some(message)))
                });
            }
        };
        let policy = &self.policy;
        if !rules::allowed(&policy.allowed, request.uri()) {
            crate::throttle::warn_throttled!(
                upstream = %upstream_key(request.uri()),
                "outbound request denied: not in the allowed hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let upstream = upstream_key(request.uri());
        let permit = match policy.breakers.try_acquire(&upstream) {
            Ok(permit) => permit,
            Err(open) => {
                crate::throttle::warn_throttled!(%upstream, "outbound request failed fast: {open}");
                let message = open.to_string();
                return Box::new(async move {
                    Err(wasmtime_wasi_http::Error::InternalError(Some(message)))
                });
            }
        };
        let options = cap_timeouts(options, &policy.limits);
        // wasmtime-wasi-http times the TCP connect and the wait for the head, not the TLS
        // handshake between them: the whole exchange up to the head gets both times.
        let head_within = policy.limits.connect_timeout + policy.limits.first_byte_timeout;
        let rules = Arc::clone(&policy.allowed);
        Box::new(async move {
            let sent = tokio::time::timeout(head_within, connect::send(request, options, rules))
                .await
                .unwrap_or(Err(wasmtime_wasi_http::Error::ConnectionTimeout));
            match sent {
                Ok((res, io)) => {
                    if res.status().is_server_error() {
                        permit.failure();
                    } else {
                        permit.success();
                    }
                    // The slots are held until the response body is done.
                    let io = async move {
                        let _slots = slots;
                        io.await
                    };
                    Ok((
                        res.map(BodyExt::boxed_unsync),
                        Box::new(io) as Box<dyn Future<Output = _> + Send>,
                    ))
                }
                // Refused here, not failed there: the upstream was never tried, so its
                // circuit is not charged.
                Err(err @ wasmtime_wasi_http::Error::DestinationIpProhibited) => {
                    permit.success();
                    Err(err)
                }
                Err(err) => {
                    tracing::info!(%upstream, "outbound request failed: {err:?}");
                    permit.failure();
                    Err(err)
                }
            }
        })
    }
}

/// The circuit an outbound request belongs to, `scheme://host:port` with the host in lower
/// case and the port made explicit; no user info, path or query (which may hold secrets).
fn upstream_key(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{host}:{port}")
}

/// The guest's timeouts, never longer than the host's.
fn cap_timeouts(
    options: Option<wasmtime_wasi_http::RequestOptions>,
    limits: &OutboundConfig,
) -> wasmtime_wasi_http::RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |a| a.min(max)));
    wasmtime_wasi_http::RequestOptions {
        connect_timeout: cap(options.connect_timeout, limits.connect_timeout),
        first_byte_timeout: cap(options.first_byte_timeout, limits.first_byte_timeout),
        // The host has no separate setting: a pause between body chunks gets as long as the
        // wait for the head.
        between_bytes_timeout: cap(options.between_bytes_timeout, limits.first_byte_timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_keys_are_normalised_and_carry_no_secrets() {
        let key = |uri: &str| upstream_key(&uri.parse().expect("uri"));
        assert_eq!(
            key("http://API.example.com/x?token=1"),
            "http://api.example.com:80"
        );
        assert_eq!(
            key("https://u:p@api.example.com:8443/"),
            "https://api.example.com:8443"
        );
        assert_eq!(
            key("https://api.example.com"),
            key("https://api.example.com:443/y")
        );
    }
}
