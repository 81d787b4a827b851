//! Readings of another process from /proc: CPU time and resident memory.

use std::fs;
use std::io;
use std::time::Duration;

/// User plus system CPU time of `pid` (all its threads, io_uring workers
/// included, since they belong to its thread group; not its children, so
/// runc's own time is not charged to podmon).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. There, index 0 is field 3 (state); utime and stime are
    // fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(
        total as f64 / clock_ticks_per_second(),
    ))
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// Resident set size of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

/// Idle memory of one process in KiB: what it costs the machine (Pss:
/// shared pages split among their users), what only it holds (USS:
/// private clean + dirty), and its anonymous resident memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub pss: u64,
    pub uss: u64,
    pub rss_anon: u64,
}

impl std::ops::AddAssign for Memory {
    fn add_assign(&mut self, o: Memory) {
        self.pss += o.pss;
        self.uss += o.uss;
        self.rss_anon += o.rss_anon;
    }
}

/// The `KEY:  N kB` value of `key` in a /proc file's text.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Pss and USS from /proc/PID/smaps_rollup (one summed reading of every
/// mapping), RssAnon from /proc/PID/status.
pub fn memory_kib(pid: u32) -> io::Result<Memory> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |text: &str, key: &str| {
        kib_field(text, key)
            .ok_or_else(|| io::Error::other(format!("no {key} for pid {pid} in /proc")))
    };
    Ok(Memory {
        pss: field(&rollup, "Pss")?,
        uss: field(&rollup, "Private_Clean")? + field(&rollup, "Private_Dirty")?,
        rss_anon: field(&status, "RssAnon")?,
    })
}

/// Voluntary plus involuntary context switches of every thread of `pid`
/// (io_uring workers included): each is a time the process woke up or
/// was woken, so the delta over an idle window counts its wakeups.
pub fn context_switches(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(status) = fs::read_to_string(task?.path().join("status")) else {
            continue; // a thread that ended while we looked
        };
        for key in ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"] {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
}
