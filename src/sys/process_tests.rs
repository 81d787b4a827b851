//! Children start clean and are never left unreaped, without root.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

/// Runs `program args` through `spawn` and reads its stdout to the end.
fn output_of(program: &str, args: &[&str]) -> (Watched, String) {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let (w, out, _) = spawn(Path::new(program), &args, None, None, None).expect("spawn");
    let mut text = String::new();
    std::fs::File::from(out.expect("stdout pipe"))
        .read_to_string(&mut text)
        .expect("read");
    (w, text)
}

fn state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..].trim_start().chars().next()
}

#[test]
fn children_start_with_no_blocked_or_ignored_signal_and_only_path() {
    // On a thread of its own: the mask is per thread, the disposition is
    // the process's (SIGURG is ignored by default anyway, so setting it to
    // SIG_IGN changes nothing for the other tests).
    std::thread::spawn(|| {
        // SAFETY: plain signal-mask and disposition calls on valid data.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGCHLD, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGURG, libc::SIG_IGN);
        }
        let (_w, status) = output_of("/bin/cat", &["/proc/self/status"]);
        for key in ["SigBlk:", "SigIgn:"] {
            let line = status.lines().find(|l| l.starts_with(key)).expect(key);
            let mask = u64::from_str_radix(line[key.len()..].trim(), 16).expect("hex");
            assert_eq!(mask, 0, "{line}");
        }
        let (_w, env) = output_of("/usr/bin/env", &[]);
        let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        assert_eq!(names, ["PATH"], "{env}");
    })
    .join()
    .expect("thread");
}

#[test]
fn a_dropped_watcher_leaves_no_zombie() {
    let (w, _) = output_of("/bin/true", &[]);
    let pid = w.pid();
    let end = Instant::now() + Duration::from_secs(5);
    while state(pid) != Some('Z') {
        assert!(Instant::now() < end, "true did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!w.reaped());
    drop(w);
    assert_eq!(state(pid), None, "pid {pid} is still there after the drop");
    assert!(!TRACKED.with(|t| t.borrow().contains(&pid)));
}

#[test]
fn kill_tree_takes_the_process_group_and_descendants() {
    // The shell exits at once: its children, orphaned, escape a walk of
    // its descendants, but not the kill of its process group.
    let (w, text) = output_of(
        "/bin/sh",
        &[
            "-c",
            "for i in 1 2; do sleep 1000 >/dev/null 2>&1 & echo $!; done",
        ],
    );
    let pids: Vec<i32> = text.lines().map(|l| l.parse().expect("pid")).collect();
    assert_eq!(pids.len(), 2, "{text}");
    kill_tree(&w);
    let end = Instant::now() + Duration::from_secs(5);
    for p in pids {
        while !matches!(state(p), None | Some('Z')) {
            assert!(Instant::now() < end, "{p} still runs: {:?}", state(p));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
