//! Parsers for cgroup v1 interface files, plus [`read`] which applies them to
//! the per-controller directories of one cgroup.
//!
//! Formats follow the kernel's Documentation/admin-guide/cgroup-v1/*.rst and
//! were checked against real files (see tests/fixtures/cgroup/README.md).
//! Only [`read`] and the `read_*` functions touch the filesystem.

use std::path::Path;

use super::parse::{FlatKeyed, limit_or_max, read_opt, read_with, single_u64};
use super::stats::{BlkioStats, CgroupStats, CpuStats, MemoryStats, PidsStats};

/// Nanoseconds per `USER_HZ` tick: `cpuacct.stat` counts in `USER_HZ`, which the
/// kernel ABI fixes at 100 on every architecture Linux containers run on.
const NS_PER_USER_HZ_TICK: u64 = 1_000_000_000 / 100;

/// Memory limits at or above this mean "unlimited": the kernel reports
/// `PAGE_COUNTER_MAX` pages in bytes (9223372036854771712 with 4 KiB pages,
/// slightly less with larger pages) rather than a keyword.
const UNLIMITED_MEMORY_THRESHOLD: u64 = 1 << 62;

/// Block I/O files in order of preference. The kernel may keep zeros in one
/// (e.g. the throttle files count only devices with a throttle rule on recent
/// kernels) and data in another, so the first one with device lines wins.
const BLKIO_FILES: &[&str] = &[
    "blkio.throttle.io_service_bytes_recursive",
    "blkio.io_service_bytes_recursive",
    "blkio.bfq.io_service_bytes_recursive",
    "blkio.throttle.io_service_bytes",
    "blkio.io_service_bytes",
];

/// Parses `cpuacct.stat` (`user`/`system` in `USER_HZ` ticks) into nanoseconds;
/// only `user_ns` and `system_ns` are filled.
pub fn parse_cpuacct_stat(text: &str) -> CpuStats {
    let kv = FlatKeyed::parse(text);
    let ns = |key| {
        kv.get(key)
            .map(|ticks: u64| ticks.saturating_mul(NS_PER_USER_HZ_TICK))
    };
    CpuStats {
        user_ns: ns("user"),
        system_ns: ns("system"),
        ..CpuStats::default()
    }
}

/// Parses the cpu controller's `cpu.stat` (throttling counters; the time is
/// already in nanoseconds); only the throttling fields are filled.
pub fn parse_cpu_stat(text: &str) -> CpuStats {
    let kv = FlatKeyed::parse(text);
    CpuStats {
        periods: kv.get("nr_periods"),
        throttled_periods: kv.get("nr_throttled"),
        throttled_ns: kv.get("throttled_time"),
        ..CpuStats::default()
    }
}

/// Parses `memory.stat` into `anon` (`rss`) and `file` (`cache`).
///
/// The hierarchical `total_*` keys are preferred so the breakdown covers the
/// same processes as `memory.usage_in_bytes`, which includes child cgroups.
pub fn parse_memory_stat(text: &str) -> MemoryStats {
    let kv = FlatKeyed::parse(text);
    MemoryStats {
        anon: kv.get("total_rss").or_else(|| kv.get("rss")),
        file: kv.get("total_cache").or_else(|| kv.get("cache")),
        ..MemoryStats::default()
    }
}

/// Parses `memory.limit_in_bytes`; the kernel's "no limit" value gives `None`.
pub fn parse_memory_limit(text: &str) -> Option<u64> {
    single_u64(text).filter(|&limit| limit < UNLIMITED_MEMORY_THRESHOLD)
}

/// Parses `memory.oom_control` for its `oom_kill` counter (Linux 4.13+).
pub fn parse_oom_control(text: &str) -> Option<u64> {
    FlatKeyed::parse(text).get("oom_kill")
}

/// Parses `pids.max`; `max` (no limit) gives `None`.
pub fn parse_pids_max(text: &str) -> Option<u64> {
    limit_or_max(text)
}

/// Parses a blkio `*io_service_bytes*` file, summing the `Read` and `Write`
/// lines over devices (the `Total` lines are ignored).
///
/// `None` when the file has no device lines at all, which is how the kernel
/// shows a file it does not keep data in, so the caller can try another.
pub fn parse_blkio_service_bytes(text: &str) -> Option<BlkioStats> {
    let mut read = 0u64;
    let mut write = 0u64;
    let mut devices = false;
    for line in text.lines() {
        // "MAJ:MIN Op bytes"; the summary line is "Total bytes".
        let mut fields = line.split_whitespace();
        let (Some(_device), Some(op), Some(value), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        devices = true;
        match op {
            "Read" => read = read.saturating_add(value),
            "Write" => write = write.saturating_add(value),
            _ => {}
        }
    }
    devices.then_some(BlkioStats {
        read_bytes: Some(read),
        write_bytes: Some(write),
    })
}

/// Reads CPU stats: usage from the cpuacct directory, throttling from the cpu
/// directory (the same directory when the two are co-mounted).
pub fn read_cpu(cpu: Option<&Path>, cpuacct: Option<&Path>) -> CpuStats {
    let throttling = cpu
        .and_then(|dir| read_opt(dir, "cpu.stat"))
        .map(|text| parse_cpu_stat(&text))
        .unwrap_or_default();
    let Some(cpuacct) = cpuacct else {
        return throttling;
    };
    let split = read_opt(cpuacct, "cpuacct.stat")
        .map(|text| parse_cpuacct_stat(&text))
        .unwrap_or_default();
    CpuStats {
        usage_ns: read_with(cpuacct, "cpuacct.usage", single_u64),
        user_ns: split.user_ns,
        system_ns: split.system_ns,
        ..throttling
    }
}

/// Reads memory stats from the `memory.*` files in `dir`.
///
/// `current` is the raw `memory.usage_in_bytes`, page cache included; no
/// "working set" subtraction is done here.
pub fn read_memory(dir: &Path) -> MemoryStats {
    let breakdown = read_opt(dir, "memory.stat")
        .map(|text| parse_memory_stat(&text))
        .unwrap_or_default();
    MemoryStats {
        current: read_with(dir, "memory.usage_in_bytes", single_u64),
        peak: read_with(dir, "memory.max_usage_in_bytes", single_u64),
        limit: read_with(dir, "memory.limit_in_bytes", parse_memory_limit),
        kernel: read_with(dir, "memory.kmem.usage_in_bytes", single_u64),
        oom_kills: read_with(dir, "memory.oom_control", parse_oom_control),
        ..breakdown
    }
}

/// Reads `pids.current` and `pids.max` in `dir`.
pub fn read_pids(dir: &Path) -> PidsStats {
    PidsStats {
        current: read_with(dir, "pids.current", single_u64),
        limit: read_with(dir, "pids.max", parse_pids_max),
    }
}

/// Reads block I/O totals from the first blkio file in `dir` that has device
/// lines; zeros when the files exist but hold none, `None` when none exists.
pub fn read_blkio(dir: &Path) -> BlkioStats {
    let mut any_file = false;
    for name in BLKIO_FILES {
        let Some(text) = read_opt(dir, name) else {
            continue;
        };
        any_file = true;
        if let Some(stats) = parse_blkio_service_bytes(&text) {
            return stats;
        }
    }
    if any_file {
        BlkioStats {
            read_bytes: Some(0),
            write_bytes: Some(0),
        }
    } else {
        BlkioStats::default()
    }
}

/// Reads all stats from the per-controller directories of one v1 cgroup;
/// a `None` directory leaves that controller's stats `None`.
pub fn read(
    cpu: Option<&Path>,
    cpuacct: Option<&Path>,
    memory: Option<&Path>,
    pids: Option<&Path>,
    blkio: Option<&Path>,
) -> CgroupStats {
    CgroupStats {
        cpu: read_cpu(cpu, cpuacct),
        memory: memory.map(read_memory).unwrap_or_default(),
        pids: pids.map(read_pids).unwrap_or_default(),
        blkio: blkio.map(read_blkio).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{fixture, fixture_text};
    use super::*;

    #[test]
    fn cpuacct_stat_ticks_to_ns() {
        let cpu = parse_cpuacct_stat(&fixture_text("v1/cpuacct/cpuacct.stat"));
        assert_eq!(cpu.user_ns, Some(350_000_000));
        assert_eq!(cpu.system_ns, Some(350_000_000));
        assert_eq!(cpu.usage_ns, None);
    }

    #[test]
    fn cpu_stat_throttling() {
        let cpu = parse_cpu_stat(&fixture_text("v1/cpu/cpu.stat"));
        assert_eq!(cpu.periods, Some(37));
        assert_eq!(cpu.throttled_periods, Some(35));
        assert_eq!(cpu.throttled_ns, Some(2_826_155_918));
        assert_eq!(cpu.usage_ns, None);
    }

    #[test]
    fn memory_stat_prefers_hierarchical_totals() {
        let mem = parse_memory_stat(&fixture_text("v1/memory/memory.stat"));
        assert_eq!(mem.anon, Some(30_257_152));
        assert_eq!(mem.file, Some(32_768));
        let local_only = parse_memory_stat("cache 5\nrss 7\n");
        assert_eq!(local_only.anon, Some(7));
        assert_eq!(local_only.file, Some(5));
        let both = parse_memory_stat("cache 5\nrss 7\ntotal_cache 50\ntotal_rss 70\n");
        assert_eq!(both.anon, Some(70));
        assert_eq!(both.file, Some(50));
    }

    #[test]
    fn memory_limit_unlimited_values() {
        assert_eq!(
            parse_memory_limit(&fixture_text("v1/memory/memory.limit_in_bytes")),
            Some(104_857_600)
        );
        // Real unlimited value on 4 KiB-page x86_64.
        assert_eq!(
            parse_memory_limit(&fixture_text("v1-defaults/memory/memory.limit_in_bytes")),
            None
        );
        // 64 KiB-page kernels (e.g. some arm64/ppc64le) report this instead.
        assert_eq!(parse_memory_limit("9223372036854710272\n"), None);
        assert_eq!(parse_memory_limit("garbage"), None);
    }

    #[test]
    fn oom_control_counts_kills() {
        assert_eq!(
            parse_oom_control(&fixture_text("v1/memory/memory.oom_control")),
            Some(1)
        );
        // Kernels before 4.13 have no oom_kill line.
        assert_eq!(parse_oom_control("oom_kill_disable 0\nunder_oom 0\n"), None);
    }

    #[test]
    fn pids_max() {
        assert_eq!(parse_pids_max(&fixture_text("v1/pids/pids.max")), Some(64));
        assert_eq!(
            parse_pids_max(&fixture_text("v1-defaults/pids/pids.max")),
            None
        );
    }

    #[test]
    fn blkio_sums_read_write_ignoring_other_ops() {
        let io = parse_blkio_service_bytes(&fixture_text(
            "v1/blkio/blkio.throttle.io_service_bytes_recursive",
        ));
        assert_eq!(
            io,
            Some(BlkioStats {
                read_bytes: Some(3_252_224),
                write_bytes: Some(8_388_608),
            })
        );
        let two = "8:0 Read 10\n8:0 Write 1\n8:0 Total 11\n8:16 Read 5\n8:16 Write 2\nTotal 18\n";
        assert_eq!(
            parse_blkio_service_bytes(two),
            Some(BlkioStats {
                read_bytes: Some(15),
                write_bytes: Some(3),
            })
        );
    }

    #[test]
    fn blkio_without_device_lines_is_none() {
        let text = fixture_text("v1-defaults/blkio/blkio.throttle.io_service_bytes_recursive");
        assert_eq!(parse_blkio_service_bytes(&text), None);
        assert_eq!(parse_blkio_service_bytes(""), None);
        assert_eq!(parse_blkio_service_bytes("8:0 Read nope\n"), None);
    }

    #[test]
    fn read_blkio_falls_back_to_zero_when_no_data() {
        assert_eq!(
            read_blkio(&fixture("v1-defaults/blkio")),
            BlkioStats {
                read_bytes: Some(0),
                write_bytes: Some(0),
            }
        );
        assert_eq!(read_blkio(&fixture("missing")), BlkioStats::default());
    }

    #[test]
    fn read_real_fixture_cgroup() {
        let stats = read(
            Some(&fixture("v1/cpu")),
            Some(&fixture("v1/cpuacct")),
            Some(&fixture("v1/memory")),
            Some(&fixture("v1/pids")),
            Some(&fixture("v1/blkio")),
        );
        assert_eq!(
            stats,
            CgroupStats {
                cpu: CpuStats {
                    usage_ns: Some(709_613_397),
                    user_ns: Some(350_000_000),
                    system_ns: Some(350_000_000),
                    periods: Some(37),
                    throttled_periods: Some(35),
                    throttled_ns: Some(2_826_155_918),
                },
                memory: MemoryStats {
                    current: Some(30_728_192),
                    peak: Some(104_857_600),
                    limit: Some(104_857_600),
                    anon: Some(30_257_152),
                    file: Some(32_768),
                    kernel: Some(163_840),
                    oom_kills: Some(1),
                },
                pids: PidsStats {
                    current: Some(2),
                    limit: Some(64),
                },
                blkio: BlkioStats {
                    read_bytes: Some(3_252_224),
                    write_bytes: Some(8_388_608),
                },
            }
        );
    }

    #[test]
    fn read_with_missing_controllers() {
        let stats = read(None, Some(&fixture("v1/cpuacct")), None, None, None);
        assert_eq!(stats.cpu.usage_ns, Some(709_613_397));
        assert_eq!(stats.cpu.periods, None);
        assert_eq!(stats.memory, MemoryStats::default());
        assert_eq!(stats.pids, PidsStats::default());
        assert_eq!(stats.blkio, BlkioStats::default());
        let defaults = read_pids(&fixture("v1-defaults/pids"));
        assert_eq!(defaults.current, Some(0));
        assert_eq!(defaults.limit, None);
        let unlimited = read_memory(&fixture("v1-defaults/memory"));
        assert_eq!(unlimited.limit, None);
        assert_eq!(unlimited.current, None);
    }
}
