//! ListContainers and Stats called without `more` by a third-party client
//! (systemd's varlinkctl, which also checks the reply against the IDL it
//! introspected): one reply listing every container, with two and more.

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// `varlinkctl call SOCKET METHOD PARAMS` without --more: the one reply.
#[track_caller]
fn call(pod: &Pod, method: &str, params: &str) -> Value {
    let out = run_with_timeout(
        Command::new(varlinkctl())
            .args(["--no-pager", "call", "--json=short"])
            .arg(&pod.socket)
            .args([method, params]),
        Duration::from_secs(60),
    )
    .assert_ok();
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("varlinkctl output not JSON ({e}): {out:?}"))
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[test]
fn list_and_stats_without_more() {
    let pod = Pod::start("nomore");
    let v = call(&pod, LIST_CONTAINERS, "{}");
    assert_eq!(ids(&v["containers"]), Vec::<&str>::new(), "{v}");
    assert!(v.get("container").is_none(), "{v}");

    pod.run("b", &["sleep", "100"]);
    // One container: also as `container`, as before `containers`.
    let v = call(&pod, LIST_CONTAINERS, "{}");
    assert_eq!(ids(&v["containers"]), ["b"], "{v}");
    assert_eq!(v["container"], v["containers"][0], "{v}");
    let v = call(&pod, STATS, "{}");
    assert_eq!(ids(&v["containers"]), ["b"], "{v}");
    assert_eq!(v["stats"], v["containers"][0], "{v}");

    pod.create("a", &["true"]);
    pod.run("c", &["sleep", "100"]);
    let v = call(&pod, LIST_CONTAINERS, "{}");
    assert_eq!(ids(&v["containers"]), ["a", "b", "c"], "{v}");
    assert!(v.get("container").is_none(), "{v}");
    assert_eq!(v["containers"][1]["status"], "running", "{v}");
    let v = call(&pod, STATS, "{}");
    assert_eq!(ids(&v["containers"]), ["a", "b", "c"], "{v}");
    assert!(v.get("stats").is_none(), "{v}");
    assert_eq!(v["monitor"]["pid"], pod.pid, "{v}");
    assert!(
        v["containers"][1]["pids"]["current"].as_u64() >= Some(1),
        "{v}"
    );
    // With an id: that one, no list.
    let v = call(&pod, STATS, r#"{"id":"c"}"#);
    assert_eq!(v["stats"]["id"], "c", "{v}");
    assert!(v.get("containers").is_none(), "{v}");

    // With more: one reply per container, as before, no list in any.
    let out = run_with_timeout(
        Command::new(varlinkctl())
            .args(["--no-pager", "call", "--more", "--json=short"])
            .arg(&pod.socket)
            .args([LIST_CONTAINERS, "{}"]),
        Duration::from_secs(60),
    )
    .assert_ok();
    let replies: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{1e}'))
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replies.len(), 3, "{out:?}");
    assert!(
        replies.iter().all(|r| r.get("containers").is_none()),
        "{out:?}"
    );
    pod.delete("b", true);
    pod.delete("c", true);
}
