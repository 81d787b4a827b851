//! WatchEvents and its `Event` record.

use serde::{Deserialize, Serialize};

use super::container::ContainerInfo;
use super::method;

/// What happened to a container: the IDL's `EventKind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    /// CreateContainer succeeded.
    Created,
    /// StartContainer succeeded.
    Started,
    /// The init process exited and the log is complete.
    Exited,
    /// The OOM killer killed a process of the container.
    Oom,
    /// An exec started.
    ExecStarted,
    /// An exec exited.
    ExecExited,
    /// The container was deleted.
    Deleted,
    /// A rate limit dropped log output.
    LogDropped,
}

impl EventKind {
    /// Every kind, in the IDL's order.
    #[cfg(test)]
    pub const ALL: [EventKind; 8] = [
        EventKind::Created,
        EventKind::Started,
        EventKind::Exited,
        EventKind::Oom,
        EventKind::ExecStarted,
        EventKind::ExecExited,
        EventKind::Deleted,
        EventKind::LogDropped,
    ];
}

/// One event: on the wire one record whose `kind` says which of the
/// optional fields it carries; here one variant per kind, so a reader
/// cannot look for an exit code on an `execStarted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its number: strictly increasing, across restarts of the monitor.
    pub seq: u64,
    /// The container.
    pub id: String,
    /// When, RFC 3339 UTC with nanoseconds.
    pub timestamp: String,
    /// What happened, with what that kind carries (and `kind` itself).
    #[serde(flatten)]
    pub detail: EventDetail,
}

/// The kind of an [`Event`] and the fields that come with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EventDetail {
    /// See [`EventKind::Created`].
    Created,
    /// See [`EventKind::Started`].
    Started,
    /// The init process exited.
    Exited {
        /// 128+N when signal N killed it; none when it ended while no
        /// monitor was its parent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The killing signal, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        /// The OOM killer ended it.
        oom_killed: bool,
    },
    /// See [`EventKind::Oom`].
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
        /// 128+N when signal N killed it.
        exit_code: i32,
        /// The killing signal, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
    },
    /// See [`EventKind::Deleted`].
    Deleted,
    /// A rate limit dropped output.
    LogDropped {
        /// Bytes dropped since the last such event.
        bytes_dropped: u64,
    },
}

impl EventDetail {
    /// The kind, without its fields.
    pub fn kind(&self) -> EventKind {
        match self {
            EventDetail::Created => EventKind::Created,
            EventDetail::Started => EventKind::Started,
            EventDetail::Exited { .. } => EventKind::Exited,
            EventDetail::Oom => EventKind::Oom,
            EventDetail::ExecStarted { .. } => EventKind::ExecStarted,
            EventDetail::ExecExited { .. } => EventKind::ExecExited,
            EventDetail::Deleted => EventKind::Deleted,
            EventDetail::LogDropped { .. } => EventKind::LogDropped,
        }
    }
}

/// WatchEvents (needs `more`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEvents {
    /// Only this container's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// First the kept events after this seq, then live ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// The first reply carries the state, every later one an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchEventsReply {
    /// The current state (first reply only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerInfo>>,
    /// The seq of the last event before the state was taken (first reply
    /// only): what to pass as `since` to go on from this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// An event (every later reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

method! {
    WatchEvents => WatchEventsReply,
}
