//! Version-neutral container statistics, and the one entry point that reads
//! them for either cgroup version.
//!
//! Every field is an `Option` because each cgroup version (and each kernel)
//! lacks some counters; `None` means "not known here", so consumers can tell
//! a missing counter from a real zero.

use serde::Serialize;

/// CPU time used by the cgroup and how often it hit its CPU quota.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// Total CPU time in nanoseconds (user + system).
    pub usage_ns: Option<u64>,
    /// CPU time spent in user mode, in nanoseconds (10 ms granularity on v1).
    pub user_ns: Option<u64>,
    /// CPU time spent in kernel mode, in nanoseconds (10 ms granularity on v1).
    pub system_ns: Option<u64>,
    /// CFS quota enforcement periods that have elapsed.
    pub periods: Option<u64>,
    /// Periods in which the cgroup was throttled for exhausting its quota.
    pub throttled_periods: Option<u64>,
    /// Total time the cgroup spent throttled, in nanoseconds.
    pub throttled_ns: Option<u64>,
}

/// Memory charged to the cgroup, its limit and OOM kills.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// Bytes charged now, raw: page cache included, nothing subtracted (v2
    /// `memory.current`, v1 `memory.usage_in_bytes`). Tools that show a
    /// "working set" subtract inactive file pages; we leave that to consumers.
    pub current: Option<u64>,
    /// Highest charge seen, in bytes (v2 `memory.peak`, absent before Linux
    /// 5.19; v1 `memory.max_usage_in_bytes`).
    pub peak: Option<u64>,
    /// Memory limit in bytes; `None` when unlimited (or unknown).
    pub limit: Option<u64>,
    /// Anonymous memory in bytes (v1 `rss`).
    pub anon: Option<u64>,
    /// Page-cache memory in bytes, shared memory included (v1 `cache`).
    pub file: Option<u64>,
    /// Kernel memory in bytes (slab, stacks, page tables, ...).
    pub kernel: Option<u64>,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: Option<u64>,
}

/// Number of processes (tasks) in the cgroup and their cap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PidsStats {
    /// Tasks in the cgroup now.
    pub current: Option<u64>,
    /// Task limit; `None` when unlimited (`max`) or unknown.
    pub limit: Option<u64>,
}

/// Block I/O bytes transferred, summed over all devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    /// Bytes read from block devices.
    pub read_bytes: Option<u64>,
    /// Bytes written to block devices.
    pub write_bytes: Option<u64>,
}

/// Everything podmon reports about one container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupStats {
    /// CPU usage and throttling.
    pub cpu: CpuStats,
    /// Memory usage, limit and OOM kills.
    pub memory: MemoryStats,
    /// Process count and limit.
    pub pids: PidsStats,
    /// Block I/O totals.
    pub blkio: BlkioStats,
}

#[cfg(test)]
mod tests {
    use super::super::CgroupPaths;
    use super::super::parse::fixture;
    use super::*;

    fn read(paths: &CgroupPaths) -> CgroupStats {
        paths.stats()
    }

    #[test]
    fn serializes_camel_case_with_nulls() {
        let stats = CgroupStats {
            cpu: CpuStats {
                throttled_ns: Some(5),
                ..CpuStats::default()
            },
            ..CgroupStats::default()
        };
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["cpu"]["throttledNs"], 5);
        assert!(json["cpu"]["usageNs"].is_null());
        assert!(json["memory"]["oomKills"].is_null());
        assert!(json["blkio"]["readBytes"].is_null());
    }

    #[test]
    fn dispatches_v2() {
        let stats = read(&CgroupPaths::V2 { dir: fixture("v2") });
        assert_eq!(stats.memory.current, Some(52_813_824));
        assert_eq!(stats.pids.limit, Some(1024));
    }

    #[test]
    fn dispatches_v1_per_controller() {
        let stats = read(&CgroupPaths::V1 {
            cpu: Some(fixture("v1/cpu")),
            cpuacct: Some(fixture("v1/cpuacct")),
            memory: Some(fixture("v1/memory")),
            pids: Some(fixture("v1/pids")),
            blkio: None,
        });
        assert_eq!(stats.cpu.usage_ns, Some(709_613_397));
        assert_eq!(stats.memory.current, Some(30_728_192));
        assert_eq!(stats.pids.current, Some(2));
        assert_eq!(stats.blkio, BlkioStats::default());
    }

    #[test]
    fn missing_directories_give_empty_stats() {
        let gone = fixture("no-such-cgroup");
        assert_eq!(
            read(&CgroupPaths::V2 { dir: gone.clone() }),
            CgroupStats::default()
        );
        let v1 = CgroupPaths::V1 {
            cpu: Some(gone.clone()),
            cpuacct: Some(gone.clone()),
            memory: Some(gone.clone()),
            pids: Some(gone.clone()),
            blkio: Some(gone),
        };
        assert_eq!(read(&v1), CgroupStats::default());
    }
}
