//! The state records on disk follow a container through its life: at
//! create its init's pid and that pid's start time, at start the time, at
//! exit how it ended, and at delete nothing is left.

use crate::common::*;
use serde_json::{Value, json};

/// `STATE/containers/ID/state.json`, parsed.
#[track_caller]
fn record(pod: &Pod, id: &str) -> Value {
    let path = pod.state_dir.join("containers").join(id).join("state.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// Field 22 of `/proc/PID/stat`, counted after the command name.
fn start_time(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields = &stat[stat.rfind(')').unwrap() + 1..];
    fields.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn the_state_record_follows_a_container_from_create_to_delete() {
    let pod = Pod::start("state-record");
    let bytes = std::fs::read(pod.state_dir.join("pod.json")).unwrap();
    let options: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(options["version"], json!(1), "{options}");
    assert_eq!(options["logDir"], json!(pod.log_dir), "{options}");
    assert_eq!(options["exitDir"], json!(pod.exit_dir), "{options}");

    pod.create("c1", &["sleep", "100"]);
    let r = record(&pod, "c1");
    assert_eq!(
        (&r["version"], &r["status"]),
        (&json!(1), &json!("created")),
        "{r}"
    );
    let pid = r["pid"].as_i64().unwrap();
    assert_eq!(r["pidStartTime"], json!(start_time(pid)), "{r}");
    assert_eq!(r["startedAt"], Value::Null, "{r}");
    assert_eq!(r["log"]["path"], json!(pod.log_path("c1")), "{r}");

    pod.start_container("c1");
    let r = record(&pod, "c1");
    assert_eq!(r["status"], json!("running"), "{r}");
    assert_eq!(r["startedAt"], pod.get("c1")["startedAt"], "{r}");
    // The pid and its start time are the same process after the start.
    assert_eq!(r["pidStartTime"], json!(start_time(pid)), "{r}");

    pod.kill("c1", "KILL");
    pod.wait("c1");
    let r = record(&pod, "c1");
    assert_eq!(r["status"], json!("stopped"), "{r}");
    let exit = json!({"code": null, "signal": 9, "oomKilled": false, "reason": "Error"});
    assert_eq!(r["exit"], exit, "{r}");
    assert_eq!(r["finishedAt"], pod.get("c1")["finishedAt"], "{r}");

    pod.delete("c1", false);
    assert!(!pod.state_dir.join("containers/c1").exists());
}
