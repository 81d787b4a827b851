//! io.podmon.Pod.KillContainer

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid};
use crate::pod::{Pod, lifecycle};
use crate::proto;
use crate::varlink::Call;

/// Sends a signal (default SIGTERM) to the container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::KillContainer = decode(call)?;
    let signal = match &p.signal {
        None => libc::SIGTERM,
        Some(s) => {
            crate::sys::signal::parse_signal(s).map_err(|e| invalid("signal", e.to_string()))?
        }
    };
    lifecycle::kill(pod, &p.id, signal, p.all.unwrap_or(false)).await?;
    r.reply(Default::default()).await?;
    Ok(())
}
