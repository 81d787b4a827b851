//! io.podmon.Pod.GetContainer

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::{ContainerInfo, Pod};
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

/// Returns one container's record.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let c = pod.get(&p.id)?;
    r.reply(params::encode(&Out {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
