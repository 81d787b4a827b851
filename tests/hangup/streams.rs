//! Hang-ups during the streaming methods (WatchEvents, WaitContainer,
//! ReadLogs with follow, Attach with `more` and with `upgrade`) and the
//! quick ones: nothing is left, and the container goes on unharmed.

use crate::common::*;
use crate::{IDLE, STEPS_MS, assert_clean, assert_kill_and_wait};
use serde_json::json;
use std::thread;
use std::time::Duration;

#[test]
fn streaming_calls_hang_up_at_every_step() {
    let pod = Pod::start("hu-streams");
    let ticking = format!("while :; do echo tick; sleep 0.05; done & {IDLE}");
    pod.create_with("c1", &["sh", "-c", &ticking], json!({ "stdin": true }));
    pod.start_container("c1");
    let baseline = open_fds(pod.pid);
    for ms in STEPS_MS {
        let after = Duration::from_millis(ms);
        hang_up(&pod, WATCH_EVENTS, json!({}), true, after);
        hang_up(&pod, WAIT_CONTAINER, json!({ "id": "c1" }), false, after);
        hang_up(
            &pod,
            READ_LOGS,
            json!({ "id": "c1", "follow": true }),
            true,
            after,
        );
        hang_up(
            &pod,
            ATTACH,
            json!({ "id": "c1", "stdin": true }),
            true,
            after,
        );
        hang_up(&pod, GET_CONTAINER, json!({ "id": "c1" }), false, after);
        hang_up(&pod, STATS, json!({ "id": "c1" }), false, after);
        let (reply, stream, _) = pod
            .client()
            .upgrade(ATTACH, json!({ "id": "c1", "stdin": true }));
        reply.ok();
        thread::sleep(after);
        drop(stream);
    }
    assert_clean(&pod, baseline);
    assert_eq!(pod.get("c1")["status"], json!("running"));
    // stdin is free again for the next client that asks (once the server
    // has seen the last holder go).
    let free = wait_until(Duration::from_secs(5), || {
        let (reply, stream, _) = pod
            .client()
            .upgrade(ATTACH, json!({ "id": "c1", "stdin": true }));
        drop(stream);
        reply.ok()["stdin"] == json!(true)
    });
    assert!(free, "stdin is still lent to a client that hung up");
    assert_kill_and_wait(&pod, "c1");
    pod.delete("c1", false);
    assert_no_zombies(&pod, Duration::from_secs(5));
    assert_eq!(runtime_ids(&pod), Vec::<String>::new());
}
