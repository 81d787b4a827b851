//! io.podmon.Pod.Resize

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid};
use crate::pod::{Pod, PodError, limits};
use crate::proto;
use crate::varlink::Call;

/// Sets the window size of a terminal container, or of one of its
/// terminal execs (TIOCSWINSZ on the pty).
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::Resize = decode(call)?;
    let c = pod.get(&p.id)?;
    let (width, height) = limits::window(p.width, p.height)?;
    let pty = match &p.exec_id {
        None => c.pty.clone(),
        Some(e) => {
            let execs = pod.execs.borrow();
            let entry = execs
                .get(e)
                .filter(|x| x.container == p.id)
                .ok_or_else(|| {
                    invalid("execId", format!("no exec {e} runs in container {}", p.id))
                })?;
            entry.pty.clone()
        }
    };
    let Some(pty) = pty else {
        return Err(PodError::InvalidState {
            id: p.id,
            status: c.status(),
            reason: match p.exec_id {
                Some(e) => format!("exec {e} has no terminal"),
                None => "it has no terminal".into(),
            },
        }
        .into());
    };
    crate::sys::console::resize(std::os::fd::AsFd::as_fd(&*pty), width, height);
    r.reply(Default::default()).await?;
    Ok(())
}
