//! `READY=1` with `STATUS=` once the monitor serves, the status line
//! again when the containers change, `STOPPING=1` at SIGTERM, plain and
//! socket-activated.

use std::time::Duration;

use crate::common::*;
use crate::manager::Manager;

fn with_notify(m: &Manager, socket_activated: bool) -> PodOptions {
    PodOptions {
        socket_activated,
        env: vec![("NOTIFY_SOCKET".into(), m.address())],
        ..Default::default()
    }
}

/// Runs the pod to the end and checks both notifications.
fn ready_then_stopping(name: &str, socket_activated: bool) {
    let m = Manager::bind(name);
    let mut pod = Pod::start_with(name, with_notify(&m, socket_activated));
    // The socket answered, so READY=1 is already queued.
    let ready = m
        .receive(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no READY=1; server log:\n{}", pod.server_log_text()));
    assert_eq!(ready.get("READY"), Some("1"), "{}", ready.text);
    assert!(ready.fds.is_empty());
    let status = ready
        .get("STATUS")
        .unwrap_or_else(|| panic!("{}", ready.text));
    assert!(
        status.starts_with(&format!("pod {name} serving on ")),
        "{status}"
    );
    if !socket_activated {
        assert!(
            status.contains(&format!("{}: ", pod.socket.display())),
            "{status}"
        );
    }
    assert!(status.ends_with(": 0 containers, 0 running"), "{status}");
    // A create hands the container's log pipes to the store (kept when
    // their writers hang up), the status line follows, and then nothing
    // more while it serves.
    pod.create("c", &["true"]);
    for stream in ["stdout", "stderr"] {
        let stored = m
            .receive(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no FDSTORE=1 for c.{stream}"));
        assert_eq!(stored.get("FDSTORE"), Some("1"), "{}", stored.text);
        assert_eq!(
            stored.get("FDNAME"),
            Some(&*format!("c.{stream}")),
            "{}",
            stored.text
        );
        assert_eq!(stored.get("FDPOLL"), Some("0"), "{}", stored.text);
        assert_eq!(stored.fds.len(), 1, "{}", stored.text);
    }
    let status = m.receive(Duration::from_secs(5)).expect("no STATUS=");
    assert_eq!(
        status
            .get("STATUS")
            .map(|s| s.ends_with(": 1 container, 0 running")),
        Some(true),
        "{}",
        status.text
    );
    assert!(m.receive(Duration::from_millis(200)).is_none());

    let st = pod.stop().expect("the server was running");
    assert!(st.success(), "{st}");
    let stopping = m.receive(Duration::from_secs(5)).expect("no STOPPING=1");
    assert_eq!(stopping.get("STOPPING"), Some("1"), "{}", stopping.text);
    assert!(stopping.get("STATUS").is_some(), "{}", stopping.text);
}

#[test]
fn ready_and_stopping_reach_notify_socket() {
    ready_then_stopping("notify", false);
}

#[test]
fn ready_and_stopping_when_socket_activated() {
    ready_then_stopping("notify-sa", true);
}
