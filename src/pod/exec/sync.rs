//! ExecSync: run a command to its end, capture its output up to a cap,
//! kill it (and what it started) after a timeout.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{ExecSpec, PIPE_GRACE, exited_event, kill_tree, spawn_exec};
use crate::pod::{Pod, PodError};
use crate::reactor::sync::Notify;
use crate::reactor::{ops, sync};
use crate::sys::error::SysError;
use crate::sys::process::{Captured, ExitInfo, capture};

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
    let mut exec = spawn_exec(pod, id, spec, false, deadline).await?;
    let (out, err) = (
        RefCell::new(Captured::default()),
        RefCell::new(Captured::default()),
    );
    let process = exec.process.clone();
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
                        kill_tree(&process);
                        process.wait().await
                    }
                }
            }
        };
        exited.set(true);
        exit_notify.notify_all();
        status.map_err(|e| PodError::from(SysError::io("waiting for the exec", &e)))
    };
    let (out_fd, err_fd) = (exec.stdout.take(), exec.stderr.take());
    let reading = async {
        let both = sync::join(
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
        );
        // A background child may hold the pipes open after the exec
        // exited: then return what was read after a grace period.
        let grace = async {
            exit_notify.wait_until(|| exited.get().then_some(())).await;
            ops::sleep(PIPE_GRACE).await;
        };
        if let sync::Either::Right(()) = sync::select(both, grace).await {
            log::info!(
                "container {id}: {} left its output open; returning what was read",
                exec.exec_id
            );
        }
    };
    let (status, ()) = sync::join(waiting, reading).await;
    let status = status?;
    exited_event(pod, id, &exec.exec_id, status);
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
