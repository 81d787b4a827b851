//! The pod sandbox: namespaces made and pinned by the monitor
//! (`serve --namespaces`), the containers joining them, the pod's init
//! (PID 1 of a pod pid namespace, reaping orphans), namespaced sysctls,
//! and the end of it all at Shutdown(killContainers).

#[path = "../common/mod.rs"]
mod common;

mod pid;
mod podnet;
mod shared;
mod user;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A pin base of the test's own, so parallel tests and runs never meet.
fn ns_base(name: &str) -> PathBuf {
    test_base().join(format!("ns.{name}.{}", std::process::id()))
}

/// A pod serving with `--namespaces KINDS --ns-base BASE` and `extra`.
fn sandboxed(name: &str, kinds: &str, extra: &[&str]) -> (Pod, PathBuf) {
    let base = ns_base(name);
    let mut args = vec![
        "--namespaces".to_string(),
        kinds.to_string(),
        "--ns-base".into(),
        base.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let pod = Pod::start_with(
        name,
        PodOptions {
            extra_args: args,
            ..Default::default()
        },
    );
    (pod, base)
}

/// The text of a CRI log's stdout records, one per line.
fn stdout_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let (_, stream, _, text) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (stream == "stdout").then(|| text.to_owned())
        })
        .collect()
}

/// The exit code WaitContainer reports.
fn exit_code(pod: &Pod, id: &str) -> i64 {
    pod.wait(id)["exitCode"].as_i64().unwrap()
}

/// Runs `sh -c script` in a container to its end; returns (code, stdout lines).
fn run_to_end(pod: &Pod, id: &str, script: &str, extra: Value) -> (i64, Vec<String>) {
    pod.create_with(id, &["sh", "-c", script], extra);
    pod.start_container(id);
    let code = exit_code(pod, id);
    (code, stdout_lines(&pod.log(id)))
}

/// GetPod's parameters.
fn get_pod(pod: &Pod) -> Value {
    pod.call(GET_POD, json!({})).ok()
}

/// Lines of /proc/self/mountinfo that mention `base`.
fn mounts_under(base: &Path) -> Vec<String> {
    let b = base.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&b))
        .map(str::to_owned)
        .collect()
}

/// A caller's bundle directory in the pod's test directory, with a rootfs
/// of its own (a real directory: runc refuses a rootfs that is a symlink);
/// the test writes its config.json.
fn callers_bundle_dir(pod: &Pod) -> PathBuf {
    let dir = pod.dir.join("callers-bundle");
    std::fs::create_dir_all(&dir).unwrap();
    let made = std::process::Command::new(project_dir().join("scripts/make-rootfs"))
        .arg(dir.join("rootfs"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    dir
}

/// Shutdown(killContainers: true), then the monitor's exit.
fn shutdown_kill(pod: &mut Pod) {
    pod.call(SHUTDOWN, json!({"killContainers": true})).ok();
    assert!(
        pod.wait_exit(Duration::from_secs(30)).is_some(),
        "the monitor did not exit after Shutdown"
    );
}

/// Waits until `f` holds, up to `within`.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn host_only_sysctl_is_refused_at_start() {
    let dir = test_base().join(format!("sysctl-refused.{}", std::process::id()));
    let out = std::process::Command::new(podmon_bin())
        .args(["serve", "--pod", "refused", "--namespaces", "net"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .args(["--sysctl", "vm.swappiness=10"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway: {stderr}");
    assert!(
        stderr.contains("sysctl vm.swappiness is not namespaced"),
        "{stderr}"
    );
    assert!(
        !dir.join("s.sock").exists(),
        "nothing is made before the check"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn namespaced_sysctl_is_seen_inside() {
    let (mut pod, base) = sandboxed(
        "sysctl",
        "net",
        &["--sysctl", "net.ipv4.ip_unprivileged_port_start=0"],
    );
    let (code, out) = run_to_end(
        &pod,
        "c",
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start",
        json!({}),
    );
    assert_eq!((code, out), (0, vec!["0".to_string()]));
    shutdown_kill(&mut pod);
    assert_eq!(mounts_under(&base), Vec::<String>::new());
}
