//! io.podmon.Pod.Reexec

use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{ExitRequest, Pod, PodError};
use crate::proto;
use crate::sys::reexec;
use crate::varlink::Call;

/// Asks for a live upgrade: the binary is checked first (a missing or
/// non-executable one is refused and nothing changes), then the exit is
/// claimed, so the server execs only after this reply is out.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let _: proto::Reexec = decode(call)?;
    let path = reexec::check_image().map_err(PodError::from)?;
    log::info!("Reexec: the monitor will exec {}", path.display());
    let _exit = pod.claim_exit(ExitRequest::Reexec);
    r.reply(Default::default()).await?;
    Ok(())
}
