//! Who may use a monitor and what it writes: the socket's and directories'
//! modes under umask 000, the peer check (refused, full and read-only
//! peers, through raw Varlink and the CLI), links planted where podmon
//! writes exit and OOM files, one monitor per state directory, and a
//! `--socket` path that is not a stale socket.
//!
//! Every server here inherits umask 000 from the test process
//! (`umask_000`), so each test also checks that podmon sets its own modes.

#[path = "../common/mod.rs"]
mod common;

mod modes;
mod monitors;
mod peers;
mod planted;

use common::*;

/// What `runc state ID` prints for the pod's runtime (empty if unknown).
fn runc_state(pod: &Pod, id: &str) -> String {
    let out = std::process::Command::new(runc())
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["state", id])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
