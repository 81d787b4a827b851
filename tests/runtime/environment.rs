//! The runtime starts clean: PATH is its only environment variable (no
//! NOTIFY_SOCKET from a systemd unit, no LISTEN_FDS), its signal mask is
//! empty and no signal is ignored, whatever podmon blocks for its signalfd.

use crate::common::*;
use crate::{IDLE, pod_with};
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// The wrapper leaves its environment and /proc status per verb in its
/// directory. The status is read with builtins only: while the shell waits
/// for a (vforked) child, its own masks are the C library's for the moment.
const RECORD: &str = r#"while IFS= read -r line; do echo "$line"; done < /proc/$$/status > "$dir/status.$verb"
tr '\0' '\n' < /proc/$$/environ > "$dir/environ.$verb""#;

fn environ(w: &Wrapper, verb: &str) -> BTreeMap<String, String> {
    let p = w.dir.join(format!("environ.{verb}"));
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn runtime_gets_only_path_and_a_clean_signal_state() {
    let w = wrapper_runtime("env", RECORD);
    // A systemd notify socket that nobody reads from: runc that sees
    // NOTIFY_SOCKET makes `start` wait for READY=1 forever.
    let notify_path = w.dir.join("notify.sock");
    let _notify = UnixDatagram::bind(&notify_path).unwrap();
    let notify = notify_path.display().to_string();
    let pod = pod_with(
        "rt-env",
        &w,
        None,
        &[
            ("NOTIFY_SOCKET", notify.as_str()),
            ("PODMON_TEST_SECRET", "leak"),
        ],
    );
    pod.create("c1", &["sh", "-c", IDLE]);
    let t0 = Instant::now();
    let started = pod.start_container("c1");
    assert_eq!(started["status"], json!("running"), "{started}");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "StartContainer took {:?}",
        t0.elapsed()
    );
    let r = pod.call(
        EXEC_SYNC,
        json!({ "id": "c1", "command": ["true"], "timeoutSeconds": 10.0 }),
    );
    assert_eq!(r.ok()["exitCode"], json!(0));

    for verb in ["create", "start", "exec"] {
        let env = environ(&w, verb);
        let names: Vec<&String> = env.keys().collect();
        assert_eq!(names, vec!["PATH"], "runtime {verb} environment: {env:?}");
        assert!(!env["PATH"].is_empty(), "{env:?}");
        let status = fs::read_to_string(w.dir.join(format!("status.{verb}"))).unwrap();
        let masks = signal_masks(&status);
        assert_eq!(masks.len(), 2, "{status}");
        for (name, mask) in masks {
            assert_eq!(mask, 0, "runtime {verb}: {name} is {mask:#x}, not empty");
        }
    }
    // The server itself still blocks its signals (this is what children must not inherit).
    let own = fs::read_to_string(format!("/proc/{}/status", pod.pid)).unwrap();
    let blocked = signal_masks(&own)
        .into_iter()
        .find(|(k, _)| k == "SigBlk")
        .map(|(_, m)| m)
        .unwrap();
    assert_ne!(blocked & (1 << (libc::SIGCHLD - 1)), 0, "{own}");
    assert_nothing_left_now(&pod);
}

fn assert_nothing_left_now(pod: &Pod) {
    crate::assert_nothing_left(pod);
}
