//! io.podmon.Pod.GetPod

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::{Pod, Status};
use crate::proto;
use crate::sys::time::rfc3339_nanos;
use crate::varlink::{Call, params};

/// The pod's summary.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let proto::GetPod {} = decode(call)?;
    let (mut created, mut running, mut stopped, mut memory) = (0, 0, 0, 0);
    for c in pod.list() {
        match c.status() {
            Status::Created => created += 1,
            Status::Running => running += 1,
            Status::Stopped => stopped += 1,
        }
        if c.status() != Status::Stopped
            && let Some(paths) = &c.cgroup
        {
            memory += paths.stats().memory.current.unwrap_or(0);
        }
    }
    let out = proto::GetPodReply {
        name: pod.config.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: rfc3339_nanos(pod.started_at),
        uptime_seconds: pod
            .started_at
            .elapsed()
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        runtime: pod.config.runtime.path.display().to_string(),
        created,
        running,
        stopped,
        memory_bytes: memory,
        monitor: map::monitor_stats(),
        init: map::pod_init(pod),
        namespaces: map::pod_namespaces(pod),
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
