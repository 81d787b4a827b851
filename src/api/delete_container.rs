//! io.podmon.Pod.DeleteContainer

use std::rc::Rc;

use serde::Deserialize;

use super::{HandlerError, Replier};
use crate::pod::{Pod, lifecycle};
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: String,
    force: Option<bool>,
}

/// Deletes a container (killing it first with `force`).
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    lifecycle::delete(pod, &p.id, p.force.unwrap_or(false)).await?;
    r.reply(Default::default()).await?;
    Ok(())
}
