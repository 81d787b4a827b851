//! io.podmon.Pod.SetLogRateLimit

use std::rc::Rc;

use serde::Deserialize;

use super::{HandlerError, Replier};
use crate::logs::ratelimit::Limit;
use crate::pod::{Pod, lifecycle};
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    limit: Option<Limit>,
}

/// Sets (or, without `limit`, removes) a container's log rate limit.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let c = pod.get(&p.id)?;
    if let Some(l) = &p.limit {
        lifecycle::check_limit(l)?;
    }
    c.log.set_limit(p.limit);
    r.reply(params::encode(&super::ContainerReply {
        container: c.info(),
    }))
    .await?;
    Ok(())
}
