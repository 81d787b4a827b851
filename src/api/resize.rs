//! io.podmon.Pod.Resize

use std::rc::Rc;

use serde::Deserialize;

use super::{HandlerError, Replier};
use crate::pod::{Pod, PodError};
use crate::stream::session;
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    width: u16,
    height: u16,
}

/// Sets a terminal container's window size (TIOCSWINSZ on its pty).
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let c = pod.get(&p.id)?;
    let Some(pty) = &c.pty else {
        return Err(PodError::InvalidState {
            id: p.id,
            status: c.status(),
            reason: "it has no terminal".into(),
        }
        .into());
    };
    session::resize(std::os::fd::AsFd::as_fd(&**pty), p.width, p.height);
    r.reply(Default::default()).await?;
    Ok(())
}
