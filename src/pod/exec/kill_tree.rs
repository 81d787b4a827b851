//! Killing an exec together with everything it started (a timed-out
//! ExecSync, a detached Exec client).

use crate::sys::process::Watched;

/// Every descendant of `pid` (children first found, then theirs).
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in list
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

/// SIGKILLs an exec and everything it started.
pub fn kill_tree(process: &Watched) {
    // Stop the parent first so it cannot fork more while we collect.
    let _ = process.signal(libc::SIGSTOP);
    for d in descendants(process.pid()) {
        if let Some(p) = rustix::process::Pid::from_raw(d) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
    let _ = process.signal(libc::SIGKILL);
}
