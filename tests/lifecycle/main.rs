//! Container lifecycle through the CLI and through raw Varlink calls.

#[path = "../common/mod.rs"]
mod common;

mod basics;
mod exit;
mod limits;
mod signals;
mod state;

use common::*;

/// What `runc list -q` shows in the pod's runtime state directory.
fn runc_list(pod: &Pod) -> String {
    let out = std::process::Command::new(runc())
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["list", "-q"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
