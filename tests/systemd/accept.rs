//! `systemd-socket-activate --accept` (a socket unit's `Accept=yes`): fd 3
//! is one accepted connection, not a listener. podmon serves it alone and
//! exits when the client closes it; the next connection gets a monitor of
//! its own, which re-adopts the pod's containers; a second connection
//! while one is served waits for the first's monitor to let go of the
//! state directory. Never `accept` on it in a loop, never a client left hanging.

use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use crate::activate::Activated;
use crate::common::*;

#[test]
fn an_accepted_connection_is_served_then_the_monitor_exits() {
    let a = Activated::start("accept", &["--accept"], &[]);
    // The real client: varlinkctl gets its answer (it hung before).
    let out = run_with_timeout(
        Command::new(varlinkctl())
            .arg("call")
            .arg(format!("unix:{}", a.socket.display()))
            .arg("io.podmon.Pod.GetPod")
            .arg("{}"),
        Duration::from_secs(20),
    )
    .assert_ok();
    assert!(out.stdout.contains("\"name\""), "{}", out.stdout);

    // Containers outlive the connection's monitor: the next one re-adopts.
    let id = "c1";
    let created = a.call(
        "io.podmon.Pod.CreateContainer",
        json!({"id": id, "rootfs": rootfs().display().to_string(), "command": ["sleep", "100"]}),
    );
    created.ok();
    a.call("io.podmon.Pod.StartContainer", json!({"id": id}))
        .ok();
    let got = a.call("io.podmon.Pod.GetContainer", json!({"id": id})).ok();
    assert_eq!(got["container"]["status"], json!("running"), "{got}");
    a.call(
        "io.podmon.Pod.DeleteContainer",
        json!({"id": id, "force": true}),
    )
    .ok();

    // Two at once: the second connection's monitor waits for the first
    // to release the state directory, then serves its client.
    let mut first = Client::connect(&a.socket);
    first.set_read_timeout(Duration::from_secs(20));
    first.call("io.podmon.Pod.GetPod", json!({})).ok();
    let mut second = UnixStream::connect(&a.socket).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    second
        .write_all(b"{\"method\":\"io.podmon.Pod.GetPod\"}\0")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    let mut buf = [0u8; 64];
    let n = second.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"{\"parameters\""),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(second);

    // Each monitor exited once its client closed: none left, no loop.
    assert!(
        wait_until(Duration::from_secs(10), || a.monitors().is_empty()),
        "monitors still running: {:?}\n{}",
        a.monitors(),
        a.log_text()
    );
    let log = a.log_text();
    assert!(!log.contains("accept: Invalid argument"), "{log}");
    assert_eq!(
        log.matches("the accepted connection is closed: exiting")
            .count(),
        7,
        "{log}"
    );
}
