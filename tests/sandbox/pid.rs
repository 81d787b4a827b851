//! A pod pid namespace: containers see each other's processes, the pod's
//! init (PID 1) reaps the orphans re-parented to it, and it exits at
//! Shutdown(killContainers).

use super::*;

/// Processes in the pid namespace `ns` (a `pid:[N]` link) that are zombies.
fn zombies_in(ns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        let link = std::fs::read_link(format!("/proc/{pid}/ns/pid"));
        if link.is_ok_and(|l| l.to_string_lossy() == ns) && proc_state(pid) == Some('Z') {
            out.push(format!("{pid} {}", proc_comm(pid)));
        }
    }
    out
}

#[test]
fn pod_pid_namespace_is_shared_and_reaped() {
    let (mut pod, base) = sandboxed("pidns", "net,ipc,uts,pid", &[]);
    let init = get_pod(&pod)["init"]["pid"].as_u64().unwrap() as u32;
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_ne!(
        ns,
        std::fs::read_link("/proc/self/ns/pid")
            .unwrap()
            .to_string_lossy(),
        "the init is in a new pid namespace"
    );
    pod.run("a", &["sh", "-c", "exec sleep 12345"]);
    let (code, ps) = run_to_end(&pod, "b", "ps; echo $$", json!({}));
    assert_eq!(code, 0);
    assert!(
        ps.iter().any(|l| l.contains("sleep 12345")),
        "b does not see a's sleep: {ps:?}"
    );
    assert!(
        ps.iter().any(|l| l.contains("__pod-init")),
        "b does not see the pod's init: {ps:?}"
    );

    // The subshell exits at once: its sleep is an orphan, re-parented to
    // the pod's init, and ends a moment later.
    let (code, _) = run_to_end(
        &pod,
        "orphans",
        "(sleep 0.3 &); (sleep 0.3 &); sleep 1",
        json!({}),
    );
    assert_eq!(code, 0);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        eventually(Duration::from_secs(5), || zombies_in(&ns).is_empty()),
        "zombies in the pod: {:?}",
        zombies_in(&ns)
    );
    assert_eq!(mounts_under(&base).len(), 4);

    shutdown_kill(&mut pod);
    assert!(!proc_alive(init), "the init outlived Shutdown");
    assert_eq!(mounts_under(&base), Vec::<String>::new());
}

#[test]
fn run_in_pod_enters_the_pod_pid_namespace() {
    let (mut pod, _base) = sandboxed("pidns-run", "net,pid", &[]);
    let init = get_pod(&pod)["init"]["pid"].as_u64().unwrap() as u32;
    let pod_ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    let run = |script: &str| {
        pod.call(
            RUN_IN_POD,
            json!({"command": ["sh", "-c", script], "namespaces": ["pid", "net"]}),
        )
        .ok()
    };
    // The host's /proc still (no mount namespace is joined): NSpid lists
    // the pid here and the pid in the pod's namespace.
    let r = run("readlink /proc/self/ns/pid; grep NSpid /proc/self/status");
    assert_eq!(r["exitCode"], 0, "{r}");
    let out = r["stdout"].as_str().unwrap();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(std::path::PathBuf::from),
        Some(pod_ns.clone()),
        "{r}"
    );
    let nspid: Vec<&str> = lines.next().unwrap().split_whitespace().skip(1).collect();
    assert_eq!(nspid.len(), 2, "a pid here and one in the pod: {out}");
    assert_ne!(nspid[1], "1", "the pod's init is 1, not the program");
    // The stand-in passes the program's end on: its code, its signal.
    assert_eq!(run("exit 7")["exitCode"], 7);
    let killed = run("kill -9 $$");
    assert_eq!(killed["exitCode"], 137, "{killed}");
    assert_eq!(killed["signal"], "SIGKILL", "{killed}");
    shutdown_kill(&mut pod);
}
