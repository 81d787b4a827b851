//! io.podmon.Pod.ListContainers

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::proto::{self, ContainerInfo, ListContainersReply};
use crate::varlink::{Call, params};

/// With `more` one reply per container (as io.systemd.Machine.List does);
/// without `more` one reply listing them all, so a plain call (varlinkctl
/// without `--more`, a script) works whatever the number of containers.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let proto::ListContainers {} = decode(call)?;
    let all: Vec<ContainerInfo> = pod.list().iter().map(|c| map::container_info(c)).collect();
    if !r.more() {
        // The only container also as `container`, as this call answered
        // before `containers` existed.
        let reply = ListContainersReply {
            container: (all.len() == 1).then(|| all[0].clone()),
            containers: Some(all),
        };
        r.reply(params::encode(&reply)).await?;
        return Ok(());
    }
    let one = |c| ListContainersReply {
        container: Some(c),
        containers: None,
    };
    let mut all = all.into_iter().peekable();
    if all.peek().is_none() {
        r.reply(params::encode(&ListContainersReply::default()))
            .await?;
        return Ok(());
    }
    while let Some(c) = all.next() {
        if all.peek().is_some() {
            r.reply_continues(params::encode(&one(c))).await?;
        } else {
            r.reply(params::encode(&one(c))).await?;
        }
    }
    Ok(())
}
