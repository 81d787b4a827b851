//! One container's record: what the API reports and what its monitor task
//! updates when the init process exits.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::SystemTime;

use super::state::{ExitReason, LogRecord};
use super::status::{State, Status};
use super::stdin::StdinSlot;
use crate::cgroups::CgroupPaths;
use crate::logs::LogSink;
use crate::reactor::sync::Notify;
use crate::sys::process::ExitInfo;

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
    /// What its state record keeps that the rest does not say.
    pub settings: Settings,
}

/// The parts of a container's state record fixed at its create: with
/// these, a new monitor logs and attaches to it as the old one did.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its log settings.
    pub log: LogRecord,
    /// It has a stdin pipe (or the pty).
    pub stdin: bool,
    /// Its stdin closes when the first attached client detaches.
    pub stdin_once: bool,
    /// The init process's pid (kept after the process is gone).
    pub pid: i32,
    /// The init process's start time, when /proc could say.
    pub pid_start_time: Option<u64>,
}

/// Kubernetes' words for why a container stopped.
pub fn exit_reason(e: ExitInfo, oom_killed: bool) -> &'static str {
    ExitReason::of(e, oom_killed).as_str()
}

/// What a container is made of, whether a create just made it or a new
/// monitor re-adopts it from its record.
pub(super) struct Parts {
    pub id: String,
    pub bundle: PathBuf,
    pub dir: PathBuf,
    pub created_at: SystemTime,
    pub log: Rc<LogSink>,
    pub state: State,
    pub stdin: Rc<StdinSlot>,
    pub pty: Option<Rc<std::os::fd::OwnedFd>>,
    pub cgroup: Option<CgroupPaths>,
    pub settings: Settings,
}

impl Container {
    /// The container of `parts`; OOM kills its cgroup counted before now
    /// are not its own.
    pub(super) fn assemble(p: Parts) -> Rc<Container> {
        let oom_base = p
            .cgroup
            .as_ref()
            .and_then(CgroupPaths::oom_kills)
            .unwrap_or(0);
        Rc::new(Container {
            id: p.id,
            bundle: p.bundle,
            dir: p.dir,
            created_at: p.created_at,
            log: p.log,
            state: RefCell::new(p.state),
            changed: Default::default(),
            stdin: p.stdin,
            pty: p.pty,
            oom_base,
            oom_reported: std::cell::Cell::new(oom_base),
            dropped_before_start: Default::default(),
            cgroup: p.cgroup,
            settings: p.settings,
        })
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.state.borrow().status
    }
}
