//! Readings of the server and its children from /proc and /sys/fs/cgroup:
//! children, process states, context switches, cgroup limits.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Pod;

/// Child pids of every thread of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// State letter of a process (R, S, Z, ...) from /proc/PID/stat, None if gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

pub fn proc_comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the process exists and is not a zombie.
pub fn proc_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// Zombie children of `pid`, as "PID (comm)".
pub fn zombie_children(pid: u32) -> Vec<String> {
    children_of(pid)
        .into_iter()
        .filter(|c| proc_state(*c) == Some('Z'))
        .map(|c| format!("{c} ({})", proc_comm(c)))
        .collect()
}

/// Context switches of every thread of `pid`: tid -> (voluntary, nonvoluntary, name).
pub fn ctx_switches(pid: u32) -> BTreeMap<u32, (u64, u64, String)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let vol = field("voluntary_ctxt_switches:").parse().unwrap_or(0);
        let nonvol = field("nonvoluntary_ctxt_switches:").parse().unwrap_or(0);
        out.insert(tid, (vol, nonvol, field("Name:")));
    }
    out
}

/// Asserts that podmon (every thread of `pod`) is not scheduled at all for
/// 10 s: the idle monitor sleeps in the kernel, with no timers or polling.
/// Measured with the per-thread context switch counters in /proc.
pub fn assert_no_wakeups_for_10s(pod: &Pod) {
    // Let start-up work (runc exiting, log pipes, accept) settle.
    std::thread::sleep(Duration::from_secs(1));
    let before = ctx_switches(pod.pid);
    assert!(
        !before.is_empty(),
        "no threads found for podmon {}",
        pod.pid
    );
    std::thread::sleep(Duration::from_secs(10));
    let after = ctx_switches(pod.pid);

    let mut report = vec![];
    let mut total = 0u64;
    for (tid, (v1, n1, name)) in &after {
        let (v0, n0) = before.get(tid).map(|(v, n, _)| (*v, *n)).unwrap_or((0, 0));
        total += (v1 - v0) + (n1 - n0);
        report.push(format!(
            "tid {tid} ({name}): voluntary +{}, nonvoluntary +{}{}",
            v1 - v0,
            n1 - n0,
            if before.contains_key(tid) {
                ""
            } else {
                " (new thread)"
            }
        ));
    }
    let gone: Vec<_> = before.keys().filter(|t| !after.contains_key(t)).collect();
    assert!(
        total == 0 && gone.is_empty() && after.len() == before.len(),
        "podmon was scheduled {total} times in 10 s while idle (threads gone: {gone:?}):\n{}",
        report.join("\n")
    );
}

/// The cgroup limit file of a process for "pids" or "memory", on cgroup v1 or v2.
/// Returns (path, trimmed content).
pub fn cgroup_limit(pid: u32, controller: &str) -> (PathBuf, String) {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/cgroup: {e}"));
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let path = if v2 {
        let rel = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or_else(|| panic!("no cgroup v2 line in {cg}"));
        let file = if controller == "memory" {
            "memory.max"
        } else {
            "pids.max"
        };
        Path::new("/sys/fs/cgroup")
            .join(rel.trim_start_matches('/'))
            .join(file)
    } else {
        let rel = cg
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let _n = parts.next()?;
                let ctrls = parts.next()?;
                let p = parts.next()?;
                ctrls.split(',').any(|c| c == controller).then_some(p)
            })
            .unwrap_or_else(|| panic!("no {controller} cgroup in {cg}"));
        let file = if controller == "memory" {
            "memory.limit_in_bytes"
        } else {
            "pids.max"
        };
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel.trim_start_matches('/'))
            .join(file)
    };
    let v = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (cgroup of {pid}: {cg})",
            path.display()
        )
    });
    (path, v.trim().to_string())
}
