//! io.podmon.Pod.DeleteContainer

use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{Pod, lifecycle};
use crate::proto;
use crate::varlink::Call;

/// Deletes a container (killing it first with `force`).
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::DeleteContainer = decode(call)?;
    lifecycle::delete(pod, &p.id, p.force.unwrap_or(false)).await?;
    r.reply(Default::default()).await?;
    Ok(())
}
