//! How the monitor ends is the engine's choice: SIGTERM without
//! `--kill-on-exit` and `Shutdown()` leave the containers running with
//! their records on disk; `Shutdown(killContainers: true)` stops and
//! deletes them within its timeout before it replies. (SIGTERM with
//! `--kill-on-exit`, the harness's default, is in `signals.rs`.)

use crate::common::*;
use crate::runc_list;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// A monitor whose SIGTERM leaves the containers running.
fn leaving() -> PodOptions {
    PodOptions {
        leave_containers: true,
        ..PodOptions::default()
    }
}

/// The container's status as runc itself reports it, if runc knows it.
fn runc_status(pod: &Pod, id: &str) -> Option<String> {
    let out = Command::new(runc())
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["state", id])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["status"].as_str().map(str::to_owned)
}

fn record(pod: &Pod, id: &str) -> PathBuf {
    pod.state_dir.join("containers").join(id).join("state.json")
}

fn pid_of(c: &Value) -> u32 {
    c["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {c}")) as u32
}

/// Deletes a container the monitor left behind, as the engine (or a new
/// monitor) would, and the pod's parent cgroups with it.
fn delete_left(pod: &Pod, id: &str, pid: u32) {
    let out = Command::new(runc())
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["delete", "--force", id])
        .output()
        .unwrap();
    assert!(out.status.success(), "runc delete --force {id}: {out:?}");
    assert!(
        wait_until(Duration::from_secs(5), || !proc_alive(pid)),
        "{id} ({pid}) still runs after runc delete --force"
    );
    pod.remove_pod_cgroups();
}

/// The running container, its process and runc's record of it outlived
/// the monitor, and so did podmon's own record.
#[track_caller]
fn assert_left_running(pod: &Pod, id: &str, pid: u32) {
    assert!(proc_alive(pid), "{id} ({pid}) died with its monitor");
    assert_eq!(runc_status(pod, id).as_deref(), Some("running"), "{id}");
    assert!(
        record(pod, id).exists(),
        "{} is gone",
        record(pod, id).display()
    );
}

#[test]
fn sigterm_without_kill_on_exit_leaves_the_containers_running() {
    let mut pod = Pod::start_with("exit-leave", leaving());
    let pid = pid_of(&pod.run("s", &["sleep", "1000"]));
    let created = pid_of(&pod.create("cr", &["true"]));
    let t0 = Instant::now();
    let status = pod.stop().expect("server was running");
    assert!(status.success(), "podmon exited with {status} on SIGTERM");
    // No grace to wait for: nothing is stopped.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_left_running(&pod, "s", pid);
    assert_eq!(runc_status(&pod, "cr").as_deref(), Some("created"));
    assert!(record(&pod, "cr").exists());
    let log = pod.server_log_text();
    assert!(
        log.contains("leaving the pod's containers running") && log.contains("(cr, s)"),
        "the log does not say the containers are left running:\n{log}"
    );
    assert!(!pod.socket.exists(), "socket file left behind");
    // The journal has every event up to the exit (a new monitor goes on
    // numbering from it).
    let journal = std::fs::read_to_string(pod.state_dir.join("events.0")).unwrap_or_default();
    assert_eq!(
        journal.lines().count(),
        3,
        "created, created, started:\n{journal}"
    );
    assert!(journal.contains("started"), "{journal}");
    delete_left(&pod, "s", pid);
    delete_left(&pod, "cr", created);
}

#[test]
fn shutdown_with_kill_stops_a_container_that_ignores_sigterm_after_the_timeout() {
    let mut pod = Pod::start_with("exit-kill", leaving());
    let pid = pid_of(&pod.run("t", &["sh", "-c", "trap '' TERM; sleep 1000"]));
    let t0 = Instant::now();
    pod.call(SHUTDOWN, json!({"killContainers": true, "timeout": 2}))
        .ok();
    let replied = t0.elapsed();
    assert!(
        replied >= Duration::from_millis(1900) && replied < Duration::from_secs(8),
        "the reply came after {replied:?}, for a 2 s timeout"
    );
    assert!(
        wait_until(Duration::from_secs(3), || !proc_alive(pid)),
        "the container survived Shutdown(killContainers)"
    );
    assert_eq!(runc_list(&pod).trim(), "", "runc still lists");
    assert!(!record(&pod, "t").exists());
    let status = pod
        .wait_exit(Duration::from_secs(5))
        .expect("the monitor did not exit after replying");
    assert!(status.success(), "podmon exited with {status}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(pod.pod_cgroups_left(), Vec::<PathBuf>::new());
    let log = pod.server_log_text();
    assert!(log.contains("ignored SIGTERM"), "{log}");
}

#[test]
fn shutdown_without_kill_exits_and_leaves_the_containers_running() {
    // --kill-on-exit (the harness's default) is about signals: the call
    // says what happens to the containers.
    let mut pod = Pod::start("exit-call");
    let pid = pid_of(&pod.run("s", &["sleep", "1000"]));
    let t0 = Instant::now();
    assert_eq!(pod.call(SHUTDOWN, json!({})).ok(), json!({}));
    let status = pod
        .wait_exit(Duration::from_secs(5))
        .expect("the monitor did not exit after replying");
    assert!(status.success(), "podmon exited with {status}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_left_running(&pod, "s", pid);
    delete_left(&pod, "s", pid);
}

#[test]
fn sigterm_during_shutdown_with_kill_does_not_cut_it_short() {
    let mut pod = Pod::start_with("exit-race", leaving());
    let pid = pid_of(&pod.run("t", &["sh", "-c", "trap '' TERM; sleep 1000"]));
    let socket = pod.socket.clone();
    let call = thread::spawn(move || {
        Client::connect(&socket).call(SHUTDOWN, json!({"killContainers": true, "timeout": 2}))
    });
    thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(pod.pid as i32, libc::SIGTERM) };
    call.join().unwrap().ok();
    assert!(
        wait_until(Duration::from_secs(3), || !proc_alive(pid)),
        "the container survived"
    );
    let status = pod.wait_exit(Duration::from_secs(5)).expect("no exit");
    assert!(status.success(), "podmon exited with {status}");
    assert_eq!(runc_list(&pod).trim(), "", "runc still lists");
}

/// A create that comes while Shutdown stops the pod is refused (it would
/// make a container the shutdown does not see): ShuttingDown, and nothing
/// is left in the runtime after the exit.
#[test]
fn creates_are_refused_once_the_pod_is_stopping() {
    let mut pod = Pod::start_with("exit-nocreate", leaving());
    pod.run("t", &["sh", "-c", "trap '' TERM; sleep 1000"]);
    let socket = pod.socket.clone();
    let call = thread::spawn(move || {
        Client::connect(&socket).call(SHUTDOWN, json!({"killContainers": true, "timeout": 2}))
    });
    thread::sleep(Duration::from_millis(500));
    let req = json!({"id": "late", "rootfs": rootfs(), "command": ["sleep", "1000"]});
    let e = pod.call(CREATE_CONTAINER, req).err(SHUTTING_DOWN);
    assert_eq!(e["killContainers"], json!(true));
    call.join().unwrap().ok();
    let status = pod.wait_exit(Duration::from_secs(5)).expect("no exit");
    assert!(status.success(), "podmon exited with {status}");
    assert_eq!(runc_list(&pod).trim(), "", "runc still lists");
}

#[test]
fn shutdown_refuses_a_timeout_out_of_range() {
    let mut pod = Pod::start("exit-bad");
    let pid = pid_of(&pod.run("s", &["sleep", "1000"]));
    for t in [json!(-1), json!(3601), json!(u64::MAX)] {
        let e = pod
            .call(SHUTDOWN, json!({"killContainers": true, "timeout": t}))
            .err(INVALID_VALUE);
        assert_eq!(e["parameter"], json!("timeout"), "{t}: {e}");
    }
    let e = pod
        .call(SHUTDOWN, json!({"timeout": "soon"}))
        .err("org.varlink.service.InvalidParameter");
    assert_eq!(e["parameter"], json!("timeout"), "{e}");
    thread::sleep(Duration::from_millis(200));
    pod.assert_alive();
    assert!(proc_alive(pid));
    assert_eq!(pod.get("s")["status"], json!("running"));
}
