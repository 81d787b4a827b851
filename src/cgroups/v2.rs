//! Parsers for cgroup v2 interface files, plus [`read`] which applies them to
//! one unified cgroup directory.
//!
//! Formats follow the kernel's Documentation/admin-guide/cgroup-v2.rst. Only
//! [`read`] and the `read_*` functions touch the filesystem.

use std::path::Path;

use super::parse::{FlatKeyed, limit_or_max, read_opt, read_with, single_u64};
use super::stats::{BlkioStats, CgroupStats, CpuStats, MemoryStats, PidsStats};

/// The `memory.stat` keys that make up kernel memory on kernels older than
/// 5.18, which lack the `kernel` key. These are what the kernel charges as
/// kmem (`sock` is not: it is charged to memory but not to kmem).
const KERNEL_PARTS: &[&str] = &[
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "vmalloc",
];

/// Parses `cpu.stat`, converting its microseconds to nanoseconds.
///
/// Without the cpu controller enabled (as on hybrid hosts) only the usage
/// lines exist, so the throttling fields stay `None`.
pub fn parse_cpu_stat(text: &str) -> CpuStats {
    let kv = FlatKeyed::parse(text);
    let ns = |key| kv.get(key).map(|us: u64| us.saturating_mul(1000));
    CpuStats {
        usage_ns: ns("usage_usec"),
        user_ns: ns("user_usec"),
        system_ns: ns("system_usec"),
        periods: kv.get("nr_periods"),
        throttled_periods: kv.get("nr_throttled"),
        throttled_ns: ns("throttled_usec"),
    }
}

/// Parses `memory.stat` into the breakdown fields (`anon`, `file`, `kernel`)
/// of [`MemoryStats`]; the other fields come from other files and stay `None`.
///
/// `kernel` is summed from its parts when the kernel predates that key.
pub fn parse_memory_stat(text: &str) -> MemoryStats {
    let kv = FlatKeyed::parse(text);
    let kernel = kv.get("kernel").or_else(|| kernel_from_parts(&kv));
    MemoryStats {
        anon: kv.get("anon"),
        file: kv.get("file"),
        kernel,
        ..MemoryStats::default()
    }
}

/// Kernel memory for kernels without the `kernel` key: the kmem parts plus
/// slab (split into reclaimable/unreclaimable since 5.9, a single `slab`
/// line before that).
fn kernel_from_parts(kv: &FlatKeyed<'_>) -> Option<u64> {
    let slab = kv
        .sum_present(&["slab_reclaimable", "slab_unreclaimable"])
        .or_else(|| kv.get("slab"));
    let parts = kv.sum_present(KERNEL_PARTS);
    match (parts, slab) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

/// Parses `memory.events` for the number of OOM kills (`oom_kill`).
pub fn parse_memory_events(text: &str) -> Option<u64> {
    FlatKeyed::parse(text).get("oom_kill")
}

/// Parses a limit file such as `memory.max` or `pids.max`; `max` (no limit)
/// gives `None`.
pub fn parse_max(text: &str) -> Option<u64> {
    limit_or_max(text)
}

/// Parses `io.stat`, summing `rbytes` and `wbytes` over all devices.
///
/// An empty file (no I/O yet) is a real zero, not "unknown".
pub fn parse_io_stat(text: &str) -> BlkioStats {
    let mut read = 0u64;
    let mut write = 0u64;
    for line in text.lines() {
        // "MAJ:MIN key=value key=value ..."; the device itself is not needed.
        for field in line.split_whitespace().skip(1) {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            match key {
                "rbytes" => read = read.saturating_add(value),
                "wbytes" => write = write.saturating_add(value),
                _ => {}
            }
        }
    }
    BlkioStats {
        read_bytes: Some(read),
        write_bytes: Some(write),
    }
}

/// Reads CPU stats from `dir/cpu.stat`.
pub fn read_cpu(dir: &Path) -> CpuStats {
    read_opt(dir, "cpu.stat")
        .map(|text| parse_cpu_stat(&text))
        .unwrap_or_default()
}

/// Reads memory stats from the `memory.*` files in `dir`.
pub fn read_memory(dir: &Path) -> MemoryStats {
    let breakdown = read_opt(dir, "memory.stat")
        .map(|text| parse_memory_stat(&text))
        .unwrap_or_default();
    MemoryStats {
        current: read_with(dir, "memory.current", single_u64),
        peak: read_with(dir, "memory.peak", single_u64),
        limit: read_with(dir, "memory.max", parse_max),
        oom_kills: read_with(dir, "memory.events", parse_memory_events),
        ..breakdown
    }
}

/// Reads `pids.current` and `pids.max` in `dir`.
pub fn read_pids(dir: &Path) -> PidsStats {
    PidsStats {
        current: read_with(dir, "pids.current", single_u64),
        limit: read_with(dir, "pids.max", parse_max),
    }
}

/// Reads block I/O totals from `dir/io.stat`.
pub fn read_io(dir: &Path) -> BlkioStats {
    read_opt(dir, "io.stat")
        .map(|text| parse_io_stat(&text))
        .unwrap_or_default()
}

/// Reads all stats from one cgroup v2 directory.
pub fn read(dir: &Path) -> CgroupStats {
    CgroupStats {
        cpu: read_cpu(dir),
        memory: read_memory(dir),
        pids: read_pids(dir),
        blkio: read_io(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{fixture, fixture_text};
    use super::*;

    #[test]
    fn cpu_stat_full_converts_usec_to_ns() {
        let cpu = parse_cpu_stat(&fixture_text("v2/cpu.stat"));
        assert_eq!(
            cpu,
            CpuStats {
                usage_ns: Some(8_754_312_000),
                user_ns: Some(6_210_451_000),
                system_ns: Some(2_543_861_000),
                periods: Some(412),
                throttled_periods: Some(37),
                throttled_ns: Some(1_893_344_000),
            }
        );
    }

    #[test]
    fn cpu_stat_real_hybrid_without_cpu_controller() {
        // Real file from a child of /sys/fs/cgroup/unified on the hybrid host.
        let cpu = parse_cpu_stat(&fixture_text("v2-hybrid-cpu-only/cpu.stat"));
        assert_eq!(cpu.usage_ns, Some(709_613_000));
        assert_eq!(cpu.user_ns, Some(351_814_000));
        assert_eq!(cpu.system_ns, Some(357_798_000));
        assert_eq!(cpu.periods, None);
        assert_eq!(cpu.throttled_periods, None);
        assert_eq!(cpu.throttled_ns, None);
    }

    #[test]
    fn cpu_stat_saturates_absurd_values() {
        let cpu = parse_cpu_stat("usage_usec 18446744073709551615\n");
        assert_eq!(cpu.usage_ns, Some(u64::MAX));
    }

    #[test]
    fn memory_stat_uses_kernel_key() {
        let mem = parse_memory_stat(&fixture_text("v2/memory.stat"));
        assert_eq!(mem.anon, Some(31_457_280));
        assert_eq!(mem.file, Some(18_874_368));
        assert_eq!(mem.kernel, Some(2_228_224));
        assert_eq!(mem.current, None);
    }

    #[test]
    fn memory_stat_sums_kernel_parts_on_old_kernels() {
        let mem = parse_memory_stat(&fixture_text("v2-old/memory.stat"));
        // kernel_stack 49152 + percpu 0 + slab_reclaimable 393216
        // + slab_unreclaimable 262144 (the `slab` total is not added twice).
        assert_eq!(mem.kernel, Some(49_152 + 393_216 + 262_144));
        assert_eq!(mem.anon, Some(4_194_304));
        assert_eq!(mem.file, Some(5_242_880));
    }

    #[test]
    fn memory_stat_kernel_from_unsplit_slab() {
        let mem = parse_memory_stat("anon 1\nkernel_stack 10\nslab 5\n");
        assert_eq!(mem.kernel, Some(15));
        let mem = parse_memory_stat("anon 1\nfile 2\n");
        assert_eq!(mem.kernel, None);
    }

    #[test]
    fn memory_events_oom_kill() {
        assert_eq!(
            parse_memory_events(&fixture_text("v2/memory.events")),
            Some(2)
        );
        assert_eq!(parse_memory_events("low 0\nhigh 0\n"), None);
    }

    #[test]
    fn max_is_unlimited() {
        assert_eq!(parse_max(&fixture_text("v2/memory.max")), Some(268_435_456));
        assert_eq!(parse_max(&fixture_text("v2-old/memory.max")), None);
        assert_eq!(parse_max(&fixture_text("v2-old/pids.max")), None);
    }

    #[test]
    fn io_stat_sums_devices() {
        let io = parse_io_stat(&fixture_text("v2/io.stat"));
        assert_eq!(io.read_bytes, Some(3_252_224 + 1_048_576));
        assert_eq!(io.write_bytes, Some(8_388_608));
    }

    #[test]
    fn io_stat_empty_is_zero_and_garbage_is_skipped() {
        assert_eq!(
            parse_io_stat(""),
            BlkioStats {
                read_bytes: Some(0),
                write_bytes: Some(0)
            }
        );
        let io = parse_io_stat("8:0 rbytes=x wbytes=7 junk\nnonsense\n8:16 rbytes=3\n");
        assert_eq!(io.read_bytes, Some(3));
        assert_eq!(io.write_bytes, Some(7));
    }

    #[test]
    fn read_full_directory() {
        let stats = read(&fixture("v2"));
        assert_eq!(
            stats.memory,
            MemoryStats {
                current: Some(52_813_824),
                peak: Some(67_108_864),
                limit: Some(268_435_456),
                anon: Some(31_457_280),
                file: Some(18_874_368),
                kernel: Some(2_228_224),
                oom_kills: Some(2),
            }
        );
        assert_eq!(
            stats.pids,
            PidsStats {
                current: Some(7),
                limit: Some(1024)
            }
        );
        assert_eq!(stats.cpu.throttled_periods, Some(37));
        assert_eq!(stats.blkio.write_bytes, Some(8_388_608));
    }

    #[test]
    fn read_old_kernel_directory_without_peak() {
        let stats = read(&fixture("v2-old"));
        assert_eq!(stats.memory.peak, None);
        assert_eq!(stats.memory.limit, None);
        assert_eq!(stats.memory.current, Some(10_485_760));
        assert_eq!(stats.memory.oom_kills, Some(0));
        assert_eq!(stats.pids.limit, None);
        assert_eq!(stats.pids.current, Some(1));
        assert_eq!(stats.blkio.read_bytes, Some(0));
    }

    #[test]
    fn read_hybrid_unified_dir_has_only_cpu() {
        let stats = read(&fixture("v2-hybrid-cpu-only"));
        assert_eq!(stats.cpu.usage_ns, Some(709_613_000));
        assert_eq!(stats.memory, MemoryStats::default());
        assert_eq!(stats.pids, PidsStats::default());
        assert_eq!(stats.blkio, BlkioStats::default());
    }
}
