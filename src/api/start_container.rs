//! io.podmon.Pod.StartContainer

use std::rc::Rc;

use super::{HandlerError, Replier};
use crate::pod::{Pod, lifecycle};
use crate::varlink::{Call, params};

/// Starts a created container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: super::IdOnly = params::decode(&call.parameters)?;
    let c = lifecycle::start(pod, &p.id).await?;
    r.reply(params::encode(&super::ContainerReply {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
