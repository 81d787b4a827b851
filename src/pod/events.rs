//! The pod's event stream: what happened to which container, pushed to
//! every watcher so nobody has to poll.
//!
//! Each watcher has its own bounded queue; one that falls too far behind is
//! cut off (it learns so) rather than holding memory or slowing the pod.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::SystemTime;

use crate::reactor::sync::Notify;
use crate::sys::process::ExitInfo;

/// Events a watcher may have queued before it is cut off.
const WATCHER_CAP: usize = 10_000;

/// What happened, with what each kind of event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// CreateContainer succeeded.
    Created,
    /// StartContainer succeeded.
    Started,
    /// The init process exited and the log is complete.
    Exited {
        /// How it ended.
        exit: ExitInfo,
        /// Whether the OOM killer ended it.
        oom_killed: bool,
    },
    /// The kernel's OOM killer killed a process of the container.
    Oom,
    /// An exec started.
    ExecStarted {
        /// The exec.
        exec_id: String,
    },
    /// An exec exited.
    ExecExited {
        /// The exec.
        exec_id: String,
        /// How it ended.
        exit: ExitInfo,
    },
    /// The container was deleted.
    Deleted,
    /// A rate limit dropped log output.
    LogDropped {
        /// How many bytes.
        bytes: u64,
    },
}

/// One event: what happened to which container, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The container.
    pub id: String,
    /// When.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// An event of `kind` for container `id`, now.
    pub fn new(kind: EventKind, id: &str) -> Event {
        Event {
            kind,
            id: id.to_owned(),
            at: SystemTime::now(),
        }
    }
}

/// A watcher's queue.
#[derive(Default)]
pub struct Watcher {
    filter: Option<String>,
    queue: RefCell<VecDeque<Event>>,
    overflowed: Cell<bool>,
    notify: Notify,
}

/// What a watcher gets next.
pub enum Next {
    /// An event.
    Event(Event),
    /// The watcher fell behind and was cut off.
    Overflowed,
}

impl Watcher {
    /// Waits for the next event.
    pub async fn next(&self) -> Next {
        self.notify
            .wait_until(|| {
                if self.overflowed.get() {
                    return Some(Next::Overflowed);
                }
                self.queue.borrow_mut().pop_front().map(Next::Event)
            })
            .await
    }
}

/// The pod's event publisher.
#[derive(Default)]
pub struct Events {
    watchers: RefCell<Vec<Weak<Watcher>>>,
}

impl Events {
    /// A new watcher for every container (or only `id`). It sees events
    /// from now on; the caller sends the current state first.
    pub fn watch(&self, id: Option<String>) -> Rc<Watcher> {
        let w = Rc::new(Watcher {
            filter: id,
            ..Watcher::default()
        });
        self.watchers.borrow_mut().push(Rc::downgrade(&w));
        w
    }

    /// Sends an event to every watcher that wants it.
    pub fn emit(&self, e: Event) {
        log::debug!("event {:?} {}", e.kind, e.id);
        let mut ws = self.watchers.borrow_mut();
        ws.retain(|w| w.strong_count() > 0);
        for w in ws.iter().filter_map(Weak::upgrade) {
            if w.filter.as_ref().is_some_and(|f| *f != e.id) || w.overflowed.get() {
                continue;
            }
            let mut q = w.queue.borrow_mut();
            if q.len() >= WATCHER_CAP {
                q.clear();
                w.overflowed.set(true);
            } else {
                q.push_back(e.clone());
            }
            drop(q);
            w.notify.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &Watcher) -> Vec<EventKind> {
        w.queue.borrow_mut().drain(..).map(|e| e.kind).collect()
    }

    #[test]
    fn watchers_get_their_events_in_order() {
        let ev = Events::default();
        let all = ev.watch(None);
        let one = ev.watch(Some("a".into()));
        ev.emit(Event::new(EventKind::Created, "a"));
        ev.emit(Event::new(EventKind::Created, "b"));
        ev.emit(Event::new(EventKind::Started, "a"));
        assert_eq!(
            take(&all),
            [EventKind::Created, EventKind::Created, EventKind::Started]
        );
        assert_eq!(take(&one), [EventKind::Created, EventKind::Started]);
    }

    #[test]
    fn a_stuck_watcher_is_cut_off() {
        let ev = Events::default();
        let w = ev.watch(None);
        for _ in 0..=WATCHER_CAP {
            ev.emit(Event::new(EventKind::Started, "a"));
        }
        assert!(w.overflowed.get());
        assert!(w.queue.borrow().is_empty());
    }
}
