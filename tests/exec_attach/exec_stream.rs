//! Streaming Exec (with `more`, upgraded, under a terminal), exit 137 by
//! itself, and execs running together with attach, ReopenLog and a kill.

use crate::common::*;
use crate::support::*;
use crate::upgraded::*;
use serde_json::json;
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn exec_more_replies_with_stdin_parameter() {
    let pod = Pod::start("ex-more");
    run_idle(&pod, "c1");
    let input = "hello streaming\nsecond line\n";
    let mut cl = pod.client();
    let replies = cl.call_more(
        EXEC,
        json!({ "id": "c1", "command": ["cat"], "stdin": input }),
    );
    assert!(replies.len() >= 3, "first, output, last: {replies:?}");
    let first = replies[0].ok();
    assert!(
        replies[0].continues(),
        "first reply must continue: {replies:?}"
    );
    let exec_id = first["execId"].as_str().unwrap_or_default();
    assert!(!exec_id.is_empty(), "first reply has an execId: {first}");
    assert!(
        first["pid"].as_i64().is_some_and(|p| p > 1),
        "first reply has a pid: {first}"
    );
    let last = replies.last().unwrap();
    let lp = last.ok();
    assert!(!last.continues(), "{replies:?}");
    assert_eq!(lp["exitCode"], json!(0), "last reply: {lp}");
    let mut stdout = String::new();
    for r in &replies[1..replies.len() - 1] {
        let p = r.ok();
        assert!(r.continues(), "middle replies continue: {replies:?}");
        assert!(!present(&p, "execId") && !present(&p, "exitCode"), "{p}");
        assert!(!present(&p, "stderr"), "cat wrote to stderr: {p}");
        stdout.push_str(p["stdout"].as_str().expect("output reply carries stdout"));
    }
    assert_eq!(stdout, input);
    // The connection is still a Varlink connection afterwards.
    cl.call(GET_POD, json!({})).ok();

    // Without more or upgrade: ExpectedMore.
    pod.call(EXEC, json!({ "id": "c1", "command": ["true"] }))
        .err("org.varlink.service.ExpectedMore");
}

#[test]
fn exec_upgraded_interactive_stdin_round_trip() {
    let pod = Pod::start("ex-upg");
    run_idle(&pod, "c1");
    let (first, mut u) = Upgraded::open(
        &pod,
        EXEC,
        json!({ "id": "c1", "command": ["cat"], "interactive": true }),
    );
    assert_no_error(&first);
    assert_ne!(
        first["continues"],
        json!(true),
        "one reply then frames: {first}"
    );
    let p = params_of(&first);
    assert!(
        p["execId"].as_str().is_some_and(|s| !s.is_empty()),
        "{first}"
    );
    assert!(p["pid"].as_i64().is_some_and(|x| x > 1), "{first}");

    let mut c = Collected::default();
    u.stdin(b"hello\n");
    u.wait_stdout(&mut c, "hello\n", Duration::from_secs(10));
    assert!(
        c.exit.is_none(),
        "cat exited before stdin was closed: {c:?}"
    );
    u.stdin(b""); // EOF
    u.collect(&mut c, Duration::from_secs(10));
    assert_eq!(c.stdout_text(), "hello\n");
    assert!(c.stderr.is_empty(), "{c:?}");
    assert_eq!(c.error, None);
    assert_eq!(c.exit, Some(0), "cat exits 0 at EOF: {c:?}");
    assert!(c.odd.is_empty(), "unexpected frame kinds: {:?}", c.odd);
    u.expect_eof(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(&pod, "c1").is_empty()),
        "exec directory left: {:?}",
        exec_dirs(&pod, "c1")
    );

    // A client that hangs up takes its exec (and what it started) with it.
    let init = pod.get("c1")["pid"].as_u64().unwrap() as u32;
    let cgroup = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let (first, u) = Upgraded::open(
        &pod,
        EXEC,
        json!({ "id": "c1", "command": ["sh", "-c", "sleep 33 & sleep 33"], "interactive": true }),
    );
    assert_no_error(&first);
    assert!(
        wait_until(Duration::from_secs(5), || {
            procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup).len() == 2
        }),
        "the exec's two sleeps never ran"
    );
    drop(u);
    assert!(
        wait_until(Duration::from_secs(5), || {
            procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup)
                .into_iter()
                .all(|p| !proc_alive(p))
        }),
        "the exec outlived its client: {:?}",
        procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup)
    );
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(&pod, "c1").is_empty()
            && zombie_children(pod.pid).is_empty()),
        "after the client left: exec dirs {:?}, zombies {:?}",
        exec_dirs(&pod, "c1"),
        zombie_children(pod.pid)
    );
}

#[test]
fn exec_terminal_resize() {
    let pod = Pod::start("ex-tty");
    run_idle(&pod, "c1");
    let (first, mut u) = Upgraded::open(
        &pod,
        EXEC,
        json!({
            "id": "c1",
            "command": ["sh", "-c", "sleep 0.5; stty size; tty"],
            "terminal": true,
            "interactive": true,
        }),
    );
    assert_no_error(&first);
    u.resize(100, 40);
    let mut c = Collected::default();
    u.collect(&mut c, Duration::from_secs(10));
    let out = c.stdout_text();
    assert!(
        out.contains("40 100"),
        "stty size after resize 100x40: {out:?} ({c:?})"
    );
    assert!(out.contains("/dev/pts/"), "the exec has a pty: {out:?}");
    assert!(c.stderr.is_empty(), "a terminal has one stream: {c:?}");
    assert_eq!(c.exit, Some(0), "{c:?}");
    assert_eq!(c.error, None);
}

/// A process that exits 137 by itself was not killed: the exit reports the
/// code and no signal (as `waitid` says), in Exec's last reply and its
/// `execExited` event alike; one killed by SIGKILL names the signal.
#[test]
fn exec_exit_137_by_itself_is_not_a_signal() {
    let pod = Pod::start("ex-137");
    run_idle(&pod, "c1");
    let (mut cl, _) = exec_more_start(&pod, "c1", &["sh", "-c", "exit 137"]);
    let (_, last) = exec_more_finish(&mut cl, Duration::from_secs(10));
    assert_eq!(last["exitCode"], json!(137), "{last}");
    assert!(!present(&last, "signal"), "exit 137 is not SIGKILL: {last}");

    let (mut cl, _) = exec_more_start(&pod, "c1", &["sh", "-c", "kill -9 $$"]);
    let (_, last) = exec_more_finish(&mut cl, Duration::from_secs(10));
    assert_eq!(last["exitCode"], json!(137), "{last}");
    assert_eq!(last["signal"], json!("SIGKILL"), "{last}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "exit 137"], json!({}));
    assert_eq!(r["exitCode"], json!(137), "{r}");
    assert!(!present(&r, "signal"), "{r}");
}

#[test]
fn streaming_exec_ends_after_its_process_even_if_a_child_holds_the_pipes() {
    let pod = Pod::start("ex-bg");
    run_idle(&pod, "c1");
    let t0 = Instant::now();
    let (first, mut s) = Upgraded::open(
        &pod,
        EXEC,
        json!({ "id": "c1", "command": ["sh", "-c", "sleep 20 & echo hi; exit 4"] }),
    );
    assert_no_error(&first);
    let mut c = Collected::default();
    s.collect(&mut c, Duration::from_secs(15));
    assert_eq!(c.exit, Some(4), "{c:?}");
    assert_eq!(c.stdout_text(), "hi\n");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the exit frame came {took:?} after the start: the background child's pipes held it"
    );
}

/// Attach while exec 1 still runs: the container's output, not the exec's.
fn attach_until_tick(pod: &Pod) {
    let mut at = pod.client();
    at.send_more(ATTACH, json!({ "id": "c1" }));
    let af = at.recv();
    assert_eq!(af.ok()["stdin"], json!(false), "{af:?}");
    let mut got = String::new();
    while !got.contains("tick") {
        let r = at.recv();
        got.push_str(r.ok()["stdout"].as_str().unwrap_or(""));
    }
    drop(at);
}

/// KillContainer while an exec runs kills the container, and the exec
/// dies with it.
fn kill_during_exec(pod: &Pod) {
    let (mut e3, _f3) = exec_more_start(pod, "c1", &["sleep", "31"]);
    pod.kill("c1", "KILL");
    let mut wc = pod.client();
    wc.set_read_timeout(Duration::from_secs(10));
    let w = wc.call(WAIT_CONTAINER, json!({ "id": "c1" })).ok();
    assert_eq!(
        w["exitCode"],
        json!(137),
        "container killed by SIGKILL: {w}"
    );
    assert_eq!(w["signal"], json!("SIGKILL"), "{w}");
    // The exec dies with its container (its pid namespace ends).
    let (_, l3) = exec_more_finish(&mut e3, Duration::from_secs(10));
    assert!(present(&l3, "exitCode"), "{l3}");
    assert_ne!(l3["exitCode"], json!(0), "{l3}");
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(pod, "c1").is_empty()),
        "exec directories left: {:?}",
        exec_dirs(pod, "c1")
    );
    assert!(
        wait_until(Duration::from_secs(3), || zombie_children(pod.pid)
            .is_empty()),
        "zombies: {:?}",
        zombie_children(pod.pid)
    );
}

#[test]
fn concurrent_execs_attach_reopen_and_kill() {
    let pod = Pod::start("ex-conc");
    pod.run(
        "c1",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do echo tick; sleep 0.2; done",
        ],
    );

    // Two execs at once.
    let (mut e1, f1) = exec_more_start(&pod, "c1", &["sh", "-c", "sleep 1.5; echo one"]);
    let (mut e2, f2) = exec_more_start(&pod, "c1", &["sh", "-c", "echo two; exit 4"]);
    let (id1, id2) = (
        f1["execId"].as_str().unwrap(),
        f2["execId"].as_str().unwrap(),
    );
    assert_ne!(id1, id2, "execIds must differ");
    assert_ne!(f1["pid"], f2["pid"]);
    let (o2, l2) = exec_more_finish(&mut e2, Duration::from_secs(10));
    assert_eq!(o2, "two\n");
    assert_eq!(l2["exitCode"], json!(4), "{l2}");

    attach_until_tick(&pod);

    // ReopenLog while exec 1 still runs (as an outside rotator would).
    let log = pod.log_path("c1");
    let old = log.with_extension("log.rotated");
    fs::rename(&log, &old).unwrap();
    pod.call(REOPEN_LOG, json!({ "id": "c1" })).ok();
    assert!(
        wait_until(Duration::from_secs(5), || fs::read_to_string(&log)
            .is_ok_and(|s| s.contains("tick"))),
        "no new log with output after ReopenLog"
    );

    let (o1, l1) = exec_more_finish(&mut e1, Duration::from_secs(10));
    assert_eq!(o1, "one\n");
    assert_eq!(l1["exitCode"], json!(0), "{l1}");
    let all_logs = fs::read_to_string(&old).unwrap() + &fs::read_to_string(&log).unwrap();
    assert!(
        !all_logs.contains("one") && !all_logs.contains("two"),
        "exec output went into the container's log"
    );
    kill_during_exec(&pod);
}
