//! A process's start time from `/proc/PID/stat`: with the pid, it names
//! one process for the life of the boot, so a monitor that re-adopts a
//! recorded pid can tell the container's init from a process that got the
//! pid after the init ended.

use std::path::PathBuf;

use crate::sys::error::SysError;

/// Field 22 of a `/proc/PID/stat` line: the start time in clock ticks
/// after boot. The command name (field 2) is in parentheses and may itself
/// hold spaces and parentheses (`a) (b` is a valid name), so the fields
/// are counted from the last `)` of the line.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Field 3 (the state) is the first after the name.
    rest.split_ascii_whitespace().nth(22 - 3)?.parse().ok()
}

/// Field 4 of a `/proc/PID/stat` line: the parent's pid.
pub fn parse_ppid(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(4 - 3)?.parse().ok()
}

/// What a re-adopting monitor needs to know of a recorded pid, read at
/// once from one line so both describe the same process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 22: the start time in clock ticks after boot.
    pub start_time: u64,
    /// Field 4: the parent's pid (a zombie keeps its parent).
    pub ppid: i32,
}

/// Start time and parent of process `pid`, read now. A process that is
/// gone (reaped) is an error with errno ENOENT or ESRCH.
pub fn stat(pid: i32) -> Result<ProcStat, SysError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let bytes = std::fs::read(&path).map_err(|e| SysError::at("reading", &path, &e))?;
    let text = String::from_utf8_lossy(&bytes);
    match (parse_start_time(&text), parse_ppid(&text)) {
        (Some(start_time), Some(ppid)) => Ok(ProcStat { start_time, ppid }),
        _ => {
            Err(SysError::other("parsing", "no start time or parent in the line").with_path(&path))
        }
    }
}

/// The start time of process `pid`, read now. A process that is gone is
/// an error with errno ENOENT or ESRCH.
pub fn start_time(pid: i32) -> Result<u64, SysError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let bytes = std::fs::read(&path).map_err(|e| SysError::at("reading", &path, &e))?;
    // The name may not be UTF-8; the fields counted are ASCII.
    parse_start_time(&String::from_utf8_lossy(&bytes)).ok_or_else(|| {
        SysError::other("parsing", "no start time (field 22) in the line").with_path(&path)
    })
}
