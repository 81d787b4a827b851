//! io.podmon.Pod.ListContainers

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::proto::{self, ListContainersReply};
use crate::varlink::{Call, VarlinkError, params};

/// One reply per container with `more` (as io.systemd.Machine.List does);
/// without `more` only when there is at most one container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let proto::ListContainers {} = decode(call)?;
    let all = pod.list();
    if all.len() > 1 && !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let one = |c| ListContainersReply {
        container: Some(map::container_info(c)),
    };
    let Some((last, rest)) = all.split_last() else {
        r.reply(params::encode(&ListContainersReply { container: None }))
            .await?;
        return Ok(());
    };
    for c in rest {
        r.reply_continues(params::encode(&one(c))).await?;
    }
    r.reply(params::encode(&one(last))).await?;
    Ok(())
}
