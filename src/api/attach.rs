//! io.podmon.Pod.Attach: a running container's output from now on, and
//! (for one client at a time) its stdin.

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::exec::last;
use super::{HandlerError, Replier};
use crate::pod::{Pod, PodError, Status, lifecycle};
use crate::session::{self, End, Input, Output};
use crate::sys::process::ExitInfo;
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    stdin: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct First {
    stdin: bool,
}

/// Streams the container's output until it exits; the first client that
/// asks for stdin gets it.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    if !r.more() && !r.upgrade_requested() {
        return Err(VarlinkError::expected_more().into());
    }
    let c = pod.get(&p.id)?;
    let status = c.status();
    if status == Status::Stopped {
        return Err(PodError::InvalidState {
            id: p.id,
            status,
            reason: "attach needs a created or running container".into(),
        }
        .into());
    }
    if p.stdin == Some(true) && !r.upgrade_requested() {
        return Err(super::invalid_value("stdin", "stdin needs an upgraded connection").into());
    }
    let output = Output::Shared(c.log.hub.subscribe());
    let lease = if p.stdin == Some(true) {
        c.stdin.lend()
    } else {
        None
    };
    let first = First {
        stdin: lease.is_some(),
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
    if let End::Exited(exit) = super::replies::replies(r, output, exit).await {
        r.reply(params::encode(&last(exit))).await?;
    }
    Ok(())
}
