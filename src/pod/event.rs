//! One event of the pod and its kinds: what the event stream numbers and
//! hands to watchers (`events.rs`) and the journal keeps (`journal.rs`).

use std::time::SystemTime;

use crate::sys::process::ExitInfo;

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

/// One event: what happened to which container, when, and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its number: strictly increasing, across restarts of the monitor.
    /// 0 until `Events::emit` gives it one.
    pub seq: u64,
    /// The container.
    pub id: String,
    /// When.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// An event of `kind` for container `id`, now (numbered when emitted).
    pub fn new(kind: EventKind, id: &str) -> Event {
        Event {
            seq: 0,
            kind,
            id: id.to_owned(),
            at: SystemTime::now(),
        }
    }
}
