//! Parking a sink: its pumps stop reading without losing a byte, what they
//! read reaches the file, and the pipes come back, for a new image of the
//! monitor to read on (a live upgrade `execve`s the binary in place).
//!
//! The pipes are not closed and their streams have not ended: parking
//! neither closes the hub nor counts a stream as finished, so nobody
//! waiting for the container's output to end is told it did.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::os::fd::OwnedFd;
use std::task::{Poll, Waker};

use super::LogSink;
use crate::logs::cri::Stream;

/// The stop signal of a sink's pumps and the pipes they hand back.
#[derive(Default)]
pub(super) struct Parking {
    /// Set once, by `park`; pumps stop reading from then on.
    raised: Cell<bool>,
    /// Each pump's waker while it waits (one slot per pump, replaced on
    /// every poll, so the list never grows).
    wakers: RefCell<Vec<Option<Waker>>>,
    /// Pump tasks still running.
    pumps: Cell<usize>,
    /// Pipes of the pumps that stopped before end of file, by pump.
    parked: RefCell<Vec<(usize, Stream, OwnedFd)>>,
}

impl Parking {
    /// Room for `pumps` pumps, all running.
    pub(super) fn new(pumps: usize) -> Parking {
        Parking {
            wakers: RefCell::new(vec![None; pumps]),
            pumps: Cell::new(pumps),
            ..Parking::default()
        }
    }

    pub(super) fn is_raised(&self) -> bool {
        self.raised.get()
    }

    /// Whether every pump has stopped (parked or at end of file).
    pub(super) fn all_stopped(&self) -> bool {
        self.pumps.get() == 0
    }

    /// Resolves once parking begins; pump `i`'s stop for `read_until`.
    pub(super) fn stop(&self, i: usize) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            if self.raised.get() {
                return Poll::Ready(());
            }
            let mut w = self.wakers.borrow_mut();
            match &w[i] {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => w[i] = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
    }

    #[cfg_attr(not(test), allow(dead_code))]
    fn raise(&self) {
        self.raised.set(true);
        let wakers: Vec<Waker> = self
            .wakers
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Pump `i` ended; `pipe` is its pipe if it stopped before end of file.
    pub(super) fn pump_ended(&self, i: usize, pipe: Option<(Stream, OwnedFd)>) {
        if let Some((stream, fd)) = pipe {
            self.parked.borrow_mut().push((i, stream, fd));
        }
        self.pumps.set(self.pumps.get() - 1);
    }
}

impl LogSink {
    /// Stops every pump without losing or repeating a byte, waits until
    /// everything read is written (nothing is left in memory or in
    /// flight), and returns the pipes that have not reached end of file
    /// (in the order `start` got them), for `LogSink::start` in the next
    /// image to go on reading.
    ///
    /// What the pumps read before stopping is formatted and written as
    /// usual (a piece of a line is a `P` record already, so the next sink
    /// continues the line); bytes dropped by the rate limit and not yet in
    /// a marker get their marker now, since the ledger does not survive.
    /// The streams do not end: the hub stays open, `drained` does not
    /// resolve. Afterwards the sink is inert: nothing reads its pipes and
    /// its writer has ended, so `reopen` would wait forever. A second call
    /// returns nothing. If writing fails (a full disk), this waits, like
    /// the writer, until it works again.
    // The live upgrade that calls it is not merged yet; the tests call it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn park(&self) -> Vec<(Stream, OwnedFd)> {
        self.parking.raise();
        self.wake();
        self.notify
            .wait_until(|| (self.parking.all_stopped() && self.idle()).then_some(()))
            .await;
        let mut parked = std::mem::take(&mut *self.parking.parked.borrow_mut());
        parked.sort_by_key(|p| p.0);
        parked.into_iter().map(|(_, s, fd)| (s, fd)).collect()
    }
}
