//! Awaiting several independent futures at once: a teardown waits here for
//! its per-container stops, each a task of its own (`detached`), so they
//! overlap (their runtime processes bounded by the driver) on the
//! reactor's one thread. Small futures only: polling a hundred futures that
//! each wait on runtime processes from one task lost wake-ups (see
//! `shutdown::stop_containers`).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

/// Runs every future of `futs` concurrently and returns their outputs in
/// order, once all are done. Each wake polls those not yet done: a few
/// hundred futures at most, each cheap to poll.
pub(super) async fn all<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut running: Vec<Option<Pin<Box<F>>>> =
        futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in running.iter_mut().zip(outputs.iter_mut()) {
            let Some(fut) = slot else { continue };
            match fut.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    *out = Some(v);
                    *slot = None;
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::pin::pin;
    use std::task::{Context, Waker};

    /// Pending once, then ready: every future makes progress in one pass.
    async fn yield_once(n: u32, order: &Cell<u32>) -> u32 {
        let mut yielded = false;
        poll_fn(|_| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                Poll::Pending
            }
        })
        .await;
        order.set(order.get() * 10 + n);
        n
    }

    #[test]
    fn runs_side_by_side_and_keeps_the_order() {
        let order = Cell::new(0);
        let mut f = pin!(all([3, 1, 2].map(|n| yield_once(n, &order))));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            f.as_mut().poll(&mut cx).is_pending(),
            "all started, none done"
        );
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(vec![3, 1, 2]));
        assert_eq!(order.get(), 312, "each was polled in the same passes");
        let none: Vec<u32> = match pin!(all(Vec::<std::future::Ready<u32>>::new())).poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("nothing to wait for"),
        };
        assert!(none.is_empty());
    }
}
