//! Fan-out of a process's output to attached clients.
//!
//! Each subscriber has its own bounded queue. A subscriber that does not
//! keep up overflows and is cut off; the publisher never waits for anyone,
//! so a stuck client cannot slow the container, its log, or other clients.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use crate::logs::cri::Stream;
use crate::reactor::sync::Notify;

/// Bytes a subscriber may have queued before it is cut off.
pub const SUBSCRIBER_CAP: usize = 4 << 20;

/// What a subscriber gets next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Output.
    Chunk(Stream, Vec<u8>),
    /// The subscriber fell more than its cap behind and was cut off.
    Overflowed,
    /// Every source ended and everything was delivered.
    Closed,
}

/// One attached client's queue.
#[derive(Default)]
pub struct Subscription {
    queue: RefCell<VecDeque<(Stream, Vec<u8>)>>,
    queued: Cell<usize>,
    overflowed: Cell<bool>,
    closed: Cell<bool>,
    notify: Notify,
}

impl Subscription {
    fn push(&self, stream: Stream, bytes: &[u8]) {
        if self.overflowed.get() {
            return;
        }
        if self.queued.get() + bytes.len() > SUBSCRIBER_CAP {
            self.overflowed.set(true);
            self.queue.borrow_mut().clear();
            self.queued.set(0);
        } else {
            self.queued.set(self.queued.get() + bytes.len());
            self.queue.borrow_mut().push_back((stream, bytes.to_vec()));
        }
        self.notify.notify_all();
    }

    fn close(&self) {
        self.closed.set(true);
        self.notify.notify_all();
    }

    fn try_next(&self) -> Option<Next> {
        if self.overflowed.get() {
            return Some(Next::Overflowed);
        }
        if let Some((s, b)) = self.queue.borrow_mut().pop_front() {
            self.queued.set(self.queued.get() - b.len());
            return Some(Next::Chunk(s, b));
        }
        self.closed.get().then_some(Next::Closed)
    }

    /// Waits for the next chunk (or the end).
    pub async fn next(&self) -> Next {
        self.notify.wait_until(|| self.try_next()).await
    }
}

/// The publisher side: one per process output (a container's or an exec's).
#[derive(Default)]
pub struct Hub {
    subs: RefCell<Vec<Weak<Subscription>>>,
    closed: Cell<bool>,
}

impl Hub {
    /// A new subscriber that sees output from now on. Subscribing to a
    /// closed hub yields a subscription that is closed at once.
    pub fn subscribe(&self) -> Rc<Subscription> {
        let s = Rc::new(Subscription::default());
        if self.closed.get() {
            s.close();
        } else {
            self.subs.borrow_mut().push(Rc::downgrade(&s));
        }
        s
    }

    /// Whether anyone listens (so publishers can skip copying).
    pub fn has_subscribers(&self) -> bool {
        self.subs.borrow().iter().any(|w| w.strong_count() > 0)
    }

    /// Queues `bytes` for every live subscriber.
    pub fn publish(&self, stream: Stream, bytes: &[u8]) {
        let mut subs = self.subs.borrow_mut();
        subs.retain(|w| w.strong_count() > 0);
        for s in subs.iter().filter_map(Weak::upgrade) {
            s.push(stream, bytes);
        }
    }

    /// Every source ended: subscribers get `Closed` after their queue.
    pub fn close(&self) {
        self.closed.set(true);
        for s in self.subs.borrow_mut().drain(..).filter_map(|w| w.upgrade()) {
            s.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_see_output_from_when_they_joined() {
        let hub = Hub::default();
        hub.publish(Stream::Stdout, b"before");
        let a = hub.subscribe();
        hub.publish(Stream::Stdout, b"one");
        let b = hub.subscribe();
        hub.publish(Stream::Stderr, b"two");
        hub.close();
        assert_eq!(
            a.try_next(),
            Some(Next::Chunk(Stream::Stdout, b"one".to_vec()))
        );
        assert_eq!(
            a.try_next(),
            Some(Next::Chunk(Stream::Stderr, b"two".to_vec()))
        );
        assert_eq!(a.try_next(), Some(Next::Closed));
        assert_eq!(
            b.try_next(),
            Some(Next::Chunk(Stream::Stderr, b"two".to_vec()))
        );
        assert_eq!(b.try_next(), Some(Next::Closed));
        assert_eq!(hub.subscribe().try_next(), Some(Next::Closed));
    }

    #[test]
    fn a_slow_subscriber_is_cut_off_without_affecting_others() {
        let hub = Hub::default();
        let slow = hub.subscribe();
        let fast = hub.subscribe();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..(SUBSCRIBER_CAP / chunk.len() + 1) {
            hub.publish(Stream::Stdout, &chunk);
            assert!(matches!(fast.try_next(), Some(Next::Chunk(..))));
        }
        assert_eq!(slow.try_next(), Some(Next::Overflowed));
        assert_eq!(fast.try_next(), None);
    }

    #[test]
    fn dropped_subscribers_are_forgotten() {
        let hub = Hub::default();
        drop(hub.subscribe());
        assert!(!hub.has_subscribers());
        hub.publish(Stream::Stdout, b"x");
        assert!(hub.subs.borrow().is_empty());
    }
}
