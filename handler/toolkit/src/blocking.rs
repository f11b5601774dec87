//! Running a future to completion on the calling thread, for the blocking conveniences
//! ([`Router::handle`](crate::Router::handle), [`Handler::call_blocking`](crate::Handler::call_blocking)).
//!
//! Unlike `futures::executor::block_on`, it may be entered again from inside a future it
//! runs (a test's key-value hook that sends a request of its own, say).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that is blocked on the future, and says so to that call alone: a
/// `block_on` entered inside another must not take the outer one's wake-up.
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking until it is woken.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Park until this call's waker ran; a wake-up meant for another call (or a spurious
        // one) parks again, but never one of ours is lost: the flag stays set.
        while !unpark.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_call_leaves_the_outer_ones_wake_up_to_it() {
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let sender = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(20));
            tx.send(7)
        });
        let outer = block_on(async {
            // Inside, another call that is ready at once.
            let inner = block_on(async { 1 });
            rx.await.map(|n| n + inner)
        });
        assert_eq!(outer, Ok(8));
        assert_eq!(sender.join().ok(), Some(Ok(())));
    }
}
