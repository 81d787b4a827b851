//! An idle monitor sleeps: with one running container and one connected,
//! silent client, no podmon thread is scheduled at all for 10 seconds (no
//! timers, no polling). Measured with the kernel's per-thread context switch
//! counters in /proc/PID/task/TID/status.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn idle_server_has_no_wakeups() {
    let pod = Pod::start("idle");
    pod.run("sleeper", &["sleep", "60"]);
    let mut client = pod.client();
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    // Let start-up work (runc exiting, log pipes, accept) settle.
    std::thread::sleep(Duration::from_secs(1));

    let before = ctx_switches(pod.pid);
    assert!(
        !before.is_empty(),
        "no threads found for podmon {}",
        pod.pid
    );
    std::thread::sleep(Duration::from_secs(10));
    let after = ctx_switches(pod.pid);

    let mut report = vec![];
    let mut total = 0u64;
    for (tid, (v1, n1, name)) in &after {
        let (v0, n0) = before.get(tid).map(|(v, n, _)| (*v, *n)).unwrap_or((0, 0));
        let d = (v1 - v0) + (n1 - n0);
        total += d;
        report.push(format!(
            "tid {tid} ({name}): voluntary +{}, nonvoluntary +{}{}",
            v1 - v0,
            n1 - n0,
            if before.contains_key(tid) {
                ""
            } else {
                " (new thread)"
            }
        ));
    }
    let gone: Vec<_> = before.keys().filter(|t| !after.contains_key(t)).collect();
    assert!(
        total == 0 && gone.is_empty() && after.len() == before.len(),
        "podmon was scheduled {total} times in 10 s while idle (threads gone: {gone:?}):\n{}",
        report.join("\n")
    );

    // And it is still fine afterwards.
    assert_eq!(pod.get("sleeper")["status"], json!("running"));
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    pod.delete("sleeper", true);
}
