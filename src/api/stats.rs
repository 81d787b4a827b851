//! io.podmon.Pod.Stats

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::proto::{self, ContainerStats, StatsReply};
use crate::varlink::{Call, params};

/// One container's stats; every container's, one reply each with `more`
/// or all in one reply (`containers`) without it.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::Stats = decode(call)?;
    let monitor = map::monitor_stats();
    let init = map::pod_init(pod);
    let reply = |stats, containers| StatsReply {
        stats,
        containers,
        monitor: monitor.clone(),
        init: init.clone(),
    };
    if let Some(id) = &p.id {
        let stats = map::container_stats(&*pod.get(id)?);
        r.reply(params::encode(&reply(Some(stats), None))).await?;
        return Ok(());
    }
    let all: Vec<ContainerStats> = pod.list().iter().map(|c| map::container_stats(c)).collect();
    if !r.more() {
        // The only container also as `stats`, as this call answered
        // before `containers` existed.
        let only = (all.len() == 1).then(|| all[0].clone());
        r.reply(params::encode(&reply(only, Some(all)))).await?;
        return Ok(());
    }
    let mut all = all.into_iter().peekable();
    if all.peek().is_none() {
        r.reply(params::encode(&reply(None, None))).await?;
        return Ok(());
    }
    while let Some(s) = all.next() {
        let out = params::encode(&reply(Some(s), None));
        if all.peek().is_some() {
            r.reply_continues(out).await?;
        } else {
            r.reply(out).await?;
        }
    }
    Ok(())
}
