//! io.podmon.Pod.SetLogRateLimit

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::{ContainerInfo, Pod, lifecycle};
use crate::ratelimit::Limit;
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    limit: Option<Limit>,
}

#[derive(Serialize)]
struct Out {
    container: ContainerInfo,
}

/// Sets (or, without `limit`, removes) a container's log rate limit.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let c = pod.get(&p.id)?;
    if let Some(l) = &p.limit {
        lifecycle::check_limit(l)?;
    }
    c.log.set_limit(p.limit);
    r.reply(params::encode(&Out {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
