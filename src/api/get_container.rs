//! io.podmon.Pod.GetContainer

use std::rc::Rc;

use super::{HandlerError, Replier};
use crate::pod::Pod;
use crate::varlink::{Call, params};

/// Returns one container's record.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: super::IdOnly = params::decode(&call.parameters)?;
    let c = pod.get(&p.id)?;
    r.reply(params::encode(&super::ContainerReply {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
