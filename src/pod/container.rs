//! One container's record: what the API reports and what its monitor task
//! updates when the init process exits.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::SystemTime;

use serde::Serialize;

use super::status::Status;
use super::stdin::StdinSlot;
use crate::cgroups::CgroupPaths;
use crate::logs::LogSink;
use crate::logs::ratelimit::Limit;
use crate::reactor::sync::Notify;
use crate::sys::process::{ExitInfo, Watched};
use crate::sys::time::rfc3339_nanos;

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

/// A container of the pod.
pub struct Container {
    /// Container id (validated).
    pub id: String,
    /// The OCI bundle directory.
    pub bundle: PathBuf,
    /// podmon's own directory for this container (pid file, runtime log,
    /// and the bundle when podmon wrote it).
    pub dir: PathBuf,
    /// When CreateContainer succeeded.
    pub created_at: SystemTime,
    /// The log, fed by the container's stdout and stderr.
    pub log: Rc<LogSink>,
    /// Mutable state.
    pub state: RefCell<State>,
    /// Woken on every state change (start, exit, stop).
    pub changed: Notify,
    /// The container's stdin, lent to one attached client at a time.
    pub stdin: Rc<StdinSlot>,
    /// The pty master of a terminal container.
    pub pty: Option<Rc<std::os::fd::OwnedFd>>,
    /// The container's cgroup directories, found when it was created.
    pub cgroup: Option<CgroupPaths>,
    /// OOM kills in its cgroup when it was created (to tell its own).
    pub oom_base: u64,
    /// OOM kills already reported as events.
    pub oom_reported: std::cell::Cell<u64>,
    /// Bytes dropped while StartContainer ran, reported after `started`.
    pub dropped_before_start: std::cell::Cell<u64>,
}

/// ContainerInfo of the IDL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInfo {
    id: String,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    bundle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_path: Option<String>,
    log_bytes_written: u64,
    log_bytes_dropped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_rate_limit: Option<Limit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
    oom_killed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_reason: Option<&'static str>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    terminal: bool,
}

/// Kubernetes' words for why a container stopped.
pub fn exit_reason(e: ExitInfo, oom_killed: bool) -> &'static str {
    if oom_killed {
        "OOMKilled"
    } else if e.exit_code() == 0 {
        "Completed"
    } else {
        "Error"
    }
}

impl Container {
    /// The current status.
    pub fn status(&self) -> Status {
        self.state.borrow().status
    }

    /// The record as the API reports it.
    pub fn info(&self) -> ContainerInfo {
        let st = self.state.borrow();
        let counters = self.log.counters();
        ContainerInfo {
            id: self.id.clone(),
            status: st.status,
            pid: st.process.as_ref().map(|p| p.pid()),
            bundle: self.bundle.display().to_string(),
            log_path: self.log.path().map(|p| p.display().to_string()),
            log_bytes_written: counters.bytes_written,
            log_bytes_dropped: counters.bytes_dropped,
            log_error: counters.error,
            log_rate_limit: self.log.limit(),
            exit_code: st.exit.map(|e| e.exit_code()),
            signal: st.exit.and_then(|e| e.signal_name()),
            oom_killed: st.oom_killed,
            exit_reason: st.exit.map(|e| exit_reason(e, st.oom_killed)),
            created_at: rfc3339_nanos(self.created_at),
            started_at: st.started_at.map(rfc3339_nanos),
            finished_at: st.finished_at.map(rfc3339_nanos),
            terminal: self.pty.is_some(),
        }
    }
}
