//! io.podmon.Pod.Exec: a streaming exec, over an upgraded connection or as
//! `more` replies.

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::Pod;
use crate::pod::exec::{self, ExecSpec};
use std::os::fd::AsFd;

use crate::reactor::{ops, sync};
use crate::session::{self, End, Input, Output, PipeMerge};
use crate::sys::process::ExitInfo;
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    command: Vec<String>,
    env: Option<Vec<String>>,
    cwd: Option<String>,
    user: Option<String>,
    terminal: Option<bool>,
    width: Option<u16>,
    height: Option<u16>,
    interactive: Option<bool>,
    stdin: Option<String>,
}

/// The replies of Exec (and Attach): the first names the exec, then output
/// chunks, the last carries the exit code.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Out {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Starts a process in the container and streams its I/O.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    if !r.more() && !r.upgrade_requested() {
        return Err(VarlinkError::expected_more().into());
    }
    let interactive = p.interactive.unwrap_or(false);
    if interactive && !r.upgrade_requested() {
        return Err(super::invalid_value(
            "interactive",
            "interactive input needs an upgraded connection; give 'stdin' instead",
        )
        .into());
    }
    let spec = ExecSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        cwd: p.cwd,
        user: p.user,
        terminal: p.terminal.unwrap_or(false),
        size: p.width.zip(p.height),
    };
    let mut e = exec::spawn_exec(pod, &p.id, &spec, interactive || p.stdin.is_some()).await?;
    let process = e.process.clone();
    let first = Out {
        exec_id: Some(e.exec_id.clone()),
        pid: Some(process.pid()),
        ..Out::default()
    };
    let exec_id = e.exec_id.clone();
    let exit = async {
        match process.wait().await {
            Ok(s) => {
                exec::exited_event(pod, &p.id, &exec_id, s);
                s
            }
            Err(err) => {
                log::error!("waiting for exec: {err}");
                ExitInfo::UNKNOWN
            }
        }
    };
    // Output ends at end of file, or a grace period after the exec exited
    // if a background child keeps the pipes open (as ExecSync does).
    let give_up = {
        let process = process.clone();
        async move {
            let _ = process.wait().await;
            ops::sleep(exec::PIPE_GRACE).await;
        }
    };
    let output = Output::Pipes(PipeMerge::new(e.stdout.take(), e.stderr.take()).until(give_up));
    let stdin = e.stdin.take().map(Rc::new);
    // Input given up front (for clients that cannot upgrade) is written,
    // then stdin is closed (the last copy of the fd is dropped).
    let (interactive_stdin, feed_stdin) = if interactive {
        (stdin, None)
    } else {
        (None, stdin)
    };
    let feed = async move {
        if let (Some(text), Some(fd)) = (p.stdin, feed_stdin)
            && let (Err(err), _) =
                crate::reactor::ops::write_all(fd.as_fd(), text.into_bytes()).await
        {
            log::debug!("exec stdin: {err}");
        }
    };
    let end = if r.upgrade_requested() {
        r.reply(params::encode(&first)).await?;
        let (sock, io) = r.take_upgrade().expect("upgrade requested");
        let input = Input {
            stdin: interactive_stdin,
            on_stdin_eof: None,
            pty: e.pty.clone(),
        };
        let run = session::run_upgraded(sock, io.leftover, io.pending, output, input, exit);
        sync::join(run, feed).await.0
    } else {
        r.reply_continues(params::encode(&first)).await?;
        let replies = super::replies::replies(r, output, exit);
        let end = sync::join(replies, feed).await.0;
        if let End::Exited(exit) = end {
            r.reply(params::encode(&last(exit))).await?;
        }
        end
    };
    if let End::ClientGone | End::Overflowed = end {
        // Nobody is left to see the output: do not leave the exec running.
        exec::kill_tree(&process);
        let _ = process.wait().await;
    }
    Ok(())
}

/// The final reply: the exit code and the signal's name when one killed it
/// (as `waitid` said: a process that exits 137 by itself names no signal).
pub(super) fn last(exit: ExitInfo) -> Out {
    Out {
        exit_code: Some(exit.exit_code()),
        signal: exit.signal_name(),
        ..Out::default()
    }
}
