//! Stats and GetPod: the numbers of the containers' cgroups and of the
//! monitor itself.
//!
//! The optional numbers of these records go on the wire as `null` when
//! unknown (Varlink treats that as absent); they always did, and clients
//! rely on every key being there.

use serde::{Deserialize, Serialize};

use super::method;

/// CPU usage of a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// Total CPU time in nanoseconds.
    pub usage_ns: Option<u64>,
    /// User-mode CPU time in nanoseconds.
    pub user_ns: Option<u64>,
    /// Kernel-mode CPU time in nanoseconds.
    pub system_ns: Option<u64>,
    /// CFS periods elapsed.
    pub periods: Option<u64>,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: Option<u64>,
    /// Time throttled, in nanoseconds.
    pub throttled_ns: Option<u64>,
}

/// Memory of a container's cgroup, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// Current usage, page cache included.
    pub current: Option<u64>,
    /// Highest usage seen.
    pub peak: Option<u64>,
    /// The limit; absent when unlimited.
    pub limit: Option<u64>,
    /// Anonymous memory.
    pub anon: Option<u64>,
    /// Page cache.
    pub file: Option<u64>,
    /// Kernel memory.
    pub kernel: Option<u64>,
    /// Processes the OOM killer killed.
    pub oom_kills: Option<u64>,
}

/// Processes of a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PidsStats {
    /// Tasks now.
    pub current: Option<u64>,
    /// The limit; absent when unlimited.
    pub limit: Option<u64>,
}

/// Block I/O of a container's cgroup, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockIoStats {
    /// Bytes read.
    pub read_bytes: Option<u64>,
    /// Bytes written.
    pub write_bytes: Option<u64>,
}

/// What podmon itself wrote for a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStats {
    /// Bytes of log records written.
    pub bytes_written: u64,
    /// Bytes dropped by a "drop" rate limit.
    pub bytes_dropped: u64,
}

/// One container's statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    /// Container id.
    pub id: String,
    /// When they were read, RFC 3339 UTC with nanoseconds.
    pub timestamp: String,
    /// 1 or 2; absent if the cgroup was not found.
    pub cgroup_version: Option<u8>,
    /// CPU.
    pub cpu: CpuStats,
    /// Memory.
    pub memory: MemoryStats,
    /// Processes.
    pub pids: PidsStats,
    /// Block I/O.
    pub block_io: BlockIoStats,
    /// Logging.
    pub log: LogStats,
}

/// The monitor process itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStats {
    /// Its pid.
    pub pid: u32,
    /// Resident memory in bytes.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// Stats of one container, or of every container with `more`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// Container id; default every container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One container's statistics (or, without `id` and `more`, every
/// container's) and the monitor's footprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReply {
    /// One container's: the one asked for, each reply's with `more`, or
    /// the only one; absent when the pod has no containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ContainerStats>,
    /// Every container's, in id order; only without `id` and `more`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerStats>>,
    /// The monitor's own footprint.
    pub monitor: MonitorStats,
    /// The pod's init, when the pod has new namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PodInit>,
}

/// The pod's init: PID 1 of the pod's namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodInit {
    /// Its pid, in the monitor's pid namespace.
    pub pid: u32,
    /// Resident memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
}

/// One namespace the pod's containers share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodNamespace {
    /// "net", "ipc", "uts", "pid" or "user".
    pub kind: String,
    /// The path containers join; absent for the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// GetPod: a summary of the pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetPod {}

/// The pod summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPodReply {
    /// The pod's name.
    pub name: String,
    /// podmon's version.
    pub version: String,
    /// When the monitor started, RFC 3339 UTC.
    pub started_at: String,
    /// Seconds since then.
    pub uptime_seconds: f64,
    /// The OCI runtime's path.
    pub runtime: String,
    /// Containers created but not started.
    pub created: u64,
    /// Containers running.
    pub running: u64,
    /// Containers stopped.
    pub stopped: u64,
    /// Memory of the live containers' cgroups, in bytes.
    pub memory_bytes: u64,
    /// The monitor's own footprint.
    pub monitor: MonitorStats,
    /// The pod's init, when the pod has new namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PodInit>,
    /// The namespaces the pod's containers share, when it shares any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<PodNamespace>>,
}

method! {
    Stats => StatsReply,
    GetPod => GetPodReply,
}
