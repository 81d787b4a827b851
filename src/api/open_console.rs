//! io.podmon.Pod.OpenConsole

use std::os::fd::AsFd;
use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{Pod, PodError, Status};
use crate::proto;
use crate::sys::error::SysError;
use crate::varlink::{Call, params};

/// Sends the caller a duplicate of a terminal container's pty master
/// (close-on-exec), for an engine that handles the terminal itself.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::OpenConsole = decode(call)?;
    let c = pod.get(&p.id)?;
    let status = c.status();
    let refuse = |reason: &str| PodError::InvalidState {
        id: p.id.clone(),
        status,
        reason: reason.into(),
    };
    let Some(pty) = c.pty.clone() else {
        return Err(refuse("it has no terminal").into());
    };
    if status == Status::Stopped {
        return Err(refuse("it has exited").into());
    }
    let dup = pty
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| PodError::from(SysError::io("duplicating the pty master", &e)))?;
    let reply = proto::ConsoleReply {
        pty_file_descriptor: 0,
    };
    r.reply_with_fds(params::encode(&reply), vec![dup]).await?;
    Ok(())
}
