//! Create, start, wait, list and delete, through the CLI and raw Varlink
//! calls; the state rules (a running container needs --force, ids are
//! unique and reusable after delete).

use crate::common::*;
use crate::runc_list;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::time::Duration;

#[test]
fn cli_create_start_wait_delete_exit_3() {
    let pod = Pod::start("cli-exit3");
    let rootfs = rootfs().display().to_string();
    pod.cli_ok(&[
        "create",
        "c1",
        "--rootfs",
        &rootfs,
        "--",
        "sh",
        "-c",
        "echo hi; exit 3",
    ]);
    pod.cli_ok(&["start", "c1"]);
    let out = pod.cli(&["wait", "c1"]).assert_code(3);
    assert_eq!(out.stdout.trim(), "3", "wait prints the exit code: {out:?}");

    // state: human output names the id and the status; --json parses.
    let st = pod.cli_ok(&["state", "c1"]);
    assert!(
        st.stdout.contains("c1") && st.stdout.contains("stopped"),
        "state: {st:?}"
    );
    let js = pod.cli_ok(&["--json", "state", "c1"]);
    let v: Value = serde_json::from_str(&js.stdout)
        .unwrap_or_else(|e| panic!("--json state is not JSON ({e}): {:?}", js.stdout));
    let c = if v.get("container").is_some() {
        &v["container"]
    } else {
        &v
    };
    assert_eq!(c["id"], json!("c1"), "{v}");
    assert_eq!(c["status"], json!("stopped"), "{v}");
    assert_eq!(c["exitCode"], json!(3), "{v}");

    let ps = pod.cli_ok(&["ps"]);
    assert!(ps.stdout.contains("c1"), "ps lists c1: {ps:?}");

    assert_eq!(pod.exit_file("c1").as_deref().map(str::trim), Some("3"));
    // Written atomically: only the final file is there.
    let names: Vec<String> = fs::read_dir(&pod.exit_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["c1"], "exit dir holds more than the exit file");
    assert_eq!(pod.log("c1").lines().count(), 1, "log: {}", pod.log("c1"));
    assert!(
        pod.log("c1").ends_with(" stdout F hi\n"),
        "log: {:?}",
        pod.log("c1")
    );

    pod.cli_ok(&["delete", "c1"]);
    let gone = pod.cli(&["state", "c1"]);
    assert!(
        !gone.success(),
        "state of a deleted container must fail: {gone:?}"
    );
    let ps = pod.cli_ok(&["ps"]);
    assert!(!ps.stdout.contains("c1"), "ps after delete: {ps:?}");
    // The log stays after delete.
    assert!(pod.log_path("c1").exists());
}

#[test]
fn cli_exit_0_and_env_cwd_hostname() {
    let pod = Pod::start("cli-exit0");
    let rootfs = rootfs().display().to_string();
    pod.cli_ok(&[
        "create",
        "c0",
        "--rootfs",
        &rootfs,
        "--env",
        "FOO=bar baz",
        "--cwd",
        "/tmp",
        "--hostname",
        "hostx",
        "--",
        "sh",
        "-c",
        "echo \"$FOO|$(pwd)|$(hostname)\"",
    ]);
    pod.cli_ok(&["start", "c0"]);
    let out = pod.cli(&["wait", "c0"]).assert_code(0);
    assert_eq!(out.stdout.trim(), "0");
    let log = pod.log("c0");
    assert!(
        log.ends_with(" stdout F bar baz|/tmp|hostx\n"),
        "log: {log:?}"
    );
    assert_eq!(pod.exit_file("c0").as_deref().map(str::trim), Some("0"));
    pod.cli_ok(&["delete", "c0"]);
}

#[test]
fn varlink_lifecycle_fields_and_transitions() {
    let pod = Pod::start("vl-life");
    let gate = pod.gate("v1");
    let c = pod.create("v1", &["sh", "-c", &gate.script("echo done; exit 5")]);
    assert_container_shape(&pod, &c, "v1");
    assert_eq!(c["status"], json!("created"), "{c}");
    assert!(!present(&c, "startedAt"), "startedAt before start: {c}");
    assert!(!present(&c, "finishedAt"), "finishedAt before start: {c}");
    assert!(!present(&c, "exitCode"), "exitCode before start: {c}");
    assert!(
        Path::new(c["bundle"].as_str().unwrap())
            .join("config.json")
            .exists(),
        "bundle has no config.json: {c}"
    );

    let c = pod.start_container("v1");
    assert_eq!(c["status"], json!("running"), "{c}");
    let pid = c["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("pid missing while running: {c}")) as u32;
    assert!(pid > 1, "{c}");
    assert!(proc_alive(pid), "pid {pid} is not a live process");
    assert_recent_timestamp("startedAt", &c["startedAt"]);
    assert!(!present(&c, "finishedAt"), "{c}");

    let g = pod.get("v1");
    assert_eq!(g["status"], json!("running"), "{g}");
    assert_eq!(g["pid"], json!(pid), "{g}");
    assert_eq!(g["createdAt"], c["createdAt"]);
    assert_eq!(g["startedAt"], c["startedAt"]);

    gate.open();
    let w = pod.wait("v1");
    assert_eq!(w["exitCode"], json!(5), "{w}");
    assert!(!present(&w, "signal"), "signal for a normal exit: {w}");
    let c = &w["container"];
    assert_eq!(c["status"], json!("stopped"), "{w}");
    assert_eq!(c["exitCode"], json!(5), "{w}");
    assert!(!present(c, "pid"), "pid must be absent once exited: {c}");
    assert_recent_timestamp("finishedAt", &c["finishedAt"]);
    let t = |k: &str| rfc3339_to_unix(c[k].as_str().unwrap());
    assert!(t("createdAt") <= t("startedAt"), "{c}");
    assert!(t("startedAt") <= t("finishedAt"), "{c}");
    assert!(
        !proc_alive(pid),
        "container pid {pid} still alive after wait"
    );

    // Wait again on a stopped container answers at once with the same result.
    let w2 = pod.wait("v1");
    assert_eq!(w2["exitCode"], json!(5));
    assert_eq!(pod.get("v1"), w["container"].clone());
    assert_eq!(pod.exit_file("v1").as_deref().map(str::trim), Some("5"));

    pod.delete("v1", false);
    let r = pod.call(GET_CONTAINER, json!({"id": "v1"}));
    assert_eq!(r.err(NO_SUCH_CONTAINER)["id"], json!("v1"));
    // The bundle the monitor wrote is gone, the log stays.
    assert!(
        !Path::new(c["bundle"].as_str().unwrap()).exists(),
        "bundle kept after delete: {c}"
    );
    assert!(pod.log_path("v1").exists());
}

#[test]
fn wait_blocks_until_exit() {
    let pod = Pod::start("vl-waitblock");
    let gate = pod.gate("w");
    pod.run("w", &["sh", "-c", &gate.script("exit 7")]);
    let mut cl = pod.client();
    cl.send(WAIT_CONTAINER, json!({"id": "w"}));
    // No reply while the container runs.
    cl.set_read_timeout(Duration::from_millis(700));
    let early = cl.read_raw();
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "WaitContainer replied while the container was running: {early:?}"
    );
    cl.set_read_timeout(TIMEOUT);
    gate.open();
    let r = cl.recv().ok();
    assert_eq!(r["exitCode"], json!(7), "{r}");
}

#[test]
fn list_containers_more() {
    let pod = Pod::start("vl-list");
    // None: one reply without a container, with or without more.
    let r = pod.client().call_more(LIST_CONTAINERS, json!({}));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(!present(&r[0].ok(), "container"), "{r:?}");
    let r = pod.call(LIST_CONTAINERS, json!({}));
    assert!(!present(&r.ok(), "container"), "{r:?}");

    pod.create("l1", &["true"]);
    // One: answers without more.
    let r = pod.call(LIST_CONTAINERS, json!({}));
    assert_eq!(r.ok()["container"]["id"], json!("l1"));

    pod.create("l2", &["true"]);
    pod.run("l3", &["sleep", "100"]);
    let replies = pod.client().call_more(LIST_CONTAINERS, json!({}));
    assert_eq!(replies.len(), 3, "3 containers, 3 replies: {replies:?}");
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.error(), None, "{r:?}");
        assert_eq!(
            r.continues(),
            i < 2,
            "only the last reply lacks continues: {replies:?}"
        );
    }
    let mut ids: Vec<String> = replies
        .iter()
        .map(|r| r.ok()["container"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["l1", "l2", "l3"]);
    for r in &replies {
        let c = r.ok()["container"].clone();
        let id = c["id"].as_str().unwrap().to_string();
        assert_container_shape(&pod, &c, &id);
        let want = if id == "l3" { "running" } else { "created" };
        assert_eq!(c["status"], json!(want), "{c}");
    }

    // Without more: one reply listing all three, in id order.
    let all = pod.call(LIST_CONTAINERS, json!({})).ok();
    let listed: Vec<&str> = all["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{all}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["l1", "l2", "l3"], "{all}");
    assert!(all.get("container").is_none(), "{all}");

    // The CLI lists all three.
    let ps = pod.cli_ok(&["ps"]);
    for id in ["l1", "l2", "l3"] {
        assert!(ps.stdout.contains(id), "ps misses {id}: {ps:?}");
    }
    pod.delete("l3", true);
}

#[test]
fn delete_running_needs_force() {
    let pod = Pod::start("del-force");
    pod.run("r", &["sleep", "100"]);
    let pid = pod.get("r")["pid"].as_u64().unwrap() as u32;

    let r = pod.call(DELETE_CONTAINER, json!({"id": "r"}));
    let p = r.err(INVALID_STATE);
    assert_eq!(p["id"], json!("r"), "{p}");
    assert_eq!(p["status"], json!("running"), "{p}");
    assert_eq!(pod.get("r")["status"], json!("running"));
    assert!(proc_alive(pid));

    let out = pod.cli(&["delete", "r"]);
    assert!(
        !out.success(),
        "CLI delete of a running container must fail: {out:?}"
    );
    assert!(!out.stderr.trim().is_empty(), "no error message: {out:?}");
    assert!(proc_alive(pid));

    pod.cli_ok(&["delete", "r", "--force"]);
    assert!(
        wait_until(Duration::from_secs(5), || !proc_alive(pid)),
        "container process {pid} survived delete --force"
    );
    pod.call(GET_CONTAINER, json!({"id": "r"}))
        .err(NO_SUCH_CONTAINER);
    let left = runc_list(&pod);
    assert!(left.trim().is_empty(), "runc still lists: {}", left);
    // A created (never started) container can be deleted without force.
    pod.create("c", &["true"]);
    pod.delete("c", false);
}

#[test]
fn create_duplicate_and_start_twice() {
    let pod = Pod::start("dup");
    pod.create("d", &["sleep", "100"]);
    let r = pod.call(
        CREATE_CONTAINER,
        json!({"id": "d", "rootfs": rootfs().display().to_string(), "command": ["true"]}),
    );
    assert_eq!(r.err(CONTAINER_EXISTS)["id"], json!("d"));
    pod.start_container("d");
    let r = pod.call(START_CONTAINER, json!({"id": "d"}));
    let p = r.err(INVALID_STATE);
    assert_eq!(p["status"], json!("running"), "{p}");
    pod.delete("d", true);
}

#[test]
fn id_reusable_after_delete() {
    // Sequential runs reuse nothing stale: ids can be reused after delete.
    let pod = Pod::start("reuse");
    for i in 0..3 {
        pod.run("same", &["sh", "-c", &format!("echo run{i}; exit {i}")]);
        assert_eq!(pod.wait("same")["exitCode"], json!(i));
        pod.delete("same", false);
    }
    let log = pod.log("same");
    // The log is kept across deletes; each run appended (or truncated) it:
    // at least the last run is there.
    assert!(log.contains(" stdout F run2\n"), "log: {log}");
}
