//! `podmon attach`: type, detach with ctrl-p ctrl-q, attach again.

use crate::common::*;
use crate::pty::*;
use crate::support::*;
use std::thread;
use std::time::Duration;

#[test]
fn attach_types_detaches_and_reattaches() {
    let pod = Pod::start("cliattach");
    cli_run(&pod, "c1", &["--terminal", "--stdin"], &["sh"]);
    assert_eq!(pod.get("c1")["status"], "running");

    // First session: type a command, see its output, detach.
    let mut pty = Pty::open(30, 100);
    let before = pty.modes();
    let mut child = pty.spawn(podmon(&pod, &["attach", "c1"]));
    pty.type_bytes(b"echo hi-$((1+2))\r");
    assert!(
        pty.wait_for("hi-3", Duration::from_secs(10)),
        "the shell's output shows through attach: {:?}",
        pty.text()
    );
    assert!(child.try_wait().unwrap().is_none(), "attach still running");
    pty.type_bytes(&[0x10, 0x11]);
    let status = wait_child(
        &mut child,
        Duration::from_secs(10),
        "podmon attach (detach)",
    );
    pty.wait_for("detached", Duration::from_secs(2));
    let shown = pty.text();
    assert_eq!(status.code(), Some(0), "detach exits 0: {shown:?}");
    assert!(
        shown.contains("detached"),
        "the client says it detached: {shown:?}"
    );
    assert_eq!(pty.modes(), before, "terminal modes restored after detach");
    thread::sleep(Duration::from_millis(300));
    let c = pod.get("c1");
    assert_eq!(
        c["status"], "running",
        "detaching leaves the container running: {c}"
    );
    let state = pod.cli_ok(&["state", "c1"]);
    assert!(
        state
            .stdout
            .lines()
            .any(|l| l.starts_with("status:") && l.ends_with("running")),
        "{state:?}"
    );
    drop(pty);

    // Second session: the shell is still there and still takes our input.
    let mut pty = Pty::open(30, 100);
    let mut child = pty.spawn(podmon(&pod, &["attach", "c1"]));
    pty.type_bytes(b"echo again-$((2*3))\r");
    assert!(
        pty.wait_for("again-6", Duration::from_secs(10)),
        "second attach: {:?}",
        pty.text()
    );
    pty.type_bytes(b"exit 5\r");
    let status = wait_child(
        &mut child,
        Duration::from_secs(10),
        "podmon attach (exit 5)",
    );
    assert_eq!(
        status.code(),
        Some(5),
        "attach exits with the container's status: {:?}",
        pty.text()
    );
    let out = pod.cli(&["wait", "c1"]).assert_code(5);
    assert_eq!(out.stdout, "5\n");
}
