//! Real clients: a Python client on `socket.send_fds` / `recv_fds`.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

#[test]
fn python_client_passes_and_receives_descriptors() {
    let pod = Pod::start("fd-python");
    let before = open_fds(pod.pid);
    let script = project_dir().join("tests/clients/fdpass.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(&pod.socket).arg(rootfs());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("fdpass ok"), "{out:?}");
    assert_fds_back_to(&pod, before, Duration::from_secs(10));
}
