//! io.podmon.Pod.Stats

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::proto::{self, StatsReply};
use crate::varlink::{Call, VarlinkError, params};

/// One container's stats, or every container's with `more`.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::Stats = decode(call)?;
    let targets = match &p.id {
        Some(id) => vec![pod.get(id)?],
        None => pod.list(),
    };
    if targets.len() > 1 && !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let monitor = map::monitor_stats();
    let init = map::pod_init(pod);
    let Some((last, rest)) = targets.split_last() else {
        r.reply(params::encode(&StatsReply {
            stats: None,
            monitor,
            init,
        }))
        .await?;
        return Ok(());
    };
    for c in rest {
        let out = StatsReply {
            stats: Some(map::container_stats(c)),
            monitor: monitor.clone(),
            init: init.clone(),
        };
        r.reply_continues(params::encode(&out)).await?;
    }
    let out = StatsReply {
        stats: Some(map::container_stats(last)),
        monitor,
        init,
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
