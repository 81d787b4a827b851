//! Small single-threaded coordination primitives for tasks: waiting for the
//! first of two futures, for both, and for a condition that another task
//! changes.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::task::{Poll, Waker};
use std::time::Duration;

pub use super::select::{Either, join, select};

/// Waits for `fut` at most `d`; `None` on timeout.
pub async fn timeout<F: Future>(d: Duration, fut: F) -> Option<F::Output> {
    match select(fut, super::ops::sleep(d)).await {
        Either::Left(x) => Some(x),
        Either::Right(()) => None,
    }
}

/// A list of tasks waiting for some state to change. The state itself lives
/// elsewhere; `wait_until` re-checks it on every wake-up.
#[derive(Default)]
pub struct Notify {
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    /// Wakes every waiting task; each re-checks its condition.
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    /// Resolves once `cond` returns `Some`.
    pub async fn wait_until<T>(&self, mut cond: impl FnMut() -> Option<T>) -> T {
        poll_fn(|cx| match cond() {
            Some(v) => Poll::Ready(v),
            None => {
                let mut w = self.waiters.borrow_mut();
                if !w.iter().any(|x| x.will_wake(cx.waker())) {
                    w.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }
}
