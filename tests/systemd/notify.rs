//! The notifications a service manager gets, read where `NOTIFY_SOCKET`
//! points: `READY=1` with `MAINPID=` (again after a live re-exec, same
//! pid), `STATUS=` with the container counts after each change and only
//! then, `WATCHDOG=1` every `WATCHDOG_USEC/2` when that is ours, and
//! `STOPPING=1`.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::manager::{Manager, Notification};

fn with_notify(m: &Manager, socket_activated: bool, extra: &[(&str, &str)]) -> PodOptions {
    let mut env = vec![("NOTIFY_SOCKET".to_string(), m.address())];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    PodOptions {
        socket_activated,
        env,
        ..Default::default()
    }
}

/// The next notification that is neither `WATCHDOG=1` nor a store's
/// `FDSTORE=1`/`FDSTOREREMOVE=1`.
#[track_caller]
fn next_state(m: &Manager, pod: &Pod) -> Notification {
    let end = Instant::now() + Duration::from_secs(10);
    while let Some(n) = m.receive(end.saturating_duration_since(Instant::now())) {
        if n.get("WATCHDOG").is_none()
            && n.get("FDSTORE").is_none()
            && n.get("FDSTOREREMOVE").is_none()
        {
            return n;
        }
    }
    panic!("no notification; server log:\n{}", pod.server_log_text());
}

#[track_caller]
fn expect_status(m: &Manager, pod: &Pod, counts: &str) {
    let n = next_state(m, pod);
    let status = n.get("STATUS").unwrap_or_else(|| panic!("{}", n.text));
    assert!(
        status.starts_with(&format!("pod {} serving on ", pod.name)) && status.ends_with(counts),
        "want ...{counts}, got {status:?}"
    );
}

/// READY=1, MAINPID= and the first STATUS=.
#[track_caller]
fn expect_ready(m: &Manager, pod: &Pod, counts: &str) {
    let ready = next_state(m, pod);
    assert_eq!(ready.get("READY"), Some("1"), "{}", ready.text);
    assert_eq!(
        ready.get("MAINPID"),
        Some(&*pod.pid.to_string()),
        "{}",
        ready.text
    );
    let status = ready.get("STATUS").unwrap_or("");
    assert!(status.ends_with(counts), "{status:?}");
}

#[test]
fn ready_with_mainpid_and_a_status_that_follows_the_containers() {
    let m = Manager::bind("status");
    let mut pod = Pod::start_with("status", with_notify(&m, false, &[]));
    expect_ready(&m, &pod, ": 0 containers, 0 running");
    pod.create("a", &["sleep", "100"]);
    expect_status(&m, &pod, ": 1 container, 0 running");
    pod.start_container("a");
    expect_status(&m, &pod, ": 1 container, 1 running");
    pod.create("b", &["true"]);
    expect_status(&m, &pod, ": 2 containers, 1 running");
    pod.kill("a", "KILL");
    pod.wait("a");
    expect_status(&m, &pod, ": 2 containers, 0 running");
    pod.delete("a", false);
    expect_status(&m, &pod, ": 1 container, 0 running");
    // Nothing while nothing changes, and no watchdog without WATCHDOG_USEC.
    // (b's store entries are removed at its delete, not now.)
    assert!(m.receive(Duration::from_millis(500)).is_none());

    // A live re-exec keeps the pid: the new image says READY=1 and
    // MAINPID= (ours, still) again, with the re-adopted container.
    // SAFETY: plain kill(2) on the server's pid.
    let err = unsafe { libc::kill(pod.pid as i32, libc::SIGHUP) };
    assert_eq!(err, 0);
    let upgrading = next_state(&m, &pod);
    assert!(
        upgrading
            .get("STATUS")
            .unwrap_or("")
            .starts_with("upgrading"),
        "{}",
        upgrading.text
    );
    expect_ready(&m, &pod, ": 1 container, 0 running");
    pod.delete("b", false);
    expect_status(&m, &pod, ": 0 containers, 0 running");

    let st = pod.stop().expect("the server was running");
    assert!(st.success(), "{st}");
    let stopping = next_state(&m, &pod);
    assert_eq!(stopping.get("STOPPING"), Some("1"), "{}", stopping.text);
}

#[test]
fn ready_with_mainpid_when_socket_activated() {
    let m = Manager::bind("status-sa");
    let pod = Pod::start_with("status-sa", with_notify(&m, true, &[]));
    // systemd-socket-activate execs podmon: the pid is the one it started.
    expect_ready(&m, &pod, ": 0 containers, 0 running");
}

/// The WATCHDOG=1 datagrams that arrive within `within`.
fn watchdogs(m: &Manager, within: Duration) -> usize {
    let end = Instant::now() + within;
    let mut n = 0;
    while let Some(got) = m.receive(end.saturating_duration_since(Instant::now())) {
        if got.get("WATCHDOG") == Some("1") {
            n += 1;
        }
    }
    n
}

#[test]
fn watchdog_every_half_of_watchdog_usec() {
    let m = Manager::bind("watchdog");
    // 300 ms: one WATCHDOG=1 every 150 ms.
    let pod = Pod::start_with(
        "watchdog",
        with_notify(&m, false, &[("WATCHDOG_USEC", "300000")]),
    );
    let n = watchdogs(&m, Duration::from_millis(1500));
    assert!((6..=14).contains(&n), "{n} WATCHDOG=1 in 1.5 s");
    assert!(
        pod.server_log_text()
            .contains("watchdog: WATCHDOG=1 every 150ms")
    );
}

#[test]
fn no_watchdog_for_another_pid() {
    let m = Manager::bind("watchdog-pid");
    // WATCHDOG_PID=1: the variables are init's, not ours.
    let opts = with_notify(
        &m,
        false,
        &[("WATCHDOG_USEC", "300000"), ("WATCHDOG_PID", "1")],
    );
    let _pod = Pod::start_with("watchdog-pid", opts);
    assert_eq!(watchdogs(&m, Duration::from_secs(1)), 0);
}

/// With a service manager but no watchdog, an idle monitor (a running
/// container) is not woken: STATUS= follows events, not a timer.
#[test]
fn idle_under_a_service_manager_has_no_wakeups() {
    let m = Manager::bind("idle");
    let pod = Pod::start_with("idle-notify", with_notify(&m, false, &[]));
    pod.run("sleeper", &["sleep", "60"]);
    assert_no_wakeups_for_10s(&pod);
    pod.delete("sleeper", true);
}
