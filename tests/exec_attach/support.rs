//! Helpers of the exec and attach tests: an idle container, ExecSync and
//! streaming Exec calls, and what an exec leaves behind (processes,
//! directories, descriptors).

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// A long-running container process that ends at once on SIGTERM (so
/// dropping the Pod does not wait out podmon's 10 s grace period).
pub const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

/// Create + start a container running `IDLE`; returns its ContainerInfo.
#[track_caller]
pub fn run_idle(pod: &Pod, id: &str) -> Value {
    pod.run(id, &["sh", "-c", IDLE])
}

/// ExecSync; returns the whole reply (so errors can be checked).
#[track_caller]
pub fn exec_sync_reply(pod: &Pod, id: &str, command: &[&str], extra: Value) -> Reply {
    let mut p = json!({ "id": id, "command": command });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
    pod.call(EXEC_SYNC, p)
}

/// ExecSync that must succeed; returns its parameters.
#[track_caller]
pub fn exec_sync(pod: &Pod, id: &str, command: &[&str], extra: Value) -> Value {
    exec_sync_reply(pod, id, command, extra).ok()
}

/// Host pids whose cmdline is exactly `args` and whose cgroup is `cgroup`.
pub fn procs_with_cmdline_in_cgroup(args: &[&str], cgroup: &str) -> Vec<u32> {
    let mut want = Vec::new();
    for a in args {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    let mut out = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if fs::read(format!("/proc/{pid}/cmdline")).ok().as_deref() != Some(&want[..]) {
            continue;
        }
        if fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .as_deref()
            == Some(cgroup)
        {
            out.push(pid);
        }
    }
    out
}

pub fn exec_dirs(pod: &Pod, id: &str) -> Vec<String> {
    let dir: PathBuf = pod.state_dir.join("containers").join(id).join("execs");
    fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Sum of the text lengths of a CRI log's records, and the records' count.
pub fn cri_text_len(log: &str) -> (usize, usize) {
    let mut total = 0;
    let mut n = 0;
    for line in log.split_terminator('\n') {
        // TIMESTAMP STREAM TAG TEXT
        let mut parts = line.splitn(4, ' ');
        let (_ts, _stream, _tag) = (parts.next(), parts.next(), parts.next());
        total += parts.next().map_or(0, str::len);
        n += 1;
    }
    (total, n)
}

/// Sends a streaming Exec with `more`; returns the client and first reply's parameters.
pub fn exec_more_start(pod: &Pod, id: &str, command: &[&str]) -> (Client, Value) {
    let mut cl = pod.client();
    cl.send_more(EXEC, json!({ "id": id, "command": command }));
    let first = cl.recv();
    assert!(first.continues(), "{first:?}");
    (cl, first.ok())
}

/// Reads the rest of a streaming Exec: (stdout, last parameters).
pub fn exec_more_finish(cl: &mut Client, timeout: Duration) -> (String, Value) {
    cl.set_read_timeout(timeout);
    let mut out = String::new();
    loop {
        let r = cl.recv();
        let p = r.ok();
        if let Some(s) = p["stdout"].as_str() {
            out.push_str(s);
        }
        if !r.continues() {
            return (out, p);
        }
    }
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}
