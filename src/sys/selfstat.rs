//! The monitor's own footprint, for Stats and GetPod.

use serde::Serialize;

/// podmon's own resident memory and open file descriptors.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStats {
    /// The monitor's pid.
    pub pid: u32,
    /// Resident set size in bytes (VmRSS).
    pub rss_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// Parses VmRSS (in kB) from /proc/<pid>/status text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reads this process's numbers from procfs.
pub fn read() -> MonitorStats {
    MonitorStats {
        pid: std::process::id(),
        rss_bytes: std::fs::read_to_string("/proc/self/status")
            .ok()
            .as_deref()
            .and_then(parse_vm_rss),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_in_bytes() {
        assert_eq!(
            parse_vm_rss("Name:\tpodmon\nVmRSS:\t    4212 kB\nThreads: 1\n"),
            Some(4212 * 1024)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn reads_itself() {
        let s = read();
        assert!(s.rss_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() >= 3);
    }
}
