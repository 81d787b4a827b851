//! Container statistics read from cgroup interface files, and where the
//! containers' cgroups go under a systemd unit ([`unit`]).
//!
//! Containers run by runc live in cgroups; the kernel keeps their resource
//! usage there, in plain-text files whose names and formats differ between
//! cgroup v1 and cgroup v2. This module finds a process's cgroup directories
//! ([`locate`]), parses each version's files ([`v1`], [`v2`]) and merges the
//! result into one version-neutral shape ([`stats`]).
//!
//! Everything that parses is sans-IO (text in, values out) so it can be tested
//! against copies of real files; only the small `read*` functions touch the
//! filesystem. Missing files and fields become `None`, never errors, because
//! what exists differs between kernels and configurations.

pub mod locate;
pub mod oom;
mod parse;
pub mod stats;
pub mod unit;
pub mod v1;
pub mod v2;

use std::path::PathBuf;

use stats::CgroupStats;

/// Where a process's cgroups are: parsed from /proc/<pid>/cgroup plus the
/// mount table (/proc/self/mountinfo).
///
/// Statistics are read from different files depending on the cgroup version,
/// so the version is part of the answer rather than something callers probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// One unified directory holds every controller's files.
    V2 {
        /// The process's cgroup directory in the cgroup2 mount.
        dir: PathBuf,
    },
    /// One directory per controller hierarchy; `None` where that controller
    /// is not mounted (or not visible), so its stats are simply absent.
    V1 {
        /// Directory in the `cpu` hierarchy (throttling counters).
        cpu: Option<PathBuf>,
        /// Directory in the `cpuacct` hierarchy (usage counters); often the
        /// same directory as `cpu` when the two are co-mounted.
        cpuacct: Option<PathBuf>,
        /// Directory in the `memory` hierarchy.
        memory: Option<PathBuf>,
        /// Directory in the `pids` hierarchy.
        pids: Option<PathBuf>,
        /// Directory in the `blkio` hierarchy.
        blkio: Option<PathBuf>,
    },
}

impl CgroupPaths {
    /// Reads all stats from the files under the given paths (v1 or v2).
    ///
    /// Never fails: whatever cannot be read is left `None`, because a container
    /// that just exited or a kernel without some file should still yield the
    /// rest of its numbers.
    pub fn stats(&self) -> CgroupStats {
        match self {
            CgroupPaths::V2 { dir } => v2::read(dir),
            CgroupPaths::V1 {
                cpu,
                cpuacct,
                memory,
                pids,
                blkio,
            } => v1::read(
                cpu.as_deref(),
                cpuacct.as_deref(),
                memory.as_deref(),
                pids.as_deref(),
                blkio.as_deref(),
            ),
        }
    }

    /// The directory with the memory controller's files.
    pub fn memory_dir(&self) -> Option<&std::path::Path> {
        match self {
            CgroupPaths::V2 { dir } => Some(dir),
            CgroupPaths::V1 { memory, .. } => memory.as_deref(),
        }
    }

    /// How many processes the OOM killer killed in this cgroup so far
    /// (v1 memory.oom_control, v2 memory.events).
    pub fn oom_kills(&self) -> Option<u64> {
        match self {
            CgroupPaths::V2 { dir } => {
                v2::parse_memory_events(&std::fs::read_to_string(dir.join("memory.events")).ok()?)
            }
            CgroupPaths::V1 { memory, .. } => v1::parse_oom_control(
                &std::fs::read_to_string(memory.as_ref()?.join("memory.oom_control")).ok()?,
            ),
        }
    }
}
