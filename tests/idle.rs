//! An idle monitor sleeps: with one running container and one connected,
//! silent client, no podmon thread is scheduled at all for 10 seconds (no
//! timers, no polling). Measured with the kernel's per-thread context switch
//! counters in /proc/PID/task/TID/status.

mod common;

use common::*;
use serde_json::json;

#[test]
fn idle_server_has_no_wakeups() {
    let pod = Pod::start("idle");
    pod.run("sleeper", &["sleep", "60"]);
    let mut client = pod.client();
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    assert_no_wakeups_for_10s(&pod);

    // And it is still fine afterwards.
    assert_eq!(pod.get("sleeper")["status"], json!("running"));
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    pod.delete("sleeper", true);
}
