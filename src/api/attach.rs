//! io.podmon.Pod.Attach: a running container's output from now on, and
//! (for one client at a time) its stdin.

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid, map};
use crate::pod::{Operation, Pod, lifecycle};
use crate::proto::{self, AttachReply};
use crate::session::{self, End, Input, Output};
use crate::sys::process::ExitInfo;
use crate::varlink::{Call, VarlinkError, params};

/// Streams the container's output until it exits; the first client that
/// asks for stdin gets it.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::Attach = decode(call)?;
    if !r.more() && !r.upgrade_requested() {
        return Err(VarlinkError::expected_more().into());
    }
    let c = pod.get(&p.id)?;
    c.state.borrow().check(&p.id, Operation::Attach)?;
    if p.stdin == Some(true) && !r.upgrade_requested() {
        return Err(invalid("stdin", "stdin needs an upgraded connection"));
    }
    let output = Output::Shared(c.log.hub.subscribe());
    let lease = if p.stdin == Some(true) {
        c.stdin.lend()
    } else {
        None
    };
    let first = AttachReply {
        stdin: Some(lease.is_some()),
        ..AttachReply::default()
    };
    let exit = async {
        let _ = lifecycle::wait(pod, &p.id).await;
        c.state.borrow().exit.unwrap_or(ExitInfo::UNKNOWN)
    };
    if r.upgrade_requested() {
        r.reply(params::encode(&first)).await?;
        let (sock, io) = r.take_upgrade().expect("upgrade requested");
        let (stdin, lease) = match lease {
            Some((fd, lease)) => (Some(fd), Some(lease)),
            None => (None, None),
        };
        let lease = std::cell::RefCell::new(lease);
        let input = Input {
            stdin,
            // Closing stdin ends this client's hold (and with stdinOnce, stdin).
            on_stdin_eof: Some(Box::new(move || drop(lease.borrow_mut().take()))),
            pty: c.pty.clone(),
        };
        let _ = session::run_upgraded(sock, io.leftover, io.pending, output, input, exit).await;
        return Ok(());
    }
    r.reply_continues(params::encode(&first)).await?;
    if let End::Exited(exit) = super::replies::replies::<AttachReply>(r, output, exit).await {
        let (exit_code, signal) = map::exit(exit);
        let last = AttachReply {
            exit_code: Some(exit_code),
            signal,
            ..AttachReply::default()
        };
        r.reply(params::encode(&last)).await?;
    }
    Ok(())
}
