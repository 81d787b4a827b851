//! A client that hangs up, at any step of any method, leaves nothing
//! behind: no process unreaped (no zombie among podmon's children), no
//! runtime container podmon does not know (`runc list` against
//! ListContainers), the monitor's descriptors back at their baseline, and
//! every operation it started either finished or rolled back.

#[path = "../common/mod.rs"]
mod common;

mod execs;
mod lifecycle;
mod streams;

use common::*;
use serde_json::json;
use std::time::Duration;

/// A long-running container that ends at once on SIGTERM.
pub const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

/// Delays after the call at which the client hangs up: before the server
/// read it, while the runtime runs, after the reply was sent.
pub const STEPS_MS: [u64; 9] = [0, 1, 3, 8, 15, 30, 60, 120, 400];

/// Everything a hang-up may have disturbed is back: no zombie child, the
/// runtime's containers are the listed ones, descriptors at `baseline`.
#[track_caller]
pub fn assert_clean(pod: &Pod, baseline_fds: usize) {
    assert_no_zombies(pod, Duration::from_secs(10));
    assert_runtime_matches_list(pod, Duration::from_secs(10));
    assert_fds_back_to(pod, baseline_fds, Duration::from_secs(10));
}

/// The container's init still answers to signals and its exit is seen:
/// SIGKILL, then WaitContainer answers with 137.
#[track_caller]
pub fn assert_kill_and_wait(pod: &Pod, id: &str) {
    pod.kill(id, "SIGKILL");
    let mut c = pod.client();
    c.set_read_timeout(Duration::from_secs(15));
    let r = c.call(WAIT_CONTAINER, json!({ "id": id })).ok();
    assert_eq!(r["exitCode"], json!(137), "{r}");
}
