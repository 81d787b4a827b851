//! Operations that must not stop halfway: they run as tasks of their own,
//! and the caller only waits for their result.
//!
//! A client that hangs up has its handler future dropped (`server/conn.rs`),
//! and with it every future the handler awaited. Dropped in the middle of a
//! create, that would leave a runtime container podmon does not know; in the
//! middle of a start, a container marked "starting" forever. Awaited through
//! [`detached`], the operation runs to its end whatever the caller does; a
//! result nobody takes is dropped, and the result's own `Drop` cleans up
//! (an exec nobody watches is killed and reaped, see `exec::ExecProcess`).

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::reactor;

/// Where the task leaves its result for the caller.
struct Slot<T> {
    result: Option<T>,
    waker: Option<Waker>,
}

/// Runs `op` as a task of its own and waits for its result. Dropping this
/// future does not cancel `op`: it runs to its end and its result is dropped.
pub(super) async fn detached<T: 'static>(op: impl Future<Output = T> + 'static) -> T {
    let slot = Rc::new(RefCell::new(Slot {
        result: None,
        waker: None,
    }));
    let theirs = slot.clone();
    reactor::spawn(async move {
        let result = op.await;
        let waker = {
            let mut s = theirs.borrow_mut();
            s.result = Some(result);
            s.waker.take()
        };
        // A caller that went away left no waker, and the result is dropped
        // with the last reference to the slot.
        if let Some(w) = waker {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut s = slot.borrow_mut();
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}
