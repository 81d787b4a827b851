//! Running extra processes in a container (`runtime exec`), watched by
//! podmon itself: no second monitor per exec, no pid files left behind.
//!
//! The runtime starts the process detached and exits; the process becomes
//! podmon's child (subreaper), so its exit is read through a pidfd exactly
//! like a container's. Execs are tracked apart from the container: killing,
//! stats, attach and log reopening act on the container, never on an exec.
//!
//! An exec whose caller is gone (a client that hung up, its handler
//! dropped) is killed with every process it started and reaped by a task of
//! its own: [`ExecProcess`] does that when dropped before the exec ended.

mod process_json;
mod spawn;
mod sync;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::Pod;
use super::events::{Event, EventKind};
use crate::reactor;
use crate::sys::process::{ExitInfo, Watched};

pub use crate::sys::process::kill_tree;
pub use spawn::spawn_exec;
pub use sync::{ExecSyncResult, Pipes, exec_sync, run_to_end};

/// How long an exec's pipes may stay open after it exited (held by a
/// background child) before its output is returned anyway.
pub const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// Command and arguments.
    pub command: Vec<String>,
    /// KEY=VALUE entries added to (or replacing in) the container's env.
    pub env: Vec<String>,
    /// Working directory; default the container's.
    pub cwd: Option<String>,
    /// uid and, if given, gid (else the uid's number); default the
    /// container's user.
    pub user: Option<(u32, Option<u32>)>,
    /// Give the process a pty.
    pub terminal: bool,
    /// The pty's initial size (columns, rows), so the process sees it from
    /// its first instruction.
    pub size: Option<(u16, u16)>,
}

/// One exec being set up or running. Dropped before the exec ended, it
/// kills the exec's process tree and leaves a task that reaps it.
pub struct ExecProcess {
    /// The exec's id, unique within the pod.
    pub exec_id: String,
    /// The process.
    pub process: Rc<Watched>,
    /// Its stdin (write end), when asked for.
    pub stdin: Option<OwnedFd>,
    /// Its stdout (read end); for terminal execs the pty master.
    pub stdout: Option<OwnedFd>,
    /// Its stderr (read end); none for terminal execs.
    pub stderr: Option<OwnedFd>,
    /// The pty master of a terminal exec (for resizing).
    pub pty: Option<Rc<OwnedFd>>,
    pub(super) _registration: Registration,
    pub(super) _dir: DirGuard,
    pub(super) _reaper: Reaper,
}

/// A running exec as the pod lists it: Resize finds its pty here.
pub struct ExecEntry {
    /// The container it runs in.
    pub container: String,
    /// Its pty master, for terminal execs.
    pub pty: Option<Rc<OwnedFd>>,
}

/// Keeps an exec in the pod's table for as long as it is handled.
pub(super) struct Registration {
    pub(super) pod: std::rc::Weak<Pod>,
    pub(super) exec_id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(pod) = self.pod.upgrade() {
            pod.execs.borrow_mut().remove(&self.exec_id);
        }
    }
}

/// Kills and reaps an exec nobody waits for any more.
pub(super) struct Reaper {
    pub(super) pod: std::rc::Weak<Pod>,
    pub(super) container: String,
    pub(super) exec_id: String,
    pub(super) process: Rc<Watched>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.process.reaped() {
            return;
        }
        log::info!(
            "container {}: {} has no caller any more: killing it",
            self.container,
            self.exec_id
        );
        kill_tree(&self.process);
        let (pod, id, exec_id) = (
            self.pod.clone(),
            std::mem::take(&mut self.container),
            std::mem::take(&mut self.exec_id),
        );
        let process = self.process.clone();
        reactor::spawn(async move {
            match process.wait().await {
                Ok(status) => {
                    if let Some(pod) = pod.upgrade() {
                        exited_event(&pod, &id, &exec_id, status);
                    }
                }
                Err(e) => log::warn!("container {id}: reaping {exec_id}: {e}"),
            }
        });
    }
}

/// The exec's working directory (process.json, pid file, runtime log),
/// removed when the exec is done with, whatever way it ends.
pub(super) struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Emits `execExited`.
pub fn exited_event(pod: &Pod, id: &str, exec_id: &str, status: ExitInfo) {
    pod.events.emit(Event::new(
        EventKind::ExecExited {
            exec_id: exec_id.to_owned(),
            exit: status,
        },
        id,
    ));
}
