//! The parsers of cgroup v1 and v2 interface files and of the two /proc
//! files that locate a process's cgroups.

use super::Input;
use crate::cgroups::stats::{BlkioStats, CpuStats, MemoryStats};
use crate::cgroups::{CgroupPaths, locate, v1, v2};

/// The first byte picks the check: arbitrary text through every parser,
/// generated flat-keyed files (`cpu.stat`, `memory.stat`, ...), generated
/// block I/O files, or /proc/PID/cgroup and mountinfo (split at a NUL).
pub fn cgroup_parsers(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 4 {
        0 => any_text(&String::from_utf8_lossy(input.rest())),
        1 => flat_keyed(input),
        2 => block_io(input),
        _ => locating(input.rest()),
    }
}

/// Every file parser on the same text: no panic, and the single-number
/// files give a number only when the text is that number.
fn any_text(text: &str) {
    let number = text.trim().parse::<u64>().ok();
    for limit in [v2::parse_max(text), v1::parse_pids_max(text)] {
        assert_eq!(limit, number, "{text:?}");
    }
    let memory_limit = v1::parse_memory_limit(text);
    assert_eq!(memory_limit, number.filter(|&n| n < 1 << 62), "{text:?}");
    let _ = (v1::parse_cpuacct_stat(text), v1::parse_cpu_stat(text));
    let _ = (v1::parse_memory_stat(text), v1::parse_oom_control(text));
    let _ = (v2::parse_cpu_stat(text), v2::parse_memory_stat(text));
    let _ = v2::parse_memory_events(text);
    let io = v2::parse_io_stat(text);
    assert!(io.read_bytes.is_some() && io.write_bytes.is_some());
    if let Some(blkio) = v1::parse_blkio_service_bytes(text) {
        assert!(blkio.read_bytes.is_some() && blkio.write_bytes.is_some());
    }
}

/// Every key the flat-keyed parsers look for, and one they do not.
const KEYS: &[&str] = &[
    "usage_usec",
    "user_usec",
    "system_usec",
    "nr_periods",
    "nr_throttled",
    "throttled_usec",
    "throttled_time",
    "user",
    "system",
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "vmalloc",
    "slab",
    "slab_reclaimable",
    "slab_unreclaimable",
    "oom_kill",
    "rss",
    "cache",
    "total_rss",
    "total_cache",
    "other",
];

/// A file of `key value` lines as the kernel writes them, with some lines
/// the parsers must skip (no value, a word for a value); then what each
/// parser gives is what the file says: the first usable line of a key.
fn flat_keyed(mut input: Input<'_>) {
    let mut text = String::new();
    let mut pairs: Vec<(&str, u64)> = Vec::new();
    for _ in 0..input.byte() % 48 {
        let shape = input.byte();
        let key = KEYS[usize::from(input.byte()) % KEYS.len()];
        let value = u64::from(input.u32()) << ((shape >> 4 & 0x3) * 16);
        let sep = [" ", "\t", "  "][usize::from(shape >> 2 & 3) % 3];
        let end = if shape & 0x40 == 0 { "\n" } else { "\r\n" };
        match shape & 3 {
            0 | 1 => {
                let extra = if shape & 1 == 1 { " 7" } else { "" };
                text.push_str(&format!("{key}{sep}{value}{extra}{end}"));
                pairs.push((key, value));
            }
            2 => text.push_str(&format!("{key}{end}")),
            _ => text.push_str(&format!("{key}{sep}-{value}x{end}")),
        }
    }
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let sum = |keys: &[&str]| {
        keys.iter()
            .filter_map(|k| get(k))
            .reduce(u64::saturating_add)
    };
    let times = |key: &str, by: u64| get(key).map(|v| v.saturating_mul(by));
    let v2_cpu = CpuStats {
        usage_ns: times("usage_usec", 1000),
        user_ns: times("user_usec", 1000),
        system_ns: times("system_usec", 1000),
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_ns: times("throttled_usec", 1000),
    };
    assert_eq!(v2::parse_cpu_stat(&text), v2_cpu, "{text:?}");
    let parts = sum(&[
        "kernel_stack",
        "pagetables",
        "sec_pagetables",
        "percpu",
        "vmalloc",
    ]);
    let slab = sum(&["slab_reclaimable", "slab_unreclaimable"]).or_else(|| get("slab"));
    let from_parts = match (parts, slab) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    };
    let v2_memory = MemoryStats {
        anon: get("anon"),
        file: get("file"),
        kernel: get("kernel").or(from_parts),
        ..MemoryStats::default()
    };
    assert_eq!(v2::parse_memory_stat(&text), v2_memory, "{text:?}");
    assert_eq!(v2::parse_memory_events(&text), get("oom_kill"));
    assert_eq!(v1::parse_oom_control(&text), get("oom_kill"));
    let v1_acct = CpuStats {
        user_ns: times("user", 10_000_000),
        system_ns: times("system", 10_000_000),
        ..CpuStats::default()
    };
    assert_eq!(v1::parse_cpuacct_stat(&text), v1_acct, "{text:?}");
    let v1_cpu = CpuStats {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_ns: get("throttled_time"),
        ..CpuStats::default()
    };
    assert_eq!(v1::parse_cpu_stat(&text), v1_cpu, "{text:?}");
    let v1_memory = MemoryStats {
        anon: get("total_rss").or_else(|| get("rss")),
        file: get("total_cache").or_else(|| get("cache")),
        ..MemoryStats::default()
    };
    assert_eq!(v1::parse_memory_stat(&text), v1_memory, "{text:?}");
}

/// Generated `io.stat` (v2) and blkio `io_service_bytes` (v1) files for
/// the same devices: both sum read and written bytes over the devices,
/// saturating; v1 counts a file without device lines as unknown.
fn block_io(mut input: Input<'_>) {
    let (mut v2_text, mut v1_text) = (String::new(), String::new());
    let (mut read, mut write) = (0u64, 0u64);
    let devices = input.byte() % 16;
    for dev in 0..devices {
        let shift = input.byte() % 64;
        let (r, w) = (input.u32(), input.u32());
        let (r, w) = (u64::from(r) << shift >> 1, u64::from(w) << (shift / 2));
        read = read.saturating_add(r);
        write = write.saturating_add(w);
        v2_text.push_str(&format!(
            "8:{dev} rbytes={r} wbytes={w} rios=1 wios=2 dbytes=0 dios=0\n"
        ));
        for (op, v) in [("Read", r), ("Write", w), ("Sync", r), ("Async", w)] {
            v1_text.push_str(&format!("8:{dev} {op} {v}\n"));
        }
        v1_text.push_str(&format!("8:{dev} Total {}\n", r.saturating_add(w)));
    }
    v1_text.push_str(&format!("Total {}\n", read.saturating_add(write)));
    let sums = BlkioStats {
        read_bytes: Some(read),
        write_bytes: Some(write),
    };
    assert_eq!(v2::parse_io_stat(&v2_text), sums, "{v2_text:?}");
    let v1_sums = (devices > 0).then_some(sums);
    assert_eq!(
        v1::parse_blkio_service_bytes(&v1_text),
        v1_sums,
        "{v1_text:?}"
    );
}

/// /proc/PID/cgroup, a NUL, then mountinfo: locating never panics and
/// answers only with a hierarchy the mount table has.
fn locating(data: &[u8]) {
    let nul = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let cgroup = String::from_utf8_lossy(&data[..nul]);
    let mountinfo = String::from_utf8_lossy(data.get(nul + 1..).unwrap_or_default());
    match locate::paths_from(&cgroup, &mountinfo) {
        Ok(CgroupPaths::V2 { .. }) => assert!(mountinfo.contains("cgroup2")),
        Ok(CgroupPaths::V1 { memory, .. }) => {
            assert!(memory.is_some() && mountinfo.contains("cgroup"));
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}
