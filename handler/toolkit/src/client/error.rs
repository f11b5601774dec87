//! Why an outbound request failed, and the status a gateway answers that failure with.

use std::time::Duration;

use http::StatusCode;

use crate::Problem;

/// Why an outbound request got no usable response.
///
/// | Variant | Status | Retried | Typical cause |
/// | --- | --- | --- | --- |
/// | [`Timeout`](ClientError::Timeout) | `504` | yes | no (complete) response within the per-attempt timeout |
/// | [`Connect`](ClientError::Connect) | `502` | yes | DNS failure, connection refused or reset, TLS failure |
/// | [`Transport`](ClientError::Transport) | `502` | yes | the exchange broke off: an incomplete or malformed response |
/// | [`Denied`](ClientError::Denied) | `502` | no | the host refused the destination (`HTTP-request-denied`: not in `allowed_outbound_hosts`) |
/// | [`CircuitOpen`](ClientError::CircuitOpen) | `502` | no | the host's circuit breaker for the destination is open |
/// | [`InvalidRequest`](ClientError::InvalidRequest) | `502` | no | the request cannot be sent: not an absolute URI, a header the host forbids |
///
/// A gateway answers `504 Gateway Timeout` when the upstream did not answer in time and
/// `502 Bad Gateway` for every other failure ([`status`](ClientError::status)); the
/// conversion into a [`Problem`] does so.
///
/// ```
/// use std::time::Duration;
/// use edge_toolkit::client::ClientError;
///
/// let err = ClientError::Timeout(Duration::from_secs(2));
/// assert_eq!(err.status(), 504);
/// assert_eq!(err.to_string(), "no response from the upstream within 2s");
/// assert!(err.is_retryable());
///
/// let err = ClientError::from_internal_error(Some("circuit open for api.example.com".into()));
/// assert!(matches!(err, ClientError::CircuitOpen(_)));
/// assert_eq!(err.status(), 502);
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No complete response within this per-attempt timeout.
    #[error("no response from the upstream within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The connection could not be made (DNS, refused, reset, TLS).
    #[error("cannot connect to the upstream: {0}")]
    Connect(String),
    /// The connection was made, but the exchange failed.
    #[error("the exchange with the upstream failed: {0}")]
    Transport(String),
    /// The host refused to let the component reach the destination.
    #[error("the host refused the destination: {0}")]
    Denied(String),
    /// The host's circuit breaker refuses requests to the destination for now.
    #[error("the host's circuit breaker for the upstream is open: {0}")]
    CircuitOpen(String),
    /// The request cannot be sent as it is.
    #[error("the request cannot be sent: {0}")]
    InvalidRequest(String),
}

impl ClientError {
    /// `504 Gateway Timeout` for [`Timeout`](ClientError::Timeout), `502 Bad Gateway` for
    /// everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            ClientError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// Whether another attempt might succeed: timeouts and connection or transport failures.
    /// A refused destination, an open circuit or an invalid request would fail the same way
    /// again (an open circuit stays open far longer than a retry delay).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClientError::Timeout(_) | ClientError::Connect(_) | ClientError::Transport(_)
        )
    }

    /// The error for a wasi-http `internal-error(message)`: hosts report their circuit
    /// breaker this way (`internal-error("circuit open ...")`), so a message mentioning a
    /// circuit is [`CircuitOpen`](ClientError::CircuitOpen) with that message; any other is
    /// [`Transport`](ClientError::Transport).
    pub fn from_internal_error(message: Option<String>) -> Self {
        match message {
            Some(message) if message.to_ascii_lowercase().contains("circuit") => {
                ClientError::CircuitOpen(message)
            }
            Some(message) => ClientError::Transport(format!("internal error: {message}")),
            None => ClientError::Transport("internal error".to_owned()),
        }
    }
}

impl ClientError {
    /// What a client may be told: the kind of failure (and the timeout, which is the
    /// component's own), never the host's or the upstream's words (those go to the log).
    pub fn summary(&self) -> String {
        match self {
            ClientError::Timeout(_) => self.to_string(),
            ClientError::Connect(_) => "cannot connect to the upstream".to_owned(),
            ClientError::Transport(_) => "the exchange with the upstream failed".to_owned(),
            ClientError::Denied(_) => "the host refused the destination".to_owned(),
            ClientError::CircuitOpen(_) => {
                "the host's circuit breaker for the upstream is open".to_owned()
            }
            ClientError::InvalidRequest(_) => "the request cannot be sent".to_owned(),
        }
    }
}

/// The problem carries the [`summary`](ClientError::summary); the whole error goes to
/// stderr, the host's log.
impl From<ClientError> for Problem {
    fn from(err: ClientError) -> Self {
        eprintln!("outbound request failed: {err}");
        Problem::new(err.status()).with_detail(err.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retryability() {
        // (error, status, retryable)
        let cases = [
            (ClientError::Timeout(Duration::from_millis(1500)), 504, true),
            (ClientError::Connect("connection refused".into()), 502, true),
            (ClientError::Transport("incomplete".into()), 502, true),
            (
                ClientError::Denied("HTTP-request-denied".into()),
                502,
                false,
            ),
            (ClientError::CircuitOpen("circuit open".into()), 502, false),
            (
                ClientError::InvalidRequest("relative URI".into()),
                502,
                false,
            ),
        ];
        for (err, status, retryable) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.is_retryable(), retryable, "{err:?}");
            let detail = err.summary();
            let problem = Problem::from(err);
            assert_eq!(problem.status(), status);
            assert_eq!(problem.detail(), Some(detail.as_str()));
            // What the host or the upstream said stays in the log.
            for host_text in [
                "connection refused",
                "incomplete",
                "HTTP-request-denied",
                "circuit open",
                "relative URI",
            ] {
                assert!(!detail.contains(host_text), "{detail}");
            }
        }
    }

    #[test]
    fn internal_errors_surface_the_circuit_breaker() {
        assert_eq!(
            ClientError::from_internal_error(Some("Circuit OPEN for 127.0.0.1:9".into())),
            ClientError::CircuitOpen("Circuit OPEN for 127.0.0.1:9".into())
        );
        assert_eq!(
            ClientError::from_internal_error(Some("boom".into())),
            ClientError::Transport("internal error: boom".into())
        );
        assert_eq!(
            ClientError::from_internal_error(None),
            ClientError::Transport("internal error".into())
        );
        assert_eq!(
            ClientError::Timeout(Duration::from_millis(1500)).to_string(),
            "no response from the upstream within 1s 500ms"
        );
    }
}
