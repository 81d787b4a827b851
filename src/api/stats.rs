//! io.podmon.Pod.Stats

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::cgroups::{self, BlkioStats, CpuStats, MemoryStats, PidsStats};
use crate::pod::{Container, Pod};
use crate::sys::selfstat::{self, MonitorStats};
use crate::sys::time::rfc3339_nanos;
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogStats {
    bytes_written: u64,
    bytes_dropped: u64,
}

/// ContainerStats of the IDL.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContainerStats {
    id: String,
    timestamp: String,
    cgroup_version: Option<u8>,
    cpu: CpuStats,
    memory: MemoryStats,
    pids: PidsStats,
    block_io: BlkioStats,
    log: LogStats,
}

/// Reads one container's numbers now.
pub(super) fn container_stats(c: &Container) -> ContainerStats {
    let cg = c
        .cgroup
        .as_ref()
        .map(cgroups::stats::read)
        .unwrap_or_default();
    let counters = c.log.counters();
    ContainerStats {
        id: c.id.clone(),
        timestamp: rfc3339_nanos(std::time::SystemTime::now()),
        cgroup_version: c.cgroup.as_ref().map(|p| match p {
            cgroups::CgroupPaths::V1 { .. } => 1,
            cgroups::CgroupPaths::V2 { .. } => 2,
        }),
        cpu: cg.cpu,
        memory: cg.memory,
        pids: cg.pids,
        block_io: cg.blkio,
        log: LogStats {
            bytes_written: counters.bytes_written,
            bytes_dropped: counters.bytes_dropped,
        },
    }
}

#[derive(Serialize)]
struct Out {
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<ContainerStats>,
    monitor: MonitorStats,
}

/// One container's stats, or every container's with `more`.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let targets = match &p.id {
        Some(id) => vec![pod.get(id)?],
        None => pod.list(),
    };
    if targets.len() > 1 && !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let monitor = selfstat::read();
    let Some((last, rest)) = targets.split_last() else {
        r.reply(params::encode(&Out {
            stats: None,
            monitor,
        }))
        .await?;
        return Ok(());
    };
    for c in rest {
        let out = Out {
            stats: Some(container_stats(c)),
            monitor: monitor.clone(),
        };
        r.reply_continues(params::encode(&out)).await?;
    }
    let out = Out {
        stats: Some(container_stats(last)),
        monitor,
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
