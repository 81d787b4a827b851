//! A container's lifecycle state and the rules of what each status allows,
//! in one place: the operations ask here instead of comparing statuses.

use std::rc::Rc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::PodError;
use crate::sys::process::{ExitInfo, Watched};

/// The mutable part of a container record.
#[derive(Debug)]
pub struct State {
    /// Lifecycle state.
    pub status: Status,
    /// The init process, while it has not been reaped.
    pub process: Option<Rc<Watched>>,
    /// When StartContainer succeeded.
    pub started_at: Option<SystemTime>,
    /// When the init process exited.
    pub finished_at: Option<SystemTime>,
    /// How the init process ended.
    pub exit: Option<ExitInfo>,
    /// The OOM killer ended the container.
    pub oom_killed: bool,
    /// A StartContainer call is running the runtime's `start`.
    pub starting: bool,
}

/// Lifecycle state, as the OCI runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created by the runtime; the process waits to be started.
    Created,
    /// Started and not yet exited.
    Running,
    /// The init process exited and its output is in the log.
    Stopped,
}

impl Status {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }

    /// Only a created container's process waits to be started.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    /// Extra processes join a running container only.
    pub fn can_exec(self) -> bool {
        self == Status::Running
    }

    /// A client can attach until the container stopped (a created one's
    /// first output is then not missed).
    pub fn can_attach(self) -> bool {
        self != Status::Stopped
    }

    /// A running container is deleted only with force (which kills it).
    pub fn can_delete(self, force: bool) -> bool {
        force || self != Status::Running
    }

    /// Deleting a container that has not stopped kills it first.
    pub fn delete_kills(self) -> bool {
        self != Status::Stopped
    }
}

/// The operations whose permission depends on the container's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// StartContainer.
    Start,
    /// KillContainer.
    Kill,
    /// Exec and ExecSync.
    Exec,
    /// Attach.
    Attach,
    /// DeleteContainer.
    Delete {
        /// Kill it if it runs.
        force: bool,
    },
}

impl State {
    /// Why `op` is refused now, or `None` if it is allowed.
    pub fn refuses(&self, op: Operation) -> Option<&'static str> {
        match op {
            Operation::Start if !self.status.can_start() => {
                Some("only a created container can be started")
            }
            Operation::Start if self.starting => Some("it is being started"),
            // The process is gone before the status says stopped (its
            // output is still draining): signals need the process.
            Operation::Kill if self.process.is_none() => Some("its process has exited"),
            Operation::Exec if !self.status.can_exec() || self.exit.is_some() => {
                Some("exec needs a running container")
            }
            Operation::Attach if !self.status.can_attach() => {
                Some("attach needs a created or running container")
            }
            Operation::Delete { force } if !self.status.can_delete(force) => {
                Some("stop it first, or delete with force")
            }
            _ => None,
        }
    }

    /// [`State::refuses`] as the error the pod returns.
    pub fn check(&self, id: &str, op: Operation) -> Result<(), PodError> {
        match self.refuses(op) {
            None => Ok(()),
            Some(reason) => Err(PodError::InvalidState {
                id: id.to_owned(),
                status: self.status,
                reason: reason.into(),
            }),
        }
    }
}
