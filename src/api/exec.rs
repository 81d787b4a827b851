//! io.podmon.Pod.Exec: a streaming exec, over an upgraded connection or as
//! `more` replies.

use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid, map, user};
use crate::pod::exec::{self, ExecSpec};
use crate::pod::{Pod, PodError, limits};
use crate::proto::{self, ExecReply};
use crate::reactor::{ops, sync};
use crate::session::{self, End, Input, Output, PipeMerge};
use crate::sys::error::SysError;
use crate::sys::process::{ExitInfo, Watched};
use crate::varlink::{Call, VarlinkError, params};

/// Starts a process in the container and streams its I/O.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let mut p: proto::Exec = decode(call)?;
    if !r.more() && !r.upgrade_requested() {
        return Err(VarlinkError::expected_more().into());
    }
    let interactive = p.interactive.unwrap_or(false);
    if interactive && !r.upgrade_requested() {
        return Err(invalid(
            "interactive",
            "interactive input needs an upgraded connection; give 'stdin' instead",
        ));
    }
    if p.fds.unwrap_or(false) {
        return handle_fds(pod, p, r).await;
    }
    let text = p.stdin.take();
    let id = p.id.clone();
    let spec = spec(&p)?;
    let started = exec::spawn_exec(pod, &id, &spec, interactive || text.is_some(), None).await;
    let mut e = match started {
        Ok(e) => e,
        Err(err) => match err.not_executable() {
            Some((code, message)) => return not_started(r, code, message).await,
            None => return Err(err.into()),
        },
    };
    exec_started(pod, &id, &mut e, text, interactive, r).await
}

/// What the request asks to run.
fn spec(p: &proto::Exec) -> Result<ExecSpec, HandlerError> {
    Ok(ExecSpec {
        command: p.command.clone(),
        env: p.env.clone().unwrap_or_default(),
        cwd: p.cwd.clone(),
        user: user(p.user.as_deref())?,
        terminal: p.terminal.unwrap_or(false),
        size: limits::console_size(p.width, p.height, p.terminal.unwrap_or(false))?,
    })
}

/// Exec with `fds`: the pipe ends go to the caller with the first reply,
/// the exit comes with the last.
async fn handle_fds(
    pod: &Rc<Pod>,
    p: proto::Exec,
    r: &mut Replier<'_>,
) -> Result<(), HandlerError> {
    let refused = [
        ("upgrade", r.upgrade_requested()),
        ("interactive", p.interactive.is_some()),
        ("stdin", p.stdin.is_some()),
        ("terminal", p.terminal.unwrap_or(false)),
    ];
    if let Some((name, _)) = refused.iter().find(|(_, set)| *set) {
        return Err(invalid(
            "fds",
            format!("not with '{name}': the caller gets the pipes themselves"),
        ));
    }
    let started = exec::spawn_exec(pod, &p.id, &spec(&p)?, true, None).await;
    let mut e = match started {
        Ok(e) => e,
        Err(err) => match err.not_executable() {
            Some((code, message)) => return not_started_fds(r, code, message).await,
            None => return Err(err.into()),
        },
    };
    let fds: Vec<OwnedFd> = [e.stdin.take(), e.stdout.take(), e.stderr.take()]
        .into_iter()
        .flatten()
        .collect();
    if fds.len() != 3 {
        return Err(invalid("fds", "the exec has no pipes"));
    }
    blocking(&fds)?;
    let first = ExecReply {
        exec_id: Some(e.exec_id.clone()),
        pid: Some(e.process.pid()),
        stdin_file_descriptor: Some(0),
        stdout_file_descriptor: Some(1),
        stderr_file_descriptor: Some(2),
        ..ExecReply::default()
    };
    r.reply_continues_with_fds(params::encode(&first), fds)
        .await?;
    let exit = exited(pod, &p.id, e.exec_id.clone(), e.process.clone()).await;
    r.reply(params::encode(&last(exit))).await?;
    drop(e);
    Ok(())
}

/// Streams a started exec's I/O over the upgraded connection or as
/// replies.
async fn exec_started(
    pod: &Rc<Pod>,
    id: &str,
    e: &mut exec::ExecProcess,
    text: Option<String>,
    interactive: bool,
    r: &mut Replier<'_>,
) -> Result<(), HandlerError> {
    let id = id.to_owned();
    let process = e.process.clone();
    let first = ExecReply {
        exec_id: Some(e.exec_id.clone()),
        pid: Some(process.pid()),
        ..ExecReply::default()
    };
    let exit = exited(pod, &id, e.exec_id.clone(), process.clone());
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
    let feed = feed(text, feed_stdin);
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
        let replies = super::replies::replies::<ExecReply>(r, output, exit);
        let end = sync::join(replies, feed).await.0;
        if let End::Exited(exit) = end {
            r.reply(params::encode(&last(exit))).await?;
        }
        end
    };
    if let End::ClientGone | End::Overflowed = end {
        // Nobody is left to see the output: dropping the exec kills its
        // tree, and a task of its own reaps it and reports `execExited`
        // (as when the handler itself is dropped mid-call).
        log::debug!("container {id}: the client of {} left", e.exec_id);
    }
    Ok(())
}

/// A command that could not be started (missing: 127, not executable:
/// 126) ends like one that ran: the runtime's words on stderr, then that
/// exit code, through the same streams as any exec's output.
async fn not_started(r: &mut Replier<'_>, code: i32, message: &str) -> Result<(), HandlerError> {
    let rd = message_pipe(message).await?;
    let output = Output::Pipes(PipeMerge::new(None, Some(rd)));
    let exit = ExitInfo::exited(code);
    if r.upgrade_requested() {
        r.reply(params::encode(&ExecReply::default())).await?;
        let (sock, io) = r.take_upgrade().expect("upgrade requested");
        let input = Input {
            stdin: None,
            on_stdin_eof: None,
            pty: None,
        };
        let ended = std::future::ready(exit);
        session::run_upgraded(sock, io.leftover, io.pending, output, input, ended).await;
    } else {
        r.reply_continues(params::encode(&ExecReply::default()))
            .await?;
        let replies = super::replies::replies::<ExecReply>(r, output, std::future::ready(exit));
        if let End::Exited(exit) = replies.await {
            r.reply(params::encode(&last(exit))).await?;
        }
    }
    Ok(())
}

/// `not_started` for Exec with `fds`: the caller gets pipes as if the
/// command had run (stderr has the runtime's words), then the exit code.
async fn not_started_fds(
    r: &mut Replier<'_>,
    code: i32,
    message: &str,
) -> Result<(), HandlerError> {
    let pipe = || crate::sys::process::pipe().map_err(|e| pipe_error("pipe", &e));
    let ((in_r, in_w), (out_r, out_w)) = (pipe()?, pipe()?);
    let err_r = message_pipe(message).await?;
    // Nobody reads stdin; stdout and stderr end at once.
    drop((in_r, out_w));
    let first = ExecReply {
        stdin_file_descriptor: Some(0),
        stdout_file_descriptor: Some(1),
        stderr_file_descriptor: Some(2),
        ..ExecReply::default()
    };
    let fds = vec![in_w, out_r, err_r];
    blocking(&fds)?;
    r.reply_continues_with_fds(params::encode(&first), fds)
        .await?;
    let exit = ExitInfo::exited(code);
    r.reply(params::encode(&last(exit))).await?;
    Ok(())
}

fn pipe_error(op: &'static str, e: &std::io::Error) -> HandlerError {
    PodError::from(SysError::io(op, e)).into()
}

/// The read end of a pipe that holds `message` and a newline, and then
/// ends: the stderr of a command that never started.
async fn message_pipe(message: &str) -> Result<OwnedFd, HandlerError> {
    let (rd, wr) = crate::sys::process::pipe().map_err(|e| pipe_error("pipe", &e))?;
    let text = format!("{message}\n").into_bytes();
    if let (Err(err), _) = ops::write_all(wr.as_fd(), text).await {
        return Err(pipe_error("writing to a pipe", &err));
    }
    Ok(rd)
}

/// Clears O_NONBLOCK on descriptors handed out: the caller does its own
/// I/O, blocking or not as it chooses.
fn blocking(fds: &[OwnedFd]) -> Result<(), HandlerError> {
    for fd in fds {
        let fl = rustix::fs::fcntl_getfl(fd).map_err(std::io::Error::from)?;
        rustix::fs::fcntl_setfl(fd, fl - rustix::fs::OFlags::NONBLOCK)
            .map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// How the exec ended, once it has (the execExited event sent).
fn exited(
    pod: &Rc<Pod>,
    id: &str,
    exec_id: String,
    process: Rc<Watched>,
) -> impl Future<Output = ExitInfo> {
    let (pod, id) = (pod.clone(), id.to_owned());
    async move {
        match process.wait().await {
            Ok(s) => {
                exec::exited_event(&pod, &id, &exec_id, s);
                s
            }
            Err(err) => {
                log::error!("waiting for exec: {err}");
                ExitInfo::UNKNOWN
            }
        }
    }
}

/// Writes the input given up front, if any, then drops the fd.
async fn feed(text: Option<String>, fd: Option<Rc<OwnedFd>>) {
    if let (Some(text), Some(fd)) = (text, fd)
        && let (Err(err), _) = ops::write_all(fd.as_fd(), text.into_bytes()).await
    {
        log::debug!("exec stdin: {err}");
    }
}

/// The final reply: the exit code and the signal's name when one killed it.
fn last(exit: ExitInfo) -> ExecReply {
    let (exit_code, signal) = map::exit(exit);
    ExecReply {
        exit_code: Some(exit_code),
        signal,
        ..ExecReply::default()
    }
}
