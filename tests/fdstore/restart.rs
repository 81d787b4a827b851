//! A monitor killed with SIGKILL while its container writes a counter
//! every 30 ms (between two values), and a new one started with what the played service
//! manager kept in its file-descriptor store: the new monitor re-adopts
//! the container (running), reads its pipes on, and the log holds every
//! counter value once. The container's end is reported as `MonitorDown`
//! with no exit code: its parent is no longer podmon.

use serde_json::json;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::common::*;
use crate::manager::Manager;

/// Counter values the container writes before it exits, one every 30 ms.
const COUNT: u32 = 150;
/// The monitor is killed once this value is in the log: between two
/// values it has nothing read and not yet written (output in its memory
/// when it is killed is lost: README, "Restarts and upgrades").
const KILL_AFTER: u32 = 40;

fn notify_opts(m: &Manager) -> PodOptions {
    PodOptions {
        env: vec![("NOTIFY_SOCKET".into(), m.address())],
        leave_containers: true,
        ..Default::default()
    }
}

/// The descriptors stored for `id`, by name, as the manager gives them back.
fn stored(m: &Manager, id: &str) -> Vec<(String, OwnedFd)> {
    let mut kept = Vec::new();
    while kept.len() < 2 {
        let n = m
            .receive(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("only {} descriptors stored", kept.len()));
        if n.get("FDSTORE") != Some("1") {
            continue;
        }
        let name = n.get("FDNAME").expect("FDNAME").to_owned();
        assert!(name.starts_with(&format!("{id}.")), "{name}");
        assert_eq!(n.get("FDPOLL"), Some("0"), "{}", n.text);
        kept.extend(n.fds.into_iter().map(|fd| (name.clone(), fd)));
    }
    kept
}

/// The numbers of the log's stdout records, in order.
pub fn counted(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let (_, stream, tag, text) = (f.next()?, f.next()?, f.next()?, f.next()?);
            assert_eq!((stream, tag), ("stdout", "F"), "{l}");
            text.parse().ok()
        })
        .collect()
}

#[test]
fn a_crashed_monitor_hands_its_pipes_over_through_the_fd_store() {
    let m = Manager::bind("restart");
    let mut pod = Pod::start_with("fdstore-restart", notify_opts(&m));
    let script =
        format!("i=0; while [ $i -lt {COUNT} ]; do echo $i; i=$((i+1)); sleep 0.01; done; exit 3");
    pod.run("counter", &["sh", "-c", &script]);
    let fds = stored(&m, "counter");
    // Polled every millisecond: the kill lands well inside the 30 ms
    // before the next value.
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !counted(&std::fs::read_to_string(pod.log_path("counter")).unwrap_or_default())
        .contains(&KILL_AFTER)
    {
        assert!(
            std::time::Instant::now() < end,
            "{KILL_AFTER} never reached the log"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    pod.crash();
    // The container writes on into the pipes nobody reads.
    std::thread::sleep(Duration::from_millis(300));
    pod.serve_again(&PodOptions {
        passed_fds: fds,
        ..notify_opts(&m)
    });
    let c = pod.get("counter");
    assert_eq!(c["status"], json!("running"), "{c}");
    let log = pod.server_log_text();
    assert!(log.contains("re-adopted container counter"), "{log}");

    let w = pod.wait("counter");
    assert_eq!(w["reason"], json!("MonitorDown"), "{w}");
    assert!(w.get("exitCode").is_none(), "an exit code was made up: {w}");
    assert_eq!(w["container"]["exitReason"], json!("MonitorDown"), "{w}");
    let values = counted(&pod.log("counter"));
    let want: Vec<u32> = (0..COUNT).collect();
    assert_eq!(values, want, "lost or repeated counter values");
    pod.delete("counter", false);
}

#[test]
fn without_the_store_a_restarted_monitor_still_knows_its_container() {
    let mut pod = Pod::start_with(
        "fdstore-nostore",
        PodOptions {
            leave_containers: true,
            ..Default::default()
        },
    );
    pod.run("sleeper", &["sleep", "1000"]);
    let pid = pod.get("sleeper")["pid"].clone();
    pod.crash();
    pod.serve_again(&PodOptions::default());
    let c = pod.get("sleeper");
    assert_eq!(c["status"], json!("running"), "{c}");
    assert_eq!(c["pid"], pid, "{c}");
    // A second create of the id is refused, its directory left alone.
    let dup = pod.call(
        "io.podmon.Pod.CreateContainer",
        json!({"id": "sleeper", "rootfs": rootfs(), "command": ["true"]}),
    );
    dup.err("io.podmon.Pod.ContainerExists");
    assert!(pod.state_dir.join("containers/sleeper/state.json").exists());
    pod.kill("sleeper", "KILL");
    let w = pod.wait("sleeper");
    assert_eq!(w["reason"], json!("MonitorDown"), "{w}");
    pod.delete("sleeper", false);
}
