//! A circuit breaker per upstream (`scheme://authority`) for guests' outbound HTTP.
//!
//! Closed: requests go through, consecutive failures are counted (a connection error, a
//! timeout, a 5xx answer, or a request abandoned before its answer). After `failure_threshold` of them the circuit opens: requests
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

/// Circuits kept at most: past it, healthy and expired ones are forgotten, and new
/// upstreams go untracked while the others still fail.
const MAX_CIRCUITS: usize = 1024;

/// One upstream's circuit. `generation` changes at every change of state, so that reports
/// from permits given out before (a late success of a request sent before the circuit
/// opened, say) cannot move it.
#[derive(Debug, Clone, Copy)]
struct Circuit {
    state: State,
    generation: u64,
}

impl Circuit {
    fn enter(&mut self, state: State) {
        self.state = state;
        self.generation += 1;
    }
}

/// The circuits of every upstream a component calls. Cloning shares them.
#[derive(Debug, Clone)]
pub struct CircuitBreakers {
    config: BreakerConfig,
    circuits: Arc<Mutex<HashMap<String, Circuit>>>,
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
/// [`Permit::failure`]. Dropped without a report, the request was abandoned before an
/// answer came (most often because the caller's own timeout ran out), which counts as a
/// failure.
#[derive(Debug)]
#[must_use = "report the outcome with success() or failure()"]
pub struct Permit {
    breakers: CircuitBreakers,
    upstream: String,
    generation: u64,
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

    /// The upstreams that failed at some point, each with whether its circuit is open (or
    /// half open) now, sorted.
    pub fn states(&self) -> Vec<(String, bool)> {
        let now = Instant::now();
        let mut states: Vec<_> = self
            .lock()
            .iter()
            .map(|(upstream, circuit)| {
                let open = match circuit.state {
                    State::Closed { .. } => false,
                    State::Open { until } => until > now,
                    State::HalfOpen => true,
                };
                (upstream.clone(), open)
            })
            .collect();
        states.sort();
        states
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Circuit>> {
        self.circuits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request to `upstream`.
    pub fn try_acquire(&self, upstream: &str) -> Result<Permit, CircuitOpen> {
        let mut generation = 0;
        if self.config.failure_threshold > 0 {
            let mut circuits = self.lock();
            // Only upstreams that failed at some point have an entry: the map stays small.
            if let Some(circuit) = circuits.get_mut(upstream) {
                match circuit.state {
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
                        circuit.enter(State::HalfOpen);
                    }
                    State::HalfOpen => {
                        return Err(CircuitOpen {
                            upstream: upstream.to_owned(),
                            retry_in: Duration::ZERO,
                        });
                    }
                }
                generation = circuit.generation;
            }
        }
        Ok(Permit {
            breakers: self.clone(),
            upstream: upstream.to_owned(),
            generation,
            reported: false,
        })
    }

    fn report(&self, upstream: &str, generation: u64, success: bool) {
        if self.config.failure_threshold == 0 {
            return;
        }
        let mut circuits = self.lock();
        if success && !circuits.contains_key(upstream) {
            // An upstream that never failed needs no entry.
            return;
        }
        if circuits.len() >= MAX_CIRCUITS && !circuits.contains_key(upstream) {
            // Forget the healthy ones and those whose open time is over (they restart at
            // generation 0, which only matters to requests still in flight from before
            // their circuit last opened).
            let now = Instant::now();
            circuits.retain(|_, c| match c.state {
                State::Closed { failures } => failures > 0,
                State::Open { until } => until > now,
                State::HalfOpen => true,
            });
            if circuits.len() >= MAX_CIRCUITS {
                // Still full of failing upstreams: this one goes untracked (fails no faster)
                // rather than growing the map without bound.
                return;
            }
        }
        let circuit = circuits.entry(upstream.to_owned()).or_insert(Circuit {
            state: State::Closed { failures: 0 },
            generation: 0,
        });
        if circuit.generation != generation {
            return;
        }
        match (circuit.state, success) {
            (State::Closed { .. }, true) => {
                circuit.state = State::Closed { failures: 0 };
            }
            (State::HalfOpen, true) => {
                tracing::info!(%upstream, "circuit closed: the probe succeeded");
                // A new generation: requests sent before the circuit opened, still hanging
                // on the upstream, must not count against the recovered circuit when they
                // time out. (The entry stays for that reason.)
                circuit.enter(State::Closed { failures: 0 });
            }
            (State::Closed { failures }, false) if failures + 1 < self.config.failure_threshold => {
                circuit.state = State::Closed {
                    failures: failures + 1,
                };
            }
            (State::Open { .. }, _) => {}
            (previous, false) => {
                tracing::warn!(
                    %upstream,
                    after = ?previous,
                    reset = ?self.config.reset_timeout,
                    "circuit open: failing fast"
                );
                let now = Instant::now();
                // An absurd reset timeout (beyond what `Instant` can hold) means a year.
                let until = now
                    .checked_add(self.config.reset_timeout)
                    .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                    .unwrap_or(now);
                circuit.enter(State::Open { until });
            }
        }
    }
}

impl Permit {
    /// The request got a response that is not a server error.
    pub fn success(mut self) {
        self.reported = true;
        self.breakers.report(&self.upstream, self.generation, true);
    }

    /// The request failed: no connection, a timeout, or a 5xx response.
    pub fn failure(mut self) {
        self.reported = true;
        self.breakers.report(&self.upstream, self.generation, false);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported {
            self.breakers.report(&self.upstream, self.generation, false);
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
    fn an_abandoned_request_counts_as_a_failure() {
        let b = breakers(2, 60_000);
        drop(b.try_acquire(UP).expect("closed"));
        drop(b.try_acquire(UP).expect("closed"));
        assert!(
            b.try_acquire(UP).is_err(),
            "two abandoned requests open the circuit"
        );
    }

    #[test]
    fn late_reports_from_before_a_change_of_state_are_ignored() {
        let b = breakers(2, 20);
        let late = b.try_acquire(UP).expect("closed");
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        assert!(b.try_acquire(UP).is_err(), "open");
        late.success();
        assert!(
            b.try_acquire(UP).is_err(),
            "a late success does not close it"
        );

        std::thread::sleep(Duration::from_millis(30));
        let probe = b.try_acquire(UP).expect("probe");
        probe.success();
        b.try_acquire(UP).expect("closed by the probe").success();
    }

    #[test]
    fn upstreams_that_never_failed_leave_no_entry() {
        let b = breakers(3, 60_000);
        b.try_acquire("http://other").expect("closed").success();
        assert!(b.circuits.lock().expect("lock").is_empty());
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").success();
        assert_eq!(b.circuits.lock().expect("lock").len(), 1);
    }

    #[test]
    fn requests_from_before_the_circuit_opened_do_not_reopen_it_after_recovery() {
        let b = breakers(2, 20);
        // Two requests hang on the upstream while two others fail and open the circuit.
        let hung = [
            b.try_acquire(UP).expect("closed"),
            b.try_acquire(UP).expect("closed"),
        ];
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        assert!(b.try_acquire(UP).is_err(), "open");
        std::thread::sleep(Duration::from_millis(30));
        b.try_acquire(UP).expect("probe").success();
        // The hung requests time out now: the recovered circuit ignores them.
        for permit in hung {
            permit.failure();
        }
        b.try_acquire(UP).expect("still closed").success();
        // Failures of its own generation still count.
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        assert!(b.try_acquire(UP).is_err(), "open again");
    }

    #[test]
    fn healthy_circuits_are_forgotten_when_there_are_many() {
        let b = breakers(3, 60_000);
        for i in 0..MAX_CIRCUITS {
            let upstream = format!("http://h{i}");
            b.try_acquire(&upstream).expect("closed").failure();
            b.try_acquire(&upstream).expect("closed").success();
        }
        b.try_acquire(UP).expect("closed").failure();
        b.try_acquire(UP).expect("closed").failure();
        let circuits = b.circuits.lock().expect("lock");
        assert_eq!(circuits.len(), 1);
        assert_eq!(circuits[UP].state, State::Closed { failures: 2 });
    }

    #[test]
    fn threshold_zero_never_opens() {
        let b = breakers(0, 60_000);
        for _ in 0..10 {
            b.try_acquire(UP).expect("off").failure();
        }
    }
}
