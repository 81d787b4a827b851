//! io.podmon.Pod.StartContainer

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::{Pod, lifecycle};
use crate::proto;
use crate::varlink::{Call, params};

/// Starts a created container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::StartContainer = decode(call)?;
    let c = lifecycle::start(pod, &p.id).await?;
    r.reply(params::encode(&proto::ContainerReply {
        container: map::container_info(&c),
    }))
    .await?;
    Ok(())
}
