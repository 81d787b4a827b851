//! Hang-ups during CreateContainer, StartContainer, KillContainer and
//! DeleteContainer: each runs to its end or rolls back; runc never holds a
//! container podmon does not know, also after podmon's SIGTERM.

use crate::common::*;
use crate::{IDLE, STEPS_MS, assert_clean};
use serde_json::json;
use std::time::Duration;

fn create_params(id: &str) -> serde_json::Value {
    json!({ "id": id, "rootfs": rootfs().display().to_string(), "command": ["sh", "-c", IDLE] })
}

#[test]
fn create_start_kill_delete_hang_up_at_every_step() {
    let mut pod = Pod::start("hu-lifecycle");
    let baseline = open_fds(pod.pid);
    let ids: Vec<String> = (0..STEPS_MS.len()).map(|i| format!("c{i}")).collect();
    for (id, ms) in ids.iter().zip(STEPS_MS) {
        hang_up(
            &pod,
            CREATE_CONTAINER,
            create_params(id),
            false,
            Duration::from_millis(ms),
        );
    }
    // Every create ran to its end: podmon knows each container runc holds.
    let all: Vec<String> = {
        let mut v = ids.clone();
        v.sort();
        v
    };
    assert!(
        wait_until(Duration::from_secs(30), || listed_ids(&pod) == all),
        "listed {:?}",
        listed_ids(&pod)
    );
    assert_runtime_matches_list(&pod, Duration::from_secs(5));
    // A retry is refused by podmon, not by the runtime.
    pod.call(CREATE_CONTAINER, create_params("c0"))
        .err(CONTAINER_EXISTS);

    for (id, ms) in ids.iter().zip(STEPS_MS) {
        hang_up(
            &pod,
            START_CONTAINER,
            json!({ "id": id }),
            false,
            Duration::from_millis(ms),
        );
    }
    for id in &ids {
        let running = wait_until(Duration::from_secs(20), || {
            pod.get(id)["status"] == json!("running")
        });
        assert!(running, "{id} after an abandoned start: {}", pod.get(id));
    }
    for (id, ms) in ids.iter().zip(STEPS_MS) {
        let p = json!({ "id": id, "signal": "SIGKILL", "all": true });
        hang_up(&pod, KILL_CONTAINER, p, false, Duration::from_millis(ms));
    }
    for id in &ids {
        let mut c = pod.client();
        c.set_read_timeout(Duration::from_secs(20));
        let r = c.call(WAIT_CONTAINER, json!({ "id": id })).ok();
        assert_eq!(r["exitCode"], json!(137), "{id}: {r}");
    }
    for (id, ms) in ids.iter().zip(STEPS_MS) {
        let p = json!({ "id": id, "force": true });
        hang_up(&pod, DELETE_CONTAINER, p, false, Duration::from_millis(ms));
    }
    assert!(
        wait_until(Duration::from_secs(30), || listed_ids(&pod).is_empty()),
        "still listed after abandoned deletes: {:?}",
        listed_ids(&pod)
    );
    assert_clean(&pod, baseline);
    assert_eq!(runtime_ids(&pod), Vec::<String>::new());
    pod.stop();
}

#[test]
fn create_abandoned_then_sigterm_leaves_no_runtime_container() {
    let mut pod = Pod::start("hu-create-term");
    for (i, ms) in STEPS_MS.iter().enumerate() {
        let id = format!("t{i}");
        hang_up(
            &pod,
            CREATE_CONTAINER,
            create_params(&id),
            false,
            Duration::from_millis(*ms),
        );
    }
    // SIGTERM while some creates may still run: the monitor lets them end,
    // then stops and deletes every container.
    let status = pod.stop().expect("the server ran");
    assert!(status.success(), "podmon exited with {status}");
    assert_eq!(
        runtime_ids(&pod),
        Vec::<String>::new(),
        "runc still holds containers after podmon's SIGTERM"
    );
}
