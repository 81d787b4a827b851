//! io.podmon.Pod.GetContainer

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::proto;
use crate::varlink::{Call, params};

/// Returns one container's record.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::GetContainer = decode(call)?;
    let c = pod.get(&p.id)?;
    r.reply(params::encode(&proto::ContainerReply {
        container: map::container_info(&c),
    }))
    .await?;
    Ok(())
}
