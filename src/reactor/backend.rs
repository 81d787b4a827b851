//! Which backend this thread's loop runs on: io_uring when the kernel
//! allows it, epoll otherwise. Every operation asks, so the choice is made
//! once, at `init`, and the rest of podmon never sees it.

use std::cell::Cell;
use std::io;

use super::{epoll, ring};

/// The kernel interface the event loop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One io_uring ring: completion-based, the fast path.
    IoUring,
    /// epoll plus non-blocking system calls: for hosts where io_uring is
    /// disabled or blocked by seccomp; slower, same behaviour.
    Epoll,
}

thread_local! {
    static ACTIVE: Cell<Option<Backend>> = const { Cell::new(None) };
}

/// Records the backend `init` set up, for the ops to branch on.
pub(crate) fn set(b: Backend) {
    ACTIVE.with(|a| a.set(Some(b)));
}

/// The backend `init` chose on this thread, if any.
pub fn active() -> Option<Backend> {
    ACTIVE.with(Cell::get)
}

/// Whether operations on this thread go through epoll.
#[inline]
pub(crate) fn is_epoll() -> bool {
    ACTIVE.with(Cell::get) == Some(Backend::Epoll)
}

/// Waits for (if `wait`) and dispatches completions or readiness events.
pub(crate) fn turn(wait: bool) -> io::Result<()> {
    if is_epoll() {
        epoll::turn(wait)
    } else {
        ring::turn(wait)
    }
}

/// Drops the backend's kernel object (after the loop ended).
pub(crate) fn shutdown() {
    match active() {
        Some(Backend::Epoll) => epoll::shutdown(),
        Some(Backend::IoUring) => ring::shutdown(),
        None => {}
    }
    ACTIVE.with(|a| a.set(None));
}
