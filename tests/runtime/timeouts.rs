//! Every runtime invocation has a deadline: a hung runtime is killed (with
//! what it started), a half-made container is deleted, and the call fails
//! with a RuntimeError naming the timeout. An exec's deadline counts from
//! the call, and ExecSync's own timeoutSeconds caps it.

use crate::common::*;
use crate::{IDLE, assert_nothing_left, pod_with};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn create_call(pod: &Pod, id: &str) -> Reply {
    pod.call(
        CREATE_CONTAINER,
        json!({ "id": id, "rootfs": rootfs().display().to_string(), "command": ["sh", "-c", IDLE] }),
    )
}

#[track_caller]
fn assert_timed_out(e: &Value, command: &str, limit: &str) {
    assert_eq!(e["command"], json!(command), "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("timed out after {limit}")),
        "the error does not name the timeout: {e}"
    );
}

/// No process the wrapper started (its `sleep 1000`) still runs.
#[track_caller]
fn assert_no_sleepers(pod: &Pod) {
    let gone = wait_until(Duration::from_secs(5), || {
        children_of(pod.pid)
            .into_iter()
            .all(|c| !proc_alive(c) || proc_comm(c) != "sleep")
    });
    assert!(
        gone,
        "the hung runtime's children still run: {:?}",
        children_of(pod.pid)
            .into_iter()
            .map(|c| format!("{c} ({})", proc_comm(c)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn create_that_hangs_after_creating_is_killed_and_rolled_back() {
    // runc really creates the container, then the "runtime" hangs.
    let w = wrapper_runtime(
        "hangcreate",
        r#"if [ "$verb" = create ] && [ "$id" = hung ]; then
  "$RUNC" "$@" || exit $?
  sleep 1000
  exit 0
fi"#,
    );
    let pod = pod_with("rt-hangcreate", &w, Some(3), &[]);
    for round in 0..2 {
        let t0 = Instant::now();
        let r = create_call(&pod, "hung");
        let took = t0.elapsed();
        // Not "already exists" the second time: the first was rolled back.
        assert_timed_out(&r.err(RUNTIME_ERROR), "create", "3 s");
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(15),
            "round {round}: CreateContainer took {took:?} with --runtime-timeout 3"
        );
        assert_eq!(runtime_ids(&pod), Vec::<String>::new(), "round {round}");
        assert_eq!(listed_ids(&pod), Vec::<String>::new(), "round {round}");
        assert_no_sleepers(&pod);
        assert_nothing_left(&pod);
    }
    // Other containers are created as usual.
    pod.run("fine", &["sh", "-c", IDLE]);
    assert_eq!(pod.get("fine")["status"], json!("running"));
    assert_nothing_left(&pod);
}

#[test]
fn start_that_hangs_is_killed() {
    let w = wrapper_runtime(
        "hangstart",
        r#"if [ "$verb" = start ]; then sleep 1000; fi"#,
    );
    let pod = pod_with("rt-hangstart", &w, Some(2), &[]);
    pod.create("c1", &["sh", "-c", IDLE]);
    let t0 = Instant::now();
    let r = pod.call(START_CONTAINER, json!({ "id": "c1" }));
    assert_timed_out(&r.err(RUNTIME_ERROR), "start", "2 s");
    assert!(t0.elapsed() < Duration::from_secs(12), "{:?}", t0.elapsed());
    // It never started; it can still be deleted, and nothing is left.
    assert_eq!(pod.get("c1")["status"], json!("created"));
    assert_no_sleepers(&pod);
    pod.delete("c1", true);
    assert_nothing_left(&pod);
    assert_eq!(runtime_ids(&pod), Vec::<String>::new());
}

#[test]
fn exec_sync_timeout_caps_a_hung_runtime_exec() {
    let w = wrapper_runtime("hangexec", r#"if [ "$verb" = exec ]; then sleep 1000; fi"#);
    let pod = pod_with("rt-hangexec", &w, Some(4), &[]);
    pod.run("c1", &["sh", "-c", IDLE]);

    // The call's own timeout counts from the call, runtime included.
    let t0 = Instant::now();
    let r = pod.call(
        EXEC_SYNC,
        json!({ "id": "c1", "command": ["true"], "timeoutSeconds": 1.5 }),
    );
    let took = t0.elapsed();
    let e = r.err(RUNTIME_ERROR);
    assert_timed_out(&e, "exec", "1.5 s");
    assert!(
        e["message"].as_str().unwrap().contains("own timeout"),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "ExecSync(timeoutSeconds 1.5) took {took:?}"
    );

    // Without one, the runtime timeout applies.
    let t0 = Instant::now();
    let r = pod.call(EXEC_SYNC, json!({ "id": "c1", "command": ["true"] }));
    let e = r.err(RUNTIME_ERROR);
    assert_timed_out(&e, "exec", "4 s");
    assert!(
        e["message"].as_str().unwrap().contains("--runtime-timeout"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(12), "{:?}", t0.elapsed());

    // A streaming Exec too.
    let mut cl = pod.client();
    cl.send_more(EXEC, json!({ "id": "c1", "command": ["true"] }));
    let e = cl.recv().err(RUNTIME_ERROR);
    assert_timed_out(&e, "exec", "4 s");

    assert_no_sleepers(&pod);
    assert_nothing_left(&pod);
    // The container is unharmed.
    assert_eq!(pod.get("c1")["status"], json!("running"));
}
