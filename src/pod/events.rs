//! The pod's event stream: what happened to which container, numbered and
//! journaled, pushed to every watcher so nobody has to poll.
//!
//! Every event gets a `seq`, one more than the last one (the journal's last
//! at start, so numbers go on across restarts and upgrades). The hub keeps
//! the journal's events in memory, in one ring shared by all watchers: a
//! watcher is only a cursor (the next seq it wants), so replaying from an
//! old `seq` and following live events are the same walk, with no gap and
//! no duplicate where one turns into the other. A watcher whose next event
//! has left the ring fell too far behind and is cut off (it learns so)
//! rather than holding memory or slowing the pod.
//!
//! An event reaches watchers only once its journal line is written: what a
//! watcher saw, a monitor started after this one still has, so a `since` an
//! engine kept never names an event the next monitor does not know.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

pub use super::event::{Event, EventKind};
use super::journal::{self, JournalError, SEGMENT_EVENTS, Segments};
use crate::reactor::{self, ops, sync::Notify};

/// Delay before retrying a failed journal write (disk full).
const RETRY: Duration = Duration::from_secs(1);

/// Why a watch from `since` cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The events after `since` are no longer all kept.
    #[error("events after {since} are gone: the oldest kept is {oldest}")]
    Expired {
        /// What was asked.
        since: u64,
        /// The oldest event still kept (the next one to be numbered when
        /// none is).
        oldest: u64,
    },
    /// No event has been numbered `since` yet.
    #[error("{since} is after the last event, {last}")]
    Future {
        /// What was asked.
        since: u64,
        /// The last event's seq (0 when there was none).
        last: u64,
    },
}

/// Lines waiting for the journal, in order, with where segments change.
enum Chunk {
    /// Lines, and the seq of the last one.
    Lines(Vec<u8>, u64),
    /// Move to the other segment before the next lines.
    Swap,
}

/// The disk side: the segments and what waits to be written.
struct Disk {
    segments: RefCell<Segments>,
    queue: RefCell<VecDeque<Chunk>>,
    writing: Cell<bool>,
}

/// What the hub and its watchers share.
struct Shared {
    /// The kept events, seq strictly increasing.
    ring: RefCell<VecDeque<Event>>,
    /// The seq the next event gets.
    next_seq: Cell<u64>,
    /// The last seq watchers may see (written to the journal).
    visible: Cell<u64>,
    /// The first seq of the current segment.
    current_first: Cell<u64>,
    /// Events in the current segment.
    current_count: Cell<usize>,
    /// None: in memory only (unit tests of the hub).
    disk: Option<Disk>,
    notify: Notify,
}

/// A watcher: the next seq it wants, and which container's.
pub struct Watcher {
    filter: Option<String>,
    next: Cell<u64>,
    shared: Rc<Shared>,
}

/// What a watcher gets next.
pub enum Next {
    /// An event.
    Event(Event),
    /// The watcher fell behind and its next event is gone.
    Overflowed,
}

impl Watcher {
    /// Waits for the next event.
    pub async fn next(&self) -> Next {
        let s = &self.shared;
        s.notify.wait_until(|| self.poll()).await
    }

    /// The next event if one is visible; skips other containers' events.
    fn poll(&self) -> Option<Next> {
        let s = &self.shared;
        let ring = s.ring.borrow();
        let oldest = ring.front().map_or(s.next_seq.get(), |e| e.seq);
        if self.next.get() < oldest {
            return Some(Next::Overflowed);
        }
        let from = ring.partition_point(|e| e.seq < self.next.get());
        for e in ring.range(from..) {
            if e.seq > s.visible.get() {
                return None;
            }
            self.next.set(e.seq + 1);
            if self.filter.as_ref().is_none_or(|f| *f == e.id) {
                return Some(Next::Event(e.clone()));
            }
        }
        None
    }
}

/// The pod's event publisher and its journal.
pub struct Events {
    shared: Rc<Shared>,
}

impl Default for Events {
    /// A hub without a journal: numbers start at 1 and nothing survives.
    fn default() -> Events {
        Events::with(Vec::new(), None, None)
    }
}

impl Events {
    /// The hub of the journal in `state_dir`: its events are kept (and
    /// replayed), and numbering goes on after the last one.
    pub fn open(state_dir: &Path) -> Result<Events, JournalError> {
        let loaded = Segments::load(state_dir)?;
        let disk = Disk {
            segments: RefCell::new(loaded.segments),
            queue: RefCell::default(),
            writing: Cell::new(false),
        };
        Ok(Events::with(
            loaded.events,
            loaded.current_first,
            Some(disk),
        ))
    }

    fn with(events: Vec<Event>, current_first: Option<u64>, disk: Option<Disk>) -> Events {
        let last = events.last().map_or(0, |e| e.seq);
        let count = disk.as_ref().map_or(0, |d| d.segments.borrow().count);
        Events {
            shared: Rc::new(Shared {
                ring: RefCell::new(events.into()),
                next_seq: Cell::new(last + 1),
                visible: Cell::new(last),
                current_first: Cell::new(current_first.unwrap_or(last + 1)),
                current_count: Cell::new(count),
                disk,
                notify: Notify::default(),
            }),
        }
    }

    /// The last event's seq (0 when there was none yet).
    pub fn last_seq(&self) -> u64 {
        self.shared.next_seq.get() - 1
    }

    /// A new watcher for every container (or only `id`). Without `since`
    /// it sees events from now on (the caller sends the current state
    /// first); with it, first the kept events after `since`, in order.
    pub fn watch(&self, id: Option<String>, since: Option<u64>) -> Result<Watcher, WatchError> {
        let s = &self.shared;
        let last = self.last_seq();
        let next = match since {
            None => last + 1,
            Some(since) if since > last => return Err(WatchError::Future { since, last }),
            Some(since) => {
                let oldest = s.ring.borrow().front().map_or(last + 1, |e| e.seq);
                if since + 1 < oldest {
                    return Err(WatchError::Expired { since, oldest });
                }
                since + 1
            }
        };
        Ok(Watcher {
            filter: id,
            next: Cell::new(next),
            shared: s.clone(),
        })
    }

    /// Numbers the event, journals it and, once written, shows it to every
    /// watcher that wants it.
    pub fn emit(&self, mut e: Event) {
        let s = &self.shared;
        e.seq = s.next_seq.get();
        s.next_seq.set(e.seq + 1);
        log::debug!("event {} {:?} {}", e.seq, e.kind, e.id);
        let Some(disk) = &s.disk else {
            self.keep(e, false);
            s.visible.set(s.next_seq.get() - 1);
            s.notify.notify_all();
            return;
        };
        let swap = s.current_count.get() >= SEGMENT_EVENTS;
        let mut q = disk.queue.borrow_mut();
        if swap {
            q.push_back(Chunk::Swap);
        }
        match q.back_mut() {
            Some(Chunk::Lines(buf, last)) => {
                journal::encode(&e, buf);
                *last = e.seq;
            }
            _ => {
                let mut buf = Vec::with_capacity(256);
                journal::encode(&e, &mut buf);
                q.push_back(Chunk::Lines(buf, e.seq));
            }
        }
        drop(q);
        self.keep(e, swap);
        if !disk.writing.replace(true) {
            reactor::spawn(write_queue(s.clone()));
        }
    }

    /// Puts `e` in the ring; with `swap` it starts a new segment, and the
    /// events of the segment it replaces leave the ring.
    fn keep(&self, e: Event, swap: bool) {
        let s = &self.shared;
        let mut ring = s.ring.borrow_mut();
        if swap {
            let old_first = s.current_first.get();
            while ring.front().is_some_and(|f| f.seq < old_first) {
                ring.pop_front();
            }
            s.current_first.set(e.seq);
            s.current_count.set(0);
        }
        if s.disk.is_none() && ring.len() >= 2 * SEGMENT_EVENTS {
            ring.pop_front();
        }
        s.current_count.set(s.current_count.get() + 1);
        ring.push_back(e);
    }

    /// Resolves once every event emitted so far is in the journal.
    pub async fn flushed(&self) {
        let s = &self.shared;
        s.notify
            .wait_until(|| (s.visible.get() + 1 == s.next_seq.get()).then_some(()))
            .await
    }
}

/// Writes the queued lines in order, retrying after errors (a full disk
/// delays events, it does not lose them); ends when the queue is empty.
async fn write_queue(s: Rc<Shared>) {
    let disk = s.disk.as_ref().expect("only a hub with a journal writes");
    loop {
        let chunk = disk.queue.borrow_mut().pop_front();
        match chunk {
            None => break,
            Some(Chunk::Swap) => loop {
                match disk.segments.borrow_mut().swap() {
                    Ok(()) => break,
                    Err(e) => log::warn!("event journal: {e}; retrying"),
                }
                ops::sleep(RETRY).await;
            },
            Some(Chunk::Lines(buf, last)) => {
                write_lines(disk, buf).await;
                s.visible.set(last);
                s.notify.notify_all();
            }
        }
    }
    disk.writing.set(false);
}

/// Appends `buf` to the current segment completely.
///
/// With a plain write(2) on the loop, not an io_uring write: the kernel
/// may punt a buffered append to an io-wq worker, and the last such worker
/// never exits but wakes every 5 s, so one event would end the monitor's
/// silence while idle for good. The lines of a burst of events go in one
/// write to the page cache (no fsync): microseconds, like an `openat`.
async fn write_lines(disk: &Disk, buf: Vec<u8>) {
    let mut done = 0;
    while done < buf.len() {
        let fd = disk.segments.borrow().fd();
        match rustix::io::write(&*fd, &buf[done..]).map_err(io::Error::from) {
            Ok(0) => retry(disk, &io::ErrorKind::WriteZero.into()).await,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => retry(disk, &e).await,
        }
    }
}

async fn retry(disk: &Disk, e: &io::Error) {
    let path = disk.segments.borrow().path();
    log::warn!("event journal: writing {}: {e}; retrying", path.display());
    ops::sleep(RETRY).await;
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
