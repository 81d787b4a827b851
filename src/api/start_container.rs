//! io.podmon.Pod.StartContainer

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::{ContainerInfo, Pod, lifecycle};
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: String,
}

#[derive(Serialize)]
struct Out {
    container: ContainerInfo,
}

/// Starts a created container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let c = lifecycle::start(pod, &p.id).await?;
    r.reply(params::encode(&Out {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
