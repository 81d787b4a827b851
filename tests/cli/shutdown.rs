//! `podmon shutdown`: the monitor exits, with `--kill` after stopping and
//! deleting the containers, without it leaving them running.

use crate::common::*;
use std::time::Duration;

#[test]
fn shutdown_kill_deletes_the_containers_and_the_monitor_exits() {
    let mut pod = Pod::start("cli-shut");
    let out = pod.cli(&["shutdown", "--timeout", "5"]);
    assert_eq!(out.code(), 2, "--timeout needs --kill: {out:?}");
    let out = pod.cli(&["shutdown", "--kill", "--timeout", "3601"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("timeout"), "{out:?}");
    pod.assert_alive();

    let c = pod.run("s", &["sleep", "1000"]);
    let pid = c["pid"].as_u64().unwrap() as u32;
    // `sleep` as PID 1 of its namespace ignores SIGTERM: SIGKILL after 1 s.
    let out = pod.cli_ok(&["shutdown", "--kill", "--timeout", "1", "--json"]);
    assert_eq!(out.stdout, "{}\n");
    assert!(
        wait_until(Duration::from_secs(3), || !proc_alive(pid)),
        "the container survived podmon shutdown --kill"
    );
    let status = pod.wait_exit(Duration::from_secs(5)).expect("no exit");
    assert!(status.success(), "{status}");
    let root = pod.state_dir.join("runtime");
    assert_eq!(cleanup_runtime(runc(), &root), Vec::<String>::new());
}

#[test]
fn shutdown_leaves_the_containers_running() {
    let mut pod = Pod::start("cli-shut-leave");
    let c = pod.run("s", &["sleep", "1000"]);
    let pid = c["pid"].as_u64().unwrap() as u32;
    let out = pod.cli_ok(&["shutdown"]);
    assert_eq!(out.stdout, "");
    let status = pod.wait_exit(Duration::from_secs(5)).expect("no exit");
    assert!(status.success(), "{status}");
    assert!(proc_alive(pid), "the container died with its monitor");
    // Deleted here, as an engine would.
    let root = pod.state_dir.join("runtime");
    assert_eq!(cleanup_runtime(runc(), &root), ["s"]);
    assert!(wait_until(Duration::from_secs(5), || !proc_alive(pid)));
    pod.remove_pod_cgroups();
}
