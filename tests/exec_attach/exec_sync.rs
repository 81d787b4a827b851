//! ExecSync: exit codes, the timeout, large output and the cap, env/cwd/user,
//! and no descriptors left behind.

use crate::common::*;
use crate::support::*;
use crate::upgraded::*;
use serde_json::json;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn exec_sync_exit_codes() {
    let pod = Pod::start("es-codes");
    run_idle(&pod, "c1");

    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo out; echo err >&2"],
        json!({}),
    );
    assert_eq!(r["exitCode"], json!(0), "{r}");
    assert!(!present(&r, "signal"), "no signal for a normal exit: {r}");
    assert_eq!(r["stdout"], json!("out\n"), "{r}");
    assert_eq!(r["stderr"], json!("err\n"), "{r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");
    assert_eq!(r["stdoutTruncated"], json!(false), "{r}");
    assert_eq!(r["stderrTruncated"], json!(false), "{r}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "exit 3"], json!({}));
    assert_eq!(r["exitCode"], json!(3), "{r}");
    assert!(!present(&r, "signal"), "no signal for exit 3: {r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "kill -9 $$"], json!({}));
    assert_eq!(r["exitCode"], json!(137), "{r}");
    assert_eq!(r["signal"], json!("SIGKILL"), "{r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");

    // The container itself is untouched by its execs.
    assert_eq!(pod.get("c1")["status"], json!("running"));
}

/// Nothing of the timed-out exec is left: no sleep, no zombie, no directory.
fn assert_exec_gone(pod: &Pod, cgroup: &str) {
    let gone = wait_until(Duration::from_secs(2), || {
        procs_with_cmdline_in_cgroup(&["sleep", "30"], cgroup)
            .into_iter()
            .all(|p| !proc_alive(p))
    });
    assert!(
        gone,
        "`sleep 30` still runs in the container after the timeout: {:?}",
        procs_with_cmdline_in_cgroup(&["sleep", "30"], cgroup)
            .iter()
            .map(|p| format!("{p} state {:?}", proc_state(*p)))
            .collect::<Vec<_>>()
    );
    let no_zombies = wait_until(Duration::from_secs(2), || {
        zombie_children(pod.pid).is_empty()
    });
    assert!(
        no_zombies,
        "zombie children of podmon: {:?}",
        zombie_children(pod.pid)
    );
    assert!(
        wait_until(Duration::from_secs(2), || exec_dirs(pod, "c1").is_empty()),
        "exec directories left behind: {:?}",
        exec_dirs(pod, "c1")
    );
    // Inside the container too, no sleep 30 (ps sees the container's pid namespace).
    let ps = exec_sync(pod, "c1", &["ps", "-o", "pid,args"], json!({}));
    assert!(
        !ps["stdout"].as_str().unwrap().contains("sleep 30"),
        "ps in the container: {}",
        ps["stdout"]
    );
}

#[test]
fn exec_sync_timeout_kills_everything() {
    let pod = Pod::start("es-timeout");
    let c = run_idle(&pod, "c1");
    let init = c["pid"].as_u64().expect("running container has a pid") as u32;
    let cgroup = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();

    let socket = pod.socket.clone();
    let t0 = Instant::now();
    let worker = thread::spawn(move || {
        let mut cl = Client::connect(&socket);
        let r = cl.call(
            EXEC_SYNC,
            json!({
                "id": "c1",
                "command": ["sh", "-c", "sleep 30 & sleep 30"],
                "timeoutSeconds": 1.0,
            }),
        );
        (r, t0.elapsed())
    });
    // While it runs: its working directory exists, and both sleeps run in
    // the container's cgroup (so the checks below are not vacuous).
    assert!(
        wait_until(Duration::from_secs(5), || !exec_dirs(&pod, "c1").is_empty()),
        "no exec directory under {} while the exec runs",
        pod.state_dir.join("containers/c1/execs").display()
    );
    let both_seen = wait_until(Duration::from_secs(5), || {
        procs_with_cmdline_in_cgroup(&["sleep", "30"], &cgroup).len() == 2
    });
    let (r, took) = worker.join().unwrap();
    let r = r.ok();
    assert!(
        both_seen,
        "never saw both `sleep 30` in the container's cgroup"
    );
    assert_eq!(r["timedOut"], json!(true), "{r}");
    assert!(took < Duration::from_secs(5), "ExecSync took {took:?}: {r}");
    assert!(
        took >= Duration::from_millis(900),
        "ExecSync returned before its timeout ({took:?}): {r}"
    );
    assert_eq!(r["exitCode"], json!(137), "killed by SIGKILL: {r}");
    assert_eq!(r["signal"], json!("SIGKILL"), "{r}");

    assert_exec_gone(&pod, &cgroup);
    assert_eq!(pod.get("c1")["status"], json!("running"));
}

#[test]
fn exec_sync_large_output_and_truncation() {
    let pod = Pod::start("es-large");
    run_idle(&pod, "c1");

    let r = exec_sync(
        &pod,
        "c1",
        &["head", "-c", "20000000", "/dev/zero"],
        json!({ "maxOutput": 1000000 }),
    );
    let out = r["stdout"].as_str().expect("stdout is a string");
    assert_eq!(out.len(), 1_000_000, "stdout length (cap 1000000)");
    assert!(out.bytes().all(|b| b == 0), "stdout is not all NUL bytes");
    assert_eq!(r["stdoutTruncated"], json!(true));
    assert_eq!(r["stderrTruncated"], json!(false));
    assert_eq!(
        r["exitCode"],
        json!(0),
        "head must not be blocked or killed"
    );
    assert_eq!(r["timedOut"], json!(false));

    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "head -c 5000000 /dev/zero | tr '\\000' a"],
        json!({}),
    );
    let out = r["stdout"].as_str().expect("stdout is a string");
    assert_eq!(out.len(), 5_000_000, "5 MB without a cap");
    assert!(out.bytes().all(|b| b == b'a'), "stdout is not all 'a'");
    assert_eq!(r["stdoutTruncated"], json!(false));
    assert_eq!(r["exitCode"], json!(0));
}

#[test]
fn exec_sync_env_cwd_user() {
    let pod = Pod::start("es-env");
    run_idle(&pod, "c1");
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo $FOO; pwd; id -u; id -g"],
        json!({ "env": ["FOO=bar"], "cwd": "/tmp", "user": "1000:1000" }),
    );
    assert_eq!(r["stdout"], json!("bar\n/tmp\n1000\n1000\n"), "{r}");
    assert_eq!(r["exitCode"], json!(0), "{r}");

    // Defaults: the container's cwd (/) and user (root); FOO unset.
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo \"[$FOO]\"; pwd; id -u"],
        json!({}),
    );
    assert_eq!(r["stdout"], json!("[]\n/\n0\n"), "{r}");
}

#[test]
fn execs_leave_no_fds_behind() {
    let pod = Pod::start("ex-fds");
    run_idle(&pod, "c1");
    // Warm up once (lazily opened descriptors, io-wq), then measure.
    exec_sync(&pod, "c1", &["true"], json!({}));
    let before = fd_count(pod.pid);
    for _ in 0..10 {
        exec_sync(
            &pod,
            "c1",
            &["sh", "-c", "echo out; echo err >&2"],
            json!({}),
        );
        exec_sync(
            &pod,
            "c1",
            &["sleep", "5"],
            json!({ "timeoutSeconds": 0.2 }),
        );
    }
    let (_, mut s) = Upgraded::open(
        &pod,
        EXEC,
        json!({ "id": "c1", "command": ["cat"], "interactive": true, "terminal": true }),
    );
    s.stdin(b"");
    drop(s);
    assert!(
        // At most as many: a connection of the harness that was still open
        // when counting may have closed since.
        wait_until(Duration::from_secs(10), || fd_count(pod.pid) <= before),
        "podmon had {before} fds before 21 execs and {} after",
        fd_count(pod.pid)
    );
    assert!(
        exec_dirs(&pod, "c1").is_empty(),
        "{:?}",
        exec_dirs(&pod, "c1")
    );
    assert!(zombie_children(pod.pid).is_empty());
}
