//! io.podmon.Pod.SetLogRateLimit

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::{Pod, lifecycle};
use crate::proto;
use crate::varlink::{Call, params};

/// Sets (or, without `limit`, removes) a container's log rate limit.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::SetLogRateLimit = decode(call)?;
    let c = pod.get(&p.id)?;
    let limit = p.limit.map(map::limit_from_wire);
    if let Some(l) = &limit {
        lifecycle::check_limit(l)?;
    }
    lifecycle::set_log_limit(pod, &c, limit);
    r.reply(params::encode(&proto::ContainerReply {
        container: map::container_info(&c),
    }))
    .await?;
    Ok(())
}
