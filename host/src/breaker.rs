//! A circuit breaker per upstream (`scheme://authority`) for guests' outbound HTTP.
//!
//! Closed: requests go through, consecutive failures are counted (a connection error, a
//! timeout or a 5xx answer). After `failure_threshold` of them the circuit opens: requests
//! fail at once, without reaching the upstream, for `reset_timeout`. Then it is half-open:
//! one request goes through as a probe while others still fail fast; a success closes the
//! circuit, a failure opens it again.
//!
//! ```
//! use std::time::Duration;
//! use host::{BreakerConfig, CircuitBreakers};
//!
//! let breakers = CircuitBreakers::new(BreakerConfig {
//!     failure_threshold: 2,
//!     reset_timeout: Duration::from_secs(30),
//! });
//! for _ in 0..2 {
//!     breakers.try_acquire("http://api.internal").unwrap().failure();
//! }
//! assert!(breakers.try_acquire("http://api.internal").is_err());
//! assert!(breakers.try_acquire("http://other.internal").is_ok());
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When circuits open and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a circuit; 0 turns the breaker off.
    pub failure_threshold: u32,
    /// How long an open circuit fails fast before it lets a probe through.
    pub reset_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is in flight; everyone else fails fast until it reports.
    HalfOpen,
}

/// The circuits of every upstream a component calls. Cloning shares them.
#[derive(Debug, Clone)]
pub struct CircuitBreakers {
    config: BreakerConfig,
    circuits: Arc<Mutex<HashMap<String, State>>>,
}

/// A request was refused because its upstream's circuit is open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit open for {upstream}: it failed repeatedly; next attempt allowed in {}ms", retry_in.as_millis())]
pub struct CircuitOpen {
    /// The upstream, `scheme://authority`.
    pub upstream: String,
    /// Time until a probe is let through (zero while a probe is in flight).
    pub retry_in: Duration,
}

/// Leave to send one request upstream; report how it went with [`Permit::success`] or
/// [`Permit::failure`]. Dropped without a report (the request was abandoned), it counts as
/// neither, and a half-open circuit lets the next request probe.
#[derive(Debug)]
#[must_use = "report the outcome with success() or failure()"]
pub struct Permit {
    breakers: CircuitBreakers,
    upstream: String,
    reported: bool,
}

impl CircuitBreakers {
    /// Circuits that all start closed.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            circuits: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.circuits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request to `upstream`.
    pub fn try_acquire(&self, upstream: &str) -> Result<Permit, CircuitOpen> {
        if self.config.failure_threshold > 0 {
            let mut circuits = self.lock();
            let state = circuits
                .entry(upstream.to_owned())
                .or_insert(State::Closed { failures: 0 });
            match *state {
                State::Closed { .. } => {}
                State::Open { until } => {
                    let now = Instant::now();
                    if now < until {
                        return Err(CircuitOpen {
                            upstream: upstream.to_owned(),
                            retry_in: until - now,
                        });
                    }
                    tracing::info!(%upstream, "circuit half-open: letting one probe through");
                    *state = State::HalfOpen;
                }
                State::HalfOpen => {
                    return Err(CircuitOpen {
                        upstream: upstream.to_owned(),
                        retry_in: Duration::ZERO,
                    });
                }
            }
        }
        Ok(Permit {
            breakers: self.clone(),
            upstream: upstream.to_owned(),
            reported: false,
        })
    }

    fn report(&self, upstream: &str, success: bool) {
        if self.config.failure_threshold == 0 {
            return;
        }
        let mut circuits = self.lock();
        let state = circuits
            .entry(upstream.to_owned())
            .or_insert(State::Closed { failures: 0 });
        let next = match (*state, success) {
            (State::HalfOpen, true) => {
                tracing::info!(%upstream, "circuit closed: the probe succeeded");
                State::Closed { failures: 0 }
            }
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.config.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (State::Open { until }, false) => State::Open { until },
            (previous, false) => {
                tracing::warn!(
                    %upstream,
                    after = ?previous,
                    reset = ?self.config.reset_timeout,
                    "circuit open: failing fast"
                );
                State::Open {
                    until: Instant::now() + self.config.reset_timeout,
                }
            }
        };
        *state = next;
    }

    fn abandon(&self, upstream: &str) {
        let mut circuits = self.lock();
        if let Some(state) = circuits.get_mut(upstream)
            && *state == State::HalfOpen
        {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }
}

impl Permit {
    /// The request got a response that is not a server error.
    pub fn success(mut self) {
        self.reported = true;
        self.breakers.report(&self.upstream, true);
    }

    /// The request failed: no connection, a timeout, or a 5xx response.
    pub fn failure(mut self) {
        self.reported = true;
        self.breakers.report(&self.upstream, false);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported {
            self.breakers.abandon(&self.upstream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: &str = "http://127.0.0.1:9";

    fn breakers(threshold: u32, reset_ms: u64) -> CircuitBreakers {
        CircuitBreakers::new(BreakerConfig {
            failure_threshold: threshold,
            reset_timeout: Duration::from_millis(reset_ms),
        })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breakers(3, 60_000);
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").success();
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("still closed").failure();
        let open = b.try_acquire(UP).expect_err("open after 3 in a row");
        assert_eq!(open.upstream, UP);
        assert!(open.retry_in > Duration::from_secs(50));
    }

    #[test]
    fn half_open_lets_one_probe_and_closes_on_success() {
        let b = breakers(1, 20);
        b.try_acquire(UP).expect("closed").failure();
        assert!(b.try_acquire(UP).is_err());
        std::thread::sleep(Duration::from_millis(30));
        let probe = b.try_acquire(UP).expect("probe after the reset timeout");
        assert!(b.try_acquire(UP).is_err(), "only one probe at a time");
        probe.success();
        b.try_acquire(UP).expect("closed again").success();
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let b = breakers(1, 20);
        b.try_acquire(UP).expect("closed").failure();
        std::thread::sleep(Duration::from_millis(30));
        b.try_acquire(UP).expect("probe").failure();
        assert!(b.try_acquire(UP).is_err());
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_request_probe() {
        let b = breakers(1, 20);
        b.try_acquire(UP).expect("closed").failure();
        std::thread::sleep(Duration::from_millis(30));
        drop(b.try_acquire(UP).expect("probe"));
        b.try_acquire(UP).expect("next probe").success();
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = breakers(0, 60_000);
        for _ in 0..10 {
            b.try_acquire(UP).expect("off").failure();
        }
    }
}
