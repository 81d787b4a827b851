//! RunInPod: a host program (a CNI plugin, a hook) run to its end inside
//! the pod's namespaces, its output captured as ExecSync captures an
//! exec's. It is the monitor's child, never a container's process: no
//! runtime is involved, and its environment is PATH plus what was asked.

use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::exec::{ExecSyncResult, Pipes, kill_tree, run_to_end};
use super::netns::pod_namespace;
use super::{Pod, PodError, limits};
use crate::reactor;
use crate::sys::error::SysError;
use crate::sys::netns::{self, HostCommand};
use crate::sys::process::{Watched, pipe};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// Program (a path, or a name looked up in the monitor's PATH) and
    /// arguments.
    pub command: Vec<String>,
    /// KEY=VALUE entries beside PATH.
    pub env: Vec<String>,
    /// The pod's namespaces to join (checked by `limits::namespaces`).
    pub namespaces: Vec<String>,
    /// Written to its stdin, then closed; else stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
}

/// Kills the process tree of a run nobody waits for any more (its caller
/// hung up) and leaves a task that reaps it.
struct Reaper(Rc<Watched>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.0.reaped() {
            return;
        }
        log::info!(
            "RunInPod pid {} has no caller any more: killing it",
            self.0.pid()
        );
        kill_tree(&self.0);
        let process = self.0.clone();
        reactor::spawn(async move {
            let _ = process.wait().await;
        });
    }
}

/// The CLONE_NEW* flag of a namespace kind `limits::namespaces` let through.
fn clone_flag(kind: &str) -> libc::c_int {
    match kind {
        "net" => libc::CLONE_NEWNET,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        _ => libc::CLONE_NEWPID,
    }
}

/// Runs `spec` in the pod's namespaces; kills it and what it started after
/// `timeout`, or when the caller goes away (this future dropped).
pub async fn run_in_pod(
    pod: &Pod,
    spec: &RunSpec,
    timeout: Option<Duration>,
    cap: usize,
) -> Result<ExecSyncResult, PodError> {
    limits::argv_env(&spec.command, &spec.env)?;
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut files: Vec<(OwnedFd, libc::c_int)> = Vec::new();
    for kind in &spec.namespaces {
        let path = pod_namespace(pod, kind).ok_or_else(|| PodError::NoNamespace(kind.clone()))?;
        let fd = if kind == "net" {
            netns::open(&path)?
        } else {
            open_plain(&path)?
        };
        files.push((fd, clone_flag(kind)));
    }
    let raw: Vec<_> = files.iter().map(|(f, k)| (f.as_raw_fd(), *k)).collect();
    let (stdin, feed) = match &spec.stdin {
        Some(bytes) => {
            let (r, w) = pipe().map_err(|e| SysError::io("pipe", &e))?;
            (Some(r), Some((w, bytes.clone())))
        }
        None => (None, None),
    };
    let cmd = HostCommand {
        argv: &spec.command,
        env: &spec.env,
        namespaces: &raw,
    };
    let program = std::path::Path::new(&spec.command[0]);
    let (process, out, err) = match netns::spawn_in(&cmd, stdin) {
        Ok(started) => started,
        Err(e) => {
            let msg = format!("{}: {e}", program.display());
            return match shell_code(&e) {
                Some(code) => Ok(ExecSyncResult::not_started(code, &msg)),
                None => Err(SysError::at("running", program, &e).into()),
            };
        }
    };
    drop(files);
    let process = Rc::new(process);
    let _reaper = Reaper(process.clone());
    log::debug!(
        "RunInPod {:?} started (pid {})",
        spec.command,
        process.pid()
    );
    let pipes = Pipes {
        stdout: Some(out),
        stderr: Some(err),
        stdin: feed,
    };
    let what = format!("RunInPod pid {}", process.pid());
    run_to_end(&process, pipes, deadline, cap, &what).await
}

/// The shell's code for a program that could not be started: 127 when
/// it does not exist, 126 when it cannot be executed; none for failures
/// of our own (a namespace that could not be joined, no memory).
fn shell_code(e: &std::io::Error) -> Option<i32> {
    match e.raw_os_error()? {
        libc::ENOENT => Some(127),
        libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ENOTDIR => Some(126),
        _ => None,
    }
}

fn open_plain(path: &std::path::Path) -> Result<OwnedFd, SysError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| SysError::at("opening", path, &e.into()))
}
