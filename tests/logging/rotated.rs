//! Reading across rotated files: a log rotated three times is read back
//! whole and in order (from the beginning, with tail, with since), each
//! file within one record of logMaxSize, and it stays readable by id after
//! the container is deleted.

use crate::common::*;
use serde_json::{Value, json};
use std::path::PathBuf;

const LINES: usize = 1000;
const MAX_SIZE: u64 = 16384;

/// ReadLogs of `id` with `extra`: (timestamp, text) of every record.
fn read(pod: &Pod, id: &str, extra: Value) -> Vec<(String, String)> {
    let mut p = json!({ "id": id });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let recs = pod.call(READ_LOGS, p).ok()["records"]
        .as_array()
        .cloned()
        .unwrap();
    recs.iter()
        .map(|r| {
            let (ts, text) = (r["timestamp"].as_str(), r["text"].as_str());
            (ts.unwrap().to_owned(), text.unwrap().to_owned())
        })
        .collect()
}

fn texts(recs: &[(String, String)]) -> Vec<String> {
    recs.iter().map(|(_, t)| t.clone()).collect()
}

#[test]
fn rotated_files_are_read_in_order_bounded_and_after_delete() {
    let pod = Pod::start("lg-rotread");
    let script =
        format!("i=1; while [ $i -le {LINES} ]; do printf 'line %05d\\n' $i; i=$((i+1)); done");
    pod.create_with(
        "r",
        &["sh", "-c", &script],
        json!({ "logMaxSize": MAX_SIZE, "logMaxFiles": 3 }),
    );
    pod.start_container("r");
    assert_eq!(pod.wait("r")["exitCode"], json!(0));

    let base = pod.log_path("r");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", base.display()));
    assert!(rotated(3).exists(), "three rotations expected");
    assert!(!rotated(4).exists(), "logMaxFiles 3 keeps three");
    for path in [rotated(3), rotated(2), rotated(1), base.clone()] {
        let len = std::fs::metadata(&path).unwrap().len();
        // One record here is about 48 bytes.
        assert!(len < MAX_SIZE + 64, "{}: {len} bytes", path.display());
    }
    let want: Vec<String> = (1..=LINES).map(|i| format!("line {i:05}")).collect();
    let all = read(&pod, "r", json!({}));
    assert_eq!(texts(&all), want, "every line, in order, across 4 files");
    let tail = read(&pod, "r", json!({ "tail": 700 }));
    assert_eq!(texts(&tail), want[LINES - 700..], "a tail across files");
    let since = all[499].0.clone();
    let from: Vec<String> = all
        .iter()
        .filter(|(ts, _)| *ts >= since)
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(texts(&read(&pod, "r", json!({ "since": since }))), from);

    pod.delete("r", false);
    assert_eq!(texts(&read(&pod, "r", json!({}))), want, "after delete");
    let mut cl = pod.client();
    let followed = cl.call_more(READ_LOGS, json!({ "id": "r", "follow": true, "tail": 2 }));
    let last: Vec<String> = followed
        .iter()
        .flat_map(|r| r.ok()["records"].as_array().cloned().unwrap())
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(last, want[LINES - 2..], "follow of a deleted log ends");
    let out = pod.cli_ok(&["logs", "r", "--tail", "3"]);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        want[LINES - 3..],
        "{out:?}"
    );
    let e = pod
        .call(READ_LOGS, json!({ "id": "never" }))
        .err(NO_SUCH_CONTAINER);
    assert_eq!(e["id"], "never");
}

/// PurgeLog: refused while the container exists, then removes the log and
/// its rotated files (the CLI prints their paths), after which the id has
/// no log: ReadLogs and PurgeLog answer NoSuchContainer.
#[test]
fn purge_log_removes_a_deleted_containers_files() {
    let pod = Pod::start("lg-purge");
    let script = "i=1; while [ $i -le 400 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done";
    pod.create_with(
        "p",
        &["sh", "-c", script],
        json!({ "logMaxSize": MAX_SIZE, "logMaxFiles": 2 }),
    );
    pod.start_container("p");
    assert_eq!(pod.wait("p")["exitCode"], json!(0));
    let e = pod.call(PURGE_LOG, json!({ "id": "p" })).err(INVALID_STATE);
    assert_eq!(e["id"], "p");
    let base = pod.log_path("p");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", base.display()));
    assert!(base.exists() && rotated(1).exists());

    pod.delete("p", false);
    assert!(base.exists(), "DeleteContainer keeps the log");
    let out = pod.cli_ok(&["purge-log", "p"]);
    let mut printed: Vec<&str> = out.stdout.lines().collect();
    printed.sort();
    // 400 records of about 48 bytes: one rotation at 16 KiB.
    let want = [base.display().to_string(), rotated(1).display().to_string()];
    assert_eq!(printed, want, "{out:?}");
    assert!(!base.exists() && !rotated(1).exists());
    pod.call(READ_LOGS, json!({ "id": "p" }))
        .err(NO_SUCH_CONTAINER);
    pod.call(PURGE_LOG, json!({ "id": "p" }))
        .err(NO_SUCH_CONTAINER);
}
