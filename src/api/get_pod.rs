//! io.podmon.Pod.GetPod

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::{Pod, Status};
use crate::sys::selfstat::{self, MonitorStats};
use crate::sys::time::rfc3339_nanos;
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out {
    name: String,
    version: &'static str,
    started_at: String,
    uptime_seconds: f64,
    runtime: String,
    created: u64,
    running: u64,
    stopped: u64,
    memory_bytes: u64,
    monitor: MonitorStats,
}

/// The pod's summary.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let In {} = params::decode(&call.parameters)?;
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
            memory += crate::cgroups::stats::read(paths)
                .memory
                .current
                .unwrap_or(0);
        }
    }
    let out = Out {
        name: pod.config.name.clone(),
        version: env!("CARGO_PKG_VERSION"),
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
        monitor: selfstat::read(),
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
