//! The one place where the pod model becomes io.podmon.Pod wire types
//! (and wire parameters become model values): handlers call these instead
//! of building IDL records themselves.

use std::time::SystemTime;

use crate::cgroups::{self, CgroupPaths};
use crate::logs::driver::DriverKind;
use crate::logs::ratelimit::{Limit, Policy};
use crate::pod::events::{Event, EventKind};
use crate::pod::{Container, Status, exit_reason};
use crate::proto;
use crate::sys::process::ExitInfo;
use crate::sys::selfstat;
use crate::sys::time::rfc3339_nanos;

/// The wire name of a status.
pub fn status(s: Status) -> proto::ContainerStatus {
    match s {
        Status::Created => proto::ContainerStatus::Created,
        Status::Running => proto::ContainerStatus::Running,
        Status::Stopped => proto::ContainerStatus::Stopped,
    }
}

/// A limit as replies show it (the policy always named).
pub fn limit_to_wire(l: Limit) -> proto::LogRateLimit {
    proto::LogRateLimit {
        bytes_per_second: l.bytes_per_second,
        burst: l.burst,
        policy: Some(match l.policy {
            Policy::Block => proto::LogPolicy::Block,
            Policy::Drop => proto::LogPolicy::Drop,
        }),
    }
}

/// A limit from the wire; no policy means "block".
pub fn limit_from_wire(l: proto::LogRateLimit) -> Limit {
    Limit {
        bytes_per_second: l.bytes_per_second,
        burst: l.burst,
        policy: match l.policy {
            None | Some(proto::LogPolicy::Block) => Policy::Block,
            Some(proto::LogPolicy::Drop) => Policy::Drop,
        },
    }
}

/// The wire's log sync policy as the logs know it.
pub fn log_sync(s: proto::LogSync) -> crate::logs::sync::LogSync {
    use crate::logs::sync::LogSync;
    match s {
        proto::LogSync::Exit => LogSync::Exit,
        proto::LogSync::Interval => LogSync::Interval,
        proto::LogSync::Never => LogSync::Never,
    }
}

/// The wire's log driver as the logs know it.
pub fn driver(d: proto::LogDriver) -> DriverKind {
    match d {
        proto::LogDriver::Cri => DriverKind::Cri,
        proto::LogDriver::None => DriverKind::None,
        proto::LogDriver::Journald => DriverKind::Journald,
    }
}

/// The container record as every reply shows it.
pub fn container_info(c: &Container) -> proto::ContainerInfo {
    let st = c.state.borrow();
    let counters = c.log.counters();
    proto::ContainerInfo {
        id: c.id.clone(),
        status: status(st.status),
        pid: st.process.as_ref().map(|p| p.pid()),
        bundle: c.bundle.display().to_string(),
        log_path: c.log.path().map(|p| p.display().to_string()),
        log_bytes_written: counters.bytes_written,
        log_bytes_dropped: counters.bytes_dropped,
        log_error: counters.error,
        log_rate_limit: c.log.limit().map(limit_to_wire),
        exit_code: st.exit.and_then(|e| e.known_code()),
        signal: st.exit.and_then(|e| e.signal_name()),
        oom_killed: st.oom_killed,
        exit_reason: st.exit.map(|e| exit_reason(e, st.oom_killed).to_owned()),
        created_at: rfc3339_nanos(c.created_at),
        started_at: st.started_at.map(rfc3339_nanos),
        finished_at: st.finished_at.map(rfc3339_nanos),
        terminal: c.pty.is_some(),
    }
}

/// The `Event` record of a pod event.
pub fn event(e: Event) -> proto::Event {
    let detail = match e.kind {
        EventKind::Created => proto::EventDetail::Created,
        EventKind::Started => proto::EventDetail::Started,
        EventKind::Exited { exit, oom_killed } => proto::EventDetail::Exited {
            exit_code: exit.known_code(),
            signal: exit.signal_name(),
            oom_killed,
        },
        EventKind::Oom => proto::EventDetail::Oom,
        EventKind::ExecStarted { exec_id } => proto::EventDetail::ExecStarted { exec_id },
        EventKind::ExecExited { exec_id, exit } => proto::EventDetail::ExecExited {
            exec_id,
            exit_code: exit.exit_code(),
            signal: exit.signal_name(),
        },
        EventKind::Deleted => proto::EventDetail::Deleted,
        EventKind::LogDropped { bytes } => proto::EventDetail::LogDropped {
            bytes_dropped: bytes,
        },
    };
    proto::Event {
        seq: e.seq,
        id: e.id,
        timestamp: rfc3339_nanos(e.at),
        detail,
    }
}

/// The exit code and the signal's name when one killed the process (as
/// `waitid` said: a process that exits 137 by itself names no signal).
pub fn exit(e: ExitInfo) -> (i32, Option<String>) {
    (e.exit_code(), e.signal_name())
}

/// The monitor's own footprint, read now.
pub fn monitor_stats() -> proto::MonitorStats {
    let m = selfstat::read();
    proto::MonitorStats {
        pid: m.pid,
        rss_bytes: m.rss_bytes,
        open_fds: m.open_fds,
    }
}

/// The pod's init and its memory, read now, when the pod has one.
pub fn pod_init(pod: &crate::pod::Pod) -> Option<proto::PodInit> {
    let sb = pod.sandbox()?;
    let init = sb.init.as_ref()?;
    Some(proto::PodInit {
        pid: u32::try_from(init.pid()).unwrap_or(0),
        rss_bytes: sb.init_rss(),
    })
}

/// The namespaces the pod's containers share, when it shares any.
pub fn pod_namespaces(pod: &crate::pod::Pod) -> Option<Vec<proto::PodNamespace>> {
    let sb = pod.sandbox()?;
    Some(
        sb.record
            .namespaces
            .iter()
            .map(|n| proto::PodNamespace {
                kind: n.kind.clone(),
                path: n.path.as_ref().map(|p| p.display().to_string()),
            })
            .collect(),
    )
}

/// One container's numbers, read now.
pub fn container_stats(c: &Container) -> proto::ContainerStats {
    let cg = c
        .cgroup
        .as_ref()
        .map(cgroups::CgroupPaths::stats)
        .unwrap_or_default();
    let counters = c.log.counters();
    proto::ContainerStats {
        id: c.id.clone(),
        timestamp: rfc3339_nanos(SystemTime::now()),
        cgroup_version: c.cgroup.as_ref().map(|p| match p {
            CgroupPaths::V1 { .. } => 1,
            CgroupPaths::V2 { .. } => 2,
        }),
        cpu: proto::CpuStats {
            usage_ns: cg.cpu.usage_ns,
            user_ns: cg.cpu.user_ns,
            system_ns: cg.cpu.system_ns,
            periods: cg.cpu.periods,
            throttled_periods: cg.cpu.throttled_periods,
            throttled_ns: cg.cpu.throttled_ns,
        },
        memory: proto::MemoryStats {
            current: cg.memory.current,
            peak: cg.memory.peak,
            limit: cg.memory.limit,
            anon: cg.memory.anon,
            file: cg.memory.file,
            kernel: cg.memory.kernel,
            oom_kills: cg.memory.oom_kills,
        },
        pids: proto::PidsStats {
            current: cg.pids.current,
            limit: cg.pids.limit,
        },
        block_io: proto::BlockIoStats {
            read_bytes: cg.blkio.read_bytes,
            write_bytes: cg.blkio.write_bytes,
        },
        log: proto::LogStats {
            bytes_written: counters.bytes_written,
            bytes_dropped: counters.bytes_dropped,
        },
    }
}

/// How ExecSync and RunInPod carry output: CRI's ExecSync returns bytes,
/// and JSON strings cannot hold invalid UTF-8 (a NUL even makes some
/// clients fail the call), so a client that wants the bytes asks for base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    /// Text, invalid UTF-8 replaced (the default, and the older behaviour).
    Utf8,
    /// Standard base64 (with padding) of the exact bytes.
    Base64,
}

/// The `encoding` parameter; an unknown name is InvalidValue naming it.
pub fn output_encoding(name: Option<&str>) -> Result<OutputEncoding, super::HandlerError> {
    match name {
        None | Some("utf8") => Ok(OutputEncoding::Utf8),
        Some("base64") => Ok(OutputEncoding::Base64),
        Some(other) => Err(super::invalid(
            "encoding",
            format!("{other:?} is neither \"utf8\" nor \"base64\""),
        )),
    }
}

fn encode_output(bytes: &[u8], enc: OutputEncoding) -> String {
    use base64::Engine as _;
    match enc {
        OutputEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        OutputEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// ExecSync's reply (also RunInPod's) from what the process did; output as
/// `enc` says.
pub fn exec_sync_reply(
    res: &crate::pod::exec::ExecSyncResult,
    enc: OutputEncoding,
) -> proto::ExecSyncReply {
    let (exit_code, signal) = exit(res.status);
    proto::ExecSyncReply {
        exit_code,
        signal,
        stdout: encode_output(&res.stdout, enc),
        stderr: encode_output(&res.stderr, enc),
        stdout_truncated: res.stdout_truncated,
        stderr_truncated: res.stderr_truncated,
        timed_out: res.timed_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_encodings() {
        assert_eq!(output_encoding(None).unwrap(), OutputEncoding::Utf8);
        assert_eq!(output_encoding(Some("utf8")).unwrap(), OutputEncoding::Utf8);
        assert_eq!(
            output_encoding(Some("base64")).unwrap(),
            OutputEncoding::Base64
        );
        match output_encoding(Some("hex")) {
            Err(super::super::HandlerError::Reply(e)) => {
                assert_eq!(e.name, "io.podmon.Pod.InvalidValue");
                assert_eq!(e.parameters["parameter"], "encoding");
            }
            other => panic!("{other:?}"),
        }
        let raw = b"a\0b\xff\n";
        assert_eq!(encode_output(raw, OutputEncoding::Base64), "YQBi/wo=");
        assert_eq!(encode_output(raw, OutputEncoding::Utf8), "a\0b\u{fffd}\n");
    }
}
