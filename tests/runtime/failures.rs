//! A runtime that fails says why: its stderr and its log are in the
//! RuntimeError, and the failed create leaves nothing behind.

use crate::common::*;
use crate::{IDLE, assert_nothing_left, pod_with};
use serde_json::json;

#[test]
fn failing_create_reports_stderr_and_exit_code() {
    let w = wrapper_runtime(
        "fail",
        r#"if [ "$verb" = create ] && { [ "$id" = bad ] || [ "$id" = badtty ]; }; then
  echo "wrapper: the bundle of $id is cursed" >&2
  exit 42
fi"#,
    );
    let pod = pod_with("rt-fail", &w, None, &[]);
    let p = pod.call(
        CREATE_CONTAINER,
        json!({ "id": "bad", "rootfs": rootfs().display().to_string(), "command": ["true"] }),
    );
    let e = p.err(RUNTIME_ERROR);
    assert_eq!(e["command"], json!("create"), "{e}");
    assert_eq!(e["exitCode"], json!(42), "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("wrapper: the bundle of bad is cursed"),
        "the runtime's stderr is not in the error: {e}"
    );
    assert!(msg.contains("42"), "{e}");
    assert!(
        !pod.state_dir.join("containers/bad").exists(),
        "the failed container's directory stays"
    );
    assert_nothing_left(&pod);
    // A terminal container's runtime has no pipe shared with the container:
    // its stderr is read all the same.
    let p = pod.call(
        CREATE_CONTAINER,
        json!({ "id": "badtty", "rootfs": rootfs().display().to_string(), "command": ["true"], "terminal": true }),
    );
    let e = p.err(RUNTIME_ERROR);
    assert_eq!(e["exitCode"], json!(42), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("wrapper: the bundle of badtty is cursed"),
        "the runtime's stderr is not in the error: {e}"
    );
    assert_nothing_left(&pod);
    // The pod still works, and the id is free.
    pod.run("good", &["sh", "-c", IDLE]);
    assert_eq!(pod.get("good")["status"], json!("running"));
    assert_nothing_left(&pod);
}

#[test]
fn failing_kill_reports_stderr() {
    let w = wrapper_runtime(
        "failkill",
        r#"if [ "$verb" = kill ]; then
  echo "wrapper: kill refused" >&2
  exit 3
fi"#,
    );
    let pod = pod_with("rt-failkill", &w, None, &[]);
    pod.run("c1", &["sh", "-c", IDLE]);
    let r = pod.call(
        KILL_CONTAINER,
        json!({ "id": "c1", "signal": "SIGTERM", "all": true }),
    );
    let e = r.err(RUNTIME_ERROR);
    assert_eq!(e["command"], json!("kill"), "{e}");
    assert_eq!(e["exitCode"], json!(3), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("wrapper: kill refused"),
        "{e}"
    );
    assert_nothing_left(&pod);
}
