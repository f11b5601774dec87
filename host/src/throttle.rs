//! Warnings a guest can set off once per host call (a denied store, address or upstream),
//! logged at most [`PER_SECOND`] times a second from each place in the code: a guest
//! calling in a loop cannot flood the log. The next warning that passes says how many were
//! held back (`suppressed`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// Warnings from one place logged in one second at most.
pub(crate) const PER_SECOND: u32 = 10;

/// The state of one place's warnings.
pub(crate) struct Throttle {
    /// The second (since the first warning of the process) being counted.
    second: AtomicU64,
    logged: AtomicU32,
    suppressed: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new() -> Self {
        Self {
            second: AtomicU64::new(0),
            logged: AtomicU32::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(held back since the last one)` when this warning is to be logged.
    pub(crate) fn admit(&self) -> Option<u64> {
        static START: OnceLock<Instant> = OnceLock::new();
        let now = START.get_or_init(Instant::now).elapsed().as_secs();
        let second = self.second.load(Ordering::Relaxed);
        if now != second
            && self
                .second
                .compare_exchange(second, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.logged.store(0, Ordering::Relaxed);
        }
        if self.logged.fetch_add(1, Ordering::Relaxed) < PER_SECOND {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// `tracing::warn!`, throttled per call site; adds the `suppressed` count as a field.
macro_rules! warn_throttled {
    ($($arg:tt)+) => {{
        static THROTTLE: $crate::throttle::Throttle = $crate::throttle::Throttle::new();
        if let Some(suppressed) = THROTTLE.admit() {
            ::tracing::warn!(suppressed, $($arg)+);
        }
    }};
}
pub(crate) use warn_throttled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_the_rest_counted() {
        let throttle = Throttle::new();
        let admitted = (0..1000).filter(|_| throttle.admit().is_some()).count();
        // All in one second, or across the turn of one.
        assert!(
            (PER_SECOND as usize..=2 * PER_SECOND as usize).contains(&admitted),
            "{admitted}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let suppressed = throttle.admit().expect("a new second");
        assert_eq!(suppressed as usize, 1000 - admitted);
    }
}
