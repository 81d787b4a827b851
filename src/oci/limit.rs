//! How many runtime processes run at once: calls beyond the bound wait
//! their turn, so a teardown of a hundred containers runs its deletes side
//! by side without forking a hundred runtimes at the same moment.

use std::cell::Cell;
use std::fmt;

use crate::reactor::sync::Notify;

/// Runtime processes podmon runs at once unless configured. A runtime
/// call is mostly waiting (for the kernel to kill and reap, for cgroups to
/// empty and go), not computing: runc `delete --force` takes ~108 ms of
/// which a small part is CPU, so far more calls than cores overlap well
/// (100 deletes: 10.8 s one after another). 16 keeps the worst case to 16
/// runtimes (Go processes of several MB each) on the host at a time, and below the
/// pids and descriptor limits of small monitors.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// A counting semaphore on the reactor's one thread. Shared (`Rc`) by
/// every clone of a `Runtime`, so the bound is the monitor's, not a call's.
pub struct Limiter {
    max: usize,
    running: Cell<usize>,
    freed: Notify,
}

/// A running runtime process's place; dropping it lets the next one run.
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Limiter {
    /// At most `max` (at least 1) permits out at once.
    pub fn new(max: usize) -> Limiter {
        Limiter {
            max: max.max(1),
            running: Cell::new(0),
            freed: Notify::default(),
        }
    }

    /// Waits for a free place. Taken in the same poll that sees it free
    /// (one thread), so no two waiters get the last place.
    pub async fn acquire(&self) -> Permit<'_> {
        self.freed
            .wait_until(|| {
                let n = self.running.get();
                (n < self.max).then(|| self.running.set(n + 1))
            })
            .await;
        Permit { limiter: self }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let l = self.limiter;
        l.running.set(l.running.get() - 1);
        l.freed.notify_all();
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("max", &self.max)
            .field("running", &self.running.get())
            .finish()
    }
}

/// Two limiters are alike when their bounds are (what configuration says).
impl PartialEq for Limiter {
    fn eq(&self, other: &Limiter) -> bool {
        self.max == other.max
    }
}

impl Eq for Limiter {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn holds_the_bound_and_hands_places_on() {
        let l = Limiter::new(2);
        let Poll::Ready(a) = poll(pin!(l.acquire())) else {
            panic!("first place")
        };
        let Poll::Ready(b) = poll(pin!(l.acquire())) else {
            panic!("second place")
        };
        let mut third = pin!(l.acquire());
        assert!(
            poll(third.as_mut()).is_pending(),
            "a third is over the bound"
        );
        drop(a);
        let Poll::Ready(c) = poll(third.as_mut()) else {
            panic!("a freed place is taken")
        };
        assert_eq!(l.running.get(), 2);
        drop((b, c));
        assert_eq!(l.running.get(), 0);
        assert_eq!(Limiter::new(0).max, 1, "never zero places");
    }
}
