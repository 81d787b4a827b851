//! io.podmon.Pod.ReopenLog

use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{Pod, PodError};
use crate::proto;
use crate::varlink::Call;

/// Reopens the log file after an outside rotator renamed it; replies once
/// everything read before the call went to the old file and the new file
/// is open.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::ReopenLog = decode(call)?;
    let c = pod.get(&p.id)?;
    if c.log.path().is_none() {
        return Err(PodError::InvalidState {
            id: p.id,
            status: c.status(),
            reason: "its log driver writes no file".into(),
        }
        .into());
    }
    c.log.reopen().await.map_err(PodError::System)?;
    r.reply(Default::default()).await?;
    Ok(())
}
