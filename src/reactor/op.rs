//! One io_uring operation in flight, as a future: what `ops` and
//! `connect` build their operations on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::ring::{self, Owned};

/// An operation in flight; resolves to the raw result and the memory it owned.
#[must_use = "an operation does nothing unless awaited"]
pub struct Op {
    pub(super) key: Option<usize>,
}

impl Op {
    /// # Safety
    /// As for `ring::submit`: pointers in `entry` point into `owned`, and the
    /// file descriptor stays open until the operation completes or the `Op`
    /// is dropped (a dropped op is cancelled before its fd can be reused by
    /// the caller only if the caller keeps the fd open; podmon keeps fds in
    /// `Rc`s held by the task that owns the op).
    pub(super) unsafe fn submit(entry: io_uring::squeue::Entry, owned: Owned) -> Op {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { ring::submit(entry, owned) };
        Op { key: Some(key) }
    }
}

impl Future for Op {
    type Output = (i32, Owned);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let key = self.key.expect("Op polled after completion");
        match ring::poll_slot(key, cx.waker()) {
            Some(done) => {
                self.key = None;
                Poll::Ready(done)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            ring::orphan(key);
        }
    }
}
