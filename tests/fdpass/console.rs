//! OpenConsole: the pty master of a terminal container, received with the
//! reply, and a shell talked to through it.

use std::os::fd::AsFd;
use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::settled_fds;
use crate::{FdClient, read_now, set_nonblocking};

const OPEN_CONSOLE: &str = "io.podmon.Pod.OpenConsole";

#[test]
fn a_shell_answers_through_the_received_pty_master() {
    let pod = Pod::start("fd-console");
    pod.create_with("t1", &["sh"], json!({"terminal": true}));
    pod.start_container("t1");
    let mut c = FdClient::connect(&pod);
    // Counted with the connection open.
    let before = settled_fds(pod.pid);
    let (reply, mut fds) = c.call(OPEN_CONSOLE, json!({"id": "t1"}), &[]);
    assert_eq!(
        reply["parameters"],
        json!({"ptyFileDescriptor": 0}),
        "{reply}"
    );
    assert_eq!(fds.len(), 1, "{reply}");
    let master = fds.remove(0);
    assert!(rustix::termios::isatty(master.as_fd()), "not a terminal");
    // The monitor's own copy stays; the one it sent is ours alone.
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
    // The monitor reads the same pty for the log, so the answer shows up
    // on our copy or in the log: either way it went through our writes.
    rustix::io::write(&master, b"echo answer-$((6*7))\n").unwrap();
    set_nonblocking(master.as_fd());
    let mut seen = Vec::new();
    let answered = wait_until(Duration::from_secs(10), || {
        if let Ok(b) = read_now(master.as_fd()) {
            seen.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&seen).contains("answer-42") || pod.log("t1").contains("answer-42")
    });
    assert!(
        answered,
        "ours: {:?}; log: {}",
        String::from_utf8_lossy(&seen),
        pod.log("t1")
    );
    rustix::io::write(&master, b"exit 7\n").unwrap();
    assert_eq!(pod.wait("t1")["exitCode"], 7);
    drop(master);
    // An exited container, one without a pty, and one that does not exist.
    let (reply, fds) = c.call(OPEN_CONSOLE, json!({"id": "t1"}), &[]);
    assert_eq!(reply["error"], INVALID_STATE, "{reply}");
    assert!(fds.is_empty());
    pod.create("plain", &["true"]);
    let (reply, _) = c.call(OPEN_CONSOLE, json!({"id": "plain"}), &[]);
    assert_eq!(reply["error"], INVALID_STATE, "{reply}");
    let (reply, _) = c.call(OPEN_CONSOLE, json!({"id": "ghost"}), &[]);
    assert_eq!(reply["error"], NO_SUCH_CONTAINER, "{reply}");
    pod.delete("t1", false);
    pod.delete("plain", true);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}
