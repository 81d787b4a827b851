//! ExecSync: run a command to its end, capture its output up to a cap,
//! kill it (and what it started) after a timeout.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{ExecSpec, PIPE_GRACE, exited_event, kill_tree, spawn_exec};
use crate::pod::{Pod, PodError};
use crate::reactor::sync::Notify;
use crate::reactor::{ops, sync};
use crate::sys::capture::{Captured, capture};
use crate::sys::error::SysError;
use crate::sys::process::{ExitInfo, Watched};

/// What ExecSync returns.
#[derive(Debug)]
pub struct ExecSyncResult {
    /// How the process ended.
    pub status: ExitInfo,
    /// Its stdout, up to the cap.
    pub stdout: Vec<u8>,
    /// Its stderr, up to the cap.
    pub stderr: Vec<u8>,
    /// stdout went over the cap.
    pub stdout_truncated: bool,
    /// stderr went over the cap.
    pub stderr_truncated: bool,
    /// The timeout killed it.
    pub timed_out: bool,
}

impl ExecSyncResult {
    /// A command that could not be started: the shell's code (127 missing,
    /// 126 not executable) and the runtime's words on stderr.
    pub fn not_started(code: i32, message: &str) -> ExecSyncResult {
        ExecSyncResult {
            status: ExitInfo::exited(code),
            stdout: Vec::new(),
            stderr: format!("{message}\n").into_bytes(),
            stdout_truncated: false,
            stderr_truncated: false,
            timed_out: false,
        }
    }
}

/// Runs a command to completion in container `id`; kills it (and what it
/// started) after `timeout`, counted from the call: a runtime that takes
/// that long to start it is killed and the call fails naming the timeout.
pub async fn exec_sync(
    pod: &Rc<Pod>,
    id: &str,
    spec: &ExecSpec,
    timeout: Option<Duration>,
    cap: usize,
) -> Result<ExecSyncResult, PodError> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut exec = match spawn_exec(pod, id, spec, false, deadline).await {
        Ok(e) => e,
        Err(e) => match e.not_executable() {
            Some((code, message)) => return Ok(ExecSyncResult::not_started(code, message)),
            None => return Err(e),
        },
    };
    let (out_fd, err_fd) = (exec.stdout.take(), exec.stderr.take());
    let what = format!("container {id}: {}", exec.exec_id);
    let pipes = Pipes {
        stdout: out_fd,
        stderr: err_fd,
        stdin: None,
    };
    let res = run_to_end(&exec.process, pipes, deadline, cap, &what).await?;
    exited_event(pod, id, &exec.exec_id, res.status);
    Ok(res)
}

/// The pipes of a process being run to its end.
pub struct Pipes {
    /// Its stdout (read end).
    pub stdout: Option<OwnedFd>,
    /// Its stderr (read end).
    pub stderr: Option<OwnedFd>,
    /// Its stdin (write end) and what to write there before closing it.
    pub stdin: Option<(OwnedFd, Vec<u8>)>,
}

/// Waits for `process` to end while reading both pipes up to `cap` (and
/// feeding its stdin); kills its tree at `deadline`. Pipes a background
/// child keeps open are given up [`PIPE_GRACE`] after the exit (`what`
/// names the process in the log line that says so).
pub async fn run_to_end(
    process: &Rc<Watched>,
    pipes: Pipes,
    deadline: Option<Instant>,
    cap: usize,
    what: &str,
) -> Result<ExecSyncResult, PodError> {
    let (out, err) = (
        RefCell::new(Captured::default()),
        RefCell::new(Captured::default()),
    );
    let timed_out = Cell::new(false);
    let exited = Cell::new(false);
    let exit_notify = Notify::default();
    let waiting = async {
        let status = match deadline {
            None => process.wait().await,
            Some(d) => {
                match sync::timeout(d.saturating_duration_since(Instant::now()), process.wait())
                    .await
                {
                    Some(s) => s,
                    None => {
                        timed_out.set(true);
                        kill_tree(process);
                        process.wait().await
                    }
                }
            }
        };
        exited.set(true);
        exit_notify.notify_all();
        status.map_err(|e| PodError::from(SysError::io("waiting for the process", &e)))
    };
    let Pipes {
        stdout: out_fd,
        stderr: err_fd,
        stdin,
    } = pipes;
    let reading = async {
        let both = sync::join(
            sync::join(
                async {
                    if let Some(fd) = out_fd {
                        capture(fd, cap, &out).await;
                    }
                },
                async {
                    if let Some(fd) = err_fd {
                        capture(fd, cap, &err).await;
                    }
                },
            ),
            async {
                if let Some((fd, bytes)) = stdin {
                    // A process that does not read it all gets EPIPE here.
                    let _ = ops::write_all(fd.as_fd(), bytes).await;
                }
            },
        );
        // A background child may hold the pipes open after the process
        // exited: then return what was read after a grace period.
        let grace = async {
            exit_notify.wait_until(|| exited.get().then_some(())).await;
            ops::sleep(PIPE_GRACE).await;
        };
        if let sync::Either::Right(()) = sync::select(both, grace).await {
            log::info!("{what} left its output open; returning what was read");
        }
    };
    let (status, ()) = sync::join(waiting, reading).await;
    let status = status?;
    let (out, err) = (out.into_inner(), err.into_inner());
    Ok(ExecSyncResult {
        status,
        stdout: out.bytes,
        stderr: err.bytes,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        timed_out: timed_out.get(),
    })
}
